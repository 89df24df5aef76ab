//! Several worker processes sharing one Redis: installation tokens, rate-limit state, the secondary-limit back-off,
//! the in-flight cap and the conditional-request cache (cargo feature `redis`).
//!
//! [`RedisFleet::connect`] opens one connection ([`redis::aio::ConnectionManager`]) and hands out the Redis
//! implementations of this crate's store traits, all sharing it:
//!
//! - [`RedisTokenStore`] ([`TokenStore`]): tokens encrypted with AES-256-GCM under a key only the workers hold
//!   (`SET … PXAT <expires_at>`, so Redis drops a token when it expires); the refresh lock is `SET … NX PX <ttl>`
//!   released by compare-and-delete, so one worker exchanges per refresh and a dead worker's lock lapses;
//! - [`RedisRateLimitStore`] ([`RateLimitStore`]): remaining/reset per identity and resource, merged by a Lua script
//!   (a later window wins, then the lower `remaining`), and the back-off deadline, only ever moved later;
//! - [`RedisCacheStore`] ([`CacheStore`]): cached responses with a time bound;
//! - [`RedisInFlight`] ([`SharedInFlight`]): the adaptive in-flight cap counted over every worker: a sorted set of
//!   leases scored by their expiry (a worker that dies loses its slots when their leases run out, renewed while a
//!   request is in flight) and the cap's state (ceiling, slow start, epoch), both changed only by Lua scripts that
//!   read Redis' own clock.
//!
//! **When Redis is down** every store falls back to this process's own state (the in-memory stores, kept up to date
//! alongside Redis), with one warning per outage; Redis is tried again every [`FleetConfig::retry_every`], and the
//! process rejoins (one info line) as soon as it answers. No call fails because Redis did.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use github_auth::fleet::{FleetConfig, RedisFleet, TokenKey};
//! use github_auth::{middleware::MiddlewareConfig, AuthBuilder, SecretString};
//!
//! let key = TokenKey::from_base64(&std::env::var("GITHUB_TOKEN_KEY")?)?; // 32 random bytes, the same for all
//! let fleet = RedisFleet::connect(FleetConfig::new("redis://10.0.0.5:6379/", key)).await?;
//! let pem = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
//! let client = AuthBuilder::installation(12345, pem, 987654)
//!     .token_store(fleet.token_store())
//!     .middleware(fleet.middleware(MiddlewareConfig::default()))
//!     .build()?;
//! # Ok(()) }
//! ```

use crate::middleware::{
    CacheStore, CachedResponse, MemoryCacheStore, MemoryRateLimitStore, MiddlewareConfig,
    RateLimitStore, ResourceState, SharedInFlight, SharedSlot,
};
use crate::store::{CacheKey, Lease, MemoryStore, StoreError, StoredToken, TokenStore};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use base64::Engine;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The key tokens are encrypted with in Redis: 32 bytes (AES-256-GCM), the same for every worker of the fleet and
/// known to nobody else. Debug never shows it.
#[derive(Clone)]
pub struct TokenKey(Arc<Aes256Gcm>);

impl TokenKey {
    /// A key from its 32 bytes (e.g. `openssl rand 32`).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        TokenKey(Arc::new(Aes256Gcm::new(&bytes.into())))
    }

    /// A key from the standard base64 of its 32 bytes (e.g. `openssl rand -base64 32`).
    pub fn from_base64(text: &str) -> Result<Self, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| StoreError::msg("the token key is not valid base64"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            StoreError::msg(format!(
                "the token key must be 32 bytes, this one has {}",
                b.len()
            ))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// Encrypts `plain` for the Redis key `aad`: version byte, 96-bit random nonce, ciphertext and tag.
    fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::msg("could not encrypt the token entry"))?;
        let mut out = Vec::with_capacity(1 + 12 + sealed.len());
        out.push(1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Decrypts what [`TokenKey::seal`] wrote under the same Redis key.
    fn open(&self, aad: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < 1 + 12 + 16 || sealed[0] != 1 {
            return Err(StoreError::msg(
                "the token entry in Redis is not one we wrote",
            ));
        }
        self.0
            .decrypt(
                Nonce::from_slice(&sealed[1..13]),
                Payload {
                    msg: &sealed[13..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                StoreError::msg(
                    "the token entry in Redis does not decrypt with this key (another key, or altered)",
                )
            })
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([REDACTED])")
    }
}

/// Settings of a [`RedisFleet`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FleetConfig {
    /// `redis://[user:password@]host:port/db` (or `rediss://` when the redis crate is built with TLS).
    pub url: String,
    /// The key tokens are encrypted with.
    pub token_key: TokenKey,
    /// Prefix of every key this crate writes (default `github-auth`), so several fleets can share one Redis.
    pub prefix: String,
    /// How long one Redis command may take before Redis is considered down (default 500 ms).
    pub command_timeout: Duration,
    /// While Redis is down, how often to try it again (default 1 s).
    pub retry_every: Duration,
    /// How long a slot under the shared in-flight cap outlives a worker that died holding it (default 10 s); live
    /// workers renew their leases every third of it.
    pub lease: Duration,
    /// How often a waiting worker asks Redis for a free slot (default 5 ms; one waiter per worker and credential
    /// asks, the others queue behind it).
    pub poll_every: Duration,
    /// How long cached responses are kept (default 24 h); Redis' `maxmemory` policy bounds the size.
    pub cache_ttl: Duration,
}

