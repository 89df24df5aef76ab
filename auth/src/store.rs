//! Where installation tokens are cached, and how refreshes are coordinated.
//!
//! The in-memory [`MemoryStore`] serves one process. A store shared by many worker processes (Redis, a database)
//! implements the same [`TokenStore`] trait (the `redis` feature has one, `github_auth::fleet::RedisTokenStore`, which
//! also encrypts the entries); the entries and keys are plain data so they can cross a process boundary:
//!
//! - **keys** are strings from [`CacheKey::as_str`] (`github-auth:v1:<api base>:<app>:<installation>:<narrowing hash>`);
//! - **entries** are [`StoredToken`]s, written with [`StoredToken::encode`] and read with [`StoredToken::decode`]
//!   (JSON; it contains the token, so the store must be as private as the app's key);
//! - **get/put**: `GET key` / `SET key value PXAT <expires_at in ms>` so Redis drops an entry once it is useless;
//! - **lock** (one refresh at a time across processes): `SET key:lock <random id> NX PX <ttl>`, retried with a short
//!   sleep (or woken by a pub/sub message on `key:lock`) until it succeeds or `ttl` has passed; the lease carries the
//!   random id. The lease's TTL bounds how long a crashed holder blocks the others;
//! - **unlock**: a Lua script deleting `key:lock` only if it still holds the lease's id (compare-and-delete), so a
//!   holder whose lease timed out cannot release someone else's;
//! - **invalidate**: a Lua script deleting `key` only if it still holds the rejected token (compare-and-delete), so a
//!   worker that saw a revoked token does not throw away the fresh one another worker just stored.
//!
//! The refresh protocol on top (in the installation provider) is: read; if not fresh, take the lock; read again (a
//! holder before us may have refreshed); only then call GitHub; write; unlock. Every waiter re-reads after the lock,
//! so N callers on one expired entry cause one exchange per lock holder that finds it still stale: one in all.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A store failed: the token store, the rate-limit state or the conditional-request cache (connection, decoding, a
/// lock that could not be taken in time). One type for every store of this crate; it is cheap to clone, so one
/// failure can reach every caller waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
    timed_out: bool,
}

impl StoreError {
    /// A failure described by `message` (its causes included: the error keeps no `source()`).
    pub fn msg(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
            timed_out: false,
        }
    }

    /// Wraps any error, its causes written out once each.
    pub fn new(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let e: Box<dyn std::error::Error + Send + Sync> = e.into();
        let message = github_rest::runtime::error_chain(&*e);
        Self::msg(message)
    }

    /// The refresh lock was still held by someone else after `waited`.
    pub fn lock_timeout(waited: Duration) -> Self {
        StoreError {
            message: format!("timed out after {waited:?} waiting for the refresh lock"),
            timed_out: true,
        }
    }

    /// Whether this is a lock time-out (another caller is still refreshing), as opposed to a broken store.
    pub fn is_lock_timeout(&self) -> bool {
        self.timed_out
    }
}

/// The cache key of an installation token: API base URL, app, installation and narrowing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    /// Builds the key. `narrowing` is the JSON of the token request body (empty for an un-narrowed token); it is
    /// hashed so keys stay short however many repositories are named.
    pub fn new(api_base: &str, app: &str, installation_id: i64, narrowing: &str) -> Self {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(narrowing.as_bytes());
        let hex: String = hash.iter().take(12).map(|b| format!("{b:02x}")).collect();
        CacheKey(format!(
            "github-auth:v1:{api_base}:{app}:{installation_id}:{hex}"
        ))
    }

    /// The key as a string, for an external store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A cached installation token.
#[derive(Clone)]
pub struct StoredToken {
    /// The token.
    pub token: SecretString,
    /// When GitHub says it expires, in GitHub's time (Unix seconds).
    pub expires_at: i64,
    /// When it was minted, in GitHub's time (Unix seconds); a 401 soon after minting is replication lag.
    pub minted_at: i64,
}

impl std::fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredToken")
            .field("token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("minted_at", &self.minted_at)
            .finish()
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Wire<'a> {
    token: std::borrow::Cow<'a, str>,
    expires_at: i64,
    minted_at: i64,
}

impl StoredToken {
    /// Serialises the entry for an external store. The output contains the token.
    pub fn encode(&self) -> Vec<u8> {
        let w = Wire {
            token: self.token.expose_secret().into(),
            expires_at: self.expires_at,
            minted_at: self.minted_at,
        };
        serde_json::to_vec(&w).unwrap_or_default()
    }

    /// Reads an entry written by [`StoredToken::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let w: Wire<'_> = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::msg(format!("undecodable token entry: {e}")))?;
        Ok(StoredToken {
            token: SecretString::from(w.token.into_owned()),
            expires_at: w.expires_at,
            minted_at: w.minted_at,
        })
    }

    /// Whether this entry holds the same token as `other`.
    pub fn same_token(&self, other: &StoredToken) -> bool {
        self.token.expose_secret() == other.token.expose_secret()
    }
}

