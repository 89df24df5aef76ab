//! Emitting the generated crate's fidelity test, and the examples it decodes.
//!
//! The examples are those of the patched, normalised description, written by regen as data beside the test
//! (`tests/data/examples.json.gz`), so the generated crate's tests need nothing of the generator.

use crate::examples::{add_unknown_fields, success_examples};
use crate::model::Model;
use anyhow::Result;
use proc_macro2::{Literal, TokenStream};
use quote::quote;
use serde_json::{json, Value};
use std::io::Write;

/// Where the test finds its examples, relative to the generated crate.
pub const EXAMPLES_FILE: &str = "tests/data/examples.json.gz";

/// Every 2xx `application/json` example of `spec`, as it is and with unknown fields added to every object, gzipped.
pub fn examples(spec: &Value) -> Result<Vec<u8>> {
    let list: Vec<Value> = success_examples(spec)
        .into_iter()
        .filter(|e| e.media_type == "application/json")
        .map(|e| {
            let mut unknown = e.value.clone();
            add_unknown_fields(spec, &e.schema_ptr, &mut unknown);
            json!({
                "operation_id": e.operation_id,
                "status": e.status,
                "name": e.name,
                "value": e.value,
                "with_unknown_fields": unknown,
            })
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut gz, &list)?;
    gz.flush()?;
    Ok(gz.finish()?)
}

/// The test: every example decodes into the `rust_type` of its operation and status, also with unknown fields
/// added; arbitrary JSON never panics any response type. `krate` is the generated crate's library name.
pub fn test(model: &Model, krate: &str) -> TokenStream {
    let krate = quote::format_ident!("{}", krate);
    let mut arms = Vec::new();
    let mut cases = Vec::new();
    for op in &model.operations {
        for r in op.successes() {
            let (Some(t), Some("application/json")) = (&r.ty, r.content_type.as_deref()) else {
                continue;
            };
            let ty = super::rust::qualified(model, t);
            let (id, st, f) = (&op.id, Literal::u16_unsuffixed(r.status), &op.feature);
            arms.push(quote! { #[cfg(feature = #f)] (#id, #st) => Some(check::<#ty>(body)), });
            cases.push(quote! { #[cfg(feature = #f)] (#id, #st), });
        }
    }
    let file = EXAMPLES_FILE;
    let support = support(&krate);
    quote! {
        //! Every 2xx `application/json` example of the pinned description decodes into the type `operations.json`
        //! names for its operation and status; the same examples with unknown fields added still decode; and
        //! arbitrary JSON thrown at every response type never panics. Run with `--features full` to cover every
        //! operation.
        #![allow(deprecated, reason = "deprecated operations' types are decoded too")]

        #[allow(unused_imports)]
        use #krate::types;
        use proptest::prelude::*;
        use serde_json::Value;

        const EXAMPLES: &str = #file;

        /// Decodes `body` as the type of (operation, status); `None` when that operation's feature is off.
        fn decode(op: &str, status: u16, body: &Value) -> Option<Result<(), String>> {
            match (op, status) {
                #(#arms)*
                _ => None,
            }
        }

        /// Every (operation, status) with a JSON success type among the enabled features.
        const CASES: &[(&str, u16)] = &[#(#cases)*];

        #support
    }
}

/// The part of the test that does not depend on the target.
fn support(krate: &proc_macro2::Ident) -> TokenStream {
    quote! {
        fn check<T: serde::de::DeserializeOwned>(body: &Value) -> Result<(), String> {
            let text = serde_json::to_vec(body).map_err(|e| e.to_string())?;
            serde_json::from_slice::<T>(&text).map(|_| ()).map_err(|e| e.to_string())
        }

        fn examples() -> Vec<Value> {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLES);
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_reader(flate2::read::GzDecoder::new(file)).expect("the examples file is JSON")
        }

        /// Decodes the `field` of every example: (decoded, examples, failures).
        fn run(field: &str) -> (usize, usize, Vec<String>) {
            let (mut decoded, mut failures) = (0, Vec::new());
            let all = examples();
            for e in &all {
                let op = e["operation_id"].as_str().unwrap_or_default();
                let status = e["status"].as_u64().unwrap_or_default() as u16;
                match decode(op, status, &e[field]) {
                    Some(Ok(())) => decoded += 1,
                    Some(Err(msg)) => failures.push(format!("{op} {status} example `{}`: {msg}", e["name"])),
                    None => {}
                }
            }
            (decoded, all.len(), failures)
        }

        #[test]
        fn every_success_example_decodes() {
            let (decoded, total, failures) = run("value");
            println!("decoded {decoded}/{total} examples of {}", #krate::TARGET);
            assert!(failures.is_empty(), "{} of {total} examples do not decode:\n{}", failures.len(), failures.join("\n"));
            if cfg!(feature = "full") {
                assert_eq!(decoded, total, "with every feature on, every example has a type");
            }
        }

        #[test]
        fn examples_with_unknown_fields_still_decode() {
            let (decoded, total, failures) = run("with_unknown_fields");
            println!("decoded {decoded}/{total} examples with unknown fields added to every object");
            assert!(failures.is_empty(), "{} examples fail once unknown fields are added:\n{}", failures.len(), failures.join("\n"));
        }

        fn arb_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| serde_json::json!(n)),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f)),
                "[a-z_]{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_]{1,10}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
            /// Decoding may fail, but it returns an error: it never panics, whatever the JSON.
            #[test]
            fn arbitrary_json_never_panics(v in arb_json()) {
                for (op, status) in CASES {
                    let _ = decode(op, *status, &v);
                }
            }
        }
    }
}