impl FleetConfig {
    /// A fleet on the Redis at `url`, encrypting tokens with `token_key`.
    pub fn new(url: impl Into<String>, token_key: TokenKey) -> Self {
        FleetConfig {
            url: url.into(),
            token_key,
            prefix: "github-auth".into(),
            command_timeout: Duration::from_millis(500),
            retry_every: Duration::from_secs(1),
            lease: Duration::from_secs(10),
            poll_every: Duration::from_millis(5),
            cache_ttl: Duration::from_secs(24 * 60 * 60),
        }
    }

    /// Sets the key prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the time-out of one Redis command.
    pub fn command_timeout(mut self, d: Duration) -> Self {
        self.command_timeout = d;
        self
    }

    /// Sets how often Redis is tried again while down.
    pub fn retry_every(mut self, d: Duration) -> Self {
        self.retry_every = d;
        self
    }

    /// Sets the lease of a shared in-flight slot.
    pub fn lease(mut self, d: Duration) -> Self {
        self.lease = d;
        self
    }

    /// Sets how often a waiting worker polls for a shared slot.
    pub fn poll_every(mut self, d: Duration) -> Self {
        self.poll_every = d;
        self
    }

    /// Sets how long cached responses are kept.
    pub fn cache_ttl(mut self, d: Duration) -> Self {
        self.cache_ttl = d;
        self
    }
}

/// The connection and whether Redis is reachable; every store of a fleet goes through it.
struct Conn {
    client: redis::Client,
    manager: Mutex<Option<ConnectionManager>>,
    down: AtomicBool,
    probing: AtomicBool,
    /// Milliseconds since `epoch` before which Redis is not tried again.
    next_try_ms: AtomicU64,
    epoch: Instant,
    outages: AtomicU64,
    rejoins: AtomicU64,
    /// Milliseconds since `epoch` of the last rejoin (0: never).
    rejoined_ms: AtomicU64,
    /// Commands and scripts sent.
    round_trips: AtomicU64,
    config: FleetConfig,
}

impl Conn {
    fn since_epoch_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The connection, if Redis is believed up or it is time to try it again (and it answers).
    async fn get(&self) -> Option<ConnectionManager> {
        if !self.down.load(Ordering::Acquire) {
            if let Some(m) = self.lock_manager().clone() {
                return Some(m);
            }
        }
        self.probe().await
    }

    fn lock_manager(&self) -> std::sync::MutexGuard<'_, Option<ConnectionManager>> {
        self.manager.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tries Redis (one caller at a time, at most every `retry_every`): connects if need be and sends a `PING`.
    async fn probe(&self) -> Option<ConnectionManager> {
        if self.since_epoch_ms() < self.next_try_ms.load(Ordering::Acquire)
            || self.probing.swap(true, Ordering::AcqRel)
        {
            return None;
        }
        let existing = self.lock_manager().clone();
        let timeout = self.config.command_timeout;
        let attempt = tokio::time::timeout(timeout * 2, async {
            let mut m = match existing {
                Some(m) => m,
                None => {
                    let c = ConnectionManagerConfig::new()
                        .set_connection_timeout(timeout)
                        .set_response_timeout(timeout)
                        .set_number_of_retries(1)
                        .set_factor(10)
                        .set_max_delay(200);
                    ConnectionManager::new_with_config(self.client.clone(), c).await?
                }
            };
            let _: String = redis::cmd("PING").query_async(&mut m).await?;
            Ok::<_, redis::RedisError>(m)
        })
        .await;
        self.probing.store(false, Ordering::Release);
        match attempt {
            Ok(Ok(m)) => {
                *self.lock_manager() = Some(m.clone());
                if self.down.swap(false, Ordering::AcqRel) {
                    self.rejoins.fetch_add(1, Ordering::Relaxed);
                    self.rejoined_ms
                        .store(self.since_epoch_ms().max(1), Ordering::Release);
                    tracing::info!(
                        "Redis is back: this worker shares tokens, rate limits and back-offs again"
                    );
                }
                Some(m)
            }
            Ok(Err(e)) => {
                self.failed_probe(&e.to_string());
                None
            }
            Err(_) => {
                self.failed_probe("no answer in time");
                None
            }
        }
    }

