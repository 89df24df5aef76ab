//! `cargo xtask semver-check`: is an addition GitHub makes to its description every week a breaking change of the
//! generated crate?
//!
//! The overlay `xtask/semver/additions.json` (a patch file in the format of `openapi/patches/`) adds one optional
//! property to a request body (`issues/create`) and one value to a string enum of the issues endpoints. The crate is
//! generated twice with `regen --out`, without and with the overlay, under the same name, and
//! `cargo semver-checks check-release` compares the two with the feature `issues` alone (so it takes minutes, not
//! the time of rustdoc over every endpoint). The command prints the tool's report and the lints that fired, and fails
//! when the tool finds a breaking change.

use crate::regen;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The overlay, relative to the repository root.
pub const OVERLAY: &str = "xtask/semver/additions.json";

/// The features the comparison is restricted to.
pub const FEATURES: &str = "issues";

const TARGET: &str = "api.github.com";

/// Generates the baseline and the changed crate, then runs cargo-semver-checks on them.
pub fn run(root: &Path) -> Result<()> {
    let start = std::time::Instant::now();
    ensure_tool()?;
    let work = regen::standalone_target_dir(root).join("semver-check");
    let (baseline, changed) = (work.join("baseline"), work.join("changed"));
    let overlay = root.join(OVERLAY);
    for (dir, extra) in [(&baseline, vec![]), (&changed, vec![overlay.clone()])] {
        let g = regen::generate_standalone(root, TARGET, crate::emit::CRATE_NAME, &extra)?;
        regen::write_standalone(dir, &g)?;
    }
    let differing = differing_files(&baseline, &changed);
    eprintln!(
        "semver-check: {TARGET} generated without and with {OVERLAY} ({} files differ: {}) in {:.1?}",
        differing.len(),
        differing.join(", "),
        start.elapsed()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["semver-checks", "check-release", "--baseline-root"])
        .arg(&baseline)
        .arg("--manifest-path")
        .arg(changed.join("Cargo.toml"))
        .args(["--only-explicit-features", "--features", FEATURES])
        .env("CARGO_TARGET_DIR", work.join("target"))
        .output()
        .context("running cargo semver-checks")?;
    let report = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    eprint!("{report}");
    let lints = failed_lints(&report);
    let took = start.elapsed();
    if output.status.success() && lints.is_empty() {
        println!(
            "semver-check: PASS: adding an optional request field and an enum value is not a breaking change \
             (cargo-semver-checks, features `{FEATURES}`, {took:.0?})"
        );
        return Ok(());
    }
    if lints.is_empty() {
        bail!(
            "cargo semver-checks failed without a lint report ({}); see its output above",
            output.status
        );
    }
    bail!(
        "semver-check: BREAKING: cargo-semver-checks reports that adding an optional request field and an enum value \
         breaks the generated crate (features `{FEATURES}`, {took:.0?}); lints that fired: {}",
        lints.join(", ")
    )
}

/// The names of the lints in cargo-semver-checks' report (`--- failure enum_variant_added: … ---`).
pub fn failed_lints(report: &str) -> Vec<String> {
    let mut lints: Vec<String> = report
        .lines()
        .filter_map(|l| l.trim().strip_prefix("--- failure "))
        .filter_map(|l| l.split(':').next())
        .map(str::to_string)
        .collect();
    lints.sort();
    lints.dedup();
    lints
}

/// The files of the two generated crates that differ, relative paths.
fn differing_files(a: &Path, b: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(b.join(&rel)) else {
            continue;
        };
        for e in rd.flatten() {
            let r = rel.join(e.file_name());
            if e.path().is_dir() {
                stack.push(r);
            } else if r != Path::new("Cargo.lock")
                && std::fs::read(a.join(&r)).ok() != std::fs::read(e.path()).ok()
            {
                out.push(r.to_string_lossy().to_string());
            }
        }
    }
    out.sort();
    out
}

/// cargo-semver-checks from crates.io when it is not installed (a build of several minutes, once per machine).
fn ensure_tool() -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let found = Command::new(&cargo)
        .args(["semver-checks", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    eprintln!("cargo-semver-checks is not installed: `cargo install cargo-semver-checks --locked` (takes a while)");
    let status = Command::new(&cargo)
        .args(["install", "cargo-semver-checks", "--locked"])
        .status()
        .context("running cargo install")?;
    if !status.success() {
        bail!("cargo install cargo-semver-checks failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn lint_names_are_read_from_the_report() {
        let report = "\
--- failure constructible_struct_adds_field: externally-constructible struct adds field ---
Description:
--- failure enum_variant_added: enum variant added on exhaustive enum ---
--- failure enum_variant_added: enum variant added on exhaustive enum ---
";
        assert_eq!(
            super::failed_lints(report),
            ["constructible_struct_adds_field", "enum_variant_added"]
        );
    }
}
