//! `cargo xtask bench-compile`: clean dev-build time of the generated crate against octorust 0.10, in one run.
//!
//! Both crates are built the same way: dependencies first (not timed), then the crate alone from clean, with
//! `CARGO_INCREMENTAL=0` (as cargo builds any registry dependency) and the same dev profile. It prints seconds and
//! ratios; it passes or fails nothing.

use anyhow::{bail, Context, Result};
use std::path::Path;
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

/// Times a clean build of `package` in `dir`: build everything, then `runs` times clean just the package and build
/// it again; the median.
fn time_package(
    dir: &Path,
    target: &Path,
    package: &str,
    features: &[&str],
    runs: usize,
) -> Result<Duration> {
    let mut args = vec!["build", "-p", package];
    args.extend_from_slice(features);
    run(
        cargo(dir, target, &args),
        &format!("warm-up build of {package}"),
    )?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        run(
            cargo(dir, target, &["clean", "-p", package]),
            &format!("cargo clean -p {package}"),
        )?;
        times.push(run(
            cargo(dir, target, &args),
            &format!("build of {package}"),
        )?);
    }
    // The median: one slow or fast outlier on a shared machine does not decide the figure.
    times.sort();
    Ok(times[times.len() / 2])
}

pub fn compile(root: &Path, runs: usize) -> Result<()> {
    let work = root.join("target/bench-compile");
    let peer = work.join("octorust-peer");
    std::fs::create_dir_all(peer.join("src"))?;
    std::fs::write(
        peer.join("Cargo.toml"),
        "[package]\nname = \"octorust-peer\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\noctorust = \"=0.10.0\"\n\n[workspace]\n",
    )?;
    std::fs::write(peer.join("src/lib.rs"), "pub use octorust;\n")?;
    let target = work.join("target");
    eprintln!("building octorust 0.10.0 (761 operations) and github-rest ({} operations), median of {runs}…", count_ops(root));
    let octorust = time_package(&peer, &target.join("peer"), "octorust", &[], runs)?;
    let ours_target = target.join("ours");
    let full = time_package(
        root,
        &ours_target,
        "github-rest",
        &["--features", "full"],
        runs,
    )?;
    let issues = time_package(
        root,
        &ours_target,
        "github-rest",
        &["--no-default-features", "--features", "issues"],
        runs,
    )?;
    let repos = time_package(
        root,
        &ours_target,
        "github-rest",
        &["--no-default-features", "--features", "repos"],
        runs,
    )?;
    let webhooks = time_package(
        root,
        &ours_target,
        "github-rest",
        &["--no-default-features", "--features", "webhooks"],
        runs,
    )?;
    let s = |d: Duration| d.as_secs_f64();
    println!("| crate (clean dev build, crate only) | seconds | × octorust |");
    println!("|---|---:|---:|");
    println!("| octorust 0.10.0 (761 ops) | {:.1} | 1.00 |", s(octorust));
    println!(
        "| github-rest --features full ({} ops) | {:.1} | {:.2} |",
        count_ops(root),
        s(full),
        s(full) / s(octorust)
    );
    println!(
        "| github-rest --features issues | {:.1} | {:.2} |",
        s(issues),
        s(issues) / s(octorust)
    );
    println!(
        "| github-rest --features repos | {:.1} | {:.2} |",
        s(repos),
        s(repos) / s(octorust)
    );
    println!(
        "| github-rest --features webhooks | {:.1} | {:.2} |",
        s(webhooks),
        s(webhooks) / s(octorust)
    );
    Ok(())
}

fn count_ops(root: &Path) -> usize {
    std::fs::read_to_string(root.join("generated/operations.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["operations"].as_array().map(Vec::len))
        .unwrap_or(0)
}
