//! Worker processes sharing one Redis (feature `redis`), against a real `redis-server` this test starts on a random
//! loopback port, and the mock GitHub of `common/limited.rs` (3 requests in flight, 50 ms, `retry-after: 1`,
//! installation tokens living 4 s). The workers are real processes: this executable run again with
//! `--fleet-worker`, each with its own client. A missing redis-server fails the run with the command to install
//! it; nothing is skipped.
//!
//! Its own harness (`harness = false`), because it is both the test and the workers it starts.

#[path = "common/fleet.rs"]
mod fleet;
#[path = "common/limited.rs"]
mod limited;

use fleet::{RedisServer, WorkerReport, WorkerSpec, TEST_KEY, WORKER_FLAG};
use github_auth::fleet::{FleetConfig, RedisFleet, TokenKey};
use github_auth::middleware::ResourceState;
use github_auth::{CacheKey, SecretString, StoredToken};
use limited::{Counts, LimitedGithub, Limits};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const TOKEN_LIFE: Duration = Duration::from_secs(4);

fn limits() -> Limits {
    Limits {
        max_in_flight: 3,
        latency: Duration::from_millis(50),
        retry_after_secs: 1,
        min_write_gap: Duration::from_millis(900),
    }
}

type Outcome = Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == WORKER_FLAG) {
        return fleet::worker_main();
    }
    let mut redis = match RedisServer::start() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let url = redis.url();
    let results: Vec<(&str, Outcome)> = vec![
        (
            "stores_share_state_through_redis",
            rt.block_on(stores_share_state_through_redis(&url)),
        ),
        (
            "four_workers_share_one_token_one_budget_one_back_off",
            rt.block_on(four_workers(&url)),
        ),
        (
            "redis_stopped_mid_run_workers_fall_back_and_rejoin",
            rt.block_on(redis_stopped_mid_run(&mut redis)),
        ),
    ];
    let mut failed = 0;
    for (name, r) in &results {
        match r {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                failed += 1;
                println!("test {name} ... FAILED\n  {e}");
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn connect(url: &str, prefix: &str) -> Result<RedisFleet, String> {
    RedisFleet::connect(
        FleetConfig::new(url, TokenKey::from_bytes(TEST_KEY))
            .prefix(prefix)
            .lease(Duration::from_millis(400)),
    )
    .await
    .map_err(|e| e.to_string())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn raw(url: &str) -> Result<redis::aio::MultiplexedConnection, String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())
}

/// Two fleets on one Redis stand for two processes: what one stores, the other sees.
async fn stores_share_state_through_redis(url: &str) -> Outcome {
    let (a, b) = (connect(url, "unit").await?, connect(url, "unit").await?);
    check!(
        a.is_connected() && b.is_connected(),
        "not connected to {url}"
    );
    let mut conn = raw(url).await?;

    // Tokens: shared, encrypted at rest, expiring with expires_at.
    let key = CacheKey::new("http://api", "4242", 77, "");
    let token = StoredToken {
        token: SecretString::from("ghs_unit_secret"),
        expires_at: unix_now() + 60,
        minted_at: unix_now(),
    };
    a.token_store()
        .put(&key, &token)
        .await
        .map_err(|e| e.to_string())?;
    let seen = b.token_store().get(&key).await.map_err(|e| e.to_string())?;
    check!(
        seen.as_ref().is_some_and(|t| t.same_token(&token)),
        "the other worker does not see the token"
    );
    let redis_key = format!("unit:token:{}", key.as_str());
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&redis_key)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    check!(
        !stored.windows(15).any(|w| w == b"ghs_unit_secret"),
        "the token is readable in Redis"
    );
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&redis_key)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    check!(
        (55_000..=60_000).contains(&pttl),
        "the token entry should expire at expires_at (60 s), PTTL is {pttl} ms"
    );
    // A worker with another key cannot read it.
    let stranger =
        RedisFleet::connect(FleetConfig::new(url, TokenKey::from_bytes([9; 32])).prefix("unit"))
            .await
            .map_err(|e| e.to_string())?;
    check!(
        stranger
            .token_store()
            .get(&key)
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "a worker with another key read the token"
    );
    // Compare-and-delete: a stale token does not remove the fresh one.
    let stale = StoredToken {
        token: SecretString::from("ghs_old"),
        ..token.clone()
    };
    b.token_store()
        .invalidate(&key, &stale)
        .await
        .map_err(|e| e.to_string())?;
    check!(
        a.token_store()
            .get(&key)
            .await
            .map_err(|e| e.to_string())?
            .is_some(),
        "invalidating a stale token removed the fresh one"
    );
    b.token_store()
        .invalidate(&key, &token)
        .await
        .map_err(|e| e.to_string())?;
    check!(
        a.token_store()
            .get(&key)
            .await
            .map_err(|e| e.to_string())?
            .is_none(),
        "the rejected token is still there"
    );

    // The refresh lock excludes the other worker, times out, and lapses if its holder dies.
    let lease = a
        .token_store()
        .lock(&key, Duration::from_millis(300))
        .await
        .map_err(|e| e.to_string())?;
    match b.token_store().lock(&key, Duration::from_millis(100)).await {
        Err(e) if e.is_lock_timeout() => {}
        other => return Err(format!("second lock: {other:?}")),
    }
    std::mem::forget(lease); // the holder "dies"
    tokio::time::sleep(Duration::from_millis(350)).await;
    let lease = b
        .token_store()
        .lock(&key, Duration::from_millis(300))
        .await
        .map_err(|e| format!("the dead holder's lock did not lapse: {e}"))?;
    b.token_store()
        .unlock(&key, lease)
        .await
        .map_err(|e| e.to_string())?;
    a.token_store()
        .lock(&key, Duration::from_millis(100))
        .await
        .map_err(|e| format!("unlock did not release: {e}"))?;

    // Rate-limit state: merged across workers; the back-off only moves later.
    let state = |remaining, reset| ResourceState {
        limit: Some(5000),
        remaining,
        used: None,
        reset,
    };
    let reset = unix_now() as u64 + 600;
    let (ra, rb) = (a.rate_limit_store(), b.rate_limit_store());
    ra.observe("id1", "core", state(10, reset))
        .await
        .map_err(|e| e.to_string())?;
    rb.observe("id1", "core", state(20, reset))
        .await
        .map_err(|e| e.to_string())?;
    let got = ra
        .resource("id1", "core")
        .await
        .map_err(|e| e.to_string())?;
    check!(
        got == Some(state(10, reset)),
        "lower remaining of a window: {got:?}"
    );
    let until = (unix_now() as u64 + 5) * 1000;
    ra.extend_backoff("id1", until)
        .await
        .map_err(|e| e.to_string())?;
    rb.extend_backoff("id1", until - 3000)
        .await
        .map_err(|e| e.to_string())?;
    let got = rb.backoff_until("id1").await.map_err(|e| e.to_string())?;
    check!(got == Some(until), "back-off moved earlier: {got:?}");

    // The primary budget another worker used up is read from Redis before sending: nothing goes out.
    let mock = LimitedGithub::start(limits()).await;
    let client = github_auth::AuthBuilder::token(SecretString::from("ghp_budget"))
        .base_url(mock.uri())
        .user_agent("fleet-test")
        .middleware(
            connect(url, "unit").await?.middleware(
                github_auth::middleware::MiddlewareConfig::default()
                    .primary_policy(github_auth::middleware::PrimaryPolicy::FailFast),
            ),
        )
        .build()
        .map_err(|e| e.to_string())?;
    let mut probe = reqwest::Request::new(
        reqwest::Method::GET,
        reqwest::Url::parse(&mock.uri()).map_err(|e| e.to_string())?,
    );
    probe.headers_mut().insert(
        "authorization",
        reqwest::header::HeaderValue::from_static("Bearer ghp_budget"),
    );
    let ident = github_auth::middleware::identity(&probe);
    ra.observe(&ident, "core", state(0, unix_now() as u64 + 120))
        .await
        .map_err(|e| e.to_string())?;
    match client.issues().get("o", "r", 1).await {
        Err(e) if e.rate_limit().is_some() => {}
        other => return Err(format!("a used-up budget did not hold the call: {other:?}")),
    }
    let sent = mock.counts();
    check!(
        sent.accepted + sent.refused == 0,
        "sent despite a used-up budget: {sent:?}"
    );

    // The conditional-request cache.
    let entry = github_auth::middleware::CachedResponse {
        etag: Some("\"e\"".into()),
        last_modified: None,
        headers: [("etag", "\"e\"")].into_iter().collect(),
        body: bytes::Bytes::from_static(b"{}"),
    };
    a.cache_store()
        .put("GET /x", entry.clone().into())
        .await
        .map_err(|e| e.to_string())?;
    let got = b
        .cache_store()
        .get("GET /x")
        .await
        .map_err(|e| e.to_string())?;
    check!(
        got.as_deref() == Some(&entry),
        "cache entry not shared: {got:?}"
    );

    // The in-flight cap: counted over both workers; a dead worker's slot comes back when its lease runs out.
    let (fa, fb) = (a.in_flight(), b.in_flight());
    let fixed = Duration::ZERO; // not adaptive: the cap is the maximum
    let s1 = fa.acquire("cap", 2, fixed).await.ok_or("no shared slot")?;
    let s2 = fb.acquire("cap", 2, fixed).await.ok_or("no shared slot")?;
    check!(
        (s1.level, s2.level) == (1, 2),
        "levels {} {}",
        s1.level,
        s2.level
    );
    let third = tokio::time::timeout(Duration::from_millis(150), fa.acquire("cap", 2, fixed)).await;
    check!(third.is_err(), "a third slot was given under a cap of 2");
    drop(s1);
    let s3 = tokio::time::timeout(Duration::from_secs(2), fb.acquire("cap", 2, fixed))
        .await
        .map_err(|_| "a released slot did not come back")?
        .ok_or("no shared slot")?;
    // s2's worker dies: its slot is not released, and the process no longer renews its lease.
    std::mem::forget(s2);
    drop(b);
    drop(fb);
    let s4 = tokio::time::timeout(Duration::from_secs(3), fa.acquire("cap", 2, fixed))
        .await
        .map_err(|_| "a dead worker's slot never came back")?
        .ok_or("no shared slot")?;
    drop((s3, s4));
    Ok(())
}

