//! Every layer of a [`MiddlewareConfig`] run by one reqwest-middleware layer.
//!
//! The steps keep the order the module docs give (tracing, cache, rate limits, retries, the gate), but one call
//! passes them in one future: one copy of the request is kept for a re-send whatever sends it, the body is read at
//! most once, and the answer is rebuilt at most once.

use super::cache::{Cache, Lookup};
use super::gate::{refresh_token, Gate, Lane, Slot};
use super::ratelimit::{predict_resource, Judged, RateLimits, Tally};
use super::retry::{give_up, idempotent, retriable_status, transient, RetryConfig};
use super::{credential_key, operation_id, rebuild, trace, Clock, MiddlewareConfig};
use bytes::Bytes;
use http::{Extensions, HeaderMap, StatusCode};
use reqwest_middleware::{Middleware, Next};
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The middleware of a [`MiddlewareConfig`] as one layer, added by [`MiddlewareConfig::install`]. See the module
/// docs of [`super`] for what each step does and in which order they run.
pub struct StackLayer {
    tracing: bool,
    cache: Option<Cache>,
    rate: Option<RateLimits>,
    retry: Option<RetryConfig>,
    gate: Option<Gate>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StackLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackLayer")
            .field("tracing", &self.tracing)
            .field("cache", &self.cache.is_some())
            .field("rate_limit", &self.rate.is_some())
            .field("retry", &self.retry)
            .field("gate", &self.gate.is_some())
            .finish()
    }
}

