//! `cargo xtask bench-compile`: clean dev-build time of the generated crate against octorust 0.10 and octocrab 0.54,
//! in one run.
//!
//! All crates are built the same way: dependencies first (not timed), then the crate alone from clean, with
//! `CARGO_INCREMENTAL=0` (as cargo builds any registry dependency) and the same dev profile. It prints seconds and
//! ratios; it passes or fails nothing.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn cargo(dir: &Path, target: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0")
        .args(args);
    c
}

fn run(mut c: Command, what: &str) -> Result<Duration> {
    let start = Instant::now();
    let out = c
        .output()
        .with_context(|| format!("running cargo for {what}"))?;
    if !out.status.success() {
        bail!("{what} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(start.elapsed())
}

/// One crate whose clean build is timed.
struct Job<'a> {
    label: String,
    dir: &'a Path,
    target: PathBuf,
    package: &'a str,
    features: &'a [&'a str],
}

impl Job<'_> {
    fn args(&self) -> Vec<&str> {
        let mut args = vec!["build", "-p", self.package];
        args.extend_from_slice(self.features);
        args
    }
}

/// Times clean builds of each job's package: build everything once, then `runs` rounds that each clean and rebuild
/// every job's package in turn (so a slow spell of a shared machine falls on all crates alike); the medians.
fn time_packages(jobs: &[Job], runs: usize) -> Result<Vec<Duration>> {
    for j in jobs {
        run(
            cargo(j.dir, &j.target, &j.args()),
            &format!("warm-up build of {}", j.label),
        )?;
    }
    let mut times = vec![Vec::new(); jobs.len()];
    for _ in 0..runs.max(1) {
        for (j, t) in jobs.iter().zip(&mut times) {
            run(
                cargo(j.dir, &j.target, &["clean", "-p", j.package]),
                &format!("cargo clean -p {}", j.package),
            )?;
            t.push(run(
                cargo(j.dir, &j.target, &j.args()),
                &format!("build of {}", j.label),
            )?);
        }
    }
    // The median: one slow or fast outlier on a shared machine does not decide the figure.
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect())
}

/// A one-dependency crate outside the workspace, so the peer builds with its own lock and nothing of ours.
fn peer(work: &Path, name: &str, dependency: &str) -> Result<PathBuf> {
    let dir = work.join(format!("{name}-peer"));
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}-peer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\n{dependency}\n\n[workspace]\n"
        ),
    )?;
    std::fs::write(dir.join("src/lib.rs"), format!("pub use {name};\n"))?;
    Ok(dir)
}

pub fn compile(root: &Path, runs: usize) -> Result<()> {
    let work = root.join("target/bench-compile");
    let octorust = peer(&work, "octorust", "octorust = \"=0.10.0\"")?;
    // The version the per-request benchmark (`xtask/bench-requests`) measures.
    let octocrab = peer(&work, "octocrab", "octocrab = \"=0.54.9\"")?;
    let target = work.join("target");
    let ops = count_ops(root);
    eprintln!(
        "building octorust 0.10.0 (761 operations), octocrab 0.54.9 and github-rest ({ops} operations), \
         median of {runs}, one crate after the other in each round…"
    );
    let ours = |label: &str, features: &'static [&'static str]| Job {
        label: label.to_string(),
        dir: root,
        target: target.join("ours"),
        package: "github-rest",
        features,
    };
    let jobs = [
        Job {
            label: "octorust 0.10.0 (761 ops)".into(),
            dir: &octorust,
            target: target.join("peer"),
            package: "octorust",
            features: &[],
        },
        Job {
            label: "octocrab 0.54.9 (hand-written, default features)".into(),
            dir: &octocrab,
            target: target.join("octocrab"),
            package: "octocrab",
            features: &[],
        },
        ours(
            &format!("github-rest --features full ({ops} ops)"),
            &["--features", "full"],
        ),
        ours(
            "github-rest --features issues",
            &["--no-default-features", "--features", "issues"],
        ),
        ours(
            "github-rest --features repos",
            &["--no-default-features", "--features", "repos"],
        ),
        ours(
            "github-rest --features webhooks",
            &["--no-default-features", "--features", "webhooks"],
        ),
    ];
    let times = time_packages(&jobs, runs)?;
    let s = |d: Duration| d.as_secs_f64();
    println!("| crate (clean dev build, crate only) | seconds | × octorust | × octocrab |");
    println!("|---|---:|---:|---:|");
    for (j, t) in jobs.iter().zip(&times) {
        println!(
            "| {} | {:.1} | {:.2} | {:.2} |",
            j.label,
            s(*t),
            s(*t) / s(times[0]),
            s(*t) / s(times[1])
        );
    }
    Ok(())
}

