//! Benchmark: many requests through the middleware against a loopback mock that enforces a secondary rate limit
//! (at most `PER_WINDOW` requests per one-second window, 403 otherwise). Prints requests lost and the total time
//! against the minimum the limit allows.
//!
//! `cargo run --release -p github-auth --example bench_secondary`

use github_auth::middleware::{MiddlewareConfig, RateLimitConfig, RetryConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const REQUESTS: usize = 60;
const PER_WINDOW: usize = 10;
const WINDOW: Duration = Duration::from_secs(1);
const SECONDARY: &str = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;

/// Fixed windows from server start; over the budget the answer is a 403, with `retry-after` (whole seconds to the
/// end of the window) when `hint` is set.
struct Limiter {
    start: Instant,
    state: Mutex<(u64, usize)>,
    hint: bool,
    accepted: AtomicUsize,
    rejected: AtomicUsize,
}

impl Respond for Limiter {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let elapsed = self.start.elapsed();
        let window = (elapsed.as_nanos() / WINDOW.as_nanos()) as u64;
        let mut s = self.state.lock().unwrap();
        if s.0 != window {
            *s = (window, 0);
        }
        if s.1 < PER_WINDOW {
            s.1 += 1;
            self.accepted.fetch_add(1, Ordering::SeqCst);
            return ResponseTemplate::new(200).set_body_string("{}");
        }
        self.rejected.fetch_add(1, Ordering::SeqCst);
        let r = ResponseTemplate::new(403).set_body_string(SECONDARY);
        if self.hint {
            let end = WINDOW * (window as u32 + 1);
            let left = (end - elapsed).as_secs_f64().ceil().max(1.0) as u64;
            r.insert_header("retry-after", left.to_string().as_str())
        } else {
            r
        }
    }
}

async fn run(hint: bool) {
    let server = MockServer::start().await;
    let limiter = Arc::new(Limiter {
        start: Instant::now(),
        state: Mutex::new((0, 0)),
        hint,
        accepted: AtomicUsize::new(0),
        rejected: AtomicUsize::new(0),
    });
    Mock::given(any())
        .respond_with(ArcResp(limiter.clone()))
        .mount(&server)
        .await;

    // Without retry-after GitHub asks for at least a minute; the mock's window is a second, so the minimum is
    // scaled down with it. Everything else is the default (4 sends per call at most).
    let rl = RateLimitConfig {
        secondary_min_wait: WINDOW,
        secondary_max_wait: 4 * WINDOW,
        ..RateLimitConfig::default()
    };
    let config = MiddlewareConfig::default()
        .cache(None)
        .rate_limit(Some(rl))
        .retry(Some(RetryConfig::default()));
    let http = config
        .install(reqwest_middleware::ClientBuilder::new(
            reqwest::Client::new(),
        ))
        .build();

    let t = Instant::now();
    let calls = (0..REQUESTS).map(|i| {
        let (http, url) = (
            http.clone(),
            format!("{}/repos/o/r/issues/{i}", server.uri()),
        );
        async move {
            match http.get(url).send().await {
                Ok(r) if r.status() == 200 => true,
                Ok(_) | Err(_) => false,
            }
        }
    });
    let ok = futures::future::join_all(calls)
        .await
        .into_iter()
        .filter(|x| *x)
        .count();
    let took = t.elapsed();
    let minimum = WINDOW * (REQUESTS.div_ceil(PER_WINDOW) as u32 - 1);
    println!(
        "{:<22} requests {REQUESTS}, succeeded {ok}, lost {}, 403s served {}, total {:.2} s, minimum {:.2} s, ratio {:.2}",
        if hint { "with retry-after:" } else { "without retry-after:" },
        REQUESTS - ok,
        limiter.rejected.load(Ordering::SeqCst),
        took.as_secs_f64(),
        minimum.as_secs_f64(),
        took.as_secs_f64() / minimum.as_secs_f64(),
    );
}

/// Lets the limiter be inspected after the mock owns it.
struct ArcResp(Arc<Limiter>);

impl Respond for ArcResp {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        self.0.respond(r)
    }
}

#[tokio::main]
async fn main() {
    println!("secondary limit: {PER_WINDOW} requests per {WINDOW:?}; concurrency cap 10 (default)");
    run(true).await;
    run(false).await;
}