    /// A probe failed: the next one starts from a new connection rather than wait on the old one's reconnection.
    fn failed_probe(&self, why: &str) {
        *self.lock_manager() = None;
        self.failed(why);
    }

    /// Whether this process rejoined Redis after an outage in the last 10 s.
    fn just_rejoined(&self) -> bool {
        let at = self.rejoined_ms.load(Ordering::Acquire);
        at > 0 && self.since_epoch_ms() < at + 10_000
    }

    /// Marks Redis down: one warning per outage.
    fn failed(&self, why: &str) {
        self.next_try_ms.store(
            self.since_epoch_ms() + self.config.retry_every.as_millis() as u64,
            Ordering::Release,
        );
        if !self.down.swap(true, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                error = why,
                "Redis unavailable: this worker uses its own token cache, rate-limit state and in-flight cap until it is back"
            );
        }
    }

    /// Runs one Redis operation; `None` when Redis is down or fails (then marked down).
    async fn run<T, F, Fut>(&self, f: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let m = self.get().await?;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(self.config.command_timeout, f(m)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("no answer in time");
                None
            }
        }
    }

    fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}:{kind}:{rest}", self.config.prefix)
    }
}

/// One Redis shared by several worker processes; see the module docs.
#[derive(Clone)]
pub struct RedisFleet {
    conn: Arc<Conn>,
    tokens: Arc<RedisTokenStore>,
    rate: Arc<RedisRateLimitStore>,
    cache: Arc<RedisCacheStore>,
    in_flight: Arc<RedisInFlight>,
}

