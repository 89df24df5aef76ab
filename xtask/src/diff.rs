//! `cargo xtask diff A B`: the operations added, removed and changed between two targets (or two spec files), as
//! Markdown, for someone deciding on a GHES upgrade or a spec bump.
//!
//! A and B are target names from the lock file (compared as the generator sees them: patched and normalised) or
//! paths to spec files (`.json` or `.json.gz`, e.g. another `@octokit/openapi` version unpacked by hand).

use crate::lower::METHODS;
use anyhow::{Context, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

/// Documentation-only keywords: a change in them is not an API change.
const DOC_KEYS: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "summary",
    "x-github",
    "x-octokit",
    "x-github-breaking-changes",
];

fn load(root: &Path, what: &str) -> Result<(String, Value)> {
    if crate::spec::read_lock(root)?
        .files
        .iter()
        .any(|f| f.target == what)
    {
        let (spec, _, _) = crate::regen::prepared(root, what)?;
        return Ok((
            format!("{} ({} {})", what, spec.source, spec.version),
            spec.json,
        ));
    }
    let raw = std::fs::read(what).with_context(|| {
        format!("`{what}` is neither a target of the lock file nor a readable spec file")
    })?;
    let raw = if what.ends_with(".gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut out)
            .with_context(|| format!("{what} is not valid gzip"))?;
        out
    } else {
        raw
    };
    let mut json = crate::spec::parse_json(&raw).with_context(|| format!("reading {what}"))?;
    crate::normalize::run(&mut json);
    Ok((what.to_string(), json))
}

thread_local! {
    /// Expansions of `$ref`s by (spec address, ref, depth): components are expanded once, not once per use.
    static EXPANDED: std::cell::RefCell<std::collections::HashMap<(usize, String, usize), Value>> = Default::default();
}

/// A schema with `$ref`s inlined (to a bounded depth, so recursive schemas end) and documentation removed.
fn expand(spec: &Value, v: &Value, depth: usize) -> Value {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        let key = (spec as *const Value as usize, r.to_string(), depth);
        if let Some(hit) = EXPANDED.with(|c| c.borrow().get(&key).cloned()) {
            return hit;
        }
        let out = expand_uncached(spec, v, depth);
        EXPANDED.with(|c| c.borrow_mut().insert(key, out.clone()));
        return out;
    }
    expand_uncached(spec, v, depth)
}

fn expand_uncached(spec: &Value, v: &Value, depth: usize) -> Value {
    // Deep enough for the fields of nested objects (`repository.owner.login`), shallow enough to stay fast.
    if depth > 4 {
        return v
            .get("$ref")
            .map(|r| serde_json::json!({ "$ref": r }))
            .unwrap_or(Value::Null);
    }
    let v = crate::lower::schema::resolve(spec, v);
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !DOC_KEYS.contains(&k.as_str()))
                .map(|(k, c)| {
                    let c = if k == "properties" {
                        Value::Object(
                            c.as_object()
                                .map(|p| {
                                    p.iter()
                                        .map(|(n, s)| (n.clone(), expand(spec, s, depth + 1)))
                                        .collect()
                                })
                                .unwrap_or_default(),
                        )
                    } else {
                        expand(spec, c, depth + 1)
                    };
                    (k.clone(), c)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|c| expand(spec, c, depth + 1)).collect()),
        o => o.clone(),
    }
}

struct Op {
    method: String,
    path: String,
    summary: String,
    /// (in, name) → (required, schema)
    params: BTreeMap<(String, String), (bool, Value)>,
    /// media type → schema
    body: BTreeMap<String, Value>,
    /// status → media type → schema (`Null` for no body)
    responses: BTreeMap<String, BTreeMap<String, Value>>,
}

fn operations(spec: &Value) -> BTreeMap<String, Op> {
    let mut out = BTreeMap::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            out.insert(id.to_string(), operation(spec, path, m, item, op));
        }
    }
    out
}

