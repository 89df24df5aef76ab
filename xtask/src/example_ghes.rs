//! `cargo xtask example-ghes`: one program using the api.github.com client and a GHES 3.17 client side by side.
//!
//! The GHES crate is generated, not committed: this writes it with `regen --out` to `target/ghes-3.17` (ignored by
//! git), then runs `tests/ghes-side-by-side`, a package of its own that depends on both crates, against two mocks on
//! 127.0.0.1.

use crate::regen;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// Where the example expects the GHES crate (its `Cargo.toml` names this path).
pub const GHES_DIR: &str = "target/ghes-3.17";
/// The example package.
pub const EXAMPLE_DIR: &str = "tests/ghes-side-by-side";

pub fn run(root: &Path) -> Result<()> {
    let start = std::time::Instant::now();
    let g = regen::generate_standalone(root, "ghes-3.17", "github-rest-ghes-3-17", &[])?;
    regen::write_standalone(&root.join(GHES_DIR), &g)?;
    eprintln!(
        "example-ghes: github-rest-ghes-3-17 written to {GHES_DIR} in {:.1?}",
        start.elapsed()
    );
    let example = root.join(EXAMPLE_DIR);
    // The workspace's lock, so the example builds with the versions the workspace was tested with.
    std::fs::copy(root.join("Cargo.lock"), example.join("Cargo.lock"))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["run", "--quiet"])
        .current_dir(&example)
        .env("CARGO_TARGET_DIR", regen::standalone_target_dir(root))
        .status()
        .context("running the example")?;
    if !status.success() {
        bail!("the side-by-side example failed ({status})");
    }
    Ok(())
}
