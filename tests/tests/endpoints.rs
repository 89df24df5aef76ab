//! End-to-end calls through the generated client against a local mock GitHub.

use github_rest::errors::ErrorBody;
use github_rest::types::IssuesCreateRequest;
use github_rest::Error;
use serde_json::json;
use tests::{fixture, mock_github};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn get_repository_decodes_the_full_repository() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("user-agent", "github-rest-tests"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("full-repository.json"))
                .insert_header("x-ratelimit-remaining", "4999"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let resp = client
        .repos()
        .get("octocat", "Hello-World")
        .await
        .expect("repository decodes");
    assert_eq!(resp.status, 200);
    let repo = resp.body;
    assert_eq!(repo.full_name, "octocat/Hello-World");
    assert_eq!(repo.owner.login, "octocat");
    assert_eq!(resp.headers["x-ratelimit-remaining"], "4999");
}

#[tokio::test]
async fn create_issue_sends_the_body_and_decodes_201() {
    let (server, client) = mock_github().await;
    Mock::given(method("POST"))
        .and(path("/repos/octocat/Hello-World/issues"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"title": "Found a bug", "body": "It breaks", "labels": ["bug"]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("issue.json")))
        .expect(1)
        .mount(&server)
        .await;
    let body = IssuesCreateRequest::new("Found a bug")
        .body("It breaks")
        .labels(["bug"]);
    let resp = client
        .issues()
        .create("octocat", "Hello-World", &body)
        .await
        .expect("issue decodes");
    assert_eq!(resp.status, 201);
    assert_eq!(resp.body.number, 1347);
    assert_eq!(resp.body.title, "Found a bug");
}

#[tokio::test]
async fn no_content_is_a_unit_success() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World/collaborators/hubot"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client
        .repos()
        .check_collaborator("octocat", "Hello-World", "hubot")
        .await
        .expect("204 is success");
    assert_eq!(resp.status, 204);
    assert_eq!(resp.body, ());
}

#[tokio::test]
async fn not_found_is_a_typed_api_error() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/octocat/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository", "status": "404"})))
        .mount(&server)
        .await;
    let err = client
        .repos()
        .get("octocat", "missing")
        .await
        .expect_err("404 is an error");
    let Error::Api(api) = &err else {
        panic!("expected Error::Api, got {err:?}")
    };
    assert_eq!(api.status, 404);
    assert_eq!(api.operation, "repos/get");
    assert_eq!(api.message.as_deref(), Some("Not Found"));
    assert_eq!(
        api.documentation_url.as_deref(),
        Some("https://docs.github.com/rest/repos/repos#get-a-repository")
    );
    match &api.body {
        ErrorBody::BasicError(b) => assert_eq!(b.message.as_deref(), Some("Not Found")),
        other => panic!("404 body should decode as BasicError, got {other:?}"),
    }
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn validation_failure_is_a_typed_api_error_with_field_errors() {
    let (server, client) = mock_github().await;
    let body = json!({
        "message": "Validation Failed",
        "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
        "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue"
    });
    Mock::given(method("POST"))
        .and(path("/repos/o/r/issues"))
        .respond_with(ResponseTemplate::new(422).set_body_json(body))
        .mount(&server)
        .await;
    let req = IssuesCreateRequest::new("");
    let err = client
        .issues()
        .create("o", "r", &req)
        .await
        .expect_err("422 is an error");
    let api = err.api().expect("an API error");
    assert_eq!(api.status, 422);
    assert_eq!(api.errors.len(), 1);
    assert_eq!(api.errors[0].field.as_deref(), Some("title"));
    assert_eq!(api.errors[0].code.as_deref(), Some("missing_field"));
    match &api.body {
        ErrorBody::ValidationError(v) => assert_eq!(v.message, "Validation Failed"),
        other => panic!("422 body should decode as ValidationError, got {other:?}"),
    }
}

