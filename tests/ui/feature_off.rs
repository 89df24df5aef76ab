// The tests build github-rest without the `actions` feature, so its endpoints do not exist.
async fn call(client: github_rest::Client) {
    let _ = client.actions();
}

fn main() {
    let _ = call;
}
