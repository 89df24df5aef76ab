//! One `tracing` span per call.

use super::operation_id;
use super::retry::Attempts;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};
use tracing::field::Empty;
use tracing::Instrument;

/// Wraps each call in an `INFO` span `github.request` with the fields `operation` (the spec's operation id),
/// `method`, `path`, `status`, `attempt` (requests sent, counted by [`super::RetryLayer`]),
/// `ratelimit.remaining`, `ratelimit.reset` and, on failure, `error`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TraceLayer;

impl TraceLayer {
    /// The layer.
    pub fn new() -> Self {
        TraceLayer
    }
}

#[async_trait::async_trait]
impl Middleware for TraceLayer {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let span = tracing::info_span!(
            "github.request",
            operation = operation_id(extensions).unwrap_or(""),
            method = %req.method(),
            path = req.url().path(),
            status = Empty,
            attempt = Empty,
            ratelimit.remaining = Empty,
            ratelimit.reset = Empty,
            error = Empty,
        );
        let out = next.run(req, extensions).instrument(span.clone()).await;
        if span.is_disabled() {
            // No subscriber wants the span: skip reading the headers for its fields.
            return out;
        }
        span.record(
            "attempt",
            extensions.get::<Attempts>().map_or(1, |a| a.0.max(1)),
        );
        match &out {
            Ok(resp) => {
                span.record("status", resp.status().as_u16());
                let rl = github_rest::RateLimitHeaders::from_headers(resp.headers());
                if let Some(r) = rl.remaining {
                    span.record("ratelimit.remaining", r);
                }
                if let Some(r) = rl.reset {
                    span.record("ratelimit.reset", r);
                }
            }
            Err(e) => {
                span.record("error", tracing::field::display(e));
            }
        }
        out
    }
}
