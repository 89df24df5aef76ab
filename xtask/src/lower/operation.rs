//! Lowering one operation: its names, parameters, request body, responses, host and deprecation.

use super::{auth_kind, resolve, Lowering};
use crate::model::{Body, Host, Operation, Param, ParamLocation, RType, Response};
use crate::names;
use anyhow::{anyhow, bail, Result};
use heck::ToUpperCamelCase;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

/// Lowers the operation `op` found under `method` of the path item `item` at `path`.
pub fn lower(
    cx: &mut Lowering,
    path: &str,
    method: &str,
    op: &Value,
    item: &Value,
) -> Result<Operation> {
    let id = text(op, "operationId")
        .ok_or_else(|| anyhow!("{} {path} has no operationId", method.to_uppercase()))?;
    let tag = op
        .pointer("/tags/0")
        .and_then(Value::as_str)
        .unwrap_or("misc")
        .to_string();
    let short = id.split_once('/').map(|(_, s)| s).unwrap_or(&id);
    let fn_name = names::snake(short);
    // Types met inline are named after the operation: `IssuesCreateRequest`, `ReposGetResponse`.
    let pascal = format!("{tag}-{fn_name}").to_upper_camel_case();
    let params = params(cx, &pascal, path, item, op)
        .map_err(|e| anyhow!("{id} ({} {path}): {e}", method.to_uppercase()))?;
    let body = op
        .get("requestBody")
        .map(|rb| request_body(cx, &pascal, rb));
    let responses = responses(cx, &pascal, op);
    let pagination = super::pagination::shape(&mut cx.schemas, &params, &responses);
    let description = text(op, "description");
    Ok(Operation {
        auth: auth_kind(path, description.as_deref().unwrap_or_default()),
        method: method.to_uppercase(),
        path: path.to_string(),
        feature: tag.clone(),
        summary: text(op, "summary").unwrap_or_default(),
        docs_url: op
            .pointer("/externalDocs/url")
            .and_then(Value::as_str)
            .map(str::to_string),
        deprecated: deprecation(op),
        host: host(op, item),
        available: Vec::new(),
        id,
        tag,
        fn_name,
        description,
        params,
        body,
        responses,
        pagination,
    })
}

/// The path item's parameters and the operation's (which override those of the same name and location), path
/// parameters first in the order the path names them, each with a Rust name unique within the function.
fn params(
    cx: &mut Lowering,
    pascal: &str,
    path: &str,
    item: &Value,
    op: &Value,
) -> Result<Vec<Param>> {
    let listed = |v: &Value| -> Vec<Value> {
        v.get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let all: Vec<Value> = listed(item).into_iter().chain(listed(op)).collect();
    let mut seen = HashSet::new();
    let mut params = Vec::new();
    for p in all.iter().rev() {
        let p = resolve(cx.spec, p);
        let name = text(p, "name").unwrap_or_default();
        let location = match p.get("in").and_then(Value::as_str) {
            Some("path") => ParamLocation::Path,
            Some("query") | None => ParamLocation::Query,
            Some(other) => {
                bail!("parameter `{name}` is in `{other}`, which the generator does not support")
            }
        };
        if seen.insert((name.clone(), location)) {
            params.push(param(cx, pascal, p, name, location));
        }
    }
    params.reverse();
    let order: Vec<&str> = path
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(n, _)| n))
        .collect();
    params.sort_by_key(|p| match p.location {
        ParamLocation::Path => order
            .iter()
            .position(|n| *n == p.name)
            .unwrap_or(usize::MAX),
        ParamLocation::Query => usize::MAX,
    });
    // `body` and `query` are the names of the function's other arguments.
    let mut used: BTreeSet<String> = ["body", "query"].map(String::from).into();
    for p in &mut params {
        p.rust = names::unique(p.rust.clone(), &mut used, "_");
    }
    Ok(params)
}

fn param(
    cx: &mut Lowering,
    pascal: &str,
    p: &Value,
    name: String,
    location: ParamLocation,
) -> Param {
    let schema = p.get("schema").cloned().unwrap_or(Value::Null);
    // A nullable parameter is no different from an absent one on the wire.
    let ty = match cx.schemas.ty(&schema, &format!("{pascal}-{name}")) {
        RType::Option(t) => *t,
        t => t,
    };
    let style_form = p.get("style").and_then(Value::as_str).unwrap_or("form") == "form";
    Param {
        rust: names::snake(&name),
        required: location == ParamLocation::Path
            || p.get("required").and_then(Value::as_bool).unwrap_or(false),
        doc: text(p, "description"),
        explode: p
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style_form),
        name,
        location,
        ty,
    }
}

