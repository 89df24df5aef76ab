//! Endpoint functions: one async method per operation, grouped into one handle per tag.

use crate::names;
use crate::types::{resolve, RType, TypeSpace};
use heck::ToUpperCamelCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;
use std::collections::BTreeMap;

pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub rust: String,
    pub location: String,
    pub required: bool,
    pub ty: RType,
    pub doc: Option<String>,
    /// Arrays in the query: exploded (`name=a&name=b`, OpenAPI's default for `form` style) or comma-separated.
    pub explode: bool,
}

#[derive(Debug, Clone)]
pub enum Body {
    Json {
        ty: RType,
        required: bool,
    },
    Text {
        content_type: String,
        required: bool,
    },
    Bytes {
        content_type: Option<String>,
        required: bool,
    },
    /// `multipart/form-data`: the caller builds a `reqwest::multipart::Form` with these parts (name, binary).
    Multipart {
        parts: Vec<(String, bool)>,
        required: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub content_type: Option<String>,
    /// Decoded body type (`None` for no body; `Some(String)` for text media types).
    pub ty: Option<RType>,
    /// Index into the error-body table, for error statuses with a JSON body.
    pub error_slot: Option<usize>,
    /// The other media types the response can be asked for (`application/vnd.github.diff`…), with their body type.
    pub alternates: Vec<(String, RType)>,
}

#[derive(Debug, Clone)]
pub struct Pagination {
    pub kind: &'static str,
    pub items_key: Option<String>,
    pub item: RType,
    pub cursor: bool,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    pub tag: String,
    pub feature: String,
    pub fn_name: String,
    pub summary: String,
    pub description: Option<String>,
    pub docs_url: Option<String>,
    pub deprecated: Option<String>,
    pub uploads: bool,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Resp>,
    pub pagination: Option<Pagination>,
    /// Which credential the operation takes: `token`, `app_jwt`, `basic` or `none` (see [`auth_kind`]).
    pub auth: &'static str,
    /// The targets whose spec has this operation.
    pub available: Vec<String>,
}

/// The spec carries no security requirements, so the credential an operation takes is decided here, from GitHub's
/// documented rules: the OAuth-app endpoints under `/applications/{client_id}/` take HTTP Basic with the client id and
/// secret; endpoints under `/app` (the app itself, its installations and installation requests) and those whose
/// description says a JWT must be used take the GitHub App JWT; the manifest conversion takes none (its `code` is the
/// credential); every other operation takes a token (installation, user, personal or `GITHUB_TOKEN`).
pub fn auth_kind(path: &str, description: &str) -> &'static str {
    if path.starts_with("/applications/{client_id}/") {
        "basic"
    } else if path == "/app"
        || path.starts_with("/app/")
        || description.contains("must use a [JWT]")
    {
        "app_jwt"
    } else if path.starts_with("/app-manifests/") {
        "none"
    } else {
        "token"
    }
}

impl Operation {
    /// Applies a type merge to every type the operation names.
    pub fn remap(&mut self, map: &[usize]) {
        use crate::types::remap;
        for p in &mut self.params {
            p.ty = remap(&p.ty, map);
        }
        if let Some(Body::Json { ty, .. }) = &mut self.body {
            *ty = remap(ty, map);
        }
        for r in &mut self.responses {
            r.ty = r.ty.as_ref().map(|t| remap(t, map));
            for (_, t) in &mut r.alternates {
                *t = remap(t, map);
            }
        }
        if let Some(p) = &mut self.pagination {
            p.item = remap(&p.item, map);
        }
    }

    pub fn pascal(&self) -> String {
        format!("{}-{}", self.tag, self.fn_name).to_upper_camel_case()
    }
    pub fn successes(&self) -> impl Iterator<Item = &Resp> {
        self.responses.iter().filter(|r| r.status < 400)
    }
    pub fn query_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().filter(|p| p.location != "path")
    }
}

/// The error-body table: one entry per distinct error body type, shared by all operations.
#[derive(Default)]
pub struct ErrorTable {
    pub entries: Vec<RType>,
}

