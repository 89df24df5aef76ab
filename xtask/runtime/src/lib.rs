//! The runtime every generated endpoint runs on (client, requests, responses, errors, pagination), as a crate of its
//! own so that it is compiled, formatted, linted and unit-tested like any hand-written code.
//!
//! `cargo xtask regen` copies `src/runtime.rs` and `src/pagination.rs` into the generated crate unchanged, below
//! the generated-file header (the way smithy-rs inlines its small runtime crates): the generated crate stays one
//! self-contained crate that depends on nothing of this workspace, and its error enum can name the error bodies of
//! the target it was generated for. This `lib.rs` stands in for the generated `lib.rs`: it provides the few items
//! the runtime reads from it, with the shapes the generator gives them.

/// Stands in for the generated crate's `client_doc!`, which lists each `client.<tag>()` with its feature.
macro_rules! client_doc {
    () => {
        "A GitHub REST client. Cheap to clone; clones share the HTTP stack."
    };
}

pub mod pagination;
pub mod runtime;
pub mod timestamp;

pub use timestamp::{Timestamp, TimestampError};

pub use pagination::Pages;
pub use runtime::{
    ApiError, AuthKind, CallOptions, Client, ClientBuilder, Error, Host, Hosts, HttpConfig,
    OperationInfo, Proxy, RateLimitError, RateLimitHeaders, Response, Timeouts,
};

/// Stands in for the generated `errors` module: the generator adds one variant per error schema of the target.
pub mod errors {
    /// Decodes an error body into the type the spec gives for its status.
    pub type Decoder = fn(&[u8]) -> Result<ErrorBody, serde_json::Error>;

    /// The body of an error response.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub enum ErrorBody {
        /// JSON that matched none of the spec's types for this status.
        Json(serde_json::Value),
        /// A body that is not JSON.
        Text(String),
        /// No body.
        Empty,
    }
}

/// The `X-GitHub-Api-Version` sent by default (the generator writes the target's).
pub const API_VERSION: Option<&str> = Some("2022-11-28");
/// The GHES release of a GHES target (the generator writes it; `None` for api.github.com and GHEC).
pub const GHES_RELEASE: Option<(u32, u32)> = None;
