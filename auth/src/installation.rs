//! Installation access tokens: exchanged with the app's JWT, cached in a [`TokenStore`], refreshed before they
//! expire, one exchange at a time.

use crate::app_jwt::AppJwt;
use crate::clock::{parse_rfc3339, ServerClock};
use crate::error::AuthError;
use crate::store::{CacheKey, StoreError, StoredToken, TokenStore};
use futures::future::{BoxFuture, FutureExt, Shared};
use github_rest::types::AppsCreateInstallationAccessTokenRequest;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Default margin before `expires_at` at which a token is replaced.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long one refresh may hold the store's lock (and how long others wait for it before looking again).
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long a refresh waits in all for another process's refresh before giving up.
const MAX_LOCK_WAIT: Duration = Duration::from_secs(5 * 60);
/// A token minted by someone else while we waited is used if it has at least this long to live (seconds).
const MIN_REMAINING: i64 = 5;
/// Time a refresh may take once it holds the lock (exchanges, their retries, waiting out a back-off).
const REFRESH_BUDGET: Duration = Duration::from_secs(5 * 60);
/// A failed refresh is handed to callers arriving this soon after it, instead of asking GitHub again at once.
const FAILURE_SHARED_FOR: Duration = Duration::from_secs(2);
/// Exchanges answered with a 5xx or lost in transport are tried this many times in all (minting is safe to repeat).
const EXCHANGE_ATTEMPTS: u32 = 4;
/// The wait before the first repeated exchange; doubles each time.
const EXCHANGE_RETRY_DELAY: Duration = Duration::from_millis(500);

/// A refresh under way, shared by every caller of this process that needs it, or one that failed a moment ago.
enum Flight {
    Running(Shared<BoxFuture<'static, Result<StoredToken, AuthError>>>),
    Failed {
        at: tokio::time::Instant,
        error: AuthError,
    },
}

/// Clears a flight's entry when its task ends: a failure stays visible for [`FAILURE_SHARED_FOR`], anything else
/// (success, panic, cancellation) removes it.
struct FlightGuard(Option<(usize, CacheKey)>);

impl FlightGuard {
    fn finish(mut self, result: &Result<StoredToken, AuthError>) {
        let Some(key) = self.0.take() else { return };
        let mut map = flights().lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(_) => map.remove(&key),
            Err(e) => map.insert(
                key,
                Flight::Failed {
                    at: tokio::time::Instant::now(),
                    error: e.clone(),
                },
            ),
        };
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Some(key) = self.0.take() {
            flights()
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
        }
    }
}

/// Refreshes of this process, by store and cache key.
fn flights() -> &'static Mutex<HashMap<(usize, CacheKey), Flight>> {
    static FLIGHTS: OnceLock<Mutex<HashMap<(usize, CacheKey), Flight>>> = OnceLock::new();
    FLIGHTS.get_or_init(Default::default)
}

/// What an installation token is narrowed to: the body of the token request. The default is the installation's
/// full access.
pub type Narrowing = AppsCreateInstallationAccessTokenRequest;

/// Mints and caches the tokens of one installation (optionally narrowed). Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct InstallationTokens {
    inner: Arc<Inner>,
}

struct Inner {
    app: AppJwt,
    /// A client whose requests carry the app's JWT; it runs the generated token-exchange call.
    exchange: github_rest::Client,
    installation_id: i64,
    narrowing: Option<Narrowing>,
    key: CacheKey,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    clock: ServerClock,
    /// The installation's name for rate-limit state: every token of it, narrowed or not, shares GitHub's limits.
    credential_id: Arc<str>,
}

impl std::fmt::Debug for InstallationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationTokens")
            .field("installation_id", &self.inner.installation_id)
            .field("app", &self.inner.app.issuer())
            .field("narrowing", &self.inner.narrowing)
            .field("refresh_margin", &self.inner.margin)
            .finish_non_exhaustive()
    }
}

impl InstallationTokens {
    pub(crate) fn new(
        app: AppJwt,
        exchange: github_rest::Client,
        installation_id: i64,
        narrowing: Option<Narrowing>,
        store: Arc<dyn TokenStore>,
        margin: Duration,
        clock: ServerClock,
    ) -> Self {
        // An empty narrowing asks for the same token as none: one cache entry for both.
        let narrowing = narrowing.filter(|n| {
            n.repositories.is_some() || n.repository_ids.is_some() || n.permissions.is_some()
        });
        let narrowing_json = narrowing
            .as_ref()
            .and_then(|n| serde_json::to_string(n).ok())
            .unwrap_or_default();
        let key = CacheKey::new(
            exchange.api_base(),
            &app.issuer().to_string(),
            installation_id,
            &narrowing_json,
        );
        let credential_id = {
            use sha2::Digest;
            let seed = format!(
                "installation\0{}\0{}\0{installation_id}",
                exchange.api_base(),
                app.issuer()
            );
            Arc::from(hex::encode(&sha2::Sha256::digest(seed.as_bytes())[..16]))
        };
        InstallationTokens {
            inner: Arc::new(Inner {
                credential_id,
                app,
                exchange,
                installation_id,
                narrowing,
                key,
                store,
                margin,
                clock,
            }),
        }
    }

