//! Lowering schemas: every schema an operation reaches becomes a Rust type of the model.
//!
//! Schemas are walked as JSON (after patches and normalisation). Component schemas keep their names; inline schemas
//! are named after where they sit (`IssuesCreateRequest`, `IssueLabels`); inline schemas of one shape share one type,
//! and two different inline schemas that would get one name get distinct names instead of being merged.

use crate::model::{DefKind, Field, RType, TypeDef, Variant};
use crate::names;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The types lowered so far, and the indexes that keep one schema one type.
pub struct Schemas<'a> {
    spec: &'a Value,
    pub defs: Vec<TypeDef>,
    names: HashMap<String, usize>,
    components: HashMap<String, usize>,
    /// Canonical schema text → def, so the same inline shape met twice is one type.
    inline: HashMap<String, usize>,
    /// For the shared string enums, every place they are used (the hints they were met at):
    /// their names are chosen from these once lowering is done ([`Schemas::into_defs`]).
    shared_uses: HashMap<usize, Vec<String>>,
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
            shared_uses: HashMap::new(),
        }
    }

    /// The lowered types, with each shared string enum named after where it is used (see
    /// `shared_names`).
    pub fn into_defs(mut self) -> Vec<TypeDef> {
        let component_names: BTreeSet<String> = self
            .components
            .values()
            .map(|&id| self.defs[id].name.clone())
            .collect();
        let mut shared: Vec<(usize, Vec<String>)> = self.shared_uses.drain().collect();
        shared.sort();
        for (id, wanted) in shared_names(&shared, &component_names) {
            if wanted == self.defs[id].name {
                continue;
            }
            self.names.remove(&self.defs[id].name);
            let mut name = wanted.clone();
            let mut n = 2;
            while self.names.contains_key(&name) {
                name = format!("{wanted}{n}");
                n += 1;
            }
            self.names.insert(name.clone(), id);
            self.defs[id].name = name;
        }
        self.defs
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

    /// A `date-time` string, or a union of one with Unix seconds (webhook payloads carry both forms): one
    /// `Timestamp` reads either.
    fn is_timestamp(&self, s: &Value) -> bool {
        let s = resolve(self.spec, s);
        let date_time = |m: &Value| {
            m.get("type").and_then(Value::as_str) == Some("string")
                && m.get("format").and_then(Value::as_str) == Some("date-time")
                && m.get("enum").is_none()
        };
        if date_time(s) {
            return true;
        }
        let Some(list) = s
            .get("oneOf")
            .or_else(|| s.get("anyOf"))
            .and_then(Value::as_array)
        else {
            return false;
        };
        let members: Vec<&Value> = list.iter().map(|m| resolve(self.spec, m)).collect();
        s.get("properties").is_none()
            && members.iter().any(|m| date_time(m))
            && members.iter().all(|m| {
                date_time(m)
                    || (matches!(
                        m.get("type").and_then(Value::as_str),
                        Some("integer" | "number")
                    ) && m.get("enum").is_none())
            })
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
        if self.is_timestamp(s) {
            return RType::Timestamp;
        }
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
                    if let Some(uses) = self.shared_uses.get_mut(&id) {
                        uses.push(hint.to_string());
                    }
                    return RType::Named(id);
                }
            }
            let by_members = scalar_union_name(s);
            let id = self.reserve(by_members.as_deref().unwrap_or(hint), doc_of(s));
            if dedup {
                self.inline.insert(key, id);
                if by_members.is_none() && s.get("enum").is_some() {
                    self.shared_uses.insert(id, vec![hint.to_string()]);
                }
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

/// `format: date-time` changes the Rust type (a `Timestamp`), unlike every other format.
fn is_date_time_format(key: &str, value: &Value) -> bool {
    key == "format" && value.as_str() == Some("date-time")
}

/// Stable text of a schema's shape (what decides the Rust type) for deduplication.
fn canonical(v: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .filter(|(k, v)| !IGNORED.contains(&k.as_str()) || is_date_time_format(k, v))
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

/// A union of plain scalar types is named after its member types (`IntegerOrString`): it is the same thing
/// wherever it is used (an issue's title, a milestone, a deployment id), and no value of it appears in its name.
fn scalar_union_name(s: &Value) -> Option<String> {
    let list = s
        .get("oneOf")
        .or_else(|| s.get("anyOf"))
        .and_then(Value::as_array)?;
    let mut types = list
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
        .collect::<Option<Vec<String>>>()?;
    if types.is_empty() || types.len() > 3 {
        return None;
    }
    types.sort();
    Some(types.join("Or"))
}

/// Names for the shared string enums, from where they are used, never from their values (a value
/// GitHub adds must not rename a type):
/// - used once: after that use (`IssuesListForRepoState`);
/// - used by a field of a component schema: after it (`IssueState`), as the place the value belongs to;
/// - else after the field most of its uses have (`Direction`), when no other shared type with more uses claims that
///   name;
/// - else after its shortest use.
fn shared_names(
    shared: &[(usize, Vec<String>)],
    components: &BTreeSet<String>,
) -> Vec<(usize, String)> {
    let of_component = |u: &str| {
        u.split_once('-')
            .is_some_and(|(parent, _)| components.contains(parent))
    };
    let shortest = |uses: &[String], filter: &dyn Fn(&str) -> bool| {
        uses.iter()
            .filter(|u| filter(u))
            .map(|u| names::type_name(u))
            .min_by_key(|n| (n.len(), n.clone()))
    };
    // The field most uses name (`direction`), per type.
    let field_of = |uses: &[String]| -> String {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for u in uses {
            let field = u.rsplit('-').next().unwrap_or(u);
            *counts.entry(names::type_name(field)).or_default() += 1;
        }
        let best = counts.values().copied().max().unwrap_or(0);
        counts
            .into_iter()
            .find(|(_, c)| *c == best)
            .map(|(f, _)| f)
            .unwrap_or_default()
    };
    // Who claims each bare field name: the type with the most uses.
    let mut claims: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (id, uses) in shared {
        let distinct: BTreeSet<&String> = uses.iter().collect();
        if distinct.len() < 2 || uses.iter().any(|u| of_component(u)) {
            continue;
        }
        let field = field_of(uses);
        if components.contains(&field) {
            continue;
        }
        let e = claims.entry(field).or_insert((*id, distinct.len()));
        if distinct.len() > e.1 {
            *e = (*id, distinct.len());
        }
    }
    let claimed: BTreeMap<usize, String> = claims.into_iter().map(|(f, (id, _))| (id, f)).collect();
    shared
        .iter()
        .map(|(id, uses)| {
            let name = if let Some(n) = shortest(uses, &|u| of_component(u)) {
                n
            } else if let Some(f) = claimed.get(id) {
                f.clone()
            } else {
                shortest(uses, &|_| true).unwrap_or_default()
            };
            (*id, name)
        })
        .collect()
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
