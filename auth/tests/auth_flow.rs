//! The authentication flows against a local mock GitHub (wiremock on 127.0.0.1).

mod common;

use common::*;
use futures::StreamExt;
use github_auth::{
    AppIssuer, AuthBuilder, AuthError, ClientCredentials, ExposeSecret, ManualClock, MemoryStore,
    SecretString, UserTokens,
};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

#[tokio::test]
async fn app_jwt_installation_token_call_expiry_refresh_call_again() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    accept_only(&server, "ghs_1").await;
    accept_only(&server, "ghs_2").await;
    reject_rest(&server).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/widgets/installation"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;

    let client = installation_builder(&server, &clock).build().unwrap();
    list_repos(&client).await.unwrap();
    list_repos(&client).await.unwrap();
    assert_eq!(mint.count(), 1, "the second call reuses the cached token");

    // 54 minutes later the token has 6 minutes left: still outside the 5-minute margin.
    clock.advance(Duration::from_secs(54 * 60));
    list_repos(&client).await.unwrap();
    assert_eq!(mint.count(), 1);
    // 2 more minutes: inside the margin, so it is replaced before use.
    clock.advance(Duration::from_secs(2 * 60));
    list_repos(&client).await.unwrap();
    assert_eq!(mint.count(), 2);

    // An operation that takes the app's JWT gets the JWT, not the installation token.
    let _ = client.apps().get_repo_installation("acme", "widgets").await;
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        auth_headers(&reqs, "/installation/repositories"),
        [
            "Bearer ghs_1",
            "Bearer ghs_1",
            "Bearer ghs_1",
            "Bearer ghs_2"
        ]
    );
    let jwt_header = &auth_headers(&reqs, "/repos/acme/widgets/installation")[0];
    assert!(
        jwt_header.starts_with("Bearer ey") && jwt_header.matches('.').count() == 2,
        "{jwt_header}"
    );
    assert!(reqs
        .iter()
        .all(|r| r.url.query().is_none_or(|q| !q.contains("ghs_"))));
}

#[tokio::test]
async fn thousand_concurrent_callers_on_an_expired_token_cause_one_exchange() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    // The delay keeps the exchange in flight while every caller arrives.
    Mock::given(method("POST"))
        .and(path(EXCHANGE_PATH))
        .respond_with(DelayedMint(mint.clone()))
        .mount(&server)
        .await;
    let app = installation_builder(&server, &clock).build_app().unwrap();
    let tokens = app.installation_tokens(INSTALLATION, None);
    assert_eq!(tokens.token().await.unwrap().expose_secret(), "ghs_1");
    clock.advance(Duration::from_secs(3600));

    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let t = tokens.clone();
        tasks.push(tokio::spawn(async move {
            t.token().await.map(|s| s.expose_secret().to_string())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "ghs_2");
    }
    let refreshes = mint.count() - 1;
    println!("exchanges caused by 1000 concurrent callers on an expired token: {refreshes}");
    assert_eq!(refreshes, 1);
}

struct DelayedMint(Mint);
impl Respond for DelayedMint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.respond(req).set_delay(Duration::from_millis(200))
    }
}

#[tokio::test]
async fn clones_and_clients_on_one_store_share_the_cache_narrowings_do_not() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    mount_repos(&server).await;
    let store = Arc::new(MemoryStore::new());
    let a = installation_builder(&server, &clock)
        .token_store(store.clone())
        .build()
        .unwrap();
    let b = installation_builder(&server, &clock)
        .token_store(store.clone())
        .build()
        .unwrap();
    list_repos(&a).await.unwrap();
    list_repos(&a.clone()).await.unwrap();
    list_repos(&b).await.unwrap();
    assert_eq!(mint.count(), 1);

    let narrowed = installation_builder(&server, &clock)
        .token_store(store.clone())
        .repositories(["widgets"])
        .repository_ids([9])
        .build()
        .unwrap();
    list_repos(&narrowed).await.unwrap();
    list_repos(&narrowed).await.unwrap();
    assert_eq!(
        mint.count(),
        2,
        "a narrowed token is a separate cache entry"
    );
    assert_eq!(
        mint.bodies.lock().unwrap().as_slice(),
        [json!({ "repositories": ["widgets"], "repository_ids": [9] })]
    );
}