fn worker_specs(
    mock: &LimitedGithub,
    redis: Option<&str>,
    n: usize,
    prefix: &str,
) -> Vec<WorkerSpec> {
    (0..n)
        .map(|_| WorkerSpec {
            mock: mock.uri(),
            redis: redis.map(str::to_string),
            calls: 50,
            stagger: Duration::ZERO,
            prefix: prefix.to_string(),
        })
        .collect()
}

/// Exchanges closer together than half a token's life: a second exchange for the same refresh.
fn redundant_exchanges(c: &Counts) -> usize {
    c.exchanges
        .windows(2)
        .filter(|w| w[1] - w[0] < TOKEN_LIFE / 4)
        .count()
}

fn summary(reports: &[(WorkerReport, String)], c: &Counts) -> String {
    let lost: usize = reports.iter().map(|(r, _)| r.lost).sum();
    format!(
        "lost {lost}, exchanges {} at {:?}, 403s {}, sent inside a back-off {}, 401s {}, peak in flight {}, worker ms {:?}, warnings {:?}, first error {:?}",
        c.exchanges.len(),
        c.exchanges,
        c.refused,
        c.sent_early,
        c.bad_token,
        c.peak_in_flight,
        reports.iter().map(|(r, _)| r.millis).collect::<Vec<_>>(),
        reports
            .iter()
            .flat_map(|(_, log)| log.lines().filter(|l| l.contains("WARN")))
            .collect::<Vec<_>>(),
        reports.iter().find_map(|(r, _)| r.first_error.clone()),
    )
}

