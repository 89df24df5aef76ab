//! The send gate: the last step of the [`super::StackLayer`], where every request (first send or re-send) waits for what limits it at the
//! moment it is actually sent: the primary limit of its resource, a slot under the in-flight cap, the secondary
//! limit's back-off, and the pacing of content-creating requests.
//!
//! The in-flight cap adapts per credential. It starts small and grows by one per answered request up to its ceiling
//! (a slow start, so a fresh client or one coming out of a back-off does not send its whole queue at once). When a
//! secondary limit refuses a request that was sent as the `k`-th in flight, GitHub allowed at most `k - 1` at that
//! moment, so the ceiling drops to `k - 1` (never below 1). The ceiling is raised back by one every
//! [`ConcurrencyConfig::raise_every`] without a refusal, up to [`ConcurrencyConfig::max_in_flight`].

use super::ratelimit::{
    in_process, predict_resource, RateLimitConfig, RateLimitEvent, ResourceState,
};
use super::{rebuild, Clock};
use crate::clock::unix_ms;
use futures::future::BoxFuture;
use futures::StreamExt;
use http::{Extensions, Method, StatusCode};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Settings of the in-flight cap and of write pacing.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConcurrencyConfig {
    /// Requests in flight at most per credential (default 10); `None` for no cap. A request counts until its body
    /// is read or dropped.
    pub max_in_flight: Option<usize>,
    /// Minimum gap between the sends of two content-creating requests (POST, PATCH, PUT, DELETE) of one credential
    /// (default 1 s, GitHub's guidance); `None` for no pacing. Installation-token exchanges are not paced.
    pub write_interval: Option<Duration>,
    /// Adapt the cap to secondary limits (default on): slow start, a lower ceiling after a refusal, raised back
    /// slowly. Off: the cap is always `max_in_flight`.
    pub adaptive: bool,
    /// How long the adaptive ceiling stays where a refusal put it before it is raised by one (default 10 s).
    pub raise_every: Duration,
    /// An in-flight cap shared with other processes (e.g. `github_auth::fleet::RedisFleet::in_flight`), held on
    /// top of this process's own; `None` (the default) for a cap per process.
    pub shared: Option<Arc<dyn SharedInFlight>>,
}

impl std::fmt::Debug for ConcurrencyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyConfig")
            .field("max_in_flight", &self.max_in_flight)
            .field("write_interval", &self.write_interval)
            .field("adaptive", &self.adaptive)
            .field("raise_every", &self.raise_every)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// A slot under a cap shared by several processes, released when dropped.
pub struct SharedSlot {
    /// How many requests of this credential were in flight, across every process, with this one.
    pub level: usize,
    /// The shared cap's epoch when the slot was given (bumped each time the cap restarts after a refusal).
    pub epoch: u64,
    release: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl SharedSlot {
    /// A slot that runs `release` when it is dropped.
    pub fn new(level: usize, epoch: u64, release: impl FnOnce() + Send + Sync + 'static) -> Self {
        SharedSlot {
            level,
            epoch,
            release: Some(Box::new(release)),
        }
    }
}

impl std::fmt::Debug for SharedSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedSlot")
            .field("level", &self.level)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            r();
        }
    }
}

/// The adaptive in-flight cap of each credential, kept where several processes see it: the same slow start,
/// ceiling and epochs as the per-process cap (see the module docs), but counted over every process.
///
/// Implementations handle their own failures: when the shared state cannot be reached, `acquire` returns `None`
/// and the request goes out under this process's own cap only.
#[async_trait::async_trait]
pub trait SharedInFlight: Send + Sync + 'static {
    /// Waits for a slot of `identity` under the shared cap (at most `max`, raised by one after `raise_every`
    /// without a refusal); `None` when the shared state is unavailable.
    async fn acquire(
        &self,
        identity: &str,
        max: usize,
        raise_every: Duration,
    ) -> Option<SharedSlot>;
    /// A request sent under `epoch` was answered without a rate limit: the shared slow start grows.
    async fn answered(&self, identity: &str, epoch: u64);
    /// A request sent as the `level`-th in flight under `epoch` was refused with a secondary limit.
    async fn refused(&self, identity: &str, level: usize, epoch: u64);
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_in_flight: Some(10),
            write_interval: Some(Duration::from_secs(1)),
            adaptive: true,
            raise_every: Duration::from_secs(10),
            shared: None,
        }
    }
}

