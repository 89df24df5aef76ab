//! Errors the layers give up with.

use std::time::{Duration, SystemTime};

/// Why a layer gave up on a request. Carried as the `anyhow` payload of `reqwest_middleware::Error::Middleware`
/// (and so of `github_rest::Error::Middleware`); get it back with `downcast_ref::<MiddlewareError>()`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MiddlewareError {
    /// The primary rate limit of `resource` is used up and the policy said not to wait for its reset.
    #[error("primary rate limit of `{resource}` exhausted; it resets at Unix time {reset_unix}")]
    PrimaryRateLimit {
        /// GitHub's `x-ratelimit-resource` (`core`, `search`, ...).
        resource: String,
        /// `x-ratelimit-limit`, when known.
        limit: Option<u64>,
        /// `x-ratelimit-reset`: Unix seconds when the window resets.
        reset_unix: u64,
    },
    /// GitHub kept answering with a secondary rate limit (or the request could not be sent again).
    #[error("secondary rate limit: gave up after {attempts} attempt(s){}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    SecondaryRateLimit {
        /// Requests sent.
        attempts: u32,
        /// The last `retry-after`, if GitHub sent one.
        retry_after: Option<Duration>,
        /// GitHub's last `message`.
        message: Option<String>,
    },
    /// Transport errors (connection refused or reset, timeout, truncated body) on every attempt.
    #[error("gave up after {attempts} attempts: {source}")]
    RetriesExhausted {
        /// Requests sent.
        attempts: u32,
        /// The last error.
        #[source]
        source: reqwest_middleware::Error,
    },
}

impl MiddlewareError {
    /// When the primary rate limit resets, for [`MiddlewareError::PrimaryRateLimit`].
    pub fn reset(&self) -> Option<SystemTime> {
        match self {
            MiddlewareError::PrimaryRateLimit { reset_unix, .. } => {
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(*reset_unix))
            }
            _ => None,
        }
    }

    pub(crate) fn into_middleware(self) -> reqwest_middleware::Error {
        reqwest_middleware::Error::Middleware(anyhow::Error::new(self))
    }
}

/// A store (cache or rate-limit state) failed. Layers log it and carry on as if the store were empty, so an
/// unreachable shared store degrades to per-process behaviour instead of failing requests.
#[derive(Debug, thiserror::Error)]
#[error("middleware store: {0}")]
pub struct StoreError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps any error.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(e.into())
    }
}
