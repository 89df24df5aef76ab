//! The typed model the description is lowered into, and that the passes and the emitters read.
//!
//! Nothing here knows JSON or tokens: lowering (`crate::lower`) builds a [`Model`] from the normalised description,
//! the passes (`crate::passes`) rewrite it in place, and the emitters (`crate::emit`) turn it into Rust.

use std::collections::BTreeSet;

/// A Rust type as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum RType {
    String,
    /// A `format: date-time` string (or a union of one with Unix seconds): the runtime's `Timestamp`.
    Timestamp,
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
    /// A type of the model, by index into [`Model::defs`].
    Named(usize),
}

impl RType {
    /// The type inside one level of `Option`.
    pub fn unwrap_option(&self) -> &RType {
        match self {
            RType::Option(t) => t,
            t => t,
        }
    }

    /// Every named type this one mentions (through `Vec`, maps and `Option`).
    pub fn named(&self, out: &mut Vec<usize>) {
        match self {
            RType::Named(id) => out.push(*id),
            RType::Vec(t) | RType::Map(t) | RType::Option(t) => t.named(out),
            _ => {}
        }
    }

    /// The named type held inline (not behind a `Vec` or map, which already allocate).
    pub fn direct(&self) -> Option<usize> {
        match self {
            RType::Named(id) => Some(*id),
            RType::Option(t) => t.direct(),
            _ => None,
        }
    }

    /// The same type with every named type renumbered through `map` (old id → kept id).
    pub fn remap(&self, map: &[usize]) -> RType {
        match self {
            RType::Named(id) => RType::Named(map[*id]),
            RType::Vec(t) => RType::Vec(Box::new(t.remap(map))),
            RType::Map(t) => RType::Map(Box::new(t.remap(map))),
            RType::Option(t) => RType::Option(Box::new(t.remap(map))),
            o => o.clone(),
        }
    }
}

/// A field of a struct.
#[derive(Debug, Clone)]
pub struct Field {
    pub json: String,
    pub rust: String,
    pub ty: RType,
    pub required: bool,
    pub nullable: bool,
    pub doc: Option<String>,
    /// Held in a `Box` because the type would otherwise contain itself (set by the cycles pass).
    pub boxed: bool,
}

/// A variant of an untagged union: its name and type.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub name: String,
    pub ty: RType,
}

#[derive(Debug, Clone)]
pub enum DefKind {
    /// Reserved while the schema is being lowered (recursion).
    Pending,
    Struct(Vec<Field>),
    /// A string enum, kept open for values the description does not list: (Rust name, JSON value).
    Enum(Vec<(String, String)>),
    /// `oneOf`/`anyOf`: tried in order, with a last variant that keeps any other JSON.
    Untagged(Vec<Variant>),
}

impl DefKind {
    /// The types this kind holds.
    pub fn children(&self) -> Vec<&RType> {
        match self {
            DefKind::Struct(f) => f.iter().map(|f| &f.ty).collect(),
            DefKind::Untagged(v) => v.iter().map(|v| &v.ty).collect(),
            _ => Vec::new(),
        }
    }
}

/// A named Rust type.
#[derive(Debug, Clone)]
pub struct TypeDef {
    pub name: String,
    pub kind: DefKind,
    pub doc: Option<String>,
    pub deprecated: bool,
    /// Reached from a request body or parameter (needs `Serialize`; optional nullable fields get three states).
    /// Set by the feature pass.
    pub request: bool,
    /// Reached from a response (needs `Deserialize`). Set by the feature pass.
    pub response: bool,
    /// Cargo features whose endpoints reach this type; empty means no endpoint does, and it is not emitted.
    pub features: BTreeSet<String>,
}

/// Where a parameter goes on the wire. GitHub's descriptions use only these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    Path,
    Query,
}

#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub rust: String,
    pub location: ParamLocation,
    pub required: bool,
    pub ty: RType,
    pub doc: Option<String>,
    /// Arrays in the query: exploded (`name=a&name=b`, OpenAPI's default for `form` style) or comma-separated.
    pub explode: bool,
}

/// A request body, by how it is sent.
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
    /// Raw bytes; `content_type` is `None` when the caller names it (an upload's own media type).
    Bytes {
        content_type: Option<String>,
        required: bool,
    },
    /// `multipart/form-data`: the caller builds a `reqwest::multipart::Form` with these parts (name, is a file).
    Multipart {
        parts: Vec<(String, bool)>,
        required: bool,
    },
}

