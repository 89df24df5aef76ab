//! One builder for an authenticated [`github_rest::Client`] in each mode, and the [`App`] handle.

use crate::app_jwt::{AppIssuer, AppJwt};
use crate::clock::{Clock, ServerClock, SystemClock};
use crate::error::AuthError;
use crate::installation::{InstallationTokens, Narrowing, DEFAULT_REFRESH_MARGIN};
use crate::layer::{AuthLayer, Credential, LagRetry};
use crate::middleware::MiddlewareConfig;
use crate::store::{MemoryStore, TokenStore};
use crate::token::{
    ClientCredentials, OnRefresh, TokenSource, UserTokenState, UserTokens, DEFAULT_WEB_BASE,
};
use github_rest::types::{AppPermissions, Installation};
use github_rest::Hosts;
use secrecy::SecretString;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The store every client uses unless given another: clients built separately for the same installation share
/// its tokens.
fn default_store() -> Arc<dyn TokenStore> {
    static STORE: OnceLock<Arc<MemoryStore>> = OnceLock::new();
    STORE.get_or_init(|| Arc::new(MemoryStore::new())).clone()
}

enum Mode {
    Token(SecretString),
    User(UserTokens, ClientCredentials),
    App {
        issuer: AppIssuer,
        key: SecretString,
    },
    Installation {
        issuer: AppIssuer,
        key: SecretString,
        installation_id: i64,
    },
    OAuthApp(ClientCredentials),
}

/// Builds a [`github_rest::Client`] that authenticates every generated endpoint call.
///
/// Pick the mode with the constructor, set hosts and options, then [`build`](Self::build).
#[must_use]
pub struct AuthBuilder {
    mode: Mode,
    api_base: String,
    uploads_base: Option<String>,
    user_agent: String,
    web_base: String,
    http: Option<reqwest::Client>,
    store: Option<Arc<dyn TokenStore>>,
    margin: Duration,
    clock: Arc<dyn Clock>,
    narrowing: Narrowing,
    lag: LagRetry,
    on_refresh: Option<OnRefresh>,
    middleware: Option<MiddlewareConfig>,
    http_config: github_rest::HttpConfig,
}

impl std::fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.mode {
            Mode::Token(_) => "token".to_string(),
            Mode::User(..) => "user token".to_string(),
            Mode::App { issuer, .. } => format!("app {issuer}"),
            Mode::Installation {
                issuer,
                installation_id,
                ..
            } => format!("app {issuer}, installation {installation_id}"),
            Mode::OAuthApp(c) => format!("oauth app {}", c.client_id),
        };
        f.debug_struct("AuthBuilder")
            .field("mode", &mode)
            .field("api_base", &self.api_base)
            .field("uploads_base", &self.uploads_base)
            .finish_non_exhaustive()
    }
}

impl AuthBuilder {
    fn new(mode: Mode) -> Self {
        AuthBuilder {
            mode,
            api_base: github_rest::runtime::DEFAULT_API_BASE.to_string(),
            uploads_base: None,
            user_agent: concat!("github-auth/", env!("CARGO_PKG_VERSION")).to_string(),
            web_base: DEFAULT_WEB_BASE.to_string(),
            http: None,
            store: None,
            margin: DEFAULT_REFRESH_MARGIN,
            clock: Arc::new(SystemClock),
            narrowing: Narrowing::default(),
            lag: LagRetry::default(),
            on_refresh: None,
            middleware: None,
            http_config: github_rest::HttpConfig::default(),
        }
    }

    /// A personal access token, an OAuth user token or Actions' `GITHUB_TOKEN`, sent as `Authorization: Bearer`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let token = SecretString::from(std::env::var("GITHUB_TOKEN")?);
    /// let client = AuthBuilder::token(token).build()?;
    /// let app = client.apps().get_by_slug("dependabot").await?;
    /// # Ok(()) }
    /// ```
    pub fn token(token: SecretString) -> Self {
        Self::new(Mode::Token(token))
    }

