//! The middleware layers against a wiremock server on 127.0.0.1, with tokio's clock paused so waits of minutes
//! take no real time.

use github_auth::middleware::{
    CacheConfig, ConcurrencyConfig, MemoryCacheStore, MiddlewareConfig, PrimaryPolicy,
    RateLimitConfig, RateLimitEvent, RetryConfig, SecondaryCause,
};
use github_rest::RateLimitError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use wiremock::matchers::{any, header, header_exists, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[path = "common/mw.rs"]
mod mw;
use mw::{client, config, seq};

const SECONDARY: &str = r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string("{}")
}

fn events() -> (Arc<Mutex<Vec<RateLimitEvent>>>, RateLimitConfig) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        log,
        RateLimitConfig::default().hook(move |e| l.lock().unwrap().push(e.clone())),
    )
}

async fn hits(s: &MockServer) -> usize {
    s.received_requests().await.unwrap().len()
}

fn rate_limit_error(e: &reqwest_middleware::Error) -> &RateLimitError {
    match e {
        reqwest_middleware::Error::Middleware(a) => a
            .downcast_ref::<RateLimitError>()
            .expect("a RateLimitError"),
        other => panic!("expected a middleware error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn primary_exhausted_waits_until_reset_plus_one_second() {
    let server = MockServer::start().await;
    let reset = now_unix() + 30;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-used", "5000")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .insert_header("x-ratelimit-resource", "core"),
        )
        .mount(&server)
        .await;
    let (log, rl) = events();
    let c = client(&config().rate_limit(Some(rl)));
    c.get(format!("{}/repos/o/r", server.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(hits(&server).await, 1);
    let t = Instant::now();
    c.get(format!("{}/repos/o/r", server.uri()))
        .send()
        .await
        .unwrap();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(29) && waited <= Duration::from_secs(32),
        "{waited:?}"
    );
    assert_eq!(hits(&server).await, 2);
    let log = log.lock().unwrap();
    assert!(log
        .iter()
        .any(|e| matches!(e, RateLimitEvent::PrimaryWait { reset: r, .. } if *r == reset)));
    assert!(log.iter().any(
        |e| matches!(e, RateLimitEvent::Observed { state, resource, .. }
        if state.remaining == 0 && state.limit == Some(5000) && resource == "core")
    ));
}

#[tokio::test(start_paused = true)]
async fn primary_exhausted_fails_fast_with_typed_error_through_generated_client() {
    let server = MockServer::start().await;
    let reset = now_unix() + 600;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_string(r#"{"message":"API rate limit exceeded for installation ID 1."}"#),
        )
        .mount(&server)
        .await;
    let cfg = config().primary_policy(PrimaryPolicy::FailFast);
    let gh = github_rest::Client::builder()
        .base_url(server.uri())
        .http_client(client(&cfg))
        .build()
        .unwrap();
    for (expected_hits, status) in [(1, Some(403)), (1, None)] {
        let err = gh.apps().get_authenticated().await.unwrap_err();
        // Typed without downcasting: the variant, `status()` and `rate_limit()` all answer.
        assert!(matches!(err, github_rest::Error::RateLimit(_)), "{err:?}");
        assert_eq!(err.status().map(|s| s.as_u16()), status);
        match err.rate_limit() {
            Some(
                ref me @ RateLimitError::Primary {
                    reset_unix,
                    limit,
                    ref resource,
                    ..
                },
            ) => {
                assert_eq!(
                    (reset_unix, limit, resource.as_str()),
                    (reset, Some(5000), "core")
                );
                assert_eq!(me.reset(), Some(UNIX_EPOCH + Duration::from_secs(reset)));
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert_eq!(text.matches("exhausted").count(), 1, "{text}");
        // The second call is refused before it is sent: the state says the window is used up.
        assert_eq!(hits(&server).await, expected_hits);
    }
}

#[tokio::test(start_paused = true)]
async fn primary_wait_at_most_fails_fast_when_reset_is_far() {
    let server = MockServer::start().await;
    let reset = now_unix() + 3000;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    let c = client(&config().primary_policy(PrimaryPolicy::WaitAtMost(Duration::from_secs(60))));
    let t = Instant::now();
    let e = c.get(server.uri()).send().await.unwrap_err();
    assert!(
        matches!(rate_limit_error(&e), RateLimitError::Primary { reset_unix, status: Some(s), .. } if *reset_unix == reset && s.as_u16() == 429)
    );
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn secondary_retry_after_is_honoured_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(seq([
            ResponseTemplate::new(403)
                .insert_header("retry-after", "7")
                .set_body_string(SECONDARY),
            ResponseTemplate::new(201).set_body_string("{}"),
        ]))
        .mount(&server)
        .await;
    let (log, rl) = events();
    let c = client(&config().rate_limit(Some(rl)));
    let t = Instant::now();
    let r = c
        .post(format!("{}/repos/o/r/issues", server.uri()))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_millis(7500),
        "{waited:?}"
    );
    assert_eq!(hits(&server).await, 2);
    let log = log.lock().unwrap();
    assert!(log.iter().any(|e| matches!(e, RateLimitEvent::SecondaryWait { attempt: 1, cause: SecondaryCause::RetryAfter, wait } if *wait == Duration::from_secs(7))));
}

#[tokio::test(start_paused = true)]
async fn secondary_without_retry_after_waits_a_minute_doubling_then_gives_up() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403).set_body_string(SECONDARY))
        .mount(&server)
        .await;
    let (log, mut rl) = events();
    rl.max_attempts = 3;
    let c = client(&config().rate_limit(Some(rl)));
    let t = Instant::now();
    let e = c
        .get(format!("{}/user", server.uri()))
        .send()
        .await
        .unwrap_err();
    let waited = t.elapsed();
    match rate_limit_error(&e) {
        RateLimitError::Secondary {
            attempts,
            retry_after,
            message,
            ..
        } => {
            assert_eq!((*attempts, *retry_after), (3, None));
            assert!(message.as_deref().unwrap().contains("secondary rate limit"));
        }
        other => panic!("{other:?}"),
    }
    // 60 s, then 120 s.
    assert!(
        waited >= Duration::from_secs(180) && waited < Duration::from_secs(181),
        "{waited:?}"
    );
    assert_eq!(hits(&server).await, 3);
    let waits: Vec<_> = log
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            RateLimitEvent::SecondaryWait {
                wait,
                cause: SecondaryCause::Message,
                ..
            } => Some(wait.as_secs()),
            _ => None,
        })
        .collect();
    assert_eq!(waits, [60, 120]);
}