impl ConcurrencyConfig {
    /// Sets the cap (`None`: no cap).
    pub fn max_in_flight(mut self, n: Option<usize>) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets the gap between writes (`None`: no pacing).
    pub fn write_interval(mut self, d: Option<Duration>) -> Self {
        self.write_interval = d;
        self
    }

    /// Turns the adaptive cap on or off.
    pub fn adaptive(mut self, on: bool) -> Self {
        self.adaptive = on;
        self
    }

    /// Sets how long the ceiling stays down after a refusal.
    pub fn raise_every(mut self, d: Duration) -> Self {
        self.raise_every = d;
        self
    }

    /// Shares the cap with other processes (`None`: a cap per process).
    pub fn shared(mut self, shared: Option<Arc<dyn SharedInFlight>>) -> Self {
        self.shared = shared;
        self
    }
}

/// The primary limit holding a resource back (reset, limit), and the back-off deadline, if any.
type Limits = (Option<(u64, Option<u64>)>, Option<SystemTime>);

/// Where a request stood when the gate sent it: the `level`-th in flight, under cap `epoch`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SendInfo {
    pub(crate) level: usize,
    pub(crate) epoch: u64,
    /// Level and epoch under the shared cap, when one gave the slot.
    pub(crate) shared: Option<(usize, u64)>,
}

/// The gate's state, shared by every stack installed from one [`super::MiddlewareConfig`].
pub(crate) struct Lanes {
    lanes: Mutex<lru::LruCache<Arc<str>, Arc<Lane>>>,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            lanes: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(4096).expect("non-zero"),
            )),
        }
    }
}

impl Lanes {
    fn lane(
        &self,
        ident: &Arc<str>,
        config: Option<&ConcurrencyConfig>,
        now: SystemTime,
    ) -> Arc<Lane> {
        let mut m = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = m.get(ident) {
            return l.clone();
        }
        let l = Arc::new(Lane::new(config, now));
        m.put(ident.clone(), l.clone());
        l
    }

    /// Records a secondary-limit refusal recognised by the rate-limit handling (which read the body for it).
    pub(crate) fn secondary_hit(
        &self,
        ident: &Arc<str>,
        info: Option<SendInfo>,
        until: SystemTime,
        now: SystemTime,
    ) {
        let l = self
            .lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ident)
            .cloned();
        if let Some(l) = l {
            l.secondary_hit(info, until, now);
        }
    }
}

/// One credential's cap, back-off and write pacing.
pub(crate) struct Lane {
    /// `None` when there is no cap.
    sem: Option<Arc<Semaphore>>,
    st: Mutex<LaneState>,
    /// Writes take turns, so the pacing holds at the moment each is sent.
    write_turn: tokio::sync::Mutex<()>,
}

struct LaneState {
    max: usize,
    adaptive: bool,
    raise_every: Duration,
    /// Highest cap the lane believes GitHub allows.
    ceiling: usize,
    /// Slow start: the cap grows by one per answered request up to the ceiling.
    ramp: usize,
    /// Permits in circulation (available plus held) minus `debt`.
    cap: usize,
    /// Permits to retire as they come back, after the cap was lowered below what is held.
    debt: usize,
    in_flight: usize,
    /// Bumped each time the cap is lowered.
    epoch: u64,
    /// When the ceiling last moved.
    ceiling_since: SystemTime,
    backoff_until: Option<SystemTime>,
    next_write: Option<SystemTime>,
}