    /// An expiring user-to-server token, renewed with its refresh token (and the app's client id and secret) when
    /// it expires or GitHub refuses it. Set [`on_token_refresh`](Self::on_token_refresh) to persist the new tokens.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, ClientCredentials, UserTokens};
    /// let tokens = UserTokens::expiring("ghu_…", 1_900_000_000, "ghr_…");
    /// let client = AuthBuilder::user_token(tokens, ClientCredentials::new("Iv23abc", "secret"))
    ///     .on_token_refresh(|t| { /* save t.refresh_token */ })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn user_token(tokens: UserTokens, app: ClientCredentials) -> Self {
        Self::new(Mode::User(tokens, app))
    }

    /// The GitHub App itself, authenticated with its JWT (`iss` = app id or client id, RS256 with the private key
    /// in PEM, PKCS#1 or PKCS#8). A key that cannot sign fails in [`build`](Self::build).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let key = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
    /// let client = AuthBuilder::app(12345, key).build()?;
    /// let me = client.apps().get_authenticated().await?;
    /// # Ok(()) }
    /// ```
    pub fn app(issuer: impl Into<AppIssuer>, private_key_pem: SecretString) -> Self {
        Self::new(Mode::App {
            issuer: issuer.into(),
            key: private_key_pem,
        })
    }

    /// An installation of a GitHub App: installation tokens are minted with the app's JWT, cached, and renewed
    /// before they expire; operations that take the app's JWT get it.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let key = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
    /// let client = AuthBuilder::installation(12345, key, 987654)
    ///     .repositories(["widgets"])
    ///     .build()?;
    /// let repo = client.apps().get_repo_installation("acme", "widgets").await?;
    /// # Ok(()) }
    /// ```
    pub fn installation(
        issuer: impl Into<AppIssuer>,
        private_key_pem: SecretString,
        installation_id: i64,
    ) -> Self {
        Self::new(Mode::Installation {
            issuer: issuer.into(),
            key: private_key_pem,
            installation_id,
        })
    }

    /// An OAuth app (or a GitHub App's client credentials): client id and secret as HTTP Basic, for the
    /// `/applications/{client_id}/…` endpoints.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, ClientCredentials};
    /// use github_rest::types::AppsCheckTokenRequest;
    /// let client = AuthBuilder::oauth_app(ClientCredentials::new("Iv23abc", "secret")).build()?;
    /// let check = AppsCheckTokenRequest::new("gho_…");
    /// let auth = client.apps().check_token("Iv23abc", &check).await?;
    /// # Ok(()) }
    /// ```
    pub fn oauth_app(credentials: ClientCredentials) -> Self {
        Self::new(Mode::OAuthApp(credentials))
    }

    /// The REST API base URL (default `https://api.github.com`; GHES: `https://HOST/api/v3`). Credentials are sent
    /// to this host and the uploads host only.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The uploads base URL (default `https://uploads.github.com` for api.github.com, else the API base).
    pub fn uploads_url(mut self, url: impl Into<String>) -> Self {
        self.uploads_base = Some(url.into().trim_end_matches('/').to_string());
        self
    }

    /// The web host of the OAuth endpoints used to renew user tokens (default `https://github.com`).
    pub fn web_url(mut self, url: impl Into<String>) -> Self {
        self.web_base = url.into().trim_end_matches('/').to_string();
        self
    }

    /// GitHub Enterprise Server by hostname: the API at `https://HOST/api/v3`, uploads at `https://HOST/api/uploads`
    /// and the OAuth endpoints that renew user tokens at `https://HOST`.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let token = SecretString::from(std::env::var("GHES_TOKEN")?);
    /// let client = AuthBuilder::token(token)
    ///     .enterprise_host("ghe.example.com")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn enterprise_host(self, host: &str) -> Self {
        let host = host.trim_end_matches('/');
        self.enterprise_url(&format!("https://{host}"))
    }

    /// GitHub Enterprise Server by its web URL, scheme included (`http://…` is taken only when written here): the
    /// API at `URL/api/v3`, uploads at `URL/api/uploads`, and the OAuth endpoints at `URL`.
    pub fn enterprise_url(self, url: &str) -> Self {
        let (api, uploads) = github_rest::runtime::enterprise_bases(url);
        self.base_url(api).uploads_url(uploads).web_url(url)
    }

    /// The `User-Agent` sent with every request (GitHub refuses requests without one; an empty one fails
    /// [`build`](Self::build)).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Time-outs of the default HTTP client (default: 10 s to connect, 30 s of silence while waiting for any part
    /// of a response, no limit on the whole exchange so large downloads finish). Ignored with
    /// [`http_client`](Self::http_client).
    pub fn timeouts(mut self, timeouts: github_rest::Timeouts) -> Self {
        self.http_config.timeouts = timeouts;
        self
    }

    /// The configuration of the default HTTP client, used for the API, uploads and web hosts alike: time-outs,
    /// extra root certificates (a GHES behind an internal certificate authority), the platform's native roots,
    /// and the proxy (default: from `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`…). Ignored with
    /// [`http_client`](Self::http_client).
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let pem = std::fs::read("corp-root-ca.pem")?;
    /// let network = github_rest::HttpConfig::default()
    ///     .add_root_certificates_pem(&pem)?
    ///     .proxy("http://proxy.corp.example:3128");
    /// let client = AuthBuilder::token(SecretString::from("ghp_…"))
    ///     .base_url("https://ghe.corp.example/api/v3")
    ///     .http_config(network)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn http_config(mut self, config: github_rest::HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// The `reqwest::Client` under the middleware. The default follows no redirects itself, so that 3xx responses
    /// reach the `github_rest::Client`, which follows those of moved resources through the whole stack and returns
    /// the rest as the spec describes them; it has the [`timeouts`](Self::timeouts). A client that follows
    /// redirects itself drops `Authorization` when the host changes.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Where installation tokens are cached (default: one in-memory store shared by the whole process).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How long before `expires_at` an installation token is replaced (default 5 minutes).
    pub fn refresh_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The clock (tests move a [`crate::ManualClock`] instead of waiting).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How a 401 on a just-minted installation token is retried: `retries` times, the first after `delay`
    /// (doubling), within `window` of minting. Default: 3 retries from 250 ms, within 10 s.
    pub fn replication_lag_retry(
        mut self,
        window: Duration,
        retries: u32,
        delay: Duration,
    ) -> Self {
        self.lag = LagRetry {
            window,
            retries,
            delay,
        };
        self
    }

    /// Narrows installation tokens to these repositories (by name).
    pub fn repositories<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.narrowing.repositories = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Narrows installation tokens to these repositories (by id).
    pub fn repository_ids(mut self, ids: impl IntoIterator<Item = i64>) -> Self {
        self.narrowing.repository_ids = Some(ids.into_iter().collect());
        self
    }

    /// Narrows installation tokens to these permissions.
    pub fn permissions(mut self, permissions: AppPermissions) -> Self {
        self.narrowing.permissions = Some(permissions);
        self
    }

    /// Called with the new tokens each time a user token is renewed (the refresh token rotates: persist it).
    pub fn on_token_refresh(mut self, f: impl Fn(&UserTokens) + Send + Sync + 'static) -> Self {
        self.on_refresh = Some(Arc::new(f));
        self
    }

    /// Adds the middleware layers (rate limits, retries, conditional cache, tracing) under the authentication
    /// layer, so they see authenticated requests. Without this call the stack has the authentication layer only.
    pub fn middleware(mut self, config: MiddlewareConfig) -> Self {
        self.middleware = Some(config);
        self
    }

    fn parts(&mut self) -> Result<Parts, AuthError> {
        let uploads_base =
            github_rest::runtime::uploads_base_for(&self.api_base, self.uploads_base.as_deref());
        github_rest::runtime::check_user_agent(&self.user_agent).map_err(config_error)?;
        let hosts = Hosts::new(&[&self.api_base, &uploads_base]).map_err(config_error)?;
        let http = match self.http.take() {
            Some(h) => h,
            None => self.http_config.client().map_err(config_error)?,
        };
        Ok(Parts {
            api_base: self.api_base.clone(),
            uploads_base,
            user_agent: self.user_agent.clone(),
            http,
            hosts,
            store: self.store.clone().unwrap_or_else(default_store),
            margin: self.margin,
            clock: ServerClock::new(self.clock.clone()),
            lag: self.lag,
            middleware: self.middleware.clone(),
        })
    }

    /// Builds the authenticated client. Fails on an invalid base URL or a private key that cannot sign.
    pub fn build(mut self) -> Result<github_rest::Client, AuthError> {
        let parts = self.parts()?;
        match std::mem::replace(&mut self.mode, Mode::Token(SecretString::from(""))) {
            Mode::Token(t) => parts.client(Credential::Token(TokenSource::Static(t))),
            Mode::OAuthApp(c) => parts.client(Credential::Basic(crate::basic::basic_header(&c))),
            Mode::User(tokens, creds) => {
                let state = UserTokenState {
                    creds,
                    web_base: self.web_base.clone(),
                    http: parts.http.clone(),
                    clock: parts.clock.clone(),
                    user_agent: parts.user_agent.clone(),
                    on_refresh: self.on_refresh.take(),
                    current: tokio::sync::Mutex::new(tokens),
                };
                parts.client(Credential::Token(TokenSource::User(Arc::new(state))))
            }
            Mode::App { issuer, key } => Ok(App::new(parts, issuer, &key)?.client().clone()),
            Mode::Installation {
                issuer,
                key,
                installation_id,
            } => {
                let narrowing = std::mem::take(&mut self.narrowing);
                App::new(parts, issuer, &key)?.installation_client(installation_id, Some(narrowing))
            }
        }
    }

    /// Builds the [`App`] handle (app and installation modes): the JWT client, installation lookup, and
    /// installation clients and tokens that share this builder's settings.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use github_auth::{AuthBuilder, SecretString};
    /// let key = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
    /// let app = AuthBuilder::app(12345, key).build_app()?;
    /// let installation = app.org_installation("acme").await?;
    /// let client = app.installation_client(installation.id, None)?;
    /// # Ok(()) }
    /// ```
    pub fn build_app(mut self) -> Result<App, AuthError> {
        let parts = self.parts()?;
        match std::mem::replace(&mut self.mode, Mode::Token(SecretString::from(""))) {
            Mode::App { issuer, key } | Mode::Installation { issuer, key, .. } => {
                App::new(parts, issuer, &key)
            }
            _ => Err(AuthError::Config(
                "build_app needs the app or installation mode".into(),
            )),
        }
    }
}

