//! Emitting endpoints: one module per tag with a handle (`client.issues()`), and per operation a `static` descriptor
//! of the operation plus a short function that hands the caller's arguments and the descriptor to the runtime.

use super::rust::qualified;
use super::setters::{self, SetterField, Slot};
use crate::lower::operation::media_suffix;
use crate::model::{Body, BodyKind, Host, Model, Operation, Param, RType, Response};
use crate::names;
use anyhow::{bail, Result};
use heck::ToShoutySnakeCase;
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// The module of one tag.
pub fn tag_module(model: &Model, tag: &str, ops: &[&Operation]) -> Result<TokenStream> {
    let handle = format_ident!("{}", names::type_name(&format!("{tag}-api")));
    let accessor = names::field_ident(tag);
    let tag_doc = format!(
        " Endpoints tagged `{tag}`; reached with [`Client::{accessor}`](crate::Client::{accessor})."
    );
    let accessor_doc = format!(" Endpoints tagged `{tag}`.");
    let mut fns = Vec::new();
    let mut items = Vec::new();
    for op in ops {
        let e = Emitter::new(model, op)?;
        fns.push(e.functions());
        items.push(e.items());
    }
    Ok(quote! {
        #![doc = #tag_doc]
        #![allow(deprecated, reason = "deprecated operations and types are still generated, marked `#[deprecated]`")]
        #![allow(clippy::too_many_arguments, reason = "an endpoint function takes one argument per path parameter")]
        #[allow(unused_imports)]
        use crate::runtime::{decode_json, decode_text, Args, AuthKind, BodyKind, Client, DecodeFail, Endpoint, Error, Host, Query, QueryPairs, Request, Response};
        #[allow(unused_imports)]
        use crate::{errors, pagination::Pages, types};
        use reqwest::Method;

        impl Client {
            #[doc = #accessor_doc]
            pub fn #accessor(&self) -> #handle<'_> {
                #handle { client: self }
            }
        }

        #[doc = #accessor_doc]
        #[derive(Clone, Copy)]
        pub struct #handle<'a> {
            client: &'a Client,
        }

        impl<'a> #handle<'a> {
            #(#fns)*
        }

        #(#items)*
    })
}

/// What one operation emits: its functions (inside the handle) and its items (descriptors, query and response types).
struct Emitter<'m> {
    model: &'m Model,
    op: &'m Operation,
    /// The function's arguments after `&self`.
    args: Vec<TokenStream>,
    /// `Args::new(&[…])` with the query and body calls.
    call_args: TokenStream,
    /// The descriptor's name.
    ep: Ident,
}