impl Lane {
    fn new(config: Option<&ConcurrencyConfig>, now: SystemTime) -> Self {
        let max = config.and_then(|c| c.max_in_flight).map(|n| n.max(1));
        let adaptive = config.is_some_and(|c| c.adaptive);
        let start = match max {
            Some(m) if adaptive => 1.min(m),
            Some(m) => m,
            None => 0,
        };
        Lane {
            sem: max.map(|_| Arc::new(Semaphore::new(start))),
            st: Mutex::new(LaneState {
                max: max.unwrap_or(0),
                adaptive,
                raise_every: config.map_or(Duration::from_secs(10), |c| c.raise_every),
                ceiling: max.unwrap_or(0),
                ramp: start,
                cap: start,
                debt: 0,
                in_flight: 0,
                epoch: 0,
                ceiling_since: now,
                backoff_until: None,
                next_write: None,
            }),
            write_turn: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LaneState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the number of permits in circulation to `min(ramp, ceiling)`.
    fn resize(&self, st: &mut LaneState) {
        let Some(sem) = &self.sem else { return };
        let want = st.ramp.min(st.ceiling).max(1);
        if want > st.cap {
            let mut add = want - st.cap;
            let absorbed = add.min(st.debt);
            st.debt -= absorbed;
            add -= absorbed;
            sem.add_permits(add);
        } else if want < st.cap {
            let remove = st.cap - want;
            let forgotten = sem.forget_permits(remove);
            st.debt += remove - forgotten;
        }
        st.cap = want;
    }

    /// Raises the ceiling back by one after a quiet spell.
    fn raise_after_quiet(&self, st: &mut LaneState, now: SystemTime) {
        // The quiet spell counts from the end of the last back-off, not from the refusal.
        let quiet_since = st
            .ceiling_since
            .max(st.backoff_until.unwrap_or(st.ceiling_since));
        if st.adaptive
            && st.ceiling < st.max
            && now.duration_since(quiet_since).unwrap_or_default() >= st.raise_every
        {
            st.ceiling += 1;
            st.ceiling_since = now;
            self.resize(st);
        }
    }

    fn slot(self: &Arc<Self>, st: &mut LaneState, permit: Option<OwnedSemaphorePermit>) -> Slot {
        st.in_flight += 1;
        Slot {
            permit,
            lane: self.clone(),
            info: SendInfo {
                level: st.in_flight,
                epoch: st.epoch,
                shared: None,
            },
            counted: true,
            shared: None,
        }
    }

    /// A slot under the cap if one is free now, without waiting.
    fn try_acquire(self: &Arc<Self>, now: SystemTime) -> Option<Slot> {
        let mut st = self.state();
        self.raise_after_quiet(&mut st, now);
        let permit = match &self.sem {
            Some(sem) => Some(sem.clone().try_acquire_owned().ok()?),
            None => None,
        };
        Some(self.slot(&mut st, permit))
    }

    /// Waits for a slot under the cap.
    async fn acquire(self: &Arc<Self>, now: SystemTime) -> Slot {
        self.raise_after_quiet(&mut self.state(), now);
        let permit = match &self.sem {
            Some(sem) => Some(
                sem.clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed"),
            ),
            None => None,
        };
        self.slot(&mut self.state(), permit)
    }

    /// A slot outside the cap, for a request the gate never holds back (`/rate_limit`).
    fn exempt_slot(self: &Arc<Self>) -> Slot {
        let epoch = self.state().epoch;
        Slot {
            permit: None,
            lane: self.clone(),
            info: SendInfo {
                level: 0,
                epoch,
                shared: None,
            },
            counted: false,
            shared: None,
        }
    }

    /// Takes the next write slot if it is due, or says how long until it is.
    fn reserve_write(&self, now: SystemTime, interval: Duration) -> Result<(), Duration> {
        let mut st = self.state();
        match st.next_write {
            Some(t) if t > now => Err(t.duration_since(now).unwrap_or_default()),
            _ => {
                st.next_write = Some(now + interval);
                Ok(())
            }
        }
    }

    /// An answer that was not a rate limit: the slow start grows, unless the request was sent under a cap that
    /// has been lowered since (its answer says nothing about the new one).
    fn answered(&self, info: SendInfo) {
        let mut st = self.state();
        if st.adaptive && st.ramp < st.ceiling && info.epoch == st.epoch {
            st.ramp += 1;
            self.resize(&mut st);
        }
    }

    fn secondary_hit(&self, info: Option<SendInfo>, until: SystemTime, now: SystemTime) {
        let mut st = self.state();
        if st.backoff_until.is_none_or(|b| b < until) {
            st.backoff_until = Some(until);
        }
        if !st.adaptive || self.sem.is_none() {
            return;
        }
        // Sent as the k-th in flight and refused: at most k - 1 were allowed.
        if let Some(i) = info {
            let bound = i.level.saturating_sub(1).max(1);
            if bound < st.ceiling {
                st.ceiling = bound;
                st.ceiling_since = now;
            }
        }
        // Once per lowering: requests sent under an older cap were already accounted for.
        if info.is_none_or(|i| i.epoch == st.epoch) {
            st.epoch += 1;
            st.ramp = 1;
            st.ceiling_since = now;
        }
        self.resize(&mut st);
    }
}

/// A slot under the cap, held until the response body is read or dropped.
pub(crate) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    lane: Arc<Lane>,
    info: SendInfo,
    /// Whether it counts as in flight (requests exempt from the gate do not).
    counted: bool,
    /// The slot under the cap shared with other processes, if there is one.
    shared: Option<SharedSlot>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let mut st = self.lane.state();
        st.in_flight = st.in_flight.saturating_sub(1);
        if let Some(p) = self.permit.take() {
            if st.debt > 0 {
                st.debt -= 1;
                p.forget();
            }
        }
    }
}