#[tokio::test(start_paused = true)]
async fn secondary_minimum_wait_is_configurable_and_backoff_is_shared() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([
            ResponseTemplate::new(429).set_body_string(SECONDARY),
            ok(),
        ]))
        .mount(&server)
        .await;
    // The second call starts once the first has met the limit (the hook saw its back-off), not after a fixed
    // sleep: with the clock paused, a sleep could end before the mock's real-socket answer arrives.
    let backing_off = Arc::new(tokio::sync::Notify::new());
    let signal = backing_off.clone();
    let rl = RateLimitConfig {
        secondary_min_wait: Duration::from_secs(5),
        ..RateLimitConfig::default()
    }
    .hook(move |e| {
        if matches!(e, RateLimitEvent::SecondaryWait { .. }) {
            signal.notify_one();
        }
    });
    let c = client(&config().rate_limit(Some(rl)));
    let t = Instant::now();
    let (a, b) = tokio::join!(c.get(format!("{}/a", server.uri())).send(), async {
        // Starts while the first call is backing off: it must wait for the same deadline.
        backing_off.notified().await;
        let r = c.get(format!("{}/b", server.uri())).send().await;
        (r, t.elapsed())
    });
    assert_eq!(a.unwrap().status(), 200);
    let (b, b_done) = b;
    assert_eq!(b.unwrap().status(), 200);
    assert!(b_done >= Duration::from_secs(5), "{b_done:?}");
    assert_eq!(hits(&server).await, 3);
}