fn operation(spec: &Value, path: &str, method: &str, item: &Value, op: &Value) -> Op {
    let listed = |v: &Value| {
        v.get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut params = BTreeMap::new();
    for p in listed(item).iter().chain(listed(op).iter()) {
        let p = crate::lower::schema::resolve(spec, p);
        let key = (
            p["in"].as_str().unwrap_or_default().to_string(),
            p["name"].as_str().unwrap_or_default().to_string(),
        );
        let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
        let schema = expand(spec, p.get("schema").unwrap_or(&Value::Null), 0);
        params.insert(key, (required, schema));
    }
    let body = op
        .get("requestBody")
        .map(|rb| media_schemas(spec, crate::lower::schema::resolve(spec, rb)))
        .unwrap_or_default();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, r)| {
            let r = crate::lower::schema::resolve(spec, r);
            (status.clone(), media_schemas(spec, r))
        })
        .collect();
    Op {
        method: method.to_uppercase(),
        path: path.to_string(),
        summary: op
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        params,
        body,
        responses,
    }
}

/// Each media type of a body or response with its schema, expanded.
fn media_schemas(spec: &Value, holder: &Value) -> BTreeMap<String, Value> {
    holder
        .get("content")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(mt, media)| {
            let schema = expand(spec, media.get("schema").unwrap_or(&Value::Null), 0);
            (mt.clone(), schema)
        })
        .collect()
}

/// What changed between two schemas, as short phrases (property names added, removed, retyped, required).
fn schema_changes(a: &Value, b: &Value, at: &str, out: &mut Vec<String>, depth: usize) {
    if a == b || depth > 3 {
        if a != b {
            out.push(format!("`{at}` changed"));
        }
        return;
    }
    let props = |v: &Value| {
        v.get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let req = |v: &Value| -> BTreeSet<String> {
        v.get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let (pa, pb) = (props(a), props(b));
    if pa.is_empty() && pb.is_empty() {
        match (a.get("items"), b.get("items")) {
            (Some(ia), Some(ib)) => schema_changes(ia, ib, &format!("{at}[]"), out, depth + 1),
            _ => out.push(format!("`{at}`: type changed")),
        }
        return;
    }
    let name = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    for k in pb.keys().filter(|k| !pa.contains_key(*k)) {
        out.push(format!(
            "`{}` added{}",
            name(k),
            if req(b).contains(k) {
                " (required)"
            } else {
                ""
            }
        ));
    }
    for k in pa.keys().filter(|k| !pb.contains_key(*k)) {
        out.push(format!("`{}` removed", name(k)));
    }
    for (k, va) in &pa {
        if let Some(vb) = pb.get(k) {
            schema_changes(va, vb, &name(k), out, depth + 1);
        }
    }
    for k in req(b).difference(&req(a)).filter(|k| pa.contains_key(*k)) {
        out.push(format!("`{}` became required", name(k)));
    }
    for k in req(a).difference(&req(b)).filter(|k| pb.contains_key(*k)) {
        out.push(format!("`{}` became optional", name(k)));
    }
    let rest = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("properties");
            m.remove("required");
        }
        v
    };
    if rest(a) != rest(b) {
        out.push(format!(
            "`{}`: schema changed (type, enum or nullability)",
            if at.is_empty() { "body" } else { at }
        ));
    }
}