/// How a success body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Text,
    Empty,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: Option<String>,
    /// The body type (`None` for no body; `String` for text media types).
    pub ty: Option<RType>,
    /// Index into [`ErrorTable::entries`], for error statuses with a JSON body.
    pub error_slot: Option<usize>,
    /// The other media types a success can be asked for (`application/vnd.github.diff`…), with their body type.
    pub alternates: Vec<(String, RType)>,
}

impl Response {
    pub fn kind(&self) -> BodyKind {
        match (&self.ty, self.content_type.as_deref()) {
            (None, _) => BodyKind::Empty,
            (Some(_), Some(ct)) if ct.ends_with("json") => BodyKind::Json,
            (Some(_), _) => BodyKind::Text,
        }
    }
}

/// The shape of a paginated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageShape {
    /// The body is the array of items.
    Array,
    /// The body is an object holding the items under `items_key` (`{"total_count": 3, "items": […]}`).
    Wrapper { items_key: String },
    /// The body is an object whose items are a map under `items_key` (cursor-paginated bulk lists); no stream.
    Map { items_key: String },
}

impl PageShape {
    pub fn items_key(&self) -> Option<&str> {
        match self {
            PageShape::Array => None,
            PageShape::Wrapper { items_key } | PageShape::Map { items_key } => Some(items_key),
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            PageShape::Array => "array",
            PageShape::Wrapper { .. } => "wrapper",
            PageShape::Map { .. } => "map",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pagination {
    pub shape: PageShape,
    pub item: RType,
    /// Paged by `before`/`after` cursors rather than page numbers.
    pub cursor: bool,
}

/// The credential an operation takes (see `crate::lower::auth_kind` for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    Token,
    AppJwt,
    Basic,
    None,
}

impl AuthKind {
    /// The name used in `operations.json` and for the runtime's `AuthKind` variant.
    pub fn name(self) -> &'static str {
        match self {
            AuthKind::Token => "token",
            AuthKind::AppJwt => "app_jwt",
            AuthKind::Basic => "basic",
            AuthKind::None => "none",
        }
    }
    pub fn variant(self) -> &'static str {
        match self {
            AuthKind::Token => "Token",
            AuthKind::AppJwt => "AppJwt",
            AuthKind::Basic => "Basic",
            AuthKind::None => "None",
        }
    }
}

/// The host an operation is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Api,
    Uploads,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    pub path: String,
    pub tag: String,
    pub feature: String,
    pub fn_name: String,
    pub summary: String,
    pub description: Option<String>,
    pub docs_url: Option<String>,
    pub deprecated: Option<String>,
    pub host: Host,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Response>,
    pub pagination: Option<Pagination>,
    pub auth: AuthKind,
    /// The targets whose description has this operation (set by the availability pass).
    pub available: Vec<String>,
}

impl Operation {
    pub fn successes(&self) -> impl Iterator<Item = &Response> {
        self.responses.iter().filter(|r| r.status < 400)
    }
    /// The success responses a caller of the function sees. A `304` comes back as `Error::NotModified`, and only to
    /// a caller who made a conditional request; the redirects of a moved resource (`301`, `307`, `308`) are followed
    /// by the runtime. A `302` or `303` stays: there the link is the answer.
    pub fn answers(&self) -> impl Iterator<Item = &Response> {
        self.successes()
            .filter(|r| !matches!(r.status, 301 | 304 | 307 | 308))
    }
    /// Whether the function returns one body type rather than an enum of statuses: every answer has the same body
    /// (type and media kind), and no redirect is among several answers (there the status is the answer: `204`
    /// member or `302` not a member).
    pub fn one_answer(&self) -> bool {
        let answers: Vec<&Response> = self.answers().collect();
        let Some(first) = answers.first() else {
            return true;
        };
        let redirect = answers.len() > 1 && answers.iter().any(|r| matches!(r.status, 302 | 303));
        !redirect
            && answers
                .iter()
                .all(|r| r.ty == first.ty && r.kind() == first.kind())
    }
    pub fn errors(&self) -> impl Iterator<Item = &Response> {
        self.responses.iter().filter(|r| r.status >= 400)
    }
    pub fn path_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
    }
    pub fn query_params(&self) -> impl Iterator<Item = &Param> {
        self.params
            .iter()
            .filter(|p| p.location == ParamLocation::Query)
    }
    /// Whether the operation gets a stream of items across pages (arrays and wrappers, without a request body).
    pub fn streams(&self) -> bool {
        self.body.is_none()
            && self
                .pagination
                .as_ref()
                .is_some_and(|p| !matches!(p.shape, PageShape::Map { .. }))
    }
    /// Every type the operation names, with whether it is sent (`true`) or received.
    pub fn roots(&self) -> Vec<(&RType, bool)> {
        let mut out: Vec<(&RType, bool)> = self.params.iter().map(|p| (&p.ty, true)).collect();
        if let Some(Body::Json { ty, .. }) = &self.body {
            out.push((ty, true));
        }
        for r in &self.responses {
            out.extend(r.ty.iter().map(|t| (t, false)));
            out.extend(r.alternates.iter().map(|(_, t)| (t, false)));
        }
        out.extend(self.pagination.iter().map(|p| (&p.item, false)));
        out
    }
    /// Every type the operation names, mutably (for renumbering).
    pub fn types_mut(&mut self) -> Vec<&mut RType> {
        let mut out: Vec<&mut RType> = self.params.iter_mut().map(|p| &mut p.ty).collect();
        if let Some(Body::Json { ty, .. }) = &mut self.body {
            out.push(ty);
        }
        for r in &mut self.responses {
            out.extend(r.ty.iter_mut());
            out.extend(r.alternates.iter_mut().map(|(_, t)| t));
        }
        out.extend(self.pagination.iter_mut().map(|p| &mut p.item));
        out
    }
}

