//! Snapshots of what the generator writes for a small fixture description (`tests/fixture/description.json`) that has
//! one of each construct: path, query and body parameters, a one-of, an all-of, open enums, pagination by array and
//! by wrapper, an alternate media type, multipart and binary bodies, several success statuses and error bodies.
//!
//! The expected files are committed under `tests/snapshots/`; after a deliberate change to the emitters, rewrite
//! them with `EXPECTORATE=overwrite cargo test -p xtask --test snapshots` and review the diff.

use xtask::regen::{self, Generated};
use xtask::spec::Spec;

fn fixture() -> Generated {
    let path = regen::root().join("xtask/tests/fixture/description.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("the fixture exists"))
            .expect("the fixture is JSON");
    let passes = xtask::normalize::run(&mut json);
    let spec = Spec {
        target: "fixture".into(),
        source: "tests/fixture".into(),
        version: "1".into(),
        file: "description.json".into(),
        sha256: "-".into(),
        json,
    };
    let targets = vec![("fixture".to_string(), ["widgets/get".to_string()].into())];
    regen::from_description(&spec, Vec::new(), passes, || Ok(targets))
        .expect("the fixture generates")
}

fn text(g: &Generated, file: &str) -> String {
    let bytes = g
        .files
        .get(file)
        .unwrap_or_else(|| panic!("{file} is generated"));
    String::from_utf8(bytes.clone()).expect("UTF-8")
}

#[test]
fn endpoints_types_errors_lib_and_manifest_match_their_snapshots() {
    let g = fixture();
    let files = [
        ("src/widgets.rs", "widgets.rs"),
        ("src/search.rs", "search.rs"),
        ("src/types/widgets.rs", "types_widgets.rs"),
        ("src/types/search.rs", "types_search.rs"),
        ("src/types/shared.rs", "types_shared.rs"),
        ("src/types/mod.rs", "types_mod.rs"),
        ("src/errors.rs", "errors.rs"),
        ("src/lib.rs", "lib.rs"),
        ("Cargo.toml", "Cargo.toml.txt"),
        ("README.md", "README.md"),
        ("operations.json", "operations.json"),
    ];
    for (file, snapshot) in files {
        expectorate::assert_contents(format!("tests/snapshots/{snapshot}"), &text(&g, file));
    }
    assert_eq!(g.operations, 7);
}

#[test]
fn every_file_of_the_fixture_is_accounted_for() {
    let g = fixture();
    let names: Vec<&str> = g.files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        vec![
            "Cargo.toml",
            "README.md",
            "operations.json",
            "rustfmt.toml",
            "src/errors.rs",
            "src/lib.rs",
            "src/pagination.rs",
            "src/runtime.rs",
            "src/search.rs",
            "src/timestamp.rs",
            "src/types/mod.rs",
            "src/types/search.rs",
            "src/types/shared.rs",
            "src/types/widgets.rs",
            "src/widgets.rs",
            "tests/data/examples.json.gz",
            "tests/fidelity.rs",
        ]
    );
}