impl ErrorTable {
    /// Applies a type merge: entries that became equal share one slot.
    pub fn remap(&mut self, map: &[usize], ops: &mut [Operation]) {
        let old = std::mem::take(&mut self.entries);
        let slots: Vec<usize> = old
            .iter()
            .map(|t| self.slot(&crate::types::remap(t, map)))
            .collect();
        for op in ops {
            for r in &mut op.responses {
                if let Some(s) = r.error_slot {
                    r.error_slot = Some(slots[s]);
                }
            }
        }
    }

    fn slot(&mut self, t: &RType) -> usize {
        match self.entries.iter().position(|e| e == t) {
            Some(i) => i,
            None => {
                self.entries.push(t.clone());
                self.entries.len() - 1
            }
        }
    }
}

/// Reads every operation of the spec (in path order) into the model, adding the types each one reaches.
pub fn collect(
    spec: &Value,
    ts: &mut TypeSpace,
    errors: &mut ErrorTable,
) -> anyhow::Result<Vec<Operation>> {
    let mut ops = Vec::new();
    let paths = spec["paths"]
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("spec has no paths"))?;
    for (path, item) in paths {
        let item = resolve(spec, item);
        let shared: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            ops.push(collect_op(
                spec, ts, errors, path, method, op, &shared, item,
            )?);
        }
    }
    // Function names must be unique within a tag's handle.
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for op in &mut ops {
        let key = (op.tag.clone(), op.fn_name.clone());
        let n = seen.entry(key).or_insert(0);
        *n += 1;
        if *n > 1 {
            op.fn_name = format!("{}_{}", op.fn_name, n);
        }
    }
    Ok(ops)
}