fn op_changes(a: &Op, b: &Op) -> Vec<String> {
    let mut out = Vec::new();
    if a.method != b.method || a.path != b.path {
        out.push(format!(
            "moved from `{} {}` to `{} {}`",
            a.method, a.path, b.method, b.path
        ));
    }
    for (k, (req, s)) in &b.params {
        match a.params.get(k) {
            None => out.push(format!(
                "parameter `{}` ({}) added{}",
                k.1,
                k.0,
                if *req { ", required" } else { "" }
            )),
            Some((ra, sa)) => {
                if ra != req {
                    out.push(format!(
                        "parameter `{}` became {}",
                        k.1,
                        if *req { "required" } else { "optional" }
                    ));
                }
                if sa != s {
                    out.push(format!("parameter `{}`: schema changed", k.1));
                }
            }
        }
    }
    for k in a.params.keys().filter(|k| !b.params.contains_key(*k)) {
        out.push(format!("parameter `{}` ({}) removed", k.1, k.0));
    }
    for (mt, s) in &b.body {
        match a.body.get(mt) {
            None => out.push(format!("request body `{mt}` added")),
            Some(sa) => {
                let mut c = Vec::new();
                schema_changes(sa, s, "", &mut c, 0);
                out.extend(c.into_iter().map(|c| format!("request body: {c}")));
            }
        }
    }
    for mt in a.body.keys().filter(|k| !b.body.contains_key(*k)) {
        out.push(format!("request body `{mt}` removed"));
    }
    for (st, media) in &b.responses {
        match a.responses.get(st) {
            None => out.push(format!("response {st} added")),
            Some(ma) => {
                for (mt, s) in media {
                    match ma.get(mt) {
                        None => out.push(format!("response {st}: `{mt}` added")),
                        Some(sa) => {
                            let mut c = Vec::new();
                            schema_changes(sa, s, "", &mut c, 0);
                            out.extend(c.into_iter().map(|c| format!("response {st}: {c}")));
                        }
                    }
                }
                for mt in ma.keys().filter(|k| !media.contains_key(*k)) {
                    out.push(format!("response {st}: `{mt}` removed"));
                }
            }
        }
    }
    for st in a.responses.keys().filter(|k| !b.responses.contains_key(*k)) {
        out.push(format!("response {st} removed"));
    }
    out
}

/// The Markdown report comparing `a` with `b`.
pub fn report(root: &Path, a: &str, b: &str) -> Result<String> {
    let (name_a, spec_a) = load(root, a)?;
    let (name_b, spec_b) = load(root, b)?;
    Ok(render(&name_a, &spec_a, &name_b, &spec_b))
}

pub fn render(name_a: &str, spec_a: &Value, name_b: &str, spec_b: &Value) -> String {
    let (oa, ob) = (operations(spec_a), operations(spec_b));
    let added: Vec<&String> = ob.keys().filter(|k| !oa.contains_key(*k)).collect();
    let removed: Vec<&String> = oa.keys().filter(|k| !ob.contains_key(*k)).collect();
    let changed: Vec<(&String, Vec<String>)> = ob
        .iter()
        .filter_map(|(k, b)| oa.get(k).map(|a| (k, op_changes(a, b))))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    let mut md = String::new();
    let _ = writeln!(md, "# API changes from {name_a} to {name_b}\n");
    let _ = writeln!(
        md,
        "| | operations |\n|---|---:|\n| in {name_a} | {} |\n| in {name_b} | {} |",
        oa.len(),
        ob.len()
    );
    let _ = writeln!(
        md,
        "| added | {} |\n| removed | {} |\n| changed | {} |\n",
        added.len(),
        removed.len(),
        changed.len()
    );
    let table = |md: &mut String, title: &str, ids: &[&String], ops: &BTreeMap<String, Op>| {
        let _ = writeln!(md, "## {title} ({})\n", ids.len());
        if ids.is_empty() {
            let _ = writeln!(md, "None.\n");
            return;
        }
        let _ = writeln!(md, "| operation | endpoint | summary |\n|---|---|---|");
        for id in ids {
            let o = &ops[id.as_str()];
            let _ = writeln!(
                md,
                "| `{id}` | `{} {}` | {} |",
                o.method,
                o.path,
                o.summary.replace('|', "\\|")
            );
        }
        md.push('\n');
    };
    table(&mut md, "Added", &added, &ob);
    table(&mut md, "Removed", &removed, &oa);
    let _ = writeln!(md, "## Changed ({})\n", changed.len());
    if changed.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for (id, changes) in changed {
        let o = &ob[id.as_str()];
        let _ = writeln!(md, "### `{id}` (`{} {}`)\n", o.method, o.path);
        for c in changes {
            let _ = writeln!(md, "- {c}");
        }
        md.push('\n');
    }
    webhooks_section(&mut md, name_a, spec_a, name_b, spec_b);
    type_names_section(&mut md, spec_a, spec_b);
    md
}

