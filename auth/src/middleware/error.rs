//! Errors the layers give up with.

/// Why a layer gave up on a request, other than a rate limit. Carried as the `anyhow` payload of
/// `reqwest_middleware::Error::Middleware` (and so of `github_rest::Error::Middleware`); get it back with
/// `downcast_ref::<MiddlewareError>()`.
///
/// Rate limits are not here: the layers give up with [`github_rest::RateLimitError`], which the generated client
/// surfaces as `github_rest::Error::RateLimit` (see `Error::rate_limit()`), no downcasting needed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MiddlewareError {
    /// Transport errors (connection refused or reset, timeout, truncated body) on every attempt. The last error is
    /// the `source()`.
    #[error("gave up after {attempts} attempts")]
    RetriesExhausted {
        /// Requests sent.
        attempts: u32,
        /// The last error.
        #[source]
        source: reqwest_middleware::Error,
    },
}

impl MiddlewareError {
    pub(crate) fn into_middleware(self) -> reqwest_middleware::Error {
        reqwest_middleware::Error::Middleware(anyhow::Error::new(self))
    }
}

/// Wraps a rate-limit error for the middleware chain; the generated client unwraps it into
/// `github_rest::Error::RateLimit`.
pub(crate) fn rate_limited(e: github_rest::RateLimitError) -> reqwest_middleware::Error {
    reqwest_middleware::Error::Middleware(anyhow::Error::new(e))
}
