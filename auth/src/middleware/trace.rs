//! One `tracing` span per call.

use super::operation_id;
use http::Extensions;
use tracing::field::Empty;
use tracing::Span;

/// The `INFO` span `github.request` of one call, with the fields `operation` (the spec's operation id), `method`,
/// `path`, `status`, `attempt` (requests sent), `ratelimit.remaining`, `ratelimit.reset` and, on failure, `error`.
pub(crate) fn span(req: &reqwest::Request, extensions: &Extensions) -> Span {
    tracing::info_span!(
        "github.request",
        operation = operation_id(extensions).unwrap_or(""),
        method = %req.method(),
        path = req.url().path(),
        status = Empty,
        attempt = Empty,
        ratelimit.remaining = Empty,
        ratelimit.reset = Empty,
        error = Empty,
    )
}

/// Records how the call ended.
pub(crate) fn finish(span: &Span, out: &reqwest_middleware::Result<reqwest::Response>, sends: u32) {
    span.record("attempt", sends.max(1));
    match out {
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
}
