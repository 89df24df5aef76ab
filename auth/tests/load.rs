//! Under load nothing is lost: the default middleware against a mock GitHub on loopback that allows 3 requests in
//! flight, answers after a real latency (10, 50 and 200 ms) and refuses the rest with a secondary limit
//! (`retry-after: 1`). The tests count what the server saw (requests lost, sent inside an announced back-off,
//! created twice, writes too close together); times are the benchmark's business (`bench_load`).

#[path = "common/limited.rs"]
mod limited;

use github_auth::middleware::MiddlewareConfig;
use github_auth::{AuthBuilder, AuthError, SecretString};
use github_rest::types::IssuesCreateRequest;
use limited::{LimitedGithub, Limits};
use std::time::Duration;

fn limits(latency_ms: u64) -> Limits {
    Limits {
        max_in_flight: 3,
        latency: Duration::from_millis(latency_ms),
        retry_after_secs: 1,
        min_write_gap: Duration::from_millis(900),
    }
}

fn client(mock: &LimitedGithub) -> github_rest::Client {
    AuthBuilder::token(SecretString::from("ghp_load"))
        .base_url(mock.uri())
        .user_agent("load-test")
        .middleware(MiddlewareConfig::default())
        .build()
        .unwrap()
}

/// `n` concurrent GETs; returns how many failed.
async fn gets(client: &github_rest::Client, n: i64) -> usize {
    let calls = (0..n).map(|i| {
        let c = client.clone();
        tokio::spawn(async move { c.issues().get("o", "r", i).await })
    });
    let mut lost = 0;
    for r in futures::future::join_all(calls).await {
        if !matches!(r, Ok(Ok(_))) {
            lost += 1;
        }
    }
    lost
}

/// `n` concurrent issue creations with distinct titles; returns how many failed.
async fn posts(client: &github_rest::Client, n: usize) -> usize {
    let calls = (0..n).map(|i| {
        let c = client.clone();
        tokio::spawn(async move {
            let issue = IssuesCreateRequest::new(format!("task {i}"));
            c.issues().create("o", "r", &issue).await
        })
    });
    let mut lost = 0;
    for r in futures::future::join_all(calls).await {
        if !matches!(r, Ok(Ok(_))) {
            lost += 1;
        }
    }
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gets_at_10_50_200_ms_lose_nothing_and_respect_the_back_off() {
    // The three latencies run side by side, each against its own server and client.
    let runs = [10, 50, 200].map(|ms| async move {
        let mock = LimitedGithub::start(limits(ms)).await;
        let lost = gets(&client(&mock), 40).await;
        (ms, lost, mock.counts())
    });
    for (ms, lost, counts) in futures::future::join_all(runs).await {
        println!("{ms} ms: {counts:?}");
        assert_eq!(lost, 0, "{ms} ms: requests lost");
        assert_eq!(
            counts.sent_early, 0,
            "{ms} ms: sent inside an announced back-off"
        );
        assert_eq!(
            counts.accepted, 40,
            "{ms} ms: each request answered exactly once"
        );
        assert!(counts.peak_in_flight <= 3, "{ms} ms: {counts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_posts_at_10_50_200_ms_are_created_once_and_paced() {
    let runs = [10, 50, 200].map(|ms| async move {
        let mock = LimitedGithub::start(limits(ms)).await;
        let lost = posts(&client(&mock), 10).await;
        (ms, lost, mock.duplicates(), mock.counts())
    });
    for (ms, lost, duplicates, counts) in futures::future::join_all(runs).await {
        assert_eq!(lost, 0, "{ms} ms: requests lost");
        assert_eq!(duplicates, 0, "{ms} ms: issues created twice");
        assert_eq!(counts.created.len(), 10, "{ms} ms: every issue created");
        assert_eq!(counts.sent_early, 0, "{ms} ms: sent inside a back-off");
        assert_eq!(
            counts.writes_too_close, 0,
            "{ms} ms: writes closer than the pacing"
        );
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_and_frees_its_slot() {
    // Accepts connections and reads, never writes a byte.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let cap_one = github_auth::middleware::ConcurrencyConfig::default()
        .max_in_flight(Some(1))
        .adaptive(false);
    let client = AuthBuilder::token(SecretString::from("ghp_x"))
        .base_url(format!("http://{addr}"))
        .user_agent("timeout-test")
        .timeouts(github_rest::Timeouts::default().read(Some(Duration::from_millis(300))))
        .middleware(
            MiddlewareConfig::default()
                .cache(None)
                .retry(None)
                .concurrency(Some(cap_one)),
        )
        .build()
        .unwrap();
    // Two calls under a cap of one: the second can only be sent once the first's slot is freed by its time-out.
    let issues = client.issues();
    let (a, b) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(issues.get("o", "r", 1), issues.get("o", "r", 2))
    })
    .await
    .expect("the time-outs free the slots");
    for r in [a, b] {
        match r.unwrap_err() {
            github_rest::Error::Http(e) => assert!(e.is_timeout(), "{e}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_empty_user_agent_is_refused_when_the_client_is_built() {
    let err = AuthBuilder::token(SecretString::from("ghp_x"))
        .user_agent("")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, AuthError::Config(m) if m.contains("User-Agent")),
        "{err}"
    );
    let err = github_rest::Client::builder()
        .user_agent(" ")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("User-Agent"), "{err}");
}