    /// The installation id.
    pub fn installation_id(&self) -> i64 {
        self.inner.installation_id
    }

    /// The name rate-limit state of this installation is kept under (the same for all its tokens).
    pub(crate) fn credential_id(&self) -> Arc<str> {
        self.inner.credential_id.clone()
    }

    /// The cache key of this installation's tokens.
    pub fn cache_key(&self) -> &CacheKey {
        &self.inner.key
    }

    /// A token valid for longer than the refresh margin: cached, or minted now (one exchange however many callers
    /// wait for it). Useful outside the API too, e.g. as the password of an HTTPS git clone.
    pub async fn token(&self) -> Result<SecretString, AuthError> {
        Ok(self.current().await?.token)
    }

    /// The refresh margin for `t`: the configured one, but never more than half the token's lifetime, so a
    /// short-lived token is used for half its life instead of being re-minted on every call.
    fn margin_for(&self, t: &StoredToken) -> i64 {
        let lifetime = (t.expires_at - t.minted_at).max(0);
        (self.inner.margin.as_secs() as i64).min(lifetime / 2)
    }

    pub(crate) fn is_fresh(&self, t: &StoredToken) -> bool {
        self.inner.clock.server_unix() + self.margin_for(t) < t.expires_at
    }

    /// After waiting for a refresh lock: a token someone else minted while we waited (it is not the stale one we
    /// saw) is ours as long as it has not expired.
    fn usable_after_wait(&self, t: &StoredToken, seen: Option<&StoredToken>) -> bool {
        let minted_meanwhile = seen.is_none_or(|s| !s.same_token(t));
        self.is_fresh(t)
            || (minted_meanwhile && self.inner.clock.server_unix() + MIN_REMAINING < t.expires_at)
    }

