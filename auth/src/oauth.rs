//! Signing a user in: GitHub's OAuth web application flow (with `state` and PKCE) and device flow, for OAuth apps
//! and GitHub Apps that act as a user. Both end in [`UserTokens`] for [`crate::AuthBuilder::user_token`], which
//! renews an expiring token with its refresh token from then on.
//!
//! The OAuth endpoints live on the web host (`https://github.com`, or the GHES host itself), not on the API host.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use github_auth::oauth::{AuthorizeRequest, SignIn};
//! use github_auth::{AuthBuilder, ClientCredentials};
//!
//! let creds = ClientCredentials::new("Iv23abc", "client-secret");
//! let sign_in = SignIn::builder(&creds.client_id)
//!     .client_secret(creds.client_secret.clone())
//!     .user_agent("my-app")
//!     .build()?;
//! // 1. Send the user to GitHub; keep `pending` in their session.
//! let pending = sign_in.authorize(AuthorizeRequest::new().redirect_uri("https://app.example/callback"));
//! println!("open {}", pending.url());
//! // 2. GitHub redirects back with `code` and `state`.
//! let (code, state) = ("code-from-query", "state-from-query");
//! let tokens = sign_in.exchange_code(&pending, state, code).await?;
//! // 3. The user's client; expiring tokens are renewed from here on.
//! let client = AuthBuilder::user_token(tokens, creds).user_agent("my-app").build()?;
//! # Ok(()) }
//! ```

use crate::clock::{Clock, TokioClock};
use crate::token::{UserTokens, DEFAULT_WEB_BASE};
use base64::Engine;
use http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use sha2::Digest;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Why signing in failed. GitHub answers OAuth errors with status 200 and an `error` code; each code it documents
/// for these flows has its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// `bad_verification_code`: the code is wrong, expired or already used.
    #[error("the authorization code is wrong, expired or already used (bad_verification_code)")]
    BadVerificationCode,
    /// `redirect_uri_mismatch`: the redirect URI is not the app's callback URL (or one under it).
    #[error("the redirect URI does not match the app's callback URL (redirect_uri_mismatch)")]
    RedirectUriMismatch,
    /// `incorrect_client_credentials`: the client id or secret is wrong.
    #[error("the client id or client secret is wrong (incorrect_client_credentials)")]
    IncorrectClientCredentials,
    /// The `state` GitHub sent back is not the one this sign-in sent: the redirect belongs to another sign-in (or
    /// to a forged request) and its code was not used.
    #[error("the state returned by GitHub does not match this sign-in; the code was not used")]
    StateMismatch,
    /// `expired_token`, or the device code's lifetime passed before the user authorised it.
    #[error("the device code expired before the user authorised it (expired_token)")]
    Expired,
    /// `access_denied`: the user cancelled.
    #[error("the user denied the authorisation (access_denied)")]
    AccessDenied,
    /// `device_flow_disabled`: the app has not enabled the device flow.
    #[error("the device flow is not enabled for this app (device_flow_disabled)")]
    DeviceFlowDisabled,
    /// Another error code GitHub sent.
    #[error("GitHub refused the request ({code}){}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Other {
        /// GitHub's `error`.
        code: String,
        /// GitHub's `error_description`.
        description: Option<String>,
    },
    /// The endpoint could not be reached or answered something that is not an OAuth answer.
    #[error("OAuth endpoint {}: {message}", status.map(|s| s.to_string()).unwrap_or_else(|| "unreachable".into()))]
    Http {
        /// The HTTP status, when there was an answer.
        status: Option<StatusCode>,
        /// What went wrong (causes included).
        message: String,
    },
    /// The sign-in was configured wrongly (no client secret for the web flow, bad URL…).
    #[error("sign-in configuration: {0}")]
    Config(String),
}

