//! Required fields a server older than the description does not send.
//!
//! GitHub's descriptions are revised in place: when a field is added to a response it is often marked required at
//! once, and the descriptions of GitHub Enterprise Server releases that shipped long before get the same field (the
//! 23.x `ghes-3.17` description requires `search_type` on `GET /search/issues`, which no 3.17 server sends). A
//! strict decoder then fails on every response of those servers.
//!
//! The rule: a target may have a *reference description* in the lock (`references`), the description of that target
//! published when its servers were released (for a GHES release, the first `@octokit/openapi` release that ships it).
//! A response field the pinned description requires becomes optional when, at the same place (the same component,
//! or the same response of the same operation), the reference description does not have the field at all or does
//! not require it: the servers as released may leave it out. Everything else stays required. The hosted targets
//! (api.github.com, GHEC) have no reference: their servers are as new as their description, so no field is dated
//! for them.
//!
//! Places the reference does not describe (a schema or operation added since) are left alone, as are request bodies
//! (what we send stays strict). A field changes between `T` and `Option<T>` only through a re-pin: of the reference
//! (`cargo xtask fetch-reference`, which prints every field that becomes optional or required again), or of the
//! description itself (`cargo xtask diff OLD NEW` normalises both with this pass and reports fields that became
//! required or optional).

use crate::examples::escape;
use serde_json::Value;

/// Relaxes the pinned spec against the reference of its target (read from `info` and the lock); returns the number
/// of fields relaxed.
pub fn run(spec: &mut Value) -> usize {
    let Some(target) = target_of(spec) else {
        return 0;
    };
    let reference = match crate::spec::load_reference(&crate::regen::root(), &target) {
        Ok(Some((_, json))) => json,
        Ok(None) => return 0,
        // A reference that is listed but does not verify is an error of the checkout, not a reason to generate
        // different types silently.
        Err(e) => panic!("the reference description of {target}: {e:#}"),
    };
    apply(spec, &reference)
}

/// The target a description is for, from Octokit's `info.x-github-plan` and `info.x-github-release`.
fn target_of(spec: &Value) -> Option<String> {
    let info = spec.get("info")?;
    match info.get("x-github-plan")?.as_str()? {
        "ghes" => {
            let release = info.get("x-github-release")?;
            let release = match release {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(format!("ghes-{release}"))
        }
        plan => Some(plan.to_string()),
    }
}

/// Relaxes every required field of `spec`'s response schemas that `reference` does not require at the same place.
pub fn apply(spec: &mut Value, reference: &Value) -> usize {
    let relax = relaxations(spec, reference);
    let mut changed = 0;
    for (ptr, field) in relax {
        if let Some(req) = spec
            .pointer_mut(&format!("{ptr}/required"))
            .and_then(Value::as_array_mut)
        {
            let before = req.len();
            req.retain(|r| r.as_str() != Some(&field));
            changed += before - req.len();
        }
    }
    changed
}

/// The (schema pointer, field) pairs [`apply`] relaxes, in order.
pub fn relaxations(spec: &Value, reference: &Value) -> Vec<(String, String)> {
    let mut relax = Vec::new();
    if let (Some(cur), Some(old)) = (
        spec.pointer("/components/schemas")
            .and_then(Value::as_object),
        reference
            .pointer("/components/schemas")
            .and_then(Value::as_object),
    ) {
        for (name, schema) in cur {
            if let Some(then) = old.get(name) {
                compare(
                    schema,
                    then,
                    &format!("/components/schemas/{}", escape(name)),
                    &mut relax,
                );
            }
        }
    }
    if let Some(cur) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in cur {
            for (method, op) in item.as_object().into_iter().flatten() {
                let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for (status, response) in responses {
                    for (media, content) in response
                        .get("content")
                        .and_then(Value::as_object)
                        .into_iter()
                        .flatten()
                    {
                        let ptr = format!(
                            "/paths/{}/{method}/responses/{status}/content/{}/schema",
                            escape(path),
                            escape(media)
                        );
                        if let (Some(schema), Some(then)) =
                            (content.get("schema"), reference.pointer(&ptr))
                        {
                            compare(schema, then, &ptr, &mut relax);
                        }
                    }
                }
            }
        }
    }
    relax.sort();
    relax.dedup();
    relax
}

