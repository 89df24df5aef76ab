//! Middleware for GitHub: rate limits, retries, conditional requests, tracing, and the send gate.
//!
//! [`MiddlewareConfig`] holds the settings of every step and [`MiddlewareConfig::install`] adds them to a
//! `reqwest_middleware::ClientBuilder` as one layer, a [`StackLayer`], which runs them in this order:
//!
//! 1. tracing: one `tracing` span per call (operation id, method, status, requests sent, rate-limit
//!    remaining/reset);
//! 2. the cache: conditional requests (`If-None-Match` / `If-Modified-Since`); a 304 is answered from the cache;
//! 3. rate limits: recognises primary and secondary rate limits, records them and sends again;
//! 4. retries: sends again after 5xx answers and transport errors, with exponential backoff and jitter;
//! 5. the send gate (last): at the moment a request is actually sent, after any queue, waits for the primary
//!    limit's reset, a slot under the adaptive in-flight cap, the secondary-limit back-off, and the pacing of writes.
//!
//! The steps share one future per call rather than a layer each: one copy of the request serves every re-send, the
//! body is read once (for the cache, a rate-limit message and a truncated body alike), and the answer is rebuilt
//! once. Stores that live in this process (the default in-memory ones) are called without a future.
//!
//! ## Who sends a request again, in which order
//!
//! Four parts may send one call's request more than once; each re-send passes every step after it, so every request
//! that reaches the network has passed the gate:
//!
//! - the `github_rest::Client` itself, above the whole stack: to the new location of a moved resource, up to five
//!   hops (`ClientBuilder::max_redirects`), each hop a new request through every layer; the credential layer puts
//!   no credential on a hop to another host;
//! - the authentication layer of `github-auth`'s builder (outside the [`StackLayer`]): once after a 401 with a
//!   freshly minted installation token or renewed user token, or up to three times for a token GitHub has not
//!   replicated yet;
//! - rate limits: after a secondary limit (the gate holds it until the back-off ends) or a primary limit (the gate
//!   holds it until the reset, or the policy gives up), up to [`RateLimitConfig::max_attempts`] sends;
//! - retries: after a 5xx or a transport error, idempotent methods only, up to [`RetryConfig::max_retries`] per
//!   rate-limited send.
//!
//! ## Under a secondary limit
//!
//! A back-off announced by one response (`retry-after`, or GitHub's message, waiting at least a minute, doubling)
//! holds every request of that credential at the gate until it ends, including those already queued; nothing is sent
//! inside it. The in-flight cap then restarts at one and grows with each answer up to a ceiling lowered to what
//! GitHub allowed (`k - 1` when the `k`-th request in flight was refused), raised again by one every
//! [`ConcurrencyConfig::raise_every`] without a refusal.
//!
//! When a layer gives up, a rate limit arrives as `github_rest::Error::RateLimit` (see
//! `github_rest::Error::rate_limit()`); other failures as `github_rest::Error::Middleware(anyhow::Error)` holding a
//! [`MiddlewareError`] or an [`crate::AuthError`]:
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use github_auth::middleware::{MiddlewareConfig, PrimaryPolicy};
//!
//! let config = MiddlewareConfig::default().primary_policy(PrimaryPolicy::FailFast);
//! // The runtime's HTTP settings: time-outs, and redirects left to the client, which sends each hop through the
//! // whole stack.
//! let http = github_rest::HttpConfig::default().client()?;
//! let http = config.install(reqwest_middleware::ClientBuilder::new(http)).build();
//! let client = github_rest::Client::builder().user_agent("my-app").http_client(http).build()?;
//! match client.apps().get_authenticated().await {
//!     Err(e) if e.rate_limit().is_some() => {
//!         let limit = e.rate_limit().unwrap();
//!         println!("rate limited ({:?}) until {:?}", e.status(), limit.reset());
//!     }
//!     other => { other?; }
//! }
//! # Ok(()) }
//! ```

mod cache;
mod error;
mod gate;
mod ratelimit;
mod retry;
mod stack;
mod trace;