impl OAuthError {
    pub(crate) fn from_code(code: String, description: Option<String>) -> Self {
        match code.as_str() {
            "bad_verification_code" => OAuthError::BadVerificationCode,
            "redirect_uri_mismatch" => OAuthError::RedirectUriMismatch,
            "incorrect_client_credentials" => OAuthError::IncorrectClientCredentials,
            "expired_token" => OAuthError::Expired,
            "access_denied" => OAuthError::AccessDenied,
            "device_flow_disabled" => OAuthError::DeviceFlowDisabled,
            _ => OAuthError::Other { code, description },
        }
    }
}

/// Every field GitHub's OAuth endpoints answer with, success or error.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct OAuthAnswer {
    pub(crate) access_token: Option<String>,
    pub(crate) expires_in: Option<i64>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) refresh_token_expires_in: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) error_description: Option<String>,
    pub(crate) device_code: Option<String>,
    pub(crate) user_code: Option<String>,
    pub(crate) verification_uri: Option<String>,
    pub(crate) interval: Option<u64>,
}

/// POSTs a form to an OAuth endpoint of the web host and reads the JSON answer. Secrets travel in the body, never
/// in the URL, where proxies and logs would keep them.
pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    user_agent: &str,
    form: &[(&str, &str)],
) -> Result<(StatusCode, http::HeaderMap, OAuthAnswer), OAuthError> {
    let body = {
        let mut b = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            b.append_pair(k, v);
        }
        b.finish()
    };
    let resp = http
        .post(url)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::USER_AGENT, user_agent)
        .body(body)
        .send()
        .await
        .map_err(|e| OAuthError::Http {
            status: None,
            message: github_rest::runtime::error_chain(&e.without_url()),
        })?;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.map_err(|e| OAuthError::Http {
        status: Some(status),
        message: github_rest::runtime::error_chain(&e.without_url()),
    })?;
    // The body is not quoted in the error: an answer in another format (form-encoded, say) may hold a token.
    let answer: OAuthAnswer = serde_json::from_slice(&bytes).map_err(|_| OAuthError::Http {
        status: Some(status),
        message: format!(
            "the answer is not JSON ({} bytes, content-type {:?})",
            bytes.len(),
            headers
                .get(http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        ),
    })?;
    Ok((status, headers, answer))
}

fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the authorize URL asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct AuthorizeRequest {
    /// Where GitHub sends the user back (must be the app's callback URL or under it); GitHub's default when `None`.
    pub redirect_uri: Option<String>,
    /// OAuth scopes (OAuth apps; GitHub Apps take their permissions from the app and ignore this).
    pub scopes: Vec<String>,
    /// Suggests an account to sign in with.
    pub login: Option<String>,
    /// Whether unauthenticated users may sign up during the flow (GitHub's default: yes).
    pub allow_signup: Option<bool>,
}

impl AuthorizeRequest {
    /// Nothing but the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the redirect URI.
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// Sets the scopes.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Suggests an account.
    pub fn login(mut self, login: impl Into<String>) -> Self {
        self.login = Some(login.into());
        self
    }

    /// Allows or forbids signing up during the flow.
    pub fn allow_signup(mut self, allow: bool) -> Self {
        self.allow_signup = Some(allow);
        self
    }
}