/// Proof of holding a key's refresh lock. Dropping it without [`TokenStore::unlock`] still releases a local lock;
/// an external store's lock then lapses after its TTL.
pub struct Lease {
    /// The holder's id (a random value for an external store).
    pub id: String,
    /// Whatever a local store needs to keep alive while the lock is held.
    pub guard: Option<Box<dyn Any + Send>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A cache of installation tokens shared by every clone of a client, and possibly by many processes.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The entry under `key`, if any (expired entries may be returned; the caller checks).
    async fn get(&self, key: &CacheKey) -> Result<Option<StoredToken>, StoreError>;
    /// Stores an entry, replacing any.
    async fn put(&self, key: &CacheKey, token: &StoredToken) -> Result<(), StoreError>;
    /// Removes the entry only if it still holds `stale`'s token (compare-and-delete).
    async fn invalidate(&self, key: &CacheKey, stale: &StoredToken) -> Result<(), StoreError>;
    /// Waits until this caller holds `key`'s refresh lock. `ttl` bounds how long the lock may be held (and how long
    /// to wait for it).
    async fn lock(&self, key: &CacheKey, ttl: Duration) -> Result<Lease, StoreError>;
    /// Releases a lock taken with [`TokenStore::lock`].
    async fn unlock(&self, key: &CacheKey, lease: Lease) -> Result<(), StoreError>;
}

/// The in-process store: a map and one async mutex per key.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<CacheKey, StoredToken>>,
    locks: Mutex<HashMap<CacheKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("MemoryStore").field("entries", &n).finish()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, StoredToken>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn get(&self, key: &CacheKey) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.entries().get(key).cloned())
    }

    async fn put(&self, key: &CacheKey, token: &StoredToken) -> Result<(), StoreError> {
        self.entries().insert(key.clone(), token.clone());
        Ok(())
    }

    async fn invalidate(&self, key: &CacheKey, stale: &StoredToken) -> Result<(), StoreError> {
        let mut entries = self.entries();
        if entries.get(key).is_some_and(|t| t.same_token(stale)) {
            entries.remove(key);
        }
        Ok(())
    }

    async fn lock(&self, key: &CacheKey, ttl: Duration) -> Result<Lease, StoreError> {
        let m = self
            .locks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        // Waiters queue fairly on the mutex; the timeout keeps a stuck refresh from hanging every caller forever.
        let guard = tokio::time::timeout(ttl, m.lock_owned())
            .await
            .map_err(|_| StoreError::lock_timeout(ttl))?;
        Ok(Lease {
            id: String::new(),
            guard: Some(Box::new(guard)),
        })
    }

    async fn unlock(&self, _key: &CacheKey, lease: Lease) -> Result<(), StoreError> {
        drop(lease);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_hide_the_token_in_debug() {
        let t = StoredToken {
            token: SecretString::from("ghs_secret"),
            expires_at: 10,
            minted_at: 5,
        };
        let back = StoredToken::decode(&t.encode()).unwrap();
        assert!(back.same_token(&t));
        assert_eq!((back.expires_at, back.minted_at), (10, 5));
        assert!(!format!("{t:?}").contains("ghs_secret"));
        assert!(StoredToken::decode(b"{").is_err());
    }

    #[test]
    fn keys_differ_by_every_part() {
        let k = CacheKey::new("https://api.github.com", "1", 2, "");
        assert_ne!(k, CacheKey::new("https://ghe.example/api/v3", "1", 2, ""));
        assert_ne!(k, CacheKey::new("https://api.github.com", "9", 2, ""));
        assert_ne!(k, CacheKey::new("https://api.github.com", "1", 3, ""));
        assert_ne!(
            k,
            CacheKey::new(
                "https://api.github.com",
                "1",
                2,
                r#"{"repositories":["a"]}"#
            )
        );
        assert_eq!(k, CacheKey::new("https://api.github.com", "1", 2, ""));
    }

    #[tokio::test]
    async fn invalidate_only_removes_the_stale_token() {
        let s = MemoryStore::new();
        let k = CacheKey::new("a", "b", 1, "");
        let old = StoredToken {
            token: SecretString::from("old"),
            expires_at: 1,
            minted_at: 0,
        };
        let new = StoredToken {
            token: SecretString::from("new"),
            expires_at: 2,
            minted_at: 1,
        };
        s.put(&k, &new).await.unwrap();
        s.invalidate(&k, &old).await.unwrap();
        assert!(s.get(&k).await.unwrap().unwrap().same_token(&new));
        s.invalidate(&k, &new).await.unwrap();
        assert!(s.get(&k).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn lock_excludes_and_times_out() {
        let s = MemoryStore::new();
        let k = CacheKey::new("a", "b", 1, "");
        let lease = s.lock(&k, Duration::from_secs(1)).await.unwrap();
        let e = s.lock(&k, Duration::from_millis(50)).await.unwrap_err();
        assert!(e.is_lock_timeout(), "{e}");
        s.unlock(&k, lease).await.unwrap();
        assert!(s.lock(&k, Duration::from_millis(50)).await.is_ok());
    }
}
