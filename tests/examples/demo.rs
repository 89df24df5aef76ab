//! Starts a mock GitHub on 127.0.0.1, points the generated client at it and makes a few calls: read a repository,
//! open an issue, list issues, and show what a validation error looks like.
//!
//! Run with `cargo run -p tests --example demo`.

use github_rest::issues::IssuesListForRepoQuery;
use github_rest::types::IssuesCreateRequest;
use serde_json::json;
use tests::{fixture, mock_github};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (server, client) = mock_github().await;
    println!(
        "mock GitHub at {} (generated for {} from @octokit/openapi {})",
        server.uri(),
        github_rest::TARGET,
        github_rest::SPEC_VERSION
    );

    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("full-repository.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("issue.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("issue.json")])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/locked/issues"))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue"})))
        .mount(&server)
        .await;

    let repo = client.repos().get("octocat", "Hello-World").await?.body;
    println!(
        "repository {}: {} stars, default branch {}",
        repo.full_name, repo.stargazers_count, repo.default_branch
    );

    let new_issue = IssuesCreateRequest::new("Found a bug")
        .body("I'm having a problem with this.")
        .labels(["bug"]);
    let created = client
        .issues()
        .create("octocat", "Hello-World", &new_issue)
        .await?;
    println!(
        "created issue #{} ({}): {}",
        created.body.number, created.status, created.body.html_url
    );

    let q = IssuesListForRepoQuery::new().state("open").per_page(50);
    let issues = client
        .issues()
        .list_for_repo("octocat", "Hello-World", &q)
        .await?
        .body;
    for i in &issues {
        println!("  #{} {} [{}]", i.number, i.title, i.state);
    }

    match client
        .issues()
        .create("octocat", "locked", &IssuesCreateRequest::new(""))
        .await
    {
        Err(e) => println!("as expected, an error: {e}"),
        Ok(r) => return Err(format!("expected a 422, got {}", r.status).into()),
    }
    Ok(())
}
