//! Primary and secondary rate limits.
//!
//! GitHub's rules (docs "Rate limits for the REST API", "Best practices"): every response carries
//! `x-ratelimit-limit/remaining/used/reset/resource`; at `remaining: 0` further requests fail with 403 or 429 until
//! `reset` (Unix seconds). A secondary limit answers 403 or 429, maybe with `retry-after` (wait exactly that long),
//! maybe with `x-ratelimit-remaining: 0` (wait until the reset), otherwise wait at least a minute, longer each time.

use super::error::rate_limited;
use super::gate::{Lanes, SendInfo, SharedInFlight};
use super::{Clock, StoreError};
use crate::clock::unix_ms;
use futures::future::BoxFuture;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The longest wait any header can ask for; larger values (a garbled `retry-after` or reset) are cut to this.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// What GitHub last said about one rate-limit resource of one identity. Serialisable so a shared store can keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceState {
    /// `x-ratelimit-limit`.
    pub limit: Option<u64>,
    /// `x-ratelimit-remaining`.
    pub remaining: u64,
    /// `x-ratelimit-used`.
    pub used: Option<u64>,
    /// `x-ratelimit-reset`, Unix seconds.
    pub reset: u64,
}

impl ResourceState {
    /// Combines an observation with what a store holds: a later window wins; within one window the lower
    /// `remaining` wins, because responses of concurrent requests arrive out of order.
    pub fn merge(current: Option<&ResourceState>, new: ResourceState) -> ResourceState {
        match current {
            Some(c) if c.reset > new.reset => c.clone(),
            Some(c) if c.reset == new.reset && c.remaining < new.remaining => c.clone(),
            _ => new,
        }
    }
}

/// Where rate-limit state lives: per identity (a hash of the credential, see [`super::identity`]) and per
/// resource (`core`, `search`, ...), plus a per-identity secondary-limit back-off deadline.
///
/// Every argument and result is a string, an integer or a serialisable [`ResourceState`], so the state can be shared
/// between processes. The Redis store of the `redis` feature (`github_auth::fleet::RedisRateLimitStore`) implements
/// it like this:
///
/// - `resource`: `GET gh:rl:{identity}:{resource}` and decode the JSON of a [`ResourceState`].
/// - `observe`: a Lua script that reads the key, applies the rule of [`ResourceState::merge`] (later `reset` wins,
///   then lower `remaining`), writes the JSON back and sets `EXPIREAT` to `reset + 60`, so that concurrent workers
///   never raise `remaining` within a window.
/// - `backoff_until`: `GET gh:rl2:{identity}` (Unix milliseconds).
/// - `extend_backoff`: a Lua script that sets the key to `until` only when that is later than the stored value,
///   with `PXAT until`, so the key disappears when the back-off ends.
///
/// Errors are logged by the layer, which then behaves as if the store were empty.
#[async_trait::async_trait]
pub trait RateLimitStore: std::any::Any + Send + Sync + 'static {
    /// The last known state of `resource` for `identity`.
    async fn resource(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<Option<ResourceState>, StoreError>;
    /// Records what a response said, merging with [`ResourceState::merge`].
    async fn observe(
        &self,
        identity: &str,
        resource: &str,
        state: ResourceState,
    ) -> Result<(), StoreError>;
    /// What the send gate reads before each request: [`RateLimitStore::resource`] and
    /// [`RateLimitStore::backoff_until`] together. A shared store answers both in one round trip.
    async fn limits(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<(Option<ResourceState>, Option<u64>), StoreError> {
        Ok((
            self.resource(identity, resource).await?,
            self.backoff_until(identity).await?,
        ))
    }
    /// Unix milliseconds until which `identity` must not send (secondary rate limit), if any.
    async fn backoff_until(&self, identity: &str) -> Result<Option<u64>, StoreError>;
    /// Moves the back-off deadline of `identity` to `until_unix_ms` unless it is already later.
    async fn extend_backoff(&self, identity: &str, until_unix_ms: u64) -> Result<(), StoreError>;
}

/// The in-process [`RateLimitStore`]: shared by every client built from the same config.
#[derive(Debug, Default)]
pub struct MemoryRateLimitStore {
    /// Identity → resource → state; nested so a lookup or an update of a known pair allocates nothing.
    resources: Mutex<FastMap<String, FastMap<String, ResourceState>>>,
    backoff: Mutex<FastMap<String, u64>>,
}

/// The keys are our own (credential ids, GitHub's resource names), so a fast hash serves.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

impl MemoryRateLimitStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // The store's work, done at once: the layers call these directly (see [`in_process`]), the trait through them.

    fn resource_now(&self, identity: &str, resource: &str) -> Option<ResourceState> {
        self.resources
            .lock()
            .unwrap()
            .get(identity)
            .and_then(|r| r.get(resource))
            .cloned()
    }

    pub(crate) fn observe_now(&self, identity: &str, resource: &str, state: ResourceState) {
        let mut m = self.resources.lock().unwrap();
        let per = match m.get_mut(identity) {
            Some(per) => per,
            None => m.entry(identity.to_string()).or_default(),
        };
        match per.get_mut(resource) {
            Some(current) => *current = ResourceState::merge(Some(current), state),
            None => {
                per.insert(resource.to_string(), state);
            }
        }
    }

    fn backoff_now(&self, identity: &str) -> Option<u64> {
        self.backoff.lock().unwrap().get(identity).copied()
    }

    pub(crate) fn limits_now(
        &self,
        identity: &str,
        resource: &str,
    ) -> (Option<ResourceState>, Option<u64>) {
        (
            self.resource_now(identity, resource),
            self.backoff_now(identity),
        )
    }

    pub(crate) fn extend_backoff_now(&self, identity: &str, until_unix_ms: u64) {
        let mut m = self.backoff.lock().unwrap();
        let e = m.entry(identity.to_string()).or_insert(0);
        *e = (*e).max(until_unix_ms);
    }
}