/// The public type names each description gives the generated crate, with a signature of each type's shape (its
/// JSON field names, enum values or union members) to recognise a type that only changed its name.
fn type_names(spec: &Value) -> BTreeMap<String, String> {
    let Ok(mut model) = crate::lower::lower(spec) else {
        return BTreeMap::new();
    };
    crate::passes::run(&mut model, &[]);
    model
        .emitted()
        .map(|(_, d)| {
            let sig = match &d.kind {
                crate::model::DefKind::Struct(fields) => {
                    let mut f: Vec<&str> = fields.iter().map(|f| f.json.as_str()).collect();
                    f.sort();
                    format!("struct {}", f.join(","))
                }
                crate::model::DefKind::Enum(vs) => {
                    let mut v: Vec<&str> = vs.iter().map(|(_, j)| j.as_str()).collect();
                    v.sort();
                    format!("enum {}", v.join(","))
                }
                crate::model::DefKind::Untagged(vs) => {
                    let v: Vec<String> = vs.iter().map(|v| model.path_string(&v.ty)).collect();
                    format!("union {}", v.join(","))
                }
                crate::model::DefKind::Pending => String::new(),
            };
            (d.name.clone(), sig)
        })
        .collect()
}

/// Renamed, added and removed Rust types: a rename breaks code that names the type, so a spec bump should list them.
fn type_names_section(md: &mut String, a: &Value, b: &Value) {
    let (ta, tb) = (type_names(a), type_names(b));
    let gone: Vec<(&String, &String)> = ta.iter().filter(|(n, _)| !tb.contains_key(*n)).collect();
    let new: Vec<(&String, &String)> = tb.iter().filter(|(n, _)| !ta.contains_key(*n)).collect();
    let mut renamed = Vec::new();
    for (old, sig) in &gone {
        let same: Vec<&&String> = new
            .iter()
            .filter(|(_, s)| s == sig)
            .map(|(n, _)| n)
            .collect();
        let before: Vec<&&String> = gone
            .iter()
            .filter(|(_, s)| s == sig)
            .map(|(n, _)| n)
            .collect();
        if let ([to], [_]) = (same.as_slice(), before.as_slice()) {
            renamed.push((*old, **to));
        }
    }
    let _ = writeln!(
        md,
        "## Rust type names\n\n{} types in the first, {} in the second: {} renamed, {} only in the first, {} only in the \
         second.\n",
        ta.len(),
        tb.len(),
        renamed.len(),
        gone.len() - renamed.len(),
        new.len() - renamed.len()
    );
    if !renamed.is_empty() {
        let _ = writeln!(md, "| renamed from | to |\n|---|---|");
        for (from, to) in renamed {
            let _ = writeln!(md, "| `{from}` | `{to}` |");
        }
        md.push('\n');
    }
}

/// Each webhook definition (`x-webhooks` key) with its event and action and its payload schema, expanded.
fn webhooks(spec: &Value) -> BTreeMap<String, (String, Option<String>, Value)> {
    let Some(hooks) = spec.get("x-webhooks").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    hooks
        .iter()
        .filter_map(|(key, item)| {
            let post = item.get("post")?;
            let schema = post.pointer("/requestBody/content/application~1json/schema")?;
            let op_id = post
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or(key);
            let resolved = crate::lower::schema::resolve(spec, schema);
            let (event, action) = crate::lower::webhooks::event_and_action(op_id, resolved);
            Some((key.clone(), (event, action, expand(spec, schema, 0))))
        })
        .collect()
}