    /// The cached entry if fresh, otherwise a new one: one exchange per refresh however many callers ask.
    ///
    /// Callers in this process that find the entry stale join one shared refresh (success or error reaches every
    /// one of them); across processes the store's lock serialises refreshes, and whoever gets the lock after
    /// another refresh finds that token and uses it.
    pub(crate) async fn current(&self) -> Result<StoredToken, AuthError> {
        let seen = self.inner.store.get(&self.inner.key).await?;
        if let Some(t) = &seen {
            if self.is_fresh(t) {
                return Ok(t.clone());
            }
        }
        let slot = (self.store_id(), self.inner.key.clone());
        let flight = {
            let mut map = flights().lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&slot) {
                Some(Flight::Running(f)) => f.clone(),
                Some(Flight::Failed { at, error }) if at.elapsed() < FAILURE_SHARED_FOR => {
                    return Err(error.clone());
                }
                _ => {
                    // The refresh runs on a task of its own: callers that give up (a time-out around a call) do not
                    // park it half-way, and a panic inside it (a store's, say) becomes an error for every waiter
                    // instead of poisoning the flight. The guard clears the entry however the task ends.
                    let me = self.clone();
                    let guard = FlightGuard(Some(slot.clone()));
                    let task = tokio::spawn(async move {
                        let result =
                            tokio::time::timeout(MAX_LOCK_WAIT + REFRESH_BUDGET, me.refresh(seen))
                                .await
                                .unwrap_or_else(|_| {
                                    Err(AuthError::Store(StoreError::msg(
                                        "the installation token refresh did not finish in time",
                                    )))
                                });
                        guard.finish(&result);
                        result
                    });
                    let f = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(AuthError::Store(StoreError::msg(format!(
                                "the installation token refresh failed: {e}"
                            ))))
                        })
                    }
                    .boxed()
                    .shared();
                    map.insert(slot, Flight::Running(f.clone()));
                    f
                }
            }
        };
        flight.await
    }

    /// Identifies the store, so that clients sharing a store share refreshes and others do not.
    fn store_id(&self) -> usize {
        Arc::as_ptr(&self.inner.store) as *const () as usize
    }

    /// One refresh: take the store's lock (waiting as long as another refresh is under way), look again, and only
    /// then ask GitHub.
    async fn refresh(&self, seen: Option<StoredToken>) -> Result<StoredToken, AuthError> {
        let store = &self.inner.store;
        let key = &self.inner.key;
        let started = tokio::time::Instant::now();
        let lease = loop {
            match store.lock(key, LOCK_TTL).await {
                Ok(lease) => break lease,
                // Someone else (another process) is still refreshing: use what it stored, or keep waiting for it
                // rather than starting a second exchange.
                Err(e) if e.is_lock_timeout() => {
                    if let Some(t) = store.get(key).await? {
                        if self.usable_after_wait(&t, seen.as_ref()) {
                            return Ok(t);
                        }
                    }
                    if started.elapsed() >= MAX_LOCK_WAIT {
                        return Err(e.into());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        };
        let result = async {
            if let Some(t) = store.get(key).await? {
                if self.usable_after_wait(&t, seen.as_ref()) {
                    return Ok(t);
                }
            }
            let t = self.exchange().await?;
            // The token is good even if the store cannot keep it: hand it out, and let the next call try again.
            if let Err(e) = store.put(key, &t).await {
                tracing::warn!(error = %e, "could not store the new installation token");
            }
            Ok(t)
        }
        .await;
        if let Err(e) = store.unlock(key, lease).await {
            tracing::warn!(error = %e, "could not release the token refresh lock; it lapses after its TTL");
        }
        result
    }

    /// After GitHub rejected `stale`: drops it (unless another caller replaced it already) and returns a fresh one.
    pub(crate) async fn replace(&self, stale: &StoredToken) -> Result<StoredToken, AuthError> {
        self.inner.store.invalidate(&self.inner.key, stale).await?;
        self.current().await
    }

    /// Whether `t` was minted so recently that a 401 for it is more likely replication lag than revocation.
    pub(crate) fn just_minted(&self, t: &StoredToken, window: Duration) -> bool {
        self.inner.clock.server_unix() - t.minted_at <= window.as_secs() as i64
    }

    /// Mints a token, repeating the exchange after a 5xx or a transport failure (the other callers wait for it).
    async fn exchange(&self) -> Result<StoredToken, AuthError> {
        let mut delay = EXCHANGE_RETRY_DELAY;
        let mut attempt = 1;
        loop {
            let result = self.exchange_checked().await;
            let transient = match &result {
                Err(AuthError::Exchange { source, .. }) => match source.status() {
                    Some(s) => s.is_server_error() && s != http::StatusCode::NOT_IMPLEMENTED,
                    None => matches!(**source, github_rest::Error::Http(_)),
                },
                _ => false,
            };
            if !transient || attempt >= EXCHANGE_ATTEMPTS {
                return result;
            }
            tracing::debug!(
                installation_id = self.inner.installation_id,
                attempt,
                "token exchange failed transiently; trying again"
            );
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }

    async fn exchange_checked(&self) -> Result<StoredToken, AuthError> {
        let id = self.inner.installation_id;
        let offset_before = self.inner.clock.offset();
        let mut result = self.exchange_once().await;
        // A JWT GitHub refused because our clock is off: the Date of the refusal taught us the offset, and a JWT
        // signed with it should pass.
        if let Err(e) = &result {
            if e.status() == Some(http::StatusCode::UNAUTHORIZED)
                && (self.inner.clock.offset() - offset_before).abs() > 30
            {
                tracing::debug!(
                    installation_id = id,
                    "token exchange refused after a clock correction; retrying once"
                );
                self.inner.app.invalidate();
                result = self.exchange_once().await;
            }
        }
        result
    }

    async fn exchange_once(&self) -> Result<StoredToken, AuthError> {
        let id = self.inner.installation_id;
        tracing::debug!(installation_id = id, "minting an installation access token");
        let resp = self
            .inner
            .exchange
            .apps()
            .create_installation_access_token(id, self.inner.narrowing.as_ref())
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                if let Some(api) = e.api() {
                    self.inner.clock.observe_date(&api.headers);
                }
                if e.status() == Some(http::StatusCode::NOT_FOUND) {
                    return Err(AuthError::InstallationNotFound {
                        installation_id: id,
                    });
                }
                return Err(AuthError::Exchange {
                    installation_id: id,
                    source: Arc::new(e),
                });
            }
        };
        self.inner.clock.observe_date(&resp.headers);
        let body = resp.body;
        let expires_at =
            parse_rfc3339(&body.expires_at).ok_or_else(|| AuthError::BadTokenResponse {
                installation_id: id,
                reason: format!("unreadable expires_at {:?}", body.expires_at),
            })?;
        if body.token.is_empty() {
            return Err(AuthError::BadTokenResponse {
                installation_id: id,
                reason: "empty token".into(),
            });
        }
        let now = self.inner.clock.server_unix();
        tracing::debug!(
            installation_id = id,
            expires_in_secs = expires_at - now,
            "minted an installation access token"
        );
        Ok(StoredToken {
            token: SecretString::from(body.token),
            expires_at,
            minted_at: now,
        })
    }
}