#[derive(Clone)]
struct Parts {
    api_base: String,
    uploads_base: String,
    user_agent: String,
    http: reqwest::Client,
    hosts: Hosts,
    store: Arc<dyn TokenStore>,
    margin: Duration,
    clock: ServerClock,
    lag: LagRetry,
    middleware: Option<MiddlewareConfig>,
}

impl Parts {
    fn stack(&self, credential: Credential) -> reqwest_middleware::ClientWithMiddleware {
        let layer = AuthLayer::new(credential, self.hosts.clone(), self.lag);
        // The client follows redirects itself, each hop sent through this whole stack: it gets its credential
        // here (none on another host) and passes the rate limits, the cache and tracing.
        let b = reqwest_middleware::ClientBuilder::new(self.http.clone()).with(layer);
        match &self.middleware {
            Some(config) => config.install(b).build(),
            None => b.build(),
        }
    }

    fn client(&self, credential: Credential) -> Result<github_rest::Client, AuthError> {
        github_rest::Client::builder()
            .base_url(&self.api_base)
            .uploads_url(&self.uploads_base)
            .user_agent(&self.user_agent)
            .http_client(self.stack(credential))
            .build()
            .map_err(config_error)
    }
}

/// A GitHub App: its JWT-authenticated client, installation lookup, and clients for its installations.
/// Cheap to clone.
#[derive(Clone)]
pub struct App {
    jwt: AppJwt,
    client: github_rest::Client,
    parts: Arc<Parts>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("issuer", self.jwt.issuer())
            .field("api_base", &self.parts.api_base)
            .finish_non_exhaustive()
    }
}