pub use crate::clock::{Clock, TokioClock};
pub use crate::store::StoreError;
pub use cache::{CacheConfig, CacheStore, CachedResponse, MemoryCacheStore, StoredHeaders};
pub use error::MiddlewareError;
pub use gate::{ConcurrencyConfig, SharedInFlight, SharedSlot};
pub use ratelimit::{
    MemoryRateLimitStore, PrimaryPolicy, RateLimitConfig, RateLimitEvent, RateLimitHook,
    RateLimitStore, ResourceState, SecondaryCause,
};
pub use retry::RetryConfig;
pub use stack::StackLayer;

use bytes::Bytes;
use reqwest::ResponseBuilderExt;
use sha2::Digest;
use std::sync::Arc;

/// Settings of every middleware layer; `None` (or `false` for tracing) turns a layer off.
///
/// The default turns every layer on with GitHub's documented limits: at most 10 requests in flight per credential
/// (adapting down to what GitHub allows), content-creating requests at least 1 s apart, 3 retries of idempotent
/// requests, a 60 s minimum wait after a secondary rate limit without `retry-after`, and an in-memory
/// conditional-request cache.
///
/// Every stack installed from one config (and its clones) shares the gate's state: the in-flight cap, back-off and
/// write pacing of each credential.
#[derive(Clone)]
pub struct MiddlewareConfig {
    /// Emit a `tracing` span per call.
    pub tracing: bool,
    /// Conditional-request cache.
    pub cache: Option<CacheConfig>,
    /// Primary and secondary rate limits.
    pub rate_limit: Option<RateLimitConfig>,
    /// Concurrency cap and write pacing.
    pub concurrency: Option<ConcurrencyConfig>,
    /// Retries of 5xx answers and transport errors.
    pub retry: Option<RetryConfig>,
    /// The time source and sleeper every layer waits with.
    pub clock: Arc<dyn Clock>,
    lanes: Arc<gate::Lanes>,
}

impl Default for MiddlewareConfig {
    fn default() -> Self {
        MiddlewareConfig {
            tracing: true,
            cache: Some(CacheConfig::default()),
            rate_limit: Some(RateLimitConfig::default()),
            concurrency: Some(ConcurrencyConfig::default()),
            retry: Some(RetryConfig::default()),
            clock: Arc::new(TokioClock::new()),
            lanes: Arc::default(),
        }
    }
}

impl std::fmt::Debug for MiddlewareConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiddlewareConfig")
            .field("tracing", &self.tracing)
            .field("cache", &self.cache)
            .field("rate_limit", &self.rate_limit)
            .field("concurrency", &self.concurrency)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl MiddlewareConfig {
    /// Every layer off; turn on the ones you want.
    pub fn none() -> Self {
        MiddlewareConfig {
            tracing: false,
            cache: None,
            rate_limit: None,
            concurrency: None,
            retry: None,
            clock: Arc::new(TokioClock::new()),
            lanes: Arc::default(),
        }
    }

    /// Turns the tracing span on or off.
    pub fn tracing(mut self, on: bool) -> Self {
        self.tracing = on;
        self
    }

    /// Sets (`Some`) or turns off (`None`) the conditional-request cache.
    pub fn cache(mut self, c: Option<CacheConfig>) -> Self {
        self.cache = c;
        self
    }

    /// Sets (`Some`) or turns off (`None`) rate-limit handling.
    pub fn rate_limit(mut self, c: Option<RateLimitConfig>) -> Self {
        self.rate_limit = c;
        self
    }

    /// Sets (`Some`) or turns off (`None`) the concurrency cap and write pacing.
    pub fn concurrency(mut self, c: Option<ConcurrencyConfig>) -> Self {
        self.concurrency = c;
        self
    }

    /// Sets (`Some`) or turns off (`None`) retries.
    pub fn retry(mut self, c: Option<RetryConfig>) -> Self {
        self.retry = c;
        self
    }

    /// The clock every layer reads the time from and sleeps with (tests inject their own).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Shortcut: what to do when the primary rate limit is exhausted (turns rate-limit handling on if it was off).
    pub fn primary_policy(mut self, p: PrimaryPolicy) -> Self {
        self.rate_limit
            .get_or_insert_with(RateLimitConfig::default)
            .primary = p;
        self
    }

    /// Adds the middleware to `b` as one layer, a [`StackLayer`] running the enabled steps in their order:
    /// tracing, cache, rate limits, retries, the send gate. Nothing is added when every step is off.
    ///
    /// Add the authentication layer before calling this, so the `Authorization` header is present when the cache
    /// and the rate-limit state derive the caller's identity from it.
    pub fn install(
        &self,
        b: reqwest_middleware::ClientBuilder,
    ) -> reqwest_middleware::ClientBuilder {
        let any = self.tracing
            || self.cache.is_some()
            || self.rate_limit.is_some()
            || self.concurrency.is_some()
            || self.retry.is_some();
        if any {
            b.with(StackLayer::new(self))
        } else {
            b
        }
    }
}

