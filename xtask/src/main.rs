//! `cargo xtask <command>`: the generator (`regen`), the spec (`fetch-spec`, `fetch-reference`, `targets`, `diff`),
//! the checks CI runs (`test`, `check-all`, `example-ghes`, `semver-check`) and the benchmarks (`bench`,
//! `bench-compile`). `cargo xtask` alone prints the usage.

use anyhow::{bail, Result};
use std::time::Instant;
use xtask::{regen, spec};

const USAGE: &str = "usage: cargo xtask <command>
  regen [--target T] [--check]   write generated/ for target T (default api.github.com); --check writes nothing
                                 and fails naming the stale files
  regen [--target T] [--check] --out DIR [--crate-name NAME]
                                 write the crate for T to DIR instead, as a standalone package NAME (default
                                 github-rest) with explicit dependency versions; generated/ is not touched
  fetch-spec --version V         download @octokit/openapi@V with npm, rewrite openapi/*.json.gz and the lock
  fetch-reference --target T --version V --why W
                                 pin T's description from @octokit/openapi@V as the reference its required fields
                                 are dated by (openapi/reference/, the lock's `references`)
  targets                        list the targets of the lock file
  test [ARGS…]                   the test suite: redis-server found or installed, then cargo test of every target
                                 of the workspace with every endpoint and feature, then its doctests (README's too)
  check-all                      every target: generate, build --features full warning-free, decode its examples
  diff A B                       Markdown of operations added, removed and changed from A to B (targets or spec files)
  example-ghes                   write the GHES 3.17 crate to target/ghes-3.17 and run tests/ghes-side-by-side, one
                                 program calling api.github.com and GHES 3.17 mocks with both clients
  semver-check                   generate api.github.com without and with xtask/semver/additions.json (an optional
                                 request field, an enum value) and run cargo-semver-checks on them (feature issues)
  bench-compile [--runs N]       clean build time of the generated crate against octorust 0.10 and octocrab
  bench [--runs N] [--calls N] [--warmup N] [--no-requests] [--no-layers] [--no-regen]
                                 per-request cost on loopback (our stack, raw reqwest, octocrab; instructions and
                                 wall time), each middleware layer's share, then regen time of one target and of all";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = regen::root();
    match args.first().map(String::as_str) {
        Some("regen") => {
            let target = flag(&args, "--target").unwrap_or_else(|| "api.github.com".into());
            let start = Instant::now();
            let check = args.iter().any(|a| a == "--check");
            if let Some(out) = flag(&args, "--out") {
                let name = flag(&args, "--crate-name").unwrap_or_else(|| "github-rest".into());
                let dir = std::path::PathBuf::from(out);
                let g = regen::generate_standalone(&root, &target, &name, &[])?;
                if check {
                    regen::check_standalone(&dir, &g)?;
                    eprintln!(
                        "{} is fresh for {target} ({:.2?})",
                        dir.display(),
                        start.elapsed()
                    );
                } else {
                    regen::write_standalone(&dir, &g)?;
                    eprintln!(
                        "regen {target}: crate {name} ({} operations, {} files) written to {} in {:.2?}",
                        g.operations,
                        g.files.len(),
                        dir.display(),
                        start.elapsed()
                    );
                }
                return Ok(());
            }
            if args.iter().any(|a| a == "--crate-name") {
                bail!(
                    "--crate-name goes with --out DIR (generated/ is always github-rest)\n{USAGE}"
                );
            }
            if check {
                regen::check(&root, &target)?;
                eprintln!("generated/ is fresh for {target} ({:.2?})", start.elapsed());
                return Ok(());
            }
            let g = regen::regen(&root, &target)?;
            let bytes: usize = g.files.values().map(Vec::len).sum();
            eprintln!(
                "regen {target}: {} operations, {} types, {} files, {:.1} MB, patches {:?}, passes {:?} in {:.2?}",
                g.operations,
                g.types,
                g.files.len(),
                bytes as f64 / 1e6,
                g.patches,
                g.passes,
                start.elapsed()
            );
        }
        Some("fetch-spec") => {
            let Some(v) = flag(&args, "--version") else {
                bail!("fetch-spec needs --version V\n{USAGE}")
            };
            spec::fetch(&root, &v)?;
        }
        Some("fetch-reference") => {
            let (Some(t), Some(v), Some(why)) = (
                flag(&args, "--target"),
                flag(&args, "--version"),
                flag(&args, "--why"),
            ) else {
                bail!("fetch-reference needs --target T --version V --why W\n{USAGE}")
            };
            spec::fetch_reference(&root, &t, &v, &why)?;
        }
        Some("check-all") => xtask::check_all::run(&root)?,
        Some("diff") => {
            let (Some(a), Some(b)) = (args.get(1), args.get(2)) else {
                bail!("diff needs two targets or spec files\n{USAGE}")
            };
            print!("{}", xtask::diff::report(&root, a, b)?);
        }
        Some("bench-compile") => {
            let runs = flag(&args, "--runs")
                .map(|r| r.parse())
                .transpose()?
                .unwrap_or(1);
            xtask::bench::compile(&root, runs)?;
        }
        Some("example-ghes") => xtask::example_ghes::run(&root)?,
        Some("semver-check") => xtask::semver::run(&root)?,
        Some("bench") => {
            let num = |name: &str, default: usize| -> Result<usize> {
                Ok(flag(&args, name)
                    .map(|r| r.parse())
                    .transpose()?
                    .unwrap_or(default))
            };
            let b = xtask::bench::BenchArgs {
                runs: num("--runs", 3)?,
                calls: num("--calls", 200)?,
                warmup: num("--warmup", 20)?,
                requests: !args.iter().any(|a| a == "--no-requests"),
                layers: !args.iter().any(|a| a == "--no-layers"),
                regen: !args.iter().any(|a| a == "--no-regen"),
            };
            xtask::bench::bench(&root, &b)?;
        }
        Some("test") => xtask::test_cmd::run(&root, &args[1..])?,
        Some("targets") => {
            for f in spec::read_lock(&root)?.files {
                println!("{}", f.target);
            }
        }
        _ => bail!("{USAGE}"),
    }
    Ok(())
}
