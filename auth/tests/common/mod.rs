//! Helpers shared by the integration tests: a mock GitHub token exchange and API.
#![allow(dead_code)]

use github_auth::{AuthBuilder, ManualClock, MemoryStore, SecretString};
use github_rest::apps::AppsListReposAccessibleToInstallationQuery;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const PKCS1: &str = include_str!("../data/app-key-pkcs1.pem");
pub const PKCS8: &str = include_str!("../data/app-key-pkcs8.pem");
pub const PUBLIC: &str = include_str!("../data/app-key-public.pem");
pub const APP_ID: i64 = 4242;
pub const INSTALLATION: i64 = 77;
pub const EXCHANGE_PATH: &str = "/app/installations/77/access_tokens";

pub fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (Howard Hinnant's civil-from-days).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[derive(serde::Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    pub iss: serde_json::Value,
}

/// The token exchange of a mock GitHub: checks the app JWT against the public key and GitHub's rules, and mints
/// `ghs_1`, `ghs_2`, … valid for an hour of the mock's clock (which is also its `Date` header).
#[derive(Clone)]
pub struct Mint {
    pub minted: Arc<AtomicUsize>,
    pub clock: ManualClock,
    /// Server time minus the client's local time.
    pub skew: i64,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Seconds a minted token lives (GitHub: an hour).
    pub lifetime: i64,
}

impl Mint {
    pub fn new(clock: &ManualClock) -> Self {
        Mint {
            minted: Arc::default(),
            clock: clock.clone(),
            skew: 0,
            bodies: Arc::default(),
            lifetime: 3600,
        }
    }
    pub fn count(&self) -> usize {
        self.minted.load(Ordering::SeqCst)
    }
}

impl Respond for Mint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let server_now = unix(github_auth::Clock::now(&self.clock)) + self.skew;
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(server_now as u64));
        let unauthorized = |m: &str| {
            ResponseTemplate::new(401)
                .insert_header("date", date.as_str())
                .set_body_json(json!({ "message": m }))
        };
        let Some(jwt) = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return unauthorized("Requires authentication");
        };
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.validate_exp = false;
        v.required_spec_claims.clear();
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let Ok(data) = jsonwebtoken::decode::<Claims>(jwt, &key, &v) else {
            return unauthorized("A JSON web token could not be decoded");
        };
        let c = data.claims;
        if c.iss != json!(APP_ID)
            || c.exp > server_now + 600
            || c.iat > server_now
            || c.exp <= server_now
        {
            return unauthorized("'Expiration time' claim ('exp') is too far in the future");
        }
        if !req.body.is_empty() {
            self.bodies
                .lock()
                .unwrap()
                .push(serde_json::from_slice(&req.body).unwrap());
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(201)
            .insert_header("date", date.as_str())
            .set_body_json(json!({ "token": format!("ghs_{n}"), "expires_at": rfc3339(server_now + self.lifetime), "permissions": {"contents": "read"}, "repository_selection": "all" }))
    }
}

pub fn repos_page() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "total_count": 0, "repositories": [] }))
}

/// `GET /installation/repositories` answering 200 to exactly `Bearer <token>`, 401 to anything else.
pub async fn accept_only(server: &MockServer, token: &str) {
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(repos_page())
        .with_priority(1)
        .mount(server)
        .await;
}

pub async fn reject_rest(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({ "message": "Bad credentials" })),
        )
        .with_priority(10)
        .mount(server)
        .await;
}

pub fn installation_builder(server: &MockServer, clock: &ManualClock) -> AuthBuilder {
    AuthBuilder::installation(APP_ID, SecretString::from(PKCS1), INSTALLATION)
        .base_url(server.uri())
        .clock(Arc::new(clock.clone()))
        .token_store(Arc::new(MemoryStore::new()))
        .replication_lag_retry(Duration::from_secs(10), 3, Duration::from_millis(20))
}

pub fn auth_headers(reqs: &[Request], p: &str) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.url.path() == p)
        .map(|r| {
            r.headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        })
        .collect()
}

pub async fn list_repos(client: &github_rest::Client) -> Result<(), github_rest::Error> {
    client
        .apps()
        .list_repos_accessible_to_installation(
            &AppsListReposAccessibleToInstallationQuery::default(),
        )
        .await
        .map(|_| ())
}

/// Serves installation-token exchanges with `mint`.
pub async fn mount_mint(server: &MockServer, mint: &Mint) {
    Mock::given(method("POST"))
        .and(path(EXCHANGE_PATH))
        .respond_with(mint.clone())
        .mount(server)
        .await;
}

/// Serves `GET /installation/repositories` with one page of repositories.
pub async fn mount_repos(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(repos_page())
        .mount(server)
        .await;
}
