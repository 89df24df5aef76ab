//! Every layer of a [`MiddlewareConfig`] run by one reqwest-middleware layer.
//!
//! The steps keep the order the module docs give (tracing, cache, rate limits, retries, the gate), but one call
//! passes them in one future: one copy of the request is kept for a re-send whatever sends it, the body is read at
//! most once, and the answer is rebuilt at most once.

use super::cache::{Cache, EntryHead, Lookup};
use super::gate::{refresh_token, stale_token, Gate, Lane, Slot};
use super::ratelimit::{predict_resource, Judged, RateLimits, Tally};
use super::retry::{give_up, idempotent, retriable_status, transient, RetryConfig};
use super::{credential_key, operation_id, rebuild, trace, Clock, MiddlewareConfig};
use bytes::Bytes;
use futures::future::BoxFuture;
use github_rest::runtime::RateLimitScan;
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
            rate: config
                .rate_limit
                .clone()
                .map(|c| RateLimits::new(c, config.lanes.clone(), config.clock.clone(), shared)),
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

/// The request of a call and the copy kept for sending it again. They live in the call's outermost future, which
/// takes them by value and lends them out: a request moved into an inner future would take room in both.
struct Requests {
    pending: Option<reqwest::Request>,
    spare: Option<reqwest::Request>,
}

// Written out rather than with `async_trait`, whose future would hold the request twice (as its argument and as
// the local the body moves it to). Every call's future is allocated whole, and one that stays within the
// allocator's quick free lists (about 1 kB) costs a small fraction of a larger one.
impl Middleware for StackLayer {
    fn handle<'s, 'e, 'n, 'f>(
        &'s self,
        req: reqwest::Request,
        extensions: &'e mut Extensions,
        next: Next<'n>,
    ) -> BoxFuture<'f, reqwest_middleware::Result<reqwest::Response>>
    where
        's: 'f,
        'e: 'f,
        'n: 'f,
        Self: 'f,
    {
        // Without a subscriber that wants the span, its fields are not worth reading the headers for.
        let span = self
            .tracing
            .then(|| trace::span(&req, extensions))
            .filter(|s| !s.is_disabled());
        let mut requests = Requests {
            pending: Some(req),
            spare: None,
        };
        match span {
            None => {
                Box::pin(async move { self.call(&mut requests, extensions, next, &mut 0).await })
            }
            Some(span) => Box::pin(async move {
                let mut sends = 0;
                let out = self
                    .call(&mut requests, extensions, next, &mut sends)
                    .instrument(span.clone())
                    .await;
                trace::finish(&span, &out, sends);
                out
            }),
        }
    }
}

/// An answer whose body has been read.
struct Read {
    /// The cache entry's part taken from the headers, when the cache stores the answer ([`Lookup::scan`]).
    head: Option<Box<EntryHead>>,
    status: StatusCode,
    version: http::Version,
    headers: HeaderMap,
    url: url::Url,
    body: Bytes,
}

/// An answer as it leaves the sending loop.
// `Read` is boxed to keep the sending loop's future small; boxing `Unread` too would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Answer {
    /// Body not read; the gate's slot travels with it.
    Unread(reqwest::Response, Option<Slot>),
    /// Boxed, which keeps the sending loop's future small.
    Read(Box<Read>),
}

impl StackLayer {
    async fn call(
        &self,
        requests: &mut Requests,
        extensions: &mut Extensions,
        next: Next<'_>,
        sends: &mut u32,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let req = requests.pending.as_mut().expect("a request to send");
        let ident = credential_key(extensions, req);
        let lookup = match &self.cache {
            Some(c) => c.lookup(req, &ident).await,
            None => None,
        };
        // Boxed on its own: a call's futures are allocated whole, and two of moderate size cost the allocator far
        // less than one large one.
        let answer =
            Box::pin(self.send(requests, extensions, next, &ident, lookup.as_ref(), sends)).await?;
        let (resp, more) = self.finish(answer, lookup);
        if let Some(more) = more {
            more.await;
        }
        Ok(resp)
    }