impl App {
    fn new(parts: Parts, issuer: AppIssuer, key: &SecretString) -> Result<Self, AuthError> {
        let jwt = AppJwt::new(issuer, key, parts.clock.clone())?;
        let http = parts.stack(Credential::App(jwt.clone()));
        let client = github_rest::Client::builder()
            .base_url(&parts.api_base)
            .uploads_url(&parts.uploads_base)
            .user_agent(&parts.user_agent)
            .http_client(http)
            .build()
            .map_err(config_error)?;
        Ok(App {
            jwt,
            client,
            parts: Arc::new(parts),
        })
    }

    /// The client authenticated as the app (JWT).
    pub fn client(&self) -> &github_rest::Client {
        &self.client
    }

    /// The app's JWT signer.
    pub fn jwt(&self) -> &AppJwt {
        &self.jwt
    }

    /// The token cache of one installation, optionally narrowed.
    pub fn installation_tokens(
        &self,
        installation_id: i64,
        narrowing: Option<Narrowing>,
    ) -> InstallationTokens {
        InstallationTokens::new(
            self.jwt.clone(),
            self.client.clone(),
            installation_id,
            narrowing,
            self.parts.store.clone(),
            self.parts.margin,
            self.parts.clock.clone(),
        )
    }

    /// A client authenticated as one installation, optionally narrowed.
    pub fn installation_client(
        &self,
        installation_id: i64,
        narrowing: Option<Narrowing>,
    ) -> Result<github_rest::Client, AuthError> {
        let tokens = self.installation_tokens(installation_id, narrowing);
        self.parts.client(Credential::Installation {
            app: self.jwt.clone(),
            tokens,
        })
    }