impl std::fmt::Debug for RedisFleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisFleet")
            .field("prefix", &self.conn.config.prefix)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl RedisFleet {
    /// Connects to Redis. A malformed URL is an error; an unreachable Redis is not: the fleet starts on this
    /// process's own state (one warning) and joins as soon as Redis answers.
    pub async fn connect(config: FleetConfig) -> Result<Self, StoreError> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| StoreError::msg(format!("bad Redis URL: {e}")))?;
        let conn = Arc::new(Conn {
            client,
            manager: Mutex::new(None),
            down: AtomicBool::new(false),
            probing: AtomicBool::new(false),
            next_try_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            outages: AtomicU64::new(0),
            rejoins: AtomicU64::new(0),
            rejoined_ms: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            config,
        });
        conn.probe().await;
        let in_flight = Arc::new(RedisInFlight {
            conn: conn.clone(),
            held: Arc::default(),
            pending: Arc::default(),
            turns: Mutex::default(),
            ramp_full: Mutex::default(),
        });
        RedisInFlight::renew_in_background(Arc::downgrade(&in_flight));
        Ok(RedisFleet {
            tokens: Arc::new(RedisTokenStore {
                conn: conn.clone(),
                local: MemoryStore::new(),
            }),
            rate: Arc::new(RedisRateLimitStore {
                conn: conn.clone(),
                local: MemoryRateLimitStore::new(),
            }),
            cache: Arc::new(RedisCacheStore {
                conn: conn.clone(),
                local: MemoryCacheStore::default(),
            }),
            in_flight,
            conn,
        })
    }

    /// The token store, for [`crate::AuthBuilder::token_store`].
    pub fn token_store(&self) -> Arc<dyn TokenStore> {
        self.tokens.clone()
    }

    /// The rate-limit store, for [`crate::middleware::RateLimitConfig::store`].
    pub fn rate_limit_store(&self) -> Arc<dyn RateLimitStore> {
        self.rate.clone()
    }

    /// The conditional-request cache, for [`crate::middleware::CacheConfig::store`].
    pub fn cache_store(&self) -> Arc<dyn CacheStore> {
        self.cache.clone()
    }

    /// The shared in-flight cap, for [`crate::middleware::ConcurrencyConfig::shared`].
    pub fn in_flight(&self) -> Arc<dyn SharedInFlight> {
        self.in_flight.clone()
    }

    /// `config` with the rate-limit state, the cache and the in-flight cap of its enabled layers moved to Redis.
    pub fn middleware(&self, mut config: MiddlewareConfig) -> MiddlewareConfig {
        if let Some(r) = &mut config.rate_limit {
            r.store = self.rate_limit_store();
        }
        if let Some(c) = &mut config.cache {
            c.store = self.cache_store();
        }
        if let Some(c) = &mut config.concurrency {
            c.shared = Some(self.in_flight());
        }
        config
    }

    /// Waits (at most `FleetConfig::command_timeout` twice over) until the slots this process gave back have
    /// reached Redis. Call it before the process exits: a slot whose release is lost stays taken for every worker
    /// until its lease runs out.
    pub async fn close(&self) {
        let pending = &self.in_flight.pending;
        let wait = async {
            loop {
                let idle = pending.idle.notified();
                tokio::pin!(idle);
                // Registered before looking, so a release finishing in between is not missed.
                idle.as_mut().enable();
                if pending.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(self.conn.config.command_timeout * 2, wait).await;
    }

    /// Whether Redis answered the last time it was asked.
    pub fn is_connected(&self) -> bool {
        !self.conn.down.load(Ordering::Acquire) && self.conn.lock_manager().is_some()
    }

    /// How many times Redis became unreachable (each logged once, as a warning).
    pub fn outages(&self) -> u64 {
        self.conn.outages.load(Ordering::Relaxed)
    }

    /// Commands and scripts this process sent to Redis so far (each one round trip).
    pub fn round_trips(&self) -> u64 {
        self.conn.round_trips.load(Ordering::Relaxed)
    }

    /// How many times the process rejoined after an outage.
    pub fn rejoins(&self) -> u64 {
        self.conn.rejoins.load(Ordering::Relaxed)
    }
}

/// Compare-and-delete: removes `KEYS[1]` only if it still holds `ARGV[1]`.
const DELETE_IF_EQUAL: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Installation tokens in Redis, encrypted; see the module docs. Built by [`RedisFleet::connect`].
pub struct RedisTokenStore {
    conn: Arc<Conn>,
    /// Kept up to date alongside Redis, and used alone while Redis is down.
    local: MemoryStore,
}

impl std::fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTokenStore").finish_non_exhaustive()
    }
}

/// Lease ids of Redis locks start with this; the local store's are empty.
const REDIS_LEASE: &str = "redis:";

impl RedisTokenStore {
    fn entry_key(&self, key: &CacheKey) -> String {
        self.conn.key("token", key.as_str())
    }

    /// The raw (sealed) entry and the token in it.
    async fn get_raw(&self, key: &CacheKey) -> Option<Option<(Vec<u8>, StoredToken)>> {
        let k = self.entry_key(key);
        let raw: Option<Vec<u8>> = self
            .conn
            .run(|mut c| {
                let k = k.clone();
                async move { redis::cmd("GET").arg(&k).query_async(&mut c).await }
            })
            .await?;
        let Some(raw) = raw else { return Some(None) };
        match self
            .conn
            .config
            .token_key
            .open(&k, &raw)
            .and_then(|plain| StoredToken::decode(&plain))
        {
            Ok(t) => Some(Some((raw, t))),
            Err(e) => {
                // Not ours (another key, or tampered with): as good as absent; the next refresh overwrites it.
                tracing::warn!(error = %e, "ignoring an unreadable token entry in Redis");
                Some(None)
            }
        }
    }
}

impl RedisTokenStore {
    /// Writes the sealed entry, expiring at the token's `expires_at`; with `only_if_absent`, only if there is none.
    async fn store(
        &self,
        key: &CacheKey,
        token: &StoredToken,
        only_if_absent: bool,
    ) -> Result<(), StoreError> {
        let k = self.entry_key(key);
        let sealed = self.conn.config.token_key.seal(&k, &token.encode())?;
        let at_ms = token.expires_at.max(0) as u64 * 1000;
        self.conn
            .run(|mut c| async move {
                let mut cmd = redis::cmd("SET");
                cmd.arg(&k).arg(sealed).arg("PXAT").arg(at_ms);
                if only_if_absent {
                    cmd.arg("NX");
                }
                cmd.query_async::<Option<String>>(&mut c).await
            })
            .await;
        Ok(())
    }
}