/// 4 worker processes × 50 concurrent calls: one exchange per refresh, nothing lost, nothing sent inside a back-off,
/// and the in-flight cap held over all four.
async fn four_workers(url: &str) -> Outcome {
    let mock = LimitedGithub::start_with_tokens(limits(), TOKEN_LIFE).await;
    let specs = worker_specs(&mock, Some(url), 4, "four");
    let reports = tokio::task::spawn_blocking(move || fleet::run_workers(&specs))
        .await
        .map_err(|e| e.to_string())??;
    let c = mock.counts();
    let line = summary(&reports, &c);
    println!("4 workers x 50 calls, shared Redis: {line}");
    if std::env::var_os("FLEET_LOG").is_some() {
        println!("worker 0 log:\n{}", reports[0].1);
    }
    let lost: usize = reports.iter().map(|(r, _)| r.lost).sum();
    check!(lost == 0, "requests lost: {line}");
    check!(c.accepted == 200, "each call answered once: {line}");
    check!(c.sent_early == 0, "sent inside a back-off: {line}");
    check!(
        redundant_exchanges(&c) == 0 && !c.exchanges.is_empty(),
        "more than one exchange per refresh: {line}"
    );
    check!(c.bad_token == 0, "expired tokens sent: {line}");
    // Four separate caps would each grow to GitHub's limit and run into each other; one shared cap meets the
    // limit once and stays under it (a refusal each time the ceiling is tried one higher, every 10 s).
    check!(c.refused <= 4, "the in-flight cap was not shared: {line}");
    Ok(())
}

/// Redis is killed a second into the run and started again (empty) on the same port a second and a half later:
/// each worker warns once, keeps going on its own state, loses nothing, and rejoins.
async fn redis_stopped_mid_run(redis: &mut RedisServer) -> Outcome {
    let mock = LimitedGithub::start_with_tokens(limits(), TOKEN_LIFE).await;
    let mut specs = worker_specs(&mock, Some(&redis.url()), 4, "outage");
    for s in &mut specs {
        s.stagger = Duration::from_millis(80); // 50 calls over 4 s
    }
    let children = specs
        .iter()
        .map(fleet::spawn_worker)
        .collect::<Result<Vec<_>, _>>()?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.restart()?;
    let reports = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(fleet::finish_worker)
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| e.to_string())??;
    let c = mock.counts();
    let line = summary(&reports, &c);
    println!("4 workers x 50 calls, Redis down from 1.0 s to 2.5 s: {line}");
    if std::env::var_os("FLEET_LOG").is_some() {
        for (i, (_, log)) in reports.iter().enumerate() {
            for l in log
                .lines()
                .filter(|l| !l.contains("hyper") && !l.contains("reqwest"))
            {
                println!("worker {i}: {l}");
            }
        }
    }
    let lost: usize = reports.iter().map(|(r, _)| r.lost).sum();
    check!(lost == 0, "requests lost: {line}");
    for (i, (r, log)) in reports.iter().enumerate() {
        let warnings = log
            .lines()
            .filter(|l| l.contains("WARN") && l.contains("Redis unavailable"))
            .count();
        check!(
            warnings == 1 && r.outages == 1,
            "worker {i}: {warnings} warnings, {} outages (want one): {log}",
            r.outages
        );
        check!(r.rejoins == 1, "worker {i} did not rejoin: {r:?}\n{log}");
    }
    Ok(())
}