/// Names the credential of a request, set by the authentication layer once per request (once per client for a
/// fixed token) so the cache, the rate-limit state and the gate key on it without hashing the `Authorization` header
/// again. For an installation it names the installation, not the token: a token is replaced every hour, but GitHub
/// counts rate limits per installation, so the rate-limit state, back-off and in-flight cap stay with the
/// installation across refreshes (and are shared by every worker using it). Otherwise it is [`identity`] of the
/// header. A layer added without the authentication layer finds none and hashes the header itself.
#[derive(Debug, Clone)]
pub struct CredentialId(pub Arc<str>);

/// The installation token a request carries, put there by the authentication layer. A request may wait at the gate
/// (a back-off, a primary reset, a queue) longer than its token stays fresh, so the gate looks again when it sends:
/// a token past its refresh point is replaced by the current one (one exchange however many wait), and this records
/// what was actually sent, for the authentication layer's handling of a 401.
#[derive(Clone)]
pub(crate) struct SendTimeToken {
    pub(crate) tokens: crate::installation::InstallationTokens,
    pub(crate) token: crate::store::StoredToken,
}

/// A stable, non-reversible name for the credential of a request: the first 128 bits of the SHA-256 of its
/// `Authorization` header, hex-encoded, or `anonymous`. Stores key on this, never on the header itself.
pub fn identity(req: &reqwest::Request) -> String {
    match req.headers().get(http::header::AUTHORIZATION) {
        Some(v) => identity_of(v),
        None => "anonymous".to_string(),
    }
}

/// [`identity`] of an `Authorization` header value.
pub(crate) fn identity_of(v: &http::HeaderValue) -> String {
    hex::encode(&sha2::Sha256::digest(v.as_bytes())[..16])
}

/// The credential key of a request: the [`CredentialId`] the authentication layer put in its extensions (computed
/// once per request, or once per client for a fixed token), or else [`identity`] of its header.
pub(crate) fn credential_key(ext: &http::Extensions, req: &reqwest::Request) -> Arc<str> {
    match ext.get::<CredentialId>() {
        Some(c) => c.0.clone(),
        None => Arc::from(identity(req)),
    }
}

/// Reads a response's body and gives back an equivalent response (status, version, headers, URL) holding it, so a
/// layer can look at the body and still pass the response on. The headers move over; nothing is copied but the URL.
pub(crate) async fn buffer(
    mut resp: reqwest::Response,
) -> Result<(reqwest::Response, Bytes), reqwest::Error> {
    let status = resp.status();
    let version = resp.version();
    let headers = std::mem::take(resp.headers_mut());
    let url = resp.url().clone();
    let body = resp.bytes().await?;
    Ok((rebuild(status, version, headers, url, body.clone()), body))
}

/// Builds a response from parts.
pub(crate) fn rebuild(
    status: http::StatusCode,
    version: http::Version,
    headers: http::HeaderMap,
    url: url::Url,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut r = http::Response::builder()
        .status(status)
        .version(version)
        .url(url)
        .body(body.into())
        .expect("status, version and URL are already valid");
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
}

/// The operation id the generated client attached to a request, if any.
pub(crate) fn operation_id(ext: &http::Extensions) -> Option<&'static str> {
    ext.get::<github_rest::OperationInfo>().map(|o| o.id)
}
