//! Merging types that came out identical under one base name (`IntegerOrString`, `IntegerOrString2`): shapes the
//! JSON-level sharing in lowering could not see as equal, because they were equal only once their own members were
//! merged.

use crate::model::{DefKind, Field, Model, Variant};
use std::collections::HashMap;

/// Merges, then renumbers every type the operations and the error table name.
pub fn run(model: &mut Model) {
    let map = merge_map(model);
    for d in &mut model.defs {
        d.kind = remap_kind(&d.kind, &map, true);
    }
    for op in &mut model.operations {
        for t in op.types_mut() {
            *t = t.remap(&map);
        }
    }
    for w in &mut model.webhooks {
        w.ty = w.ty.remap(&map);
    }
    // Error entries that became equal share one slot.
    let old = std::mem::take(&mut model.errors.entries);
    let slots: Vec<usize> = old
        .iter()
        .map(|t| model.errors.slot(&t.remap(&map)))
        .collect();
    for op in &mut model.operations {
        for r in &mut op.responses {
            r.error_slot = r.error_slot.map(|s| slots[s]);
        }
    }
}

/// old id → kept id, found by repeating until no two types of one base name and one shape remain.
fn merge_map(model: &Model) -> Vec<usize> {
    let n = model.defs.len();
    let mut map: Vec<usize> = (0..n).collect();
    loop {
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        let mut changed = false;
        for id in 0..n {
            if map[id] != id {
                continue;
            }
            let base = model.defs[id]
                .name
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .to_string();
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
        let map = merge_map(&model);
        assert_eq!(map, vec![0, 0, 2, 2]);
        run(&mut model);
        assert_eq!(model.errors.entries, vec![RType::Named(2)]);
    }
}