#[tokio::test(start_paused = true)]
async fn secondary_with_remaining_zero_waits_for_reset() {
    let server = MockServer::start().await;
    let reset = now_unix() + 20;
    Mock::given(any())
        .respond_with(seq([
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_string(SECONDARY),
            ok(),
        ]))
        .mount(&server)
        .await;
    let c = client(&config());
    let t = Instant::now();
    assert_eq!(c.get(server.uri()).send().await.unwrap().status(), 200);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(19) && waited <= Duration::from_secs(22),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn other_client_errors_pass_through_untouched() {
    let server = MockServer::start().await;
    let bodies = [
        (
            403,
            r#"{"message":"Resource not accessible by integration"}"#,
        ),
        (400, "{}"),
        (401, r#"{"message":"Bad credentials"}"#),
        (404, r#"{"message":"Not Found"}"#),
        (410, "{}"),
        (422, r#"{"message":"Validation Failed"}"#),
        (451, "{}"),
    ];
    for (status, body) in bodies {
        server.reset().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
        let c = client(&config());
        let r = c.get(server.uri()).send().await.unwrap();
        assert_eq!(r.status(), status);
        assert_eq!(
            r.text().await.unwrap(),
            body,
            "the body survives the layers that read it"
        );
        assert_eq!(hits(&server).await, 1, "{status} is not retried");
    }
}

#[tokio::test(start_paused = true)]
async fn write_requests_are_paced_one_second_apart() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(ok()).mount(&server).await;
    let c = client(&config());
    let t = Instant::now();
    let sends = (0..4).map(|i| c.post(format!("{}/w/{i}", server.uri())).body("{}").send());
    for r in futures::future::join_all(sends).await {
        r.unwrap();
    }
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(3500),
        "{waited:?}"
    );
    // Reads are not paced.
    let t = Instant::now();
    futures::future::join_all((0..4).map(|i| c.get(format!("{}/r/{i}", server.uri())).send()))
        .await;
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn concurrency_cap_holds_a_slot_until_the_body_is_gone() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(ok()).mount(&server).await;
    // Bodies are streamed to the caller (the retry layer would read them first, ending the request there).
    let c = client(
        &config()
            .retry(Some(RetryConfig {
                buffer_body: false,
                ..RetryConfig::default()
            }))
            .concurrency(Some(
                ConcurrencyConfig::default()
                    .max_in_flight(Some(3))
                    .write_interval(None),
            )),
    );
    let mut held = Vec::new();
    for i in 0..3 {
        held.push(c.get(format!("{}/{i}", server.uri())).send().await.unwrap());
    }
    // Three responses whose bodies are unread occupy every slot: a fourth request is not even sent.
    let fourth = tokio::time::timeout(
        Duration::from_secs(10),
        c.get(format!("{}/3", server.uri())).send(),
    )
    .await;
    assert!(fourth.is_err(), "the fourth request went out past the cap");
    assert_eq!(hits(&server).await, 3);
    // Reading one body to the end frees its slot.
    let first = held.remove(0);
    assert_eq!(first.text().await.unwrap(), "{}");
    let fourth = c.get(format!("{}/3", server.uri())).send().await.unwrap();
    assert_eq!(fourth.status(), 200);
    assert_eq!(hits(&server).await, 4);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([
            ResponseTemplate::new(502),
            ResponseTemplate::new(503),
            ok(),
        ]))
        .mount(&server)
        .await;
    let c = client(&config());
    let r = c.get(server.uri()).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(hits(&server).await, 3);
}

#[tokio::test(start_paused = true)]
async fn server_errors_retries_are_bounded_and_last_answer_is_returned() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let c = client(&config());
    let t = Instant::now();
    let r = c.get(server.uri()).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "<html>oops</html>");
    assert_eq!(hits(&server).await, 4, "the first attempt and 3 retries");
    // 100 + 200 + 400 ms without jitter.
    assert_eq!(t.elapsed().as_millis() / 10, 70);
}

/// A 5xx's `retry-after` sets the pause before the retry, whether or not the rate-limit layers (which read the
/// same headers) are on; a pause longer than `max_delay` gets the answer passed on.
#[tokio::test(start_paused = true)]
async fn a_server_error_s_retry_after_sets_the_pause_with_or_without_the_rate_limit_layers() {
    let retry = RetryConfig {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(30),
        jitter: false,
        ..RetryConfig::default()
    };
    for retries_alone in [true, false] {
        let c = if retries_alone {
            MiddlewareConfig::none().retry(Some(retry.clone()))
        } else {
            config().retry(Some(retry.clone()))
        };
        let c = client(&c);
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(seq([
                ResponseTemplate::new(503).insert_header("retry-after", "7"),
                ok(),
            ]))
            .mount(&server)
            .await;
        let t = Instant::now();
        let r = c.get(server.uri()).send().await.unwrap();
        assert_eq!(r.status(), 200, "alone: {retries_alone}");
        assert_eq!(hits(&server).await, 2);
        assert_eq!(t.elapsed().as_secs(), 7, "alone: {retries_alone}");

        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "120"))
            .mount(&server)
            .await;
        let t = Instant::now();
        let r = c.get(server.uri()).send().await.unwrap();
        assert_eq!(r.status(), 503, "alone: {retries_alone}");
        assert_eq!(
            hits(&server).await,
            1,
            "a pause over max_delay is not waited"
        );
        assert_eq!(t.elapsed().as_secs(), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn non_idempotent_requests_are_retried_only_when_asked() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([ResponseTemplate::new(502), ok()]))
        .mount(&server)
        .await;
    let c = client(&config());
    assert_eq!(
        c.post(server.uri())
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    assert_eq!(hits(&server).await, 1);

    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([ResponseTemplate::new(502), ok()]))
        .mount(&server)
        .await;
    let retry = RetryConfig {
        retry_non_idempotent: true,
        jitter: false,
        ..RetryConfig::default()
    };
    let c = client(&config().retry(Some(retry)));
    assert_eq!(
        c.patch(server.uri())
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(hits(&server).await, 2);
}

