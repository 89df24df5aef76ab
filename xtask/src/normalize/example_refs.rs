//! A few examples embed another example by reference *inside* their value
//! (`"repository": {"$ref": "#/components/examples/simple-repository"}`). OpenAPI takes example values literally, so
//! such an example illustrates an object that is nothing but a `$ref` key. This pass substitutes the referenced
//! example's value, which is what the example's author meant.

use serde_json::Value;

const PREFIX: &str = "#/components/examples/";

fn substitute(
    v: &mut Value,
    examples: &serde_json::Map<String, Value>,
    depth: usize,
    changed: &mut usize,
) {
    if depth > 16 {
        return;
    }
    if let Value::Object(m) = v {
        if m.len() == 1 {
            if let Some(name) = m
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(PREFIX))
            {
                if let Some(mut inner) = examples.get(name).and_then(|e| e.get("value")).cloned() {
                    substitute(&mut inner, examples, depth + 1, changed);
                    *v = inner;
                    *changed += 1;
                    return;
                }
            }
        }
    }
    match v {
        Value::Object(m) => m
            .values_mut()
            .for_each(|c| substitute(c, examples, depth, changed)),
        Value::Array(a) => a
            .iter_mut()
            .for_each(|c| substitute(c, examples, depth, changed)),
        _ => {}
    }
}

/// Runs `f` on every example value written inline in an operation's media types.
fn inline_values(spec: &mut Value, f: &mut impl FnMut(&mut Value)) {
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for resp in responses.values_mut() {
                let Some(content) = resp.get_mut("content").and_then(Value::as_object_mut) else {
                    continue;
                };
                for media in content.values_mut() {
                    if let Some(e) = media.get_mut("example") {
                        f(e);
                    }
                    if let Some(exs) = media.get_mut("examples").and_then(Value::as_object_mut) {
                        for e in exs.values_mut() {
                            if let Some(v) = e.get_mut("value").filter(|v| v.get("$ref").is_none())
                            {
                                f(v);
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn run(spec: &mut Value) -> usize {
    let Some(examples) = spec
        .pointer("/components/examples")
        .and_then(Value::as_object)
        .cloned()
    else {
        return 0;
    };
    let mut changed = 0;
    if let Some(own) = spec
        .pointer_mut("/components/examples")
        .and_then(Value::as_object_mut)
    {
        for e in own.values_mut() {
            if let Some(v) = e.get_mut("value").filter(|v| v.get("$ref").is_none()) {
                substitute(v, &examples, 0, &mut changed);
            }
        }
    }
    inline_values(spec, &mut |v| substitute(v, &examples, 0, &mut changed));
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_example_ref_is_replaced_by_its_value() {
        let mut spec = json!({
            "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"examples": {"default": {
                "value": [{"status": "attached", "repository": {"$ref": "#/components/examples/repo"}}]}}}}}}}}},
            "components": {"examples": {"repo": {"value": {"id": 1, "name": "r"}}}}});
        assert_eq!(run(&mut spec), 1);
        assert_eq!(spec.pointer("/paths/~1x/get/responses/200/content/application~1json/examples/default/value/0/repository").unwrap(), &json!({"id": 1, "name": "r"}));
    }
}