#[tokio::test]
async fn pkcs8_key_and_client_id_issuer_work_and_bad_keys_fail_at_build() {
    let server = MockServer::start().await;
    let ok = AuthBuilder::app("Iv23client", SecretString::from(PKCS8))
        .base_url(server.uri())
        .build();
    assert!(ok.is_ok());
    for bad in [
        "",
        "not a key",
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        PUBLIC,
    ] {
        let err = AuthBuilder::installation(APP_ID, SecretString::from(bad), INSTALLATION)
            .base_url(server.uri())
            .build()
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidPrivateKey(_)), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("invalid GitHub App private key"),
            "{err}"
        );
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "a bad key is found before any request"
    );
}

#[tokio::test]
async fn a_401_on_exchange_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EXCHANGE_PATH))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({ "message": "A JSON web token could not be decoded" })),
        )
        .mount(&server)
        .await;
    let clock = ManualClock::new(SystemTime::now());
    let client = installation_builder(&server, &clock).build().unwrap();
    let err = list_repos(&client).await.unwrap_err();
    let auth = AuthError::from_rest(&err).expect("an authentication error");
    match auth {
        AuthError::Exchange {
            installation_id,
            source,
        } => {
            assert_eq!(*installation_id, INSTALLATION);
            assert_eq!(source.status(), Some(http::StatusCode::UNAUTHORIZED));
            // The call's error names every cause once: the exchange, then what GitHub said.
            let full = err.to_string();
            assert_eq!(
                full.matches("A JSON web token could not be decoded")
                    .count(),
                1,
                "{full}"
            );
            assert!(
                full.contains("installation token exchange for installation 77 failed"),
                "{full}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let reqs = server.received_requests().await.unwrap();
    assert!(
        reqs.iter().all(|r| r.url.path() == EXCHANGE_PATH),
        "no API call without a token"
    );
}

#[tokio::test]
async fn an_installation_that_does_not_exist() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(EXCHANGE_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "message": "Not Found" })))
        .mount(&server)
        .await;
    let clock = ManualClock::new(SystemTime::now());
    let client = installation_builder(&server, &clock).build().unwrap();
    let err = list_repos(&client).await.unwrap_err();
    assert!(
        matches!(
            AuthError::from_rest(&err),
            Some(AuthError::InstallationNotFound {
                installation_id: INSTALLATION
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_401_right_after_minting_is_retried_with_the_same_token() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    // The first use of the new token lands on a replica that has not seen it yet.
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" })),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    accept_only(&server, "ghs_1").await;
    let client = installation_builder(&server, &clock).build().unwrap();
    list_repos(&client).await.unwrap();
    assert_eq!(mint.count(), 1);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        auth_headers(&reqs, "/installation/repositories"),
        ["Bearer ghs_1"; 3]
    );
}

#[tokio::test]
async fn a_revoked_token_is_reminted_once_then_the_error_surfaces() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    // Answers 200 to the tokens in `allowed`, 401 to any other.
    let allowed: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(vec![
        "Bearer ghs_1".into(),
        "Bearer ghs_2".into(),
    ]));
    let gate = allowed.clone();
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(move |r: &Request| {
            let h = r
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            if gate.lock().unwrap().contains(&h) {
                repos_page()
            } else {
                ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" }))
            }
        })
        .mount(&server)
        .await;
    let client = installation_builder(&server, &clock).build().unwrap();
    list_repos(&client).await.unwrap();
    // Half an hour later ghs_1 is revoked.
    allowed.lock().unwrap().retain(|t| t != "Bearer ghs_1");
    clock.advance(Duration::from_secs(30 * 60));
    list_repos(&client).await.unwrap();
    assert_eq!(mint.count(), 2);

    // Now GitHub refuses every token: one re-mint, then the 401 reaches the caller (no loop).
    allowed.lock().unwrap().clear();
    clock.advance(Duration::from_secs(60));
    let err = list_repos(&client).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(mint.count(), 3);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        auth_headers(&reqs, "/installation/repositories"),
        [
            "Bearer ghs_1",
            "Bearer ghs_1",
            "Bearer ghs_2",
            "Bearer ghs_2",
            "Bearer ghs_3"
        ]
    );
}