/// The webhook events and actions added, removed and changed (payload schema) from `a` to `b`.
fn webhooks_section(md: &mut String, name_a: &str, a: &Value, name_b: &str, b: &Value) {
    let (wa, wb) = (webhooks(a), webhooks(b));
    let label = |(event, action, _): &(String, Option<String>, Value)| match action {
        Some(act) => format!("`{event}` / `{act}`"),
        None => format!("`{event}`"),
    };
    let added: Vec<String> = wb
        .iter()
        .filter(|(k, _)| !wa.contains_key(*k))
        .map(|(_, w)| label(w))
        .collect();
    let removed: Vec<String> = wa
        .iter()
        .filter(|(k, _)| !wb.contains_key(*k))
        .map(|(_, w)| label(w))
        .collect();
    let changed: Vec<(String, Vec<String>)> = wb
        .iter()
        .filter_map(|(k, w)| {
            let old = wa.get(k)?;
            let mut c = Vec::new();
            schema_changes(&old.2, &w.2, "", &mut c, 0);
            (!c.is_empty()).then(|| (label(w), c))
        })
        .collect();
    let _ = writeln!(md, "## Webhooks\n");
    let _ = writeln!(
        md,
        "| | events and actions |\n|---|---:|\n| in {name_a} | {} |\n| in {name_b} | {} |\n| added | {} |\n| removed | {} |\n| changed | {} |\n",
        wa.len(),
        wb.len(),
        added.len(),
        removed.len(),
        changed.len()
    );
    for (title, list) in [("Added webhooks", &added), ("Removed webhooks", &removed)] {
        let _ = writeln!(md, "### {title} ({})\n", list.len());
        for l in list {
            let _ = writeln!(md, "- {l}");
        }
        md.push('\n');
    }
    let _ = writeln!(md, "### Changed webhook payloads ({})\n", changed.len());
    for (l, changes) in changed {
        let _ = writeln!(md, "- {l}: {}", changes.join("; "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_added_removed_and_changed_operations() {
        let a = json!({"openapi": "3.0.3", "paths": {
            "/a": {"get": {"operationId": "x/a", "summary": "A", "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}}}}},
            "/gone": {"delete": {"operationId": "x/gone", "summary": "Gone", "responses": {"204": {"description": "ok"}}}}}});
        let b = json!({"openapi": "3.0.3", "paths": {
            "/a": {"get": {"operationId": "x/a", "summary": "A", "parameters": [{"name": "q", "in": "query", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"content": {"application/json": {"schema": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}}}, "404": {"description": "nf"}}}},
            "/new": {"post": {"operationId": "x/new", "summary": "New", "responses": {"201": {"description": "ok"}}}}}});
        let md = render("A", &a, "B", &b);
        assert!(
            md.contains("| added | 1 |")
                && md.contains("| removed | 1 |")
                && md.contains("| changed | 1 |"),
            "{md}"
        );
        assert!(md.contains("| `x/new` | `POST /new` | New |"), "{md}");
        assert!(md.contains("| `x/gone` | `DELETE /gone` | Gone |"), "{md}");
        assert!(md.contains("- parameter `q` became required"), "{md}");
        assert!(md.contains("- response 200: `name` added"), "{md}");
        assert!(md.contains("- response 404 added"), "{md}");
    }

    #[test]
    fn reports_webhooks_added_removed_and_changed() {
        let hook = |op: &str, props: Value| {
            json!({"post": {"operationId": op,
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": props}}}}}})
        };
        let a = json!({"paths": {}, "x-webhooks": {
            "issues-opened": hook("issues/opened", json!({"action": {"type": "string", "enum": ["opened"]}})),
            "cache-sync": hook("cache-sync", json!({}))}});
        let b = json!({"paths": {}, "x-webhooks": {
            "issues-opened": hook("issues/opened", json!({"action": {"type": "string", "enum": ["opened"]}, "type": {"type": "string"}})),
            "issues-typed": hook("issues/typed", json!({"action": {"type": "string", "enum": ["typed"]}}))}});
        let md = render("A", &a, "B", &b);
        assert!(
            md.contains("| added | 1 |\n| removed | 1 |\n| changed | 1 |"),
            "{md}"
        );
        assert!(md.contains("- `issues` / `typed`"), "{md}");
        assert!(md.contains("- `cache_sync`"), "{md}");
        assert!(md.contains("- `issues` / `opened`: `type` added"), "{md}");
    }
}
