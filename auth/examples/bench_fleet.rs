//! Benchmark: 1, 4 and 8 worker processes × 50 concurrent calls of one GitHub App installation, against the mock
//! GitHub of `tests/common/limited.rs` (3 requests in flight, 50 ms, `retry-after: 1`, installation tokens living
//! 4 s), each worker with the in-memory default and then with the Redis stores of the `redis` feature (one
//! `redis-server` this benchmark starts on loopback). Prints what the server saw and the wall time; then the
//! per-request cost of the Redis stores on loopback (sequential calls without any limit, memory against Redis).
//!
//! `cargo run --release -p github-auth --features redis --example bench_fleet`

#[path = "../tests/common/fleet.rs"]
mod fleet;
#[path = "../tests/common/limited.rs"]
mod limited;

use fleet::{RedisServer, WorkerSpec, WORKER_FLAG};
use github_auth::fleet::{FleetConfig, RedisFleet, TokenKey};
use github_auth::middleware::MiddlewareConfig;
use github_auth::{AuthBuilder, MemoryStore, SecretString};
use limited::{LimitedGithub, Limits};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOKEN_LIFE: Duration = Duration::from_secs(4);
const CALLS: usize = 50;

fn limits() -> Limits {
    Limits {
        max_in_flight: 3,
        latency: Duration::from_millis(50),
        retry_after_secs: 1,
        min_write_gap: Duration::from_millis(900),
    }
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == WORKER_FLAG) {
        return fleet::worker_main();
    }
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
    match rt.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let redis = RedisServer::start()?;
    println!(
        "mock: 3 requests in flight, 50 ms latency, retry-after: 1, installation tokens living {} s; {CALLS} concurrent calls per worker",
        TOKEN_LIFE.as_secs()
    );
    println!(
        "| workers | stores | calls | lost | exchanges | 403s | sent inside a back-off | 401s | time | floor |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    // FLEET_BENCH_WORKERS=4 (say) runs one size only; FLEET_BENCH_STORES=redis one kind of store only.
    let sizes: Vec<usize> = match std::env::var("FLEET_BENCH_WORKERS") {
        Ok(v) => v.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) => vec![1, 4, 8],
    };
    let only = std::env::var("FLEET_BENCH_STORES").unwrap_or_default();
    for n in sizes {
        for (label, url) in [("in-memory", None), ("Redis", Some(redis.url()))] {
            if !only.is_empty() && !label.eq_ignore_ascii_case(&only) {
                continue;
            }
            fleet_run(n, label, url, &format!("bench{n}{label}")).await?;
        }
    }
    per_request_cost(&redis).await
}

async fn fleet_run(
    n: usize,
    label: &str,
    redis: Option<String>,
    prefix: &str,
) -> Result<(), String> {
    let mock = LimitedGithub::start_with_tokens(limits(), TOKEN_LIFE).await;
    let specs: Vec<WorkerSpec> = (0..n)
        .map(|_| WorkerSpec {
            mock: mock.uri(),
            redis: redis.clone(),
            calls: CALLS,
            stagger: Duration::ZERO,
            prefix: prefix.to_string(),
        })
        .collect();
    let t = Instant::now();
    let reports = tokio::task::spawn_blocking(move || fleet::run_workers(&specs))
        .await
        .map_err(|e| e.to_string())??;
    let took = t.elapsed().as_secs_f64();
    let c = mock.counts();
    let lost: usize = reports.iter().map(|(r, _)| r.lost).sum();
    let floor = (n * CALLS) as f64 * 0.050 / 3.0;
    println!(
        "| {n} | {label} | {} | {lost} | {} | {} | {} | {} | {took:.2} s | {floor:.2} s |",
        n * CALLS,
        c.exchanges.len(),
        c.refused,
        c.sent_early,
        c.bad_token,
    );
    // Anything a worker warned about, and its log when it took far longer than the others.
    let fastest = reports.iter().map(|(r, _)| r.millis).min().unwrap_or(0);
    for (i, (r, log)) in reports.iter().enumerate() {
        for l in log.lines().filter(|l| l.contains("WARN")) {
            println!("    worker {i}: {l}");
        }
        if std::env::var_os("FLEET_LOG").is_some() && r.millis > 2 * fastest + 2000 {
            println!("    worker {i}: {r:?}");
            println!("    worker {i} took {} ms:\n{log}", r.millis);
        }
    }
    Ok(())
}

/// Sequential calls without any limit (no latency, no cap reached): the time per call with the in-memory stores
/// and with the Redis stores, and the Redis commands each call costs.
async fn per_request_cost(redis: &RedisServer) -> Result<(), String> {
    const N: usize = 2000;
    let open = Limits {
        max_in_flight: 1_000_000,
        latency: Duration::ZERO,
        retry_after_secs: 1,
        min_write_gap: Duration::ZERO,
    };
    let mock = LimitedGithub::start_with_tokens(open, Duration::from_secs(3600)).await;
    let fleet = RedisFleet::connect(
        FleetConfig::new(redis.url(), TokenKey::from_bytes(fleet::TEST_KEY)).prefix("cost"),
    )
    .await
    .map_err(|e| e.to_string())?;
    let base = || {
        AuthBuilder::installation(
            fleet::APP_ID,
            SecretString::from(include_str!("../tests/data/app-key-pkcs1.pem")),
            fleet::INSTALLATION,
        )
        .base_url(mock.uri())
        .user_agent("bench-fleet")
    };
    let memory = base()
        .token_store(Arc::new(MemoryStore::new()))
        .middleware(MiddlewareConfig::default())
        .build()
        .map_err(|e| e.to_string())?;
    let shared = base()
        .token_store(fleet.token_store())
        .middleware(fleet.middleware(MiddlewareConfig::default()))
        .build()
        .map_err(|e| e.to_string())?;
    let mut conn = redis::Client::open(redis.url())
        .map_err(|e| e.to_string())?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    println!("\nper-request cost on loopback ({N} sequential GETs each, after 100 to warm up):");
    for (label, client) in [("in-memory", &memory), ("Redis", &shared)] {
        for i in 0..100 {
            client
                .issues()
                .get("o", "r", i)
                .await
                .map_err(|e| e.to_string())?;
        }
        let before = (commands(&mut conn).await?, fleet.round_trips());
        let t = Instant::now();
        for i in 0..N {
            client
                .issues()
                .get("o", "r", i as i64)
                .await
                .map_err(|e| e.to_string())?;
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / N as f64;
        // Commands run inside scripts count too; the INFO call itself counts as one.
        let cmds = (commands(&mut conn).await? - before.0).saturating_sub(1) as f64 / N as f64;
        let trips = (fleet.round_trips() - before.1) as f64 / N as f64;
        println!(
            "  {label:<9}: {per:7.1} µs per call, {trips:.1} Redis round trips per call ({cmds:.1} commands, script bodies included)"
        );
    }
    Ok(())
}

/// Commands Redis has processed so far (`INFO stats`).
async fn commands(conn: &mut redis::aio::MultiplexedConnection) -> Result<u64, String> {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query_async(conn)
        .await
        .map_err(|e| e.to_string())?;
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no total_commands_processed in INFO".to_string())
}
