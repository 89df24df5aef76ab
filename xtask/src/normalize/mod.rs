//! Normalisation passes: rewrites that apply to a class of constructs in GitHub's description, run after the
//! patches and before generation. Each pass returns how many places it changed, which regen prints.

pub mod enum_varnames;
pub mod example_refs;
pub mod example_shapes;
pub mod nullable_refs;
pub mod required_from_deliveries;
pub mod required_from_examples;
pub mod required_since;

use serde_json::Value;

/// Runs every pass in order; returns (pass name, places changed).
pub fn run(spec: &mut Value) -> Vec<(&'static str, usize)> {
    let mut passes = vec![
        // Dating compares with the reference description as published, so it runs before anything is rewritten.
        ("required_since", required_since::run(spec)),
        // Then fold `nullable-X` into `X`, so relaxing a field of `X` applies to both uses.
        ("nullable_refs", nullable_refs::run(spec)),
        ("example_refs", example_refs::run(spec)),
        ("example_shapes", example_shapes::run(spec)),
        ("required_from_examples", required_from_examples::run(spec)),
    ];
    // Webhook payloads by the same rule, with recorded deliveries as the evidence.
    let (relaxed, in_rest) = required_from_deliveries::run(spec);
    passes.push(("required_from_deliveries", relaxed));
    passes.push(("required_from_deliveries (of which in REST types)", in_rest));
    passes.push(("enum_varnames", enum_varnames::run(spec)));
    passes
}

/// Calls `f` on every JSON object in `v`, depth first.
pub(crate) fn walk_objects(v: &mut Value, f: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    match v {
        Value::Object(m) => {
            f(m);
            for (_, c) in m.iter_mut() {
                walk_objects(c, f);
            }
        }
        Value::Array(a) => {
            for c in a {
                walk_objects(c, f);
            }
        }
        _ => {}
    }
}
