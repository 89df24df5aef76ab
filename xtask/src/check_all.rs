//! `cargo xtask check-all`: every target generates, builds with `--features full` without warnings, and decodes
//! all of its own spec's success examples. It regenerates `generated/` for each target in turn and restores the
//! default target at the end (also when a step fails). Slow (a full build per target), so CI runs it on one path.

use anyhow::{bail, Result};
use std::path::Path;
use std::process::Command;

struct Outcome {
    target: String,
    operations: usize,
    build: Result<(), String>,
    examples: Result<String, String>,
}

fn cargo(root: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(args)
        .output()
}

fn check(root: &Path, target: &str) -> Result<Outcome> {
    let g = crate::regen::regen(root, target)?;
    eprintln!(
        "{target}: generated {} operations; building with --features full…",
        g.operations
    );
    let out = cargo(root, &["build", "-p", "github-rest", "--features", "full"])?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings = stderr
        .lines()
        .filter(|l| l.starts_with("warning") || l.starts_with("error"))
        .count();
    let build = if out.status.success() && warnings == 0 {
        Ok(())
    } else {
        Err(format!("{warnings} warnings/errors:\n{stderr}"))
    };
    eprintln!("{target}: running the fidelity test…");
    let out = cargo(
        root,
        &[
            "test",
            "-p",
            "github-rest",
            "--features",
            "full",
            "--test",
            "fidelity",
            "--",
            "--nocapture",
        ],
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let decoded = stdout
        .lines()
        .find(|l| l.starts_with("decoded ") && l.contains(" examples of "))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string());
    let examples = match (out.status.success(), decoded) {
        (true, Some(d)) => Ok(d),
        (_, d) => Err(format!(
            "{} — {}",
            d.unwrap_or_else(|| "no count".into()),
            stdout
                .lines()
                .filter(|l| l.contains("example `"))
                .take(20)
                .collect::<Vec<_>>()
                .join("\n")
        )),
    };
    Ok(Outcome {
        target: target.to_string(),
        operations: g.operations,
        build,
        examples,
    })
}

pub fn run(root: &Path) -> Result<()> {
    let mut outcomes = Vec::new();
    let mut failure = None;
    for t in crate::spec::TARGETS {
        match check(root, t) {
            Ok(o) => outcomes.push(o),
            Err(e) => {
                failure = Some(format!("{t}: {e:#}"));
                break;
            }
        }
    }
    crate::regen::regen(root, crate::spec::TARGETS[0])?;
    println!(
        "| target | operations generated | `--features full` build | success examples decoded |"
    );
    println!("|---|---:|---|---|");
    let mut ok = failure.is_none();
    for o in &outcomes {
        let build = match &o.build {
            Ok(()) => "ok, no warnings".to_string(),
            Err(_) => "FAILED".to_string(),
        };
        let ex = match &o.examples {
            Ok(d) => d.clone(),
            Err(e) => format!("FAILED ({})", e.lines().next().unwrap_or_default()),
        };
        ok &= o.build.is_ok() && o.examples.is_ok();
        println!(
            "| {} | {}/{} | {} | {} |",
            o.target, o.operations, o.operations, build, ex
        );
    }
    for o in &outcomes {
        if let Err(e) = &o.build {
            eprintln!("\n{} build:\n{e}", o.target);
        }
        if let Err(e) = &o.examples {
            eprintln!("\n{} examples:\n{e}", o.target);
        }
    }
    if let Some(f) = failure {
        bail!("{f}");
    }
    if !ok {
        bail!("some targets failed (details above)");
    }
    Ok(())
}
