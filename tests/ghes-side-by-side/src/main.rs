//! One program, two GitHubs: the api.github.com client (`github-rest`, the committed `generated/` crate) and a
//! GitHub Enterprise Server 3.17 client (`github-rest-ghes-3-17`, written by `cargo xtask regen --target ghes-3.17
//! --out target/ghes-3.17 --crate-name github-rest-ghes-3-17`), each against its own mock on 127.0.0.1.
//!
//! Run with `cargo xtask example-ghes`.

use github_rest::types::IssuesCreateRequest as DotcomIssue;
use github_rest_ghes_3_17::types::IssuesCreateRequest as GhesIssue;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn issue(number: u64, url: &str) -> Value {
    let mut issue: Value =
        serde_json::from_str(include_str!("../../data/issue.json")).expect("the fixture is JSON");
    issue["number"] = number.into();
    issue["html_url"] = url.into();
    issue
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // api.github.com: the API at the server's root.
    let dotcom = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .and(header(
            "x-github-api-version",
            github_rest::API_VERSION.unwrap_or_default(),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue(
            1347,
            "https://github.com/octocat/Hello-World/issues/1347",
        )))
        .expect(1)
        .mount(&dotcom)
        .await;
    // GHES: the API under /api/v3, and the server says which release it runs.
    let ghes = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/repos/platform/deploy-tools/issues"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-github-enterprise-version", "3.17.2")
                .set_body_json(issue(
                    42,
                    "https://ghe.example.com/platform/deploy-tools/issues/42",
                )),
        )
        .expect(1)
        .mount(&ghes)
        .await;

    let public = github_rest::Client::builder()
        .base_url(dotcom.uri())
        .user_agent("side-by-side-example")
        .build()?;
    let enterprise = github_rest_ghes_3_17::Client::builder()
        .enterprise_url(&ghes.uri())
        .user_agent("side-by-side-example")
        .build()?;

    let a = public
        .issues()
        .create("octocat", "Hello-World", &DotcomIssue::new("Found a bug"))
        .await?
        .body;
    println!(
        "{} (@octokit/openapi {}): created #{} {}",
        github_rest::TARGET,
        github_rest::SPEC_VERSION,
        a.number,
        a.html_url
    );
    let b = enterprise
        .issues()
        .create(
            "platform",
            "deploy-tools",
            &GhesIssue::new("Mirror the fix"),
        )
        .await?
        .body;
    println!(
        "{} (GHES release {:?}): created #{} {}",
        github_rest_ghes_3_17::TARGET,
        github_rest_ghes_3_17::GHES_RELEASE,
        b.number,
        b.html_url
    );

    // Each request went to its own server, exactly once.
    dotcom.verify().await;
    ghes.verify().await;
    println!("both clients in one program: ok");
    Ok(())
}
