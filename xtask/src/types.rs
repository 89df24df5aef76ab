//! The model type space: every schema an operation reaches becomes a Rust type.
//!
//! Schemas are walked as JSON (after patches and normalisation). Component schemas keep their names; inline schemas
//! are named after where they sit (`IssuesCreateRequest`, `IssueLabels`), and two different inline schemas that
//! would get one name get distinct names instead of being merged.

use crate::names;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, PartialEq)]
pub enum RType {
    String,
    I64,
    F64,
    Bool,
    /// Any JSON value.
    Value,
    /// A free-form JSON object.
    Object,
    Vec(Box<RType>),
    Map(Box<RType>),
    Option(Box<RType>),
    Named(usize),
}

#[derive(Debug, Clone)]
pub struct Field {
    pub json: String,
    pub rust: String,
    pub ty: RType,
    pub required: bool,
    pub nullable: bool,
    pub doc: Option<String>,
    pub boxed: bool,
}

#[derive(Debug, Clone)]
pub enum DefKind {
    /// Reserved while the schema is being walked (recursion).
    Pending,
    Struct(Vec<Field>),
    /// A string enum, kept open for values the spec does not list.
    Enum(Vec<(String, String)>),
    /// oneOf/anyOf: tried in order, with a last variant that keeps any other JSON.
    Untagged(Vec<(String, RType, bool)>),
}

#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: DefKind,
    pub doc: Option<String>,
    /// Reached from a request body or parameter (needs Serialize; optional nullable fields get three states).
    pub request: bool,
    /// Reached from a response (needs Deserialize, tolerant decoding).
    pub response: bool,
    /// Cargo features whose endpoints reach this type; empty means always compiled.
    pub features: BTreeSet<String>,
    /// Always compiled (error bodies used by the runtime).
    pub core: bool,
    pub deprecated: bool,
}

pub struct TypeSpace<'a> {
    spec: &'a Value,
    pub defs: Vec<TypeDef>,
    names: HashMap<String, usize>,
    components: HashMap<String, usize>,
    /// (name hint, canonical schema text) → def, so the same inline schema met twice under one name is one type.
    inline: HashMap<(String, String), usize>,
}

pub fn resolve<'v>(spec: &'v Value, mut v: &'v Value) -> &'v Value {
    for _ in 0..32 {
        let Some(r) = v.get("$ref").and_then(Value::as_str) else {
            return v;
        };
        match r.strip_prefix('#').and_then(|p| spec.pointer(p)) {
            Some(t) => v = t,
            None => return v,
        }
    }
    v
}

fn component_name(r: &str) -> Option<&str> {
    r.strip_prefix("#/components/schemas/")
}

fn doc_of(s: &Value) -> Option<String> {
    let d = s
        .get("description")
        .and_then(Value::as_str)
        .or_else(|| s.get("title").and_then(Value::as_str))?;
    let d = d.trim();
    (!d.is_empty()).then(|| d.to_string())
}

fn is_nullable(s: &Value) -> bool {
    s.get("nullable").and_then(Value::as_bool).unwrap_or(false)
}

impl<'a> TypeSpace<'a> {
    pub fn new(spec: &'a Value) -> Self {
        TypeSpace {
            spec,
            defs: Vec::new(),
            names: HashMap::new(),
            components: HashMap::new(),
            inline: HashMap::new(),
        }
    }

