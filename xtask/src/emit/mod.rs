//! Emitting: the model becomes token streams and texts, one function per kind of output. Nothing here decides
//! file names or writes files; that is the layout stage's.

pub mod endpoints;
pub mod errors;
pub mod fidelity;
pub mod lib;
pub mod manifest;
pub mod rust;
pub mod setters;
pub mod types;
pub mod webhooks;

use crate::model::{Model, Operation};
use crate::spec::Spec;
use anyhow::Result;
use proc_macro2::TokenStream;
use std::collections::BTreeMap;

/// Everything the generated crate is made of, before formatting and layout.
pub struct Output {
    /// (tag, module) for every tag.
    pub tags: Vec<(String, TokenStream)>,
    pub types: Vec<types::TypeGroup>,
    pub errors: TokenStream,
    pub lib: TokenStream,
    pub cargo_toml: String,
    /// `README.md`, the crate's page on crates.io.
    pub readme: String,
    pub manifest: String,
    pub fidelity_test: TokenStream,
    /// `src/webhooks.rs`, when the description defines webhooks.
    pub webhooks: Option<TokenStream>,
    /// The gzipped examples the fidelity test decodes.
    pub examples: Vec<u8>,
}

/// The package name of the crate in `generated/`; `regen --out DIR --crate-name NAME` writes the same crate under
/// another name.
pub const CRATE_NAME: &str = "github-rest";

/// Emits every part of the crate named `name` from the model (and the description, for the examples).
pub fn emit(
    spec: &Spec,
    model: &Model,
    patches: &[String],
    passes: &[(&str, usize)],
    name: &str,
) -> Result<Output> {
    let mut by_tag: BTreeMap<&str, Vec<&Operation>> = BTreeMap::new();
    for op in &model.operations {
        by_tag.entry(op.tag.as_str()).or_default().push(op);
    }
    let tags = by_tag
        .iter()
        .map(|(tag, ops)| Ok((tag.to_string(), endpoints::tag_module(model, tag, ops)?)))
        .collect::<Result<Vec<_>>>()?;
    let features = lib::feature_descriptions(spec, model);
    let webhooks = !model.webhooks.is_empty();
    Ok(Output {
        tags,
        types: types::groups(model),
        errors: errors::module(model),
        lib: lib::lib_rs(spec, model, name),
        cargo_toml: lib::cargo_toml(name, &features, webhooks),
        readme: lib::readme(spec, name, &features, webhooks),
        manifest: manifest::json(spec, model, patches, passes),
        fidelity_test: fidelity::test(model, &name.replace('-', "_")),
        webhooks: webhooks::module(model),
        examples: fidelity::examples(&spec.json)?,
    })
}