    /// Sends the request until an answer is final: again after a rate limit (held by the gate until it ends), a
    /// 5xx or a transport error, within the configured counts. The request is taken from `requests.pending` when
    /// it is sent, and its copy `requests.spare` put back there for each re-send.
    #[allow(clippy::too_many_arguments)]
    async fn send(
        &self,
        requests: &mut Requests,
        extensions: &mut Extensions,
        next: Next<'_>,
        ident: &Arc<str>,
        lookup: Option<&Lookup>,
        sends: &mut u32,
    ) -> reqwest_middleware::Result<Answer> {
        let Requests { pending, spare } = requests;
        let op = operation_id(extensions);
        let req = pending.as_ref().expect("a request to send");
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
        loop {
            let req = pending
                .as_ref()
                .expect("a request is pending at the top of the loop");
            if try_no == 0 {
                tally.attempt += 1;
            }
            try_no += 1;
            let can_resend = self
                .rate
                .as_ref()
                .is_some_and(|r| tally.attempt < r.max_attempts());
            let can_retry =
                may_retry && self.retry.as_ref().is_some_and(|r| try_no <= r.max_retries);
            // One copy serves whichever re-sends it; a request without one (a streamed body) is sent once.
            *spare = if can_resend || can_retry {
                copy_request(req)
            } else {
                None
            };
            let can_retry = can_retry && spare.is_some();
            let can_resend = can_resend && spare.is_some();

            let slot = match (&self.gate, &lane) {
                (Some(g), Some(lane)) => {
                    let slot = match g.try_enter(lane, ident, req, op, named.as_deref()) {
                        Some(s) => s,
                        // Boxed: waiting is the exception, and its future is large.
                        None => Box::pin(g.enter(lane, ident, req, op, named.as_deref()))
                            .await
                            .map_err(super::error::rate_limited)?,
                    };
                    if stale_token(extensions) {
                        let req = pending.as_mut().expect("the request");
                        Box::pin(refresh_token(req, extensions)).await?;
                    }
                    Some(slot)
                }
                _ => None,
            };
            *sends += 1;
            let req = pending.take().expect("the request");
            let resp = match next.clone().run(req, extensions).await {
                Ok(r) => r,
                Err(reqwest_middleware::Error::Reqwest(e)) if can_retry && transient(&e) => {
                    drop(slot);
                    tracing::debug!(error = %e, attempt = try_no, "transport error; retrying");
                    self.clock.sleep(self.retry_delay(try_no)).await;
                    *pending = spare.take();
                    continue;
                }
                Err(e @ reqwest_middleware::Error::Reqwest(_)) => {
                    return Err(give_up(try_no, e));
                }
                Err(e) => return Err(e),
            };
            let status = resp.status();
            // A 200 the cache may store: whether it does, and the entry's headers, read in the same walk as the
            // rate limits.
            let mut head = None;
            // What the headers say is read once, and not kept while the body is read.
            let (resource, retry_after) = {
                // Without the gate and the rate limits, only a retry reads them: `retry-after` of a server error.
                let limits = self.gate.is_some()
                    || self.rate.is_some()
                    || (can_retry && retriable_status(status));
                let mut rl = match lookup.filter(|_| status == StatusCode::OK) {
                    Some(l) => {
                        let mut scan = RateLimitScan::default();
                        head = l.scan(resp.headers(), |n, v| {
                            if limits {
                                scan.header(n, v)
                            }
                        });
                        scan.finish()
                    }
                    None if limits => github_rest::RateLimitHeaders::from_headers(resp.headers()),
                    None => github_rest::RateLimitHeaders::default(),
                };
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
                    tracing::debug!(
                        status = status.as_u16(),
                        attempt = try_no,
                        "server error; retrying"
                    );
                    // Let go of the answer, and the gate slot it holds, before waiting.
                    drop(resp);
                    drop(slot);
                    self.clock
                        .sleep(hint.unwrap_or_else(|| retry.delay(try_no)))
                        .await;
                    *pending = spare.take();
                    continue;
                }
            }

            let limited = self.rate.is_some()
                && matches!(
                    status,
                    StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
                );
            if !(limited || head.is_some() || buffer) {
                return Ok(Answer::Unread(resp, slot));
            }
            // Boxed: the read's future is large, and a call's future is allocated at its largest.
            let read = match Box::pin(read_body(resp, head)).await {
                Ok(r) => r,
                Err(e) if can_retry && transient(&e) => {
                    drop(slot);
                    tracing::debug!(error = %e, attempt = try_no, "body read failed; retrying");
                    self.clock.sleep(self.retry_delay(try_no)).await;
                    *pending = spare.take();
                    continue;
                }
                Err(e) => return Err(give_up(try_no, e.into())),
            };
            // The body is read: the request no longer counts as in flight.
            let sent = slot.as_ref().map(Slot::info);
            drop(slot);
            if limited {
                let rate = self.rate.as_ref().expect("rate limits are on");
                // Boxed: a rate limit is the exception, and its future is large.
                let verdict = Box::pin(rate.judge(
                    ident,
                    sent,
                    status,
                    &read.headers,
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
                        *pending = spare.take();
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
    /// with a body not read here. What a store outside this process must still do is returned as a future.
    fn finish(
        &self,
        answer: Answer,
        lookup: Option<Lookup>,
    ) -> (reqwest::Response, Option<BoxFuture<'static, ()>>) {
        let (Some(cache), Some(lookup)) = (&self.cache, lookup) else {
            let resp = match answer {
                Answer::Unread(resp, slot) => ride(resp, slot),
                Answer::Read(r) => {
                    let r = *r;
                    rebuild(r.status, r.version, r.headers, r.url, r.body)
                }
            };
            return (resp, None);
        };
        match answer {
            Answer::Read(mut r) => {
                if let Some(c) = lookup.answers(r.status) {
                    let headers = Lookup::merge(c, r.headers);
                    let body = c.body.clone();
                    return (
                        rebuild(StatusCode::OK, r.version, headers, r.url, body),
                        None,
                    );
                }
                let more = match r.head.take() {
                    Some(head) => lookup.store(cache, *head, r.body.clone()),
                    None => None,
                };
                (rebuild(r.status, r.version, r.headers, r.url, r.body), more)
            }
            Answer::Unread(mut resp, slot) => match lookup.answers(resp.status()) {
                Some(c) => {
                    let headers = Lookup::merge(c, std::mem::take(resp.headers_mut()));
                    let (version, url) = (resp.version(), resp.url().clone());
                    drop(resp);
                    drop(slot);
                    let body = c.body.clone();
                    (rebuild(StatusCode::OK, version, headers, url, body), None)
                }
                None => (ride(resp, slot), None),
            },
        }
    }
}

/// Reads an answer's body, keeping the rest of it.
async fn read_body(
    mut resp: reqwest::Response,
    head: Option<Box<EntryHead>>,
) -> Result<Box<Read>, reqwest::Error> {
    let (status, version) = (resp.status(), resp.version());
    let headers = std::mem::take(resp.headers_mut());
    let url = resp.url().clone();
    let body = resp.bytes().await?;
    Ok(Box::new(Read {
        head,
        status,
        version,
        headers,
        url,
        body,
    }))
}

fn ride(resp: reqwest::Response, slot: Option<Slot>) -> reqwest::Response {
    match slot {
        Some(s) => s.ride(resp),
        None => resp,
    }
}

/// A copy of `req` to send again, `None` for a body that cannot be sent twice (a stream). `Request::try_clone`
/// allocates a map for the time-out on every copy, and drops it again; a request without a body is copied here
/// as its method, URL, headers, version and time-out, which is all reqwest 0.12 keeps on one (a request converted
/// from an `http::Request` may carry more, but always has a body, and takes `try_clone`).
fn copy_request(req: &reqwest::Request) -> Option<reqwest::Request> {
    if req.body().is_some() {
        return req.try_clone();
    }
    let mut copy = reqwest::Request::new(req.method().clone(), req.url().clone());
    *copy.headers_mut() = req.headers().clone();
    *copy.version_mut() = req.version();
    if let Some(t) = req.timeout() {
        *copy.timeout_mut() = Some(*t);
    }
    Some(copy)
}