/// `store` as the in-memory store, whose work completes at once: the layers then call it without making a future.
pub(crate) fn in_process(store: &dyn RateLimitStore) -> Option<&MemoryRateLimitStore> {
    (store as &dyn std::any::Any).downcast_ref()
}

#[async_trait::async_trait]
impl RateLimitStore for MemoryRateLimitStore {
    async fn resource(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<Option<ResourceState>, StoreError> {
        Ok(self.resource_now(identity, resource))
    }

    async fn observe(
        &self,
        identity: &str,
        resource: &str,
        state: ResourceState,
    ) -> Result<(), StoreError> {
        self.observe_now(identity, resource, state);
        Ok(())
    }

    async fn limits(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<(Option<ResourceState>, Option<u64>), StoreError> {
        Ok(self.limits_now(identity, resource))
    }

    async fn backoff_until(&self, identity: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.backoff_now(identity))
    }

    async fn extend_backoff(&self, identity: &str, until_unix_ms: u64) -> Result<(), StoreError> {
        self.extend_backoff_now(identity, until_unix_ms);
        Ok(())
    }
}

/// What to do when the primary rate limit is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrimaryPolicy {
    /// Wait until the reset plus one second, then send.
    #[default]
    Wait,
    /// Wait when the reset is at most this far away, fail fast otherwise.
    WaitAtMost(Duration),
    /// Fail at once with [`github_rest::RateLimitError::Primary`].
    FailFast,
}

impl PrimaryPolicy {
    /// Whether this policy waits `wait` for a reset.
    pub(crate) fn allows(self, wait: Duration) -> bool {
        match self {
            PrimaryPolicy::Wait => true,
            PrimaryPolicy::WaitAtMost(max) => wait <= max,
            PrimaryPolicy::FailFast => false,
        }
    }
}

/// How a secondary rate limit was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecondaryCause {
    /// A `retry-after` header.
    RetryAfter,
    /// `x-ratelimit-remaining: 0` with GitHub's secondary-limit message.
    RemainingZero,
    /// Only GitHub's message or documentation URL.
    Message,
}

/// A rate-limit event, for [`RateLimitConfig::hook`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RateLimitEvent {
    /// A response carried rate-limit headers.
    Observed {
        /// Hash of the credential.
        identity: String,
        /// `x-ratelimit-resource` (or the resource guessed from the path).
        resource: String,
        /// What the headers said.
        state: ResourceState,
        /// The generated operation, if the request came from one.
        operation: Option<&'static str>,
    },
    /// The primary limit is used up and the layer waits for the reset.
    PrimaryWait {
        /// The resource.
        resource: String,
        /// Unix seconds.
        reset: u64,
        /// How long the layer sleeps.
        wait: Duration,
    },
    /// The primary limit is used up and the layer fails fast.
    PrimaryFailFast {
        /// The resource.
        resource: String,
        /// Unix seconds.
        reset: u64,
    },
    /// A secondary rate limit was hit; the layer waits and sends again.
    SecondaryWait {
        /// Attempt that was limited (1-based).
        attempt: u32,
        /// How it was recognised.
        cause: SecondaryCause,
        /// How long the layer sleeps.
        wait: Duration,
    },
    /// A secondary rate limit was hit and the layer gives up.
    SecondaryGaveUp {
        /// Requests sent.
        attempts: u32,
    },
}

