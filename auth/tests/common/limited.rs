//! A mock GitHub on 127.0.0.1 that enforces a secondary rate limit the way a front end would, with real latency:
//!
//! - at most `max_in_flight` requests are processed at once; one more is refused at once with a 403, GitHub's
//!   secondary-limit message and `retry-after`, which opens a window: every request arriving before it ends is
//!   refused too and counted as **sent early** (the client had been told to wait);
//! - content creation (POST) is limited too: a POST arriving less than `min_write_gap` after the previous accepted
//!   one is refused the same way (and counted in `writes_too_close`);
//! - accepted requests are answered after `latency`: `GET /repos/{o}/{r}/issues/{n}` with an issue, `POST
//!   /repos/{o}/{r}/issues` creates one (counted per title, so duplicates show).
//!
//! - started with [`LimitedGithub::start_with_tokens`], it also mints installation tokens
//!   (`POST /app/installations/{id}/access_tokens`, not limited, counted with the time of each) living a given
//!   time, and answers 401 to API requests whose bearer token is not one it minted or has expired.
//!
//! Shared by the load tests, the fleet tests and the `bench_load` and `bench_fleet` examples.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ISSUE: &str = include_str!("../../../tests/data/issue.json");
const SECONDARY: &str = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;

/// How the mock limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_in_flight: usize,
    pub latency: Duration,
    pub retry_after_secs: u64,
    pub min_write_gap: Duration,
}

/// What the mock saw.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Requests answered 2xx.
    pub accepted: usize,
    /// Requests refused with a secondary limit (all causes).
    pub refused: usize,
    /// Requests that arrived inside a `retry-after` window the mock had already announced.
    pub sent_early: usize,
    /// POSTs refused because they came too soon after the previous write.
    pub writes_too_close: usize,
    /// Issues created per title.
    pub created: HashMap<String, usize>,
    /// Most requests ever processed at once.
    pub peak_in_flight: usize,
    /// Installation tokens minted, with the time since the mock started of each.
    pub exchanges: Vec<Duration>,
    /// API requests refused with 401 because their token was unknown or expired.
    pub bad_token: usize,
}

#[derive(Default)]
struct Inner {
    in_flight: usize,
    window_until: Option<Instant>,
    last_write: Option<Instant>,
    counts: Counts,
}

struct Mock {
    limits: Limits,
    inner: Mutex<Inner>,
    /// Lifetime of minted tokens, when the mock mints them.
    token_lifetime: Option<Duration>,
    started: Instant,
    /// Minted tokens and when each expires.
    tokens: Mutex<HashMap<String, Instant>>,
}

/// A running mock.
pub struct LimitedGithub {
    pub addr: SocketAddr,
    mock: Arc<Mock>,
}

impl LimitedGithub {
    pub async fn start(limits: Limits) -> Self {
        Self::start_inner(limits, None).await
    }

    /// A mock that also mints installation tokens living `lifetime` and checks them.
    pub async fn start_with_tokens(limits: Limits, lifetime: Duration) -> Self {
        Self::start_inner(limits, Some(lifetime)).await
    }

    async fn start_inner(limits: Limits, token_lifetime: Option<Duration>) -> Self {
        let mock = Arc::new(Mock {
            limits,
            inner: Mutex::default(),
            token_lifetime,
            started: Instant::now(),
            tokens: Mutex::default(),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(mock.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        LimitedGithub { addr, mock }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn counts(&self) -> Counts {
        self.mock.inner.lock().unwrap().counts.clone()
    }

    /// Titles created more than once.
    pub fn duplicates(&self) -> usize {
        self.counts().created.values().filter(|n| **n > 1).count()
    }
}

fn refuse(left: Duration) -> Response {
    let secs = left.as_secs_f64().ceil().max(1.0) as u64;
    (
        StatusCode::FORBIDDEN,
        [
            ("retry-after", secs.to_string()),
            ("content-type", "application/json".to_string()),
        ],
        SECONDARY,
    )
        .into_response()
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a time (Howard Hinnant's civil-from-days).
fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
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

/// Mints a token living `lifetime` (its `expires_at` is whole seconds, rounded down like GitHub's).
fn mint(mock: &Mock, lifetime: Duration) -> Response {
    let now = Instant::now();
    let expires = std::time::SystemTime::now() + lifetime;
    let whole = std::time::UNIX_EPOCH
        + Duration::from_secs(
            expires
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
    let left = whole
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    let n = {
        let mut i = mock.inner.lock().unwrap();
        i.counts.exchanges.push(now - mock.started);
        i.counts.exchanges.len()
    };
    let token = format!("ghs_fleet{n}");
    mock.tokens
        .lock()
        .unwrap()
        .insert(token.clone(), now + left);
    let body = serde_json::json!({
        "token": token,
        "expires_at": rfc3339(whole),
        "permissions": {"issues": "read"},
        "repository_selection": "all",
    });
    (
        StatusCode::CREATED,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    State(mock): State<Arc<Mock>>,
    method: Method,
    uri: Uri,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let limits = mock.limits;
    if let Some(lifetime) = mock.token_lifetime {
        if method == Method::POST && uri.path().ends_with("/access_tokens") {
            return mint(&mock, lifetime);
        }
        let token = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let live = mock
            .tokens
            .lock()
            .unwrap()
            .get(token)
            .is_some_and(|until| Instant::now() < *until);
        if !live {
            mock.inner.lock().unwrap().counts.bad_token += 1;
            return (
                StatusCode::UNAUTHORIZED,
                [("content-type", "application/json")],
                r#"{"message":"Bad credentials"}"#,
            )
                .into_response();
        }
    }
    let write = method == Method::POST;
    {
        let now = Instant::now();
        let mut i = mock.inner.lock().unwrap();
        if let Some(until) = i.window_until.filter(|u| now < *u) {
            i.counts.sent_early += 1;
            i.counts.refused += 1;
            return refuse(until - now);
        }
        let too_close = write && i.last_write.is_some_and(|t| now - t < limits.min_write_gap);
        if i.in_flight >= limits.max_in_flight || too_close {
            i.counts.refused += 1;
            if too_close {
                i.counts.writes_too_close += 1;
            }
            let window = Duration::from_secs(limits.retry_after_secs);
            i.window_until = Some(now + window);
            return refuse(window);
        }
        if write {
            i.last_write = Some(now);
        }
        i.in_flight += 1;
        i.counts.peak_in_flight = i.counts.peak_in_flight.max(i.in_flight);
    }
    tokio::time::sleep(limits.latency).await;
    let mut i = mock.inner.lock().unwrap();
    i.in_flight -= 1;
    i.counts.accepted += 1;
    if write {
        let title = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("title").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_default();
        *i.counts.created.entry(title).or_default() += 1;
        return (
            StatusCode::CREATED,
            [("content-type", "application/json")],
            ISSUE,
        )
            .into_response();
    }
    let _ = uri;
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        ISSUE,
    )
        .into_response()
}
