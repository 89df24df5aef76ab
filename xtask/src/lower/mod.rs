//! Lowering: the patched, normalised description (JSON) becomes the typed [`Model`].
//!
//! Every operation is read once, in path order; the schemas it reaches become types ([`schema`]), its parameters,
//! body and responses become the model's enums ([`operation`]), and list operations get their pagination shape
//! ([`pagination`]). Lowering only builds: which types are sent or received, their features and their boxing are
//! decided afterwards by the passes.

pub mod operation;
pub mod pagination;
pub mod schema;
pub mod webhooks;

use crate::model::{AuthKind, ErrorTable, Model, Operation};
use anyhow::{anyhow, Result};
use schema::{resolve, Schemas};
use serde_json::Value;
use std::collections::BTreeMap;

/// The HTTP methods an OpenAPI path item can hold, in the order they are read.
pub const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The state of one lowering: the description, the types so far and the error-body table.
pub struct Lowering<'a> {
    pub spec: &'a Value,
    pub schemas: Schemas<'a>,
    pub errors: ErrorTable,
}

/// Lowers every operation of `spec`.
pub fn lower(spec: &Value) -> Result<Model> {
    let mut cx = Lowering {
        spec,
        schemas: Schemas::new(spec),
        errors: ErrorTable::default(),
    };
    let paths = spec["paths"]
        .as_object()
        .ok_or_else(|| anyhow!("the description has no `paths`"))?;
    let mut operations = Vec::new();
    for (path, item) in paths {
        let item = resolve(spec, item);
        for method in METHODS {
            if let Some(op) = item.get(*method) {
                operations.push(operation::lower(&mut cx, path, method, op, item)?);
            }
        }
    }
    unique_fn_names(&mut operations);
    let webhooks = webhooks::lower(&mut cx.schemas, spec);
    Ok(Model {
        defs: cx.schemas.into_defs(),
        operations,
        errors: cx.errors,
        webhooks,
    })
}

/// Function names must be unique within a tag's handle: a repeated name gets `_2`, `_3`…
fn unique_fn_names(ops: &mut [Operation]) {
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for op in ops {
        let n = seen
            .entry((op.tag.clone(), op.fn_name.clone()))
            .or_insert(0);
        *n += 1;
        if *n > 1 {
            op.fn_name = format!("{}_{}", op.fn_name, n);
        }
    }
}

/// The description carries no security requirements, so the credential an operation takes is decided here, from
/// GitHub's documented rules: the OAuth-app endpoints under `/applications/{client_id}/` take HTTP Basic with the
/// client id and secret; endpoints under `/app` (the app itself, its installations and installation requests) and
/// those whose description says a JWT must be used take the GitHub App JWT; the manifest conversion takes none (its
/// `code` is the credential); every other operation takes a token (installation, user, personal or `GITHUB_TOKEN`).
pub fn auth_kind(path: &str, description: &str) -> AuthKind {
    if path.starts_with("/applications/{client_id}/") {
        AuthKind::Basic
    } else if path == "/app"
        || path.starts_with("/app/")
        || description.contains("must use a [JWT]")
    {
        AuthKind::AppJwt
    } else if path.starts_with("/app-manifests/") {
        AuthKind::None
    } else {
        AuthKind::Token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_githubs_rules() {
        assert_eq!(
            auth_kind("/applications/{client_id}/token", ""),
            AuthKind::Basic
        );
        assert_eq!(auth_kind("/app/installations", ""), AuthKind::AppJwt);
        assert_eq!(
            auth_kind(
                "/repos/{owner}/{repo}/installation",
                "You must use a [JWT](…)"
            ),
            AuthKind::AppJwt
        );
        assert_eq!(
            auth_kind("/app-manifests/{code}/conversions", ""),
            AuthKind::None
        );
        assert_eq!(auth_kind("/repos/{owner}/{repo}", ""), AuthKind::Token);
    }

    #[test]
    fn a_description_without_paths_is_an_error() {
        let err = lower(&serde_json::json!({"openapi": "3.0.3"})).unwrap_err();
        assert!(err.to_string().contains("paths"), "{err}");
    }
}
