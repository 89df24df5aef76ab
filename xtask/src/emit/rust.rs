//! Rust spellings of model types shared by the emitters.

use crate::model::{Model, RType};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeSet;

/// The type as written inside the `types` module (named types unqualified).
pub fn tokens(model: &Model, ty: &RType) -> TokenStream {
    spell(model, ty, &|n| quote!(#n))
}

/// The type as written in an endpoint module, where the models are reached through `types::`.
pub fn qualified(model: &Model, ty: &RType) -> TokenStream {
    spell(model, ty, &|n| quote!(types::#n))
}

/// The Rust spelling of `ty`, with `named` writing the name of a model type.
fn spell(
    model: &Model,
    ty: &RType,
    named: &dyn Fn(&proc_macro2::Ident) -> TokenStream,
) -> TokenStream {
    match ty {
        RType::String => quote!(String),
        RType::Timestamp => quote!(crate::Timestamp),
        RType::I64 => quote!(i64),
        RType::F64 => quote!(f64),
        RType::Bool => quote!(bool),
        // A free-form object is any JSON, since GitHub answers some of these with `null` or an empty body.
        RType::Value | RType::Object => quote!(serde_json::Value),
        RType::Vec(t) => {
            let t = spell(model, t, named);
            quote!(Vec<#t>)
        }
        RType::Map(t) => {
            let t = spell(model, t, named);
            quote!(std::collections::BTreeMap<String, #t>)
        }
        RType::Option(t) => {
            let t = spell(model, t, named);
            quote!(Option<#t>)
        }
        RType::Named(id) => named(&format_ident!("{}", model.defs[*id].name)),
    }
}

/// `#[cfg(feature = "x")]` or `#[cfg(any(…))]` for an item compiled with these features.
pub fn cfg_attr(features: &BTreeSet<String>) -> Option<TokenStream> {
    let fs = features.iter();
    match features.len() {
        0 => None,
        1 => Some(quote!(#[cfg(feature = #(#fs)*)])),
        _ => Some(quote!(#[cfg(any(#(feature = #fs),*))])),
    }
}