/// A function called with every [`RateLimitEvent`]; keep it quick (it runs on the request path).
pub type RateLimitHook = Arc<dyn Fn(&RateLimitEvent) + Send + Sync>;

/// Settings of the rate-limit handling of a [`super::StackLayer`].
#[derive(Clone)]
pub struct RateLimitConfig {
    /// Where state lives (default: a fresh [`MemoryRateLimitStore`]).
    pub store: Arc<dyn RateLimitStore>,
    /// What to do at `remaining: 0` (default [`PrimaryPolicy::Wait`]).
    pub primary: PrimaryPolicy,
    /// First wait after a secondary limit without `retry-after` (default 60 s, GitHub's documented minimum);
    /// doubles on each further hit.
    pub secondary_min_wait: Duration,
    /// Upper bound of the doubled wait (default 15 min).
    pub secondary_max_wait: Duration,
    /// Requests sent at most for one call while rate limited, the first included (default 4).
    pub max_attempts: u32,
    /// Called with every rate-limit event.
    pub hook: Option<RateLimitHook>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            store: Arc::new(MemoryRateLimitStore::new()),
            primary: PrimaryPolicy::Wait,
            secondary_min_wait: Duration::from_secs(60),
            secondary_max_wait: Duration::from_secs(15 * 60),
            max_attempts: 4,
            hook: None,
        }
    }
}

impl std::fmt::Debug for RateLimitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitConfig")
            .field("primary", &self.primary)
            .field("secondary_min_wait", &self.secondary_min_wait)
            .field("secondary_max_wait", &self.secondary_max_wait)
            .field("max_attempts", &self.max_attempts)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl RateLimitConfig {
    /// How long to wait for a primary reset at Unix second `reset`: until one second after it, and at least one
    /// second when it already passed (clock skew).
    pub(crate) fn primary_wait(&self, reset: u64, now: SystemTime) -> Duration {
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(reset.saturating_add(1)))
            .map_or(MAX_WAIT, |target| {
                target.duration_since(now).unwrap_or(Duration::from_secs(1))
            })
            .min(MAX_WAIT)
    }

    /// Sets the hook.
    pub fn hook(mut self, f: impl Fn(&RateLimitEvent) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(f));
        self
    }
}

/// The rate-limit handling of a [`super::StackLayer`]: recognises primary and secondary rate limits in responses,
/// records them (state, back-off deadline, the gate's adaptive cap) and says whether to send again; the waiting
/// itself happens in the send gate, at the moment each request is actually sent. See the module docs of [`super`].
pub(crate) struct RateLimits {
    config: RateLimitConfig,
    lanes: Arc<Lanes>,
    clock: Arc<dyn Clock>,
    shared: Option<Arc<dyn SharedInFlight>>,
}

/// The resource a request will most likely be counted against, so the gate can check it before sending.
pub(crate) fn predict_resource(op: Option<&str>, path: &str) -> &'static str {
    // Operation ids read like paths without the leading slash (`search/code`).
    let tail = match op {
        Some(o) => o,
        None => path.trim_start_matches("/api/v3").trim_start_matches('/'),
    };
    if tail.starts_with("search/code") {
        "code_search"
    } else if tail.starts_with("search/") {
        "search"
    } else if tail.starts_with("graphql") {
        "graphql"
    } else {
        "core"
    }
}

/// Classifies a 403/429: `Some(cause)` for a secondary limit, `None` when it is not one.
fn secondary_cause(rl: &github_rest::RateLimitHeaders, body: &[u8]) -> Option<SecondaryCause> {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let said = text.contains("secondary rate limit")
        || text.contains("secondary-rate-limits")
        || text.contains("abuse detection")
        || text.contains("abuse-rate-limits");
    if rl.retry_after.is_some() {
        Some(SecondaryCause::RetryAfter)
    } else if said && rl.remaining == Some(0) {
        Some(SecondaryCause::RemainingZero)
    } else if said {
        Some(SecondaryCause::Message)
    } else {
        None
    }
}

fn message_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("message")?
        .as_str()
        .map(str::to_string)
}

