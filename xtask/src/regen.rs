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
    /// Path under `generated/` → contents.
    pub files: BTreeMap<String, Vec<u8>>,
    pub operations: usize,
    pub types: usize,
    pub patches: Vec<String>,
    pub passes: Vec<(&'static str, usize)>,
}

/// A prepared description, the patches applied to it, and each normalisation pass with the number of changes it
/// made.
pub type Prepared = (crate::spec::Spec, Vec<String>, Vec<(&'static str, usize)>);

/// Stages 1–3: the description of `target` as the generator sees it: verified, patched and normalised.
pub fn prepared(root: &Path, target: &str) -> Result<Prepared> {
    let mut spec = crate::spec::load(root, target)?;
    let patches = crate::patches::apply(root, target, &mut spec.json)?;
    let passes = crate::normalize::run(&mut spec.json);
    Ok((spec, patches, passes))
}

/// The operation ids of each target, for the availability pass.
pub type Targets = Vec<(String, std::collections::BTreeSet<String>)>;

/// Runs every stage for `target` without touching the disk (apart from reading the descriptions and patches).
pub fn generate(root: &Path, target: &str) -> Result<Generated> {
    std::thread::scope(|scope| {
        // Which targets have each operation needs every target's description: read them on another core while this
        // one prepares the target's own.
        let targets = scope.spawn(|| crate::spec::operation_ids_by_target(root));
        let (spec, patches, passes) = prepared(root, target)?;
        lap("loaded, patched, normalised");
        let targets = || targets.join().expect("reading the targets does not panic");
        from_description(&spec, patches, passes, targets)
    })
}

/// `XTASK_TIMINGS=1` prints how long each stage took.
fn lap(what: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    if std::env::var_os("XTASK_TIMINGS").is_some() {
        eprintln!("{what}: {:.2?}", start.elapsed());
    }
}

/// Stages 4–7 on a prepared description: lower, passes, emit, lay out (validating the document beside them).
pub fn from_description(
    spec: &crate::spec::Spec,
    patches: Vec<String>,
    passes: Vec<(&'static str, usize)>,
    targets: impl FnOnce() -> Result<Targets>,
) -> Result<Generated> {
    std::thread::scope(|scope| {
        // Structural validation with openapiv3, beside lowering: a document it cannot read is reported with the
        // failing path.
        let validation = scope.spawn(|| {
            serde_json::from_value::<openapiv3::OpenAPI>(spec.json.clone())
                .map(|_| ())
                .map_err(|e| anyhow::anyhow!("{} does not parse as OpenAPI 3.0: {e}", spec.file))
        });
        let mut model = crate::lower::lower(&spec.json)?;
        lap("lowered");
        crate::passes::run(&mut model, &targets()?);
        lap("passes");
        let output = crate::emit::emit(spec, &model, &patches, &passes)?;
        lap("emitted");
        validation.join().expect("validation does not panic")?;
        let files = crate::layout::files(spec, output)?;
        lap("laid out");
        Ok(Generated {
            files,
            operations: model.operations.len(),
            types: model.emitted().count(),
            patches,
            passes,
        })
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
            Ok(bytes) if bytes == *text => {}
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
        if std::fs::read(&p).ok().as_deref() != Some(text.as_slice()) {
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