fn count_ops(root: &Path) -> usize {
    std::fs::read_to_string(root.join("generated/operations.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["operations"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// How the per-call instruction count is taken: hardware counters where the machine has them, otherwise
/// cachegrind's count of executed instructions (exact and unaffected by load, but the process runs ~50× slower).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counter {
    Perf,
    Cachegrind,
    None,
}

impl Counter {
    fn detect() -> Counter {
        let perf = Command::new("perf")
            .args(["stat", "-x,", "-e", "instructions:u", "--", "true"])
            .output();
        if let Ok(out) = perf {
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.success() && parse_perf(&err).is_some_and(|n| n > 0) {
                return Counter::Perf;
            }
        }
        let vg = Command::new("valgrind").arg("--version").output();
        if vg.is_ok_and(|o| o.status.success()) {
            return Counter::Cachegrind;
        }
        Counter::None
    }

    fn name(self) -> &'static str {
        match self {
            Counter::Perf => "perf stat -e instructions:u",
            Counter::Cachegrind => {
                "valgrind --tool=cachegrind (I refs; perf has no hardware counters here)"
            }
            Counter::None => "none (neither perf counters nor valgrind available)",
        }
    }

    /// User-space instructions executed by `bin args`, and its stdout.
    fn count(self, bin: &Path, args: &[&str]) -> Result<(Option<u64>, String)> {
        let mut c = match self {
            Counter::Perf => {
                let mut c = Command::new("perf");
                c.args(["stat", "-x,", "-e", "instructions:u", "--"])
                    .arg(bin);
                c
            }
            Counter::Cachegrind => {
                let mut c = Command::new("valgrind");
                // Cachegrind counts every iteration of `rep movsb` as an instruction, so glibc's memcpy of a large
                // buffer would count one per byte; the vector loop it uses below this threshold counts as hardware
                // does, so every copy is counted alike.
                c.env(
                    "GLIBC_TUNABLES",
                    "glibc.cpu.x86_rep_movsb_threshold=2147483647",
                );
                c.args([
                    "--tool=cachegrind",
                    "--cache-sim=no",
                    "--cachegrind-out-file=/dev/null",
                ])
                .arg(bin);
                c
            }
            Counter::None => Command::new(bin),
        };
        let out = c.args(args).output().context("running bench-requests")?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("bench-requests {} failed:\n{err}", args.join(" "));
        }
        let n = match self {
            Counter::Perf => parse_perf(&err),
            Counter::Cachegrind => parse_cachegrind(&err),
            Counter::None => None,
        };
        if self != Counter::None && n.is_none() {
            bail!("no instruction count in:\n{err}");
        }
        Ok((n, String::from_utf8_lossy(&out.stdout).into_owned()))
    }
}

