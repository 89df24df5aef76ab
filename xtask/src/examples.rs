//! The examples GitHub's description gives for its success responses, with `$ref`s into `components/examples`
//! resolved. The fidelity test decodes each one into the type `operations.json` names; the
//! `required_from_examples` pass reads them to find required fields GitHub leaves out.

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Example {
    pub operation_id: String,
    pub status: u16,
    pub media_type: String,
    /// The example's key in `examples` (or `example` for the single form).
    pub name: String,
    /// JSON pointer of the response schema.
    pub schema_ptr: String,
    /// JSON pointer of the example's entry in the operation: `…/example`, or `…/examples/<name>` (which may be a
    /// `$ref` shared with other operations).
    pub local_ptr: String,
    pub value: Value,
}

pub fn escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn follow<'v>(spec: &'v Value, mut v: &'v Value, ptr: &mut String) -> &'v Value {
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(p) = r.strip_prefix('#') else { break };
        let Some(t) = spec.pointer(p) else { break };
        *ptr = p.to_string();
        v = t;
    }
    v
}

/// Every example of every 2xx response, in spec order.
pub fn success_examples(spec: &Value) -> Vec<Example> {
    let mut out = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                continue;
            };
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            for (status, resp) in responses {
                let Ok(code) = status.parse::<u16>() else {
                    continue;
                };
                if !(200..300).contains(&code) {
                    continue;
                }
                let mut rptr = format!("/paths/{}/{method}/responses/{status}", escape(path));
                let resp = follow(spec, resp, &mut rptr);
                let Some(content) = resp.get("content").and_then(Value::as_object) else {
                    continue;
                };
                for (mt, media) in content {
                    let schema_ptr = format!("{rptr}/content/{}/schema", escape(mt));
                    let media_ptr = format!("{rptr}/content/{}", escape(mt));
                    let mut push = |name: &str, value: &Value, local_ptr: String| {
                        out.push(Example {
                            operation_id: id.to_string(),
                            status: code,
                            media_type: mt.clone(),
                            name: name.to_string(),
                            schema_ptr: schema_ptr.clone(),
                            local_ptr,
                            value: value.clone(),
                        })
                    };
                    if let Some(ex) = media.get("example") {
                        push("example", ex, format!("{media_ptr}/example"));
                    }
                    if let Some(exs) = media.get("examples").and_then(Value::as_object) {
                        for (name, ex) in exs {
                            let local = format!("{media_ptr}/examples/{}", escape(name));
                            let mut p = String::new();
                            let ex = follow(spec, ex, &mut p);
                            // `value` may itself point at a components/examples entry.
                            let mut v = ex.get("value");
                            if let Some(inner) = v.filter(|v| v.get("$ref").is_some()) {
                                v = follow(spec, inner, &mut p).get("value");
                            }
                            if let Some(v) = v {
                                push(name, v, local);
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// The schema objects a value at `ptr` must satisfy: the schema itself, its `allOf` members, and for `oneOf`/`anyOf`
/// the member whose properties best match the value's keys.
fn candidates(spec: &Value, ptr: &str, value: &Value, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    if depth > 32 {
        return out;
    }
    let mut p = ptr.to_string();
    let Some(s) = spec.pointer(ptr).map(|s| follow(spec, s, &mut p)) else {
        return out;
    };
    out.push(p.clone());
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for i in 0..all.len() {
            out.extend(candidates(
                spec,
                &format!("{p}/allOf/{i}"),
                value,
                depth + 1,
            ));
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(list) = s.get(key).and_then(Value::as_array) {
            let score = |i: usize| -> usize {
                let mut q = String::new();
                let m = follow(spec, &list[i], &mut q);
                match (
                    m.get("properties").and_then(Value::as_object),
                    value.as_object(),
                ) {
                    (Some(props), Some(obj)) => {
                        obj.keys().filter(|k| props.contains_key(*k)).count()
                    }
                    _ => 0,
                }
            };
            if let Some(best) = (0..list.len()).max_by_key(|&i| (score(i), usize::MAX - i)) {
                out.extend(candidates(
                    spec,
                    &format!("{p}/{key}/{best}"),
                    value,
                    depth + 1,
                ));
            }
        }
    }
    out
}

/// Adds a field the schema does not know to every object in `value` that the schema describes with `properties`
/// (not to maps keyed by data), as a later API version might: the decoder must ignore it.
pub fn add_unknown_fields(spec: &Value, schema_ptr: &str, value: &mut Value) {
    add_unknown(spec, schema_ptr, value, 0)
}

fn add_unknown(spec: &Value, schema_ptr: &str, value: &mut Value, depth: usize) {
    if depth > 64 {
        return;
    }
    let cands = candidates(spec, schema_ptr, value, 0);
    match value {
        Value::Object(obj) => {
            let mut is_struct = false;
            for (k, child) in obj.iter_mut() {
                let key = escape(k);
                let sub = cands
                    .iter()
                    .find(|c| spec.pointer(&format!("{c}/properties/{key}")).is_some())
                    .map(|c| format!("{c}/properties/{key}"));
                match sub {
                    Some(sub) => {
                        is_struct = true;
                        add_unknown(spec, &sub, child, depth + 1);
                    }
                    None => {
                        if let Some(c) = cands.iter().find(|c| {
                            spec.pointer(&format!("{c}/additionalProperties"))
                                .is_some_and(Value::is_object)
                        }) {
                            add_unknown(
                                spec,
                                &format!("{c}/additionalProperties"),
                                child,
                                depth + 1,
                            );
                        }
                    }
                }
            }
            is_struct |= cands.iter().any(|c| {
                spec.pointer(&format!("{c}/properties"))
                    .and_then(Value::as_object)
                    .is_some_and(|p| !p.is_empty())
            });
            if is_struct {
                obj.insert(
                    "field_added_by_a_later_api_version".into(),
                    serde_json::json!({"nested": [1, "two", null]}),
                );
            }
        }
        Value::Array(items) => {
            if let Some(c) = cands
                .iter()
                .find(|c| spec.pointer(&format!("{c}/items")).is_some())
            {
                for it in items {
                    add_unknown(spec, &format!("{c}/items"), it, depth + 1);
                }
            }
        }
        _ => {}
    }
}
