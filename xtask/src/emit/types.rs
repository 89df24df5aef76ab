//! Emitting the models: one item (or two, with its `impl`) per type, grouped by the features that reach them.

use super::rust::{cfg_attr, tokens};
use super::setters::{self, SetterField, Slot};
use crate::model::{DefKind, Field, Model, RType, TypeDef, Variant};
use crate::names;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::BTreeMap;

/// The types of one module of `types/`: those reached by exactly one feature (the module is compiled with it), or
/// the `shared` rest (each item carries its own `cfg`).
pub struct TypeGroup {
    pub module: String,
    pub feature: Option<String>,
    /// (type name, its items).
    pub items: Vec<(String, TokenStream)>,
}

/// Every emitted type, grouped; groups in module order, types in model order.
pub fn groups(model: &Model) -> Vec<TypeGroup> {
    let mut by_group: BTreeMap<Option<String>, Vec<usize>> = BTreeMap::new();
    for (id, d) in model.emitted() {
        let single = (d.features.len() == 1).then(|| d.features.iter().next().cloned());
        by_group.entry(single.flatten()).or_default().push(id);
    }
    let mut out: Vec<TypeGroup> = by_group
        .into_iter()
        .map(|(feature, ids)| TypeGroup {
            module: feature
                .as_deref()
                .map(names::snake)
                .unwrap_or_else(|| "shared".into()),
            items: ids
                .iter()
                .map(|&id| {
                    (
                        model.defs[id].name.clone(),
                        def(model, id, feature.is_none()),
                    )
                })
                .collect(),
            feature,
        })
        .collect();
    out.sort_by_key(|g| (g.feature.is_none(), g.module.clone()));
    out
}

