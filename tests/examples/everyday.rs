//! Ten everyday tasks written against `github-rest` (and `github-auth` for the App one), each a small function,
//! run against a mock GitHub on 127.0.0.1. `tests/EVERYDAY.md` sets each one beside its octocrab equivalent.
//!
//! Run with `cargo run -p tests --example everyday`.

use github_auth::{AuthBuilder, AuthError, SecretString};
use github_rest::issues::IssuesListForRepoQuery;
use github_rest::prelude::*;
use github_rest::repos::ReposUploadReleaseAssetQuery;
use github_rest::types::{
    IssuesAddLabelsRequest, IssuesAddLabelsRequestVariant0, IssuesCreateRequest,
    PullsCreateReviewRequest, PullsCreateReviewRequestEvent, ReposUpdateCommitCommentRequest,
};

const OWNER: &str = "octocat";
const REPO: &str = "Hello-World";

// -- the ten tasks --------------------------------------------------------------------------------------------------

/// 1. Get a repository.
async fn get_repository(client: &Client) -> Result<String, Error> {
    let r = client.repos().get(OWNER, REPO).await?.body;
    Ok(format!("{} has {} stars", r.full_name, r.stargazers_count))
}

/// 2. List the open issues that carry a label.
async fn open_issues_with_label(client: &Client, label: &str) -> Result<String, Error> {
    let query = IssuesListForRepoQuery::new().state("open").labels(label);
    let issues = client
        .issues()
        .list_for_repo(OWNER, REPO, &query)
        .await?
        .body;
    Ok(format!("{} open issue(s) labelled {label}", issues.len()))
}

/// 3. Every issue, open and closed, following `Link: rel="next"` page by page.
async fn every_issue(client: &Client) -> Result<String, Error> {
    let query = IssuesListForRepoQuery::new().state("all");
    let pages = client.issues().list_for_repo_stream(OWNER, REPO, &query);
    let issues = pages.collect_all().await?;
    Ok(format!("{} issue(s) in all", issues.len()))
}

/// 4. Open an issue with labels and assignees.
async fn create_issue(client: &Client) -> Result<String, Error> {
    let new = IssuesCreateRequest::new("Found a bug")
        .body("Steps to reproduce: …")
        .labels(["bug"])
        .assignees(["octocat"]);
    let issue = client.issues().create(OWNER, REPO, &new).await?.body;
    Ok(format!("opened #{}", issue.number))
}

/// 5. Comment on an issue.
async fn comment(client: &Client, number: i64) -> Result<String, Error> {
    let body = ReposUpdateCommitCommentRequest::new("Thanks, looking into it.");
    let c = client
        .issues()
        .create_comment(OWNER, REPO, number, &body)
        .await?
        .body;
    Ok(format!("commented: {}", c.html_url))
}

/// 6. Add a label to an issue.
async fn add_label(client: &Client, number: i64) -> Result<String, Error> {
    let body: IssuesAddLabelsRequest = IssuesAddLabelsRequestVariant0::new()
        .labels(["triage"])
        .into();
    let labels = client
        .issues()
        .add_labels(OWNER, REPO, number, Some(&body))
        .await?
        .body;
    Ok(format!("#{number} now has {} label(s)", labels.len()))
}

/// 7. Approve a pull request with a review body.
async fn approve(client: &Client, pull: i64) -> Result<String, Error> {
    let review = PullsCreateReviewRequest::new()
        .event(PullsCreateReviewRequestEvent::Approve)
        .body("Looks good to me.");
    let r = client
        .pulls()
        .create_review(OWNER, REPO, pull, Some(&review))
        .await?
        .body;
    Ok(format!("review {} on #{pull}: {}", r.id, r.state))
}

/// 8. Upload a release asset (to the uploads host).
async fn upload_asset(client: &Client, release_id: i64, data: Vec<u8>) -> Result<String, Error> {
    let query = ReposUploadReleaseAssetQuery::new("example.zip");
    let asset = client
        .repos()
        .upload_release_asset(OWNER, REPO, release_id, &query, "application/zip", data)
        .await?
        .body;
    Ok(format!("uploaded {} ({} bytes)", asset.name, asset.size))
}

/// 9. Read a check run's status and conclusion.
async fn check_run_status(client: &Client, id: i64) -> Result<String, Error> {
    let run = client.checks().get(OWNER, REPO, id).await?.body;
    let conclusion = run.conclusion.map_or("none".to_string(), |c| c.to_string());
    Ok(format!("check {}: {} ({conclusion})", run.name, run.status))
}

/// 10. Act as the App installation that covers a repository: App JWT, find the installation, installation client.
async fn as_installation(api: &str, app_id: i64, pem: &str) -> Result<String, AuthError> {
    let app = AuthBuilder::app(app_id, SecretString::from(pem))
        .base_url(api)
        .build_app()?;
    let installation = app.repo_installation(OWNER, REPO).await?;
    let client = app.installation_client(installation.id, None)?;
    let issue = client.issues().get(OWNER, REPO, 1347).await?.body;
    Ok(format!(
        "installation {} read #{}",
        installation.id, issue.number
    ))
}