/// JSON first, then multipart, then text; anything else is bytes.
fn request_body(cx: &mut Lowering, pascal: &str, rb: &Value) -> Body {
    let rb = resolve(cx.spec, rb);
    let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
    let empty = Map::new();
    let content = rb
        .get("content")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(mt) = content.get("application/json") {
        let schema = mt.get("schema").unwrap_or(&Value::Null);
        let ty = cx.schemas.ty(schema, &format!("{pascal}-request"));
        return Body::Json { ty, required };
    }
    if let Some(mt) = content.get("multipart/form-data") {
        let schema = resolve(cx.spec, mt.get("schema").unwrap_or(&Value::Null));
        let parts = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let binary =
                    resolve(cx.spec, v).get("format").and_then(Value::as_str) == Some("binary");
                (k.clone(), binary)
            })
            .collect();
        return Body::Multipart { parts, required };
    }
    if let Some(ct) = content.keys().find(|k| k.starts_with("text/")) {
        return Body::Text {
            content_type: ct.clone(),
            required,
        };
    }
    let ct = content.keys().next().cloned();
    Body::Bytes {
        content_type: ct.filter(|c| c != "application/octet-stream" && c != "*/*"),
        required,
    }
}

/// Every response with a numeric status, in status order.
fn responses(cx: &mut Lowering, pascal: &str, op: &Value) -> Vec<Response> {
    let mut out: Vec<Response> = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(status, r)| {
            let code = status.parse::<u16>().ok()?;
            Some(response(cx, pascal, code, resolve(cx.spec, r)))
        })
        .collect();
    out.sort_by_key(|r| r.status);
    out
}

/// One response: the primary media type (JSON when offered), its type, its error slot, and the alternates.
fn response(cx: &mut Lowering, pascal: &str, code: u16, r: &Value) -> Response {
    let content = r.get("content").and_then(Value::as_object);
    let primary = content.and_then(|c| {
        c.get_key_value("application/json")
            .or_else(|| c.iter().next())
    });
    let content_type = primary.map(|(k, _)| k.clone());
    let ty = primary.map(|(ct, media)| match media.get("schema") {
        Some(s) if ct.ends_with("json") => {
            let hint = if code < 400 {
                format!("{pascal}-response")
            } else {
                format!("{pascal}-error{code}")
            };
            cx.schemas.ty(s, &hint)
        }
        _ => RType::String,
    });
    let error_slot = match (&ty, content_type.as_deref()) {
        (Some(t), Some("application/json")) if code >= 400 => Some(cx.errors.slot(t)),
        _ => None,
    };
    let alternates = if code < 400 {
        alternates(cx, pascal, content, content_type.as_deref())
    } else {
        Vec::new()
    };
    Response {
        status: code,
        content_type,
        ty,
        error_slot,
        alternates,
    }
}