#[async_trait]
impl TokenStore for RedisTokenStore {
    async fn get(&self, key: &CacheKey) -> Result<Option<StoredToken>, StoreError> {
        match self.get_raw(key).await {
            // Kept locally too, so that this worker still has it if Redis goes away.
            Some(Some((_, t))) => {
                self.local.put(key, &t).await?;
                Ok(Some(t))
            }
            // Redis has none. Just after an outage (Redis may have restarted empty) a live token this worker holds
            // is put back, so the workers rejoining do not each mint one. Not otherwise: the entry may have been
            // removed because GitHub refused the token.
            Some(None) => match self.local.get(key).await? {
                Some(t)
                    if self.conn.just_rejoined()
                        && t.expires_at > crate::clock::unix(std::time::SystemTime::now()) + 1 =>
                {
                    // Only if still absent: another worker may have just stored a newer one.
                    self.store(key, &t, true).await?;
                    Ok(Some(t))
                }
                _ => Ok(None),
            },
            None => self.local.get(key).await,
        }
    }

    async fn put(&self, key: &CacheKey, token: &StoredToken) -> Result<(), StoreError> {
        self.local.put(key, token).await?;
        self.store(key, token, false).await
    }

    async fn invalidate(&self, key: &CacheKey, stale: &StoredToken) -> Result<(), StoreError> {
        self.local.invalidate(key, stale).await?;
        if let Some(Some((raw, t))) = self.get_raw(key).await {
            if t.same_token(stale) {
                let k = self.entry_key(key);
                self.conn
                    .run(|mut c| async move {
                        redis::Script::new(DELETE_IF_EQUAL)
                            .key(&k)
                            .arg(raw)
                            .invoke_async::<i64>(&mut c)
                            .await
                    })
                    .await;
            }
        }
        Ok(())
    }