impl StackLayer {
    /// The layer for `config`; stacks made from one config (and its clones) share the gate's state.
    pub fn new(config: &MiddlewareConfig) -> Self {
        let shared = config.concurrency.as_ref().and_then(|c| c.shared.clone());
        StackLayer {
            tracing: config.tracing,
            cache: config.cache.clone().map(Cache::new),
            rate: config.rate_limit.clone().map(|c| {
                RateLimits::new(c, config.lanes.clone(), config.clock.clone(), shared)
            }),
            retry: config.retry.clone(),
            gate: (config.rate_limit.is_some() || config.concurrency.is_some()).then(|| Gate {
                rate: config.rate_limit.clone(),
                concurrency: config.concurrency.clone(),
                lanes: config.lanes.clone(),
                clock: config.clock.clone(),
            }),
            clock: config.clock.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Middleware for StackLayer {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if self.tracing {
            let span = trace::span(&req, extensions);
            // Without a subscriber that wants the span, its fields are not worth reading the headers for.
            if !span.is_disabled() {
                let mut sends = 0;
                let out = self
                    .call(req, extensions, next, &mut sends)
                    .instrument(span.clone())
                    .await;
                trace::finish(&span, &out, sends);
                return out;
            }
        }
        self.call(req, extensions, next, &mut 0).await
    }
}

/// An answer whose body has been read.
struct Read {
    status: StatusCode,
    version: http::Version,
    headers: HeaderMap,
    url: url::Url,
    body: Bytes,
}

/// An answer as it leaves the sending loop.
enum Answer {
    /// Body not read; the gate's slot travels with it.
    Unread(reqwest::Response, Option<Slot>),
    Read(Read),
}

impl StackLayer {
    async fn call(
        &self,
        mut req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
        sends: &mut u32,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let ident = credential_key(extensions, &req);
        let op = operation_id(extensions);
        let lookup = match &self.cache {
            Some(c) => c.lookup(&mut req, &ident).await,
            None => None,
        };
        let answer = self
            .send(req, extensions, next, &ident, op, lookup.as_ref(), sends)
            .await?;
        self.finish(answer, lookup).await
    }

    /// Sends the request until an answer is final: again after a rate limit (held by the gate until it ends), a
    /// 5xx or a transport error, within the configured counts.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
        ident: &Arc<str>,
        op: Option<&'static str>,
        lookup: Option<&Lookup>,
        sends: &mut u32,
    ) -> reqwest_middleware::Result<Answer> {
        let predicted = predict_resource(op, req.url().path());
        let may_retry = self
            .retry
            .as_ref()
            .is_some_and(|r| r.retry_non_idempotent || idempotent(req.method()));
        let buffer = may_retry && self.retry.as_ref().is_some_and(|r| r.buffer_body);
        let lane: Option<Arc<Lane>> = self.gate.as_ref().map(|g| g.lane(ident));
        // The resource a rate-limited answer named, for the gate to hold the re-send on.
        let mut named: Option<String> = None;
        let mut tally = Tally::default();
        // Sends since the last rate-limited one (retries of 5xx answers and transport errors), 1-based.
        let mut try_no = 0u32;
        let mut pending = Some(req);
        loop {
            let mut req = pending
                .take()
                .expect("a request is pending at the top of the loop");
            if try_no == 0 {
                tally.attempt += 1;
            }
            try_no += 1;
            let can_resend = self
                .rate
                .as_ref()
                .is_some_and(|r| tally.attempt < r.max_attempts());
            let can_retry = may_retry
                && self
                    .retry
                    .as_ref()
                    .is_some_and(|r| try_no <= r.max_retries);
            // One copy serves whichever re-sends it; a request without one (a streamed body) is sent once.
            let spare = if can_resend || can_retry {
                req.try_clone()
            } else {
                None
            };
            let can_retry = can_retry && spare.is_some();
            let can_resend = can_resend && spare.is_some();

            let slot = match (&self.gate, &lane) {
                (Some(g), Some(lane)) => {
                    let slot = match g.try_enter(lane, ident, &req, op, named.as_deref()) {
                        Some(s) => s,
                        // Boxed: waiting is the exception, and its future is large.
                        None => Box::pin(g.enter(lane, ident, &req, op, named.as_deref()))
                            .await
                            .map_err(super::error::rate_limited)?,
                    };
                    refresh_token(&mut req, extensions).await?;
                    Some(slot)
                }
                _ => None,
            };
            *sends += 1;
            let mut resp = match next.clone().run(req, extensions).await {
                Ok(r) => r,
                Err(reqwest_middleware::Error::Reqwest(e)) if can_retry && transient(&e) => {
                    drop(slot);
                    tracing::debug!(error = %e, attempt = try_no, "transport error; retrying");
                    self.clock.sleep(self.retry_delay(try_no)).await;
                    pending = spare;
                    continue;
                }
                Err(e @ reqwest_middleware::Error::Reqwest(_)) => {
                    return Err(give_up(try_no, e));
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            // What the headers say is read once, and not kept while the body is read.
            let (resource, retry_after) = {
                let mut rl = github_rest::RateLimitHeaders::from_headers(resp.headers());
                if let (Some(g), Some(lane), Some(slot)) = (&self.gate, &lane, &slot) {
                    if let Some(more) = g.answered(lane, ident, slot, status, rl.retry_after) {
                        more.await;
                    }
                }
                let resource = rl.resource.take();
                if let Some(r) = &self.rate {
                    let named = resource.as_deref().unwrap_or(predicted);
                    if let Some(more) = r.observe(ident, named, &rl, op) {
                        more.await;
                    }
                }
                (resource, rl.retry_after)
            };
            let resource = resource.as_deref().unwrap_or(predicted);

            if retriable_status(status) && can_retry {
                let retry = self.retry.as_ref().expect("retries are on");
                let hint = retry_after.map(Duration::from_secs);
                // A server asking for a longer pause than we are willing to wait gets its answer passed on.
                if hint.is_none_or(|h| h <= retry.max_delay) {
                    tracing::debug!(status = status.as_u16(), attempt = try_no, "server error; retrying");
                    // Let go of the answer, and the gate slot it holds, before waiting.
                    drop(resp);
                    drop(slot);
                    self.clock.sleep(hint.unwrap_or_else(|| retry.delay(try_no)))
                        .await;
                    pending = spare;
                    continue;
                }
            }

            let limited = self.rate.is_some()
                && matches!(
                    status,
                    StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
                );
            let stored = lookup.is_some_and(|l| l.stores(status, resp.headers()));
            if !(limited || stored || buffer) {
                return Ok(Answer::Unread(resp, slot));
            }
            let read = Read {
                status,
                version: resp.version(),
                headers: std::mem::take(resp.headers_mut()),
                url: resp.url().clone(),
                body: Bytes::new(),
            };
            // Boxed: the read's future is large, and a call's future is allocated at its largest.
            let body = match Box::pin(resp.bytes()).await {
                Ok(b) => b,
                Err(e) if can_retry && transient(&e) => {
                    drop(slot);
                    tracing::debug!(error = %e, attempt = try_no, "body read failed; retrying");
                    self.clock.sleep(self.retry_delay(try_no)).await;
                    pending = spare;
                    continue;
                }
                Err(e) => return Err(give_up(try_no, e.into())),
            };
            // The body is read: the request no longer counts as in flight.
            let sent = slot.as_ref().map(Slot::info);
            drop(slot);
            let read = Read { body, ..read };
            if limited {
                let rate = self.rate.as_ref().expect("rate limits are on");
                let rl = github_rest::RateLimitHeaders::from_headers(&read.headers);
                // Boxed: a rate limit is the exception, and its future is large.
                let verdict = Box::pin(rate.judge(
                        ident,
                        sent,
                        status,
                        &rl,
                        resource,
                        &read.body,
                        can_resend,
                        &mut tally,
                    ))
                    .await;
                match verdict {
                    Judged::Pass => {}
                    Judged::Resend(resource) => {
                        named = Some(resource);
                        try_no = 0;
                        pending = spare;
                        continue;
                    }
                    Judged::Fail(e) => return Err(e),
                }
            }
            return Ok(Answer::Read(read));
        }
    }

    fn retry_delay(&self, try_no: u32) -> Duration {
        self.retry
            .as_ref()
            .map_or(Duration::ZERO, |r| r.delay(try_no))
    }

    /// The answer the caller gets: a 304 answered from the cache, a 200 stored in it, and the gate's slot riding
    /// with a body not read here.
    async fn finish(
        &self,
        answer: Answer,
        lookup: Option<Lookup>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let (Some(cache), Some(lookup)) = (&self.cache, lookup) else {
            return Ok(match answer {
                Answer::Unread(resp, slot) => ride(resp, slot),
                Answer::Read(r) => rebuild(r.status, r.version, r.headers, r.url, r.body),
            });
        };
        match answer {
            Answer::Read(r) => {
                if let Some(c) = lookup.answers(r.status) {
                    let headers = Lookup::merge(c, r.headers);
                    return Ok(rebuild(
                        StatusCode::OK,
                        r.version,
                        headers,
                        r.url,
                        c.body.clone(),
                    ));
                }
                if lookup.stores(r.status, &r.headers) {
                    if let Some(more) = lookup.store(cache, &r.headers, r.body.clone()) {
                        more.await;
                    }
                }
                Ok(rebuild(r.status, r.version, r.headers, r.url, r.body))
            }
            Answer::Unread(mut resp, slot) => match lookup.answers(resp.status()) {
                Some(c) => {
                    let headers = Lookup::merge(c, std::mem::take(resp.headers_mut()));
                    let (version, url) = (resp.version(), resp.url().clone());
                    drop(resp);
                    drop(slot);
                    Ok(rebuild(StatusCode::OK, version, headers, url, c.body.clone()))
                }
                None => Ok(ride(resp, slot)),
            },
        }
    }
}

fn ride(resp: reqwest::Response, slot: Option<Slot>) -> reqwest::Response {
    match slot {
        Some(s) => s.ride(resp),
        None => resp,
    }
}
