//! Boxing fields that would make a type contain itself (directly or through other types held inline), and fields of
//! response types that would hold a large struct inline.

use crate::model::{DefKind, Model, RType};

/// A response struct field holding a struct estimated larger than this many bytes holds it in a `Box`. GitHub's
/// shapes nest deeply (a repository holds its parent, source and template repositories, each with an owner and a
/// licence): held inline, a `FullRepository` is about 10 kB and an `Issue` 8.5 kB, copied whole each time a decoded
/// value is moved (out of the decoder, into the `Response`, out of each `async fn`). Boxed, they are a fraction of
/// that. Users read a boxed field as before (`repo.parent.as_ref().map(|p| &p.full_name)`, `issue.user.login`);
/// response structs are `#[non_exhaustive]`, so no user code builds them. Request types are left alone: users build
/// them, and they are small.
pub const BOX_ABOVE: usize = 1024;

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
    box_large(model);
}

/// Boxes the fields of response structs that hold a struct larger than [`BOX_ABOVE`] (see there).
pub fn box_large(model: &mut Model) {
    let mut sizes: Vec<Option<usize>> = vec![None; model.defs.len()];
    for id in 0..model.defs.len() {
        let d = &model.defs[id];
        if d.request {
            continue;
        }
        let DefKind::Struct(fields) = &d.kind else {
            continue;
        };
        let boxed: Vec<usize> = fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.boxed && boxes(model, &f.ty, &mut sizes))
            .map(|(i, _)| i)
            .collect();
        if let DefKind::Struct(fields) = &mut model.defs[id].kind {
            for i in boxed {
                fields[i].boxed = true;
            }
        }
    }
}

/// Whether a response field of type `t` is boxed: a struct (or an `Option` of one) over the limit. The one rule,
/// used both to box and to size the types that hold such a field.
fn boxes(model: &Model, t: &RType, sizes: &mut Vec<Option<usize>>) -> bool {
    t.direct()
        .is_some_and(|id| matches!(model.defs[id].kind, DefKind::Struct(_)))
        && ty_size(model, t, sizes) > BOX_ABOVE
}

/// An estimate of the inline size of type `id` in bytes, as the emitter will write it (fields boxed by
/// [`boxes`] count as a pointer). Memoised in `sizes`; cycles are already boxed, so the recursion ends.
fn size_of(model: &Model, id: usize, sizes: &mut Vec<Option<usize>>) -> usize {
    if let Some(s) = sizes[id] {
        return s;
    }
    // Guards against a cycle the pass above did not box (it boxes every one): counted as a pointer.
    sizes[id] = Some(8);
    let d = &model.defs[id];
    let s = match &d.kind {
        DefKind::Pending => 8,
        // `Other(String)` and a tag.
        DefKind::Enum(_) => 24,
        DefKind::Untagged(vs) => {
            8 + vs
                .iter()
                .map(|v| ty_size(model, &v.ty, sizes))
                .max()
                .unwrap_or(0)
                .max(32)
        }
        DefKind::Struct(fields) => fields
            .iter()
            .map(|f| {
                let inner = if f.boxed || (!d.request && boxes(model, &f.ty, sizes)) {
                    8
                } else {
                    ty_size(model, &f.ty, sizes)
                };
                // Optional and nullable fields are `Option`s: a tag unless a niche holds it.
                inner + if f.required && !f.nullable { 0 } else { 8 }
            })
            .sum(),
    };
    sizes[id] = Some(s);
    s
}

fn ty_size(model: &Model, t: &RType, sizes: &mut Vec<Option<usize>>) -> usize {
    match t {
        RType::String | RType::Vec(_) => 24,
        RType::Timestamp => 16,
        RType::I64 | RType::F64 | RType::Bool => 8,
        RType::Value | RType::Object | RType::Map(_) => 32,
        RType::Option(t) => 8 + ty_size(model, t, sizes),
        RType::Named(id) => size_of(model, *id, sizes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::schema::Schemas;
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

    /// `big` has 60 string properties (about 1.4 kB inline), `small` 3: a response holding `big` boxes it, one
    /// holding `small` does not, and a request body holding `big` keeps it inline.
    #[test]
    fn response_fields_holding_a_large_struct_are_boxed() {
        let props: serde_json::Map<String, serde_json::Value> = (0..60)
            .map(|i| (format!("p{i}"), json!({"type": "string"})))
            .collect();
        let spec = json!({"components": {"schemas": {
            "big": {"type": "object", "properties": props},
            "small": {"type": "object", "properties": {
                "a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}}},
            "holder": {"type": "object", "required": ["big"], "properties": {
                "big": {"$ref": "#/components/schemas/big"},
                "small": {"$ref": "#/components/schemas/small"},
                "maybe": {"allOf": [{"$ref": "#/components/schemas/big"}], "nullable": true}}}}}});
        let mut s = Schemas::new(&spec);
        let holder = s.ty(&json!({"$ref": "#/components/schemas/holder"}), "x");
        let request = s.ty(&json!({"$ref": "#/components/schemas/holder"}), "y");
        let mut model = Model {
            defs: s.defs,
            ..Model::default()
        };
        let (RType::Named(id), RType::Named(req)) = (holder, request) else {
            panic!("named types")
        };
        assert_eq!(id, req, "one component, one type");
        let fields = |m: &Model| -> Vec<(String, bool)> {
            let DefKind::Struct(f) = &m.defs[id].kind else {
                panic!("a struct")
            };
            f.iter().map(|f| (f.json.clone(), f.boxed)).collect()
        };
        let mut as_request = Model {
            defs: model.defs.clone(),
            ..Model::default()
        };
        as_request.defs[id].request = true;
        run(&mut as_request);
        assert!(
            fields(&as_request).iter().all(|(_, b)| !b),
            "requests stay inline"
        );
        model.defs[id].response = true;
        run(&mut model);
        assert_eq!(
            fields(&model),
            [
                ("big".to_string(), true),
                ("small".to_string(), false),
                ("maybe".to_string(), true)
            ]
        );
    }
}