#[tokio::test]
async fn clock_skew_is_corrected_from_the_date_header() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mut mint = Mint::new(&clock);
    // Our clock runs two hours ahead of GitHub's: every token would look expired on arrival without correction.
    mint.skew = -2 * 3600;
    mount_mint(&server, &mint).await;
    mount_repos(&server).await;
    let client = installation_builder(&server, &clock).build().unwrap();
    for _ in 0..3 {
        list_repos(&client).await.unwrap();
    }
    assert_eq!(mint.count(), 1);
}

#[tokio::test]
async fn oauth_app_credentials_go_as_basic_auth_never_in_the_query() {
    let server = MockServer::start().await;
    let authorization = json!({
        "id": 1, "url": "https://api.github.com/authorizations/1", "scopes": [], "token": "gho_user", "token_last_eight": "12345678",
        "hashed_token": "abc", "app": { "client_id": "Iv1.abc", "name": "App", "url": "https://example.com" }, "note": null, "note_url": null,
        "updated_at": "2011-09-06T20:39:23Z", "created_at": "2011-09-06T17:26:27Z", "fingerprint": null, "expires_at": null
    });
    Mock::given(method("POST"))
        .and(path("/applications/Iv1.abc/token"))
        .and(header("authorization", "Basic SXYxLmFiYzpzM2NyZXQ="))
        .respond_with(ResponseTemplate::new(200).set_body_json(authorization))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/applications/Iv1.abc/grant"))
        .and(header("authorization", "Basic SXYxLmFiYzpzM2NyZXQ="))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = AuthBuilder::oauth_app(ClientCredentials::new("Iv1.abc", "s3cret"))
        .base_url(server.uri())
        .build()
        .unwrap();
    let checked = client
        .apps()
        .check_token(
            "Iv1.abc",
            &github_rest::types::AppsCheckTokenRequest::new("gho_user"),
        )
        .await
        .unwrap();
    assert_eq!(checked.body.token, "gho_user");
    client
        .apps()
        .delete_authorization(
            "Iv1.abc",
            &github_rest::types::AppsDeleteAuthorizationRequest::new("gho_user"),
        )
        .await
        .unwrap();
    for r in server.received_requests().await.unwrap() {
        assert!(r.url.query().is_none(), "{}", r.url);
        assert!(!String::from_utf8_lossy(&r.body).contains("s3cret"));
    }
}

#[tokio::test]
async fn personal_token_is_a_bearer_token() {
    let server = MockServer::start().await;
    accept_only(&server, "ghp_personal").await;
    reject_rest(&server).await;
    let client = AuthBuilder::token(SecretString::from("ghp_personal"))
        .base_url(server.uri())
        .build()
        .unwrap();
    list_repos(&client).await.unwrap();
}

