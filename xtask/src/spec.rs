//! The pinned specs in `openapi/`: the lock file, sha256 verification, decompression and parsing.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Targets the generator knows, in the order `check-all` runs them.
pub const TARGETS: &[&str] = &[
    "api.github.com",
    "ghec",
    "ghes-3.17",
    "ghes-3.18",
    "ghes-3.19",
];

/// `openapi/lock.json`: where the vendored files came from and what they must hash to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lock {
    /// The npm package the files were taken from.
    pub source: String,
    /// Its version.
    pub version: String,
    pub files: Vec<LockedFile>,
    /// Older descriptions of a target, read only to date its required fields (`normalize::required_since`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<ReferenceFile>,
    /// Recorded webhook deliveries, read only as evidence of the fields GitHub leaves out of webhook payloads
    /// (`normalize::required_from_deliveries`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<DeliveriesFile>,
}

/// A corpus of recorded webhook deliveries: a JSON array of `{"name": event, "examples": [payload…]}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveriesFile {
    /// The package it was taken from (`npm:@octokit/webhooks-examples`).
    pub source: String,
    pub version: String,
    /// File name under `openapi/` (gzip-compressed JSON).
    pub file: String,
    /// Path of the file inside the package.
    pub upstream: String,
    /// sha256 of the compressed file as stored.
    pub sha256: String,
    /// sha256 of the decompressed JSON (the upstream file re-serialised compactly, values unchanged).
    pub json_sha256: String,
}

/// A reference description: the description of `target` published when its servers were released.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceFile {
    pub target: String,
    /// Version of the npm package (the lock's `source`) the file was taken from.
    pub version: String,
    /// Why this version: which release of the package it is for the target.
    pub why: String,
    /// File name under `openapi/` (gzip-compressed JSON).
    pub file: String,
    /// Path of the file inside the npm package.
    pub upstream: String,
    pub sha256: String,
    pub json_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockedFile {
    pub target: String,
    /// File name under `openapi/` (gzip-compressed JSON).
    pub file: String,
    /// Path of the file inside the npm package.
    pub upstream: String,
    /// sha256 of the compressed file as stored; checked before anything is decompressed.
    pub sha256: String,
    /// sha256 of the decompressed JSON, i.e. of the upstream file byte for byte.
    pub json_sha256: String,
}

/// A loaded, verified spec.
pub struct Spec {
    pub target: String,
    pub source: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub json: serde_json::Value,
}

pub fn openapi_dir(root: &Path) -> PathBuf {
    root.join("openapi")
}

pub fn read_lock(root: &Path) -> Result<Lock> {
    let path = openapi_dir(root).join("lock.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid lock file", path.display()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Loads the spec of `target`, verifying both hashes from the lock before parsing.
pub fn load(root: &Path, target: &str) -> Result<Spec> {
    let lock = read_lock(root)?;
    let (entry, raw) = read_verified(root, &lock, target)?;
    let path = openapi_dir(root).join(&entry.file);
    let json = parse_json(&raw)
        .with_context(|| format!("{} is not a valid OpenAPI document", path.display()))?;
    Ok(Spec {
        target: target.to_string(),
        source: lock.source.clone(),
        version: lock.version.clone(),
        file: entry.file.clone(),
        sha256: entry.sha256.clone(),
        json,
    })
}

/// The decompressed description of `target`, both hashes checked against the lock.
fn read_verified<'l>(
    root: &Path,
    lock: &'l Lock,
    target: &str,
) -> Result<(&'l LockedFile, Vec<u8>)> {
    let Some(entry) = lock.files.iter().find(|f| f.target == target) else {
        let known: Vec<&str> = lock.files.iter().map(|f| f.target.as_str()).collect();
        bail!(
            "unknown target `{target}`; the lock file knows: {}",
            known.join(", ")
        );
    };
    let raw = read_gz_verified(root, &entry.file, &entry.sha256, &entry.json_sha256)?;
    Ok((entry, raw))
}

/// Reads a pinned gzip file under `openapi/`, checking the hash of the file and of its content.
fn read_gz_verified(root: &Path, file: &str, sha256: &str, json_sha256: &str) -> Result<Vec<u8>> {
    let path = openapi_dir(root).join(file);
    let compressed = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let got = sha256_hex(&compressed);
    if got != sha256 {
        bail!(
            "sha256 mismatch for {}: lock says {sha256}, file has {got}; refusing to read it (run `cargo xtask fetch-spec` to refresh the pinned files)",
            path.display()
        );
    }
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut raw)
        .with_context(|| format!("{} is not valid gzip", path.display()))?;
    let got = sha256_hex(&raw);
    if got != json_sha256 {
        bail!(
            "sha256 mismatch for the decompressed {}: lock says {json_sha256}, content has {got}",
            path.display()
        );
    }
    Ok(raw)
}