/// A web sign-in under way: the URL to send the user to, and the `state` and PKCE verifier to keep (in the user's
/// session) until GitHub redirects back.
#[derive(Clone)]
pub struct PendingSignIn {
    url: url::Url,
    state: String,
    verifier: SecretString,
    redirect_uri: Option<String>,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("url", &self.url.as_str())
            .field("verifier", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl PendingSignIn {
    /// The authorize URL on the web host.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The `state` sent; GitHub must send the same one back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The PKCE code verifier (keep it server-side; only its SHA-256 went into the URL).
    pub fn pkce_verifier(&self) -> &SecretString {
        &self.verifier
    }

    /// The redirect URI sent, if any.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.redirect_uri.as_deref()
    }

    /// Rebuilds a pending sign-in from what a session stored (the URL is not needed any more).
    pub fn restore(
        state: impl Into<String>,
        pkce_verifier: SecretString,
        redirect_uri: Option<String>,
    ) -> Self {
        PendingSignIn {
            url: url::Url::parse("about:blank").expect("a valid URL"),
            state: state.into(),
            verifier: pkce_verifier,
            redirect_uri,
        }
    }
}

/// A user code to show, from [`SignIn::request_device_code`].
#[derive(Clone)]
pub struct DeviceCode {
    device_code: SecretString,
    /// The code the user types at [`verification_uri`](Self::verification_uri).
    pub user_code: String,
    /// Where the user goes (`https://github.com/login/device`).
    pub verification_uri: String,
    /// How long the codes are valid.
    pub expires_in: Duration,
    /// How long to wait between polls, at least.
    pub interval: Duration,
    issued_at: SystemTime,
}

impl std::fmt::Debug for DeviceCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCode")
            .field("device_code", &"[REDACTED]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

/// Builds a [`SignIn`].
#[must_use]
pub struct SignInBuilder {
    client_id: String,
    client_secret: Option<SecretString>,
    web_base: String,
    user_agent: String,
    http_config: github_rest::HttpConfig,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
}

impl SignInBuilder {
    /// The client secret (needed by the web flow's code exchange; the device flow does without).
    pub fn client_secret(mut self, secret: SecretString) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The web host (default `https://github.com`; a GHES server's own URL, e.g. `https://ghe.example.com`).
    pub fn web_url(mut self, url: impl Into<String>) -> Self {
        self.web_base = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The `User-Agent` (must not be empty).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The HTTP client's configuration (roots, proxy, time-outs), as for the API client.
    pub fn http_config(mut self, config: github_rest::HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// A ready `reqwest::Client` instead (its redirect policy should be `none`).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The clock the device flow waits with (tests pause tokio's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds it; fails on an empty `User-Agent`, an invalid web URL or HTTP configuration.
    pub fn build(self) -> Result<SignIn, OAuthError> {
        github_rest::runtime::check_user_agent(&self.user_agent)
            .map_err(|e| OAuthError::Config(e.to_string()))?;
        url::Url::parse(&self.web_base)
            .map_err(|e| OAuthError::Config(format!("invalid web URL {:?}: {e}", self.web_base)))?;
        let http = match self.http {
            Some(h) => h,
            None => self
                .http_config
                .client()
                .map_err(|e| OAuthError::Config(e.to_string()))?,
        };
        Ok(SignIn {
            client_id: self.client_id,
            client_secret: self.client_secret,
            web_base: self.web_base,
            user_agent: self.user_agent,
            http,
            clock: self.clock,
        })
    }
}

/// Signs users in with the web application flow or the device flow. Cheap to clone.
#[derive(Clone)]
pub struct SignIn {
    client_id: String,
    client_secret: Option<SecretString>,
    web_base: String,
    user_agent: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("client_id", &self.client_id)
            .field("web_base", &self.web_base)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// Starts building a sign-in for the app with this client id.
    pub fn builder(client_id: impl Into<String>) -> SignInBuilder {
        SignInBuilder {
            client_id: client_id.into(),
            client_secret: None,
            web_base: DEFAULT_WEB_BASE.to_string(),
            user_agent: concat!("github-auth/", env!("CARGO_PKG_VERSION")).to_string(),
            http_config: github_rest::HttpConfig::default(),
            http: None,
            clock: Arc::new(TokioClock::new()),
        }
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.web_base)
    }

    /// Step 1 of the web flow: a fresh random `state` and PKCE verifier, and the authorize URL carrying the state
    /// and the verifier's S256 challenge.
    pub fn authorize(&self, req: AuthorizeRequest) -> PendingSignIn {
        let state = random_token();
        let verifier = random_token();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        let mut url = url::Url::parse(&self.endpoint("/login/oauth/authorize"))
            .expect("the web URL was checked when building");
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &self.client_id);
            if let Some(r) = &req.redirect_uri {
                q.append_pair("redirect_uri", r);
            }
            if !req.scopes.is_empty() {
                q.append_pair("scope", &req.scopes.join(" "));
            }
            if let Some(l) = &req.login {
                q.append_pair("login", l);
            }
            if let Some(a) = req.allow_signup {
                q.append_pair("allow_signup", if a { "true" } else { "false" });
            }
            q.append_pair("state", &state);
            q.append_pair("code_challenge", &challenge);
            q.append_pair("code_challenge_method", "S256");
        }
        PendingSignIn {
            url,
            state,
            verifier: SecretString::from(verifier),
            redirect_uri: req.redirect_uri,
        }
    }

    /// Step 2 of the web flow: checks the `state` GitHub sent back (constant-time), then exchanges the `code` (with
    /// the PKCE verifier and the client secret) for the user's tokens.
    pub async fn exchange_code(
        &self,
        pending: &PendingSignIn,
        returned_state: &str,
        code: &str,
    ) -> Result<UserTokens, OAuthError> {
        if pending.state.is_empty()
            || !constant_time_eq(pending.state.as_bytes(), returned_state.as_bytes())
        {
            return Err(OAuthError::StateMismatch);
        }
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            OAuthError::Config("the web flow's code exchange needs the client secret".into())
        })?;
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose_secret()),
            ("code", code),
            ("code_verifier", pending.verifier.expose_secret()),
        ];
        if let Some(r) = &pending.redirect_uri {
            form.push(("redirect_uri", r));
        }
        let (status, _, answer) = post_form(
            &self.http,
            &self.endpoint("/login/oauth/access_token"),
            &self.user_agent,
            &form,
        )
        .await?;
        self.tokens(status, answer)
    }

    /// Step 1 of the device flow: a device code and the user code to show with its verification URI.
    pub async fn request_device_code<I: IntoIterator<Item = S>, S: AsRef<str>>(
        &self,
        scopes: I,
    ) -> Result<DeviceCode, OAuthError> {
        let scope = scopes
            .into_iter()
            .map(|s| s.as_ref().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let mut form = vec![("client_id", self.client_id.as_str())];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let (status, _, a) = post_form(
            &self.http,
            &self.endpoint("/login/device/code"),
            &self.user_agent,
            &form,
        )
        .await?;
        if let Some(code) = a.error {
            return Err(OAuthError::from_code(code, a.error_description));
        }
        let (Some(device_code), Some(user_code), Some(verification_uri)) =
            (a.device_code, a.user_code, a.verification_uri)
        else {
            return Err(OAuthError::Http {
                status: Some(status),
                message: "the device code answer lacks device_code, user_code or verification_uri"
                    .into(),
            });
        };
        Ok(DeviceCode {
            device_code: SecretString::from(device_code),
            user_code,
            verification_uri,
            expires_in: Duration::from_secs(a.expires_in.unwrap_or(900).max(0) as u64),
            interval: Duration::from_secs(a.interval.unwrap_or(5).max(1)),
            issued_at: self.clock.now(),
        })
    }

    /// Step 2 of the device flow: polls at the interval GitHub gave until the user authorises the device. Waits on
    /// `authorization_pending`, adds 5 s to the interval on `slow_down` (or takes GitHub's new, longer one), and
    /// stops with [`OAuthError::Expired`] (`expired_token`, or the codes' lifetime passed) or
    /// [`OAuthError::AccessDenied`].
    pub async fn poll_device(&self, code: &DeviceCode) -> Result<UserTokens, OAuthError> {
        let deadline = code.issued_at + code.expires_in;
        let mut interval = code.interval;
        loop {
            self.clock.sleep(interval).await;
            if self.clock.now() >= deadline {
                return Err(OAuthError::Expired);
            }
            let answer = post_form(
                &self.http,
                &self.endpoint("/login/oauth/access_token"),
                &self.user_agent,
                &[
                    ("client_id", self.client_id.as_str()),
                    ("device_code", code.device_code.expose_secret()),
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ],
            )
            .await;
            let (status, a) = match answer {
                Ok((status, _, a)) => (status, a),
                // A network blip or a 5xx does not end a sign-in the user may be completing: poll again.
                Err(OAuthError::Http { status, message })
                    if status.is_none_or(|s| s.is_server_error()) =>
                {
                    tracing::debug!(?status, %message, "device flow: poll failed; polling again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            match a.error.as_deref() {
                Some("authorization_pending") => continue,
                Some("slow_down") => {
                    let given = a.interval.map(Duration::from_secs).unwrap_or_default();
                    interval = given.max(interval + Duration::from_secs(5));
                    tracing::debug!(
                        interval_secs = interval.as_secs(),
                        "device flow: slowing down"
                    );
                    continue;
                }
                _ => return self.tokens(status, a),
            }
        }
    }

    /// The tokens of a successful answer, or the typed error of a refusal.
    fn tokens(&self, status: StatusCode, a: OAuthAnswer) -> Result<UserTokens, OAuthError> {
        if let Some(code) = a.error {
            return Err(OAuthError::from_code(code, a.error_description));
        }
        let Some(access) = a.access_token.filter(|_| status.is_success()) else {
            return Err(OAuthError::Http {
                status: Some(status),
                message: "no access_token in the answer".into(),
            });
        };
        let now = crate::clock::unix(self.clock.now());
        Ok(UserTokens {
            access_token: SecretString::from(access),
            expires_at: a.expires_in.map(|s| now + s),
            refresh_token: a.refresh_token.map(SecretString::from),
            refresh_token_expires_at: a.refresh_token_expires_in.map(|s| now + s),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_in() -> SignIn {
        SignIn::builder("Iv1.abc")
            .web_url("https://ghe.example.com/")
            .build()
            .unwrap()
    }

    #[test]
    fn authorize_url_carries_state_and_pkce_challenge() {
        let s = sign_in();
        let p = s.authorize(
            AuthorizeRequest::new()
                .redirect_uri("https://app.example/cb")
                .scopes(["repo", "read:org"])
                .allow_signup(false),
        );
        let u = p.url();
        assert_eq!(u.host_str(), Some("ghe.example.com"));
        assert_eq!(u.path(), "/login/oauth/authorize");
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "Iv1.abc");
        assert_eq!(q["redirect_uri"], "https://app.example/cb");
        assert_eq!(q["scope"], "repo read:org");
        assert_eq!(q["allow_signup"], "false");
        assert_eq!(q["state"], p.state());
        assert_eq!(q["code_challenge_method"], "S256");
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            sha2::Sha256::digest(p.pkce_verifier().expose_secret().as_bytes()),
        );
        assert_eq!(q["code_challenge"], expected);
        assert!(!u.as_str().contains(p.pkce_verifier().expose_secret()));
        // RFC 7636: 43 to 128 characters.
        assert_eq!(p.pkce_verifier().expose_secret().len(), 43);
        assert_ne!(
            s.authorize(AuthorizeRequest::new()).state(),
            p.state(),
            "fresh each time"
        );
    }

    #[test]
    fn error_codes_are_typed() {
        let e = |c: &str| OAuthError::from_code(c.into(), None);
        assert_eq!(e("bad_verification_code"), OAuthError::BadVerificationCode);
        assert_eq!(e("redirect_uri_mismatch"), OAuthError::RedirectUriMismatch);
        assert_eq!(
            e("incorrect_client_credentials"),
            OAuthError::IncorrectClientCredentials
        );
        assert_eq!(e("expired_token"), OAuthError::Expired);
        assert_eq!(e("access_denied"), OAuthError::AccessDenied);
        assert!(matches!(
            e("unsupported_grant_type"),
            OAuthError::Other { .. }
        ));
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn an_empty_user_agent_is_refused() {
        assert!(matches!(
            SignIn::builder("x").user_agent("").build(),
            Err(OAuthError::Config(_))
        ));
    }
}