/// Walks `cur` and `then` (the same schema in the pinned and the reference description) side by side, collecting
/// the (schema pointer, field) pairs `cur` requires and `then` does not.
fn compare(cur: &Value, then: &Value, ptr: &str, out: &mut Vec<(String, String)>) {
    let (Some(cur), Some(then)) = (cur.as_object(), then.as_object()) else {
        return;
    };
    // A `$ref` on either side is compared where it points (components are walked on their own).
    if cur.contains_key("$ref") || then.contains_key("$ref") {
        return;
    }
    let then_props = then.get("properties").and_then(Value::as_object);
    if let Some(then_props) = then_props {
        let then_required: Vec<&str> = then
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for field in cur
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !then_props.contains_key(field) || !then_required.contains(&field) {
                out.push((ptr.to_string(), field.to_string()));
            }
        }
    }
    if let (Some(props), Some(then_props)) =
        (cur.get("properties").and_then(Value::as_object), then_props)
    {
        for (k, v) in props {
            if let Some(t) = then_props.get(k) {
                compare(v, t, &format!("{ptr}/properties/{}", escape(k)), out);
            }
        }
    }
    for key in ["items", "additionalProperties"] {
        if let (Some(c), Some(t)) = (cur.get(key), then.get(key)) {
            compare(c, t, &format!("{ptr}/{key}"), out);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let (Some(c), Some(t)) = (
            cur.get(key).and_then(Value::as_array),
            then.get(key).and_then(Value::as_array),
        ) {
            // Members are matched by position only when the lists have the same length.
            if c.len() == t.len() {
                for (i, (c, t)) in c.iter().zip(t).enumerate() {
                    compare(c, t, &format!("{ptr}/{key}/{i}"), out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn search(required: &[&str], props: &[&str]) -> Value {
        let props: serde_json::Map<String, Value> = props
            .iter()
            .map(|p| (p.to_string(), json!({"type": "string"})))
            .collect();
        json!({"type": "object", "required": required, "properties": props})
    }

    #[test]
    fn fields_newer_than_the_reference_become_optional_and_the_rest_stay_required() {
        let mut spec = json!({
            "info": {"x-github-plan": "ghes", "x-github-release": 3.17},
            "paths": {"/search/issues": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": search(&["total_count", "items", "search_type"], &["total_count", "items", "search_type"])}}}}}}},
            "components": {"schemas": {
                "team": {"type": "object", "required": ["id", "type", "slug"], "properties": {
                    "id": {"type": "integer"}, "type": {"type": "string"}, "slug": {"type": "string"},
                    "parent": {"type": "object", "required": ["id", "type"], "properties": {
                        "id": {"type": "integer"}, "type": {"type": "string"}}}}},
                "new-schema": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}}}
        });
        let reference = json!({
            "paths": {"/search/issues": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": search(&["total_count", "items"], &["total_count", "items"])}}}}}}},
            "components": {"schemas": {
                "team": {"type": "object", "required": ["id"], "properties": {
                    "id": {"type": "integer"}, "slug": {"type": "string"},
                    "parent": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}}}
        });
        assert_eq!(target_of(&spec).as_deref(), Some("ghes-3.17"));
        // search_type (absent then), team.type (absent then), team.slug (optional then), team.parent.type.
        assert_eq!(apply(&mut spec, &reference), 4);
        assert_eq!(
            spec.pointer("/paths/~1search~1issues/get/responses/200/content/application~1json/schema/required")
                .unwrap(),
            &json!(["total_count", "items"])
        );
        assert_eq!(
            spec.pointer("/components/schemas/team/required").unwrap(),
            &json!(["id"])
        );
        assert_eq!(
            spec.pointer("/components/schemas/team/properties/parent/required")
                .unwrap(),
            &json!(["id"])
        );
        // A schema the reference does not describe keeps its required fields.
        assert_eq!(
            spec.pointer("/components/schemas/new-schema/required")
                .unwrap(),
            &json!(["a"])
        );
        // Against itself nothing changes.
        let again = spec.clone();
        assert_eq!(apply(&mut spec, &again), 0);
    }

    #[test]
    fn hosted_targets_are_named_by_their_plan() {
        let spec = json!({"info": {"x-github-plan": "api.github.com"}});
        assert_eq!(target_of(&spec).as_deref(), Some("api.github.com"));
        assert_eq!(target_of(&json!({"info": {}})), None);
    }
}