#[allow(clippy::too_many_arguments)]
fn collect_op(
    spec: &Value,
    ts: &mut TypeSpace,
    errors: &mut ErrorTable,
    path: &str,
    method: &str,
    op: &Value,
    shared: &[Value],
    item: &Value,
) -> anyhow::Result<Operation> {
    let id = op["operationId"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("{} {path} has no operationId", method.to_uppercase()))?
        .to_string();
    let tag = op
        .get("tags")
        .and_then(|t| t.get(0))
        .and_then(Value::as_str)
        .unwrap_or("misc")
        .to_string();
    let feature = tag.clone();
    let short = id.split_once('/').map(|(_, s)| s).unwrap_or(&id);
    let fn_name = names::snake(short);
    let pascal = format!("{tag}-{fn_name}").to_upper_camel_case();

    let mut params = Vec::new();
    let mut all: Vec<&Value> = shared.iter().collect();
    if let Some(ps) = op.get("parameters").and_then(Value::as_array) {
        all.extend(ps.iter());
    }
    let mut seen_params = std::collections::HashSet::new();
    for p in all.into_iter().rev() {
        let p = resolve(spec, p);
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let location = p["in"].as_str().unwrap_or("query").to_string();
        // Operation-level parameters override path-level ones of the same name and location.
        if !seen_params.insert((name.clone(), location.clone())) {
            continue;
        }
        let schema = p.get("schema").cloned().unwrap_or(Value::Null);
        // A nullable parameter is no different from an absent one on the wire.
        let ty = match ts.ty(&schema, &format!("{pascal}-{name}")) {
            RType::Option(t) => *t,
            t => t,
        };
        ts.mark(&ty, Some(&feature), true, false);
        let required =
            location == "path" || p.get("required").and_then(Value::as_bool).unwrap_or(false);
        params.push(Param {
            rust: names::snake(&name),
            name,
            location,
            required,
            ty,
            doc: p
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            explode: p
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(p.get("style").and_then(Value::as_str).unwrap_or("form") == "form"),
        });
    }
    params.reverse();
    // Path parameters in the order the path names them.
    let order: Vec<String> = path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n.to_string()))
        .collect();
    params.sort_by_key(|p| {
        if p.location == "path" {
            order
                .iter()
                .position(|n| *n == p.name)
                .unwrap_or(usize::MAX)
        } else {
            usize::MAX
        }
    });
    // Unique Rust names for parameters.
    let mut used = std::collections::HashSet::new();
    used.insert("body".to_string());
    used.insert("query".to_string());
    for p in &mut params {
        let base = p.rust.clone();
        let mut n = 2;
        while !used.insert(p.rust.clone()) {
            p.rust = format!("{base}_{n}");
            n += 1;
        }
    }

    let body = match op.get("requestBody") {
        None => None,
        Some(rb) => {
            let rb = resolve(spec, rb);
            let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
            let content = rb
                .get("content")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Some(mt) = content.get("application/json") {
                let ty = ts.ty(
                    mt.get("schema").unwrap_or(&Value::Null),
                    &format!("{pascal}-request"),
                );
                ts.mark(&ty, Some(&feature), true, false);
                Some(Body::Json { ty, required })
            } else if let Some(mt) = content.get("multipart/form-data") {
                let schema = resolve(spec, mt.get("schema").unwrap_or(&Value::Null));
                let parts = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|props| {
                        props
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    resolve(spec, v).get("format").and_then(Value::as_str)
                                        == Some("binary"),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(Body::Multipart { parts, required })
            } else if let Some((ct, _)) = content.iter().find(|(k, _)| k.starts_with("text/")) {
                Some(Body::Text {
                    content_type: ct.clone(),
                    required,
                })
            } else {
                let ct = content.keys().next().cloned();
                Some(Body::Bytes {
                    content_type: ct.filter(|c| c != "application/octet-stream" && c != "*/*"),
                    required,
                })
            }
        }
    };

    let mut responses = Vec::new();
    if let Some(rs) = op.get("responses").and_then(Value::as_object) {
        for (status, r) in rs {
            let Ok(code) = status.parse::<u16>() else {
                continue;
            };
            let r = resolve(spec, r);
            let content = r.get("content").and_then(Value::as_object);
            let (content_type, schema) = match content {
                Some(c) if c.contains_key("application/json") => (
                    Some("application/json".to_string()),
                    c["application/json"].get("schema"),
                ),
                Some(c) => match c.iter().next() {
                    Some((k, v)) => (Some(k.clone()), v.get("schema")),
                    None => (None, None),
                },
                None => (None, None),
            };
            let ty = match (&content_type, schema) {
                (Some(ct), Some(s)) if ct.ends_with("json") => {
                    let hint = if code < 400 {
                        format!("{pascal}-response")
                    } else {
                        format!("{pascal}-error{code}")
                    };
                    Some(ts.ty(s, &hint))
                }
                (Some(_), _) => Some(RType::String),
                (None, _) => None,
            };
            // Media types other than the primary one, each reachable through its own function.
            let mut alternates = Vec::new();
            if let Some(c) = content {
                for (mt, media) in c {
                    if Some(mt) == content_type.as_ref() || code >= 400 {
                        continue;
                    }
                    let t = match media.get("schema") {
                        Some(s) if mt.ends_with("json") || mt.ends_with(".object") => {
                            ts.ty(s, &format!("{pascal}-{}", media_suffix(mt)))
                        }
                        _ => RType::String,
                    };
                    ts.mark(&t, Some(&feature), false, true);
                    alternates.push((mt.clone(), t));
                }
            }
            let mut error_slot = None;
            if let Some(t) = &ty {
                if code >= 400 {
                    ts.mark(t, Some(&feature), false, true);
                    if content_type.as_deref() == Some("application/json") {
                        error_slot = Some(errors.slot(t));
                    }
                } else {
                    ts.mark(t, Some(&feature), false, true);
                }
            }
            responses.push(Resp {
                status: code,
                content_type,
                ty,
                error_slot,
                alternates,
            });
        }
    }
    responses.sort_by_key(|r| r.status);

    let pagination = pagination(ts, &params, &responses);
    let uploads = op
        .get("servers")
        .or_else(|| item.get("servers"))
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.iter().any(|s| {
                s.get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.contains("uploads"))
                    || s.pointer("/variables/origin/default")
                        .and_then(Value::as_str)
                        .is_some_and(|u| u.contains("uploads"))
            })
        });
    let deprecated = op
        .get("deprecated")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .then(|| {
            let date = op
                .pointer("/x-github/deprecationDate")
                .and_then(Value::as_str);
            let removal = op.pointer("/x-github/removalDate").and_then(Value::as_str);
            match (date, removal) {
                (Some(d), Some(r)) => {
                    format!("deprecated by GitHub on {d}; removal planned for {r}")
                }
                (Some(d), None) => format!("deprecated by GitHub on {d}"),
                _ => "deprecated by GitHub".to_string(),
            }
        });
    let auth = auth_kind(
        path,
        op.get("description")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    Ok(Operation {
        available: Vec::new(),
        auth,
        id,
        method: method.to_uppercase(),
        path: path.to_string(),
        tag,
        feature,
        fn_name,
        summary: op
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        description: op
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        docs_url: op
            .pointer("/externalDocs/url")
            .and_then(Value::as_str)
            .map(str::to_string),
        deprecated,
        uploads,
        params,
        body,
        responses,
        pagination,
    })
}

