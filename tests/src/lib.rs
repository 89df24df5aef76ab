//! Helpers shared by the integration tests: a client pointed at a local mock GitHub.

use github_rest::Client;
use wiremock::MockServer;

/// A mock GitHub on 127.0.0.1 and a client whose API and uploads hosts both point at it.
pub async fn mock_github() -> (MockServer, Client) {
    let server = MockServer::start().await;
    let client = Client::builder()
        .base_url(server.uri())
        .uploads_url(format!("{}/uploads", server.uri()))
        .user_agent("github-rest-tests")
        .build()
        .expect("client builds");
    (server, client)
}

/// A JSON fixture from `tests/data`.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The Rust blocks of the workspace's README, compiled as doctests (`cargo test --doc -p tests`): what a newcomer
/// copies from it builds against the current API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
