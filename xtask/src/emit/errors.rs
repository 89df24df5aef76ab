//! Emitting `errors.rs`: the `ErrorBody` enum with one variant per error body type any operation declares, and a
//! decoder per variant that the endpoint descriptors name.

use super::rust::{cfg_attr, qualified};
use crate::model::{Model, RType};
use crate::names;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeSet;

pub fn module(model: &Model) -> TokenStream {
    // Each variant is compiled with the features of the operations that name it.
    let mut features: Vec<BTreeSet<String>> = vec![BTreeSet::new(); model.errors.entries.len()];
    for op in &model.operations {
        for slot in op.responses.iter().filter_map(|r| r.error_slot) {
            features[slot].insert(op.feature.clone());
        }
    }
    let mut used = BTreeSet::new();
    let mut variants = Vec::new();
    let mut decoders = Vec::new();
    for (i, t) in model.errors.entries.iter().enumerate() {
        let base = match t {
            RType::Named(id) => model.defs[*id].name.clone(),
            _ => format!("Slot{i}"),
        };
        let v = format_ident!("{}", names::unique(base, &mut used, ""));
        let ty = qualified(model, t);
        let cfg = cfg_attr(&features[i]);
        let f = format_ident!("decode_{}", i);
        let doc = format!(
            " The `{}` error body.",
            model.path_string(t).trim_start_matches("crate::types::")
        );
        variants.push(quote!(#cfg #[doc = #doc] #v(#ty),));
        decoders.push(quote! {
            #cfg
            #[doc(hidden)]
            pub fn #f(body: &[u8]) -> Result<ErrorBody, serde_json::Error> {
                serde_json::from_slice::<#ty>(body).map(ErrorBody::#v)
            }
        });
    }
    quote! {
        //! Error bodies: the schema GitHub's description gives for each error status, as one enum.
        #![allow(deprecated, reason = "deprecated error schemas are still decoded")]
        #[allow(unused_imports)]
        use crate::types;

        /// Decodes an error body into the type the description gives for its status.
        pub type Decoder = fn(&[u8]) -> Result<ErrorBody, serde_json::Error>;

        /// The body of an error response.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum ErrorBody {
            #(#variants)*
            /// JSON for a status the description gives no schema for, or that did not match the schema.
            Json(serde_json::Value),
            /// A body that is not JSON (an HTML error page from a proxy, say), as text.
            Text(String),
            /// No body.
            Empty,
        }

        #(#decoders)*
    }
}
