//! Patches in `openapi/patches/`: each file fixes one upstream defect with an RFC 6902 JSON Patch.
//!
//! ```json
//! { "defect": "what is wrong upstream and how it shows", "targets": ["api.github.com", "ghec"], "patch": [ ... ] }
//! ```
//! `targets` may hold `"*"`. A patch that no longer applies (upstream fixed it, or moved the schema) is an error, so
//! stale patches are noticed rather than silently skipped.

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

#[derive(Deserialize)]
pub struct PatchFile {
    pub defect: String,
    pub targets: Vec<String>,
    pub patch: json_patch::Patch,
}

/// Applies every patch for `target`; returns the names of the patches applied.
pub fn apply(root: &Path, target: &str, spec: &mut Value) -> Result<Vec<String>> {
    let dir = root.join("openapi/patches");
    let mut files: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect(),
        Err(_) => return Ok(Vec::new()),
    };
    files.sort();
    let mut applied = Vec::new();
    for path in files {
        let pf = read(&path)?;
        if !pf.targets.iter().any(|t| t == "*" || t == target) {
            continue;
        }
        patch(&path, &pf, target, spec)?;
        applied.push(path.file_name().unwrap().to_string_lossy().to_string());
    }
    Ok(applied)
}

/// Applies one patch file from anywhere (an overlay such as `xtask/semver/`); unlike the repository's patches it
/// must name `target` (or `"*"`), so an overlay that would silently do nothing is an error. Returns its file name.
pub fn apply_file(path: &Path, target: &str, spec: &mut Value) -> Result<String> {
    let pf = read(path)?;
    if !pf.targets.iter().any(|t| t == "*" || t == target) {
        anyhow::bail!("patch {} is not for target {target}", path.display());
    }
    patch(path, &pf, target, spec)?;
    Ok(path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string())
}

fn read(path: &Path) -> Result<PatchFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read patch file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid patch file", path.display()))
}

fn patch(path: &Path, pf: &PatchFile, target: &str, spec: &mut Value) -> Result<()> {
    json_patch::patch(spec, &pf.patch).with_context(|| {
        format!(
            "patch {} ({}) does not apply to {target}",
            path.display(),
            pf.defect
        )
    })
}