/// The count of `perf stat -x,` output (`12345,,instructions:u,...`).
fn parse_perf(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find(|l| l.contains("instructions"))?
        .split(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The `I refs:` line of cachegrind's summary (`==123== I refs:        1,234,567`).
fn parse_cachegrind(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains("I") && l.contains("refs:"))?;
    line.split("refs:")
        .nth(1)?
        .trim()
        .replace(',', "")
        .parse()
        .ok()
}

/// The mock server process, stopped when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(bin: &Path) -> Result<Server> {
        use std::io::BufRead;
        let mut child = Command::new(bin)
            .arg("serve")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting the mock server")?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("server stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line.trim().parse().context("the server prints its port")?;
        Ok(Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings of `cargo xtask bench`.
pub struct BenchArgs {
    /// Runs of each measurement; medians are reported.
    pub runs: usize,
    /// Timed calls per run.
    pub calls: usize,
    /// Calls before the timed ones.
    pub warmup: usize,
    pub requests: bool,
    /// Each middleware layer's cost (with `requests`).
    pub layers: bool,
    pub regen: bool,
}

/// The client modes of the bench crate, in the order they are printed.
const MODES: &[(&str, &str)] = &[
    ("full", "github-auth, full middleware (200, cache stores)"),
    ("full-304", "github-auth, full middleware (304 from cache)"),
    ("generated", "github-rest client, no github-auth"),
    ("types", "raw reqwest → github-rest types"),
    ("value", "raw reqwest → serde_json::Value"),
    ("octocrab", "octocrab"),
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `cargo xtask bench`: per-request cost on loopback (see `xtask/bench-requests`), then regen times.
pub fn bench(root: &Path, args: &BenchArgs) -> Result<()> {
    if args.requests {
        requests(root, args)?;
    }
    if args.regen {
        regen_times(root, args.runs)?;
    }
    Ok(())
}

fn requests(root: &Path, args: &BenchArgs) -> Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    let manifest = root.join("xtask/bench-requests/Cargo.toml");
    eprintln!("building xtask/bench-requests (release)…");
    run(
        cargo(
            root,
            &target,
            &[
                "build",
                "--release",
                "--manifest-path",
                manifest.to_str().context("UTF-8 path")?,
            ],
        ),
        "build of bench-requests",
    )?;
    let bin = target.join("release/bench-requests");
    let counter = Counter::detect();
    let server = Server::start(&bin)?;
    let warmup = args.warmup.to_string();
    eprintln!(
        "instructions: {}; {} calls after {} warm-up calls per process, median of {} runs",
        counter.name(),
        args.calls,
        args.warmup,
        args.runs
    );
    // A 100-issue page costs some 40 times a repository: fewer calls give as many instructions to count.
    let scenarios = [
        ("repo", "GET a repository (7.3 kB body)", args.calls),
        (
            "issues",
            "GET a 100-issue list (per_page=100, 319 kB body)",
            (args.calls / 5).max(1),
        ),
    ];
    let modes: Vec<&str> = MODES.iter().map(|(m, _)| *m).collect();
    for (scenario, title, n_calls) in scenarios {
        let (instr, wall) = measure(
            &bin, &server, counter, &modes, scenario, n_calls, &warmup, args.runs,
        )?;
        let idx = |m: &str| MODES.iter().position(|(n, _)| *n == m).expect("mode");
        let (types, octo) = (idx("types"), idx("octocrab"));
        println!(
            "\n{title}: per call ({n_calls} calls a process), median of {} runs\n",
            args.runs
        );
        println!("| client | instructions | × raw→types | × octocrab | wall µs | × raw→types |");
        println!("|---|---:|---:|---:|---:|---:|");
        for (i, (_, label)) in MODES.iter().enumerate() {
            println!(
                "| {label} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2} |",
                instr[i],
                instr[i] / instr[types],
                instr[i] / instr[octo],
                wall[i],
                wall[i] / wall[types]
            );
        }
        let full = idx("full");
        println!(
            "\nfull stack: {:.3}× raw reqwest into our types (goal ≤ 1.05), {:.3}× octocrab (goal ≤ 0.5), in instructions",
            instr[full] / instr[types],
            instr[full] / instr[octo]
        );
    }
    if args.layers && counter != Counter::None {
        layers(&bin, &server, counter, args.calls, &warmup, args.runs)?;
    }
    drop(server);
    Ok(())
}

/// Each middleware layer's cost on the repository GET, every answer a 200: alone (over github-auth's credential with
/// no middleware) and as its share of the full stack (the full stack less the stack without it). What is left of
/// the full stack over the credential after the shares is what the layers share: the stack's own future and
/// dispatch, the body read once and the answer rebuilt, the copy kept for a re-send, the gate.
fn layers(
    bin: &Path,
    server: &Server,
    counter: Counter,
    calls: usize,
    warmup: &str,
    runs: usize,
) -> Result<()> {
    const LAYERS: &[(&str, &str)] = &[
        ("cache", "conditional cache (the answer stored)"),
        ("rate-limit", "primary and secondary rate limits"),
        ("concurrency", "concurrency cap and write pacing"),
        ("retry", "retries (the body read in the layer)"),
        ("tracing", "tracing span (no subscriber)"),
    ];
    let mut modes = vec!["generated", "auth", "full"];
    let names: Vec<(String, String)> = LAYERS
        .iter()
        .map(|(l, _)| (format!("only-{l}"), format!("full-no-{l}")))
        .collect();
    for (only, without) in &names {
        modes.push(only);
        modes.push(without);
    }
    let (instr, _) = measure(bin, server, counter, &modes, "repo", calls, warmup, runs)?;
    let at = |m: &str| instr[modes.iter().position(|n| *n == m).expect("mode")];
    let (auth, full) = (at("auth"), at("full"));
    println!(
        "\nEach layer on the repository GET (every answer a 200), instructions per call, median of {runs} runs:\n"
    );
    println!("| layer | alone, over the credential | share of the full stack |");
    println!("|---|---:|---:|");
    let mut shares = 0.0;
    for ((_, label), (only, without)) in LAYERS.iter().zip(&names) {
        let share = full - at(without);
        shares += share;
        println!("| {label} | {:.0} | {share:.0} |", at(only) - auth);
    }
    println!(
        "| shared by the layers (stack future and dispatch, body read and answer rebuilt, re-send copy, gate) | | {:.0} |",
        full - auth - shares
    );
    println!(
        "| **all layers** (full stack over the credential) | | **{:.0}** |",
        full - auth
    );
    println!(
        "\ncredential alone (github-auth, no middleware) over the github-rest client: {:.0}",
        auth - at("generated")
    );
    Ok(())
}

/// Instructions and wall µs per call of each of `modes` on `scenario`: the medians of `runs` runs.
#[allow(clippy::too_many_arguments)]
fn measure(
    bin: &Path,
    server: &Server,
    counter: Counter,
    modes: &[&str],
    scenario: &str,
    n_calls: usize,
    warmup: &str,
    runs: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let calls = n_calls.to_string();
    // (mode → instructions per call, wall µs per call) for each run.
    let mut instr: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for r in 0..runs.max(1) {
        // Rotate the order so drift of a shared machine does not always favour the same mode.
        for k in 0..modes.len() {
            let i = (k + r) % modes.len();
            let a = |n: &str| -> Vec<String> {
                ["client", modes[i], scenario, &server.base, n, warmup]
                    .map(String::from)
                    .to_vec()
            };
            let native = a(&calls);
            let native: Vec<&str> = native.iter().map(String::as_str).collect();
            let (_, out) = Counter::None.count(bin, &native)?;
            let ns: f64 = out.trim().parse().context("elapsed nanoseconds")?;
            wall[i].push(ns / 1e3 / n_calls as f64);
            if counter != Counter::None {
                let (full, _) = counter.count(bin, &native)?;
                let zero = a("0");
                let zero: Vec<&str> = zero.iter().map(String::as_str).collect();
                let (base, _) = counter.count(bin, &zero)?;
                let per = (full.unwrap_or(0) as f64 - base.unwrap_or(0) as f64) / n_calls as f64;
                instr[i].push(per);
            }
            eprint!(".");
        }
    }
    eprintln!();
    Ok((
        instr.into_iter().map(median).collect(),
        wall.into_iter().map(median).collect(),
    ))
}

/// Regen time of one target (generation in memory plus the comparison `regen --check` makes) and of all five
/// (generation of each in turn, as `check-all` does before building); the median of `runs`.
fn regen_times(root: &Path, runs: usize) -> Result<()> {
    let targets: Vec<String> = crate::spec::read_lock(root)?
        .files
        .into_iter()
        .map(|f| f.target)
        .collect();
    let mut one = Vec::new();
    let mut all = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let g = crate::regen::generate(root, "api.github.com")?;
        let _ = crate::regen::stale_files(root, &g);
        one.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for t in &targets {
            crate::regen::generate(root, t)?;
        }
        all.push(start.elapsed().as_secs_f64());
    }
    println!("\nregen (xtask's dev profile), median of {runs}:\n");
    println!("| run | seconds |");
    println!("|---|---:|");
    println!(
        "| one target (api.github.com, `regen --check`) | {:.2} |",
        median(one)
    );
    println!(
        "| all {} targets ({}) | {:.2} |",
        targets.len(),
        targets.join(", "),
        median(all)
    );
    Ok(())
}
