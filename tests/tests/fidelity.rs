//! Requests can say everything the API accepts, and responses keep what GitHub sends: explicit null, empty arrays,
//! optional bodies, unknown enum values, alternate media types, text and binary bodies, the uploads host, 3xx.

use github_rest::types::{Issue, IssuesUpdateRequest, PullRequestState};
use github_rest::Client;
use serde_json::json;
use tests::{fixture, mock_github};
use wiremock::matchers::{body_bytes, body_json, body_string, header, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn optional_nullable_fields_have_three_states_and_arrays_can_be_sent_empty() {
    let (server, client) = mock_github().await;
    // Absent fields are not sent; `Some(None)` is an explicit null; `Some(vec![])` clears the labels.
    Mock::given(method("PATCH"))
        .and(path("/repos/o/r/issues/7"))
        .and(body_json(
            json!({"milestone": null, "labels": [], "title": "New title"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issue.json")))
        .expect(1)
        .mount(&server)
        .await;
    let body = IssuesUpdateRequest::new()
        .title("New title")
        .milestone_null()
        .labels(Vec::<&str>::new());
    client
        .issues()
        .update("o", "r", 7, Some(&body))
        .await
        .expect("update decodes");
}

#[tokio::test]
async fn an_optional_request_body_can_be_left_out() {
    let (server, client) = mock_github().await;
    Mock::given(method("PATCH"))
        .and(path("/repos/o/r/issues/7"))
        .and(body_bytes(Vec::<u8>::new()))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("issue.json")))
        .expect(1)
        .mount(&server)
        .await;
    client
        .issues()
        .update("o", "r", 7, None)
        .await
        .expect("update without a body");
}

#[test]
fn unknown_enum_values_are_kept_and_written_back_unchanged() {
    let v: PullRequestState = serde_json::from_value(json!("archived")).unwrap();
    assert_eq!(v, PullRequestState::Other("archived".into()));
    assert_eq!(serde_json::to_value(&v).unwrap(), json!("archived"));
    let known: PullRequestState = serde_json::from_value(json!("closed")).unwrap();
    assert_eq!(known, PullRequestState::Closed);

    // Inside a response, with an extra field GitHub added later.
    let mut issue = fixture("issue.json");
    issue["milestone"]["state"] = json!("archived");
    issue["brand_new_field"] = json!({"x": 1});
    let issue: Issue =
        serde_json::from_value(issue).expect("issue with unknown enum value and field decodes");
    assert_eq!(issue.milestone.unwrap().state.as_str(), "archived");
}

#[tokio::test]
async fn alternate_media_types_are_typed_calls() {
    let (server, client) = mock_github().await;
    let diff = "diff --git a/README b/README\n+hello\n";
    Mock::given(method("GET"))
        .and(path("/repos/o/r/commits/abc123"))
        .and(header("accept", "application/vnd.github.diff"))
        .respond_with(ResponseTemplate::new(200).set_body_string(diff))
        .expect(1)
        .mount(&server)
        .await;
    let q = github_rest::repos::ReposGetCommitQuery::default();
    let resp = client
        .repos()
        .get_commit_diff("o", "r", "abc123", &q)
        .await
        .unwrap();
    assert_eq!(resp.body, diff);
}

#[tokio::test]
async fn markdown_is_sent_as_text() {
    let (server, client) = mock_github().await;
    Mock::given(method("POST"))
        .and(path("/markdown/raw"))
        .and(header("content-type", "text/plain"))
        .and(body_string("**Hello**"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<p><strong>Hello</strong></p>"))
        .expect(1)
        .mount(&server)
        .await;
    let resp = client.markdown().render_raw("**Hello**").await.unwrap();
    assert_eq!(resp.body, "<p><strong>Hello</strong></p>");
}

fn asset() -> serde_json::Value {
    json!({"url": "u", "browser_download_url": "b", "id": 1, "node_id": "n", "name": "app.zip", "label": null, "state": "uploaded",
           "content_type": "application/zip", "size": 5, "digest": null, "download_count": 0, "created_at": "2020-01-01T00:00:00Z",
           "updated_at": "2020-01-01T00:00:00Z", "uploader": null})
}

#[tokio::test]
async fn release_assets_go_to_the_uploads_host_from_bytes_or_a_stream() {
    let (server, client) = mock_github().await;
    Mock::given(method("POST"))
        .and(path("/uploads/repos/o/r/releases/9/assets"))
        .and(query_param("name", "app.zip"))
        .and(header("content-type", "application/zip"))
        .and(body_bytes(b"PK\x03\x04!".to_vec()))
        .respond_with(ResponseTemplate::new(201).set_body_json(asset()))
        .expect(2)
        .mount(&server)
        .await;
    let q = github_rest::repos::ReposUploadReleaseAssetQuery::new("app.zip");
    let up = client
        .repos()
        .upload_release_asset("o", "r", 9, &q, "application/zip", b"PK\x03\x04!".to_vec())
        .await
        .unwrap();
    assert_eq!(up.body.name, "app.zip");
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(b"PK\x03".to_vec()), Ok(b"\x04!".to_vec())];
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    client
        .repos()
        .upload_release_asset("o", "r", 9, &q, "application/zip", stream)
        .await
        .unwrap();
}

#[tokio::test]
async fn enterprise_server_uses_api_v3_and_api_uploads() {
    let server = wiremock::MockServer::start().await;
    let client = Client::builder()
        .enterprise_url(&server.uri())
        .build()
        .unwrap();
    assert_eq!(client.api_base(), format!("{}/api/v3", server.uri()));
    assert_eq!(
        client.uploads_base(),
        format!("{}/api/uploads", server.uri())
    );
    Mock::given(method("POST"))
        .and(path("/api/uploads/repos/o/r/releases/9/assets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(asset()))
        .expect(1)
        .mount(&server)
        .await;
    let q = github_rest::repos::ReposUploadReleaseAssetQuery::new("app.zip");
    client
        .repos()
        .upload_release_asset("o", "r", 9, &q, "application/zip", vec![1u8])
        .await
        .unwrap();
    // A hostname alone means HTTPS.
    let ghes = Client::builder()
        .enterprise_host("ghe.example.com")
        .build()
        .unwrap();
    assert_eq!(ghes.api_base(), "https://ghe.example.com/api/v3");
    assert_eq!(ghes.uploads_base(), "https://ghe.example.com/api/uploads");
}

#[tokio::test]
async fn redirects_and_not_modified_are_responses_not_failures() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r/tarball/main"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            "https://codeload.example/o/r/legacy.tar.gz/main",
        ))
        .mount(&server)
        .await;
    let resp = client
        .repos()
        .download_tarball_archive("o", "r", "main")
        .await
        .expect("302 is this operation's success");
    assert_eq!(resp.status, 302);
    assert_eq!(
        resp.headers["location"],
        "https://codeload.example/o/r/legacy.tar.gz/main"
    );

    // A 304 reaches only a caller who sent a conditional header, as an error carrying the headers.
    Mock::given(method("POST"))
        .and(path("/markdown/raw"))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"abc\""))
        .mount(&server)
        .await;
    let err = client.markdown().render_raw("x").await.unwrap_err();
    let github_rest::Error::NotModified(headers) = &err else {
        panic!("a 304 is Error::NotModified, got {err:?}")
    };
    assert_eq!(headers["etag"], "\"abc\"");
    assert_eq!(err.status(), Some(reqwest::StatusCode::NOT_MODIFIED));
}

#[tokio::test]
async fn moved_resources_are_followed_on_every_method() {
    let (server, client) = mock_github().await;
    // A renamed repository: GET answers 301 with the new location; the client follows it and decodes the list.
    Mock::given(method("GET"))
        .and(path("/repos/o/old/issues"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header(
                    "location",
                    format!("{}/repositories/1/issues?state=open", server.uri()),
                )
                .set_body_json(json!({"message": "Moved Permanently"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repositories/1/issues"))
        .and(query_param("state", "open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([fixture("issue.json")])))
        .expect(1)
        .mount(&server)
        .await;
    let query = github_rest::issues::IssuesListForRepoQuery::new().state("open");
    let issues = client
        .issues()
        .list_for_repo("o", "old", &query)
        .await
        .expect("the redirect is followed");
    assert_eq!(issues.body.len(), 1);

    // A write to a moved repository answers 307: the same method and body go to the new location.
    Mock::given(method("PATCH"))
        .and(path("/repos/o/old"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/repositories/1"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/repositories/1"))
        .and(body_json(json!({"description": "moved"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("full-repository.json")))
        .expect(1)
        .mount(&server)
        .await;
    let update = github_rest::types::ReposUpdateRequest::new().description("moved");
    let repo = client
        .repos()
        .update("o", "old", Some(&update))
        .await
        .expect("307 is followed with its body");
    assert_eq!(repo.status, 200);
}

#[tokio::test]
async fn redirects_stop_at_the_limit_and_streamed_uploads_are_sent_once() {
    let (server, _) = mock_github().await;
    let client = Client::builder()
        .base_url(server.uri())
        .uploads_url(format!("{}/uploads", server.uri()))
        .user_agent("github-rest-tests")
        .max_redirects(2)
        .build()
        .unwrap();
    // A redirect loop: two hops are followed, the third 301 is the answer, which this operation does not list
    // (three requests here, and one more from the client below that follows none).
    Mock::given(method("GET"))
        .and(path("/repos/o/loop"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/repos/o/loop"))
        .expect(4)
        .mount(&server)
        .await;
    let err = client.repos().get("o", "loop").await.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::MOVED_PERMANENTLY));

    // An upload of bytes goes to the new location with its body; one given as a stream cannot be sent twice, and
    // its 307 is returned.
    Mock::given(method("POST"))
        .and(path("/uploads/repos/o/r/releases/9/assets"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("location", "/uploads/elsewhere/assets"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/uploads/elsewhere/assets"))
        .and(body_bytes(vec![1u8, 2, 3]))
        .respond_with(ResponseTemplate::new(201).set_body_json(asset()))
        .expect(1)
        .mount(&server)
        .await;
    let q = github_rest::repos::ReposUploadReleaseAssetQuery::new("app.zip");
    let moved = client
        .repos()
        .upload_release_asset("o", "r", 9, &q, "application/zip", vec![1u8, 2, 3])
        .await
        .expect("a 307 after an upload of bytes is followed");
    assert_eq!(moved.status, 201);
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![1u8, 2, 3])];
    let stream = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let err = client
        .repos()
        .upload_release_asset("o", "r", 9, &q, "application/zip", stream)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::TEMPORARY_REDIRECT));

    // With no redirects allowed, the first 301 is the answer.
    let none = Client::builder()
        .base_url(server.uri())
        .user_agent("github-rest-tests")
        .max_redirects(0)
        .build()
        .unwrap();
    let err = none.repos().get("o", "loop").await.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::MOVED_PERMANENTLY));
}

#[tokio::test]
async fn a_redirect_that_is_the_answer_is_not_followed() {
    let (server, client) = mock_github().await;
    // `302` from the membership check means "not a member" (or not visible): it must not be followed.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/members/someone"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/orgs/acme/public_members/someone", server.uri()),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/public_members/someone"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    let resp = client
        .orgs()
        .check_membership_for_user("acme", "someone")
        .await
        .unwrap();
    assert!(matches!(
        resp.body,
        github_rest::orgs::OrgsCheckMembershipForUserOutcome::Found
    ));
}

#[tokio::test]
async fn api_errors_carry_the_rate_limit_headers() {
    let (server, client) = mock_github().await;
    Mock::given(method("GET"))
        .and(path("/repos/o/r"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}))
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", "5000")
                .insert_header("x-ratelimit-reset", "1700000000")
                .insert_header("x-ratelimit-resource", "core"),
        )
        .mount(&server)
        .await;
    let err = client.repos().get("o", "r").await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(api.status, 403);
    assert_eq!(api.rate_limit.remaining, Some(0));
    assert_eq!(api.rate_limit.reset, Some(1_700_000_000));
    assert_eq!(api.rate_limit.resource.as_deref(), Some("core"));
    assert_eq!(api.message.as_deref(), Some("API rate limit exceeded"));
}

#[tokio::test]
async fn multipart_bodies_are_sent_as_forms() {
    // GHES's license upload and instance initialisation take multipart/form-data; their endpoint functions hand a
    // `reqwest::multipart::Form` to the runtime as here.
    use github_rest::runtime::{Args, BodyKind, Endpoint, Host};
    static EP: Endpoint = Endpoint {
        id: "enterprise-admin/license-upload",
        auth: github_rest::AuthKind::Token,
        method: reqwest::Method::PUT,
        host: Host::Api,
        path: "/manage/v1/config/license",
        accept: "application/json",
        success: &[(202, BodyKind::Empty)],
        errors: &[],
    };
    let (server, client) = mock_github().await;
    Mock::given(method("PUT"))
        .and(path("/manage/v1/config/license"))
        .and(wiremock::matchers::header_regex(
            "content-type",
            "^multipart/form-data; boundary=",
        ))
        .and(wiremock::matchers::body_string_contains("name=\"license\""))
        .and(wiremock::matchers::body_string_contains("LICENSE-BYTES"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let form = reqwest::multipart::Form::new().part(
        "license",
        reqwest::multipart::Part::bytes(b"LICENSE-BYTES".to_vec()).file_name("enterprise.ghl"),
    );
    let resp = client
        .call::<()>(&EP, Args::new(&[]).form(form))
        .await
        .unwrap();
    assert_eq!(resp.status, 202);
}
