//! Worker processes sharing one Redis, for the fleet tests and the `bench_fleet` example:
//!
//! - [`RedisServer`]: a real `redis-server` on a random loopback port, started (and stopped, and restarted on the
//!   same port) by the test itself;
//! - [`spawn_worker`] re-runs the current executable with [`WORKER_FLAG`]: that process builds its own installation
//!   client (Redis stores, or the in-memory default) and makes concurrent calls against the mock GitHub of
//!   `limited.rs`, then prints a [`WorkerReport`] as one JSON line; [`worker_main`] is that process's body.
#![allow(dead_code)]

use github_auth::fleet::{FleetConfig, RedisFleet, TokenKey};
use github_auth::middleware::MiddlewareConfig;
use github_auth::{AuthBuilder, MemoryStore, SecretString};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The argument that makes a test or bench executable act as a worker.
pub const WORKER_FLAG: &str = "--fleet-worker";
/// What to run when redis-server is missing.
pub const INSTALL_HINT: &str =
    "redis-server was not found (PATH, REDIS_SERVER). Install it with `apt-get install -y redis-server` \
     (Debian/Ubuntu, as root), or run the tests with `cargo xtask test`, which installs it";

const PKCS1: &str = include_str!("../data/app-key-pkcs1.pem");
/// The key every worker of a test fleet encrypts tokens with.
pub const TEST_KEY: [u8; 32] = [42; 32];
pub const APP_ID: i64 = 4242;
pub const INSTALLATION: i64 = 77;

/// Where redis-server is: `$REDIS_SERVER`, or the first on `PATH`.
pub fn redis_server_path() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        return Ok(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/bin".into(),
            "/usr/local/bin".into(),
            "/usr/sbin".into(),
        ])
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| INSTALL_HINT.to_string())
}

/// A redis-server of the test's own on 127.0.0.1, without persistence; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    binary: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port.
    pub fn start() -> Result<Self, String> {
        let binary = redis_server_path()?;
        let mut last = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| format!("no free port: {e}"))?
                .port();
            let mut s = RedisServer {
                port,
                binary: binary.clone(),
                child: None,
            };
            match s.restart() {
                Ok(()) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port, empty, and waits until it answers.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "redis-server exited at start ({status}) on port {}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "redis-server did not answer on port {} in 10 s",
            self.port
        ))
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What one worker is to do.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The mock GitHub's base URL.
    pub mock: String,
    /// The shared Redis, or `None` for the in-memory default.
    pub redis: Option<String>,
    /// Concurrent calls.
    pub calls: usize,
    /// Call `i` starts `i * stagger` after the worker's start (zero: all at once).
    pub stagger: Duration,
    /// Key prefix of the fleet (one per scenario, so scenarios sharing a Redis do not see each other).
    pub prefix: String,
}

/// What one worker saw, printed as the last line of its standard output.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct WorkerReport {
    pub ok: usize,
    pub lost: usize,
    pub first_error: Option<String>,
    pub outages: u64,
    pub rejoins: u64,
    pub millis: u64,
    /// The slowest call's time.
    pub slowest_ms: u64,
}

/// Starts a worker process: this executable again, with [`WORKER_FLAG`].
pub fn spawn_worker(spec: &WorkerSpec) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.arg(WORKER_FLAG)
        .env("FLEET_MOCK", &spec.mock)
        .env("FLEET_CALLS", spec.calls.to_string())
        .env("FLEET_STAGGER_MS", spec.stagger.as_millis().to_string())
        .env("FLEET_PREFIX", &spec.prefix)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match &spec.redis {
        Some(url) => cmd.env("FLEET_REDIS", url),
        None => cmd.env_remove("FLEET_REDIS"),
    };
    cmd.spawn()
        .map_err(|e| format!("could not start a worker: {e}"))
}

/// Waits for a worker: its report and everything it logged.
pub fn finish_worker(child: Child) -> Result<(WorkerReport, String), String> {
    let out = child
        .wait_with_output()
        .map_err(|e| format!("worker: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(format!("worker failed ({}): {stderr}", out.status));
    }
    let line = stdout.lines().last().unwrap_or_default();
    let report = serde_json::from_str(line)
        .map_err(|e| format!("unreadable worker report {line:?}: {e}; log: {stderr}"))?;
    Ok((report, stderr))
}

/// Runs `specs` as worker processes at once and waits for all of them.
pub fn run_workers(specs: &[WorkerSpec]) -> Result<Vec<(WorkerReport, String)>, String> {
    let children = specs
        .iter()
        .map(spawn_worker)
        .collect::<Result<Vec<_>, _>>()?;
    children.into_iter().map(finish_worker).collect()
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

/// The body of a worker process (see [`spawn_worker`]).
pub fn worker_main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(match std::env::var("FLEET_LOG").as_deref() {
            Ok("debug") => tracing::Level::DEBUG,
            _ => tracing::Level::INFO,
        })
        .with_ansi(false)
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("worker: no runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(worker()) {
        Ok(report) => match serde_json::to_string(&report) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("worker: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn worker() -> Result<WorkerReport, String> {
    let mock = env("FLEET_MOCK")?;
    let calls: usize = env("FLEET_CALLS")?.parse().map_err(|e| format!("{e}"))?;
    let stagger = Duration::from_millis(
        env("FLEET_STAGGER_MS")?
            .parse()
            .map_err(|e| format!("{e}"))?,
    );
    let prefix = env("FLEET_PREFIX")?;
    let mut builder = AuthBuilder::installation(APP_ID, SecretString::from(PKCS1), INSTALLATION)
        .base_url(&mock)
        .user_agent("fleet-worker");
    let mut middleware = MiddlewareConfig::default();
    let mut fleet = None;
    match std::env::var("FLEET_REDIS") {
        Ok(url) => {
            let config = FleetConfig::new(url, TokenKey::from_bytes(TEST_KEY))
                .prefix(prefix)
                .retry_every(Duration::from_millis(200));
            let f = RedisFleet::connect(config)
                .await
                .map_err(|e| e.to_string())?;
            builder = builder.token_store(f.token_store());
            middleware = f.middleware(middleware);
            fleet = Some(f);
        }
        Err(_) => builder = builder.token_store(Arc::new(MemoryStore::new())),
    }
    let client = builder
        .middleware(middleware)
        .build()
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let tasks = (0..calls).map(|i| {
        let c = client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(stagger * i as u32).await;
            let t = Instant::now();
            let r = c.issues().get("o", "r", i as i64).await.map(|_| ());
            (r, t.elapsed().as_millis() as u64)
        })
    });
    let mut report = WorkerReport {
        ok: 0,
        lost: 0,
        first_error: None,
        outages: 0,
        rejoins: 0,
        millis: 0,
        slowest_ms: 0,
    };
    for r in futures::future::join_all(tasks).await {
        let r = r.map(|(r, ms)| {
            report.slowest_ms = report.slowest_ms.max(ms);
            r
        });
        match r {
            Ok(Ok(())) => report.ok += 1,
            Ok(Err(e)) => {
                report.lost += 1;
                report.first_error.get_or_insert_with(|| e.to_string());
            }
            Err(e) => {
                report.lost += 1;
                report.first_error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    report.millis = started.elapsed().as_millis() as u64;
    drop(client);
    if let Some(f) = &fleet {
        // The last slots' releases must reach Redis before this process ends.
        f.close().await;
        report.outages = f.outages();
        report.rejoins = f.rejoins();
    }
    Ok(report)
}
