//! GitHub's description repeats many components as `nullable-X`: a copy of `X` with `nullable: true` (and its own
//! title). Generated naively, each copy becomes a second struct identical to the first. This pass points every
//! `$ref` to such a copy at `X` instead, as `allOf: [X]` with `nullable: true`, so one Rust type serves both and the
//! nullability shows as `Option<X>`. Copies that differ from `X` in anything but nullability, title and description
//! are left alone.

use serde_json::Value;

const PREFIX: &str = "#/components/schemas/";

fn same_shape(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("nullable");
            m.remove("title");
            m.remove("description");
        }
        v
    };
    strip(a) == strip(b)
}

pub fn run(spec: &mut Value) -> usize {
    let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return 0;
    };
    let mut map = std::collections::HashMap::new();
    for (name, s) in schemas {
        let Some(base) = name.strip_prefix("nullable-") else {
            continue;
        };
        let Some(b) = schemas.get(base) else { continue };
        if s.get("nullable").and_then(Value::as_bool) == Some(true) && same_shape(s, b) {
            map.insert(format!("{PREFIX}{name}"), format!("{PREFIX}{base}"));
        }
    }
    let mut changed = 0;
    super::walk_objects(spec, &mut |m| {
        let Some(Value::String(r)) = m.get("$ref") else {
            return;
        };
        if let Some(base) = map.get(r) {
            m.clear();
            m.insert("allOf".into(), serde_json::json!([{ "$ref": base }]));
            m.insert("nullable".into(), Value::Bool(true));
            changed += 1;
        }
    });
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nullable_copy_becomes_nullable_ref() {
        let mut spec = json!({"components": {"schemas": {
            "user": {"type": "object", "title": "User", "properties": {"id": {"type": "integer"}}},
            "nullable-user": {"type": "object", "title": "Nullable User", "nullable": true, "properties": {"id": {"type": "integer"}}},
            "nullable-other": {"type": "object", "nullable": true, "properties": {"x": {"type": "string"}}},
            "other": {"type": "object", "properties": {"y": {"type": "string"}}},
            "issue": {"type": "object", "properties": {
                "assignee": {"$ref": "#/components/schemas/nullable-user"},
                "o": {"$ref": "#/components/schemas/nullable-other"}}}}}});
        assert_eq!(run(&mut spec), 1);
        assert_eq!(
            spec.pointer("/components/schemas/issue/properties/assignee")
                .unwrap(),
            &json!({"allOf": [{"$ref": "#/components/schemas/user"}], "nullable": true})
        );
        // A nullable copy whose shape differs is kept as it is.
        assert_eq!(
            spec.pointer("/components/schemas/issue/properties/o/$ref")
                .unwrap(),
            "#/components/schemas/nullable-other"
        );
    }
}