fn creates_content(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

/// `/rate_limit` does not count against the limit and is how a caller checks it, so it is never held back.
fn exempt(req: &reqwest::Request) -> bool {
    req.url().path().ends_with("/rate_limit")
}

/// The operation that mints installation tokens: a POST, but not content creation.
const TOKEN_EXCHANGE: &str = "apps/create-installation-access-token";

/// The gap a request must keep from the previous write, if it is paced: content-creating methods are, the
/// installation-token exchange is not.
fn pacing(config: Option<&ConcurrencyConfig>, m: &Method, op: Option<&str>) -> Option<Duration> {
    config
        .and_then(|c| c.write_interval)
        .filter(|_| creates_content(m) && op != Some(TOKEN_EXCHANGE))
}

/// The send gate of a [`super::StackLayer`]: what every request passes at the moment it is actually sent.
pub(crate) struct Gate {
    pub(crate) rate: Option<RateLimitConfig>,
    pub(crate) concurrency: Option<ConcurrencyConfig>,
    pub(crate) lanes: Arc<Lanes>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Gate {
    fn shared(&self) -> Option<&Arc<dyn SharedInFlight>> {
        self.concurrency.as_ref().and_then(|c| c.shared.as_ref())
    }

    fn emit(&self, e: RateLimitEvent) {
        tracing::debug!(event = ?e, "rate limit");
        if let Some(h) = self.rate.as_ref().and_then(|r| r.hook.as_ref()) {
            h(&e);
        }
    }

    /// The lane of a credential, looked up once per call.
    pub(crate) fn lane(&self, ident: &Arc<str>) -> Arc<Lane> {
        self.lanes
            .lane(ident, self.concurrency.as_ref(), self.clock.now())
    }

    /// What holds `resource` of this credential back now, read in one go (one round trip to a shared store): the
    /// reset and limit of its primary limit while used up, and the secondary-limit back-off deadline while ahead
    /// (the lane's, or the store's if later).
    async fn limits(&self, lane: &Lane, ident: &str, resource: &str) -> Limits {
        if let Some(l) = self.limits_now(lane, ident, resource) {
            return l;
        }
        let stored = match &self.rate {
            Some(r) => match r.store.limits(ident, resource).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "rate-limit store unavailable");
                    (None, None)
                }
            },
            None => (None, None),
        };
        self.judge_limits(lane, stored)
    }

    /// [`Gate::limits`] without waiting, when the store is in this process (or there is none).
    fn limits_now(&self, lane: &Lane, ident: &str, resource: &str) -> Option<Limits> {
        let stored = match &self.rate {
            Some(r) => in_process(&*r.store)?.limits_now(ident, resource),
            None => (None, None),
        };
        Some(self.judge_limits(lane, stored))
    }

    fn judge_limits(&self, lane: &Lane, stored: (Option<ResourceState>, Option<u64>)) -> Limits {
        let (state, shared) = stored;
        let local = lane.state().backoff_until;
        let now = self.clock.now();
        let primary = state
            .filter(|s| s.remaining == 0 && s.reset.saturating_mul(1000) > unix_ms(now))
            .map(|s| (s.reset, s.limit));
        let shared = shared.map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms));
        (primary, local.max(shared).filter(|until| *until > now))
    }

    /// Waits for `resource`'s primary reset (or refuses, as the policy says).
    async fn wait_primary(
        &self,
        rate: &RateLimitConfig,
        resource: &str,
        reset: u64,
        limit: Option<u64>,
    ) -> Result<(), github_rest::RateLimitError> {
        let wait = rate.primary_wait(reset, self.clock.now());
        if !rate.primary.allows(wait) {
            self.emit(RateLimitEvent::PrimaryFailFast {
                resource: resource.to_string(),
                reset,
            });
            return Err(github_rest::RateLimitError::Primary {
                status: None,
                resource: resource.to_string(),
                limit,
                reset_unix: reset,
            });
        }
        self.emit(RateLimitEvent::PrimaryWait {
            resource: resource.to_string(),
            reset,
            wait,
        });
        self.clock.sleep(wait).await;
        Ok(())
    }

    /// Waits for everything that limits this request and returns its slot. The waits for the primary reset, the
    /// back-off and the write pacing happen without a slot; once a slot is held after waiting for it, the primary
    /// limit and the back-off are looked at again (either may have been announced while the request queued), and
    /// any of them sends the request back to waiting without its slot.
    async fn admit(
        &self,
        lane: &Arc<Lane>,
        ident: &str,
        resource: &str,
        paced: Option<Duration>,
        shared_cap: bool,
    ) -> Result<Slot, github_rest::RateLimitError> {
        loop {
            let (primary, backoff) = self.limits(lane, ident, resource).await;
            if let (Some((reset, limit)), Some(rate)) = (primary, &self.rate) {
                self.wait_primary(rate, resource, reset, limit).await?;
                continue;
            }
            if let Some(until) = backoff {
                let d = until.duration_since(self.clock.now()).unwrap_or_default();
                self.clock.sleep(d).await;
                continue;
            }
            let now = self.clock.now();
            let (mut slot, mut waited) = match lane.try_acquire(now) {
                Some(s) => (s, false),
                None => (lane.acquire(now).await, true),
            };
            if let Some((shared, c)) = self
                .concurrency
                .as_ref()
                .and_then(|c| Some((c.shared.as_ref()?, c)))
                .filter(|_| shared_cap)
            {
                let max = c.max_in_flight.unwrap_or(usize::MAX).max(1);
                let raise = if c.adaptive {
                    c.raise_every
                } else {
                    Duration::ZERO
                };
                if let Some(s) = shared.acquire(ident, max, raise).await {
                    slot.info.shared = Some((s.level, s.epoch));
                    slot.shared = Some(s);
                }
                waited = true;
            }
            // A slot had at once was had in the same instant the limits were read: nothing to look at again.
            if waited {
                let (primary, backoff) = self.limits(lane, ident, resource).await;
                if primary.is_some() || backoff.is_some() {
                    continue;
                }
            }
            if let Some(interval) = paced {
                if let Err(wait) = lane.reserve_write(self.clock.now(), interval) {
                    drop(slot);
                    self.clock.sleep(wait).await;
                    continue;
                }
            }
            return Ok(slot);
        }
    }

    /// The slot of `req` when nothing holds it back and nothing needs waiting for to find out: not paced, no
    /// shared cap, limits read from a store in this process, a slot free under the cap. `None` sends the request
    /// through [`Gate::enter`].
    pub(crate) fn try_enter(
        &self,
        lane: &Arc<Lane>,
        ident: &str,
        req: &reqwest::Request,
        op: Option<&'static str>,
        resource: Option<&str>,
    ) -> Option<Slot> {
        if exempt(req) {
            return Some(lane.exempt_slot());
        }
        if pacing(self.concurrency.as_ref(), req.method(), op).is_some() || self.shared().is_some()
        {
            return None;
        }
        let resource = resource.unwrap_or_else(|| predict_resource(op, req.url().path()));
        match self.limits_now(lane, ident, resource)? {
            (None, None) => lane.try_acquire(self.clock.now()),
            _ => None,
        }
    }

    /// Waits until `req` may be sent and returns its slot. `resource` is the one a response named for this call,
    /// if any; otherwise it is predicted from the operation.
    pub(crate) async fn enter(
        &self,
        lane: &Arc<Lane>,
        ident: &str,
        req: &reqwest::Request,
        op: Option<&'static str>,
        resource: Option<&str>,
    ) -> Result<Slot, github_rest::RateLimitError> {
        if exempt(req) {
            return Ok(lane.exempt_slot());
        }
        let paced = pacing(self.concurrency.as_ref(), req.method(), op);
        let resource = resource.unwrap_or_else(|| predict_resource(op, req.url().path()));
        // Writes take turns, so that the pacing holds at the moment each is sent.
        let _turn = match paced {
            Some(_) => Some(lane.write_turn.lock().await),
            None => None,
        };
        // A token exchange is not held by the shared cap: one worker makes it for all of them while holding the
        // refresh lock, and must not wait behind a slot another worker may have died holding.
        let shared_cap = op != Some(TOKEN_EXCHANGE);
        self.admit(lane, ident, resource, paced, shared_cap).await
    }

    /// Records what the answer to a request sent under `slot` says about the cap: a `retry-after` on a 403/429 is
    /// read here, before anything else can be sent, the earliest moment this process can know of the back-off
    /// (limits recognised from the body are reported by the rate-limit handling); any other answer grows the slow
    /// start. What a shared store or cap must hear is returned as a future to await (boxed, so a call's future does
    /// not carry its size).
    pub(crate) fn answered<'a>(
        &'a self,
        lane: &Lane,
        ident: &'a str,
        slot: &Slot,
        status: StatusCode,
        retry_after: Option<u64>,
    ) -> Option<BoxFuture<'a, ()>> {
        let info = slot.info;
        let shared = self.shared().filter(|_| info.shared.is_some());
        if !matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        ) {
            lane.answered(info);
            let (shared, (_, epoch)) = (shared?, info.shared?);
            return Some(Box::pin(shared.answered(ident, epoch)));
        }
        let (secs, rate) = (retry_after?, self.rate.as_ref()?);
        let now = self.clock.now();
        let until = now + Duration::from_secs(secs).min(super::ratelimit::MAX_WAIT);
        lane.secondary_hit(Some(info), until, now);
        let until = unix_ms(until);
        let local = in_process(&*rate.store);
        if let Some(m) = local {
            m.extend_backoff_now(ident, until);
            shared?;
        }
        Some(Box::pin(async move {
            // Other processes learn of it from the shared store as early as this one did.
            if local.is_none() {
                if let Err(e) = rate.store.extend_backoff(ident, until).await {
                    tracing::warn!(error = %e, "rate-limit store unavailable");
                }
            }
            if let (Some(shared), Some((level, epoch))) = (shared, info.shared) {
                shared.refused(ident, level, epoch).await;
            }
        }))
    }
}