    async fn lock(&self, key: &CacheKey, ttl: Duration) -> Result<Lease, StoreError> {
        let k = format!("{}:lock", self.entry_key(key));
        let id = format!("{REDIS_LEASE}{:032x}", rand::random::<u128>());
        let started = tokio::time::Instant::now();
        loop {
            let took: Option<Option<String>> = self
                .conn
                .run(|mut c| {
                    let (k, id) = (k.clone(), id.clone());
                    async move {
                        redis::cmd("SET")
                            .arg(&k)
                            .arg(&id)
                            .arg("NX")
                            .arg("PX")
                            .arg(ttl.as_millis() as u64)
                            .query_async(&mut c)
                            .await
                    }
                })
                .await;
            match took {
                Some(Some(_)) => return Ok(Lease { id, guard: None }),
                Some(None) => {}
                // Redis is down: this process's own lock keeps its callers to one exchange.
                None => return self.local.lock(key, ttl).await,
            }
            if started.elapsed() >= ttl {
                return Err(StoreError::lock_timeout(ttl));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn unlock(&self, key: &CacheKey, lease: Lease) -> Result<(), StoreError> {
        if !lease.id.starts_with(REDIS_LEASE) {
            return self.local.unlock(key, lease).await;
        }
        let k = format!("{}:lock", self.entry_key(key));
        self.conn
            .run(|mut c| async move {
                redis::Script::new(DELETE_IF_EQUAL)
                    .key(&k)
                    .arg(&lease.id)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }
}

/// Merges a [`ResourceState`] into `KEYS[1]` by the rule of [`ResourceState::merge`]; expires a minute after reset.
/// ARGV: the state's JSON, its reset, its remaining.
const MERGE_STATE: &str = r"
local cur = redis.call('GET', KEYS[1])
local reset = tonumber(ARGV[2])
local remaining = tonumber(ARGV[3])
if cur then
  local c = cjson.decode(cur)
  if c.reset > reset or (c.reset == reset and c.remaining < remaining) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EXAT', reset + 60)
return 1";

/// Moves the back-off deadline in `KEYS[1]` to `ARGV[1]` (Unix ms) unless it is already later; the key expires then.
const EXTEND_BACKOFF: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
  return 1
end
return 0";

/// Rate-limit state and secondary-limit back-offs in Redis; see the module docs. Built by [`RedisFleet::connect`].
pub struct RedisRateLimitStore {
    conn: Arc<Conn>,
    local: MemoryRateLimitStore,
}

impl std::fmt::Debug for RedisRateLimitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimitStore")
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimitStore for RedisRateLimitStore {
    async fn resource(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<Option<ResourceState>, StoreError> {
        let k = self.conn.key("rl", &format!("{identity}:{resource}"));
        let got: Option<Option<String>> = self
            .conn
            .run(|mut c| async move { redis::cmd("GET").arg(&k).query_async(&mut c).await })
            .await;
        match got {
            Some(Some(json)) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| StoreError::msg(format!("undecodable rate-limit state: {e}"))),
            Some(None) => Ok(None),
            None => self.local.resource(identity, resource).await,
        }
    }

    async fn observe(
        &self,
        identity: &str,
        resource: &str,
        state: ResourceState,
    ) -> Result<(), StoreError> {
        self.local
            .observe(identity, resource, state.clone())
            .await?;
        let k = self.conn.key("rl", &format!("{identity}:{resource}"));
        let json = serde_json::to_string(&state).map_err(StoreError::new)?;
        self.conn
            .run(|mut c| async move {
                redis::Script::new(MERGE_STATE)
                    .key(&k)
                    .arg(json)
                    .arg(state.reset)
                    .arg(state.remaining)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }

    async fn limits(
        &self,
        identity: &str,
        resource: &str,
    ) -> Result<(Option<ResourceState>, Option<u64>), StoreError> {
        let keys = [
            self.conn.key("rl", &format!("{identity}:{resource}")),
            self.conn.key("backoff", identity),
        ];
        let got: Option<(Option<String>, Option<u64>)> = self
            .conn
            .run(|mut c| async move { redis::cmd("MGET").arg(&keys).query_async(&mut c).await })
            .await;
        match got {
            Some((state, backoff)) => {
                let state = state
                    .map(|json| serde_json::from_str(&json))
                    .transpose()
                    .map_err(|e| StoreError::msg(format!("undecodable rate-limit state: {e}")))?;
                Ok((state, backoff))
            }
            None => self.local.limits(identity, resource).await,
        }
    }

    async fn backoff_until(&self, identity: &str) -> Result<Option<u64>, StoreError> {
        let k = self.conn.key("backoff", identity);
        let got: Option<Option<u64>> = self
            .conn
            .run(|mut c| async move { redis::cmd("GET").arg(&k).query_async(&mut c).await })
            .await;
        match got {
            Some(v) => Ok(v),
            None => self.local.backoff_until(identity).await,
        }
    }

    async fn extend_backoff(&self, identity: &str, until_unix_ms: u64) -> Result<(), StoreError> {
        self.local.extend_backoff(identity, until_unix_ms).await?;
        let k = self.conn.key("backoff", identity);
        self.conn
            .run(|mut c| async move {
                redis::Script::new(EXTEND_BACKOFF)
                    .key(&k)
                    .arg(until_unix_ms)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }
}

/// Cached responses in Redis (JSON, with a time bound); see the module docs. Built by [`RedisFleet::connect`].
pub struct RedisCacheStore {
    conn: Arc<Conn>,
    local: MemoryCacheStore,
}

impl std::fmt::Debug for RedisCacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCacheStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl CacheStore for RedisCacheStore {
    async fn get(&self, key: &str) -> Result<Option<Arc<CachedResponse>>, StoreError> {
        let k = self.conn.key("etag", key);
        let got: Option<Option<Vec<u8>>> = self
            .conn
            .run(|mut c| async move { redis::cmd("GET").arg(&k).query_async(&mut c).await })
            .await;
        match got {
            Some(Some(json)) => serde_json::from_slice::<CachedResponse>(&json)
                .map(|e| Some(Arc::new(e)))
                .map_err(|e| StoreError::msg(format!("undecodable cache entry: {e}"))),
            Some(None) => Ok(None),
            None => self.local.get(key).await,
        }
    }

    async fn put(&self, key: &str, entry: Arc<CachedResponse>) -> Result<(), StoreError> {
        let json = serde_json::to_vec(&*entry).map_err(StoreError::new)?;
        self.local.put(key, entry).await?;
        let k = self.conn.key("etag", key);
        let ttl = self.conn.config.cache_ttl.as_secs().max(1);
        self.conn
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(&k)
                    .arg(json)
                    .arg("EX")
                    .arg(ttl)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await;
        Ok(())
    }
}

/// Redis' clock in milliseconds, inside a script.
const NOW_MS: &str = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

/// Takes a slot under the shared cap. KEYS: the lease set, the cap's state. ARGV: lease ms, lease id, max,
/// raise-every ms (0: not adaptive). Returns {level, epoch, 1 if the slow start reached the ceiling}, level 0 when
/// no slot is free.
const ACQUIRE: &str = r"
local max = tonumber(ARGV[3])
local raise = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local st = redis.call('HMGET', KEYS[2], 'c', 'r', 'e', 's')
local c = tonumber(st[1]) or max
local r = tonumber(st[2]) or 1
local e = tonumber(st[3]) or 0
local s = tonumber(st[4]) or now
if raise == 0 then c = max; r = max end
if c > max then c = max end
if c < max and now - s >= raise then c = c + 1; s = now end
redis.call('HSET', KEYS[2], 'c', c, 'r', r, 'e', e, 's', s)
redis.call('PEXPIRE', KEYS[2], 3600000)
local cap = math.min(r, c)
if cap < 1 then cap = 1 end
local full = 0
if r >= c then full = 1 end
local n = redis.call('ZCARD', KEYS[1])
if n >= cap then return {0, e, full} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return {n + 1, e, full}";

/// An answer under epoch `ARGV[1]`: the slow start grows by one up to the ceiling.
const ANSWERED: &str = r"
local st = redis.call('HMGET', KEYS[1], 'c', 'r', 'e')
local c, r, e = tonumber(st[1]), tonumber(st[2]), tonumber(st[3])
if c and r < c and e == tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'r', r + 1)
end
return 0";

/// A refusal at level `ARGV[1]` under epoch `ARGV[2]`: the ceiling drops to level - 1; once per epoch the slow start
/// restarts at one.
const REFUSED: &str = r"
local st = redis.call('HMGET', KEYS[1], 'c', 'e')
local c, e = tonumber(st[1]), tonumber(st[2])
if not c then return 0 end
local bound = math.max(tonumber(ARGV[1]) - 1, 1)
if bound < c then redis.call('HSET', KEYS[1], 'c', bound, 's', now) end
if e == tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'e', e + 1, 'r', 1, 's', now) end
return 0";

/// Renews leases still held. KEYS[1]: the lease set. ARGV: lease ms, then the ids.
const RENEW: &str = r"
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
end
return 0";

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{NOW_MS}\n{body}"))
}

/// The scripts, built (and hashed) once.
struct Scripts {
    acquire: redis::Script,
    answered: redis::Script,
    refused: redis::Script,
    renew: redis::Script,
}

fn scripts() -> &'static Scripts {
    static S: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    S.get_or_init(|| Scripts {
        acquire: script(ACQUIRE),
        answered: script(ANSWERED),
        refused: script(REFUSED),
        renew: script(RENEW),
    })
}

/// The in-flight cap counted over every worker; see the module docs. Built by [`RedisFleet::connect`].
pub struct RedisInFlight {
    conn: Arc<Conn>,
    /// Leases this process holds, by lease-set key, renewed in the background.
    held: Arc<Mutex<HashMap<String, HashSet<String>>>>,
    /// Releases sent but not yet answered, for [`RedisFleet::close`].
    pending: Arc<Pending>,
    /// One waiter per identity polls Redis; the others of this process queue behind it.
    turns: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Per identity, the epoch in which the last slot given found the slow start at its ceiling: answers under it
    /// need not be reported (they could not raise anything).
    ramp_full: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for RedisInFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisInFlight").finish_non_exhaustive()
    }
}

impl RedisInFlight {
    fn keys(&self, identity: &str) -> (String, String) {
        (
            self.conn.key("inflight", identity),
            self.conn.key("cap", identity),
        )
    }

    fn renew_in_background(this: Weak<RedisInFlight>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            loop {
                let Some(me) = this.upgrade() else { return };
                let lease = me.conn.config.lease;
                let every = (lease / 3).max(Duration::from_millis(10));
                let held: Vec<(String, Vec<String>)> = me
                    .held
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|(_, ids)| !ids.is_empty())
                    .map(|(k, ids)| (k.clone(), ids.iter().cloned().collect()))
                    .collect();
                for (k, ids) in held {
                    me.conn
                        .run(|mut c| async move {
                            scripts()
                                .renew
                                .key(&k)
                                .arg(lease.as_millis() as u64)
                                .arg(ids)
                                .invoke_async::<i64>(&mut c)
                                .await
                        })
                        .await;
                }
                drop(me);
                tokio::time::sleep(every).await;
            }
        });
    }
}

#[async_trait]
impl SharedInFlight for RedisInFlight {
    async fn acquire(
        &self,
        identity: &str,
        max: usize,
        raise_every: Duration,
    ) -> Option<SharedSlot> {
        let turn = self
            .turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(identity.to_string())
            .or_default()
            .clone();
        let _turn = turn.lock().await;
        let (set, state) = self.keys(identity);
        let id = format!("{:032x}", rand::random::<u128>());
        let lease = self.conn.config.lease.as_millis() as u64;
        let max = max.min(1 << 20);
        let raise = raise_every.as_millis() as u64;
        loop {
            let got: (i64, i64, i64) = self
                .conn
                .run(|mut c| {
                    let (set, state, id) = (set.clone(), state.clone(), id.clone());
                    async move {
                        scripts()
                            .acquire
                            .key(set)
                            .key(state)
                            .arg(lease)
                            .arg(id)
                            .arg(max)
                            .arg(raise)
                            .invoke_async(&mut c)
                            .await
                    }
                })
                .await?;
            if got.0 > 0 {
                let mut full = self.ramp_full.lock().unwrap_or_else(|e| e.into_inner());
                if got.2 == 1 {
                    full.insert(identity.to_string(), got.1 as u64);
                } else {
                    full.remove(identity);
                }
                drop(full);
                self.held
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(set.clone())
                    .or_default()
                    .insert(id.clone());
                let (conn, held, pending) =
                    (self.conn.clone(), self.held.clone(), self.pending.clone());
                return Some(SharedSlot::new(got.0 as usize, got.1 as u64, move || {
                    release(conn, held, pending, set, id)
                }));
            }
            tokio::time::sleep(self.conn.config.poll_every).await;
        }
    }