    fn reserve(&mut self, hint: &str, doc: Option<String>) -> usize {
        let base = names::type_name(hint);
        let mut name = base.clone();
        let mut n = 2;
        while self.names.contains_key(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        let id = self.defs.len();
        self.names.insert(name.clone(), id);
        self.defs.push(TypeDef {
            name,
            kind: DefKind::Pending,
            doc,
            request: false,
            response: false,
            features: BTreeSet::new(),
            core: false,
            deprecated: false,
        });
        id
    }

    /// The Rust type for a schema (or `$ref`) met at `hint`.
    pub fn ty(&mut self, schema: &Value, hint: &str) -> RType {
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            let target = resolve(self.spec, schema);
            let inner = match component_name(r) {
                Some(name) => self.component(name),
                None => self.ty_inline(target, hint, false),
            };
            return if is_nullable(target) {
                RType::Option(Box::new(inner))
            } else {
                inner
            };
        }
        let inner = self.ty_inline(schema, hint, true);
        let nullable = is_nullable(schema)
            || schema
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(Value::is_null));
        if nullable && !matches!(inner, RType::Option(_)) {
            RType::Option(Box::new(inner))
        } else {
            inner
        }
    }

    fn component(&mut self, name: &str) -> RType {
        if let Some(&id) = self.components.get(name) {
            return RType::Named(id);
        }
        let spec = self.spec;
        let schema = &spec["components"]["schemas"][name];
        // Components that are plain scalars or arrays are used in place rather than becoming a type.
        if !self.makes_def(schema) {
            return self.ty_inline(schema, name, false);
        }
        let id = self.reserve(name, doc_of(schema));
        self.components.insert(name.to_string(), id);
        self.defs[id].deprecated = schema
            .get("deprecated")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.fill(id, schema);
        RType::Named(id)
    }

    /// Whether a schema gets a named Rust type of its own (struct, enum or untagged enum).
    fn makes_def(&self, s: &Value) -> bool {
        let s = resolve(self.spec, s);
        if s.get("enum")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().any(Value::is_string))
        {
            return true;
        }
        if self.one_of(s).is_some() {
            return true;
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            if all.len() == 1 && s.get("properties").is_none() {
                return self.makes_def(&all[0]);
            }
            return true;
        }
        s.get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty())
    }

    /// oneOf / anyOf members that describe alternative shapes (members that only restate `required` are constraints).
    fn one_of<'v>(&self, s: &'v Value) -> Option<&'v Vec<Value>> {
        let list = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array)?;
        let shaped = list.iter().any(|m| {
            let m = resolve(self.spec, m);
            m.get("$ref").is_some()
                || m.get("type").is_some()
                || m.get("properties").is_some()
                || m.get("allOf").is_some()
                || m.get("enum").is_some()
        });
        (shaped && s.get("properties").is_none()).then_some(list)
    }

    fn ty_inline(&mut self, s: &Value, hint: &str, dedup: bool) -> RType {
        if self.makes_def(s) {
            if let Some(all) = s.get("allOf").and_then(Value::as_array) {
                if all.len() == 1 && s.get("properties").is_none() {
                    return self.ty(&all[0], hint);
                }
            }
            // Inline schemas of the same shape share one type, wherever they sit: GitHub repeats small enums
            // (`read`/`write`, `asc`/`desc`) and objects hundreds of times, and each copy would cost compile time.
            // Nullability is applied where the type is used (`Option<T>`), so it is not part of the shape.
            let mut shape = s.clone();
            if let Some(m) = shape.as_object_mut() {
                m.remove("nullable");
                // Nor does the order of a union of plain types, whose JSON forms never overlap.
                for key in ["oneOf", "anyOf"] {
                    if let Some(Value::Array(members)) = m.get_mut(key) {
                        if members.iter().all(|x| {
                            x.get("properties").is_none()
                                && x.get("$ref").is_none()
                                && x.get("enum").is_none()
                        }) {
                            members.sort_by_key(|x| x.to_string());
                        }
                    }
                }
                // The order of enum values does not change the type either.
                if let Some(Value::Array(values)) = m.get_mut("enum") {
                    values.retain(|v| !v.is_null());
                    values.sort_by_key(|v| v.to_string());
                }
            }
            let key = (String::new(), canonical(&shape));
            if dedup {
                if let Some(&id) = self.inline.get(&key) {
                    return RType::Named(id);
                }
            }
            let name = enum_name(s).unwrap_or_else(|| hint.to_string());
            let id = self.reserve(&name, doc_of(s));
            if dedup {
                self.inline.insert(key, id);
            }
            self.fill(id, s);
            return RType::Named(id);
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            if let Some(first) = all.first() {
                return self.ty(first, hint);
            }
        }
        match s.get("type").and_then(Value::as_str) {
            Some("string") => RType::String,
            Some("integer") => RType::I64,
            Some("number") => RType::F64,
            Some("boolean") => RType::Bool,
            Some("array") => match s.get("items") {
                Some(items) => RType::Vec(Box::new(self.ty(items, &format!("{hint}-item")))),
                None => RType::Vec(Box::new(RType::Value)),
            },
            Some("object") | None
                if s.get("additionalProperties").is_some_and(Value::is_object) =>
            {
                let ap = &s["additionalProperties"];
                if ap.as_object().is_some_and(|o| o.is_empty()) {
                    RType::Object
                } else {
                    RType::Map(Box::new(self.ty(ap, &format!("{hint}-value"))))
                }
            }
            Some("object") => RType::Object,
            _ => RType::Value,
        }
    }

    fn fill(&mut self, id: usize, s: &Value) {
        let s = resolve(self.spec, s);
        let hint = self.defs[id].name.clone();
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            let names_given = s.get("x-enum-varnames").and_then(Value::as_array);
            let mut variants: Vec<(String, String)> = Vec::new();
            for (i, v) in values.iter().enumerate() {
                let Some(v) = v.as_str() else { continue };
                let name = names_given
                    .and_then(|n| n.get(i))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| names::variant_name(v));
                if variants.iter().any(|(_, j)| j == v) {
                    continue;
                }
                variants.push((name, v.to_string()));
            }
            self.defs[id].kind = DefKind::Enum(variants);
            return;
        }
        if let Some(list) = self.one_of(s) {
            let list = list.clone();
            let mut variants: Vec<(String, RType, bool)> = Vec::new();
            for (i, m) in list.iter().enumerate() {
                let base = match m
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(component_name)
                {
                    Some(c) => names::type_name(c),
                    None => {
                        let m = resolve(self.spec, m);
                        let item_ref = m
                            .pointer("/items/$ref")
                            .and_then(Value::as_str)
                            .and_then(component_name);
                        match m.get("type").and_then(Value::as_str) {
                            Some("array") if item_ref.is_some() => {
                                format!("{}List", names::type_name(item_ref.unwrap_or_default()))
                            }
                            Some(t) if m.get("properties").is_none() && m.get("enum").is_none() => {
                                heck::ToUpperCamelCase::to_upper_camel_case(t)
                            }
                            _ => format!("Variant{i}"),
                        }
                    }
                };
                let ty = self.ty(m, &format!("{hint}-variant{i}"));
                let mut name = base.clone();
                let mut n = 2;
                while variants.iter().any(|(v, _, _)| *v == name) || name == "Other" {
                    name = format!("{base}{n}");
                    n += 1;
                }
                if variants.iter().any(|(_, t, _)| *t == ty) {
                    continue;
                }
                variants.push((name, ty, false));
            }
            self.defs[id].kind = DefKind::Untagged(variants);
            return;
        }
        // Objects, with allOf members merged into one struct.
        let mut props: Vec<(String, Value)> = Vec::new();
        let mut required: BTreeSet<String> = BTreeSet::new();
        self.collect_props(s, &mut props, &mut required, 0);
        let mut fields: Vec<Field> = Vec::new();
        let mut used: BTreeSet<String> = BTreeSet::new();
        for (json, ps) in props {
            let ty = self.ty(&ps, &format!("{hint}-{json}"));
            let nullable = matches!(ty, RType::Option(_));
            let ty = match ty {
                RType::Option(inner) => *inner,
                t => t,
            };
            let mut rust = names::snake(&json);
            let base = rust.clone();
            let mut n = 2;
            while !used.insert(rust.clone()) {
                rust = format!("{base}_{n}");
                n += 1;
            }
            let pdoc = doc_of(resolve(self.spec, &ps));
            fields.push(Field {
                required: required.contains(&json),
                json,
                rust,
                ty,
                nullable,
                doc: pdoc,
                boxed: false,
            });
        }
        self.defs[id].kind = DefKind::Struct(fields);
    }

    fn collect_props(
        &self,
        s: &Value,
        props: &mut Vec<(String, Value)>,
        required: &mut BTreeSet<String>,
        depth: usize,
    ) {
        let s = resolve(self.spec, s);
        if depth > 16 {
            return;
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for m in all {
                self.collect_props(m, props, required, depth + 1);
            }
        }
        if let Some(p) = s.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                match props.iter_mut().find(|(n, _)| n == k) {
                    // A later allOf member restating a property refines it; keep the more specific schema.
                    Some(slot) => {
                        if v.get("$ref").is_some()
                            || v.get("properties").is_some()
                            || slot.1.as_object().is_some_and(|o| o.is_empty())
                        {
                            slot.1 = v.clone();
                        }
                    }
                    None => props.push((k.clone(), v.clone())),
                }
            }
        }
        if let Some(r) = s.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }

    /// A new untagged enum over the given (variant name, type) pairs.
    pub fn untagged_of(
        &mut self,
        name: &str,
        variants: impl Iterator<Item = (String, RType)>,
    ) -> RType {
        let id = self.reserve(
            name,
            Some("One item of a list whose items come in several shapes.".into()),
        );
        self.defs[id].kind = DefKind::Untagged(variants.map(|(n, t)| (n, t, false)).collect());
        RType::Named(id)
    }

    /// Marks defs reached from `ty` for a feature and a direction.
    pub fn mark(&mut self, ty: &RType, feature: Option<&str>, request: bool, response: bool) {
        let mut stack = Vec::new();
        collect_named(ty, &mut stack);
        while let Some(id) = stack.pop() {
            let d = &mut self.defs[id];
            let mut changed = false;
            if request && !d.request {
                d.request = true;
                changed = true;
            }
            if response && !d.response {
                d.response = true;
                changed = true;
            }
            match feature {
                Some(f) => {
                    if !d.core && d.features.insert(f.to_string()) {
                        changed = true;
                    }
                }
                None => {
                    if !d.core {
                        d.core = true;
                        d.features.clear();
                        changed = true;
                    }
                }
            }
            if changed {
                for t in children(&d.kind) {
                    collect_named(&t, &mut stack);
                }
            }
        }
    }

    /// Merges types that came out identical under one base name (`IntegerOrString`, `IntegerOrString2`) — shapes the
    /// JSON-level deduplication could not see as equal — and returns the old → kept id map for the caller to apply.
    pub fn merge_identical(&mut self) -> Vec<usize> {
        let n = self.defs.len();
        let mut map: Vec<usize> = (0..n).collect();
        loop {
            let mut seen: HashMap<(String, String), usize> = HashMap::new();
            let mut changed = false;
            for id in 0..n {
                if map[id] != id {
                    continue;
                }
                let base = self.defs[id]
                    .name
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_string();
                let sig = format!("{:?}", remap_kind(&self.defs[id].kind, &map, false));
                match seen.get(&(base.clone(), sig.clone())) {
                    Some(&keep) => {
                        map[id] = keep;
                        changed = true;
                    }
                    None => {
                        seen.insert((base, sig), id);
                    }
                }
            }
            // Follow chains so every id points at a kept one.
            for id in 0..n {
                let mut t = map[id];
                while map[t] != t {
                    t = map[t];
                }
                map[id] = t;
            }
            if !changed {
                break;
            }
        }
        for id in 0..n {
            let k = remap_kind(&self.defs[id].kind, &map, true);
            self.defs[id].kind = k;
        }
        for (id, &keep) in map.iter().enumerate().take(n) {
            if keep != id {
                let (request, response, features, core) = {
                    let d = &self.defs[id];
                    (d.request, d.response, d.features.clone(), d.core)
                };
                let k = &mut self.defs[keep];
                k.request |= request;
                k.response |= response;
                k.core |= core;
                k.features.extend(features);
                // The merged-away type is no longer emitted.
                self.defs[id].features.clear();
                self.defs[id].core = false;
            }
        }
        map
    }

    /// Boxes fields that would make a type contain itself.
    pub fn break_cycles(&mut self) {
        let n = self.defs.len();
        let direct: Vec<Vec<usize>> = self.defs.iter().map(|d| direct_children(&d.kind)).collect();
        let reaches = |from: usize, to: usize| -> bool {
            let mut seen = vec![false; n];
            let mut stack = vec![from];
            while let Some(x) = stack.pop() {
                if x == to {
                    return true;
                }
                if std::mem::replace(&mut seen[x], true) {
                    continue;
                }
                stack.extend(direct[x].iter().copied());
            }
            false
        };
        for id in 0..n {
            if let DefKind::Struct(fields) = &self.defs[id].kind {
                let to_box: Vec<usize> = fields
                    .iter()
                    .enumerate()
                    .filter_map(|(i, f)| match direct_named(&f.ty) {
                        Some(t) if reaches(t, id) => Some(i),
                        _ => None,
                    })
                    .collect();
                if let DefKind::Struct(fields) = &mut self.defs[id].kind {
                    for i in to_box {
                        fields[i].boxed = true;
                    }
                }
            }
        }
    }

    /// Whether values of this type can be made with `Default::default()`.
    pub fn has_default(&self, ty: &RType, depth: usize) -> bool {
        match ty {
            RType::Named(id) => match &self.defs[*id].kind {
                DefKind::Struct(fields) if depth < 8 => fields
                    .iter()
                    .all(|f| !f.required || f.nullable || self.has_default(&f.ty, depth + 1)),
                _ => false,
            },
            _ => true,
        }
    }

    pub fn tokens(&self, ty: &RType) -> TokenStream {
        match ty {
            RType::String => quote!(String),
            RType::I64 => quote!(i64),
            RType::F64 => quote!(f64),
            RType::Bool => quote!(bool),
            RType::Value => quote!(serde_json::Value),
            // A free-form object: any JSON, since GitHub answers some of these with `null` or an empty body.
            RType::Object => quote!(serde_json::Value),
            RType::Vec(t) => {
                let t = self.tokens(t);
                quote!(Vec<#t>)
            }
            RType::Map(t) => {
                let t = self.tokens(t);
                quote!(std::collections::BTreeMap<String, #t>)
            }
            RType::Option(t) => {
                let t = self.tokens(t);
                quote!(Option<#t>)
            }
            RType::Named(id) => {
                let n = format_ident!("{}", self.defs[*id].name);
                quote!(#n)
            }
        }
    }

    /// The type as a path usable from outside the `types` module (`crate::types::X`).
    pub fn path_string(&self, ty: &RType) -> String {
        match ty {
            RType::String => "String".into(),
            RType::I64 => "i64".into(),
            RType::F64 => "f64".into(),
            RType::Bool => "bool".into(),
            RType::Value => "serde_json::Value".into(),
            RType::Object => "serde_json::Value".into(),
            RType::Vec(t) => format!("Vec<{}>", self.path_string(t)),
            RType::Map(t) => format!(
                "std::collections::BTreeMap<String, {}>",
                self.path_string(t)
            ),
            RType::Option(t) => format!("Option<{}>", self.path_string(t)),
            RType::Named(id) => format!("crate::types::{}", self.defs[*id].name),
        }
    }

    pub fn qualified(&self, ty: &RType) -> TokenStream {
        self.path_string(ty).parse().expect("type path parses")
    }

    /// Emits one type definition.
    pub fn emit(&self, id: usize, item_cfg: bool) -> TokenStream {
        let d = &self.defs[id];
        let name = format_ident!("{}", d.name);
        let doc = d.doc.as_deref().map(names::doc_attrs);
        let deprecated = d.deprecated.then(|| quote!(#[deprecated]));
        let cfg = if item_cfg { cfg_attr(d) } else { None };
        match &d.kind {
            DefKind::Pending => unreachable!("every reserved type is filled"),
            DefKind::Enum(variants) => {
                let vs = variants.iter().map(|(r, j)| {
                    let r = format_ident!("{}", r);
                    quote!(#r = #j,)
                });
                quote! {
                    #cfg
                    crate::open_enum! {
                        #doc
                        #deprecated
                        #name { #(#vs)* }
                    }
                }
            }
            DefKind::Untagged(variants) => {
                let vs = variants.iter().map(|(r, t, _)| {
                    let r = format_ident!("{}", r);
                    let t = self.tokens(t);
                    quote!(#r(#t),)
                });
                let derives = self.derives(d, false);
                quote! {
                    #cfg
                    #doc
                    #deprecated
                    #derives
                    #[serde(untagged)]
                    pub enum #name {
                        #(#vs)*
                        /// A value matching none of the shapes the spec lists, kept as it arrived.
                        Other(serde_json::Value),
                    }
                }
            }
            DefKind::Struct(fields) => {
                let three_state = d.request;
                let fs = fields.iter().map(|f| {
                    let ident = names::field_ident(&f.rust);
                    let mut t = self.tokens(&f.ty);
                    if f.boxed {
                        t = quote!(Box<#t>);
                    }
                    let json = &f.json;
                    let rename = (ident.to_string().trim_start_matches("r#") != f.json).then(|| quote!(rename = #json,));
                    let fdoc = f.doc.as_deref().map(names::doc_attrs);
                    let (ty, attrs) = match (f.required, f.nullable) {
                        (true, false) => (t, rename.map(|r| quote!(#[serde(#r)]))),
                        (true, true) => (quote!(Option<#t>), rename.map(|r| quote!(#[serde(#r)]))),
                        (false, true) if three_state => (
                            quote!(Option<Option<#t>>),
                            Some(quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none", with = "crate::runtime::double_option")])),
                        ),
                        (false, _) => (quote!(Option<#t>), Some(quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none")]))),
                    };
                    quote! { #fdoc #attrs pub #ident: #ty, }
                });
                let default = d.request && self.has_default(&RType::Named(id), 0);
                let derives = self.derives(d, default);
                // Request types with required fields get `new(required...)`, the rest starting absent.
                let ctor = (d.request && !default).then(|| {
                    let req: Vec<&Field> = fields.iter().filter(|f| f.required).collect();
                    let args = req.iter().map(|f| {
                        let id = names::field_ident(&f.rust);
                        let mut t = self.tokens(&f.ty);
                        if f.boxed {
                            t = quote!(Box<#t>);
                        }
                        if f.nullable {
                            t = quote!(Option<#t>);
                        }
                        quote!(#id: #t)
                    });
                    let inits = fields.iter().map(|f| {
                        let id = names::field_ident(&f.rust);
                        if f.required {
                            quote!(#id)
                        } else {
                            quote!(#id: None)
                        }
                    });
                    quote! {
                        #cfg
                        impl #name {
                            /// A value with the required fields set and every optional field absent.
                            pub fn new(#(#args),*) -> Self { #name { #(#inits),* } }
                        }
                    }
                });
                quote! {
                    #cfg
                    #doc
                    #deprecated
                    #derives
                    pub struct #name { #(#fs)* }
                    #ctor
                }
            }
        }
    }

    fn derives(&self, d: &TypeDef, default: bool) -> TokenStream {
        let ser = (d.request || d.core).then(|| quote!(serde::Serialize,));
        let de = (d.response || d.core || !d.request).then(|| quote!(serde::Deserialize,));
        let def = default.then(|| quote!(Default,));
        quote!(#[derive(Debug, Clone, PartialEq, #def #ser #de)])
    }
}

pub fn cfg_attr(d: &TypeDef) -> Option<TokenStream> {
    if d.core || d.features.is_empty() {
        return None;
    }
    let fs = d.features.iter();
    Some(if d.features.len() == 1 {
        quote!(#[cfg(feature = #(#fs)*)])
    } else {
        quote!(#[cfg(any(#(feature = #fs),*))])
    })
}

pub fn remap(t: &RType, map: &[usize]) -> RType {
    match t {
        RType::Named(id) => RType::Named(map[*id]),
        RType::Vec(t) => RType::Vec(Box::new(remap(t, map))),
        RType::Map(t) => RType::Map(Box::new(remap(t, map))),
        RType::Option(t) => RType::Option(Box::new(remap(t, map))),
        o => o.clone(),
    }
}

fn remap_kind(k: &DefKind, map: &[usize], keep_docs: bool) -> DefKind {
    match k {
        DefKind::Struct(fields) => DefKind::Struct(
            fields
                .iter()
                .map(|f| Field {
                    ty: remap(&f.ty, map),
                    doc: if keep_docs { f.doc.clone() } else { None },
                    ..f.clone()
                })
                .collect(),
        ),
        DefKind::Untagged(v) => DefKind::Untagged(
            v.iter()
                .map(|(n, t, b)| (n.clone(), remap(t, map), *b))
                .collect(),
        ),
        o => o.clone(),
    }
}

fn children(k: &DefKind) -> Vec<RType> {
    match k {
        DefKind::Struct(f) => f.iter().map(|f| f.ty.clone()).collect(),
        DefKind::Untagged(v) => v.iter().map(|v| v.1.clone()).collect(),
        _ => Vec::new(),
    }
}

fn collect_named(t: &RType, out: &mut Vec<usize>) {
    match t {
        RType::Named(id) => out.push(*id),
        RType::Vec(t) | RType::Map(t) | RType::Option(t) => collect_named(t, out),
        _ => {}
    }
}

/// The named type a field holds inline (not behind a Vec or map, which already allocate).
fn direct_named(t: &RType) -> Option<usize> {
    match t {
        RType::Named(id) => Some(*id),
        RType::Option(t) => direct_named(t),
        _ => None,
    }
}

fn direct_children(k: &DefKind) -> Vec<usize> {
    children(k).iter().filter_map(direct_named).collect()
}

/// Schema keywords that do not change the Rust type (documentation, examples, validation bounds).
const IGNORED: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "default",
    "readOnly",
    "writeOnly",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "deprecated",
];

/// Stable text of a schema's shape (what decides the Rust type) for deduplication.
fn canonical(v: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, _)| !IGNORED.contains(&k.as_str()))
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            if k == "properties" {
                                strip_props(v)
                            } else {
                                strip(v)
                            },
                        )
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            o => o.clone(),
        }
    }
    // Under `properties` the keys are field names, which must stay even when one is called `description`.
    fn strip_props(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), strip(v))).collect())
            }
            o => strip(o),
        }
    }
    serde_json::to_string(&strip(v)).unwrap_or_default()
}

/// Small shared enums are named after their values (`ReadOrWrite`), and unions of plain types after the types
/// (`StringOrInteger`), since one type serves many places.
fn enum_name(s: &Value) -> Option<String> {
    if let Some(list) = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)
    {
        let types: Option<Vec<String>> = list
            .iter()
            .map(|m| {
                match (
                    m.get("type").and_then(Value::as_str),
                    m.get("properties"),
                    m.get("enum"),
                    m.get("$ref"),
                ) {
                    (Some(t), None, None, None) if t != "object" && t != "array" => {
                        Some(heck::ToUpperCamelCase::to_upper_camel_case(t))
                    }
                    _ => None,
                }
            })
            .collect();
        return types
            .filter(|t| !t.is_empty() && t.len() <= 3)
            .map(|mut t| {
                t.sort();
                t.join("Or")
            });
    }
    let values: Vec<&str> = s
        .get("enum")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if values.is_empty() || values.len() > 3 {
        return None;
    }
    let name = values
        .iter()
        .map(|v| names::type_name(v))
        .collect::<Vec<_>>()
        .join("Or");
    (name.len() <= 40).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn space(spec: &Value) -> TypeSpace<'_> {
        TypeSpace::new(spec)
    }

    #[test]
    fn recursive_component_is_boxed() {
        let spec = json!({"components": {"schemas": {"node": {"type": "object", "properties": {
            "next": {"allOf": [{"$ref": "#/components/schemas/node"}], "nullable": true},
            "kids": {"type": "array", "items": {"$ref": "#/components/schemas/node"}}}}}}});
        let mut ts = space(&spec);
        let t = ts.ty(&json!({"$ref": "#/components/schemas/node"}), "x");
        ts.break_cycles();
        let RType::Named(id) = t else { panic!() };
        let DefKind::Struct(f) = &ts.defs[id].kind else {
            panic!()
        };
        assert!(f[0].boxed && f[0].nullable);
        assert!(!f[1].boxed);
    }

    #[test]
    fn same_named_inline_schemas_stay_distinct() {
        let spec = json!({});
        let mut ts = space(&spec);
        let a = ts.ty(
            &json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            "thing",
        );
        let b = ts.ty(
            &json!({"type": "object", "properties": {"b": {"type": "integer"}}}),
            "thing",
        );
        let a2 = ts.ty(
            &json!({"type": "object", "properties": {"a": {"type": "string"}}}),
            "thing",
        );
        assert_ne!(a, b);
        assert_eq!(a, a2);
        let RType::Named(b) = b else { panic!() };
        assert_eq!(ts.defs[b].name, "Thing2");
    }

    #[test]
    fn all_of_merges_properties() {
        let spec = json!({"components": {"schemas": {"base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}}}});
        let mut ts = space(&spec);
        let t = ts.ty(&json!({"allOf": [{"$ref": "#/components/schemas/base"}, {"type": "object", "properties": {"extra": {"type": "string"}}}]}), "merged");
        let RType::Named(id) = t else { panic!() };
        let DefKind::Struct(f) = &ts.defs[id].kind else {
            panic!()
        };
        assert_eq!(
            f.iter()
                .map(|f| (f.json.as_str(), f.required))
                .collect::<Vec<_>>(),
            vec![("id", true), ("extra", false)]
        );
    }
}
