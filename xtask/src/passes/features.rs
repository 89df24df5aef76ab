//! Feature marking: a type is compiled with the features of the endpoints that reach it, and knows whether it is
//! sent (`Serialize`, three-state optional fields), received (`Deserialize`), or both.

use crate::model::{Model, RType};

/// Marks every type reachable from each operation's parameters, body, responses and page items.
pub fn run(model: &mut Model) {
    let roots: Vec<(RType, bool, String)> = model
        .operations
        .iter()
        .flat_map(|op| {
            op.roots()
                .into_iter()
                .map(|(t, sent)| (t.clone(), sent, op.feature.clone()))
        })
        .collect();
    for (t, sent, feature) in roots {
        mark(model, &t, &feature, sent);
    }
    mark_webhooks(model);
}

/// Webhook payloads are received, and compiled only with the `webhooks` feature.
pub fn mark_webhooks(model: &mut Model) {
    let hooks: Vec<RType> = model.webhooks.iter().map(|w| w.ty.clone()).collect();
    for t in hooks {
        mark(model, &t, crate::lower::webhooks::FEATURE, false);
    }
}

/// Marks the types reached from `ty` for `feature`, as sent or received; stops where nothing changes.
fn mark(model: &mut Model, ty: &RType, feature: &str, sent: bool) {
    let mut stack = Vec::new();
    ty.named(&mut stack);
    while let Some(id) = stack.pop() {
        let d = &mut model.defs[id];
        let flag = if sent {
            &mut d.request
        } else {
            &mut d.response
        };
        let changed = !std::mem::replace(flag, true) | d.features.insert(feature.to_string());
        if changed {
            for t in d.kind.children() {
                t.named(&mut stack);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::lower;
    use serde_json::json;

    #[test]
    fn types_know_their_features_and_direction() {
        let spec = json!({"paths": {
            "/a": {"post": {"operationId": "issues/create", "tags": ["issues"],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/label"}}}},
                "responses": {"201": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/issue"}}}}}}},
            "/b": {"get": {"operationId": "pulls/get", "tags": ["pulls"],
                "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/issue"}}}}}}}},
            "components": {"schemas": {
                "label": {"type": "object", "properties": {"name": {"type": "string"}}},
                "issue": {"type": "object", "properties": {"labels": {"type": "array", "items": {"$ref": "#/components/schemas/label"}}}}}}});
        let mut model = lower(&spec).unwrap();
        run(&mut model);
        let by_name = |n: &str| model.defs.iter().find(|d| d.name == n).unwrap();
        let label = by_name("Label");
        assert!(label.request && label.response);
        assert_eq!(
            label.features.iter().collect::<Vec<_>>(),
            vec!["issues", "pulls"]
        );
        let issue = by_name("Issue");
        assert!(!issue.request && issue.response);
    }
}
