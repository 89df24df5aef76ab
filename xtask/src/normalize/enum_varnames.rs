//! String enums whose values map to the same Rust variant name (`foo_bar` and `foo-bar`, `Open` and `open`) would
//! not compile. This pass gives such enums an explicit `x-enum-varnames` list in which later duplicates get a
//! numeric suffix; the type emitter uses the list when present.

use crate::names::variant_name;
use serde_json::Value;

pub fn run(spec: &mut Value) -> usize {
    let mut changed = 0;
    super::walk_objects(spec, &mut |m| {
        if m.contains_key("x-enum-varnames") {
            return;
        }
        let Some(Value::Array(values)) = m.get("enum") else {
            return;
        };
        let mut names: Vec<String> = Vec::new();
        let mut collided = false;
        for v in values {
            let base = match v {
                Value::String(s) => variant_name(s),
                _ => {
                    names.push(String::new());
                    continue;
                }
            };
            let mut name = base.clone();
            let mut n = 2;
            while names.contains(&name) {
                name = format!("{base}{n}");
                n += 1;
                collided = true;
            }
            names.push(name);
        }
        if collided {
            m.insert(
                "x-enum-varnames".into(),
                names.into_iter().map(Value::String).collect(),
            );
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
    fn colliding_values_get_distinct_names() {
        let mut spec = json!({"a": {"type": "string", "enum": ["foo_bar", "foo-bar", "baz"]}, "b": {"type": "string", "enum": ["x", "y"]}});
        assert_eq!(run(&mut spec), 1);
        assert_eq!(
            spec["a"]["x-enum-varnames"],
            json!(["FooBar", "FooBar2", "Baz"])
        );
        assert!(spec["b"].get("x-enum-varnames").is_none());
    }
}
