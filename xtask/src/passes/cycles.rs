//! Boxing fields that would make a type contain itself (directly or through other types held inline).

use crate::model::{DefKind, Model};

pub fn run(model: &mut Model) {
    let n = model.defs.len();
    let direct: Vec<Vec<usize>> = model
        .defs
        .iter()
        .map(|d| {
            d.kind
                .children()
                .iter()
                .filter_map(|t| t.direct())
                .collect()
        })
        .collect();
    let reaches = |from: usize, to: usize| -> bool {
        let mut seen = vec![false; n];
        let mut stack = vec![from];
        while let Some(x) = stack.pop() {
            if x == to {
                return true;
            }
            if !std::mem::replace(&mut seen[x], true) {
                stack.extend(direct[x].iter().copied());
            }
        }
        false
    };
    for (id, d) in model.defs.iter_mut().enumerate() {
        if let DefKind::Struct(fields) = &mut d.kind {
            for f in fields.iter_mut() {
                if f.ty.direct().is_some_and(|t| reaches(t, id)) {
                    f.boxed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::schema::Schemas;
    use crate::model::RType;
    use serde_json::json;

    #[test]
    fn recursive_component_is_boxed_but_not_behind_a_vec() {
        let spec = json!({"components": {"schemas": {"node": {"type": "object", "properties": {
            "next": {"allOf": [{"$ref": "#/components/schemas/node"}], "nullable": true},
            "kids": {"type": "array", "items": {"$ref": "#/components/schemas/node"}}}}}}});
        let mut s = Schemas::new(&spec);
        let t = s.ty(&json!({"$ref": "#/components/schemas/node"}), "x");
        let mut model = Model {
            defs: s.defs,
            ..Model::default()
        };
        run(&mut model);
        let RType::Named(id) = t else {
            panic!("a named type")
        };
        let DefKind::Struct(f) = &model.defs[id].kind else {
            panic!("a struct")
        };
        assert!(f[0].boxed && f[0].nullable);
        assert!(!f[1].boxed);
    }
}
