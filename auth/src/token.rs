//! Bearer tokens: personal access tokens, Actions' `GITHUB_TOKEN`, OAuth user tokens, and expiring user-to-server
//! tokens renewed with their refresh token.

use crate::clock::ServerClock;
use crate::error::AuthError;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

/// Default host of GitHub's OAuth endpoints (`/login/oauth/access_token`).
pub const DEFAULT_WEB_BASE: &str = "https://github.com";
/// A user token is renewed once it has less than this left.
const RENEW_BEFORE_SECS: i64 = 60;

/// An OAuth app's (or GitHub App's) client id and secret.
#[derive(Clone)]
pub struct ClientCredentials {
    /// The client id (not secret).
    pub client_id: String,
    /// The client secret.
    pub client_secret: SecretString,
}

impl ClientCredentials {
    /// Client id and secret.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        ClientCredentials {
            client_id: client_id.into(),
            client_secret: SecretString::from(client_secret.into()),
        }
    }
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[REDACTED]")
            .finish()
    }
}

/// A user's access token with, for expiring user-to-server tokens, its refresh token. Times are Unix seconds.
#[derive(Clone)]
pub struct UserTokens {
    /// The access token (`ghu_…`, `gho_…`).
    pub access_token: SecretString,
    /// When the access token expires; `None` for tokens that do not expire.
    pub expires_at: Option<i64>,
    /// The refresh token (`ghr_…`).
    pub refresh_token: Option<SecretString>,
    /// When the refresh token expires.
    pub refresh_token_expires_at: Option<i64>,
}

impl UserTokens {
    /// A token that does not expire.
    pub fn new(access_token: impl Into<String>) -> Self {
        UserTokens {
            access_token: SecretString::from(access_token.into()),
            expires_at: None,
            refresh_token: None,
            refresh_token_expires_at: None,
        }
    }

    /// An expiring token and its refresh token.
    pub fn expiring(
        access_token: impl Into<String>,
        expires_at: i64,
        refresh_token: impl Into<String>,
    ) -> Self {
        UserTokens {
            access_token: SecretString::from(access_token.into()),
            expires_at: Some(expires_at),
            refresh_token: Some(SecretString::from(refresh_token.into())),
            refresh_token_expires_at: None,
        }
    }
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserTokens")
            .field("access_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("refresh_token_expires_at", &self.refresh_token_expires_at)
            .finish()
    }
}

/// Called with the new tokens after each renewal, so the caller can persist the rotated refresh token.
pub type OnRefresh = Arc<dyn Fn(&UserTokens) + Send + Sync>;

/// Where a bearer token comes from.
#[derive(Clone)]
pub(crate) enum TokenSource {
    /// A token used as is (personal, Actions, non-expiring OAuth).
    Static(SecretString),
    /// A user-to-server token renewed with its refresh token.
    User(Arc<UserTokenState>),
}

pub(crate) struct UserTokenState {
    pub(crate) creds: ClientCredentials,
    pub(crate) web_base: String,
    pub(crate) http: reqwest::Client,
    pub(crate) clock: ServerClock,
    pub(crate) user_agent: String,
    pub(crate) on_refresh: Option<OnRefresh>,
    /// Held across a renewal, so concurrent callers wait for the one renewal in flight.
    pub(crate) current: tokio::sync::Mutex<UserTokens>,
}

impl TokenSource {
    /// The token to send now, renewed first if it is about to expire.
    pub(crate) async fn get(&self) -> Result<SecretString, AuthError> {
        match self {
            TokenSource::Static(t) => Ok(t.clone()),
            TokenSource::User(s) => {
                let mut cur = s.current.lock().await;
                let now = s.clock.server_unix();
                if cur.expires_at.is_some_and(|e| now >= e - RENEW_BEFORE_SECS)
                    && cur.refresh_token.is_some()
                {
                    s.refresh(&mut cur).await?;
                }
                Ok(cur.access_token.clone())
            }
        }
    }

    /// After GitHub refused `used`: renews it unless another caller already did. `None` when it cannot be renewed.
    pub(crate) async fn renew_after_rejection(
        &self,
        used: &SecretString,
    ) -> Result<Option<SecretString>, AuthError> {
        match self {
            TokenSource::Static(_) => Ok(None),
            TokenSource::User(s) => {
                let mut cur = s.current.lock().await;
                if cur.access_token.expose_secret() != used.expose_secret() {
                    return Ok(Some(cur.access_token.clone()));
                }
                if cur.refresh_token.is_none() {
                    return Ok(None);
                }
                s.refresh(&mut cur).await?;
                Ok(Some(cur.access_token.clone()))
            }
        }
    }
}

impl UserTokenState {
    async fn refresh(&self, cur: &mut UserTokens) -> Result<(), AuthError> {
        let Some(refresh_token) = cur.refresh_token.as_ref() else {
            return Err(AuthError::Refresh {
                status: None,
                message: "no refresh token".into(),
            });
        };
        let now = self.clock.server_unix();
        if cur.refresh_token_expires_at.is_some_and(|e| now >= e) {
            return Err(AuthError::Refresh {
                status: None,
                message: "the refresh token has expired; the user must authorise again".into(),
            });
        }
        let url = format!(
            "{}/login/oauth/access_token",
            self.web_base.trim_end_matches('/')
        );
        tracing::debug!(client_id = %self.creds.client_id, "renewing the user access token with its refresh token");
        let refused = |status, message| AuthError::Refresh { status, message };
        let (status, headers, r) = crate::oauth::post_form(
            &self.http,
            &url,
            &self.user_agent,
            &[
                ("client_id", &self.creds.client_id),
                ("client_secret", self.creds.client_secret.expose_secret()),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose_secret()),
            ],
        )
        .await
        .map_err(|e| match e {
            crate::oauth::OAuthError::Http { status, message } => refused(status, message),
            other => refused(None, other.to_string()),
        })?;
        self.clock.observe_date(&headers);
        // GitHub reports OAuth errors with status 200 and an `error` field.
        if let Some(err) = r.error {
            let message = match r.error_description {
                Some(d) => format!("{err}: {d}"),
                None => err,
            };
            return Err(refused(Some(status), message));
        }
        let (Some(access), true) = (r.access_token, status.is_success()) else {
            return Err(refused(
                Some(status),
                "no access_token in the response".into(),
            ));
        };
        let now = self.clock.server_unix();
        cur.access_token = SecretString::from(access);
        cur.expires_at = r.expires_in.map(|s| now + s);
        if let Some(rt) = r.refresh_token {
            cur.refresh_token = Some(SecretString::from(rt));
        }
        if let Some(s) = r.refresh_token_expires_in {
            cur.refresh_token_expires_at = Some(now + s);
        }
        tracing::debug!(expires_at = ?cur.expires_at, "renewed the user access token");
        if let Some(cb) = &self.on_refresh {
            cb(cur);
        }
        Ok(())
    }
}