/// One entry per distinct error body type, shared by all operations.
#[derive(Debug, Default)]
pub struct ErrorTable {
    pub entries: Vec<RType>,
}

impl ErrorTable {
    /// The slot of `t`, added when new.
    pub fn slot(&mut self, t: &RType) -> usize {
        match self.entries.iter().position(|e| e == t) {
            Some(i) => i,
            None => {
                self.entries.push(t.clone());
                self.entries.len() - 1
            }
        }
    }
}

/// Everything the emitters need: the types, the operations (in the description's path order) and the error bodies.
#[derive(Debug, Default)]
pub struct Model {
    pub defs: Vec<TypeDef>,
    pub operations: Vec<Operation>,
    pub errors: ErrorTable,
    /// The webhook deliveries the description defines (`x-webhooks`), in its order.
    pub webhooks: Vec<crate::lower::webhooks::Webhook>,
}

impl Model {
    /// The type as a path usable from outside the `types` module (`crate::types::X`).
    pub fn path_string(&self, ty: &RType) -> String {
        match ty {
            RType::String => "String".into(),
            RType::Timestamp => "crate::Timestamp".into(),
            RType::I64 => "i64".into(),
            RType::F64 => "f64".into(),
            RType::Bool => "bool".into(),
            RType::Value | RType::Object => "serde_json::Value".into(),
            RType::Vec(t) => format!("Vec<{}>", self.path_string(t)),
            RType::Map(t) => format!(
                "std::collections::BTreeMap<String, {}>",
                self.path_string(t)
            ),
            RType::Option(t) => format!("Option<{}>", self.path_string(t)),
            RType::Named(id) => format!("crate::types::{}", self.defs[*id].name),
        }
    }

    /// Whether the type is written as text in a URL like a scalar: a scalar, a string enum, or a union of those and
    /// of lists of them (`IntegerOrString`; `has=patch` or a list of such values, written comma-separated).
    pub fn is_text(&self, ty: &RType) -> bool {
        self.is_text_at(ty, 0)
    }

    fn is_text_at(&self, ty: &RType, depth: usize) -> bool {
        match ty {
            RType::String
            | RType::Timestamp
            | RType::I64
            | RType::F64
            | RType::Bool
            | RType::Value => true,
            RType::Vec(t) => depth == 1 && self.is_text_at(t, 2),
            RType::Named(id) => match &self.defs[*id].kind {
                DefKind::Enum(_) => true,
                DefKind::Untagged(vs) => depth == 0 && vs.iter().all(|v| self.is_text_at(&v.ty, 1)),
                _ => false,
            },
            _ => false,
        }
    }

    /// Whether the type is a union written as text (see [`Model::is_text`]); such unions implement `Display`.
    pub fn is_text_union(&self, ty: &RType) -> bool {
        matches!(ty, RType::Named(id) if matches!(self.defs[*id].kind, DefKind::Untagged(_)))
            && self.is_text(ty)
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
            // A time has no sensible default.
            RType::Timestamp => false,
            _ => true,
        }
    }

    /// Types that are emitted (some enabled endpoint reaches them).
    pub fn emitted(&self) -> impl Iterator<Item = (usize, &TypeDef)> {
        self.defs
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.features.is_empty())
    }
}