/// Whether the installation token a request carries is past its refresh point: a request may have waited at the
/// gate (a back-off, a primary reset, a queue) longer than its token stays fresh.
pub(crate) fn stale_token(extensions: &Extensions) -> bool {
    extensions
        .get::<super::SendTimeToken>()
        .is_some_and(|s| !s.tokens.is_fresh(&s.token))
}

/// Replaces a stale token ([`stale_token`]) by the current one (one exchange however many wait), and records in
/// the extensions what was sent.
pub(crate) async fn refresh_token(
    req: &mut reqwest::Request,
    extensions: &mut Extensions,
) -> reqwest_middleware::Result<()> {
    let Some(mut sent) = extensions.get::<super::SendTimeToken>().cloned() else {
        return Ok(());
    };
    sent.token = sent
        .tokens
        .current()
        .await
        .map_err(|e| reqwest_middleware::Error::Middleware(e.into()))?;
    crate::layer::bearer(req, &sent.token.token)?;
    extensions.insert(sent);
    Ok(())
}

impl Slot {
    /// Where the request stood when it was sent.
    pub(crate) fn info(&self) -> SendInfo {
        self.info
    }

    /// Whether anything is held that must travel with an unread body.
    pub(crate) fn holds(&self) -> bool {
        self.permit.is_some() || self.shared.is_some()
    }