/// Media types of a success other than the primary one, each reachable through its own function.
fn alternates(
    cx: &mut Lowering,
    pascal: &str,
    content: Option<&Map<String, Value>>,
    primary: Option<&str>,
) -> Vec<(String, RType)> {
    let mut out = Vec::new();
    for (mt, media) in content.into_iter().flatten() {
        if Some(mt.as_str()) == primary {
            continue;
        }
        let t = match media.get("schema") {
            Some(s) if mt.ends_with("json") || mt.ends_with(".object") => {
                let hint = format!("{pascal}-{}", media_suffix(mt));
                cx.schemas.ty(s, &hint)
            }
            _ => RType::String,
        };
        out.push((mt.clone(), t));
    }
    out
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

/// Release assets are uploaded to the uploads host, which the description names in the operation's `servers`.
fn host(op: &Value, item: &Value) -> Host {
    let servers = op
        .get("servers")
        .or_else(|| item.get("servers"))
        .and_then(Value::as_array);
    let uploads = servers.into_iter().flatten().any(|s| {
        ["/url", "/variables/origin/default"].iter().any(|p| {
            s.pointer(p)
                .and_then(Value::as_str)
                .is_some_and(|u| u.contains("uploads"))
        })
    });
    if uploads {
        Host::Uploads
    } else {
        Host::Api
    }
}

/// The `#[deprecated]` note, with the dates GitHub gives.
fn deprecation(op: &Value) -> Option<String> {
    if !op
        .get("deprecated")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    let date = op
        .pointer("/x-github/deprecationDate")
        .and_then(Value::as_str);
    let removal = op.pointer("/x-github/removalDate").and_then(Value::as_str);
    Some(match (date, removal) {
        (Some(d), Some(r)) => format!("deprecated by GitHub on {d}; removal planned for {r}"),
        (Some(d), None) => format!("deprecated by GitHub on {d}"),
        _ => "deprecated by GitHub".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::schema::Schemas;
    use crate::model::ErrorTable;
    use serde_json::json;

    fn lower_one(spec: &Value) -> Operation {
        let mut cx = Lowering {
            spec,
            schemas: Schemas::new(spec),
            errors: ErrorTable::default(),
        };
        let (path, item) = spec["paths"].as_object().unwrap().iter().next().unwrap();
        let (method, op) = item
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_str() != "parameters")
            .unwrap();
        lower(&mut cx, path, method, op, item).unwrap()
    }

    #[test]
    fn parameters_are_typed_ordered_and_renamed() {
        let spec = json!({"paths": {"/repos/{owner}/{repo}/things": {
            "parameters": [{"name": "repo", "in": "path", "schema": {"type": "string"}}],
            "get": {"operationId": "things/list", "tags": ["things"], "parameters": [
                {"name": "body", "in": "query", "schema": {"type": "integer"}},
                {"name": "owner", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "labels", "in": "query", "style": "form", "explode": false,
                 "schema": {"type": "array", "items": {"type": "string"}}}],
              "responses": {"204": {"description": "none"}}}}}});
        let op = lower_one(&spec);
        let got: Vec<(&str, &str, ParamLocation, bool, bool)> = op
            .params
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.rust.as_str(),
                    p.location,
                    p.required,
                    p.explode,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("owner", "owner", ParamLocation::Path, true, true),
                ("repo", "repo", ParamLocation::Path, true, true),
                ("body", "body_2", ParamLocation::Query, false, true),
                ("labels", "labels", ParamLocation::Query, false, false),
            ]
        );
        assert_eq!(op.params[2].ty, RType::I64);
    }

    #[test]
    fn a_header_parameter_is_a_clear_error() {
        let spec = json!({"paths": {"/x": {"get": {"operationId": "x/get", "parameters": [
            {"name": "X-Thing", "in": "header", "schema": {"type": "string"}}], "responses": {}}}}});
        let mut cx = Lowering {
            spec: &spec,
            schemas: Schemas::new(&spec),
            errors: ErrorTable::default(),
        };
        let err = lower(
            &mut cx,
            "/x",
            "get",
            &spec["paths"]["/x"]["get"],
            &spec["paths"]["/x"],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("x/get") && err.to_string().contains("header"),
            "{err}"
        );
    }

    #[test]
    fn responses_get_primary_media_type_alternates_and_error_slots() {
        let spec = json!({"paths": {"/p": {"get": {"operationId": "pulls/get", "tags": ["pulls"], "responses": {
            "200": {"content": {
                "application/json": {"schema": {"type": "object", "properties": {"id": {"type": "integer"}}}},
                "application/vnd.github.diff": {"schema": {"type": "string"}}}},
            "304": {"description": "Not modified"},
            "404": {"content": {"application/json": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}}}}}}}});
        let op = lower_one(&spec);
        let statuses: Vec<u16> = op.responses.iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![200, 304, 404]);
        assert_eq!(
            op.responses[0].content_type.as_deref(),
            Some("application/json")
        );
        assert_eq!(
            op.responses[0].alternates[0].0,
            "application/vnd.github.diff"
        );
        assert_eq!(op.responses[0].alternates[0].1, RType::String);
        assert!(op.responses[1].ty.is_none());
        assert_eq!(op.responses[2].error_slot, Some(0));
        assert_eq!(
            media_suffix("application/vnd.github.v3.patch+json"),
            "patch"
        );
    }

    #[test]
    fn bodies_by_media_type_and_uploads_host() {
        let spec = json!({"paths": {"/assets": {"post": {"operationId": "repos/upload", "tags": ["repos"],
            "servers": [{"url": "https://uploads.github.com"}],
            "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string"}}}},
            "responses": {"201": {"description": "ok"}}}}}});
        let op = lower_one(&spec);
        assert_eq!(op.host, Host::Uploads);
        assert!(matches!(
            op.body,
            Some(Body::Bytes {
                content_type: None,
                required: true
            })
        ));
    }
}
