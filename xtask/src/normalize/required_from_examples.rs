//! GitHub marks fields `required` that its own responses leave out: the spec's examples for `GET /repos/{o}/{r}`
//! have no `has_discussions`, older check runs' `pull_requests` entries lack `node_id`, and so on. A strict decoder
//! fails on exactly those payloads. This pass walks every response example against its schema and, where an
//! example omits a property the schema requires, drops it from `required`; the field becomes an `Option`.
//!
//! The policy this implements (and the generated crate documents): a required response field is trusted unless
//! GitHub's own examples omit it, or a patch in `openapi/patches/` names it as a field GitHub is known to omit.
//! Request schemas are not touched: what we send stays strict.

use serde_json::Value;
use std::collections::BTreeSet;

/// (JSON pointer of a schema object, property name) pairs to relax.
pub(crate) type Relax = BTreeSet<(String, String)>;

use crate::examples::escape;

/// Follows `$ref`s from `ptr`; returns the pointer of the schema object reached.
pub(crate) fn deref(spec: &Value, mut ptr: String) -> Option<String> {
    for _ in 0..32 {
        let v = spec.pointer(&ptr)?;
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => ptr = r.strip_prefix('#')?.to_string(),
            None => return Some(ptr),
        }
    }
    None
}

/// Walks `example` against the schema at `ptr`, collecting the required properties it omits from otherwise
/// complete objects.
pub(crate) fn walk(spec: &Value, ptr: &str, example: &Value, out: &mut Relax, depth: usize) {
    if depth > 64 {
        return;
    }
    let Some(ptr) = deref(spec, ptr.to_string()) else {
        return;
    };
    let Some(schema) = spec.pointer(&ptr) else {
        return;
    };
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for i in 0..all.len() {
            walk(spec, &format!("{ptr}/allOf/{i}"), example, out, depth + 1);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let (Some(list), Value::Object(obj)) =
            (schema.get(key).and_then(Value::as_array), example)
        {
            // Relax only the member that fits the example best (most of its keys named in the member).
            let score = |i: usize| -> usize {
                let p = deref(spec, format!("{ptr}/{key}/{i}")).unwrap_or_default();
                let props = spec
                    .pointer(&format!("{p}/properties"))
                    .and_then(Value::as_object);
                props
                    .map(|props| obj.keys().filter(|k| props.contains_key(*k)).count())
                    .unwrap_or(0)
            };
            if let Some(best) = (0..list.len()).max_by_key(|&i| (score(i), usize::MAX - i)) {
                walk(
                    spec,
                    &format!("{ptr}/{key}/{best}"),
                    example,
                    out,
                    depth + 1,
                );
            }
        }
    }
    match example {
        Value::Object(obj) => walk_object(spec, &ptr, schema, obj, out, depth),
        Value::Array(items) if schema.get("items").is_some() => {
            for it in items {
                walk(spec, &format!("{ptr}/items"), it, out, depth + 1);
            }
        }
        _ => {}
    }
}

/// An example object against its schema: required fields it lacks, then its properties and map values.
fn walk_object(
    spec: &Value,
    ptr: &str,
    schema: &Value,
    obj: &serde_json::Map<String, Value>,
    out: &mut Relax,
    depth: usize,
) {
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        let missing: Vec<&str> = req
            .iter()
            .filter_map(Value::as_str)
            .filter(|r| !obj.contains_key(*r))
            .collect();
        // An example object that lacks most required fields is a truncated illustration, not evidence that
        // GitHub omits them; only omissions from otherwise complete objects relax the schema.
        if missing.len() * 2 <= req.len() {
            out.extend(
                missing
                    .into_iter()
                    .map(|r| (ptr.to_string(), r.to_string())),
            );
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, v) in obj.iter().filter(|(k, _)| props.contains_key(*k)) {
            let at = format!("{ptr}/properties/{}", escape(k));
            walk(spec, &at, v, out, depth + 1);
        }
    }
    if schema
        .get("additionalProperties")
        .is_some_and(Value::is_object)
    {
        for v in obj.values() {
            walk(
                spec,
                &format!("{ptr}/additionalProperties"),
                v,
                out,
                depth + 1,
            );
        }
    }
}

/// Every (schema pointer, example value) pair of the spec's JSON success responses.
pub fn response_examples(spec: &Value) -> Vec<(String, Value)> {
    crate::examples::success_examples(spec)
        .into_iter()
        .filter(|e| e.media_type.contains("json"))
        .map(|e| (e.schema_ptr, e.value))
        .collect()
}

pub fn run(spec: &mut Value) -> usize {
    let mut relax = Relax::new();
    for (ptr, ex) in response_examples(spec) {
        walk(spec, &ptr, &ex, &mut relax, 0);
    }
    relax_all(spec, &relax)
}

/// Drops each (schema pointer, property) of `relax` from its schema's `required`; returns how many were dropped.
pub(crate) fn relax_all(spec: &mut Value, relax: &Relax) -> usize {
    let mut changed = 0;
    for (ptr, prop) in relax {
        if let Some(req) = spec
            .pointer_mut(&format!("{ptr}/required"))
            .and_then(Value::as_array_mut)
        {
            let before = req.len();
            req.retain(|r| r.as_str() != Some(prop));
            changed += before - req.len();
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_missing_from_an_example_becomes_optional() {
        let mut spec = json!({
            "paths": {"/r": {"get": {"operationId": "repos/get", "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/repo"},
                "examples": {"default": {"$ref": "#/components/examples/repo"}}}}}}}}},
            "components": {
                "schemas": {
                    "repo": {"type": "object", "required": ["id", "has_discussions", "owner"], "properties": {
                        "id": {"type": "integer"}, "has_discussions": {"type": "boolean"},
                        "owner": {"$ref": "#/components/schemas/user"}}},
                    "user": {"type": "object", "required": ["login", "node_id"], "properties": {
                        "login": {"type": "string"}, "node_id": {"type": "string"}}}},
                "examples": {"repo": {"value": {"id": 1, "owner": {"login": "octocat"}}}}}});
        assert_eq!(run(&mut spec), 2);
        assert_eq!(
            spec.pointer("/components/schemas/repo/required").unwrap(),
            &json!(["id", "owner"])
        );
        assert_eq!(
            spec.pointer("/components/schemas/user/required").unwrap(),
            &json!(["login"])
        );
    }
}