impl<'m> Emitter<'m> {
    fn new(model: &'m Model, op: &'m Operation) -> Result<Self> {
        let mut args = Vec::new();
        let mut path_values = Vec::new();
        for p in op.path_params() {
            let id = names::field_ident(&p.rust);
            check_text(model, op, p, &p.ty)?;
            let t = match &p.ty {
                RType::String => quote!(&str),
                t => qualified(model, t),
            };
            args.push(quote!(#id: #t));
            path_values.push(quote!(&#id));
        }
        let mut call_args = quote!(Args::new(&[#(#path_values),*]));
        if op.query_params().next().is_some() {
            for p in op.query_params() {
                check_text(model, op, p, element(&p.ty))?;
            }
            let q = query_name(op);
            args.push(quote!(query: &#q));
            call_args.extend(quote!(.query(query)));
        }
        let (body_args, body_call) = body(model, op);
        args.extend(body_args);
        call_args.extend(body_call);
        let ep = format_ident!("{}", op.fn_name.to_shouty_snake_case());
        Ok(Emitter {
            model,
            op,
            args,
            call_args,
            ep,
        })
    }

    fn functions(&self) -> TokenStream {
        let mut out = self.call_function();
        for (mt, t, _) in alternates(self.op) {
            out.extend(self.alternate_function(mt, t));
        }
        if self.op.streams() {
            out.extend(self.stream_function());
        }
        out
    }

    fn items(&self) -> TokenStream {
        let op = self.op;
        let mut out = TokenStream::new();
        let ok: Vec<(u16, BodyKind)> = op.answers().map(|r| (r.status, r.kind())).collect();
        out.extend(descriptor(op, &self.ep, &accept_for(op), &ok));
        for (mt, _, r) in alternates(op) {
            let ep = self.alternate_ep(mt);
            let kind = if is_json(mt) {
                BodyKind::Json
            } else {
                BodyKind::Text
            };
            out.extend(descriptor(op, &ep, mt, &[(r.status, kind)]));
        }
        if op.query_params().next().is_some() {
            out.extend(query_struct(self.model, op));
        }
        if !op.one_answer() {
            out.extend(response_enum(self.model, op));
        }
        out
    }

    fn call_function(&self) -> TokenStream {
        let (model, op) = (self.model, self.op);
        let doc = names::doc_attrs(&function_doc(op));
        let deprecated = deprecated(op);
        let fn_ident = names::field_ident(&op.fn_name);
        let (args, call_args, ep) = (&self.args, &self.call_args, &self.ep);
        let successes: Vec<&Response> = op.answers().collect();
        if op.one_answer() {
            let ret = match successes.first().and_then(|r| r.ty.as_ref()) {
                Some(t) => qualified(model, t),
                None => quote!(()),
            };
            return quote! {
                #doc
                #deprecated
                pub async fn #fn_ident(&self, #(#args),*) -> Result<Response<#ret>, Error> {
                    self.client.call(&#ep, #call_args).await
                }
            };
        }
        let ename = response_name(op);
        let arms = successes.iter().map(|r| {
            let st = Literal::u16_unsuffixed(r.status);
            let v = variant_name(r.status);
            match r.kind() {
                BodyKind::Empty => quote!(#st => Ok(#ename::#v),),
                BodyKind::Json => quote!(#st => decode_json(body).map(#ename::#v),),
                BodyKind::Text => quote!(#st => decode_text(body).map(#ename::#v),),
            }
        });
        let body = if successes.iter().all(|r| r.kind() == BodyKind::Empty) {
            quote!(_body)
        } else {
            quote!(body)
        };
        quote! {
            #doc
            #deprecated
            pub async fn #fn_ident(&self, #(#args),*) -> Result<Response<#ename>, Error> {
                self.client
                    .call_with(&#ep, #call_args, |status, #body| match status {
                        #(#arms)*
                        _ => Err(DecodeFail::Unexpected),
                    })
                    .await
            }
        }
    }

    fn alternate_ep(&self, mt: &str) -> Ident {
        format_ident!(
            "{}",
            format!("{}_{}", self.op.fn_name, media_suffix(mt)).to_shouty_snake_case()
        )
    }

    /// The same call asking for another media type (`application/vnd.github.diff`).
    fn alternate_function(&self, mt: &str, t: &RType) -> TokenStream {
        let op = self.op;
        let ident = format_ident!("{}_{}", op.fn_name, media_suffix(mt));
        let ty = qualified(self.model, t);
        let doc = format!(
            " Like [`{}`](Self::{}), asking for `{mt}`.",
            op.fn_name, op.fn_name
        );
        let deprecated = deprecated(op);
        let (args, call_args, ep) = (&self.args, &self.call_args, self.alternate_ep(mt));
        quote! {
            #[doc = #doc]
            #deprecated
            pub async fn #ident(&self, #(#args),*) -> Result<Response<#ty>, Error> {
                self.client.call(&#ep, #call_args).await
            }
        }
    }

    /// The items of every page as a stream.
    fn stream_function(&self) -> TokenStream {
        let op = self.op;
        let Some(p) = &op.pagination else {
            return TokenStream::new();
        };
        let ident = format_ident!("{}_stream", op.fn_name);
        let item = qualified(self.model, &p.item);
        let (key, what) = match p.shape.items_key() {
            Some(k) => (quote!(Some(#k)), format!("the `{k}` items of every page")),
            None => (quote!(None), "the items of every page".to_string()),
        };
        let doc = format!(
            " Like [`{}`](Self::{}), as a stream of {what}: follows `Link: rel=\"next\"`, 100 items a page unless \
             `per_page` is set. See [`Pages`].",
            op.fn_name, op.fn_name
        );
        let deprecated = deprecated(op);
        let (args, call_args, ep) = (&self.args, &self.call_args, &self.ep);
        quote! {
            #[doc = #doc]
            #deprecated
            pub fn #ident(&self, #(#args),*) -> Pages<#item> {
                let request = Request::new(&#ep, #call_args.per_page(100));
                Pages::new(self.client.clone(), request, #key)
            }
        }
    }
}

/// The alternate media types of the successes: (media type, body type, response).
fn alternates(op: &Operation) -> impl Iterator<Item = (&str, &RType, &Response)> {
    op.successes()
        .flat_map(|r| r.alternates.iter().map(move |(mt, t)| (mt.as_str(), t, r)))
}

fn is_json(mt: &str) -> bool {
    mt.ends_with("json") || mt.ends_with(".object")
}

/// A path or query value is written with `Display`: scalars, string enums and unions of those have it.
fn check_text(model: &Model, op: &Operation, p: &Param, ty: &RType) -> Result<()> {
    if !model.is_text(ty) {
        bail!(
            "{}: parameter `{}` has type {}, which cannot be written into a URL",
            op.id,
            p.name,
            model.path_string(ty)
        );
    }
    Ok(())
}

/// The element type of a list parameter (the type itself otherwise).
fn element(ty: &RType) -> &RType {
    match ty {
        RType::Vec(t) => t,
        t => t,
    }
}

/// The `static` describing the operation to the runtime.
fn descriptor(op: &Operation, ep: &Ident, accept: &str, ok: &[(u16, BodyKind)]) -> TokenStream {
    let id = &op.id;
    let auth = format_ident!("{}", op.auth.variant());
    let method = format_ident!("{}", op.method);
    let host = match op.host {
        Host::Api => quote!(Host::Api),
        Host::Uploads => quote!(Host::Uploads),
    };
    let path = &op.path;
    let success = ok.iter().map(|(st, kind)| {
        let st = Literal::u16_unsuffixed(*st);
        let k = format_ident!("{kind:?}");
        quote!((#st, BodyKind::#k))
    });
    let errors = op.errors().map(|r| {
        let st = Literal::u16_unsuffixed(r.status);
        match r.error_slot {
            Some(slot) => {
                let f = format_ident!("decode_{}", slot);
                quote!((#st, Some(errors::#f)))
            }
            None => quote!((#st, None)),
        }
    });
    quote! {
        static #ep: Endpoint = Endpoint {
            id: #id,
            auth: AuthKind::#auth,
            method: Method::#method,
            host: #host,
            path: #path,
            accept: #accept,
            success: &[#(#success),*],
            errors: &[#(#errors),*],
        };
    }
}

fn query_name(op: &Operation) -> Ident {
    format_ident!("{}Query", pascal(op))
}

fn response_name(op: &Operation) -> Ident {
    format_ident!("{}Outcome", pascal(op))
}

fn pascal(op: &Operation) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(format!("{}-{}", op.tag, op.fn_name).as_str())
}

/// A link to the operation's function, for the docs of its query and response types.
fn function_link(op: &Operation) -> String {
    format!(
        "[`{}`]({}::{})",
        op.fn_name,
        names::type_name(&format!("{}-api", op.tag)),
        op.fn_name
    )
}

/// The `…Query` struct of an operation and how it writes itself as `name=value` pairs.
fn query_struct(model: &Model, op: &Operation) -> TokenStream {
    let name = query_name(op);
    let query: Vec<&Param> = op.query_params().collect();
    let all_default = query.iter().all(|p| {
        !p.required
            || matches!(
                p.ty,
                RType::String | RType::I64 | RType::Bool | RType::F64 | RType::Vec(_)
            )
    });
    let derive_default = all_default.then(|| quote!(Default,));
    let fields = query.iter().map(|p| {
        let id = names::field_ident(&p.rust);
        let t = qualified(model, &p.ty);
        let d = p.doc.as_deref().map(|s| names::doc_attrs(&doc_text(s)));
        if p.required {
            quote!(#d pub #id: #t,)
        } else {
            quote!(#d pub #id: Option<#t>,)
        }
    });
    let writes = query.iter().map(|p| {
        let id = names::field_ident(&p.rust);
        let key = &p.name;
        let value = if p.required {
            quote!(Some(&self.#id))
        } else {
            quote!(self.#id.as_ref())
        };
        match (&p.ty, p.explode, p.required) {
            (RType::Vec(_), true, _) => quote!(out.push_each(#key, #value);),
            (RType::Vec(_), false, _) => quote!(out.push_joined(#key, #value);),
            (_, _, true) => quote!(out.push(#key, &self.#id);),
            (_, _, false) => quote!(out.push_opt(#key, #value);),
        }
    });
    let sf: Vec<SetterField> = query
        .iter()
        .map(|p| {
            let (ty, list) = match &p.ty {
                RType::Vec(t) => (qualified(model, t), true),
                t => (qualified(model, t), false),
            };
            SetterField {
                ident: names::field_ident(&p.rust),
                ty,
                slot: if p.required {
                    Slot::Plain
                } else {
                    Slot::Optional
                },
                list,
                boxed: false,
            }
        })
        .collect();
    let ctor = setters::constructor(&name, &sf, &None);
    let set = setters::setters(&name, &sf, &None);
    let doc = format!(" Query parameters of {}.", function_link(op));
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, #derive_default)]
        #[non_exhaustive]
        pub struct #name { #(#fields)* }
        #ctor
        #set

        impl Query for #name {
            fn write(&self, out: &mut QueryPairs) {
                #(#writes)*
            }
        }
    }
}

/// For operations whose success statuses carry different bodies: one variant per status.
fn response_enum(model: &Model, op: &Operation) -> TokenStream {
    let name = response_name(op);
    let variants = op.answers().map(|r| {
        let v = variant_name(r.status);
        let doc = format!(" HTTP {}", r.status);
        match &r.ty {
            Some(t) => {
                let t = qualified(model, t);
                quote!(#[doc = #doc] #v(#t),)
            }
            None => quote!(#[doc = #doc] #v,),
        }
    });
    let doc = format!(" The success responses of {}.", function_link(op));
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone)]
        #[non_exhaustive]
        pub enum #name { #(#variants)* }
    }
}

/// The argument and `Args` call of each kind of request body.
fn body(model: &Model, op: &Operation) -> (Vec<TokenStream>, TokenStream) {
    match &op.body {
        None => (vec![], quote!()),
        Some(Body::Json { ty, required: true }) => {
            let t = qualified(model, ty);
            (vec![quote!(body: &#t)], quote!(.json(body)))
        }
        Some(Body::Json {
            ty,
            required: false,
        }) => {
            let t = qualified(model, ty);
            (vec![quote!(body: Option<&#t>)], quote!(.json_opt(body)))
        }
        Some(Body::Text { content_type, .. }) => (
            vec![quote!(body: impl Into<String>)],
            quote!(.text(#content_type, body)),
        ),
        Some(Body::Multipart { .. }) => (
            vec![quote!(body: reqwest::multipart::Form)],
            quote!(.form(body)),
        ),
        // The media type of an upload is the caller's (the asset's own), so it is an argument.
        Some(Body::Bytes { .. }) => (
            vec![
                quote!(content_type: &str),
                quote!(body: impl Into<reqwest::Body>),
            ],
            quote!(.body(content_type, body)),
        ),
    }
}

fn deprecated(op: &Operation) -> Option<TokenStream> {
    op.deprecated
        .as_deref()
        .map(|n| quote!(#[deprecated(note = #n)]))
}

/// Summary, description, multipart parts, route, availability and the docs link.
fn function_doc(op: &Operation) -> String {
    let mut doc = format!("{}\n\n", op.summary.trim());
    if let Some(d) = &op.description {
        doc.push_str(&doc_text(d.trim()));
        doc.push_str("\n\n");
    }
    if let Some(Body::Multipart { parts, .. }) = &op.body {
        let list: Vec<String> = parts
            .iter()
            .map(|(n, file)| format!("`{n}`{}", if *file { " (a file)" } else { "" }))
            .collect();
        doc.push_str(&format!(
            "The body is `multipart/form-data` with the parts {}.\n\n",
            list.join(", ")
        ));
    }
    doc.push_str(&format!(
        "`{} {}` (operation `{}`)",
        op.method, op.path, op.id
    ));
    if !op.available.is_empty() {
        doc.push_str(&format!("\n\nAvailable on: {}.", op.available.join(", ")));
    }
    if let Some(u) = &op.docs_url {
        doc.push_str(&format!("\n\n[GitHub docs]({u})"));
    }
    doc
}

/// Markdown from the description made safe for rustdoc: relative links made absolute.
pub fn doc_text(s: &str) -> String {
    s.replace("](/", "](https://docs.github.com/")
}

fn variant_name(status: u16) -> Ident {
    let reason = match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        203 => "NonAuthoritative",
        204 => "NoContent",
        205 => "ResetContent",
        206 => "PartialContent",
        207 => "MultiStatus",
        301 => "MovedPermanently",
        302 => "Found",
        303 => "SeeOther",
        304 => "NotModified",
        307 => "TemporaryRedirect",
        308 => "PermanentRedirect",
        _ => return format_ident!("Status{}", status),
    };
    format_ident!("{}", reason)
}

/// `Accept`: GitHub's JSON media type, unless the operation only answers in another one.
fn accept_for(op: &Operation) -> String {
    let types: Vec<&str> = op
        .successes()
        .filter_map(|r| r.content_type.as_deref())
        .collect();
    if types.is_empty() || types.contains(&"application/json") {
        "application/vnd.github+json".to_string()
    } else {
        types[0].to_string()
    }
}