impl RateLimits {
    pub(crate) fn new(
        config: RateLimitConfig,
        lanes: Arc<Lanes>,
        clock: Arc<dyn Clock>,
        shared: Option<Arc<dyn SharedInFlight>>,
    ) -> Self {
        RateLimits {
            config,
            lanes,
            clock,
            shared,
        }
    }

    fn emit(&self, e: RateLimitEvent) {
        tracing::debug!(event = ?e, "rate limit");
        if let Some(h) = &self.config.hook {
            h(&e);
        }
    }

    /// Whether anyone hears an event: the hook, or a `tracing` subscriber at debug level. Events of every response
    /// are built only then.
    fn heard(&self) -> bool {
        self.config.hook.is_some() || tracing::enabled!(tracing::Level::DEBUG)
    }

    /// Records what a response's rate-limit headers say. A store in this process records it at once; any other
    /// is given the returned future to await (boxed, so a call's future does not carry its size).
    pub(crate) fn observe<'a>(
        &'a self,
        ident: &'a str,
        resource: &'a str,
        rl: &github_rest::RateLimitHeaders,
        op: Option<&'static str>,
    ) -> Option<BoxFuture<'a, ()>> {
        let (Some(remaining), Some(reset)) = (rl.remaining, rl.reset) else {
            return None;
        };
        let state = ResourceState {
            limit: rl.limit,
            remaining,
            used: rl.used,
            reset,
        };
        let event = self.heard().then(|| RateLimitEvent::Observed {
            identity: ident.to_string(),
            resource: resource.to_string(),
            state: state.clone(),
            operation: op,
        });
        if let Some(m) = in_process(&*self.config.store) {
            m.observe_now(ident, resource, state);
            if let Some(e) = event {
                self.emit(e);
            }
            return None;
        }
        Some(Box::pin(async move {
            if let Err(e) = self.config.store.observe(ident, resource, state).await {
                tracing::warn!(error = %e, "rate-limit store unavailable");
            }
            if let Some(e) = event {
                self.emit(e);
            }
        }))
    }

    /// How long a secondary limit asks us to wait; `backoffs` counts the waits without a hint so far.
    fn secondary_wait(
        &self,
        cause: SecondaryCause,
        rl: &github_rest::RateLimitHeaders,
        backoffs: &mut u32,
        now: SystemTime,
    ) -> Duration {
        match cause {
            SecondaryCause::RetryAfter => {
                Duration::from_secs(rl.retry_after.unwrap_or_default()).min(MAX_WAIT)
            }
            SecondaryCause::RemainingZero if rl.reset.is_some() => {
                self.config.primary_wait(rl.reset.unwrap_or_default(), now)
            }
            _ => {
                *backoffs += 1;
                let factor = 1u32 << (*backoffs - 1).min(16);
                self.config
                    .secondary_min_wait
                    .saturating_mul(factor)
                    .min(self.config.secondary_max_wait)
            }
        }
    }
}

/// What to do with a 403 or 429 answer.
pub(crate) enum Judged {
    /// Not a rate limit (a permission or other 403): the caller's answer.
    Pass,
    /// A rate limit: send again; the gate holds the re-send until the limit ends. Carries the resource the answer
    /// named, which the re-send is counted against.
    Resend(String),
    /// A rate limit this call gives up on.
    Fail(reqwest_middleware::Error),
}

/// What one call has met so far.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    /// Sends for this call that rate limits allowed, the current one included.
    pub(crate) attempt: u32,
    /// Waits after a secondary limit without a hint so far.
    backoffs: u32,
}

impl RateLimits {
    /// The sends a call may make while rate limited, the first included.
    pub(crate) fn max_attempts(&self) -> u32 {
        self.config.max_attempts
    }

