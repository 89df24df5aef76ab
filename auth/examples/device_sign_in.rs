//! A GitHub App signs a user in with the device flow and acts as that user, end to end against a mock GitHub on
//! loopback (web host and API): the user code is shown, the app polls until the (mock) user authorises it, and the
//! expiring user token it gets drives an API call.
//!
//! `cargo run -p github-auth --example device_sign_in`

use github_auth::oauth::SignIn;
use github_auth::{AuthBuilder, ClientCredentials};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The user authorises the device on the third poll.
struct UserAuthorisesLater(AtomicUsize);

impl Respond for UserAuthorisesLater {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
            return ResponseTemplate::new(200)
                .set_body_json(json!({ "error": "authorization_pending" }));
        }
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "ghu_user", "expires_in": 28800, "refresh_token": "ghr_user",
            "refresh_token_expires_in": 15897600, "token_type": "bearer", "scope": ""
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let github = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login/device/code"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "3584d83530557fdd1f46af8289938c8ef79f9dc5", "user_code": "WDJB-MJHT",
            "verification_uri": format!("{}/login/device", github.uri()), "expires_in": 900, "interval": 1
        })))
        .mount(&github)
        .await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(UserAuthorisesLater(AtomicUsize::new(0)))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/user/installations"))
        .and(header("authorization", "Bearer ghu_user"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "total_count": 0, "installations": [] })),
        )
        .mount(&github)
        .await;

    // The app's client id and secret (the secret is only needed to renew the user token later).
    let creds = ClientCredentials::new("Iv23abc", "app-client-secret");
    let sign_in = SignIn::builder(&creds.client_id)
        .web_url(github.uri())
        .user_agent("device-sign-in-example")
        .build()?;
    let code = sign_in.request_device_code(Vec::<String>::new()).await?;
    println!(
        "Open {} and enter the code {}",
        code.verification_uri, code.user_code
    );
    let tokens = sign_in.poll_device(&code).await?;
    println!(
        "Signed in; the token expires at Unix time {:?}",
        tokens.expires_at
    );

    let client = AuthBuilder::user_token(tokens, creds)
        .base_url(format!("{}/api/v3", github.uri()))
        .web_url(github.uri())
        .user_agent("device-sign-in-example")
        .build()?;
    let installations = client
        .apps()
        .list_installations_for_authenticated_user(&Default::default())
        .await?;
    println!(
        "The user can reach {} installation(s) of this app",
        installations.body.total_count
    );
    Ok(())
}
