// A required path parameter cannot be left out.
async fn call(client: github_rest::Client) {
    let _ = client.repos().get("octocat").await;
}

fn main() {
    let _ = call;
}