    /// The app's installation on an organisation.
    pub async fn org_installation(&self, org: &str) -> Result<Installation, AuthError> {
        match self.client.apps().get_org_installation(org).await {
            Ok(r) => Ok(r.body),
            Err(e) => Err(not_installed(e, || format!("org {org}"))),
        }
    }

    /// The app's installation that covers a repository.
    pub async fn repo_installation(
        &self,
        owner: &str,
        repo: &str,
    ) -> Result<Installation, AuthError> {
        // A renamed or transferred repository answers 301; the client follows it to the installation.
        match self.client.apps().get_repo_installation(owner, repo).await {
            Ok(r) => Ok(r.body),
            Err(e) => Err(not_installed(e, || format!("repo {owner}/{repo}"))),
        }
    }

    /// The app's installation on a user account.
    pub async fn user_installation(&self, username: &str) -> Result<Installation, AuthError> {
        match self.client.apps().get_user_installation(username).await {
            Ok(r) => Ok(r.body),
            Err(e) => Err(not_installed(e, || format!("user {username}"))),
        }
    }

    /// Every installation of the app: the generated stream, which follows `Link: rel="next"` on the API host and
    /// refuses links to any other host.
    pub fn installations_stream(
        &self,
    ) -> github_rest::pagination::Pages<github_rest::types::AppsListInstallationsResponseItem> {
        self.client
            .apps()
            .list_installations_stream(&Default::default())
    }

    /// Every installation of the app, all pages collected.
    pub async fn installations(
        &self,
    ) -> Result<Vec<github_rest::types::AppsListInstallationsResponseItem>, AuthError> {
        Ok(self.installations_stream().collect_all().await?)
    }
}

/// A configuration error of the generated client, without repeating its prefix.
fn config_error(e: github_rest::Error) -> AuthError {
    match e {
        github_rest::Error::Config(m) => AuthError::Config(m),
        other => AuthError::Config(other.to_string()),
    }
}

fn not_installed(e: github_rest::Error, target: impl FnOnce() -> String) -> AuthError {
    if e.status() == Some(http::StatusCode::NOT_FOUND) {
        AuthError::NotInstalled { target: target() }
    } else {
        AuthError::Api(std::sync::Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_host_sets_the_api_uploads_and_web_urls() {
        let token = || SecretString::from("t".to_string());
        for b in [
            AuthBuilder::token(token()).enterprise_host("ghe.example.com/"),
            AuthBuilder::token(token()).enterprise_url("https://ghe.example.com/"),
        ] {
            assert_eq!(b.api_base, "https://ghe.example.com/api/v3");
            assert_eq!(
                b.uploads_base.as_deref(),
                Some("https://ghe.example.com/api/uploads")
            );
            assert_eq!(b.web_base, "https://ghe.example.com");
        }
        let b = AuthBuilder::token(token()).enterprise_url("http://10.0.0.5:8080");
        assert_eq!(b.api_base, "http://10.0.0.5:8080/api/v3");
        assert_eq!(b.web_base, "http://10.0.0.5:8080");
        assert!(AuthBuilder::token(token())
            .enterprise_host("ghe.example.com")
            .build()
            .is_ok());
    }
}
