//! Required webhook payload fields that real deliveries leave out.
//!
//! GitHub's webhook payload schemas (`x-webhooks`) are revised like its responses: a field added to a payload is
//! marked required at once, and the payloads GitHub sent before (and a GitHub Enterprise Server that predates the
//! field still sends) lack it. A strict decoder then fails on whole events: the public corpus of recorded deliveries
//! (`@octokit/webhooks-examples`) has repositories without `has_discussions`, releases without `immutable`, issues
//! without `reactions`, check suites without `app.client_id`…
//!
//! The rule, the webhook counterpart of `required_from_examples` (which uses GitHub's own response examples): every
//! recorded delivery of the corpus listed in the lock (`deliveries`, vendored under `openapi/deliveries/`) is walked
//! against the payload schema of its definition (the event name and the payload's `action`, as `WebhookEvent::parse`
//! chooses it). Where an object of the delivery omits a property its schema requires, and the object is otherwise
//! complete (it has at least half of the schema's required properties, so a truncated or unrelated object is no
//! evidence), the property is dropped from `required`: the field becomes an `Option`. Nothing else changes: a field
//! every recorded delivery carries stays required, a field no delivery reaches stays as the description says, and
//! types are never widened (a value of another type, such as `installation.created_at` sent as Unix seconds, still
//! fails to decode).
//!
//! A payload schema that is a component shared with the REST responses (`repository`, `simple-user`, `issue`…) is
//! relaxed in place, so the REST type decodes the same older shape too. That is accepted only because the evidence
//! is a real delivery of that very object; the pass reports how many of its relaxations landed in types a REST
//! operation reaches. Request bodies are never reached from `x-webhooks`, so what we send stays strict.

use super::required_from_examples::{relax_all, walk, Relax};
use crate::lower::webhooks::event_and_action;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Relaxes the spec with the corpus of the lock; returns (fields relaxed, of which in types REST operations reach).
pub fn run(spec: &mut Value) -> (usize, usize) {
    match crate::spec::load_deliveries(&crate::regen::root()) {
        Ok(Some(corpus)) => apply(spec, &corpus),
        Ok(None) => (0, 0),
        // A corpus that is listed but does not verify is an error of the checkout, not a reason to generate
        // different types silently.
        Err(e) => panic!("the recorded webhook deliveries: {e:#}"),
    }
}

/// Relaxes `spec` with `corpus` (`[{"name": event, "examples": [payload…]}]`).
pub fn apply(spec: &mut Value, corpus: &Value) -> (usize, usize) {
    let relax = relaxations(spec, corpus);
    let rest = rest_components(spec);
    let shared = relax
        .iter()
        .filter(|(ptr, _)| component_of(ptr).is_some_and(|c| rest.contains(c)))
        .count();
    (relax_all(spec, &relax), shared)
}

/// Every (schema pointer, property) a delivery of `corpus` omits from an otherwise complete object.
pub fn relaxations(spec: &Value, corpus: &Value) -> Relax {
    let payloads = payload_schemas(spec);
    let mut relax = Relax::new();
    for event in corpus.as_array().into_iter().flatten() {
        let Some(name) = event.get("name").and_then(Value::as_str) else {
            continue;
        };
        for delivery in event
            .get("examples")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let action = delivery.get("action").and_then(Value::as_str);
            // The definition `WebhookEvent::parse` decodes it with: its fixed action first, else any action.
            let ptr = payloads
                .get(&(name.to_string(), action.map(str::to_string)))
                .or_else(|| payloads.get(&(name.to_string(), None)));
            if let Some(ptr) = ptr {
                walk(spec, ptr, delivery, &mut relax, 0);
            }
        }
    }
    relax
}

/// (event, action) → pointer of the payload schema; the first definition of a pair wins, as in decoding.
fn payload_schemas(spec: &Value) -> BTreeMap<(String, Option<String>), String> {
    let mut out = BTreeMap::new();
    let Some(hooks) = spec.get("x-webhooks").and_then(Value::as_object) else {
        return out;
    };
    for (key, item) in hooks {
        let ptr = format!(
            "/x-webhooks/{}/post/requestBody/content/application~1json/schema",
            crate::examples::escape(key)
        );
        let Some(post) = item.get("post") else {
            continue;
        };
        let Some(schema) = post.pointer("/requestBody/content/application~1json/schema") else {
            continue;
        };
        let op_id = post
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(key);
        let resolved = crate::lower::schema::resolve(spec, schema);
        out.entry(event_and_action(op_id, resolved)).or_insert(ptr);
    }
    out
}

