// A request body's required field (an issue's title) cannot be left out.
fn main() {
    let _ = github_rest::types::IssuesCreateRequest::new().body("no title");
}