/// One type definition; `item_cfg` adds the type's own `cfg` (for types in the shared module).
pub fn def(model: &Model, id: usize, item_cfg: bool) -> TokenStream {
    let d = &model.defs[id];
    let name = format_ident!("{}", d.name);
    let doc = d.doc.as_deref().map(names::doc_attrs);
    let deprecated = d.deprecated.then(|| quote!(#[deprecated]));
    let cfg = if item_cfg {
        cfg_attr(&d.features)
    } else {
        None
    };
    let attrs = quote!(#doc #deprecated);
    match &d.kind {
        DefKind::Pending => unreachable!("every reserved type is filled"),
        DefKind::Enum(variants) => {
            let vs = variants.iter().map(|(r, j)| {
                let r = format_ident!("{}", r);
                quote!(#r = #j,)
            });
            quote! {
                #cfg
                crate::open_enum! { #attrs #name { #(#vs)* } }
            }
        }
        DefKind::Untagged(variants) => union(model, id, variants, cfg, attrs),
        DefKind::Struct(fields) => structure(model, id, fields, cfg, attrs),
    }
}

fn union(
    model: &Model,
    id: usize,
    variants: &[Variant],
    cfg: Option<TokenStream>,
    attrs: TokenStream,
) -> TokenStream {
    let d = &model.defs[id];
    let name = format_ident!("{}", d.name);
    let vs = variants.iter().map(|v| {
        let r = format_ident!("{}", v.name);
        let t = tokens(model, &v.ty);
        quote!(#r(#t),)
    });
    let derives = derives(d, false, decodes(d));
    // A union of scalars (or lists of them) is written as text in paths and queries, like the value it holds.
    let display = model.is_text_union(&RType::Named(id)).then(|| {
        let arms = variants.iter().map(|v| {
            let r = format_ident!("{}", v.name);
            match v.ty {
                RType::Vec(_) => quote! {
                    #name::#r(v) => {
                        let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                        f.write_str(&parts.join(","))
                    }
                },
                _ => quote!(#name::#r(v) => v.fmt(f),),
            }
        });
        quote! {
            #cfg
            impl std::fmt::Display for #name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    match self {
                        #(#arms)*
                        #name::Other(serde_json::Value::String(s)) => f.write_str(s),
                        #name::Other(v) => v.fmt(f),
                    }
                }
            }
        }
    });
    let froms = conversions(model, &name, variants, &cfg);
    quote! {
        #cfg
        #attrs
        #derives
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum #name {
            #(#vs)*
            /// A value matching none of the shapes the description lists, kept as it arrived.
            Other(serde_json::Value),
        }
        #display
        #froms
    }
}

/// `From` the scalars a union holds, so `"text"`, `5` or `true` can be passed where the union is expected, and
/// from each of its named shapes.
fn conversions(
    model: &Model,
    name: &proc_macro2::Ident,
    variants: &[Variant],
    cfg: &Option<TokenStream>,
) -> TokenStream {
    let mut out = TokenStream::new();
    for v in variants {
        let r = format_ident!("{}", v.name);
        let from = |t: TokenStream, convert: TokenStream| {
            quote! {
                #cfg
                impl From<#t> for #name {
                    fn from(v: #t) -> Self { #name::#r(#convert) }
                }
            }
        };
        match v.ty {
            RType::String => {
                out.extend(from(quote!(String), quote!(v)));
                out.extend(from(quote!(&str), quote!(v.to_string())));
            }
            RType::I64 => out.extend(from(quote!(i64), quote!(v))),
            RType::F64 => out.extend(from(quote!(f64), quote!(v))),
            RType::Bool => out.extend(from(quote!(bool), quote!(v))),
            // A shape of its own (`IssuesAddLabelsRequestVariant0`): built with its setters, then `.into()`.
            RType::Named(_) => out.extend(from(tokens(model, &v.ty), quote!(v))),
            _ => {}
        }
    }
    out
}

fn structure(
    model: &Model,
    id: usize,
    fields: &[Field],
    cfg: Option<TokenStream>,
    attrs: TokenStream,
) -> TokenStream {
    let d = &model.defs[id];
    let name = format_ident!("{}", d.name);
    // Request types tell an absent optional nullable field from an explicit `null`; only they derive `Serialize`
    // and so take `#[serde]` field attributes.
    let fs = fields.iter().map(|f| field(model, f, d.request));
    let default = d.request && model.has_default(&RType::Named(id), 0);
    let derives = derives(d, default, false);
    let de = decodes(d).then(|| deserialize(model, &name, fields, d.request, &cfg));
    // Request bodies are built with `new(required…)` and setters; a field GitHub adds is then not a breaking change.
    let build = d.request.then(|| {
        let sf: Vec<SetterField> = fields.iter().map(|f| setter_field(model, f)).collect();
        let ctor = setters::constructor(&name, &sf, &cfg);
        let set = setters::setters(&name, &sf, &cfg);
        quote!(#ctor #set)
    });
    quote! {
        #cfg
        #attrs
        #derives
        #[non_exhaustive]
        pub struct #name { #(#fs)* }
        #de
        #build
    }
}

/// Whether a model is decoded (responses, and shapes used in neither direction).
fn decodes(d: &TypeDef) -> bool {
    d.response || !d.request
}

/// A struct's `Deserialize`, written out rather than derived: the field list and one line per field, the rest shared
/// in `runtime::de`. It decodes what the derive would (unknown keys skipped, a missing `Option` is `None`, a repeated
/// key and a missing required field are errors naming the field), with a fraction of the code to type-check: the
/// derive adds per struct a field enum with three visitors, a sequence visitor and the missing-field checks.
fn deserialize(
    model: &Model,
    name: &proc_macro2::Ident,
    fields: &[Field],
    three_state: bool,
    cfg: &Option<TokenStream>,
) -> TokenStream {
    let name_str = name.to_string();
    let slots: Vec<_> = (0..fields.len()).map(|i| format_ident!("f{}", i)).collect();
    let jsons: Vec<&str> = fields.iter().map(|f| f.json.as_str()).collect();
    let idx: Vec<_> = (0..fields.len())
        .map(proc_macro2::Literal::usize_unsuffixed)
        .collect();
    let mut decls = Vec::new();
    let mut inits = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let (slot, json) = (&slots[i], &f.json);
        let t = field_type(model, f);
        let ident = names::field_ident(&f.rust);
        let (value, finish) = match (f.required, f.nullable) {
            (true, false) => (t, quote!(required(#slot, #json)?)),
            // Absent stays `None`; `null` is `Some(None)`.
            (false, true) if three_state => (quote!(Option<#t>), quote!(#slot)),
            _ => (quote!(Option<#t>), quote!(#slot.flatten())),
        };
        decls.push(quote!(let mut #slot: Option<#value> = None;));
        inits.push(quote!(#ident: #finish,));
    }
    let uses = [
        (!fields.is_empty()).then(|| quote!(put)),
        fields
            .iter()
            .any(|f| f.required && !f.nullable)
            .then(|| quote!(required)),
    ];
    let uses = uses.iter().flatten();
    quote! {
        #cfg
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                crate::runtime::de::structure(d)
            }
        }
        #cfg
        impl<'de> crate::runtime::de::FromMap<'de> for #name {
            const NAME: &'static str = #name_str;
            fn from_map<A: serde::de::MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
                use crate::runtime::de::{#(#uses,)* skip, Field};
                fn index(key: &str) -> usize {
                    match key {
                        #(#jsons => #idx,)*
                        _ => usize::MAX,
                    }
                }
                #(#decls)*
                while let Some(i) = map.next_key_seed(Field(index))? {
                    match i {
                        #(#idx => put(&mut #slots, &mut map, #jsons)?,)*
                        _ => skip(&mut map)?,
                    }
                }
                Ok(#name { #(#inits)* })
            }
        }
    }
}

/// A request field as its constructor and setter take it.
fn setter_field(model: &Model, f: &Field) -> SetterField {
    let (ty, list) = match &f.ty {
        RType::Vec(t) if !f.boxed => (tokens(model, t), true),
        t => (tokens(model, t), false),
    };
    SetterField {
        ident: names::field_ident(&f.rust),
        ty,
        slot: match (f.required, f.nullable) {
            (true, false) => Slot::Plain,
            (false, true) => Slot::ThreeState,
            _ => Slot::Optional,
        },
        list,
        boxed: f.boxed,
    }
}

fn field_type(model: &Model, f: &Field) -> TokenStream {
    let t = tokens(model, &f.ty);
    if f.boxed {
        quote!(Box<#t>)
    } else {
        t
    }
}

fn field(model: &Model, f: &Field, request: bool) -> TokenStream {
    let three_state = request;
    let ident = names::field_ident(&f.rust);
    let t = field_type(model, f);
    let json = &f.json;
    let rename =
        (ident.to_string().trim_start_matches("r#") != f.json).then(|| quote!(rename = #json,));
    let fdoc = f.doc.as_deref().map(names::doc_attrs);
    let (ty, attrs) = match (f.required, f.nullable) {
        (true, false) => (t, rename.map(|r| quote!(#[serde(#r)]))),
        (true, true) => (quote!(Option<#t>), rename.map(|r| quote!(#[serde(#r)]))),
        (false, true) if three_state => (
            quote!(Option<Option<#t>>),
            Some(
                quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none", with = "crate::runtime::double_option")]),
            ),
        ),
        (false, _) => (
            quote!(Option<#t>),
            Some(quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none")])),
        ),
    };
    // Without `Serialize` the struct has no serde derive to read the attributes.
    let attrs = attrs.filter(|_| request);
    quote! { #fdoc #attrs pub #ident: #ty, }
}

/// The derives of a model; structs write their `Deserialize` out (see [`deserialize`]), unions derive it.
fn derives(d: &TypeDef, default: bool, de: bool) -> TokenStream {
    let ser = d.request.then(|| quote!(serde::Serialize,));
    let de = de.then(|| quote!(serde::Deserialize,));
    let def = default.then(|| quote!(Default,));
    quote!(#[derive(Debug, Clone, PartialEq, #def #ser #de)])
}