    async fn answered(&self, identity: &str, epoch: u64) {
        let full = self
            .ramp_full
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(identity)
            .is_some_and(|e| *e == epoch);
        if full {
            return;
        }
        let (_, state) = self.keys(identity);
        self.conn
            .run(|mut c| async move {
                scripts()
                    .answered
                    .key(state)
                    .arg(epoch)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
    }

    async fn refused(&self, identity: &str, level: usize, epoch: u64) {
        let (_, state) = self.keys(identity);
        self.conn
            .run(|mut c| async move {
                scripts()
                    .refused
                    .key(state)
                    .arg(level)
                    .arg(epoch)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
    }
}

/// Slot releases under way.
#[derive(Default)]
struct Pending {
    count: std::sync::atomic::AtomicUsize,
    idle: tokio::sync::Notify,
}

/// Counts a release as done however its task ends.
struct PendingGuard(Arc<Pending>);

impl Drop for PendingGuard {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Gives a slot back (from `Drop`, so on a task of its own); if Redis cannot be told, the lease runs out.
fn release(
    conn: Arc<Conn>,
    held: Arc<Mutex<HashMap<String, HashSet<String>>>>,
    pending: Arc<Pending>,
    set: String,
    id: String,
) {
    if let Some(ids) = held.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&set) {
        ids.remove(&id);
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    pending.count.fetch_add(1, Ordering::AcqRel);
    rt.spawn(async move {
        let _done = PendingGuard(pending);
        conn.run(|mut c| async move {
            redis::cmd("ZREM")
                .arg(&set)
                .arg(&id)
                .query_async::<i64>(&mut c)
                .await
        })
        .await;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_entries_open_only_with_the_key_and_under_their_redis_key() {
        let key = TokenKey::from_bytes([7; 32]);
        let sealed = key.seal("k1", b"ghs_secret").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"ghs_secret"));
        assert_eq!(key.open("k1", &sealed).unwrap(), b"ghs_secret");
        assert!(key.open("k2", &sealed).is_err(), "moved to another key");
        assert!(TokenKey::from_bytes([8; 32]).open("k1", &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(key.open("k1", &tampered).is_err());
        assert_ne!(
            sealed,
            key.seal("k1", b"ghs_secret").unwrap(),
            "fresh nonce"
        );
        assert!(!format!("{key:?}").contains('7'));
    }

    #[test]
    fn keys_from_base64_must_be_32_bytes() {
        let b64 = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert!(TokenKey::from_base64(&b64).is_ok());
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert!(TokenKey::from_base64(&short)
            .unwrap_err()
            .to_string()
            .contains("32 bytes"));
        assert!(TokenKey::from_base64("not base64!").is_err());
    }
}
