//! `cargo xtask regen --out DIR --crate-name NAME`: a standalone crate for one target that builds on its own, while
//! the committed `generated/` stays as it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::regen;

/// Every file under `dir` (build output excluded) with the sha256 of its contents.
fn digest(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("target") {
                    stack.push(p);
                }
            } else {
                out.insert(
                    p.clone(),
                    xtask::spec::sha256_hex(&std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs")
}

#[test]
fn ghes_crate_is_written_standalone_and_checks_with_one_feature() {
    let root = regen::root();
    let before = digest(&root.join("generated"));
    let dir = std::env::temp_dir().join(format!("xtask-out-crate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.to_str().unwrap();
    let args = [
        "regen",
        "--target",
        "ghes-3.17",
        "--out",
        out,
        "--crate-name",
        "github-rest-ghes-3-17",
    ];

    let run = xtask(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"github-rest-ghes-3-17\""),
        "{manifest}"
    );
    assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
    assert!(
        !manifest.contains(".workspace") && !manifest.contains("workspace = true"),
        "{manifest}"
    );
    assert!(manifest.contains("target ghes-3.17"), "{manifest}");

    // `--check` compares with DIR: fresh now, stale after an edit.
    let check = xtask(&[&args[..], &["--check"]].concat());
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let lib = dir.join("src/lib.rs");
    std::fs::write(&lib, std::fs::read_to_string(&lib).unwrap() + "// edited\n").unwrap();
    let check = xtask(&[&args[..], &["--check"]].concat());
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        !check.status.success() && stderr.contains("src/lib.rs (differs)"),
        "{stderr}"
    );
    let run = xtask(&args);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    // The crate is a workspace of its own: it builds where it is, with one small feature.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args([
            "check",
            "--quiet",
            "--no-default-features",
            "--features",
            "issues",
        ])
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", regen::standalone_target_dir(&root))
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );

    assert!(
        before == digest(&root.join("generated")),
        "generated/ was modified"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_regen_did_not_write_is_refused() {
    let dir = std::env::temp_dir().join(format!("xtask-out-foreign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let run = xtask(&[
        "regen",
        "--target",
        "ghes-3.17",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("refusing to write there"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn workspace_inheritance_is_resolved_with_the_workspace_versions() {
    let workspace = r#"
[workspace.package]
edition = "2021"
license = "MIT"

[workspace.dependencies]
bytes = "1"
serde_json = "1"
reqwest = { version = "0.12", default-features = false, features = ["json"] }
"#;
    let member = r#"# header
[package]
name = "x"
edition.workspace = true
license.workspace = true

[dependencies]
bytes.workspace = true
serde_json = { workspace = true, features = ["raw_value"] }
reqwest = { workspace = true, features = ["json", "stream"] }
url = "2"
"#;
    let out = regen::standalone_manifest(workspace, member).unwrap();
    assert_eq!(
        out,
        r#"# header
[package]
name = "x"
edition = "2021"
license = "MIT"

[dependencies]
bytes = "1"
serde_json = { version = "1", features = ["raw_value"] }
reqwest = { version = "0.12", default-features = false, features = ["json", "stream"] }
url = "2"

[workspace]
"#
    );
}
