//! `cargo xtask regen`: generate the crate in memory, then write it or compare it with what is on disk.

use anyhow::{bail, Context, Result};
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
    prepared_with(root, target, &[])
}

/// [`prepared`], with `extra` patch files (same format as `openapi/patches/`) applied after the repository's own.
pub fn prepared_with(root: &Path, target: &str, extra: &[PathBuf]) -> Result<Prepared> {
    let mut spec = crate::spec::load(root, target)?;
    let mut patches = crate::patches::apply(root, target, &mut spec.json)?;
    for file in extra {
        patches.push(crate::patches::apply_file(file, target, &mut spec.json)?);
    }
    let passes = crate::normalize::run(&mut spec.json);
    Ok((spec, patches, passes))
}

/// The operation ids of each target, for the availability pass.
pub type Targets = Vec<(String, std::collections::BTreeSet<String>)>;

/// Runs every stage for `target` without touching the disk (apart from reading the descriptions and patches).
pub fn generate(root: &Path, target: &str) -> Result<Generated> {
    generate_crate(root, target, crate::emit::CRATE_NAME, &[])
}

/// [`generate`] for a crate named `name`, with `extra` patch files applied after `openapi/patches/`.
pub fn generate_crate(
    root: &Path,
    target: &str,
    name: &str,
    extra: &[PathBuf],
) -> Result<Generated> {
    std::thread::scope(|scope| {
        // Which targets have each operation needs every target's description: read them on another core while this
        // one prepares the target's own.
        let targets = scope.spawn(|| crate::spec::operation_ids_by_target(root));
        let (spec, patches, passes) = prepared_with(root, target, extra)?;
        lap("loaded, patched, normalised");
        let targets = || targets.join().expect("reading the targets does not panic");
        from_description_named(&spec, patches, passes, targets, name)
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
    from_description_named(spec, patches, passes, targets, crate::emit::CRATE_NAME)
}

/// [`from_description`] for a crate whose package is named `name`.
pub fn from_description_named(
    spec: &crate::spec::Spec,
    patches: Vec<String>,
    passes: Vec<(&'static str, usize)>,
    targets: impl FnOnce() -> Result<Targets>,
    name: &str,
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
        let output = crate::emit::emit(spec, &model, &patches, &passes, name)?;
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
                // A standalone crate (`--out`) gets its own lock file when it is built; it is not generated.
                if rel == Path::new("Cargo.lock") {
                    continue;
                }
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

/// Names every file under `generated/` that differs: missing, different, or stale (on disk but no longer generated).
pub fn stale_files(root: &Path, g: &Generated) -> Vec<String> {
    stale_in(&out_dir(root), g)
}

/// Names every file under `dir` that differs from `g`.
pub fn stale_in(dir: &Path, g: &Generated) -> Vec<String> {
    let mut bad = Vec::new();
    for (rel, text) in &g.files {
        match std::fs::read(dir.join(rel)) {
            Ok(bytes) if bytes == *text => {}
            Ok(_) => bad.push(format!("{rel} (differs)")),
            Err(_) => bad.push(format!("{rel} (missing)")),
        }
    }
    for rel in existing(dir) {
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
    write_to(&out_dir(root), g)
}

/// Writes `g` under `dir`, removing files there that are no longer generated.
pub fn write_to(dir: &Path, g: &Generated) -> Result<()> {
    for rel in existing(dir) {
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

/// The first bytes of every generated `Cargo.toml`: a directory whose manifest starts otherwise is not ours to
/// overwrite.
const MANIFEST_HEADER: &str = "# @generated by `cargo xtask regen`";

/// `cargo xtask regen --out DIR --crate-name NAME`: the crate for `target` as a standalone package `name` (explicit
/// edition, licence and dependency versions, the workspace's own, and an empty `[workspace]` table), without
/// touching `generated/`. `extra` patch files are applied after `openapi/patches/`.
pub fn generate_standalone(
    root: &Path,
    target: &str,
    name: &str,
    extra: &[PathBuf],
) -> Result<Generated> {
    let mut g = generate_crate(root, target, name, extra)?;
    let workspace = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let manifest = g
        .files
        .get_mut("Cargo.toml")
        .expect("a manifest is generated");
    let text = standalone_manifest(&workspace, std::str::from_utf8(manifest)?)?;
    *manifest = text.into_bytes();
    Ok(g)
}

/// Writes the standalone crate `g` to `dir`. `dir` must be missing, empty, or hold a crate regen wrote before (its
/// `Cargo.toml` starts with the generated-file header): files there that are no longer generated are removed, so any
/// other directory is refused.
pub fn write_standalone(dir: &Path, g: &Generated) -> Result<()> {
    let has_files = std::fs::read_dir(dir).is_ok_and(|mut rd| rd.next().is_some());
    if has_files {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        if !manifest.starts_with(MANIFEST_HEADER) {
            bail!(
                "{} is not empty and holds no crate written by `cargo xtask regen`; refusing to write there",
                dir.display()
            );
        }
    }
    if dir.canonicalize().ok() == out_dir(&root()).canonicalize().ok() {
        bail!("--out must not be generated/ (plain `cargo xtask regen` writes it)");
    }
    std::fs::create_dir_all(dir)?;
    write_to(dir, g)?;
    // The workspace's lock file, so the crate builds with the very versions the workspace was tested with (cargo
    // drops the entries it does not need on the first build). It is not a generated file: `--check` ignores it.
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"))?;
    Ok(())
}

/// The target directory the standalone crates are built in (`$CARGO_TARGET_DIR` or `target/`, then `standalone/`):
/// one shared directory so that their dependencies are built once, and not the workspace's own, whose lock a running
/// `cargo test` holds.
pub fn standalone_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("standalone")
}

/// `regen --check --out DIR`: fails naming the files under `dir` that differ from the standalone crate.
pub fn check_standalone(dir: &Path, g: &Generated) -> Result<()> {
    let bad = stale_in(dir, g);
    if !bad.is_empty() {
        bail!(
            "{} is out of date; run the same `cargo xtask regen --out` without --check. Stale files:\n  {}",
            dir.display(),
            bad.join("\n  ")
        );
    }
    Ok(())
}

/// Resolves a member manifest's workspace inheritance (`edition.workspace = true`, `bytes.workspace = true`,
/// `serde_json = { workspace = true, features = [..] }`) against the workspace manifest's `[workspace.package]` and
/// `[workspace.dependencies]`, and adds an empty `[workspace]` table so the package is a workspace of its own
/// wherever it is put. Comments and order are kept.
pub fn standalone_manifest(workspace: &str, member: &str) -> Result<String> {
    use toml_edit::{DocumentMut, Item, Table};
    let ws: DocumentMut = workspace.parse().context("the workspace Cargo.toml")?;
    let mut doc: DocumentMut = member.parse().context("the generated Cargo.toml")?;
    let inherits = |item: &Item| {
        item.as_table_like()
            .and_then(|t| t.get("workspace"))
            .and_then(Item::as_bool)
            == Some(true)
    };
    let ws_package = ws
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(Item::as_table_like);
    if let Some(package) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
        for (key, item) in package.iter_mut() {
            if !inherits(item) {
                continue;
            }
            let value = ws_package
                .and_then(|p| p.get(&key))
                .and_then(Item::as_value)
                .with_context(|| format!("[workspace.package] has no `{key}`"))?;
            *item = Item::Value(value.clone().decorated(" ", ""));
        }
    }
    let ws_deps = ws
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Item::as_table_like);
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        let Some(deps) = doc.get_mut(section).and_then(Item::as_table_like_mut) else {
            continue;
        };
        for (key, item) in deps.iter_mut() {
            if !inherits(item) {
                continue;
            }
            let base = ws_deps
                .and_then(|d| d.get(&key))
                .and_then(Item::as_value)
                .with_context(|| format!("[workspace.dependencies] has no `{key}`"))?;
            let member = item
                .as_table_like()
                .expect("an inheriting entry is a table");
            *item = Item::Value(dependency(base, member)?);
        }
    }
    doc.insert("workspace", Item::Table(Table::new()));
    Ok(doc.to_string())
}

/// One dependency of a standalone manifest: the workspace's entry `base`, plus the member's own keys (`features`
/// added to the workspace's, `optional`, …). A plain version stays a plain string when nothing is added.
fn dependency(
    base: &toml_edit::Value,
    member: &dyn toml_edit::TableLike,
) -> Result<toml_edit::Value> {
    use toml_edit::{Array, InlineTable, Value};
    let extra: Vec<(&str, &toml_edit::Item)> =
        member.iter().filter(|(k, _)| *k != "workspace").collect();
    if extra.is_empty() {
        return Ok(base.clone().decorated(" ", ""));
    }
    let mut table = match base {
        Value::String(_) => {
            let mut t = InlineTable::new();
            t.insert("version", base.clone());
            t
        }
        Value::InlineTable(t) => t.clone(),
        other => bail!("a workspace dependency is a version or a table, not {other}"),
    };
    for (key, item) in extra {
        let value = item
            .as_value()
            .with_context(|| format!("`{key}` of an inheriting dependency is a value"))?;
        if key == "features" {
            let mut features: Vec<String> = table
                .get("features")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .chain(value.as_array().into_iter().flatten())
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            features.dedup();
            table.insert(
                "features",
                Value::Array(features.into_iter().collect::<Array>()),
            );
        } else {
            table.insert(key, value.clone());
        }
    }
    table.fmt();
    Ok(Value::InlineTable(table).decorated(" ", ""))
}
