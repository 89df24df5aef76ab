//! The GitHub App's JSON Web Token: RS256-signed with the app's private key, cached, re-signed before it expires.

use crate::clock::ServerClock;
use crate::error::AuthError;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};

/// How long a signed JWT is valid. GitHub refuses an `exp` more than 10 minutes ahead of its clock; one minute less
/// leaves room for a clock offset we have not learnt yet.
const LIFETIME_SECS: i64 = 9 * 60;
/// `iat` is backdated by this much, as GitHub recommends, to absorb clock drift.
const BACKDATE_SECS: i64 = 60;
/// A cached JWT is re-signed once it has less than this left.
const RENEW_BEFORE_SECS: i64 = 60;

/// Who the app is: its numeric app id, or its client id (`Iv1.…`, `Iv23…`); either is accepted as `iss`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppIssuer {
    /// The numeric app id (`i64`, like every id of the generated types, e.g. `Integration::id`).
    Id(i64),
    /// The app's client id.
    ClientId(String),
}

impl std::fmt::Display for AppIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppIssuer::Id(id) => write!(f, "{id}"),
            AppIssuer::ClientId(c) => f.write_str(c),
        }
    }
}

impl From<i64> for AppIssuer {
    fn from(id: i64) -> Self {
        AppIssuer::Id(id)
    }
}

impl From<&str> for AppIssuer {
    fn from(s: &str) -> Self {
        // A client id given as text is a client id even if it were numeric-looking; app ids come as integers.
        AppIssuer::ClientId(s.to_string())
    }
}

impl From<String> for AppIssuer {
    fn from(s: String) -> Self {
        AppIssuer::ClientId(s)
    }
}

impl serde::Serialize for AppIssuer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AppIssuer::Id(id) => s.serialize_i64(*id),
            AppIssuer::ClientId(c) => s.serialize_str(c),
        }
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iat: i64,
    exp: i64,
    iss: &'a AppIssuer,
}

struct Signed {
    token: SecretString,
    /// Expiry in GitHub's time (Unix seconds).
    exp: i64,
    /// The clock offset in use when it was signed: a large change means our idea of GitHub's time was wrong.
    offset: i64,
}

/// Signs and caches the app's JWT. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct AppJwt {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: AppIssuer,
    key: EncodingKey,
    clock: ServerClock,
    cached: Mutex<Option<Signed>>,
}

impl std::fmt::Debug for AppJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppJwt")
            .field("issuer", &self.inner.issuer)
            .field("private_key", &"[REDACTED]")
            .finish()
    }
}

