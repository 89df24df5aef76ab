// An issue number is an integer, not a string.
async fn call(client: github_rest::Client) {
    let _ = client.issues().get("octocat", "Hello-World", "1347").await;
}

fn main() {
    let _ = call;
}
