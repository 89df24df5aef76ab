//! Helpers of the middleware tests: a responder that answers in turn, and a paused-clock-friendly client.
#![allow(dead_code)]

use github_auth::middleware::{MiddlewareConfig, RetryConfig};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;
use wiremock::{Request, Respond, ResponseTemplate};

/// Answers with the given responses in turn; the last one repeats.
pub struct Seq(Mutex<VecDeque<ResponseTemplate>>);

pub fn seq(r: impl IntoIterator<Item = ResponseTemplate>) -> Seq {
    Seq(Mutex::new(r.into_iter().collect()))
}

impl Respond for Seq {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let mut q = self.0.lock().unwrap();
        if q.len() > 1 {
            q.pop_front().unwrap()
        } else {
            q.front().unwrap().clone()
        }
    }
}

/// Fast, deterministic settings: no jitter, short retry backoff, no cache unless a test wants it.
pub fn config() -> MiddlewareConfig {
    MiddlewareConfig::default()
        .cache(None)
        .retry(Some(RetryConfig {
            base_delay: Duration::from_millis(100),
            jitter: false,
            ..RetryConfig::default()
        }))
}

pub fn client(c: &MiddlewareConfig) -> reqwest_middleware::ClientWithMiddleware {
    // No idle-pool timer: under a paused clock it would be the next timer the runtime jumps to.
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    c.install(reqwest_middleware::ClientBuilder::new(http))
        .build()
}
