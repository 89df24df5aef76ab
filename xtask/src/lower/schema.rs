//! Lowering schemas: every schema an operation reaches becomes a Rust type of the model.
//!
//! Schemas are walked as JSON (after patches and normalisation). Component schemas keep their names; inline schemas
//! are named after where they sit (`IssuesCreateRequest`, `IssueLabels`); inline schemas of one shape share one type,
//! and two different inline schemas that would get one name get distinct names instead of being merged.

use crate::model::{DefKind, Field, RType, TypeDef, Variant};
use crate::names;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// The types lowered so far, and the indexes that keep one schema one type.
pub struct Schemas<'a> {
    spec: &'a Value,
    pub defs: Vec<TypeDef>,
    names: HashMap<String, usize>,
    components: HashMap<String, usize>,
    /// Canonical schema text → def, so the same inline shape met twice is one type.
    inline: HashMap<String, usize>,
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

impl<'a> Schemas<'a> {
    pub fn new(spec: &'a Value) -> Self {
        Schemas {
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
            deprecated: false,
            request: false,
            response: false,
            features: BTreeSet::new(),
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
            let key = shape_key(s);
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
        let kind = if let Some(values) = s.get("enum").and_then(Value::as_array) {
            enum_variants(values, s.get("x-enum-varnames").and_then(Value::as_array))
        } else if let Some(list) = self.one_of(s) {
            self.union(id, &list.clone())
        } else {
            self.object(id, s)
        };
        self.defs[id].kind = kind;
    }

    /// `oneOf`/`anyOf` members as variants named after their component, item or scalar type.
    fn union(&mut self, id: usize, list: &[Value]) -> DefKind {
        let hint = self.defs[id].name.clone();
        let mut variants: Vec<Variant> = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let base = self.variant_base(m, i);
            let ty = self.ty(m, &format!("{hint}-variant{i}"));
            let mut name = base.clone();
            let mut n = 2;
            while variants.iter().any(|v| v.name == name) || name == "Other" {
                name = format!("{base}{n}");
                n += 1;
            }
            if variants.iter().any(|v| v.ty == ty) {
                continue;
            }
            variants.push(Variant { name, ty });
        }
        DefKind::Untagged(variants)
    }

    fn variant_base(&self, m: &Value, i: usize) -> String {
        if let Some(c) = m
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(component_name)
        {
            return names::type_name(c);
        }
        let m = resolve(self.spec, m);
        let item_ref = m
            .pointer("/items/$ref")
            .and_then(Value::as_str)
            .and_then(component_name);
        match (m.get("type").and_then(Value::as_str), item_ref) {
            (Some("array"), Some(item)) => format!("{}List", names::type_name(item)),
            (Some(t), _) if m.get("properties").is_none() && m.get("enum").is_none() => {
                heck::ToUpperCamelCase::to_upper_camel_case(t)
            }
            _ => format!("Variant{i}"),
        }
    }

    /// Objects, with `allOf` members merged into one struct.
    fn object(&mut self, id: usize, s: &Value) -> DefKind {
        let hint = self.defs[id].name.clone();
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
            let rust = names::unique(names::snake(&json), &mut used, "_");
            fields.push(Field {
                required: required.contains(&json),
                doc: doc_of(resolve(self.spec, &ps)),
                json,
                rust,
                ty,
                nullable,
                boxed: false,
            });
        }
        DefKind::Struct(fields)
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
        self.defs[id].kind =
            DefKind::Untagged(variants.map(|(name, ty)| Variant { name, ty }).collect());
        RType::Named(id)
    }
}

/// String enum values as variants: the names `x-enum-varnames` gives, or names made from the values; duplicates once.
fn enum_variants(values: &[Value], given: Option<&Vec<Value>>) -> DefKind {
    let mut variants: Vec<(String, String)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v.as_str() else { continue };
        if variants.iter().any(|(_, j)| j == v) {
            continue;
        }
        let name = given
            .and_then(|n| n.get(i))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| names::variant_name(v));
        variants.push((name, v.to_string()));
    }
    DefKind::Enum(variants)
}

/// The text that decides whether two inline schemas are one type. Nullability is applied where the type is used
/// (`Option<T>`), the order of a union of plain types (whose JSON forms never overlap) and of enum values changes
/// nothing either.
fn shape_key(s: &Value) -> String {
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
    canonical(&shape)
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

    fn space(spec: &Value) -> Schemas<'_> {
        Schemas::new(spec)
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
