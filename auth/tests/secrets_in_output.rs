//! Secrets never appear in Debug, Display or tracing output. Alone in its binary: it installs the global
//! tracing subscriber, which a test sharing the process with others could not rely on.

mod common;

use common::*;
use github_auth::{AuthBuilder, ClientCredentials, ExposeSecret, ManualClock, UserTokens};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

#[tokio::test]
async fn secrets_never_show_in_debug_display_or_tracing() {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buf.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let server = MockServer::start().await;
    let web = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    mount_repos(&server).await;
    Mock::given(method("POST"))
        .and(path("/login/oauth/access_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "access_token": "ghu_fresh", "expires_in": 28800, "refresh_token": "ghr_fresh" })))
        .mount(&web)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/5/access_tokens"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "nope"})))
        .mount(&server)
        .await;

    let builder = installation_builder(&server, &clock);
    let mut shown = format!("{builder:?}");
    let app = installation_builder(&server, &clock).build_app().unwrap();
    let client = app.installation_client(INSTALLATION, None).unwrap();
    list_repos(&client).await.unwrap();
    let tokens = app.installation_tokens(INSTALLATION, None);
    let token = tokens.token().await.unwrap();
    shown += &format!("{app:?} {client:?} {tokens:?} {token:?} {:?}", app.jwt());
    let err = app
        .installation_client(5, None)
        .unwrap()
        .apps()
        .list_repos_accessible_to_installation(&Default::default())
        .await
        .unwrap_err();
    shown += &format!("{err} {err:?}");

    let now = unix(SystemTime::now());
    let creds = ClientCredentials::new("Iv23abc", "client-s3cret");
    let user = UserTokens::expiring("ghu_stale", now - 5, "ghr_secret");
    shown += &format!("{creds:?} {user:?}");
    let user_client = AuthBuilder::user_token(user, creds.clone())
        .base_url(server.uri())
        .web_url(web.uri())
        .build()
        .unwrap();
    list_repos(&user_client).await.unwrap();
    let basic = AuthBuilder::oauth_app(creds)
        .base_url(server.uri())
        .build()
        .unwrap();
    shown += &format!("{basic:?}");

    let jwt = app.jwt().token().unwrap();
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("minted an installation access token"),
        "the flow was traced: {logs}"
    );
    let key_line = PKCS1.lines().nth(1).unwrap();
    let basic_value = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "Iv23abc:client-s3cret",
    );
    for secret in [
        "ghs_1",
        "ghu_stale",
        "ghu_fresh",
        "ghr_secret",
        "ghr_fresh",
        "client-s3cret",
        key_line,
        jwt.expose_secret(),
        &basic_value,
    ] {
        assert!(
            !shown.contains(secret),
            "{secret} in Debug/Display: {shown}"
        );
        assert!(!logs.contains(secret), "{secret} in the logs: {logs}");
    }
}