// -- the mock GitHub ------------------------------------------------------------------------------------------------

/// A test key of `github-auth`'s test suite, used by nothing but tests.
const APP_KEY: &str = include_str!("../../auth/tests/data/app-key-pkcs1.pem");
const APP_ID: i64 = 4242;
const INSTALLATION_TOKEN: &str = "ghs_16C7e42F292c6912E7710c838347Ae178B4a";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use serde_json::json;
    use tests::{fixture, mock_github};
    use wiremock::matchers::{
        body_bytes, body_json, header, header_exists, method, path, query_param,
    };
    use wiremock::{Mock, ResponseTemplate};

    let (server, client) = mock_github().await;
    let ok = |name: &str| ResponseTemplate::new(200).set_body_json(fixture(name));
    let created = |name: &str| ResponseTemplate::new(201).set_body_json(fixture(name));
    let repo = "/repos/octocat/Hello-World";
    let issue = fixture("issue.json");

    // 1
    Mock::given(method("GET"))
        .and(path(repo))
        .respond_with(ok("full-repository.json"))
        .mount(&server)
        .await;
    // 2
    Mock::given(method("GET"))
        .and(path(format!("{repo}/issues")))
        .and(query_param("state", "open"))
        .and(query_param("labels", "bug"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue])))
        .mount(&server)
        .await;
    // 3: two pages, joined by a Link header
    let next = format!(
        "<{}{repo}/issues?state=all&per_page=100&page=2>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(format!("{repo}/issues")))
        .and(query_param("state", "all"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue, issue])))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{repo}/issues")))
        .and(query_param("state", "all"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", next.as_str())
                .set_body_json(json!([issue])),
        )
        .mount(&server)
        .await;
    // 4
    Mock::given(method("POST"))
        .and(path(format!("{repo}/issues")))
        .and(body_json(
            json!({"title": "Found a bug", "body": "Steps to reproduce: …",
            "labels": ["bug"], "assignees": ["octocat"]}),
        ))
        .respond_with(created("issue.json"))
        .mount(&server)
        .await;
    // 5
    Mock::given(method("POST"))
        .and(path(format!("{repo}/issues/1347/comments")))
        .and(body_json(json!({"body": "Thanks, looking into it."})))
        .respond_with(created("issue-comment.json"))
        .mount(&server)
        .await;
    // 6
    Mock::given(method("POST"))
        .and(path(format!("{repo}/issues/1347/labels")))
        .and(body_json(json!({"labels": ["triage"]})))
        .respond_with(ok("labels.json"))
        .mount(&server)
        .await;
    // 7: the description's example is a review that requests changes; this one approves.
    let mut review = fixture("pull-request-review.json");
    review["state"] = json!("APPROVED");
    Mock::given(method("POST"))
        .and(path(format!("{repo}/pulls/42/reviews")))
        .and(body_json(
            json!({"event": "APPROVE", "body": "Looks good to me."}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(review))
        .mount(&server)
        .await;
    // 8: the uploads host (the mock serves it under /uploads)
    Mock::given(method("POST"))
        .and(path(format!("/uploads{repo}/releases/1/assets")))
        .and(query_param("name", "example.zip"))
        .and(header("content-type", "application/zip"))
        .and(body_bytes(b"PK\x05\x06".to_vec()))
        .respond_with(created("release-asset.json"))
        .mount(&server)
        .await;
    // 9
    Mock::given(method("GET"))
        .and(path(format!("{repo}/check-runs/4")))
        .respond_with(ok("check-run.json"))
        .mount(&server)
        .await;
    // 10: the installation is looked up and its token minted with the App's JWT; the call uses the token.
    Mock::given(method("GET"))
        .and(path(format!("{repo}/installation")))
        .and(header_exists("authorization"))
        .respond_with(ok("installation.json"))
        .mount(&server)
        .await;
    let mut token = fixture("installation-token.json");
    // The description's example expired in 2016; the client would not use a token that has already expired.
    token["expires_at"] = json!("2999-01-01T00:00:00Z");
    Mock::given(method("POST"))
        .and(path("/app/installations/1/access_tokens"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(201).set_body_json(token))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{repo}/issues/1347")))
        .and(header(
            "authorization",
            format!("Bearer {INSTALLATION_TOKEN}").as_str(),
        ))
        .respond_with(ok("issue.json"))
        .mount(&server)
        .await;

    println!("mock GitHub at {}", server.uri());
    let lines = [
        get_repository(&client).await?,
        open_issues_with_label(&client, "bug").await?,
        every_issue(&client).await?,
        create_issue(&client).await?,
        comment(&client, 1347).await?,
        add_label(&client, 1347).await?,
        approve(&client, 42).await?,
        upload_asset(&client, 1, b"PK\x05\x06".to_vec()).await?,
        check_run_status(&client, 4).await?,
        as_installation(&server.uri(), APP_ID, APP_KEY).await?,
    ];
    for (n, line) in lines.iter().enumerate() {
        println!("{:>2}. {line}", n + 1);
    }
    Ok(())
}
