//! Constructors and chainable setters for the structs users build (request bodies and `…Query` structs): with
//! `#[non_exhaustive]` on the struct, these are how a value is made, so a field GitHub adds later is not a
//! breaking change.

use crate::names;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// How a field holds its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// `T`: a required field.
    Plain,
    /// `Option<T>`: optional (or required and nullable).
    Optional,
    /// `Option<Option<T>>`: optional and nullable, where `Some(None)` sends `null`.
    ThreeState,
}

/// One field as the constructor and setters see it.
pub struct SetterField {
    pub ident: Ident,
    /// The element type when `list`, else the value type (without `Box`, `Option`).
    pub ty: TokenStream,
    pub slot: Slot,
    /// A `Vec<ty>`: taken as any iterator of values convertible to `ty`.
    pub list: bool,
    pub boxed: bool,
}

impl SetterField {
    /// The parameter type: `impl Into<T>`, or `impl IntoIterator<Item = impl Into<T>>` for lists.
    fn param(&self) -> TokenStream {
        let t = &self.ty;
        if self.list {
            quote!(impl IntoIterator<Item = impl Into<#t>>)
        } else {
            quote!(impl Into<#t>)
        }
    }

    /// The expression turning parameter `v` into the field's value type (before `Option` wrapping).
    fn convert(&self, v: &Ident) -> TokenStream {
        let value = if self.list {
            quote!(#v.into_iter().map(Into::into).collect())
        } else {
            quote!(#v.into())
        };
        if self.boxed {
            quote!(Box::new(#value))
        } else {
            value
        }
    }
}

/// `new(required…)`, taking each field of `Slot::Plain` (required); every other field starts absent.
pub fn constructor(name: &Ident, fields: &[SetterField], cfg: &Option<TokenStream>) -> TokenStream {
    let args = fields.iter().filter(|f| f.slot == Slot::Plain).map(|f| {
        let id = &f.ident;
        let p = f.param();
        quote!(#id: #p)
    });
    let inits = fields.iter().map(|f| {
        let id = &f.ident;
        match f.slot {
            Slot::Plain => {
                let v = f.convert(id);
                quote!(#id: #v)
            }
            _ => quote!(#id: None),
        }
    });
    quote! {
        #cfg
        impl #name {
            /// A value with the required fields set and every optional field absent.
            pub fn new(#(#args),*) -> Self { #name { #(#inits),* } }
        }
    }
}

/// One chainable setter per field (`.state(..)`, `.labels([..])`), plus `…_null()` for fields that can be sent as
/// an explicit `null`.
pub fn setters(name: &Ident, fields: &[SetterField], cfg: &Option<TokenStream>) -> TokenStream {
    let fns = fields.iter().map(|f| {
        let id = &f.ident;
        let bare = id.to_string();
        let bare = bare.trim_start_matches("r#");
        // A setter may not be called `new`, which is the constructor.
        let setter = if bare == "new" {
            format_ident!("with_new")
        } else {
            id.clone()
        };
        let v = format_ident!("value");
        let p = f.param();
        let value = f.convert(&v);
        let doc = format!(" Sets `{bare}`.");
        let set = match f.slot {
            Slot::Plain => quote!(self.#id = #value;),
            Slot::Optional => quote!(self.#id = Some(#value);),
            Slot::ThreeState => quote!(self.#id = Some(Some(#value));),
        };
        let null = (f.slot == Slot::ThreeState).then(|| {
            let n = names::ident(&format!("{bare}_null"));
            let doc = format!(" Sends `{bare}` as `null` (GitHub then clears it).");
            quote! {
                #[doc = #doc]
                pub fn #n(mut self) -> Self { self.#id = Some(None); self }
            }
        });
        quote! {
            #[doc = #doc]
            pub fn #setter(mut self, #v: #p) -> Self { #set self }
            #null
        }
    });
    quote! {
        #cfg
        impl #name {
            #(#fns)*
        }
    }
}
