//! Merging types that came out identical under one base name (`IntegerOrString`, `IntegerOrString2`): shapes the
//! JSON-level sharing in lowering could not see as equal, because they were equal only once their own members were
//! merged.

use crate::model::{DefKind, Field, Model, TypeDef, Variant};
use std::collections::HashMap;

/// Merges, then renumbers every type the operations and the error table name.
pub fn run(model: &mut Model) {
    let map = merge_map(model, |d| {
        Some(
            d.name
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string(),
        )
    });
    remap(model, &map);
}

/// Webhook payload types of one shape under different names become one. The description repeats its inline payload
/// schemas for every event and action (the `pull_request` of `pull_request.assigned` and of
/// `pull_request.labeled`, the `head.repo` and `base.repo` within each), each under its own name; where the copies
/// are equal (once their own members merged) the types compiled only with the `webhooks` feature are shared under
/// the first one's name. Runs after feature marking, so types REST operations reach keep their names and shapes.
pub fn webhook_shapes(model: &mut Model) -> usize {
    let only_hooks = |d: &TypeDef| {
        !d.request && d.features.len() == 1 && d.features.contains(crate::lower::webhooks::FEATURE)
    };
    let map = merge_map(model, |d| only_hooks(d).then(String::new));
    remap(model, &map);
    let mut merged = 0;
    for (id, &kept) in map.iter().enumerate() {
        if kept != id {
            model.defs[id].features.clear();
            merged += 1;
        }
    }
    merged
}

/// Points every reference at the kept types of `map`.
fn remap(model: &mut Model, map: &[usize]) {
    for d in &mut model.defs {
        d.kind = remap_kind(&d.kind, map, true);
    }
    for op in &mut model.operations {
        for t in op.types_mut() {
            *t = t.remap(map);
        }
    }
    for w in &mut model.webhooks {
        w.ty = w.ty.remap(map);
    }
    // Error entries that became equal share one slot.
    let old = std::mem::take(&mut model.errors.entries);
    let slots: Vec<usize> = old
        .iter()
        .map(|t| model.errors.slot(&t.remap(map)))
        .collect();
    for op in &mut model.operations {
        for r in &mut op.responses {
            r.error_slot = r.error_slot.map(|s| slots[s]);
        }
    }
}

/// old id → kept id, found by repeating until no two types of one key and one shape remain; a type whose key is
/// `None` is kept as it is.
fn merge_map(model: &Model, key: impl Fn(&TypeDef) -> Option<String>) -> Vec<usize> {
    let n = model.defs.len();
    let mut map: Vec<usize> = (0..n).collect();
    loop {
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut changed = false;
        for id in 0..n {
            if map[id] != id {
                continue;
            }
            let Some(base) = key(&model.defs[id]) else {
                continue;
            };
            let sig = format!("{:?}", remap_kind(&model.defs[id].kind, &map, false));
            match seen.get(&(base.clone(), sig.clone())) {
                Some(&keep) => {
                    map[id] = keep;
                    changed = true;
                }
                None => {
                    seen.insert((base, sig), id);
                }
            }
        }
        // Follow chains so every id points at a kept one.
        for id in 0..n {
            let mut t = map[id];
            while map[t] != t {
                t = map[t];
            }
            map[id] = t;
        }
        if !changed {
            return map;
        }
    }
}

fn remap_kind(k: &DefKind, map: &[usize], keep_docs: bool) -> DefKind {
    match k {
        DefKind::Struct(fields) => DefKind::Struct(
            fields
                .iter()
                .map(|f| Field {
                    ty: f.ty.remap(map),
                    doc: if keep_docs { f.doc.clone() } else { None },
                    ..f.clone()
                })
                .collect(),
        ),
        DefKind::Untagged(v) => DefKind::Untagged(
            v.iter()
                .map(|v| Variant {
                    name: v.name.clone(),
                    ty: v.ty.remap(map),
                })
                .collect(),
        ),
        o => o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::schema::Schemas;
    use crate::model::RType;
    use serde_json::json;

    #[test]
    fn types_equal_once_their_members_merge_become_one() {
        // Two `Wrapper`s differ only by which of two identical `Inner`s they hold.
        let spec = json!({});
        let mut s = Schemas::new(&spec);
        let a = s.ty(
            &json!({"type": "object", "properties": {"x": {"type": "string"}}}),
            "inner",
        );
        let b = s.ty(&json!({"type": "object", "properties": {"x": {"type": "string"}, "y": {"type": "integer"}}}), "inner");
        let mut defs = s.defs;
        // Make the second `Inner` equal to the first, as a normalisation might have.
        defs[1].kind = defs[0].kind.clone();
        let wrap = |t: &RType, name: &str| crate::model::TypeDef {
            name: name.into(),
            kind: DefKind::Struct(vec![Field {
                json: "inner".into(),
                rust: "inner".into(),
                ty: t.clone(),
                required: true,
                nullable: false,
                doc: None,
                boxed: false,
            }]),
            doc: None,
            deprecated: false,
            request: false,
            response: false,
            features: Default::default(),
        };
        defs.push(wrap(&a, "Wrapper"));
        defs.push(wrap(&b, "Wrapper2"));
        let mut model = Model {
            defs,
            ..Model::default()
        };
        model.errors.slot(&RType::Named(3));
        model.errors.slot(&RType::Named(2));
        let map = merge_map(&model, |d| {
            Some(d.name.trim_end_matches(char::is_numeric).into())
        });
        assert_eq!(map, vec![0, 0, 2, 2]);
        run(&mut model);
        assert_eq!(model.errors.entries, vec![RType::Named(2)]);
    }

    #[test]
    fn webhook_payload_copies_of_one_shape_share_a_type() {
        let spec = json!({"paths": {"/r": {"get": {"operationId": "repos/get", "tags": ["repos"],
                "responses": {"200": {"content": {"application/json": {"schema": {"type": "object",
                    "properties": {"owner": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}},
            "x-webhooks": {
                "issues-opened": {"post": {"operationId": "issues/opened", "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "action": {"type": "string", "enum": ["opened"]},
                        "issue": {"type": "object", "description": "opened", "properties": {"id": {"type": "integer"},
                            "user": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}},
                "issues-closed": {"post": {"operationId": "issues/closed", "requestBody": {"content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "action": {"type": "string", "enum": ["closed"]},
                        "issue": {"type": "object", "description": "closed", "properties": {"id": {"type": "integer"},
                            "user": {"type": "object", "properties": {"login": {"type": "string"}}}}}}}}}}}}}});
        let mut model = crate::lower::lower(&spec).unwrap();
        crate::passes::features::run(&mut model);
        let merged = webhook_shapes(&mut model);
        let names: Vec<&str> = model.emitted().map(|(_, d)| d.name.as_str()).collect();
        // The two `issue`s (whose descriptions differ) and their `user`s are one type each (lowering already shares
        // inline shapes, so this pass may find nothing left to merge); the payloads, whose actions differ, stay two.
        // The REST type of the users' shape keeps its own name.
        assert!(merged <= 2, "{names:?}");
        assert!(names.contains(&"ReposGetResponseOwner"));
        assert_eq!(model.webhooks.len(), 2);
        assert_ne!(model.webhooks[0].ty, model.webhooks[1].ty);
        assert!(
            names.contains(&"WebhookIssuesOpenedIssue")
                && !names.contains(&"WebhookIssuesClosedIssue")
        );
    }
}
