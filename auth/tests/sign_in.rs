//! Signing a user in against a mock web host on 127.0.0.1: the web application flow (state, PKCE, each documented
//! error) ending in the user-token client and its refresh path, and every branch of the device flow under tokio's
//! paused clock.

use github_auth::oauth::{AuthorizeRequest, OAuthError, SignIn};
use github_auth::{AuthBuilder, ClientCredentials, ExposeSecret, SecretString};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ISSUE: &str = include_str!("../../tests/data/issue.json");

fn form(r: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(&r.body).into_owned().collect()
}

/// The web flow's token endpoint: checks the PKCE verifier against the challenge of the authorize URL, and answers by
/// code the way GitHub does (errors with status 200).
struct CodeExchange {
    challenge: Mutex<Option<String>>,
}

impl Respond for CodeExchange {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let f = form(r);
        let error = |code: &str| {
            ResponseTemplate::new(200)
                .set_body_json(json!({ "error": code, "error_description": "from the mock" }))
        };
        if f.get("grant_type").map(String::as_str) == Some("refresh_token") {
            assert_eq!(f["refresh_token"], "ghr_first");
            return ResponseTemplate::new(200).set_body_json(json!({
                "access_token": "ghu_second", "expires_in": 28800, "refresh_token": "ghr_second",
                "refresh_token_expires_in": 15897600, "token_type": "bearer", "scope": ""
            }));
        }
        if f.get("client_secret").map(String::as_str) != Some("s3cret") {
            return error("incorrect_client_credentials");
        }
        if f.get("redirect_uri").map(String::as_str) != Some("https://app.example/cb") {
            return error("redirect_uri_mismatch");
        }
        use base64::Engine;
        use sha2::Digest;
        let verifier = f.get("code_verifier").cloned().unwrap_or_default();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        if Some(challenge) != *self.challenge.lock().unwrap() || f["code"] != "good" {
            return error("bad_verification_code");
        }
        // Expires in 30 s: inside the renewal window, so the first API call renews it.
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ghu_first", "expires_in": 30, "refresh_token": "ghr_first",
            "refresh_token_expires_in": 15897600, "token_type": "bearer", "scope": ""
        }))
    }
}

#[tokio::test]
async fn web_flow_checks_state_sends_pkce_and_ends_in_a_renewing_user_client() {
    let web = MockServer::start().await;
    let api = MockServer::start().await;
    let sign_in = SignIn::builder("Iv1.abc")
        .client_secret(SecretString::from("s3cret"))
        .web_url(web.uri())
        .user_agent("sign-in-test")
        .build()
        .unwrap();
    let pending = sign_in.authorize(AuthorizeRequest::new().redirect_uri("https://app.example/cb"));
    let q: HashMap<_, _> = pending.url().query_pairs().into_owned().collect();
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(header("accept", "application/json"))
        .respond_with(CodeExchange {
            challenge: Mutex::new(Some(q["code_challenge"].clone())),
        })
        .mount(&web)
        .await;

    // A redirect carrying another state is refused before anything is sent.
    let e = sign_in
        .exchange_code(&pending, "forged", "good")
        .await
        .unwrap_err();
    assert_eq!(e, OAuthError::StateMismatch);
    assert!(web.received_requests().await.unwrap().is_empty());

    let state = pending.state().to_string();
    let e = sign_in
        .exchange_code(&pending, &state, "stale")
        .await
        .unwrap_err();
    assert_eq!(e, OAuthError::BadVerificationCode);
    let wrong_secret = SignIn::builder("Iv1.abc")
        .client_secret(SecretString::from("nope"))
        .web_url(web.uri())
        .build()
        .unwrap();
    let e = wrong_secret
        .exchange_code(&pending, &state, "good")
        .await
        .unwrap_err();
    assert_eq!(e, OAuthError::IncorrectClientCredentials);
    let other_redirect =
        sign_in.authorize(AuthorizeRequest::new().redirect_uri("https://evil.example/"));
    let e = sign_in
        .exchange_code(&other_redirect, other_redirect.state(), "good")
        .await
        .unwrap_err();
    assert_eq!(e, OAuthError::RedirectUriMismatch);

    let tokens = sign_in
        .exchange_code(&pending, &state, "good")
        .await
        .unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "ghu_first");
    assert!(tokens.expires_at.is_some() && tokens.refresh_token.is_some());

    // The user's client: the token expires within a minute, so the first call renews it at the web host.
    Mock::given(method("GET"))
        .and(path("/repos/o/r/issues/1"))
        .and(header("authorization", "Bearer ghu_second"))
        .respond_with(ResponseTemplate::new(200).set_body_string(ISSUE))
        .mount(&api)
        .await;
    let renewed = std::sync::Arc::new(Mutex::new(None));
    let seen = renewed.clone();
    let client = AuthBuilder::user_token(tokens, ClientCredentials::new("Iv1.abc", "s3cret"))
        .base_url(api.uri())
        .web_url(web.uri())
        .user_agent("sign-in-test")
        .on_token_refresh(move |t| {
            *seen.lock().unwrap() = t
                .refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_string())
        })
        .build()
        .unwrap();
    client.issues().get("o", "r", 1).await.unwrap();
    assert_eq!(renewed.lock().unwrap().as_deref(), Some("ghr_second"));
}