    /// `resp` with this slot travelling in its body, so the request counts as in flight until its body is read or
    /// dropped.
    pub(crate) fn ride(self, mut resp: reqwest::Response) -> reqwest::Response {
        if !self.holds() {
            return resp;
        }
        let (status, version, headers, url) = (
            resp.status(),
            resp.version(),
            std::mem::take(resp.headers_mut()),
            resp.url().clone(),
        );
        let body = resp.bytes_stream().map(move |chunk| {
            let _held = &self;
            chunk
        });
        rebuild(
            status,
            version,
            headers,
            url,
            reqwest::Body::wrap_stream(body),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(max: usize) -> Arc<Lane> {
        Arc::new(Lane::new(
            Some(&ConcurrencyConfig::default().max_in_flight(Some(max))),
            SystemTime::UNIX_EPOCH,
        ))
    }

    fn available(l: &Lane) -> usize {
        l.sem.as_ref().unwrap().available_permits()
    }

    #[test]
    fn writes_are_paced_but_token_exchanges_are_not() {
        let c = ConcurrencyConfig::default();
        let s = Some(Duration::from_secs(1));
        assert_eq!(pacing(Some(&c), &Method::POST, Some("issues/create")), s);
        assert_eq!(pacing(Some(&c), &Method::DELETE, None), s);
        assert_eq!(pacing(Some(&c), &Method::GET, Some("issues/get")), None);
        assert_eq!(pacing(Some(&c), &Method::POST, Some(TOKEN_EXCHANGE)), None);
        assert_eq!(pacing(None, &Method::POST, None), None);
    }

    fn answer(l: &Lane) {
        let epoch = l.state().epoch;
        l.answered(SendInfo {
            level: 1,
            epoch,
            shared: None,
        });
    }

    #[tokio::test]
    async fn slow_start_grows_one_per_answer_up_to_the_ceiling() {
        let l = lane(3);
        assert_eq!(available(&l), 1);
        for want in [2, 3, 3] {
            answer(&l);
            assert_eq!(available(&l), want);
        }
    }

    #[tokio::test]
    async fn a_refusal_at_level_k_caps_at_k_minus_one_and_restarts_slowly() {
        let l = lane(10);
        for _ in 0..9 {
            answer(&l);
        }
        let t0 = SystemTime::UNIX_EPOCH;
        let mut slots = Vec::new();
        for _ in 0..5 {
            slots.push(l.acquire(t0).await);
        }
        let refused = slots[4].info;
        assert_eq!(refused.level, 5);
        l.secondary_hit(Some(refused), t0 + Duration::from_secs(1), t0);
        {
            let st = l.state();
            assert_eq!((st.ceiling, st.ramp, st.cap), (4, 1, 1));
            assert_eq!(st.backoff_until, Some(t0 + Duration::from_secs(1)));
        }
        // A second refusal of the same wave lowers the ceiling but does not restart again.
        l.secondary_hit(Some(slots[3].info), t0 + Duration::from_secs(1), t0);
        assert_eq!(l.state().ceiling, 3);
        assert_eq!(l.state().epoch, 1);
        // Five slots are held while the cap is 1: the permits are retired as they come back.
        // Answers to requests sent before the refusal do not speed the restart up.
        l.answered(slots[0].info);
        assert_eq!(l.state().ramp, 1);
        drop(slots);
        assert_eq!(available(&l), 1);
        for _ in 0..5 {
            answer(&l);
        }
        assert_eq!(available(&l), 3, "the slow start stops at the ceiling");
        // After a quiet spell the ceiling goes up by one.
        let later = t0 + Duration::from_secs(11);
        let s = l.acquire(later).await;
        assert_eq!(l.state().ceiling, 4);
        drop(s);
    }
}