/// Reads a pinned gzip file under `openapi/`, checking both hashes before parsing.
fn read_verified_json(
    root: &Path,
    file: &str,
    sha256: &str,
    json_sha256: &str,
) -> Result<serde_json::Value> {
    let raw = read_gz_verified(root, file, sha256, json_sha256)?;
    let path = openapi_dir(root).join(file);
    parse_json(&raw).with_context(|| format!("{} is not a valid OpenAPI document", path.display()))
}

/// The reference description of `target` (verified like the pinned one), or `None` when the lock has none.
pub fn load_reference(
    root: &Path,
    target: &str,
) -> Result<Option<(ReferenceFile, serde_json::Value)>> {
    let lock = read_lock(root)?;
    let Some(r) = lock.references.into_iter().find(|r| r.target == target) else {
        return Ok(None);
    };
    let json = read_verified_json(root, &r.file, &r.sha256, &r.json_sha256)?;
    Ok(Some((r, json)))
}

/// The recorded webhook deliveries of the lock (verified like the descriptions), or `None` when it lists none.
pub fn load_deliveries(root: &Path) -> Result<Option<serde_json::Value>> {
    let Some(d) = read_lock(root)?.deliveries else {
        return Ok(None);
    };
    let raw = read_gz_verified(root, &d.file, &d.sha256, &d.json_sha256)?;
    Ok(Some(serde_json::from_slice(&raw).with_context(|| {
        format!("{} is not valid JSON", d.file)
    })?))
}