#[tokio::test]
async fn non_json_error_body_is_kept_raw() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>"))
        .mount(&server)
        .await;
    let err = client
        .repos()
        .get("o", "r")
        .await
        .expect_err("502 is an error");
    let api = err.api().expect("an API error");
    assert_eq!(api.status, 502);
    assert_eq!(&api.raw[..], b"<html>Bad gateway</html>");
    assert_eq!(api.body, ErrorBody::Text("<html>Bad gateway</html>".into()));
}

#[tokio::test]
async fn query_parameters_and_path_encoding() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues"))
        .and(query_param("state", "closed"))
        .and(query_param("per_page", "2"))
        .and(query_param("labels", "bug,ui"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("issue.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let q = github_rest::issues::IssuesListForRepoQuery::new()
        .state("closed")
        .per_page(2)
        .labels("bug,ui");
    let resp = client
        .issues()
        .list_for_repo("o", "r", &q)
        .await
        .expect("list decodes");
    let issues = resp.body;
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].number, 1347);
}

#[tokio::test]
async fn array_query_parameters_are_exploded() {
    // OpenAPI's default for query arrays (style form, explode true): one `name=value` pair per element.
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/migrations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let q = github_rest::migrations::MigrationsListForOrgQuery::new().exclude([
        github_rest::types::MigrationsListForOrgExcludeItem::Repositories,
        github_rest::types::MigrationsListForOrgExcludeItem::Other("owner".into()),
    ]);
    client
        .migrations()
        .list_for_org("acme", &q)
        .await
        .expect("empty list decodes");
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.url.query(), Some("exclude=repositories&exclude=owner"));
}

#[tokio::test]
async fn per_call_options_carry_headers_media_type_and_time_out_without_leaving_the_typed_call() {
    use github_rest::CallOptions;
    use http::HeaderValue;
    let (server, client) = mock_github().await;
    // With the ETag of the copy we hold: 304, as `Error::NotModified` with the response headers.
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World"))
        .and(header("if-none-match", "\"abc\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"abc\""))
        .expect(1)
        .mount(&server)
        .await;
    // A media type replacing the operation's, and an extra header.
    Mock::given(method("GET"))
        .and(path("/repos/octocat/Hello-World/issues/1347"))
        .and(header("accept", "application/vnd.github.full+json"))
        .and(header("x-trace", "42"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issue.json")))
        .expect(1)
        .mount(&server)
        .await;
    // A slow answer and a short time-out.
    Mock::given(method("GET"))
        .and(path("/repos/octocat/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("full-repository.json"))
                .set_delay(std::time::Duration::from_millis(800)),
        )
        .mount(&server)
        .await;

    let conditional = CallOptions::new().if_none_match(HeaderValue::from_static("\"abc\""));
    let err = client
        .with_options(conditional)
        .repos()
        .get("octocat", "Hello-World")
        .await
        .expect_err("304");
    let Error::NotModified(headers) = &err else {
        panic!("a 304 is Error::NotModified, got {err:?}")
    };
    assert_eq!(headers.get("etag").unwrap(), "\"abc\"");

    let full = CallOptions::new()
        .accept(HeaderValue::from_static("application/vnd.github.full+json"))
        .header(
            http::HeaderName::from_static("x-trace"),
            HeaderValue::from_static("42"),
        );
    let issue = client
        .with_options(full)
        .issues()
        .get("octocat", "Hello-World", 1347)
        .await
        .expect("the typed call decodes");
    assert_eq!(issue.body.number, 1347);

    let quick = CallOptions::new().timeout(std::time::Duration::from_millis(100));
    let started = std::time::Instant::now();
    let err = client
        .with_options(quick)
        .repos()
        .get("octocat", "slow")
        .await
        .expect_err("times out");
    assert!(
        started.elapsed() < std::time::Duration::from_millis(700),
        "{err:?}"
    );
    assert!(matches!(err, Error::Http(_)), "{err:?}");
    // The client itself is unchanged: no option leaks into the next call.
    let repo = client
        .repos()
        .get("octocat", "slow")
        .await
        .expect("no time-out");
    assert_eq!(repo.status, 200);
}