impl AppJwt {
    /// Loads the private key (PEM, PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`) and signs a first JWT, so a
    /// key that cannot sign fails here rather than on the first request.
    pub(crate) fn new(
        issuer: AppIssuer,
        private_key_pem: &SecretString,
        clock: ServerClock,
    ) -> Result<Self, AuthError> {
        let pem = private_key_pem.expose_secret().trim();
        if pem.is_empty() {
            return Err(AuthError::InvalidPrivateKey("the key is empty".into()));
        }
        if !pem.starts_with("-----BEGIN") {
            return Err(AuthError::InvalidPrivateKey("not a PEM document (expected -----BEGIN RSA PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)".into()));
        }
        // The error text of the PEM parser never contains key material, only what kind of problem it met.
        let key = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| AuthError::InvalidPrivateKey(e.to_string()))?;
        let jwt = AppJwt {
            inner: Arc::new(Inner {
                issuer,
                key,
                clock,
                cached: Mutex::new(None),
            }),
        };
        let first = jwt.sign().map_err(|e| match e {
            AuthError::Jwt(m) => AuthError::InvalidPrivateKey(m),
            other => other,
        })?;
        *jwt.lock() = Some(first);
        Ok(jwt)
    }

    /// A loader for tests and tools: the same checks as the client builder, with the system clock.
    pub fn from_pem(
        issuer: impl Into<AppIssuer>,
        private_key_pem: &SecretString,
    ) -> Result<Self, AuthError> {
        AppJwt::new(
            issuer.into(),
            private_key_pem,
            ServerClock::new(Arc::new(crate::clock::SystemClock)),
        )
    }

    /// The app's `iss`.
    pub fn issuer(&self) -> &AppIssuer {
        &self.inner.issuer
    }

    /// A JWT valid for at least another minute: the cached one, or a freshly signed one.
    pub fn token(&self) -> Result<SecretString, AuthError> {
        let now = self.inner.clock.server_unix();
        let offset = self.inner.clock.offset();
        let mut cached = self.lock();
        if let Some(c) = cached.as_ref() {
            if now < c.exp - RENEW_BEFORE_SECS && (c.offset - offset).abs() <= 30 {
                return Ok(c.token.clone());
            }
        }
        let fresh = self.sign()?;
        tracing::debug!(iss = %self.inner.issuer, exp = fresh.exp, "signed a new GitHub App JWT");
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached JWT so the next call signs a new one (after GitHub rejected it).
    pub(crate) fn invalidate(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Signed>> {
        self.inner.cached.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sign(&self) -> Result<Signed, AuthError> {
        let now = self.inner.clock.server_unix();
        let claims = Claims {
            iat: now - BACKDATE_SECS,
            exp: now + LIFETIME_SECS,
            iss: &self.inner.issuer,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.inner.key)
            .map_err(|e| AuthError::Jwt(e.to_string()))?;
        Ok(Signed {
            token: SecretString::from(token),
            exp: claims.exp,
            offset: self.inner.clock.offset(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, SystemClock};
    use std::time::{Duration, SystemTime};

    const PKCS1: &str = include_str!("../tests/data/app-key-pkcs1.pem");
    const PKCS8: &str = include_str!("../tests/data/app-key-pkcs8.pem");

    fn claims_of(token: &str) -> serde_json::Value {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn signs_with_pkcs1_and_pkcs8_keys() {
        for pem in [PKCS1, PKCS8] {
            let jwt = AppJwt::new(
                AppIssuer::Id(42),
                &SecretString::from(pem),
                ServerClock::new(Arc::new(SystemClock)),
            )
            .unwrap();
            let t = jwt.token().unwrap();
            let header = t.expose_secret().split('.').next().unwrap().to_string();
            use base64::Engine;
            let header: serde_json::Value = serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(header)
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["alg"], "RS256");
            let c = claims_of(t.expose_secret());
            assert_eq!(c["iss"], 42);
        }
    }

    #[test]
    fn claims_follow_githubs_rules_and_cache_until_near_expiry() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let local = ManualClock::new(start);
        let jwt = AppJwt::new(
            AppIssuer::ClientId("Iv23abc".into()),
            &SecretString::from(PKCS8),
            ServerClock::new(Arc::new(local.clone())),
        )
        .unwrap();
        let t1 = jwt.token().unwrap();
        let c = claims_of(t1.expose_secret());
        assert_eq!(c["iss"], "Iv23abc");
        assert_eq!(c["iat"], 1_700_000_000 - 60);
        assert!(c["exp"].as_i64().unwrap() <= 1_700_000_000 + 600);
        assert!(c["exp"].as_i64().unwrap() > 1_700_000_000 + 60);
        local.advance(Duration::from_secs(5 * 60));
        assert_eq!(
            jwt.token().unwrap().expose_secret(),
            t1.expose_secret(),
            "still valid: cached"
        );
        local.advance(Duration::from_secs(4 * 60));
        let t2 = jwt.token().unwrap();
        assert_ne!(
            t2.expose_secret(),
            t1.expose_secret(),
            "near expiry: re-signed"
        );
        assert_eq!(
            claims_of(t2.expose_secret())["iat"],
            1_700_000_000 + 9 * 60 - 60
        );
    }

    #[test]
    fn bad_keys_are_clear_errors() {
        let clock = || ServerClock::new(Arc::new(SystemClock));
        for (pem, what) in [
            ("", "empty"),
            ("ghp_notakey", "PEM"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
                "",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
                "",
            ),
            (include_str!("../tests/data/app-key-public.pem"), ""),
        ] {
            let err = AppJwt::new(AppIssuer::Id(1), &SecretString::from(pem), clock()).unwrap_err();
            assert!(
                matches!(err, AuthError::InvalidPrivateKey(_)),
                "{pem:?}: {err:?}"
            );
            assert!(err.to_string().contains(what), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let jwt = AppJwt::from_pem(7, &SecretString::from(PKCS1)).unwrap();
        let dbg = format!("{jwt:?}");
        assert!(dbg.contains("REDACTED") && !dbg.contains("MII"), "{dbg}");
    }
}