#[tokio::test]
async fn expiring_user_token_is_renewed_with_its_refresh_token() {
    let api = MockServer::start().await;
    let web = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ghu_new", "expires_in": 28800, "refresh_token": "ghr_new", "refresh_token_expires_in": 15897600, "scope": "", "token_type": "bearer"
        })))
        .expect(1)
        .mount(&web)
        .await;
    accept_only(&api, "ghu_new").await;
    reject_rest(&api).await;
    let clock = ManualClock::new(SystemTime::now());
    let now = unix(SystemTime::now());
    let saved: Arc<Mutex<Option<String>>> = Arc::default();
    let s = saved.clone();
    let client = AuthBuilder::user_token(
        UserTokens::expiring("ghu_old", now - 10, "ghr_old"),
        ClientCredentials::new("Iv23abc", "s3cret"),
    )
    .base_url(api.uri())
    .web_url(web.uri())
    .clock(Arc::new(clock))
    .on_token_refresh(move |t| {
        *s.lock().unwrap() = t
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string())
    })
    .build()
    .unwrap();
    list_repos(&client).await.unwrap();
    list_repos(&client).await.unwrap();
    let reqs = web.received_requests().await.unwrap();
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&reqs[0].body)
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "ghr_old");
    assert_eq!(form["client_id"], "Iv23abc");
    assert_eq!(form["client_secret"], "s3cret");
    assert!(reqs[0].url.query().is_none());
    assert_eq!(saved.lock().unwrap().as_deref(), Some("ghr_new"));
    assert_eq!(
        auth_headers(
            &api.received_requests().await.unwrap(),
            "/installation/repositories"
        ),
        ["Bearer ghu_new"; 2]
    );
}

#[tokio::test]
async fn a_failed_refresh_is_a_typed_error() {
    let api = MockServer::start().await;
    let web = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "error": "bad_refresh_token", "error_description": "The refresh token passed is incorrect or expired." })))
        .mount(&web)
        .await;
    let now = unix(SystemTime::now());
    let client = AuthBuilder::user_token(
        UserTokens::expiring("ghu_old", now - 10, "ghr_old"),
        ClientCredentials::new("Iv23abc", "s3cret"),
    )
    .base_url(api.uri())
    .web_url(web.uri())
    .build()
    .unwrap();
    let err = list_repos(&client).await.unwrap_err();
    match AuthError::from_rest(&err) {
        Some(AuthError::Refresh { message, .. }) => {
            assert!(message.starts_with("bad_refresh_token"), "{message}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(api.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn no_credentials_on_a_redirect_to_another_host() {
    let api = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/elsewhere", other.uri()).as_str()),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .respond_with(repos_page())
        .mount(&other)
        .await;

    // The client follows the redirect (each hop through the credential layer): the other host gets the request
    // without the token.
    let client = AuthBuilder::token(SecretString::from("ghp_personal"))
        .base_url(api.uri())
        .build()
        .unwrap();
    list_repos(&client).await.unwrap();
    let seen = other.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].headers.get("authorization").is_none());
    other.reset().await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .respond_with(repos_page())
        .mount(&other)
        .await;

    // A caller's client that follows redirects still does not carry the token to the other host.
    let following = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .unwrap();
    let client = AuthBuilder::token(SecretString::from("ghp_personal"))
        .base_url(api.uri())
        .http_client(following)
        .build()
        .unwrap();
    list_repos(&client).await.unwrap();
    let seen = other.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].headers.get("authorization").is_none());
    assert_eq!(
        auth_headers(
            &api.received_requests().await.unwrap(),
            "/installation/repositories"
        )[1],
        "Bearer ghp_personal"
    );
}

fn installation_json(id: i64, login: &str) -> serde_json::Value {
    json!({
        "id": id, "account": { "login": login, "id": 1, "node_id": "MDQ6VXNlcjE=", "avatar_url": "https://example.com/a", "gravatar_id": "",
            "url": "https://api.github.com/users/x", "html_url": "https://github.com/x", "followers_url": "", "following_url": "", "gists_url": "",
            "starred_url": "", "subscriptions_url": "", "organizations_url": "", "repos_url": "", "events_url": "", "received_events_url": "",
            "type": "Organization", "site_admin": false },
        "repository_selection": "all", "access_tokens_url": "https://api.github.com/app/installations/1/access_tokens",
        "repositories_url": "https://api.github.com/installation/repositories", "html_url": "https://github.com/settings/installations/1",
        "app_id": APP_ID, "target_id": 1, "target_type": "Organization", "permissions": {}, "events": [], "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z", "single_file_name": null, "app_slug": "my-app", "suspended_at": null, "suspended_by": null
    })
}