/// Pagination shape of operations taking `per_page`: a top-level array (`array`), an object wrapping one array
/// (`wrapper`, with its key), or an object whose items are a map keyed by subject (`map`, cursor-paginated bulk
/// lists). A 200 body that is one of several array shapes (`anyOf` of arrays) is an `array` of an untagged item enum.
fn pagination(ts: &mut TypeSpace, params: &[Param], responses: &[Resp]) -> Option<Pagination> {
    if !params
        .iter()
        .any(|p| p.name == "per_page" && p.location == "query")
    {
        return None;
    }
    let cursor = params
        .iter()
        .any(|p| p.name == "after" || p.name == "before");
    let ok = responses.iter().find(|r| r.status == 200)?;
    let ty = ok.ty.as_ref()?;
    let ty = match ty {
        RType::Option(t) => t,
        t => t,
    };
    match ty {
        RType::Vec(item) => Some(Pagination {
            kind: "array",
            items_key: None,
            item: (**item).clone(),
            cursor,
        }),
        RType::Named(id) => match ts.defs[*id].kind.clone() {
            crate::types::DefKind::Struct(fields) => {
                let arrays: Vec<_> = fields
                    .iter()
                    .filter(|f| matches!(f.ty, RType::Vec(_)))
                    .collect();
                let f = match arrays.as_slice() {
                    [one] => *one,
                    [] => {
                        let m = fields
                            .iter()
                            .find(|f| matches!(f.ty, RType::Map(_) | RType::Object))?;
                        return Some(Pagination {
                            kind: "map",
                            items_key: Some(m.json.clone()),
                            item: m.ty.clone(),
                            cursor,
                        });
                    }
                    many => many.iter().find(|f| f.required).copied()?,
                };
                let RType::Vec(item) = &f.ty else { return None };
                Some(Pagination {
                    kind: "wrapper",
                    items_key: Some(f.json.clone()),
                    item: (**item).clone(),
                    cursor,
                })
            }
            crate::types::DefKind::Untagged(variants)
                if variants.iter().all(|(_, t, _)| matches!(t, RType::Vec(_))) =>
            {
                let items: Vec<(String, RType)> = variants
                    .iter()
                    .filter_map(|(n, t, _)| match t {
                        RType::Vec(i) => Some((
                            match &**i {
                                RType::Named(d) => ts.defs[*d].name.clone(),
                                _ => n.clone(),
                            },
                            (**i).clone(),
                        )),
                        _ => None,
                    })
                    .collect();
                let item =
                    ts.untagged_of(&format!("{}-item", ts.defs[*id].name), items.into_iter());
                let feature: Vec<String> = ts.defs[*id].features.iter().cloned().collect();
                for f in &feature {
                    ts.mark(&item, Some(f), false, true);
                }
                Some(Pagination {
                    kind: "array",
                    items_key: None,
                    item,
                    cursor,
                })
            }
            _ => None,
        },
        _ => None,
    }
}