/// `npm pack PKG` into a temporary directory; returns the files of the tarball whose paths `want` accepts.
fn npm_pack(pkg: &str, want: impl Fn(&str) -> bool) -> Result<Vec<(String, Vec<u8>)>> {
    let tmp = std::env::temp_dir().join(format!("xtask-npm-pack-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let out = std::process::Command::new("npm")
        .args(["pack", pkg, "--silent", "--pack-destination"])
        .arg(&tmp)
        .output()
        .context("running `npm pack` (is npm installed?)")?;
    if !out.status.success() {
        bail!(
            "`npm pack {pkg}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tgz_name = String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let tgz = std::fs::read(tmp.join(&tgz_name))
        .with_context(|| format!("reading the packed tarball {tgz_name}"))?;
    let _ = std::fs::remove_dir_all(&tmp);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&tgz[..]));
    let mut wanted = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().to_string();
        if want(&path) {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            wanted.push((path, buf));
        }
    }
    Ok(wanted)
}

/// `cargo xtask fetch-reference --target T --version V`: pins `T`'s description from `@octokit/openapi@V` as the
/// reference `normalize::required_since` dates `T`'s required fields by, and records it in the lock. A deliberate
/// re-pin: compare the outcome with `cargo xtask diff`.
pub fn fetch_reference(root: &Path, target: &str, version: &str, why: &str) -> Result<()> {
    let mut lock = read_lock(root)?;
    let pkg = format!("@octokit/openapi@{version}");
    let upstream = format!("package/generated/{target}.json");
    let files = npm_pack(&pkg, |p| p == upstream)?;
    let Some((_, raw)) = files.first() else {
        bail!("{pkg} has no {upstream}");
    };
    let new_reference = parse_json(raw).with_context(|| format!("{upstream} in {pkg}"))?;
    // What the re-pin changes: fields that become optional, and fields that become required again.
    let mut pinned = load(root, target)?;
    crate::patches::apply(root, target, &mut pinned.json)?;
    let before = match load_reference(root, target)? {
        Some((_, old)) => crate::normalize::required_since::relaxations(&pinned.json, &old),
        None => Vec::new(),
    };
    let after = crate::normalize::required_since::relaxations(&pinned.json, &new_reference);
    println!(
        "## {target}: reference {version}, {} required fields relaxed (before: {})",
        after.len(),
        before.len()
    );
    for (ptr, field) in after.iter().filter(|r| !before.contains(r)) {
        println!("- now optional: `{field}` at `{ptr}`");
    }
    for (ptr, field) in before.iter().filter(|r| !after.contains(r)) {
        println!("- required again: `{field}` at `{ptr}`");
    }
    let gz = gzip(raw)?;
    let file = format!("reference/{target}.json.gz");
    std::fs::create_dir_all(openapi_dir(root).join("reference"))?;
    std::fs::write(openapi_dir(root).join(&file), &gz)?;
    lock.references.retain(|r| r.target != target);
    lock.references.push(ReferenceFile {
        target: target.into(),
        version: version.into(),
        why: why.into(),
        file,
        upstream: upstream.clone(),
        sha256: sha256_hex(&gz),
        json_sha256: sha256_hex(raw),
    });
    lock.references.sort_by(|a, b| a.target.cmp(&b.target));
    std::fs::write(
        openapi_dir(root).join("lock.json"),
        serde_json::to_string_pretty(&lock)? + "\n",
    )?;
    eprintln!("pinned {pkg} {upstream} as the reference of {target}");
    Ok(())
}

/// The operation ids of every target in the lock (verified like any load), for the availability of operations.
/// Only `paths` is read, skipping everything but `operationId`, which is several times faster than a full parse.
pub fn operation_ids_by_target(root: &Path) -> Result<Vec<(String, BTreeSet<String>)>> {
    #[derive(serde::Deserialize)]
    struct Doc {
        paths: BTreeMap<String, BTreeMap<String, OperationId>>,
    }
    let lock = read_lock(root)?;
    let mut out = Vec::new();
    for t in TARGETS {
        let (entry, raw) = read_verified(root, &lock, t)?;
        let doc: Doc = serde_json::from_slice(&raw)
            .with_context(|| format!("{} has no readable `paths`", entry.file))?;
        let ids = doc
            .paths
            .into_values()
            .flat_map(BTreeMap::into_values)
            .filter_map(|o| o.0)
            .collect();
        out.push((t.to_string(), ids));
    }
    Ok(out)
}

/// The `operationId` of a path item's entry; `None` for entries that are not operations (`parameters`, `servers`).
struct OperationId(Option<String>);

impl<'de> serde::Deserialize<'de> for OperationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = OperationId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a path item entry")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OperationId, A::Error> {
                let mut id = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "operationId" {
                        id = Some(map.next_value::<String>()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(OperationId(id))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<OperationId, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(OperationId(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<OperationId, E> {
                Ok(OperationId(None))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Parses a spec document, with a message that points at the line and column of a syntax error.
pub fn parse_json(raw: &[u8]) -> Result<serde_json::Value> {
    let json: serde_json::Value = serde_json::from_slice(raw).map_err(|e| {
        anyhow::anyhow!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let version = json.get("openapi").and_then(|v| v.as_str()).unwrap_or("");
    if !version.starts_with("3.0") {
        bail!("expected an OpenAPI 3.0 document, found openapi = {version:?}");
    }
    if !json.get("paths").is_some_and(|p| p.is_object()) {
        bail!("the document has no `paths` object");
    }
    Ok(json)
}

/// Gzip with fixed settings, so the same input always gives the same bytes.
pub fn gzip(raw: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(raw)?;
    Ok(enc.finish()?)
}

/// `cargo xtask fetch-spec --version V`: downloads `@octokit/openapi@V` with npm and rewrites the pinned files and lock.
pub fn fetch(root: &Path, version: &str) -> Result<()> {
    let pkg = format!("@octokit/openapi@{version}");
    let wanted = npm_pack(&pkg, |path| {
        TARGETS
            .iter()
            .any(|t| path == format!("package/generated/{t}.json"))
    })?;
    let mut files = Vec::new();
    for target in TARGETS {
        let upstream = format!("package/generated/{target}.json");
        let Some((_, raw)) = wanted.iter().find(|(p, _)| *p == upstream) else {
            bail!("{pkg} has no {upstream}");
        };
        parse_json(raw).with_context(|| format!("{upstream} in {pkg}"))?;
        let gz = gzip(raw)?;
        let file = format!("{target}.json.gz");
        std::fs::write(openapi_dir(root).join(&file), &gz)?;
        files.push(LockedFile {
            target: target.to_string(),
            file,
            upstream,
            sha256: sha256_hex(&gz),
            json_sha256: sha256_hex(raw),
        });
    }
    // The reference descriptions stay as pinned: they change only through `fetch-reference`.
    let old = read_lock(root).ok();
    let lock = Lock {
        source: "npm:@octokit/openapi".into(),
        version: version.into(),
        files,
        references: old
            .as_ref()
            .map(|l| l.references.clone())
            .unwrap_or_default(),
        deliveries: old.and_then(|l| l.deliveries),
    };
    std::fs::write(
        openapi_dir(root).join("lock.json"),
        serde_json::to_string_pretty(&lock)? + "\n",
    )?;
    eprintln!("pinned {pkg}: {} files", lock.files.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_json_is_a_clear_error() {
        let err = parse_json(b"{\"openapi\": \"3.0.3\", \"paths\": {")
            .unwrap_err()
            .to_string();
        assert!(err.contains("malformed JSON at line 1"), "{err}");
    }

    #[test]
    fn wrong_openapi_version_is_rejected() {
        let err = parse_json(br#"{"openapi": "2.0", "paths": {}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("OpenAPI 3.0"), "{err}");
    }

    #[test]
    fn gzip_is_deterministic() {
        assert_eq!(gzip(b"hello").unwrap(), gzip(b"hello").unwrap());
    }
}
