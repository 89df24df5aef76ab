//! Installation access tokens: exchanged with the app's JWT, cached in a [`TokenStore`], refreshed before they
//! expire, one exchange at a time.

use crate::app_jwt::AppJwt;
use crate::clock::{parse_rfc3339, ServerClock};
use crate::error::AuthError;
use crate::store::{CacheKey, StoredToken, TokenStore};
use github_rest::types::AppsCreateInstallationAccessTokenRequest;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

/// Default margin before `expires_at` at which a token is replaced.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// How long one refresh may hold the store's lock (and how long others wait for it).
const LOCK_TTL: Duration = Duration::from_secs(30);

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
        InstallationTokens {
            inner: Arc::new(Inner {
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

    /// The cache key of this installation's tokens.
    pub fn cache_key(&self) -> &CacheKey {
        &self.inner.key
    }

    /// A token valid for longer than the refresh margin: cached, or minted now (one exchange however many callers
    /// wait for it). Useful outside the API too, e.g. as the password of an HTTPS git clone.
    pub async fn token(&self) -> Result<SecretString, AuthError> {
        Ok(self.current().await?.token)
    }

    fn is_fresh(&self, t: &StoredToken) -> bool {
        self.inner.clock.server_unix() + (self.inner.margin.as_secs() as i64) < t.expires_at
    }

    /// The cached entry if fresh, otherwise a new one.
    pub(crate) async fn current(&self) -> Result<StoredToken, AuthError> {
        let store = &self.inner.store;
        let key = &self.inner.key;
        if let Some(t) = store.get(key).await? {
            if self.is_fresh(&t) {
                return Ok(t);
            }
        }
        let lease = store.lock(key, LOCK_TTL).await?;
        let result = async {
            // Whoever held the lock before us may have refreshed already.
            if let Some(t) = store.get(key).await? {
                if self.is_fresh(&t) {
                    return Ok(t);
                }
            }
            let t = self.exchange().await?;
            store.put(key, &t).await?;
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

    async fn exchange(&self) -> Result<StoredToken, AuthError> {
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
                    source: Box::new(e),
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