#[tokio::test(start_paused = true)]
async fn streamed_bodies_are_sent_once() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([ResponseTemplate::new(502), ok()]))
        .mount(&server)
        .await;
    let c = client(&config());
    let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"{}"))]);
    let r = c
        .put(server.uri())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(hits(&server).await, 1);
}

#[tokio::test(start_paused = true)]
async fn conditional_requests_answer_304_from_cache_per_identity() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(
            ResponseTemplate::new(304)
                .insert_header("etag", "\"v1\"")
                .insert_header("x-ratelimit-remaining", "4999"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .insert_header("last-modified", "Thu, 05 Jul 2012 15:31:30 GMT")
                .insert_header("x-ratelimit-remaining", "5000")
                .set_body_raw(r#"{"login":"octocat"}"#, "application/json"),
        )
        .mount(&server)
        .await;
    let store = Arc::new(MemoryCacheStore::new(10, 1 << 20));
    let c = client(&config().cache(Some(CacheConfig {
        store: store.clone(),
    })));
    let get = |token: &'static str| {
        c.get(format!("{}/user", server.uri()))
            .header("authorization", token)
            .header("accept", "application/json")
            .send()
    };
    let first = get("Bearer one").await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.text().await.unwrap(), r#"{"login":"octocat"}"#);

    let second = get("Bearer one").await.unwrap();
    assert_eq!(
        second.status(),
        200,
        "a 304 reaches the caller as the cached 200"
    );
    assert_eq!(second.headers()["content-type"], "application/json");
    assert_eq!(
        second.headers()["x-ratelimit-remaining"],
        "4999",
        "fresh headers from the 304 win"
    );
    assert_eq!(second.text().await.unwrap(), r#"{"login":"octocat"}"#);

    // Another credential does not see the first one's entry.
    get("Bearer two").await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    assert!(!reqs[0].headers.contains_key("if-none-match"));
    assert_eq!(reqs[1].headers["if-none-match"], "\"v1\"");
    assert_eq!(
        reqs[1].headers["if-modified-since"],
        "Thu, 05 Jul 2012 15:31:30 GMT"
    );
    assert!(!reqs[2].headers.contains_key("if-none-match"));
    assert_eq!(store.len(), 2);

    // The key holds a hash of the credential, never the credential.
    let dump = format!("{store:?}");
    assert!(!dump.contains("Bearer"));
    let id = github_auth::middleware::identity(
        &reqwest::Client::new()
            .get("http://x")
            .header("authorization", "Bearer one")
            .build()
            .unwrap(),
    );
    assert_eq!(id.len(), 32);
    assert!(!id.contains("one"));
}

#[tokio::test(start_paused = true)]
async fn conditional_cache_keys_on_accept() {
    let server = MockServer::start().await;
    Mock::given(header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ok().insert_header("etag", "\"e\""))
        .mount(&server)
        .await;
    let c = client(&config().cache(Some(CacheConfig::default())));
    let url = format!("{}/repos/o/r", server.uri());
    c.get(&url)
        .header("accept", "application/vnd.github+json")
        .send()
        .await
        .unwrap();
    c.get(&url)
        .header("accept", "application/vnd.github.raw+json")
        .send()
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs
        .iter()
        .all(|r| !r.headers.contains_key("if-none-match")));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_gives_up_still_announces_the_back_off() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(seq([
            ResponseTemplate::new(403).set_body_string(SECONDARY),
            ok(),
        ]))
        .mount(&server)
        .await;
    let rl = RateLimitConfig {
        max_attempts: 1,
        secondary_min_wait: Duration::from_secs(5),
        ..RateLimitConfig::default()
    };
    let c = client(&config().rate_limit(Some(rl)));
    let e = c
        .get(format!("{}/a", server.uri()))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(
        rate_limit_error(&e),
        RateLimitError::Secondary { attempts: 1, .. }
    ));
    // The next call of the same credential waits out the back-off the refusal announced.
    let t = Instant::now();
    assert_eq!(
        c.get(format!("{}/b", server.uri()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_secs(5), "{:?}", t.elapsed());
    // `/rate_limit` is never held back, not even inside a back-off.
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403).set_body_string(SECONDARY))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let _ = c.get(format!("{}/c", server.uri())).send().await;
    let t = Instant::now();
    c.get(format!("{}/rate_limit", server.uri()))
        .send()
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
}
