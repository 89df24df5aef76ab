// The tests build github-rest without the `codespaces` feature, so its endpoints do not exist.
async fn call(client: github_rest::Client) {
    let _ = client.codespaces();
}

fn main() {
    let _ = call;
}
