//! `cargo xtask regen`: generate the crate in memory, then write it or compare it with what is on disk.

use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Where the generated crate lives.
pub fn out_dir(root: &Path) -> PathBuf {
    root.join("generated")
}

pub struct Generated {
    pub files: BTreeMap<String, String>,
    pub operations: usize,
    pub types: usize,
    pub patches: Vec<String>,
    pub passes: Vec<(&'static str, usize)>,
}

/// A prepared spec, the patches applied to it, and each normalisation pass with the number of changes it made.
pub type Prepared = (crate::spec::Spec, Vec<String>, Vec<(&'static str, usize)>);

/// The spec of `target` as the generator sees it: verified, patched and normalised.
pub fn prepared(root: &Path, target: &str) -> Result<Prepared> {
    let mut spec = crate::spec::load(root, target)?;
    let patches = crate::overlay::apply(root, target, &mut spec.json)?;
    let passes = crate::normalize::run(&mut spec.json);
    Ok((spec, patches, passes))
}

/// Runs the whole pipeline for `target` without touching the disk (apart from reading the spec and patches).
pub fn generate(root: &Path, target: &str) -> Result<Generated> {
    // `XTASK_TIMINGS=1` prints how long each phase took.
    let t0 = std::time::Instant::now();
    let lap = |what: &str| {
        if std::env::var_os("XTASK_TIMINGS").is_some() {
            eprintln!("{what}: {:.2?}", t0.elapsed());
        }
    };
    let (spec, patches, passes) = prepared(root, target)?;
    lap("spec loaded, patched, normalised");
    // Structural validation with openapiv3: a document it cannot read is reported with the failing path.
    if let Err(e) = serde_json::from_value::<openapiv3::OpenAPI>(spec.json.clone()) {
        bail!("{} does not parse as OpenAPI 3.0: {e}", spec.file);
    }
    let mut ts = crate::types::TypeSpace::new(&spec.json);
    let mut errors = crate::endpoints::ErrorTable::default();
    let mut ops = crate::endpoints::collect(&spec.json, &mut ts, &mut errors)?;
    let map = ts.merge_identical();
    for op in &mut ops {
        op.remap(&map);
    }
    errors.remap(&map, &mut ops);
    lap("types and operations collected");
    let by_target = crate::spec::operation_ids_by_target(root)?;
    lap("availability across targets");
    for op in &mut ops {
        op.available = by_target
            .iter()
            .filter(|(_, ids)| ids.contains(&op.id))
            .map(|(t, _)| t.clone())
            .collect();
    }
    ts.break_cycles();
    let manifest = crate::manifest::build(&spec, &ts, &ops, &patches, &passes);
    let files = crate::split::files(&spec, &ts, &ops, &errors, manifest)?;
    lap("files emitted and formatted");
    let types = ts
        .defs
        .iter()
        .filter(|d| d.core || !d.features.is_empty())
        .count();
    Ok(Generated {
        files,
        operations: ops.len(),
        types,
        patches,
        passes,
    })
}

/// Files under `dir` (relative paths), skipping build output.
fn existing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// Names every file that differs: missing, different, or stale (on disk but no longer generated).
pub fn stale_files(root: &Path, g: &Generated) -> Vec<String> {
    let dir = out_dir(root);
    let mut bad = Vec::new();
    for (rel, text) in &g.files {
        match std::fs::read(dir.join(rel)) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            Ok(_) => bad.push(format!("{rel} (differs)")),
            Err(_) => bad.push(format!("{rel} (missing)")),
        }
    }
    for rel in existing(&dir) {
        if !g.files.contains_key(&rel) {
            bad.push(format!("{rel} (stale: no longer generated)"));
        }
    }
    bad
}

/// The freshness check behind `regen --check` and the test suite.
pub fn check(root: &Path, target: &str) -> Result<()> {
    let g = generate(root, target)?;
    let bad = stale_files(root, &g);
    if !bad.is_empty() {
        bail!("generated/ is out of date for target {target}; run `cargo xtask regen --target {target}`. Stale files:\n  {}", bad.join("\n  "));
    }
    Ok(())
}

/// Generates and writes `target`; on any error nothing under `generated/` is touched.
pub fn regen(root: &Path, target: &str) -> Result<Generated> {
    let g = generate(root, target)?;
    write(root, &g)?;
    Ok(g)
}

/// Writes the generated crate, removing files that are no longer generated.
pub fn write(root: &Path, g: &Generated) -> Result<()> {
    let dir = out_dir(root);
    for rel in existing(&dir) {
        if !g.files.contains_key(&rel) {
            std::fs::remove_file(dir.join(&rel))?;
        }
    }
    for (rel, text) in &g.files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if std::fs::read(&p).ok().as_deref() != Some(text.as_bytes()) {
            std::fs::write(&p, text)?;
        }
    }
    // Remove directories left empty.
    if let Ok(rd) = std::fs::read_dir(dir.join("src")) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
    Ok(())
}
