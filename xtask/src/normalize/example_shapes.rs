//! Some list endpoints illustrate their response with a single item where the schema (and the API) returns an
//! array of them, e.g. GitHub Classroom's and Projects' list operations. Such an example documents the item, not the
//! response. This pass wraps those examples in a one-element array, so they illustrate what the endpoint returns
//! and can be decoded as such. Only the operation's own example entry is replaced (examples in
//! `components/examples` are shared with the single-item endpoints and stay as they are); schemas are never changed.

use serde_json::Value;

pub fn run(spec: &mut Value) -> usize {
    let mut fixes: Vec<(String, Value)> = Vec::new();
    for e in crate::examples::success_examples(spec) {
        if !e.media_type.contains("json") || !e.value.is_object() {
            continue;
        }
        let Some(schema) = spec.pointer(&e.schema_ptr) else {
            continue;
        };
        let schema = crate::lower::schema::resolve(spec, schema);
        if schema.get("type").and_then(Value::as_str) == Some("array") {
            let wrapped = Value::Array(vec![e.value.clone()]);
            let entry = if e.local_ptr.ends_with("/example") {
                wrapped
            } else {
                serde_json::json!({ "value": wrapped })
            };
            fixes.push((e.local_ptr.clone(), entry));
        }
    }
    for (ptr, entry) in &fixes {
        if let Some(v) = spec.pointer_mut(ptr) {
            *v = entry.clone();
        }
    }
    fixes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lone_item_example_of_a_list_is_wrapped() {
        let mut spec = json!({"paths": {"/l": {"get": {"operationId": "x/list", "responses": {"200": {"content": {"application/json": {
            "schema": {"type": "array", "items": {"type": "object"}},
            "examples": {"default": {"value": {"id": 1}}}}}}}}}}});
        assert_eq!(run(&mut spec), 1);
        assert_eq!(
            spec.pointer(
                "/paths/~1l/get/responses/200/content/application~1json/examples/default/value"
            )
            .unwrap(),
            &json!([{"id": 1}])
        );
        // A shared example is copied, not changed in place.
        let mut spec = json!({"paths": {"/l": {"get": {"operationId": "x/list", "responses": {"200": {"content": {"application/json": {
            "schema": {"type": "array", "items": {"type": "object"}},
            "examples": {"default": {"$ref": "#/components/examples/item"}}}}}}}}},
            "components": {"examples": {"item": {"value": {"id": 1}}}}});
        assert_eq!(run(&mut spec), 1);
        assert_eq!(
            spec.pointer("/components/examples/item/value").unwrap(),
            &json!({"id": 1})
        );
        assert_eq!(
            spec.pointer(
                "/paths/~1l/get/responses/200/content/application~1json/examples/default/value"
            )
            .unwrap(),
            &json!([{"id": 1}])
        );
        assert_eq!(run(&mut spec), 0, "an array example is left alone");
    }
}