/// `tag` of `/components/schemas/tag/…`.
fn component_of(ptr: &str) -> Option<&str> {
    ptr.strip_prefix("/components/schemas/")?.split('/').next()
}

/// The component schemas some operation of `paths` reaches (through any number of `$ref`s).
fn rest_components(spec: &Value) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = Vec::new();
    if let Some(paths) = spec.get("paths") {
        refs(paths, &mut stack);
    }
    while let Some(r) = stack.pop() {
        let Some(name) = r
            .strip_prefix("#/components/")
            .map(|rest| rest.split('/').collect::<Vec<_>>())
        else {
            continue;
        };
        if name.first() == Some(&"schemas") {
            if let Some(n) = name.get(1) {
                if !seen.insert(n.to_string()) {
                    continue;
                }
            }
        }
        if let Some(target) = spec.pointer(&r[1..]) {
            refs(target, &mut stack);
        }
    }
    seen
}

/// Every `$ref` string in `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            m.values().for_each(|c| refs(c, out));
        }
        Value::Array(a) => a.iter().for_each(|c| refs(c, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_field_a_delivery_omits_becomes_optional() {
        let mut spec = json!({
            "paths": {"/r": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/repository"}}}}}}}},
            "x-webhooks": {
                "issues-opened": {"post": {"operationId": "issues/opened", "requestBody": {"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/webhook-issues-opened"}}}}}},
                "issues-closed": {"post": {"operationId": "issues/closed", "requestBody": {"content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/webhook-issues-closed"}}}}}}},
            "components": {"schemas": {
                "webhook-issues-opened": {"type": "object", "required": ["action", "issue", "repository"],
                    "properties": {
                        "action": {"type": "string", "enum": ["opened"]},
                        "issue": {"type": "object", "required": ["id", "reactions", "title"], "properties": {
                            "id": {"type": "integer"}, "reactions": {"type": "object"}, "title": {"type": "string"}}},
                        "repository": {"$ref": "#/components/schemas/repository"}}},
                "webhook-issues-closed": {"type": "object", "required": ["action", "issue"], "properties": {
                    "action": {"type": "string", "enum": ["closed"]},
                    "issue": {"type": "object", "required": ["id", "state_reason"], "properties": {
                        "id": {"type": "integer"}, "state_reason": {"type": "string"}}}}},
                "repository": {"type": "object", "required": ["id", "name", "has_discussions"], "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string"}, "has_discussions": {"type": "boolean"},
                    "owner": {"$ref": "#/components/schemas/user"}}},
                "user": {"type": "object", "required": ["login", "id", "type"], "properties": {
                    "login": {"type": "string"}, "id": {"type": "integer"}, "type": {"type": "string"}}}}}});
        let corpus = json!([
            {"name": "issues", "examples": [
                // An older delivery: no `reactions` on the issue, no `has_discussions` on the repository, and an
                // owner that is only a login (a fragment, not evidence).
                {"action": "opened", "issue": {"id": 1, "title": "t"},
                 "repository": {"id": 2, "name": "r", "owner": {"login": "o"}}},
                // An action the description does not define is not matched to another definition.
                {"action": "teleported", "issue": {"title": "t"}}]},
            // An event the description does not define.
            {"name": "widget", "examples": [{"id": 1}]}]);
        assert_eq!(apply(&mut spec, &corpus), (2, 1));
        let req = |c: &str| {
            spec.pointer(&format!("/components/schemas/{c}/required"))
                .unwrap()
                .clone()
        };
        assert_eq!(
            req("webhook-issues-opened/properties/issue"),
            json!(["id", "title"])
        );
        assert_eq!(req("repository"), json!(["id", "name"]));
        assert_eq!(req("user"), json!(["login", "id", "type"]));
        assert_eq!(
            req("webhook-issues-closed/properties/issue"),
            json!(["id", "state_reason"])
        );
    }
}
