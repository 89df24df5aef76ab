//! Emitting the crate's root: `lib.rs` (modules, re-exports, the target's constants, the crate docs) and
//! `Cargo.toml` (one feature per tag).

use crate::model::Model;
use crate::names;
use crate::spec::Spec;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// Tags whose endpoints are on by default: small, and what almost every integration touches.
pub const DEFAULT_FEATURES: &[&str] = &["meta", "rate-limit", "users"];

/// The tags of the model, each with its feature.
pub fn tags(model: &Model) -> BTreeMap<&str, &str> {
    model
        .operations
        .iter()
        .map(|o| (o.tag.as_str(), o.feature.as_str()))
        .collect()
}

/// `lib.rs` of the crate whose package is `name`.
pub fn lib_rs(spec: &Spec, model: &Model, name: &str) -> TokenStream {
    let tags = tags(model);
    let features = tags.values().collect::<BTreeSet<_>>().len();
    let tag_mods = tags.iter().map(|(tag, feature)| {
        let m = format_ident!("{}", names::snake(tag));
        quote! { #[cfg(feature = #feature)] pub mod #m; }
    });
    let version = &spec.version;
    let target = &spec.target;
    let sha = &spec.sha256;
    let api_version_tokens = quote!(Some(#API_VERSION));
    let count = model.operations.len();
    let ghes = match ghes_release(spec) {
        Some((a, b)) => quote!(Some((#a, #b))),
        None => quote!(None),
    };
    let lib_doc = lib_doc(spec, count, features, &name.replace('-', "_"));
    let client_doc = client_doc(&tags);
    let hints = feature_hints(&tags);
    let webhooks = (!model.webhooks.is_empty()).then(|| {
        quote!(
            #[cfg(feature = "webhooks")]
            pub mod webhooks;
        )
    });
    quote! {
        #![doc = #lib_doc]
        #![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls, rustdoc::invalid_html_tags, rustdoc::invalid_rust_codeblocks, reason = "rustdoc comments are the description's own Markdown, written for docs.github.com")]
        #![allow(clippy::doc_lazy_continuation, clippy::tabs_in_doc_comments, reason = "doc comments are the description's text as GitHub wrote it")]
        #![allow(clippy::large_enum_variant, reason = "response enums and error bodies hold their payload inline: boxing would cost an allocation per call, and a caller matches on them once")]
        #![cfg_attr(docsrs, feature(doc_cfg))]
        /// The rustdoc of [`Client`]: each `client.<tag>()` with the feature it needs.
        macro_rules! client_doc { () => { #client_doc } }
        pub mod errors;
        pub mod pagination;
        pub mod runtime;
        mod timestamp;
        pub mod types;
        #(#tag_mods)*
        #webhooks
        pub use pagination::Pages;
        pub use timestamp::{Timestamp, TimestampError};
        /// The date-time crate [`Timestamp`] converts to and from.
        pub use chrono;
        /// What most programs use: `use github_rest::prelude::*;` brings the client, its errors and responses, and
        /// the stream traits that `Pages` needs (`next`, `try_collect`…).
        pub mod prelude {
            pub use crate::{Client, Error, Pages, Response};
            pub use futures::{StreamExt, TryStreamExt};
        }
        #hints
        pub use runtime::{ApiError, AuthKind, CallOptions, Client, ClientBuilder, Error, Host, Hosts, HttpConfig, OperationInfo, Proxy, RateLimitError, RateLimitHeaders, Response, Timeouts};
        /// The GitHub target this crate was generated for.
        pub const TARGET: &str = #target;
        /// The `@octokit/openapi` version of the spec this crate was generated from.
        pub const SPEC_VERSION: &str = #version;
        /// sha256 of the pinned (compressed) spec file.
        pub const SPEC_SHA256: &str = #sha;
        /// The `X-GitHub-Api-Version` sent by default, when the target has API versions.
        pub const API_VERSION: Option<&str> = #api_version_tokens;
        /// Operations in the spec (all generated).
        pub const OPERATION_COUNT: usize = #count;
        /// For a GitHub Enterprise Server target, the release it was generated for; a server reporting an older
        /// `X-GitHub-Enterprise-Version` gets one warning in the logs.
        pub const GHES_RELEASE: Option<(u32, u32)> = #ghes;
    }
}

/// The rustdoc of `Client`, with the table of its endpoint groups and their features.
fn client_doc(tags: &BTreeMap<&str, &str>) -> String {
    let mut s = String::from(
        "A GitHub REST client. Cheap to clone; clones share the HTTP stack.\n\n\
         Endpoints are reached through one method per group of the description, each behind a cargo feature of \
         this crate (`full` turns on all of them; the default is `meta`, `rate-limit` and `users`). Calling a \
         method whose feature is off is a compile error naming the feature.\n\n\
         | method | feature |\n|---|---|\n",
    );
    for (tag, feature) in tags {
        let accessor = names::field_ident(tag);
        s.push_str(&format!("| `client.{accessor}()` | `{feature}` |\n"));
    }
    s
}

/// For every group whose feature is off, a stand-in `client.<tag>()` that fails to compile with a message naming
/// the feature, instead of "no method named `<tag>`".
fn feature_hints(tags: &BTreeMap<&str, &str>) -> TokenStream {
    let hints = tags.iter().map(|(tag, feature)| {
        let accessor = names::field_ident(tag);
        let tr = format_ident!("{}", names::type_name(&format!("{tag}-feature")));
        let message = format!("`client.{accessor}()` needs the `{feature}` feature of this crate");
        let label = format!("enable the `{feature}` feature (or `full`) in Cargo.toml");
        quote! {
            #[cfg(not(feature = #feature))]
            #[diagnostic::on_unimplemented(message = #message, label = #label)]
            pub trait #tr {}
            #[cfg(not(feature = #feature))]
            impl crate::Client {
                #[doc(hidden)]
                pub fn #accessor(&self) -> FeatureOff where for<'a> &'a (): #tr {
                    FeatureOff
                }
            }
        }
    });
    quote! {
        /// Stand-ins for the endpoint groups whose feature is off: calling one is a compile error naming the feature.
        #[doc(hidden)]
        pub mod feature_hints {
            /// What a stand-in would return; it is never built, since the call does not compile.
            pub struct FeatureOff;
            #(#hints)*
        }
    }
}

/// The `X-GitHub-Api-Version` to send. The descriptions carry no version list: they describe the 2022-11-28 REST
/// API version (changes of later versions are listed per operation under `x-github-breaking-changes`, not applied),
/// which api.github.com, GHEC and GHES 3.9 and later accept.
const API_VERSION: &str = "2022-11-28";

/// For GHES targets, the (major, minor) release the description is for.
fn ghes_release(spec: &Spec) -> Option<(u32, u32)> {
    let r = spec
        .json
        .pointer("/info/x-github-release")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .or_else(|| spec.target.strip_prefix("ghes-").map(str::to_string))?;
    let (a, b) = r.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn lib_doc(spec: &Spec, ops: usize, features: usize, krate: &str) -> String {
    format!(
        "Typed client for GitHub's REST API ({target}), generated from `@octokit/openapi` {version}: {ops} operations.

Endpoints are grouped by the spec's tags, one cargo feature per tag ({features} features; `full` enables all, the \
default is `meta`, `rate-limit` and `users`). Build a [`Client`] and call, for example, \
`client.issues().create(owner, repo, &body)`; list operations also have `<fn>_stream(..)`, a [`Pages`] stream \
across every page.

# Quick start

```rust,ignore
// Cargo.toml: the `issues` feature (endpoint groups are features)
use {krate}::prelude::*;

let client = Client::builder().user_agent(\"my-app\").build()?;
let issue = client.issues().get(\"rust-lang\", \"rust\", 1).await?;
println!(\"{{}}: {{}}\", issue.status, issue.body.title);
let mut open = client.issues().list_for_repo_stream(\"rust-lang\", \"rust\", &Default::default());
while let Some(issue) = open.try_next().await? {{
    println!(\"#{{}} {{}}\", issue.number, issue.title);
}}
```

`Client::builder()` also takes a GitHub Enterprise host (`enterprise_host`), an HTTP configuration \
([`HttpConfig`]) and a `reqwest_middleware` client with layers of your own (`http_client`). Authentication \
(tokens, GitHub App JWTs, installation tokens, OAuth apps) and middleware for rate limits, retries and conditional \
requests are in the companion crate `github-auth`, whose builder returns this crate's [`Client`].

# Crate organisation

| module | what lives there |
|---|---|
| crate root | [`Client`] and [`ClientBuilder`], [`Error`], [`Response`], [`HttpConfig`], the target's constants ([`TARGET`], [`SPEC_VERSION`], [`API_VERSION`]…) |
| [`prelude`] | `use {krate}::prelude::*`: the client, errors, responses and the stream traits [`Pages`] needs |
| one module per tag (`issues`, `repos`, `pulls`…) | the endpoint functions of that group (`client.issues()` is `issues::IssuesApi`) and their `…Query` parameter structs, each module behind its feature |
| [`types`] | the request and response models every enabled endpoint reaches, compiled only when an enabled feature needs them |
| [`errors`] | [`errors::ErrorBody`]: the error bodies the description gives, as one enum |
| [`pagination`] | [`Pages`], the stream behind every `<fn>_stream`: follows `Link: rel=\"next\"`, fetches numbered pages concurrently |
| [`runtime`] | what every endpoint runs on: hosts, headers, the middleware stack, redirects, response and error decoding |
| `webhooks` | (feature `webhooks`) `webhooks::WebhookEvent`, the typed payload of every event and action |

# Decoding what GitHub sends

- String enums keep values they do not know (`Other(String)`) and write them back unchanged; unknown fields are \
  ignored; `oneOf`/`anyOf` types end with an `Other(serde_json::Value)` variant.
- **Required fields GitHub leaves out.** A response field the spec marks required is a plain field unless GitHub's \
  own examples show it missing from an otherwise complete object, recorded webhook deliveries show it missing from \
  a payload, the target's servers predate the field (a GHES target), or a patch in the repository's \
  `openapi/patches/` names it; then it is an `Option`. Examples that are wrong rather than GitHub's behaviour are \
  corrected by patches instead. The fidelity test decodes every success example of the spec with this crate's types.
- Request types are strict: optional nullable fields are `Option<Option<T>>` (absent, explicit `null`, value) and \
  optional arrays can be sent empty.

# Errors

Error statuses become [`Error::Api`] carrying GitHub's message, validation errors, rate-limit headers, the body \
decoded into the spec's error type ([`errors::ErrorBody`]) and the raw bytes, whatever they are.",
        target = spec.target,
        version = spec.version
    )
}

/// What each endpoint feature enables: the tag's description in the spec and its number of operations.
pub fn feature_descriptions(spec: &Spec, model: &Model) -> BTreeMap<String, String> {
    let described: BTreeMap<&str, &str> = spec
        .json
        .get("tags")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.get("name")?.as_str()?, t.get("description")?.as_str()?)))
        .collect();
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for op in &model.operations {
        *counts
            .entry((op.feature.as_str(), op.tag.as_str()))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((feature, tag), n)| {
            let what = described
                .get(tag)
                .map(|d| d.trim().trim_end_matches('.').to_string())
                .unwrap_or_else(|| format!("The `{tag}` endpoints"));
            let ops = if n == 1 { "operation" } else { "operations" };
            (feature.to_string(), format!("{what} ({n} {ops})"))
        })
        .collect()
}

/// What the `webhooks` feature enables, for the manifest and the README.
pub const WEBHOOKS_FEATURE: &str =
    "Typed webhook payloads (`webhooks::WebhookEvent`), one variant per event and action; not part of `full`";

/// `Cargo.toml` of the package `name`, with one feature per tag (`features`: each with what it enables), the
/// default set and `full`. Its edition, licence, minimum Rust version and most dependency versions are inherited
/// from the workspace; `regen --out` resolves them (`regen::standalone_manifest`). `documentation` is the docs.rs
/// page of the package; no `repository` is set: the project has no public repository address yet.
pub fn cargo_toml(name: &str, features: &BTreeMap<String, String>, webhooks: bool) -> String {
    let mut s =
        format!("[package]\nname = \"{name}\"\ndocumentation = \"https://docs.rs/{name}\"\n");
    s.push_str(
        r#"version = "0.1.0"
description = "Typed client for GitHub's REST API, generated from GitHub's OpenAPI description"
edition.workspace = true
license.workspace = true
rust-version.workspace = true
readme = "README.md"
keywords = ["github", "api", "rest", "openapi", "client"]
categories = ["api-bindings", "web-programming::http-client"]

[package.metadata.docs.rs]
all-features = true
rustdoc-args = ["--cfg", "docsrs"]

[lib]
path = "src/lib.rs"
# The doc comments are GitHub's own prose, whose code blocks are not Rust.
doctest = false

[dependencies]
anyhow = "1"
async-trait = "0.1"
bytes.workspace = true
chrono.workspace = true
futures.workspace = true
http.workspace = true
percent-encoding = "2"
reqwest.workspace = true
reqwest-middleware.workspace = true
serde.workspace = true
serde_json = { workspace = true, features = ["raw_value"] }
serde_path_to_error = "0.1"
thiserror.workspace = true
tracing.workspace = true
url.workspace = true

[dev-dependencies]
flate2.workspace = true
proptest = "1"

[features]
"#,
    );
    let defaults: Vec<String> = DEFAULT_FEATURES
        .iter()
        .filter(|f| features.contains_key(**f))
        .map(|f| format!("\"{f}\""))
        .collect();
    s.push_str(&format!("default = [{}]\n", defaults.join(", ")));
    let all: Vec<String> = features.keys().map(|f| format!("\"{f}\"")).collect();
    s.push_str("# Every endpoint group (not `webhooks`).\n");
    s.push_str(&format!("full = [{}]\n", all.join(", ")));
    for (f, what) in features {
        s.push_str(&format!("# {what}.\n{f} = []\n"));
    }
    if webhooks {
        s.push_str(&format!("# {WEBHOOKS_FEATURE}.\nwebhooks = []\n"));
    }
    s
}

/// `README.md` of the package `name` (its crates.io page): what it is, a quick start, and the feature table.
pub fn readme(
    spec: &Spec,
    name: &str,
    features: &BTreeMap<String, String>,
    webhooks: bool,
) -> String {
    let krate = name.replace('-', "_");
    let mut s = format!(
        "# {name}

A typed client for GitHub's REST API, target **{target}**, generated from GitHub's OpenAPI description \
(`@octokit/openapi` {version}): one async function for every operation, typed request and response models, typed \
errors, and a `Stream` for every paginated list.

```rust,ignore
// Cargo.toml: {name} = {{ version = \"0.1\", features = [\"issues\"] }}
use {krate}::prelude::*;

let client = Client::builder().user_agent(\"my-app\").build()?;
let issue = client.issues().get(\"rust-lang\", \"rust\", 1).await?;
println!(\"{{}}: {{}}\", issue.status, issue.body.title);
let mut open = client.issues().list_for_repo_stream(\"rust-lang\", \"rust\", &Default::default());
while let Some(issue) = open.try_next().await? {{
    println!(\"#{{}} {{}}\", issue.number, issue.title);
}}
```

Authentication (personal and user tokens, GitHub App JWTs, installation tokens, OAuth apps) and middleware (rate \
limits, retries, conditional requests) are in the companion crate `github-auth`, whose builder returns this crate's \
`Client`.

## Features

Each endpoint group of the description is a cargo feature; types are compiled only when an enabled endpoint \
reaches them. {defaults}; `full` enables every endpoint group.

| feature | enables |
|---|---|
",
        target = spec.target,
        version = spec.version,
        defaults = match DEFAULT_FEATURES
            .iter()
            .filter(|f| features.contains_key(**f))
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
        {
            d if d.is_empty() => "No endpoint group is on by default".to_string(),
            d => format!("The default set is {}", d.join(", ")),
        },
    );
    for (f, what) in features {
        s.push_str(&format!("| `{f}` | {what} |\n"));
    }
    if webhooks {
        s.push_str(&format!("| `webhooks` | {WEBHOOKS_FEATURE} |\n"));
    }
    s.push_str(
        "\nLicence: MIT. The description it is generated from, with its documentation text, is published in \
         `@octokit/openapi` under the MIT licence.\n",
    );
    s
}