#[tokio::test]
async fn installations_are_found_by_org_repo_and_user_with_the_jwt() {
    let server = MockServer::start().await;
    for (p, id) in [
        ("/orgs/acme/installation", 1),
        ("/repos/acme/widgets/installation", 2),
        ("/users/octocat/installation", 3),
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(installation_json(id, "acme")))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/orgs/nobody/installation"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&server)
        .await;
    let app = AuthBuilder::app(APP_ID, SecretString::from(PKCS1))
        .base_url(server.uri())
        .build_app()
        .unwrap();
    assert_eq!(app.org_installation("acme").await.unwrap().id, 1);
    assert_eq!(
        app.repo_installation("acme", "widgets").await.unwrap().id,
        2
    );
    assert_eq!(app.user_installation("octocat").await.unwrap().id, 3);
    let err = app.org_installation("nobody").await.unwrap_err();
    assert!(
        matches!(&err, AuthError::NotInstalled { target } if target == "org nobody"),
        "{err:?}"
    );
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
    for r in server.received_requests().await.unwrap() {
        let h = r.headers.get("authorization").unwrap().to_str().unwrap();
        let jwt = h.strip_prefix("Bearer ").unwrap();
        let data = jsonwebtoken::decode::<Claims>(
            jwt,
            &key,
            &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256),
        )
        .unwrap();
        assert_eq!(data.claims.iss, json!(APP_ID));
        assert!(data.claims.exp - data.claims.iat <= 660);
    }
    assert!(matches!(app.jwt().issuer(), AppIssuer::Id(APP_ID)));
}

#[tokio::test]
async fn listing_installations_follows_next_links_on_the_api_host_only() {
    let api = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .and(wiremock::matchers::query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([installation_json(2, "b")]))
                .insert_header(
                    "link",
                    format!("<{}/app/installations?page=3>; rel=\"next\"", other.uri()).as_str(),
                ),
        )
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([installation_json(1, "a")]))
                .insert_header(
                    "link",
                    format!("<{}/app/installations?page=2>; rel=\"next\"", api.uri()).as_str(),
                ),
        )
        .with_priority(5)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/app/installations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([installation_json(3, "c")])))
        .mount(&other)
        .await;
    let app = AuthBuilder::app(APP_ID, SecretString::from(PKCS1))
        .base_url(api.uri())
        .build_app()
        .unwrap();
    // The first two pages are on the API host; the third link points elsewhere and is refused, not followed.
    let err = app.installations().await.unwrap_err();
    assert!(
        matches!(&err, AuthError::Api(e) if matches!(**e, github_rest::Error::ForeignUrl(_))),
        "{err:?}"
    );
    let api_reqs = api.received_requests().await.unwrap();
    assert_eq!(api_reqs.len(), 2);
    assert!(api_reqs
        .iter()
        .all(|r| r.headers.get("authorization").is_some()));
    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "nothing, and so no JWT, goes to another host"
    );
    let mut stream = app.installations_stream();
    assert_eq!(stream.next().await.unwrap().unwrap().id, 1);
    assert_eq!(stream.next().await.unwrap().unwrap().id, 2);
    assert!(stream.next().await.unwrap().is_err());
}

#[tokio::test]
async fn the_middleware_stack_sits_under_the_auth_layer() {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    accept_only(&server, "ghs_1").await;
    reject_rest(&server).await;
    let client = installation_builder(&server, &clock)
        .middleware(github_auth::middleware::MiddlewareConfig::default())
        .build()
        .unwrap();
    list_repos(&client).await.unwrap();
    list_repos(&client.clone()).await.unwrap();
    assert_eq!(mint.count(), 1);
}
