//! Benchmark: the default middleware under a secondary limit, against a mock GitHub on loopback that allows 3
//! requests in flight, answers after 50 ms and refuses the rest with `retry-after: 1` (see
//! `tests/common/limited.rs`). Prints what the server saw and the time against the floor the limit allows.
//!
//! `cargo run --release -p github-auth --example bench_load`

#[path = "../tests/common/limited.rs"]
mod limited;

use github_auth::middleware::{ConcurrencyConfig, MiddlewareConfig};
use github_auth::{AuthBuilder, SecretString};
use github_rest::types::IssuesCreateRequest;
use limited::{LimitedGithub, Limits};
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(50);
const ALLOWED: usize = 3;

fn limits() -> Limits {
    Limits {
        max_in_flight: ALLOWED,
        latency: LATENCY,
        retry_after_secs: 1,
        min_write_gap: Duration::from_millis(900),
    }
}

fn client(mock: &LimitedGithub, config: MiddlewareConfig) -> github_rest::Client {
    AuthBuilder::token(SecretString::from("ghp_bench"))
        .base_url(mock.uri())
        .user_agent("bench-load")
        .middleware(config)
        .build()
        .expect("client")
}

async fn gets(label: &str, n: usize, config: MiddlewareConfig) {
    let mock = LimitedGithub::start(limits()).await;
    let c = client(&mock, config);
    let t = Instant::now();
    let tasks = (0..n).map(|i| {
        let c = c.clone();
        tokio::spawn(async move { c.issues().get("o", "r", i as i64).await.is_ok() })
    });
    let ok = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    let took = t.elapsed().as_secs_f64();
    let floor = n as f64 * LATENCY.as_secs_f64() / ALLOWED as f64;
    let s = mock.counts();
    println!(
        "{label:<34} {n:>5} GETs: ok {ok:>5}, lost {:>3}, 403s {:>4}, sent early {:>3}, peak in flight {}, {took:>6.2} s, floor {floor:>6.2} s, ratio {:.2}",
        n - ok,
        s.refused,
        s.sent_early,
        s.peak_in_flight,
        took / floor
    );
}

async fn posts(n: usize) {
    let mock = LimitedGithub::start(limits()).await;
    let c = client(&mock, MiddlewareConfig::default());
    let t = Instant::now();
    let tasks = (0..n).map(|i| {
        let c = c.clone();
        tokio::spawn(async move {
            let issue = IssuesCreateRequest::new(format!("task {i}"));
            c.issues().create("o", "r", &issue).await.is_ok()
        })
    });
    let ok = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    let took = t.elapsed().as_secs_f64();
    let s = mock.counts();
    let created_once = s.created.values().filter(|v| **v == 1).count();
    println!(
        "{:<34} {n:>5} POSTs: ok {ok:>5}, lost {:>3}, created once {created_once}, duplicated {}, 403s {}, sent early {}, writes < 0.9 s apart {}, {took:.2} s ({:.2} s per write)",
        "default",
        n - ok,
        mock.duplicates(),
        s.refused,
        s.sent_early,
        s.writes_too_close,
        took / n as f64,
    );
}

#[tokio::main]
async fn main() {
    println!(
        "mock: {ALLOWED} requests in flight, {} ms latency, retry-after: 1, writes >= 0.9 s apart",
        LATENCY.as_millis()
    );
    for n in [40, 1000] {
        gets("default", n, MiddlewareConfig::default()).await;
    }
    // What the adaptive cap buys: the same stack with a fixed cap of 10.
    let fixed =
        MiddlewareConfig::default().concurrency(Some(ConcurrencyConfig::default().adaptive(false)));
    gets("fixed cap 10 (adaptive off)", 1000, fixed).await;
    posts(100).await;
}