/// Answers the device flow's polls in turn; the last answer repeats.
struct Polls(Mutex<VecDeque<serde_json::Value>>);

impl Respond for Polls {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let f = form(r);
        assert_eq!(
            f["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(f["device_code"], "dev-123");
        assert!(
            !f.contains_key("client_secret"),
            "the device flow needs no secret"
        );
        let mut q = self.0.lock().unwrap();
        let body = if q.len() > 1 {
            q.pop_front().unwrap()
        } else {
            q[0].clone()
        };
        if body.is_null() {
            // Stands for a failing front end.
            return ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>");
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn pending() -> serde_json::Value {
    json!({ "error": "authorization_pending", "error_description": "The authorization request is still pending." })
}

/// A web host whose device code lives `expires_in` seconds with a 5 s interval, and whose polls answer `polls`.
async fn device_host(expires_in: u64, polls: Vec<serde_json::Value>) -> (MockServer, SignIn) {
    let web = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/device/code"))
        .and(body_string_contains("scope=repo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dev-123", "user_code": "WDJB-MJHT",
            "verification_uri": "https://github.com/login/device", "expires_in": expires_in, "interval": 5
        })))
        .mount(&web)
        .await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(Polls(Mutex::new(polls.into())))
        .mount(&web)
        .await;
    // No time-outs and no idle-pool timer: under a paused clock they would be the timers the runtime jumps to.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    let sign_in = SignIn::builder("Iv1.abc")
        .web_url(web.uri())
        .http_client(http)
        .build()
        .unwrap();
    (web, sign_in)
}

async fn polls(web: &MockServer) -> usize {
    web.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/login/oauth/access_token")
        .count()
}

#[tokio::test(start_paused = true)]
async fn device_flow_waits_while_pending_and_slows_down_when_told() {
    let success = json!({ "access_token": "ghu_dev", "token_type": "bearer", "scope": "repo" });
    // slow_down without a new interval: 5 s + 5 s.
    let (web, sign_in) = device_host(
        900,
        vec![
            pending(),
            json!({ "error": "slow_down" }),
            pending(),
            success,
        ],
    )
    .await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    assert_eq!(code.user_code, "WDJB-MJHT");
    assert_eq!(code.interval, Duration::from_secs(5));
    let t = tokio::time::Instant::now();
    let tokens = sign_in.poll_device(&code).await.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "ghu_dev");
    // Polls at 5 s (pending), 10 s (slow down: interval 10 s), 20 s (pending), 30 s (authorised).
    assert_eq!(polls(&web).await, 4);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );

    // GitHub's own new interval is taken when it is longer.
    let success = json!({ "access_token": "ghu_dev", "token_type": "bearer", "scope": "repo" });
    let (web, sign_in) = device_host(
        900,
        vec![json!({ "error": "slow_down", "interval": 20 }), success],
    )
    .await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    let t = tokio::time::Instant::now();
    sign_in.poll_device(&code).await.unwrap();
    assert_eq!(polls(&web).await, 2);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(25) && waited < Duration::from_secs(26),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn device_flow_stops_on_denial_expiry_and_its_own_deadline() {
    let (web, sign_in) =
        device_host(900, vec![pending(), json!({ "error": "access_denied" })]).await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    assert_eq!(
        sign_in.poll_device(&code).await.unwrap_err(),
        OAuthError::AccessDenied
    );
    assert_eq!(polls(&web).await, 2);

    let (web, sign_in) = device_host(900, vec![json!({ "error": "expired_token" })]).await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    assert_eq!(
        sign_in.poll_device(&code).await.unwrap_err(),
        OAuthError::Expired
    );
    assert_eq!(polls(&web).await, 1);

    // Codes living 12 s: polls at 5 and 10 s, then the deadline passes without another request.
    let (web, sign_in) = device_host(12, vec![pending()]).await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    assert_eq!(
        sign_in.poll_device(&code).await.unwrap_err(),
        OAuthError::Expired
    );
    assert_eq!(polls(&web).await, 2);

    let (_web, sign_in) = device_host(900, vec![json!({ "error": "device_flow_disabled" })]).await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    assert_eq!(
        sign_in.poll_device(&code).await.unwrap_err(),
        OAuthError::DeviceFlowDisabled
    );
}

#[tokio::test(start_paused = true)]
async fn device_flow_polls_on_through_a_failing_front_end() {
    let success = json!({ "access_token": "ghu_dev", "token_type": "bearer", "scope": "repo" });
    let (web, sign_in) = device_host(900, vec![serde_json::Value::Null, pending(), success]).await;
    let code = sign_in.request_device_code(["repo"]).await.unwrap();
    let tokens = sign_in.poll_device(&code).await.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "ghu_dev");
    assert_eq!(polls(&web).await, 3);
}