/// The function-name suffix for an alternate media type: `application/vnd.github.diff` → `diff`.
pub fn media_suffix(mt: &str) -> String {
    let sub = mt.split('/').nth(1).unwrap_or(mt);
    let sub = sub
        .trim_start_matches("vnd.github.")
        .trim_start_matches("v3.");
    let sub = sub.split('+').next().unwrap_or(sub);
    names::snake(sub)
}

fn reason(status: u16) -> &'static str {
    match status {
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
        _ => "Other",
    }
}

/// Markdown from the spec made safe for rustdoc: relative links made absolute, HTML-ish tags left as text.
pub fn doc_text(s: &str) -> String {
    s.replace("](/", "](https://docs.github.com/")
}

fn param_ty(ts: &TypeSpace, p: &Param, owned: bool) -> TokenStream {
    match &p.ty {
        RType::String if !owned => quote!(&str),
        t => ts.qualified(t),
    }
}

/// How a parameter value becomes text on the wire.
fn to_text(ts: &TypeSpace, ty: &RType, v: TokenStream) -> TokenStream {
    match ty {
        RType::Vec(inner) => {
            let each = to_text(ts, inner, quote!(x));
            quote!(#v.iter().map(|x| #each).collect::<Vec<_>>().join(","))
        }
        RType::Option(inner) => to_text(ts, inner, v),
        RType::Value | RType::Object | RType::Map(_) => quote!(#v.to_string()),
        RType::Named(id) => match &ts.defs[*id].kind {
            crate::types::DefKind::Enum(_) => quote!(#v.as_str().to_string()),
            _ => {
                quote!(serde_json::to_value(#v).map(|v| match v { serde_json::Value::String(s) => s, o => o.to_string() }).unwrap_or_default())
            }
        },
        _ => quote!(#v.to_string()),
    }
}

/// Emits the tag module for `ops` (all of one tag).
pub fn emit_tag(ts: &TypeSpace, tag: &str, ops: &[&Operation]) -> TokenStream {
    let handle = format_ident!("{}", names::type_name(&format!("{tag}-api")));
    let accessor = names::field_ident(tag);
    let tag_doc = format!(
        "Endpoints tagged `{tag}`; reached with [`Client::{accessor}`](crate::Client::{accessor})."
    );
    let mut items = Vec::new();
    let mut fns = Vec::new();
    for op in ops {
        let (f, extra) = emit_op(ts, op);
        fns.push(f);
        items.extend(extra);
    }
    let accessor_doc = format!("Endpoints tagged `{tag}`.");
    let module = quote! {
        #![doc = #tag_doc]
        #![allow(deprecated, clippy::too_many_arguments)]
        use crate::runtime::{AuthKind, Client, Error, Host, OperationInfo, Request, Response};
        #[allow(unused_imports)]
        use crate::types;

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
    };
    module
}

fn emit_op(ts: &TypeSpace, op: &Operation) -> (TokenStream, Vec<TokenStream>) {
    let mut extra = Vec::new();
    let pascal = op.pascal();
    let fn_ident = names::field_ident(&op.fn_name);
    let op_id = &op.id;
    let method = format_ident!("{}", op.method);

    // Docs: summary, description, link, and the HTTP route.
    let mut doc = String::new();
    doc.push_str(op.summary.trim());
    doc.push_str("\n\n");
    if let Some(d) = &op.description {
        doc.push_str(&doc_text(d.trim()));
        doc.push_str("\n\n");
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
    let mut doc_extra = String::new();
    let doc_at = doc.len();
    let deprecated = op
        .deprecated
        .as_deref()
        .map(|n| quote!(#[deprecated(note = #n)]));

    // Arguments.
    let mut args = Vec::new();
    let mut arg_names: Vec<TokenStream> = Vec::new();
    // Each path parameter is encoded into a local `p0`, `p1`, … named inside the format string, so the emitted
    // `format!` holds no code (prettyplease cannot lay out code inside macro arguments).
    let mut path_lets = Vec::new();
    for (i, p) in op
        .params
        .iter()
        .filter(|p| p.location == "path")
        .enumerate()
    {
        let id = names::field_ident(&p.rust);
        let t = param_ty(ts, p, false);
        args.push(quote!(#id: #t));
        arg_names.push(quote!(#id));
        let local = format_ident!("p{}", i);
        let is_enum = matches!(&p.ty, RType::Named(n) if matches!(ts.defs[*n].kind, crate::types::DefKind::Enum(_)));
        path_lets.push(match &p.ty {
            RType::String => quote!(let #local = crate::runtime::encode_path(#id);),
            _ if is_enum => quote!(let #local = crate::runtime::encode_path(#id.as_str());),
            t => {
                let s = to_text(ts, t, quote!(#id));
                quote!(let #local = #s; let #local = crate::runtime::encode_path(&#local);)
            }
        });
    }
    let mut fmt = String::new();
    let mut n = 0;
    for seg in op.path.split('{') {
        match seg.split_once('}') {
            Some((_, rest)) => {
                fmt.push_str(&format!("{{p{n}}}"));
                n += 1;
                fmt.push_str(rest);
            }
            None => fmt.push_str(seg),
        }
    }
    let path_expr = if path_lets.is_empty() {
        quote!(String::from(#fmt))
    } else {
        quote!({ #(#path_lets)* format!(#fmt) })
    };

    let query: Vec<&Param> = op.query_params().collect();
    let mut query_stmts = Vec::new();
    if !query.is_empty() {
        let qname = format_ident!("{}Query", pascal);
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
            let t = param_ty(ts, p, true);
            let d = p.doc.as_deref().map(doc_text).map(|s| names::doc_attrs(&s));
            if p.required {
                quote!(#d pub #id: #t,)
            } else {
                quote!(#d pub #id: Option<#t>,)
            }
        });
        let qdoc = format!(
            "Query parameters of [`{}`]({}::{}).",
            op.fn_name,
            names::type_name(&format!("{}-api", op.tag)),
            op.fn_name
        );
        extra.push(quote! {
            #[doc = #qdoc]
            #[derive(Debug, Clone, #derive_default)]
            pub struct #qname { #(#fields)* }
        });
        args.push(quote!(query: &#qname));
        arg_names.push(quote!(query));
        for p in &query {
            let id = names::field_ident(&p.rust);
            let name = &p.name;
            if let (RType::Vec(item), true) = (&p.ty, p.explode) {
                // One `name=value` pair per element.
                let each = to_text(ts, item, quote!(x));
                let list = if p.required {
                    quote!(Some(&query.#id))
                } else {
                    quote!(query.#id.as_ref())
                };
                query_stmts.push(
                    quote!(for x in #list.into_iter().flatten() { req.query(#name, #each); }),
                );
            } else if p.required {
                let text = to_text(ts, &p.ty, quote!(query.#id));
                query_stmts.push(quote!(req.query(#name, #text);));
            } else {
                let text = to_text(ts, &p.ty, quote!(v));
                query_stmts.push(quote!(if let Some(v) = &query.#id { req.query(#name, #text); }));
            }
        }
    }

    let mut body_stmt = quote!();
    match &op.body {
        Some(crate::endpoints::Body::Json { ty, required }) => {
            let t = ts.qualified(ty);
            if *required {
                args.push(quote!(body: &#t));
                body_stmt = quote!(req.json(body)?;);
            } else {
                args.push(quote!(body: Option<&#t>));
                body_stmt = quote!(if let Some(body) = body {
                    req.json(body)?;
                });
            }
        }
        Some(crate::endpoints::Body::Text { content_type, .. }) => {
            args.push(quote!(body: impl Into<String>));
            body_stmt = quote!(req.body(#content_type, body.into());)
        }
        Some(crate::endpoints::Body::Multipart { parts, .. }) => {
            let list: Vec<String> = parts
                .iter()
                .map(|(n, bin)| format!("`{n}`{}", if *bin { " (a file)" } else { "" }))
                .collect();
            doc_extra.push_str(&format!(
                "\n\nThe body is `multipart/form-data` with the parts {}.",
                list.join(", ")
            ));
            args.push(quote!(body: reqwest::multipart::Form));
            body_stmt = quote!(req.multipart(body);)
        }
        Some(crate::endpoints::Body::Bytes { .. }) => {
            // The media type of an upload is the caller's (the asset's own), so it is an argument.
            args.push(quote!(content_type: &str));
            args.push(quote!(body: impl Into<reqwest::Body>));
            body_stmt = quote!(req.body(content_type, body);)
        }
        None => {}
    }

    doc.insert_str(doc_at, &doc_extra);
    let doc = names::doc_attrs(&doc);

    // Success type.
    let successes: Vec<&Resp> = op.successes().collect();
    let succ_ty = |r: &Resp| -> TokenStream {
        match &r.ty {
            Some(t) => ts.qualified(t),
            None => quote!(()),
        }
    };
    let (ret, arms) = if successes.len() <= 1 {
        match successes.first() {
            Some(r) => {
                let t = succ_ty(r);
                let st = r.status;
                let decode = decode_expr(r);
                (t, vec![quote!(#st => #decode,)])
            }
            None => (quote!(()), vec![]),
        }
    } else {
        let ename = format_ident!("{}Response", pascal);
        let mut variants = Vec::new();
        let mut arms = Vec::new();
        for r in &successes {
            let v = format_ident!(
                "{}",
                if reason(r.status) == "Other" {
                    format!("Status{}", r.status)
                } else {
                    reason(r.status).to_string()
                }
            );
            let st = r.status;
            let vdoc = format!("HTTP {st}");
            let decode = decode_expr(r);
            if r.ty.is_some() {
                let t = succ_ty(r);
                variants.push(quote!(#[doc = #vdoc] #v(#t),));
                arms.push(quote!(#st => #decode.map(#ename::#v),));
            } else {
                variants.push(quote!(#[doc = #vdoc] #v,));
                arms.push(quote!(#st => Ok(#ename::#v),));
            }
        }
        let edoc = format!(
            "The success responses of [`{}`]({}::{}).",
            op.fn_name,
            names::type_name(&format!("{}-api", op.tag)),
            op.fn_name
        );
        extra.push(quote! {
            #[doc = #edoc]
            #[derive(Debug, Clone)]
            pub enum #ename { #(#variants)* }
        });
        (quote!(#ename), arms)
    };

    let errs: Vec<TokenStream> = op
        .responses
        .iter()
        .filter(|r| r.status >= 400)
        .map(|r| {
            let st = r.status;
            match r.error_slot {
                Some(slot) => {
                    let f = format_ident!("decode_{}", slot);
                    quote!((#st, Some(crate::errors::#f)))
                }
                None => quote!((#st, None)),
            }
        })
        .collect();
    let host = if op.uploads {
        quote!(Host::Uploads)
    } else {
        quote!(Host::Api)
    };
    let auth = format_ident!(
        "{}",
        match op.auth {
            "basic" => "Basic",
            "app_jwt" => "AppJwt",
            "none" => "None",
            _ => "Token",
        }
    );
    let accept = accept_for(op);
    let mutable = (!query_stmts.is_empty() || !body_stmt.is_empty()).then(|| quote!(mut));
    let uses_body = successes.iter().any(|r| r.ty.is_some());
    let body_param = if uses_body {
        quote!(body)
    } else {
        quote!(_body)
    };
    let build_with = |accept: &str| {
        quote! {
            const OP: OperationInfo = OperationInfo { id: #op_id, auth: AuthKind::#auth };
            let #mutable req = Request::new(&OP, reqwest::Method::#method, #host, #path_expr, #accept);
            #(#query_stmts)*
            #body_stmt
        }
    };
    // A paginated operation (without a body) builds its request in one private method that both the call and its
    // stream use, rather than twice.
    let paged = op.pagination.as_ref().is_some_and(|p| p.kind != "map") && op.body.is_none();
    let request_ident = format_ident!("{}_request", op.fn_name);
    let build = if paged {
        quote!(let req = self.#request_ident(#(#arg_names),*);)
    } else {
        build_with(&accept)
    };
    let mut f = quote! {
        #doc
        #deprecated
        pub async fn #fn_ident(&self, #(#args),*) -> Result<Response<#ret>, Error> {
            #build
            let resp = self.client.execute(req).await?;
            const ERRORS: &[(u16, Option<crate::errors::Decoder>)] = &[#(#errs),*];
            resp.finish(ERRORS, |status, #body_param| match status {
                #(#arms)*
                _ => Err(crate::runtime::DecodeFail::Unexpected),
            })
        }
    };
    // Each alternate media type of a success response gets its own function with that `Accept`.
    for r in &successes {
        for (mt, t) in &r.alternates {
            let alt_ident = format_ident!("{}_{}", op.fn_name, media_suffix(mt));
            let ty = ts.qualified(t);
            let st = r.status;
            let decode = if mt.ends_with("json") || mt.ends_with(".object") {
                quote!(crate::runtime::decode_json(body))
            } else {
                quote!(crate::runtime::decode_text(body))
            };
            let adoc = format!(
                " Like [`{}`](Self::{}), asking for `{mt}`.",
                op.fn_name, op.fn_name
            );
            let build = build_with(mt);
            f.extend(quote! {
                #[doc = #adoc]
                #deprecated
                pub async fn #alt_ident(&self, #(#args),*) -> Result<Response<#ty>, Error> {
                    #build
                    let resp = self.client.execute(req).await?;
                    const ERRORS: &[(u16, Option<crate::errors::Decoder>)] = &[#(#errs),*];
                    resp.finish(ERRORS, |status, body| match status {
                        #st => #decode,
                        _ => Err(crate::runtime::DecodeFail::Unexpected),
                    })
                }
            });
        }
    }
    if paged {
        let built = build_with(&accept);
        f.extend(quote! {
            fn #request_ident(&self, #(#args),*) -> Request {
                #built
                req
            }
        });
    }
    // Paginated operations (without a request body) also get a stream of items across all pages.
    if let (Some(p), None) = (op.pagination.as_ref().filter(|p| p.kind != "map"), &op.body) {
        let stream_ident = format_ident!("{}_stream", op.fn_name);
        let item = ts.qualified(&p.item);
        let key = match &p.items_key {
            Some(k) => quote!(Some(#k)),
            None => quote!(None),
        };
        let what = match &p.items_key {
            Some(k) => format!("the `{k}` items of every page"),
            None => "the items of every page".to_string(),
        };
        let sdoc = format!(" Like [`{}`](Self::{}), as a stream of {what}: follows `Link: rel=\"next\"`, 100 items a page unless `per_page` is set. See [`Pages`](crate::pagination::Pages).", op.fn_name, op.fn_name);
        f.extend(quote! {
            #[doc = #sdoc]
            #deprecated
            pub fn #stream_ident(&self, #(#args),*) -> crate::pagination::Pages<#item> {
                let mut query = query.clone();
                if query.per_page.is_none() {
                    query.per_page = Some(100);
                }
                let query = &query;
                let req = self.#request_ident(#(#arg_names),*);
                crate::pagination::Pages::new(self.client.clone(), req, #key)
            }
        });
    }
    (f, extra)
}

fn decode_expr(r: &Resp) -> TokenStream {
    match (&r.ty, r.content_type.as_deref()) {
        (None, _) => quote!(Ok(())),
        (Some(_), Some(ct)) if ct.ends_with("json") => quote!(crate::runtime::decode_json(body)),
        (Some(_), _) => quote!(crate::runtime::decode_text(body)),
    }
}

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
