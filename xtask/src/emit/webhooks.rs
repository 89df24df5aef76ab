//! Emitting `webhooks.rs`: one enum over every webhook the description defines, decoded from the `X-GitHub-Event`
//! header and the payload's `action`, with a variant that keeps any other delivery as raw JSON.

use super::rust::qualified;
use crate::lower::webhooks::Webhook;
use crate::model::Model;
use crate::names;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeSet;

/// The `webhooks` module, or `None` when the description defines no webhooks.
pub fn module(model: &Model) -> Option<TokenStream> {
    if model.webhooks.is_empty() {
        return None;
    }
    let hooks = &model.webhooks;
    let count = hooks.len();
    let variants = hooks.iter().map(|w| {
        let v = format_ident!("{}", w.variant);
        let t = qualified(model, &w.ty);
        let doc = w.doc.as_deref().map(names::doc_attrs);
        quote!(#doc #v(Box<#t>),)
    });
    let accessors = accessors(hooks);
    let doc = format!(
        "Webhook payloads: [`WebhookEvent`] has one variant for each of the {count} webhook definitions of the \
         description (an event, and for most events an action), and [`WebhookEvent::Unknown`] for any other delivery."
    );
    Some(quote! {
        #![doc = #doc]
        #![allow(deprecated, reason = "deprecated schemas are still generated, marked `#[deprecated]`")]
        use crate::types;

        /// A webhook delivery's payload, chosen by its event (the `X-GitHub-Event` header) and its `action`.
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum WebhookEvent {
            #(#variants)*
            /// An event (or action) this description does not define; its payload is kept as it came.
            Unknown {
                /// The `X-GitHub-Event` header.
                event: String,
                /// The payload's `action`, when it has one.
                action: Option<String>,
                /// The payload, byte for byte.
                payload: Box<serde_json::value::RawValue>,
            },
        }

        #accessors
    })
}

/// `parse`, `event`, `action` and `is_unknown`.
fn accessors(hooks: &[Webhook]) -> TokenStream {
    let arms = decode_arms(hooks);
    let events = hooks.iter().map(|w| {
        let v = format_ident!("{}", w.variant);
        let e = &w.event;
        quote!(WebhookEvent::#v(_) => #e,)
    });
    let actions = hooks.iter().map(|w| {
        let v = format_ident!("{}", w.variant);
        match &w.action {
            Some(a) => quote!(WebhookEvent::#v(_) => Some(#a),),
            None => quote!(WebhookEvent::#v(_) => None,),
        }
    });
    quote! {
        impl WebhookEvent {
            /// Decodes a payload sent with the event name `event` (the `X-GitHub-Event` header). A known event and
            /// action must decode into its type; anything else becomes [`WebhookEvent::Unknown`].
            pub fn parse(event: &str, body: &[u8]) -> Result<Self, serde_json::Error> {
                #[derive(serde::Deserialize)]
                struct Probe {
                    #[serde(default)]
                    action: Option<serde_json::Value>,
                }
                let probe: Probe = serde_json::from_slice(body)?;
                let action = probe.action.as_ref().and_then(serde_json::Value::as_str);
                Ok(match (event, action) {
                    #(#arms)*
                    _ => WebhookEvent::Unknown {
                        event: event.to_string(),
                        action: action.map(str::to_string),
                        payload: serde_json::from_slice(body)?,
                    },
                })
            }

            /// The event name (`X-GitHub-Event`).
            pub fn event(&self) -> &str {
                match self {
                    #(#events)*
                    WebhookEvent::Unknown { event, .. } => event,
                }
            }

            /// The payload's action, for definitions with a fixed action and unknown deliveries (an event whose
            /// action is free-form, like `repository_dispatch`, keeps it in its payload).
            pub fn action(&self) -> Option<&str> {
                match self {
                    #(#actions)*
                    WebhookEvent::Unknown { action, .. } => action.as_deref(),
                }
            }

            /// Whether this delivery is one the description does not define.
            pub fn is_unknown(&self) -> bool {
                matches!(self, WebhookEvent::Unknown { .. })
            }
        }
    }
}

/// The decoding arms: definitions with a fixed action first, then those matching any action of their event; a
/// second definition of an (event, action) already taken is not reachable and gets no arm.
fn decode_arms(hooks: &[Webhook]) -> Vec<TokenStream> {
    let mut seen = BTreeSet::new();
    let mut fixed = Vec::new();
    let mut any = Vec::new();
    for w in hooks {
        if !seen.insert((w.event.clone(), w.action.clone())) {
            continue;
        }
        let v = format_ident!("{}", w.variant);
        let e = &w.event;
        let decode = quote!(WebhookEvent::#v(serde_json::from_slice(body)?));
        match &w.action {
            Some(a) => fixed.push(quote!((#e, Some(#a)) => #decode,)),
            None => any.push(quote!((#e, _) => #decode,)),
        }
    }
    fixed.extend(any);
    fixed
}