    /// Judges a 403 or 429 answer (its headers, and its body read) to a request sent under `sent`; `can_resend`
    /// says whether the request can be sent again at all.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn judge(
        &self,
        ident: &Arc<str>,
        sent: Option<SendInfo>,
        status: StatusCode,
        headers: &http::HeaderMap,
        resource: &str,
        body: &[u8],
        can_resend: bool,
        tally: &mut Tally,
    ) -> Judged {
        let rl = &github_rest::RateLimitHeaders::from_headers(headers);
        let cause = secondary_cause(rl, body);
        let primary = cause.is_none() && rl.remaining == Some(0);
        if cause.is_none() && !primary {
            return Judged::Pass;
        }
        let now = self.clock.now();
        if primary {
            let reset = rl.reset.unwrap_or_default();
            let wait = self.config.primary_wait(reset, now);
            if !can_resend || !self.config.primary.allows(wait) {
                if can_resend {
                    self.emit(RateLimitEvent::PrimaryFailFast {
                        resource: resource.to_string(),
                        reset,
                    });
                }
                return Judged::Fail(rate_limited(github_rest::RateLimitError::Primary {
                    status: Some(status),
                    resource: resource.to_string(),
                    limit: rl.limit,
                    reset_unix: reset,
                }));
            }
            if rl.reset.is_none() {
                // No reset to wait for: hold this credential back like a secondary limit without a hint.
                let wait =
                    self.secondary_wait(SecondaryCause::Message, rl, &mut tally.backoffs, now);
                self.back_off(ident, sent, now + wait).await;
            }
            // The state recorded by `observe` makes the gate wait for the reset of this resource before the re-send.
            return Judged::Resend(resource.to_string());
        }
        let cause = cause.expect("a secondary limit");
        let wait = self.secondary_wait(cause, rl, &mut tally.backoffs, now);
        // Every request of this credential waits, not only this one: GitHub blocks the credential. The gate holds
        // them (a re-send of this one included) until the deadline, also when this call gives up.
        self.back_off(ident, sent, now + wait).await;
        if !can_resend {
            self.emit(RateLimitEvent::SecondaryGaveUp {
                attempts: tally.attempt,
            });
            return Judged::Fail(rate_limited(github_rest::RateLimitError::Secondary {
                status,
                attempts: tally.attempt,
                retry_after: rl.retry_after.map(Duration::from_secs),
                message: message_of(body),
            }));
        }
        self.emit(RateLimitEvent::SecondaryWait {
            attempt: tally.attempt,
            cause,
            wait,
        });
        Judged::Resend(resource.to_string())
    }

    /// Announces a back-off until `until` to the gate and to the (possibly shared) store.
    async fn back_off(&self, ident: &Arc<str>, sent: Option<SendInfo>, until: SystemTime) {
        self.lanes
            .secondary_hit(ident, sent, until, self.clock.now());
        if let (Some(shared), Some((level, epoch))) = (&self.shared, sent.and_then(|s| s.shared)) {
            shared.refused(ident, level, epoch).await;
        }
        if let Err(e) = self
            .config
            .store
            .extend_backoff(ident, unix_ms(until))
            .await
        {
            tracing::warn!(error = %e, "rate-limit store unavailable");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_lowest_remaining_of_latest_window() {
        let s = |remaining, reset| ResourceState {
            limit: Some(5000),
            remaining,
            used: None,
            reset,
        };
        assert_eq!(
            ResourceState::merge(Some(&s(10, 100)), s(20, 100)),
            s(10, 100)
        );
        assert_eq!(
            ResourceState::merge(Some(&s(10, 100)), s(5, 100)),
            s(5, 100)
        );
        assert_eq!(
            ResourceState::merge(Some(&s(0, 100)), s(4999, 200)),
            s(4999, 200)
        );
        assert_eq!(ResourceState::merge(Some(&s(3, 200)), s(0, 100)), s(3, 200));
        let json = serde_json::to_string(&s(1, 2)).unwrap();
        assert_eq!(
            serde_json::from_str::<ResourceState>(&json).unwrap(),
            s(1, 2)
        );
    }

    #[test]
    fn resources_predicted() {
        assert_eq!(predict_resource(Some("search/code"), "/x"), "code_search");
        assert_eq!(
            predict_resource(Some("search/issues-and-pull-requests"), "/x"),
            "search"
        );
        assert_eq!(
            predict_resource(None, "/api/v3/search/repositories"),
            "search"
        );
        assert_eq!(predict_resource(None, "/repos/a/b"), "core");
    }

    #[test]
    fn secondary_recognised() {
        let mut rl = github_rest::RateLimitHeaders::default();
        let msg = br#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;
        assert_eq!(secondary_cause(&rl, msg), Some(SecondaryCause::Message));
        assert_eq!(
            secondary_cause(
                &rl,
                br#"{"message":"Resource not accessible by integration"}"#
            ),
            None
        );
        rl.remaining = Some(0);
        assert_eq!(
            secondary_cause(&rl, msg),
            Some(SecondaryCause::RemainingZero)
        );
        assert_eq!(secondary_cause(&rl, b"API rate limit exceeded"), None);
        rl.retry_after = Some(3);
        assert_eq!(secondary_cause(&rl, b""), Some(SecondaryCause::RetryAfter));
    }
}
