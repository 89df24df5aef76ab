//! `cargo xtask test [ARGS…]`: the README's test command, also run by `.ci/run`.
//!
//! The fleet tests of `github-auth` (`auth/tests/fleet.rs`, feature `redis`) start a real `redis-server` of their
//! own on loopback. This command makes sure one can be found first: on `PATH` (or `$REDIS_SERVER`), else installed
//! with `apt-get` when running as root, else it stops with the command to run. Then it runs every test of the
//! workspace, with every endpoint of the generated crate and the Redis stores enabled:
//! `cargo test --workspace --all-targets --features github-rest/full --features github-auth/redis --features
//! github-auth/webhooks ARGS…`. Without ARGS it then runs the doctests, which `--all-targets` leaves out: every
//! crate's examples and the README's Rust blocks (`tests/src/lib.rs` includes the README under `cfg(doctest)`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The features the test run enables.
pub const FEATURES: [&str; 3] = [
    "github-rest/full",
    "github-auth/redis",
    "github-auth/webhooks",
];

/// What to run where this command cannot install redis-server itself.
const INSTALL: &str = "sudo apt-get install -y redis-server";

/// Ensures redis-server, then runs the workspace's tests with `args` passed on to `cargo test`.
pub fn run(root: &Path, args: &[String]) -> Result<()> {
    let redis = ensure_redis_server()?;
    eprintln!("redis-server: {}", redis.display());
    let test = |kind: &str, extra: &[String]| -> Result<()> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(root)
            .args(["test", "--workspace", kind])
            .env("REDIS_SERVER", &redis);
        for f in FEATURES {
            cmd.args(["--features", f]);
        }
        let status = cmd.args(extra).status().context("running cargo test")?;
        if !status.success() {
            bail!("cargo test {kind} failed ({status})");
        }
        Ok(())
    };
    test("--all-targets", args)?;
    // Arguments name a part of the suite (a test, a package…), which `--doc` may not take.
    if args.is_empty() {
        test("--doc", &[])?;
    }
    Ok(())
}

/// `$REDIS_SERVER` if set, else the first `redis-server` on `PATH` (or in the usual system folders).
pub fn find_redis_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("REDIS_SERVER") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
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
}

/// Finds redis-server, installing it with apt-get when it is missing and this runs as root.
pub fn ensure_redis_server() -> Result<PathBuf> {
    if let Some(p) = find_redis_server() {
        return Ok(p);
    }
    if !is_root() || find_on_path("apt-get").is_none() {
        bail!(
            "the fleet tests need redis-server, which is not installed (looked on PATH and at $REDIS_SERVER).\n\
             Install it with:\n    {INSTALL}\nthen run `cargo xtask test` again."
        );
    }
    eprintln!("redis-server is missing; installing it with apt-get");
    if !apt_install()? {
        // A fresh machine may have no package lists yet.
        apt(&["update"])?;
        if !apt_install()? {
            bail!("apt-get could not install redis-server; install it with:\n    {INSTALL}");
        }
    }
    find_redis_server().with_context(|| {
        format!(
            "apt-get installed redis-server but it is not on PATH; install it with:\n    {INSTALL}"
        )
    })
}

fn apt_install() -> Result<bool> {
    apt(&["install", "-y", "--no-install-recommends", "redis-server"])
}

fn apt(args: &[&str]) -> Result<bool> {
    Ok(Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?
        .success())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_run_enables_the_redis_stores_and_every_endpoint() {
        assert!(FEATURES.contains(&"github-auth/redis"));
        assert!(FEATURES.contains(&"github-rest/full"));
    }
}
