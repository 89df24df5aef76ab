//! One token exchange per refresh, however many callers wait: 50 and 1,000 concurrent callers of an installation
//! client with the default middleware, against a mock token exchange that answers after 50 ms.

mod common;

use common::*;
use github_auth::middleware::MiddlewareConfig;
use github_auth::{AuthError, ManualClock};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const LATENCY: Duration = Duration::from_millis(50);

/// The mint, after `latency`, optionally answering 500 to the first `fail_first` exchanges.
#[derive(Clone)]
struct SlowMint {
    mint: Mint,
    fail_first: usize,
    seen: Arc<AtomicUsize>,
}

impl Respond for SlowMint {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n = self.seen.fetch_add(1, Ordering::SeqCst);
        let r = if n < self.fail_first {
            ResponseTemplate::new(500).set_body_string("<html>oops</html>")
        } else {
            self.mint.respond(req)
        };
        r.set_delay(LATENCY)
    }
}

async fn exchanges(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == EXCHANGE_PATH)
        .count()
}

/// `n` concurrent calls, each on its own task; the errors of those that failed.
async fn callers(client: &github_rest::Client, n: usize) -> Vec<github_rest::Error> {
    let tasks = (0..n).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { list_repos(&c).await })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter_map(|r| r.expect("no panic").err())
        .collect()
}

async fn setup(
    lifetime: i64,
    fail_first: usize,
) -> (MockServer, ManualClock, SlowMint, github_rest::Client) {
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mut mint = Mint::new(&clock);
    mint.lifetime = lifetime;
    let slow = SlowMint {
        mint,
        fail_first,
        seen: Arc::default(),
    };
    Mock::given(method("POST"))
        .and(path(EXCHANGE_PATH))
        .respond_with(slow.clone())
        .mount(&server)
        .await;
    mount_repos(&server).await;
    let client = installation_builder(&server, &clock)
        .middleware(MiddlewareConfig::default())
        .build()
        .unwrap();
    (server, clock, slow, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_living_less_than_the_margin_is_minted_once_per_refresh() {
    for n in [50, 1000] {
        // 200 s of life against the default 5-minute margin: the margin shrinks to half the lifetime.
        let (server, clock, mint, client) = setup(200, 0).await;
        let failed = callers(&client, n).await;
        assert!(failed.is_empty(), "{n} callers: {:?}", failed.first());
        assert_eq!(exchanges(&server).await, 1, "{n} callers");
        // Still fresh 90 s later: no exchange.
        clock.advance(Duration::from_secs(90));
        assert!(callers(&client, n).await.is_empty());
        assert_eq!(mint.mint.count(), 1, "{n} callers, 90 s later");
        // Past half its life: one refresh for all of them.
        clock.advance(Duration::from_secs(20));
        assert!(callers(&client, n).await.is_empty());
        assert_eq!(mint.mint.count(), 2, "{n} callers, 110 s later");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_exchange_reaches_every_caller_as_the_same_error() {
    for n in [50, 1000] {
        let server = MockServer::start().await;
        let clock = ManualClock::new(SystemTime::now());
        Mock::given(method("POST"))
            .and(path(EXCHANGE_PATH))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_json(
                        serde_json::json!({ "message": "A JSON web token could not be decoded" }),
                    )
                    .set_delay(LATENCY),
            )
            .mount(&server)
            .await;
        mount_repos(&server).await;
        let client = installation_builder(&server, &clock)
            .middleware(MiddlewareConfig::default())
            .build()
            .unwrap();
        let failed = callers(&client, n).await;
        assert_eq!(failed.len(), n, "every caller fails");
        for e in &failed {
            match AuthError::from_rest(e) {
                Some(AuthError::Exchange { source, .. }) => {
                    assert_eq!(source.status(), Some(http::StatusCode::UNAUTHORIZED))
                }
                other => panic!("{n} callers: {other:?} ({e})"),
            }
        }
        assert_eq!(
            exchanges(&server).await,
            1,
            "{n} callers: one refused exchange"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_on_the_exchange_is_retried_by_one_caller_while_the_others_wait() {
    for n in [50, 1000] {
        let (server, _clock, mint, client) = setup(3600, 1).await;
        let failed = callers(&client, n).await;
        assert!(failed.is_empty(), "{n} callers: {:?}", failed.first());
        assert_eq!(
            exchanges(&server).await,
            2,
            "{n} callers: the 500 and its retry"
        );
        assert_eq!(mint.mint.count(), 1, "{n} callers: one token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_sends_after_a_401_do_not_wait_for_the_slot_of_the_refusal() {
    // A cap of one request in flight: a re-send that waited for the refusal's own slot would never go out.
    let server = MockServer::start().await;
    let clock = ManualClock::new(SystemTime::now());
    let mint = Mint::new(&clock);
    mount_mint(&server, &mint).await;
    Mock::given(method("GET"))
        .and(path("/installation/repositories"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({ "message": "Bad credentials" })),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    accept_only(&server, "ghs_1").await;
    let cap_one = github_auth::middleware::ConcurrencyConfig::default()
        .max_in_flight(Some(1))
        .adaptive(false);
    let client = installation_builder(&server, &clock)
        .middleware(MiddlewareConfig::default().concurrency(Some(cap_one)))
        .build()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), list_repos(&client))
        .await
        .expect("the re-sends went out")
        .unwrap();
    assert_eq!(mint.count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_gives_up_mid_refresh_does_not_strand_the_refresh() {
    let (server, _clock, mint, client) = setup(3600, 0).await;
    // Gives up long before the 50 ms exchange answers.
    let gave_up = tokio::time::timeout(Duration::from_millis(5), list_repos(&client)).await;
    assert!(gave_up.is_err());
    // The refresh went on without it: the next caller gets its token, and nothing was minted twice.
    list_repos(&client).await.unwrap();
    assert_eq!(mint.mint.count(), 1);
    assert_eq!(exchanges(&server).await, 1);
}
