//! The dating rule on the pinned descriptions: a GHES target does not require fields its servers predate; the
//! hosted targets keep every required field.

use serde_json::Value;
use xtask::regen;

const SEARCH_ISSUES: &str =
    "/paths/~1search~1issues/get/responses/200/content/application~1json/schema/required";

fn required(json: &Value, ptr: &str) -> Vec<String> {
    json.pointer(ptr)
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("{ptr} has a required list"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn relaxed(passes: &[(&str, usize)]) -> usize {
    passes
        .iter()
        .find(|(p, _)| *p == "required_since")
        .expect("the pass runs")
        .1
}

#[test]
fn ghes_targets_do_not_require_fields_newer_than_their_release() {
    let root = regen::root();
    for (target, count) in [("ghes-3.17", 20), ("ghes-3.18", 2), ("ghes-3.19", 2)] {
        let (spec, _, passes) = regen::prepared(&root, target).unwrap();
        assert_eq!(relaxed(&passes), count, "{target}");
        let search = required(&spec.json, SEARCH_ISSUES);
        assert!(
            !search.contains(&"search_type".to_string()),
            "{target}: {search:?}"
        );
        assert!(
            search.contains(&"items".to_string()),
            "{target} keeps the rest"
        );
    }
    // 3.17 predates release immutability, asset digests and team types.
    let (spec, _, _) = regen::prepared(&root, "ghes-3.17").unwrap();
    let asset = required(&spec.json, "/components/schemas/release-asset/required");
    assert!(!asset.contains(&"digest".to_string()) && asset.contains(&"id".to_string()));
    let team = required(&spec.json, "/components/schemas/team/required");
    assert!(!team.contains(&"type".to_string()) && team.contains(&"slug".to_string()));
}

#[test]
fn hosted_targets_have_no_reference_and_keep_their_required_fields() {
    let root = regen::root();
    let (spec, _, passes) = regen::prepared(&root, "api.github.com").unwrap();
    assert_eq!(relaxed(&passes), 0);
    assert!(required(&spec.json, SEARCH_ISSUES).contains(&"search_type".to_string()));
}
