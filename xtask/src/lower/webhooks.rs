//! Lowering the description's webhooks (`x-webhooks`): each entry is one delivery GitHub sends, identified by its
//! event (the `X-GitHub-Event` header) and, for most events, the payload's `action`. Payload schemas are lowered
//! through the same [`Schemas`] as the REST types, so a `repository` in a payload is the REST `Repository`.

use super::schema::{resolve, Schemas};
use crate::model::RType;
use crate::names;
use serde_json::Value;
use std::collections::BTreeSet;

/// The cargo feature the webhook payloads are compiled with.
pub const FEATURE: &str = "webhooks";

/// One webhook definition.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The `x-webhooks` key (`issues-opened`).
    pub key: String,
    /// The enum variant's name (`IssuesOpened`).
    pub variant: String,
    /// The event name GitHub sends in `X-GitHub-Event` (`issues`).
    pub event: String,
    /// The payload's `action`, or `None` when the event has no action (or any action, like `repository_dispatch`).
    pub action: Option<String>,
    /// The payload type.
    pub ty: RType,
    pub doc: Option<String>,
}

/// Every webhook of the description, in its order. A description without `x-webhooks` has none.
pub fn lower(schemas: &mut Schemas, spec: &Value) -> Vec<Webhook> {
    let Some(hooks) = spec.get("x-webhooks").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for (key, item) in hooks {
        let Some(post) = resolve(spec, item).get("post") else {
            continue;
        };
        let Some(schema) = post.pointer("/requestBody/content/application~1json/schema") else {
            continue;
        };
        let op_id = post
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or(key);
        let (event, action) = event_and_action(op_id, resolve(spec, schema));
        let ty = schemas.ty(schema, &format!("webhook-{key}"));
        let summary = post.get("summary").and_then(Value::as_str).unwrap_or("");
        let url = post
            .pointer("/externalDocs/url")
            .and_then(Value::as_str)
            .map(|u| format!("\n\n[GitHub docs]({u})"))
            .unwrap_or_default();
        let doc = format!(
            "`{event}`{}: {}{url}",
            action
                .as_deref()
                .map(|a| format!(" / `{a}`"))
                .unwrap_or_default(),
            summary.trim()
        );
        out.push(Webhook {
            key: key.clone(),
            variant: names::unique(names::type_name(key), &mut used, ""),
            event,
            action,
            ty,
            doc: Some(doc),
        });
    }
    out
}

/// The event and action of a definition. The event is the operation id's first segment in snake case
/// (`discussion/closed` → `discussion`): the `X-Github-Event` examples in the description are wrong for some events
/// (`discussions`, `project-v2`). The action is the payload schema's single `action` value, else the operation id's
/// second segment (for payloads that are a `oneOf`); a free-form `action` means any action.
pub fn event_and_action(op_id: &str, schema: &Value) -> (String, Option<String>) {
    let (event, rest) = match op_id.split_once('/') {
        Some((e, r)) => (e, Some(r)),
        None => (op_id, None),
    };
    let event = event.replace('-', "_");
    let action = match schema.pointer("/properties/action") {
        Some(a) => match a.get("enum").and_then(Value::as_array) {
            Some(values) if values.len() == 1 => values[0].as_str().map(str::to_string),
            _ => None,
        },
        None => rest.map(|r| r.replace('-', "_")),
    };
    (event, action)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_and_actions_come_from_the_operation_id_and_the_payload() {
        let one =
            json!({"properties": {"action": {"type": "string", "enum": ["blocked_by_added"]}}});
        assert_eq!(
            event_and_action("issue-dependencies/blocked-by-added", &one),
            ("issue_dependencies".into(), Some("blocked_by_added".into()))
        );
        let union = json!({"oneOf": [{}]});
        assert_eq!(
            event_and_action("pull-request/review-requested", &union),
            ("pull_request".into(), Some("review_requested".into()))
        );
        let free = json!({"properties": {"action": {"type": "string"}}});
        assert_eq!(
            event_and_action("repository-dispatch/sample.collected", &free),
            ("repository_dispatch".into(), None)
        );
        assert_eq!(event_and_action("push", &json!({})), ("push".into(), None));
    }

    #[test]
    fn payloads_share_component_types() {
        let spec = json!({
            "x-webhooks": {"issues-opened": {"post": {"operationId": "issues/opened",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/webhook-issues-opened"}}}}}}},
            "components": {"schemas": {
                "webhook-issues-opened": {"type": "object", "properties": {
                    "action": {"type": "string", "enum": ["opened"]},
                    "repository": {"$ref": "#/components/schemas/repository"}}},
                "repository": {"type": "object", "properties": {"id": {"type": "integer"}}}}}});
        let mut s = Schemas::new(&spec);
        let repo = s.ty(&json!({"$ref": "#/components/schemas/repository"}), "x");
        let hooks = lower(&mut s, &spec);
        assert_eq!(hooks.len(), 1);
        assert_eq!(hooks[0].variant, "IssuesOpened");
        assert_eq!(hooks[0].event, "issues");
        assert_eq!(hooks[0].action.as_deref(), Some("opened"));
        let RType::Named(id) = hooks[0].ty else {
            panic!("a named payload type")
        };
        let crate::model::DefKind::Struct(fields) = &s.defs[id].kind else {
            panic!("a struct")
        };
        assert_eq!(
            fields
                .iter()
                .find(|f| f.json == "repository")
                .unwrap()
                .ty
                .unwrap_option(),
            &repo
        );
    }
}
