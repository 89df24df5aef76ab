//! Errors of the authentication layer.

use http::StatusCode;
use std::sync::Arc;

/// Everything that can go wrong while obtaining or attaching a credential.
///
/// Cheap to clone: one failed token exchange reaches every caller that waited for it as the same error.
/// Each message states its own part only; the cause follows as `source()` (anyhow's `{:#}` prints the chain once).
///
/// Inside a call made through the generated client this arrives as `github_rest::Error::Middleware`; use
/// [`AuthError::from_rest`] to get it back.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The GitHub App private key could not be used for RS256 signing.
    #[error("invalid GitHub App private key: {0}")]
    InvalidPrivateKey(String),
    /// A JWT could not be signed.
    #[error("could not sign the GitHub App JWT: {0}")]
    Jwt(String),
    /// The client was configured wrongly (base URL, missing credential...).
    #[error("authentication configuration: {0}")]
    Config(String),
    /// GitHub has no installation of this app with that id (the token exchange answered 404).
    #[error("installation {installation_id} of this GitHub App does not exist (404)")]
    InstallationNotFound {
        /// The installation id that was asked for.
        installation_id: i64,
    },
    /// No installation of this app on the given organisation, repository or user.
    #[error("this GitHub App is not installed on {target} (404)")]
    NotInstalled {
        /// `org acme`, `repo acme/widgets` or `user octocat`.
        target: String,
    },
    /// The installation-token exchange failed.
    #[error("installation token exchange for installation {installation_id} failed")]
    Exchange {
        /// The installation id.
        installation_id: i64,
        /// What GitHub (or the transport) said.
        #[source]
        source: Arc<github_rest::Error>,
    },
    /// The token exchange answered with something that is not a usable token.
    #[error("installation token exchange for installation {installation_id}: {reason}")]
    BadTokenResponse {
        /// The installation id.
        installation_id: i64,
        /// What was wrong.
        reason: String,
    },
    /// Renewing an expiring user-to-server token failed.
    #[error("refreshing the user access token failed ({status:?}): {message}")]
    Refresh {
        /// HTTP status, when the server answered.
        status: Option<StatusCode>,
        /// GitHub's `error` / `error_description`, or the transport error.
        message: String,
    },
    /// An API call made by this crate (installation lookup, listing) failed.
    #[error(transparent)]
    Api(Arc<github_rest::Error>),
    /// The token store failed.
    #[error("token store")]
    Store(#[from] crate::store::StoreError),
}

impl AuthError {
    /// The authentication error inside a generated call's error, if that is what made the call fail.
    pub fn from_rest(err: &github_rest::Error) -> Option<&AuthError> {
        match err {
            github_rest::Error::Middleware(e) => e.downcast_ref::<AuthError>(),
            _ => None,
        }
    }

    /// The HTTP status GitHub answered with, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            AuthError::InstallationNotFound { .. } | AuthError::NotInstalled { .. } => {
                Some(StatusCode::NOT_FOUND)
            }
            AuthError::Exchange { source, .. } => source.status(),
            AuthError::Api(e) => e.status(),
            AuthError::Refresh { status, .. } => *status,
            _ => None,
        }
    }
}

impl From<github_rest::Error> for AuthError {
    fn from(e: github_rest::Error) -> Self {
        AuthError::Api(Arc::new(e))
    }
}
