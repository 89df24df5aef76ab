//! The client every endpoint function runs on: hosts, headers, the middleware stack, response and error decoding.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// Default REST API base URL.
pub const DEFAULT_API_BASE: &str = "https://api.github.com";
/// Default base URL for uploads (release assets).
pub const DEFAULT_UPLOADS_BASE: &str = "https://uploads.github.com";
/// Pages fetched at once by a paginated stream when the page count is known.
pub const DEFAULT_PAGE_CONCURRENCY: usize = 10;
/// Redirects a call follows unless [`ClientBuilder::max_redirects`] says otherwise.
pub const DEFAULT_MAX_REDIRECTS: usize = 5;
/// Media type asked for by default.
pub const DEFAULT_ACCEPT: &str = "application/vnd.github+json";
/// How long the default HTTP client waits for a connection to be established.
pub const DEFAULT_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the default HTTP client waits for the next bytes of a response (its head or any part of its body).
/// GitHub ends API requests that take more than 10 seconds, so a silent connection is dead long before this; a
/// large download keeps going as long as bytes keep arriving.
pub const DEFAULT_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Time-outs of the HTTP client (part of [`HttpConfig`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing a connection (TCP and TLS); default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect: Option<std::time::Duration>,
    /// Silence while waiting for a response's head or the next part of its body; default [`DEFAULT_READ_TIMEOUT`].
    pub read: Option<std::time::Duration>,
    /// The whole exchange, body included; default none, so large downloads are not cut off.
    pub total: Option<std::time::Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Some(DEFAULT_CONNECT_TIMEOUT),
            read: Some(DEFAULT_READ_TIMEOUT),
            total: None,
        }
    }
}

impl Timeouts {
    /// Sets the connect time-out (`None`: none).
    pub fn connect(mut self, d: Option<std::time::Duration>) -> Self {
        self.connect = d;
        self
    }

    /// Sets the read time-out (`None`: none).
    pub fn read(mut self, d: Option<std::time::Duration>) -> Self {
        self.read = d;
        self
    }

    /// Sets the time-out of the whole exchange (`None`: none).
    pub fn total(mut self, d: Option<std::time::Duration>) -> Self {
        self.total = d;
        self
    }
}

/// Which proxy the HTTP client goes through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// The usual environment variables: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case).
    #[default]
    FromEnvironment,
    /// This proxy (`http://`, `https://` or `socks5://` URL, credentials in it if needed) for every host; the
    /// environment is still read for hosts it does not cover.
    Url(String),
    /// No proxy, whatever the environment says.
    None,
}

/// The one configuration of the HTTP client under every client of this crate and of `github-auth` (API, uploads
/// and web hosts alike): time-outs, extra root certificates (a GitHub Enterprise Server behind an internal
/// certificate authority), the platform's native roots, and the proxy. Redirects are never followed by the client
/// itself: a 3xx reaches the middleware and the caller as the description lists it.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HttpConfig {
    /// Time-outs.
    pub timeouts: Timeouts,
    /// Roots trusted besides the built-in web roots.
    pub root_certificates: Vec<reqwest::Certificate>,
    /// Also trust the operating system's certificate store (default off: the built-in web roots only).
    pub native_roots: bool,
    /// The proxy (default: from the environment).
    pub proxy: Proxy,
}

impl HttpConfig {
    /// Sets the time-outs.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Trusts every certificate of a PEM bundle as a root too; fails when the bundle holds no readable certificate.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            Error::Config(format!(
                "unreadable root certificate PEM: {}",
                error_chain(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::Config(
                "the root certificate PEM holds no certificate".into(),
            ));
        }
        self.root_certificates.extend(certs);
        Ok(self)
    }

    /// Also trusts the operating system's certificate store.
    pub fn native_roots(mut self, on: bool) -> Self {
        self.native_roots = on;
        self
    }

    /// Sends every request through this proxy URL.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Proxy::Url(url.into());
        self
    }

    /// Uses no proxy, whatever the environment says.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = Proxy::None;
        self
    }

    /// The `reqwest::ClientBuilder` with these settings, for callers that add their own.
    pub fn builder(&self) -> Result<reqwest::ClientBuilder, Error> {
        let t = self.timeouts;
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_built_in_native_certs(self.native_roots);
        if let Some(d) = t.connect {
            b = b.connect_timeout(d);
        }
        if let Some(d) = t.read {
            b = b.read_timeout(d);
        }
        if let Some(d) = t.total {
            b = b.timeout(d);
        }
        for c in &self.root_certificates {
            b = b.add_root_certificate(c.clone());
        }
        match &self.proxy {
            Proxy::FromEnvironment => {}
            Proxy::Url(u) => {
                let p = reqwest::Proxy::all(u.as_str()).map_err(|e| {
                    Error::Config(format!("invalid proxy URL {u:?}: {}", error_chain(&e)))
                })?;
                b = b.proxy(p);
            }
            Proxy::None => b = b.no_proxy(),
        }
        Ok(b)
    }

    /// Builds the `reqwest::Client`.
    pub fn client(&self) -> Result<reqwest::Client, Error> {
        self.builder()?
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {}", error_chain(&e))))
    }
}

/// The API and uploads base URLs of the GitHub Enterprise Server at web URL `url` (scheme included):
/// `URL/api/v3` and `URL/api/uploads`.
#[doc(hidden)]
pub fn enterprise_bases(url: &str) -> (String, String) {
    let url = url.trim_end_matches('/');
    (format!("{url}/api/v3"), format!("{url}/api/uploads"))
}

/// The uploads base URL: the one given, `https://uploads.github.com` for api.github.com, the API base otherwise.
pub fn uploads_base_for(api_base: &str, uploads_base: Option<&str>) -> String {
    match uploads_base {
        Some(u) => u.to_string(),
        None if api_base == DEFAULT_API_BASE => DEFAULT_UPLOADS_BASE.into(),
        None => api_base.to_string(),
    }
}

/// A base URL parsed for [`join_path`]: the errors of [`Hosts::new`], and a query or fragment, which no path could
/// follow.
fn base_url(b: &str) -> Result<url::Url, Error> {
    let u =
        url::Url::parse(b).map_err(|e| Error::Config(format!("invalid base URL {b:?}: {e}")))?;
    if u.query().is_some() || u.fragment().is_some() {
        return Err(Error::Config(format!(
            "the base URL {b:?} has a query or fragment; give the scheme, host and path only"
        )));
    }
    Ok(u)
}

/// `base` with `path` (an operation's path, starting with `/`, its values percent-encoded) after the base's own
/// path, without parsing the scheme and host again: what parsing `{base}{path}` gives for a base without a trailing
/// `/` (one left by its path's dot segments is dropped).
fn join_path(base: &url::Url, path: &str) -> url::Url {
    let mut url = base.clone();
    match base.path().trim_end_matches('/') {
        "" => url.set_path(path),
        prefix => {
            let mut full = String::with_capacity(prefix.len() + path.len());
            full.push_str(prefix);
            full.push_str(path);
            url.set_path(&full);
        }
    }
    url
}

/// Checks a `User-Agent` before any request is sent: GitHub refuses requests without one.
pub fn check_user_agent(ua: &str) -> Result<(), Error> {
    if ua.trim().is_empty() {
        return Err(Error::Config(
            "the User-Agent is empty; GitHub refuses requests without one (use your app's name)"
                .into(),
        ));
    }
    http::HeaderValue::from_str(ua)
        .map_err(|_| Error::Config(format!("the User-Agent {ua:?} is not a valid header value")))?;
    Ok(())
}

/// The hosts a client talks to, as (scheme, host, port): the API and uploads hosts. Credentials, next-page links and
/// redirects are only followed to these; `github_rest::Client` and `github-auth`'s credential layer both check
/// URLs with this one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosts(Vec<(String, String, Option<u16>)>);

impl Hosts {
    /// The hosts of these base URLs; a URL that does not parse or has no host is a configuration error.
    pub fn new(bases: &[&str]) -> Result<Self, Error> {
        let mut v = Vec::new();
        for b in bases {
            let u = url::Url::parse(b)
                .map_err(|e| Error::Config(format!("invalid base URL {b:?}: {e}")))?;
            let host = u
                .host_str()
                .ok_or_else(|| Error::Config(format!("base URL {b:?} has no host")))?;
            v.push((
                u.scheme().to_string(),
                host.to_ascii_lowercase(),
                u.port_or_known_default(),
            ));
        }
        Ok(Hosts(v))
    }

    /// Whether `u` is on one of the hosts (same scheme, host and port).
    pub fn allows(&self, u: &url::Url) -> bool {
        let Some(host) = u.host_str() else {
            return false;
        };
        // The hosts are kept in lower case; compared without making a lower-case copy of the URL's.
        self.0.iter().any(|(s, h, p)| {
            s == u.scheme() && h.eq_ignore_ascii_case(host) && *p == u.port_or_known_default()
        })
    }
}

/// Which host an operation is served from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// The REST API host.
    Api,
    /// The uploads host (release assets).
    Uploads,
}

/// The credential an operation takes. The spec has no security data; the generator decides from GitHub's documented
/// rules (see `auth_kind` in the generator and the `auth` field of `operations.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// An installation, user, personal or Actions token, as `Authorization: Bearer`.
    Token,
    /// The GitHub App's JWT (the app itself, its installations).
    AppJwt,
    /// HTTP Basic with the OAuth app's client id and secret (`/applications/{client_id}/…`).
    Basic,
    /// No credential (the app-manifest conversion, whose `code` is the credential).
    None,
}

/// Facts about the operation being sent, attached to every request's extensions so middleware can read them.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The description's operation id, e.g. `issues/create`.
    pub id: &'static str,
    /// The credential it takes.
    pub auth: AuthKind,
    /// Whether redirects are followed ([`ClientBuilder::max_redirects`]); `false` where the redirect is the answer
    /// (an archive's or a log's download link, `302` for "not a member").
    pub follow_redirects: bool,
}

#[doc = client_doc!()]
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// What [`Client::with_options`] set for the calls made through this handle.
    options: Option<Arc<CallOptions>>,
}

/// Options for the calls made through one client handle ([`Client::with_options`]): extra headers, a time-out, a
/// media type. The typed call stays the same:
///
/// ```ignore
/// let opts = CallOptions::new().if_none_match(etag).timeout(Duration::from_secs(5));
/// match client.with_options(opts).repos().get("octocat", "hello-world").await {
///     Err(Error::NotModified(_)) => { /* the copy you hold is current */ }
///     other => { /* a new body, or an error */ }
/// }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// Headers added to each request; one of the same name as the client's own (`accept`, `x-github-api-version`)
    /// replaces it.
    pub headers: http::HeaderMap,
    /// A limit on the whole call (connect, send, read), on top of the client's [`Timeouts`].
    pub timeout: Option<std::time::Duration>,
    /// The `Accept` media type, replacing the operation's (e.g. `application/vnd.github.raw+json`,
    /// `application/vnd.github.text-match+json`).
    pub accept: Option<http::HeaderValue>,
}

impl CallOptions {
    /// No extra header, no time-out, the operation's media type.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a header (replacing an earlier one of the same name).
    pub fn header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }
    /// `If-None-Match`: answer `304` ([`Error::NotModified`]) when the resource still has this ETag. The ETag is
    /// sent as given (quotes and `W/` included), so pass the `etag` header of an earlier response.
    pub fn if_none_match(self, etag: http::HeaderValue) -> Self {
        self.header(http::header::IF_NONE_MATCH, etag)
    }
    /// `If-Modified-Since`, from an earlier response's `last-modified` header.
    pub fn if_modified_since(self, last_modified: http::HeaderValue) -> Self {
        self.header(http::header::IF_MODIFIED_SINCE, last_modified)
    }
    /// A time-out for each call, from sending the request to the end of the body.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// The media type to ask for. Media types that change the body's shape (`diff`, `patch`, `raw`) have functions
    /// of their own (`…_diff`, `…_raw`), which decode it; use this for those that do not (`full+json`,
    /// `text-match+json`, `html+json`) or to read the body yourself.
    pub fn accept(mut self, media_type: http::HeaderValue) -> Self {
        self.accept = Some(media_type);
        self
    }
}

struct Inner {
    http: reqwest_middleware::ClientWithMiddleware,
    api_base: String,
    uploads_base: String,
    /// The bases parsed once: a call's URL is a copy with the path set, not a string parsed again (which costs
    /// more than any other step of building a request).
    api_url: url::Url,
    uploads_url: url::Url,
    hosts: Hosts,
    /// Kept as header values, checked once when the client is built rather than on every request.
    user_agent: http::HeaderValue,
    api_version: Option<http::HeaderValue>,
    page_concurrency: usize,
    max_redirects: usize,
    /// Set once the server has been seen reporting an older GHES release than the crate was generated for.
    warned_old_server: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.inner.api_base)
            .field("uploads_base", &self.inner.uploads_base)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    api_base: String,
    uploads_base: Option<String>,
    user_agent: String,
    api_version: Option<String>,
    page_concurrency: usize,
    max_redirects: usize,
    http_config: HttpConfig,
    http: Option<reqwest_middleware::ClientWithMiddleware>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_base: DEFAULT_API_BASE.into(),
            uploads_base: None,
            user_agent: concat!("github-rest/", env!("CARGO_PKG_VERSION")).into(),
            api_version: crate::API_VERSION.map(str::to_string),
            page_concurrency: DEFAULT_PAGE_CONCURRENCY,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            http_config: HttpConfig::default(),
            http: None,
        }
    }
}

impl ClientBuilder {
    /// The REST API base URL, e.g. `https://api.github.com` or `https://ghe.example.com/api/v3`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.api_base = url.into().trim_end_matches('/').to_string();
        self
    }

    /// The uploads base URL. Defaults to `https://uploads.github.com` for api.github.com and to the API base for
    /// any other host.
    pub fn uploads_url(mut self, url: impl Into<String>) -> Self {
        self.uploads_base = Some(url.into().trim_end_matches('/').to_string());
        self
    }

    /// GitHub Enterprise Server by hostname: `https://HOST/api/v3` and `https://HOST/api/uploads`.
    pub fn enterprise_host(self, host: &str) -> Self {
        let host = host.trim_end_matches('/');
        self.enterprise_url(&format!("https://{host}"))
    }

    /// GitHub Enterprise Server by its web URL, scheme included (`http://…` is taken only when written here):
    /// `URL/api/v3` and `URL/api/uploads`.
    pub fn enterprise_url(self, url: &str) -> Self {
        let (api, uploads) = enterprise_bases(url);
        self.base_url(api).uploads_url(uploads)
    }

    /// The `User-Agent` sent with every request (GitHub rejects requests without one).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// The `X-GitHub-Api-Version` sent with every request; `None` sends none.
    pub fn api_version(mut self, v: Option<String>) -> Self {
        self.api_version = v;
        self
    }

    /// Redirects followed per call (default 5; 0 returns every 3xx as it came). A moved resource's `301`, `307` or
    /// `308` is followed with the same method and body; a `302` or `303` on a GET or HEAD only. Each hop is sent
    /// through the whole HTTP stack (credentials, which are dropped on a hop to another host; rate limits; the
    /// cache). Operations whose redirect is the answer (download links) and bodies that cannot be sent twice
    /// (an upload given as a stream, a multipart form) get the 3xx itself.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Pages a paginated stream fetches at once when the page count is known (default 10; 1 = one at a time).
    pub fn page_concurrency(mut self, n: usize) -> Self {
        self.page_concurrency = n.max(1);
        self
    }

    /// Time-outs of the default HTTP client (ignored when [`http_client`](Self::http_client) supplies one).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.http_config.timeouts = timeouts;
        self
    }

    /// The configuration of the default HTTP client: time-outs, root certificates, proxy (ignored when
    /// [`http_client`](Self::http_client) supplies one).
    pub fn http_config(mut self, config: HttpConfig) -> Self {
        self.http_config = config;
        self
    }

    /// The HTTP stack: a plain `reqwest::Client` or one wrapped with `reqwest_middleware` layers. Build the
    /// `reqwest::Client` with `redirect(reqwest::redirect::Policy::none())` (as the default client is) so that the
    /// client, not reqwest, follows redirects: it sends each hop through the whole stack, and returns the 3xx where
    /// the spec says the redirect is the answer.
    pub fn http_client(
        mut self,
        http: impl Into<reqwest_middleware::ClientWithMiddleware>,
    ) -> Self {
        self.http = Some(http.into());
        self
    }

    /// Builds the client; fails when a base URL does not parse or the `User-Agent` is empty.
    pub fn build(self) -> Result<Client, Error> {
        check_user_agent(&self.user_agent)?;
        let user_agent = http::HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::Config("invalid User-Agent".into()))?;
        let api_version = match &self.api_version {
            Some(v) => Some(http::HeaderValue::from_str(v).map_err(|_| {
                Error::Config(format!("the API version {v:?} is not a valid header value"))
            })?),
            None => None,
        };
        let uploads_base = uploads_base_for(&self.api_base, self.uploads_base.as_deref());
        let hosts = Hosts::new(&[&self.api_base, &uploads_base])?;
        let (api_url, uploads_url) = (base_url(&self.api_base)?, base_url(&uploads_base)?);
        let http = match self.http {
            Some(h) => h,
            None => {
                // reqwest follows no redirect itself: the client does (see `max_redirects`), each hop sent through
                // the whole stack.
                reqwest_middleware::ClientWithMiddleware::from(self.http_config.client()?)
            }
        };
        Ok(Client {
            options: None,
            inner: Arc::new(Inner {
                http,
                api_base: self.api_base,
                uploads_base,
                api_url,
                uploads_url,
                hosts,
                user_agent,
                api_version,
                page_concurrency: self.page_concurrency,
                max_redirects: self.max_redirects,
                warned_old_server: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }
}

impl Client {
    /// A handle whose calls carry `options` (headers, time-out, media type); it shares this client's HTTP stack,
    /// and the client itself is unchanged. Streams made from the handle carry the options on every page.
    pub fn with_options(&self, options: CallOptions) -> Client {
        Client {
            inner: self.inner.clone(),
            options: Some(Arc::new(options)),
        }
    }

    /// The options this handle's calls carry.
    pub fn options(&self) -> Option<&CallOptions> {
        self.options.as_deref()
    }

    /// A builder with api.github.com defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The REST API base URL.
    pub fn api_base(&self) -> &str {
        &self.inner.api_base
    }

    /// The uploads base URL.
    pub fn uploads_base(&self) -> &str {
        &self.inner.uploads_base
    }

    /// Pages a paginated stream fetches at once.
    pub fn page_concurrency(&self) -> usize {
        self.inner.page_concurrency
    }

    /// Warns once when a GitHub Enterprise Server reports an older release than the crate's target: endpoints the
    /// crate offers may be missing there. It never fails a call.
    fn check_server_release(&self, headers: &HeaderMap) {
        self.note_server_release(headers, crate::GHES_RELEASE);
    }

    /// Returns whether this response made the client warn (the first one from an older server does).
    fn note_server_release(&self, headers: &HeaderMap, target: Option<(u32, u32)>) -> bool {
        let Some(target) = target else { return false };
        let Some(v) = headers
            .get("x-github-enterprise-version")
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if !release_older(v, target)
            || self
                .inner
                .warned_old_server
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return false;
        }
        tracing::warn!(
            server = v,
            generated_for = %format!("{}.{}", target.0, target.1),
            "GitHub Enterprise Server is older than the release this client was generated for; some endpoints may not exist there"
        );
        true
    }

    /// Whether `url` is on the configured API or uploads host (scheme, host and port).
    pub fn is_own_url(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|u| self.inner.hosts.allows(&u))
    }

    /// Calls the operation `ep` describes and decodes its single kind of success body into `T` (a `String` for
    /// text, `()` for none).
    #[doc(hidden)]
    pub async fn call<T: serde::de::DeserializeOwned>(
        &self,
        ep: &'static Endpoint,
        args: Args<'_>,
    ) -> Result<Response<T>, Error> {
        let raw = self.execute(Request::new(ep, args)).await?;
        raw.finish(ep.errors, |status, body| {
            match ep.success.iter().find(|(s, _)| *s == status) {
                Some((_, kind)) => decode_as(*kind, body),
                None => Err(DecodeFail::Unexpected),
            }
        })
    }

    /// Calls the operation `ep` describes; `decode` reads the success body by status (operations whose success
    /// statuses carry different bodies).
    #[doc(hidden)]
    pub async fn call_with<T>(
        &self,
        ep: &'static Endpoint,
        args: Args<'_>,
        decode: impl FnOnce(u16, &Bytes) -> Result<T, DecodeFail>,
    ) -> Result<Response<T>, Error> {
        let raw = self.execute(Request::new(ep, args)).await?;
        raw.finish(ep.errors, decode)
    }

    /// Sends a request.
    #[doc(hidden)]
    pub async fn execute(&self, req: Request) -> Result<RawResponse, Error> {
        let body = req.body.map_err(Error::Encode)?;
        let base = match req.ep.host {
            Host::Api => &self.inner.api_url,
            Host::Uploads => &self.inner.uploads_url,
        };
        let url = join_path(base, &req.path);
        let info = req.ep.info();
        self.send(
            info,
            req.ep.method.clone(),
            url,
            req.accept,
            req.query,
            body,
        )
        .await
    }

    /// GETs an absolute URL (a next-page link) for operation `op`; refuses URLs on other hosts.
    #[doc(hidden)]
    pub async fn execute_url(
        &self,
        op: OperationInfo,
        accept: &'static str,
        url: &str,
    ) -> Result<RawResponse, Error> {
        let Some(parsed) = url::Url::parse(url)
            .ok()
            .filter(|u| self.inner.hosts.allows(u))
        else {
            return Err(Error::ForeignUrl(url.to_string()));
        };
        self.send(op, reqwest::Method::GET, parsed, accept, Vec::new(), None)
            .await
    }

    async fn send(
        &self,
        op: OperationInfo,
        method: reqwest::Method,
        mut url: url::Url,
        accept: &'static str,
        mut query: Vec<(&'static str, String)>,
        mut body: Option<Body>,
    ) -> Result<RawResponse, Error> {
        let mut hops = 0;
        let mut resp = loop {
            let follow = op.follow_redirects && hops < self.inner.max_redirects;
            // What a redirect would send again. Bytes of ours are shared; a caller's body is copied as reqwest
            // copies it (bytes shared, a stream not at all); a form is sent once.
            let (mut again, raw) = match &body {
                _ if !follow => (None, None),
                None => (Some(None), None),
                Some(Body::Bytes(ct, bytes)) => {
                    (Some(Some(Body::Bytes(ct.clone(), bytes.clone()))), None)
                }
                Some(Body::Raw(ct, _)) => (None, Some(ct.clone())),
                Some(Body::Form(_)) => (None, None),
            };
            let request = self.request(op, method.clone(), url.clone(), accept, &query, body);
            if let Some(ct) = raw {
                again = request
                    .try_clone()
                    .and_then(|r| r.build().ok())
                    .and_then(|mut r| r.body_mut().take())
                    .map(|b| Some(Body::Raw(ct, b)));
            }
            let resp = request.send().await.map_err(Error::from_middleware)?;
            let status = resp.status();
            if !(follow && status.is_redirection()) {
                break resp;
            }
            let Some(again) = again else {
                break resp;
            };
            // Resolved against the URL this hop was sent to (a response rebuilt by a layer may not carry it).
            let location = resp.headers().get(http::header::LOCATION);
            let Some(to) = redirect_target(status, &method, &url, location) else {
                break resp;
            };
            tracing::debug!(status = status.as_u16(), to = %to, "following a redirect");
            hops += 1;
            // The location carries its own query.
            (url, query, body) = (to, Vec::new(), again);
        };
        let status = resp.status();
        // Reading the body needs only the response's connection, not its headers: moved out rather than copied.
        let headers = std::mem::take(resp.headers_mut());
        self.check_server_release(&headers);
        let body = resp.bytes().await.map_err(Error::Http)?;
        Ok(RawResponse {
            op: op.id,
            status,
            headers,
            body,
        })
    }

    /// One request of a call, with the client's and the handle's headers.
    fn request(
        &self,
        op: OperationInfo,
        method: reqwest::Method,
        url: url::Url,
        accept: &'static str,
        query: &[(&'static str, String)],
        body: Option<Body>,
    ) -> reqwest_middleware::RequestBuilder {
        let mut b = self
            .inner
            .http
            .request(method, url)
            .header(http::header::ACCEPT, accept)
            .header(http::header::USER_AGENT, self.inner.user_agent.clone())
            .with_extension(op);
        if let Some(v) = &self.inner.api_version {
            const API_VERSION_HEADER: http::HeaderName =
                http::HeaderName::from_static("x-github-api-version");
            b = b.header(API_VERSION_HEADER, v.clone());
        }
        if let Some(o) = &self.options {
            if !o.headers.is_empty() {
                b = b.headers(o.headers.clone());
            }
            if let Some(a) = &o.accept {
                b = b.headers(http::HeaderMap::from_iter([(
                    http::header::ACCEPT,
                    a.clone(),
                )]));
            }
            if let Some(t) = o.timeout {
                b = b.timeout(t);
            }
        }
        if !query.is_empty() {
            b = b.query(query);
        }
        match body {
            Some(Body::Bytes(ct, body)) => b.header(http::header::CONTENT_TYPE, ct).body(body),
            Some(Body::Raw(ct, body)) => b.header(http::header::CONTENT_TYPE, ct).body(body),
            Some(Body::Form(form)) => b.multipart(form),
            None => b,
        }
    }
}

/// What an endpoint function tells the runtime about its operation: everything except the caller's arguments. The
/// generator writes one per operation (and per alternate media type) as a `static`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Endpoint {
    /// The description's operation id, e.g. `issues/create`.
    pub id: &'static str,
    /// The credential it takes.
    pub auth: AuthKind,
    pub method: reqwest::Method,
    pub host: Host,
    /// The path template, e.g. `/repos/{owner}/{repo}`; the call's path arguments fill its `{…}` in order.
    pub path: &'static str,
    /// The `Accept` media type.
    pub accept: &'static str,
    /// The success statuses and how each body is read.
    pub success: &'static [(u16, BodyKind)],
    /// The error statuses, each with the decoder of the body type the description gives it.
    pub errors: &'static [(u16, Option<crate::errors::Decoder>)],
}

impl Endpoint {
    /// The facts middleware reads from a request's extensions.
    pub fn info(&self) -> OperationInfo {
        OperationInfo {
            id: self.id,
            auth: self.auth,
            // An operation that documents a 302 or 303 as a success answers with the link itself.
            follow_redirects: !self.success.iter().any(|(s, _)| matches!(s, 302 | 303)),
        }
    }
}

/// How a success body is read.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON, into the operation's type.
    Json,
    /// Text (diffs, patches, raw file contents), into a `String`.
    Text,
    /// No body.
    Empty,
}

/// Query parameters as `name=value` pairs, in order; written by the generated `…Query` structs.
#[doc(hidden)]
#[derive(Debug, Default, Clone)]
pub struct QueryPairs(Vec<(&'static str, String)>);

impl QueryPairs {
    /// One pair.
    pub fn push<T: std::fmt::Display + ?Sized>(&mut self, name: &'static str, value: &T) {
        self.0.push((name, value.to_string()));
    }
    /// One pair when the value is present.
    pub fn push_opt<T: std::fmt::Display>(&mut self, name: &'static str, value: Option<&T>) {
        if let Some(v) = value {
            self.push(name, v);
        }
    }
    /// A list as one comma-separated value (`labels=bug,ui`).
    pub fn push_joined<T: std::fmt::Display>(
        &mut self,
        name: &'static str,
        values: Option<&Vec<T>>,
    ) {
        if let Some(vs) = values {
            let joined: Vec<String> = vs.iter().map(T::to_string).collect();
            self.0.push((name, joined.join(",")));
        }
    }
    /// A list as one pair per element (`name=a&name=b`).
    pub fn push_each<T: std::fmt::Display>(&mut self, name: &'static str, values: Option<&Vec<T>>) {
        for v in values.into_iter().flatten() {
            self.push(name, v);
        }
    }
}

/// The query parameters of an operation (`…Query` structs implement it).
#[doc(hidden)]
pub trait Query {
    /// Appends the parameters that are set.
    fn write(&self, out: &mut QueryPairs);
}

/// The arguments of one call: path values, query, body and (for alternate media types) the `Accept` override.
#[doc(hidden)]
pub struct Args<'a> {
    path: &'a [&'a (dyn std::fmt::Display + Sync)],
    query: QueryPairs,
    body: Result<Option<Body>, serde_json::Error>,
}

impl<'a> Args<'a> {
    /// The path values, in the order of the template's `{…}`.
    pub fn new(path: &'a [&'a (dyn std::fmt::Display + Sync)]) -> Self {
        Args {
            path,
            query: QueryPairs::default(),
            body: Ok(None),
        }
    }
    pub fn query(mut self, query: &dyn Query) -> Self {
        query.write(&mut self.query);
        self
    }
    /// Sets `per_page` unless the query set it (streams ask for 100 items a page).
    pub fn per_page(mut self, n: u32) -> Self {
        if !self.query.0.iter().any(|(k, _)| *k == "per_page") {
            self.query.push("per_page", &n);
        }
        self
    }
    /// A JSON body; an encoding failure is reported when the call is made.
    pub fn json<B: serde::Serialize + ?Sized>(mut self, body: &B) -> Self {
        self.body = serde_json::to_vec(body)
            .map(|bytes| Some(Body::Bytes("application/json".into(), bytes.into())));
        self
    }
    /// A JSON body when there is one.
    pub fn json_opt<B: serde::Serialize + ?Sized>(self, body: Option<&B>) -> Self {
        match body {
            Some(b) => self.json(b),
            None => self,
        }
    }
    /// A text body of the given media type.
    pub fn text(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.body = Ok(Some(Body::Bytes(
            content_type.to_string(),
            Bytes::from(body.into()),
        )));
        self
    }
    /// A body of the given media type.
    pub fn body(mut self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        self.body = Ok(Some(Body::Raw(content_type.to_string(), body.into())));
        self
    }
    /// A `multipart/form-data` body.
    pub fn form(mut self, form: reqwest::multipart::Form) -> Self {
        self.body = Ok(Some(Body::Form(form)));
        self
    }
}

/// Fills the `{…}` of a path template with the values, percent-encoded, in order.
fn fill_path(template: &str, values: &[&(dyn std::fmt::Display + Sync)]) -> String {
    let mut out = String::with_capacity(template.len() + 16 * values.len());
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        if let Some(v) = values.next() {
            out.push_str(&encode_path(&v.to_string()));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// A request on its way out.
#[doc(hidden)]
pub struct Request {
    ep: &'static Endpoint,
    path: String,
    accept: &'static str,
    query: Vec<(&'static str, String)>,
    body: Result<Option<Body>, serde_json::Error>,
}

/// A request body: bytes of ours (JSON, text) with their media type, a body of the caller's (an upload) with its
/// media type, or a multipart form (which sets its own boundary). After a redirect, ours are sent again, the
/// caller's if reqwest can copy it (bytes, not a stream), a form never.
enum Body {
    Bytes(String, Bytes),
    Raw(String, reqwest::Body),
    Form(reqwest::multipart::Form),
}

impl Request {
    /// The request `ep` describes, with the call's arguments.
    pub fn new(ep: &'static Endpoint, args: Args<'_>) -> Self {
        Request {
            ep,
            path: fill_path(ep.path, args.path),
            accept: ep.accept,
            query: args.query.0,
            body: args.body,
        }
    }

    /// The operation this request is for.
    pub fn operation(&self) -> OperationInfo {
        self.ep.info()
    }

    /// The `Accept` media type.
    pub fn accept(&self) -> &'static str {
        self.accept
    }

    /// The path with its values filled in.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Follows the redirects GitHub answers for moved resources (a renamed or transferred repository, a transferred
/// issue) as a reqwest-middleware layer, for a middleware stack used on its own. A [`Client`] follows them itself
/// with the same rules ([`ClientBuilder::max_redirects`]): a stack given to [`ClientBuilder::http_client`] should
/// not hold this layer too, or each of the client's hops is followed again inside it (or set `max_redirects(0)`).
/// This layer copies every request in case it is redirected; the client builds the next hop's request only when a
/// redirect comes.
///
/// `301`, `307`, `308` are followed on any method, the body sent again; `302`/`303` on GET and HEAD. Put it
/// outermost so that each hop passes the layers inside it (credentials, rate limits, the cache, tracing). Operations
/// whose redirect is the answer (`OperationInfo::follow_redirects` is `false`: download links, `302` for "not a
/// member") get the 3xx itself, as does a request whose body cannot be sent twice (a stream).
#[derive(Debug, Clone, Copy)]
pub struct FollowRedirects {
    max_hops: usize,
}

impl Default for FollowRedirects {
    fn default() -> Self {
        FollowRedirects { max_hops: 5 }
    }
}

impl FollowRedirects {
    /// At most `n` redirects per call (5 by default); the last 3xx is returned after that.
    pub fn max_hops(n: usize) -> Self {
        FollowRedirects { max_hops: n }
    }
}

/// Where a request of `method` to `from` goes next after a redirect `status` to `location`, or `None` if it is not
/// to be followed: `301`, `307` and `308` on any method (the body sent again), `302` and `303` on GET and HEAD.
fn redirect_target(
    status: StatusCode,
    method: &reqwest::Method,
    from: &url::Url,
    location: Option<&http::HeaderValue>,
) -> Option<url::Url> {
    let safe = matches!(*method, reqwest::Method::GET | reqwest::Method::HEAD);
    let follow = match status.as_u16() {
        301 | 307 | 308 => true,
        302 | 303 => safe,
        _ => false,
    };
    if !follow {
        return None;
    }
    from.join(location?.to_str().ok()?).ok()
}

/// The request to send for a redirect `status` to `location`, or `None` if it is not to be followed.
fn redirected(
    status: StatusCode,
    from: &reqwest::Request,
    location: Option<&http::HeaderValue>,
) -> Option<reqwest::Request> {
    let url = redirect_target(status, from.method(), from.url(), location)?;
    let mut next = from.try_clone()?;
    *next.url_mut() = url;
    Some(next)
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for FollowRedirects {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let follow = extensions
            .get::<OperationInfo>()
            .is_none_or(|o| o.follow_redirects);
        if !follow {
            return next.run(req, extensions).await;
        }
        let mut req = req;
        let mut hops = 0;
        loop {
            let again = req.try_clone();
            let resp = next.clone().run(req, extensions).await?;
            let Some(again) = again else {
                return Ok(resp);
            };
            let location = resp.headers().get(http::header::LOCATION);
            match redirected(resp.status(), &again, location) {
                Some(r) if hops < self.max_hops => {
                    tracing::debug!(status = resp.status().as_u16(), to = %r.url(), "following a redirect");
                    hops += 1;
                    req = r;
                }
                _ => return Ok(resp),
            }
        }
    }
}

/// Whether a server's `X-GitHub-Enterprise-Version` (`3.16.2`) is an older release than `target` (3, 17).
fn release_older(server: &str, target: (u32, u32)) -> bool {
    let mut parts = server.trim().split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor))) => (major, minor) < target,
        _ => false,
    }
}

/// Percent-encodes a path parameter, keeping `/` (git refs and file paths carry it on purpose).
pub fn encode_path(s: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::utf8_percent_encode(s, PATH_KEEP).into()
}

/// What a path parameter keeps as it is: unreserved characters and `/`.
const PATH_KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Body bytes as received; `Debug` shows the length and the start, not megabytes of payload.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RawBody(pub Bytes);

impl std::ops::Deref for RawBody {
    type Target = Bytes;
    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOW: usize = 256;
        let text = String::from_utf8_lossy(&self.0[..self.0.len().min(SHOW)]);
        if self.0.len() > SHOW {
            write!(f, "RawBody({} bytes: {:?}…)", self.0.len(), text)
        } else {
            write!(f, "RawBody({:?})", text)
        }
    }
}

/// A successful response: status, headers and the decoded body.
#[derive(Debug, Clone)]
pub struct Response<T> {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: T,
}

impl<T> Response<T> {
    /// The decoded body.
    pub fn into_body(self) -> T {
        self.body
    }
}

/// Why a body could not be turned into the operation's success type.
#[doc(hidden)]
pub enum DecodeFail {
    /// The status is not one the spec lists for this operation.
    Unexpected,
    Json(JsonFail),
    Text(std::str::Utf8Error),
}

/// A JSON body that did not fit its type: where it failed, the type, and serde's message.
#[doc(hidden)]
pub struct JsonFail {
    pub path: String,
    pub rust_type: String,
    pub source: serde_json::Error,
}

impl JsonFail {
    /// The error of a call whose body this was.
    pub fn into_error(self, operation: &'static str, status: StatusCode, body: Bytes) -> Error {
        Error::Decode {
            operation,
            status,
            path: self.path,
            rust_type: self.rust_type,
            source: self.source,
            body: RawBody(body),
        }
    }
}

/// Decodes a JSON body into `T`. The fast path is plain serde_json; only after a failure is the body decoded again,
/// tracking the path, to say which value failed (`$.items[3].head.repo`).
#[doc(hidden)]
#[inline]
pub fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DecodeFail> {
    from_json(body).map_err(DecodeFail::Json)
}

/// [`decode_json`] for callers that only decode JSON (the pages of a stream).
#[doc(hidden)]
#[inline]
pub fn from_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, JsonFail> {
    serde_json::from_slice(body).map_err(|e| locate::<T>(body, e))
}

/// Decodes `body` again with `serde_path_to_error` to find where `T` failed.
#[cold]
#[inline(never)]
fn locate<T: serde::de::DeserializeOwned>(body: &[u8], first: serde_json::Error) -> JsonFail {
    let rust_type = short_type_name(std::any::type_name::<T>());
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) => JsonFail {
            path: json_path(e.path()),
            rust_type,
            source: e.into_inner(),
        },
        // The value itself decodes: what failed is after it (trailing characters).
        Ok(_) => JsonFail {
            path: "$".into(),
            rust_type,
            source: first,
        },
    }
}

/// A `serde_path_to_error` path written as a JSONPath: `$`, `$.items[3].head.repo`, `$["a key"]`.
fn json_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::from("$");
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                let plain = !key.is_empty()
                    && !key.starts_with(|c: char| c.is_ascii_digit())
                    && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push('.');
                    out.push_str(key);
                } else {
                    out.push_str(&format!("[{key:?}]"));
                }
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// `alloc::vec::Vec<github_rest::types::shared::PullRequestSimple>` → `Vec<PullRequestSimple>`.
fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or(&word));
    out
}

#[cfg(test)]
mod decode_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code, reason = "decoded, never read")]
        items: Vec<Pull>,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Pull {
        #[allow(dead_code, reason = "decoded, never read")]
        head: Head,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Head {
        #[allow(dead_code, reason = "decoded, never read")]
        repo: Repo,
    }
    #[derive(Debug, serde::Deserialize)]
    struct Repo {
        #[allow(dead_code, reason = "decoded, never read")]
        full_name: String,
    }

    fn page_with_deleted_fork() -> Bytes {
        Bytes::from_static(
            br#"{"items": [{"head": {"repo": {"full_name": "a/b"}}}, {"head": {"repo": {"full_name": "c/d"}}},
                           {"head": {"repo": {"full_name": "e/f"}}}, {"head": {"repo": null}}]}"#,
        )
    }

    #[test]
    fn a_decode_failure_names_the_path_the_type_and_the_operation_and_keeps_the_body() {
        let raw = RawResponse {
            op: "search/issues-and-pull-requests",
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: page_with_deleted_fork(),
        };
        let err = raw
            .finish(&[], |_, body| decode_json::<Page>(body))
            .unwrap_err();
        assert_eq!(err.decode_path(), Some("$.items[3].head.repo"));
        let Error::Decode {
            operation,
            status,
            ref rust_type,
            ref body,
            ..
        } = err
        else {
            panic!("a decode error: {err:?}")
        };
        assert_eq!(operation, "search/issues-and-pull-requests");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(rust_type, "Page");
        assert_eq!(body.0, page_with_deleted_fork());
        let text = err.to_string();
        assert!(
            text.starts_with(
                "search/issues-and-pull-requests: could not decode the 200 OK response into Page at \
                 $.items[3].head.repo: invalid type: null, expected struct Repo"
            ),
            "{text}"
        );
        // The message names each cause once.
        assert_eq!(error_chain(&err), text);
        // The caller can still read what GitHub sent.
        let json = err.body_json().expect("the kept body is JSON");
        assert_eq!(json["items"][2]["head"]["repo"]["full_name"], "e/f");
        assert!(json["items"][3]["head"]["repo"].is_null());
    }

    #[test]
    fn paths_of_arrays_odd_keys_missing_fields_and_trailing_bytes() {
        let fail = |body: &str| match decode_json::<Vec<std::collections::HashMap<String, Pull>>>(
            body.as_bytes(),
        ) {
            Err(DecodeFail::Json(f)) => (f.path, f.rust_type, f.source.to_string()),
            _ => panic!("{body} must fail"),
        };
        let (path, ty, msg) = fail(r#"[{}, {"a-b": {"head": {}}}]"#);
        assert_eq!(path, r#"$[1]["a-b"].head"#);
        assert_eq!(ty, "Vec<HashMap<String, Pull>>");
        assert!(msg.starts_with("missing field `repo`"), "{msg}");
        // The value decodes but something follows it: the whole body is at fault.
        let (path, _, msg) = fail("[] x");
        assert_eq!(path, "$");
        assert!(msg.starts_with("trailing characters"), "{msg}");
        let (path, _, _) = fail("not json");
        assert_eq!(path, "$");
    }

    #[test]
    fn a_success_decodes_and_type_names_are_short() {
        let ok: Vec<u32> = match decode_json(b"[1, 2]") {
            Ok(v) => v,
            Err(_) => panic!("decodes"),
        };
        assert_eq!(ok, [1, 2]);
        assert_eq!(
            short_type_name("core::option::Option<alloc::string::String>"),
            "Option<String>"
        );
    }
}

#[doc(hidden)]
pub fn decode_text(body: &Bytes) -> Result<String, DecodeFail> {
    std::str::from_utf8(body)
        .map(str::to_string)
        .map_err(DecodeFail::Text)
}

/// A text or empty body that did not fit `T` (the whole body, `$`).
fn not_json<T>(source: serde_json::Error) -> DecodeFail {
    DecodeFail::Json(JsonFail {
        path: "$".into(),
        rust_type: std::any::type_name::<T>().into(),
        source,
    })
}

/// Reads a body of the given kind into `T`: JSON with serde_json; text and emptiness through serde's value
/// deserializers, so `T` is `String` for text and `()` for no body.
#[inline]
fn decode_as<T: serde::de::DeserializeOwned>(
    kind: BodyKind,
    body: &Bytes,
) -> Result<T, DecodeFail> {
    use serde::de::value::{StrDeserializer, UnitDeserializer};
    match kind {
        BodyKind::Json => decode_json(body),
        BodyKind::Text => {
            let text = std::str::from_utf8(body).map_err(DecodeFail::Text)?;
            T::deserialize(StrDeserializer::<serde_json::Error>::new(text))
                .map_err(|e| not_json::<T>(e))
        }
        BodyKind::Empty => T::deserialize(UnitDeserializer::<serde_json::Error>::new())
            .map_err(|e| not_json::<T>(e)),
    }
}

/// A response before decoding.
#[doc(hidden)]
pub struct RawResponse {
    op: &'static str,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl RawResponse {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Decodes a success with `decode`, or an error status into [`Error::Api`] using the operation's error table.
    #[inline]
    pub fn finish<T>(
        self,
        errors: &[(u16, Option<crate::errors::Decoder>)],
        decode: impl FnOnce(u16, &Bytes) -> Result<T, DecodeFail>,
    ) -> Result<Response<T>, Error> {
        let code = self.status.as_u16();
        if code == 304 {
            return Err(Error::NotModified(Box::new(self.headers)));
        }
        if code < 400 {
            return match decode(code, &self.body) {
                Ok(body) => Ok(Response {
                    status: self.status,
                    headers: self.headers,
                    body,
                }),
                Err(DecodeFail::Unexpected) => Err(Error::Api(Box::new(ApiError::new(
                    self.op,
                    self.status,
                    self.headers,
                    self.body,
                    None,
                )))),
                Err(DecodeFail::Json(e)) => Err(e.into_error(self.op, self.status, self.body)),
                Err(DecodeFail::Text(e)) => Err(Error::Api(Box::new(ApiError::new(
                    self.op,
                    self.status,
                    self.headers,
                    self.body,
                    Some(e.to_string()),
                )))),
            };
        }
        let decoder = errors
            .iter()
            .find(|(s, _)| *s == code)
            .and_then(|(_, d)| *d);
        let mut err = ApiError::new(self.op, self.status, self.headers, self.body, None);
        if let Some(d) = decoder {
            match d(&err.raw) {
                Ok(b) => err.body = b,
                Err(e) => err.decode_error = Some(e.to_string()),
            }
        }
        Err(Error::Api(Box::new(err)))
    }
}

/// Everything that can go wrong with a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// GitHub answered with an error status (or a status the spec does not list).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// `304 Not Modified`: the answer to a conditional request (`If-None-Match`, `If-Modified-Since`) whose resource
    /// has not changed; the headers carry the `ETag`. Only a caller who sent such a header sees it (the conditional
    /// cache of `github-auth` answers from its cache instead).
    #[error("not modified (304)")]
    NotModified(Box<HeaderMap>),
    /// A success body did not match the spec's schema. The body is kept: [`Error::body_json`] still reads it.
    #[error(
        "{operation}: could not decode the {status} response into {rust_type} at {path}: {source}"
    )]
    Decode {
        operation: &'static str,
        status: StatusCode,
        /// JSONPath of the value that failed, e.g. `$.items[3].head.repo` (`$` is the whole body; for an item of
        /// a paginated stream, the item).
        path: String,
        /// The Rust type the body was decoded into, e.g. `Vec<PullRequestSimple>`.
        rust_type: String,
        #[source]
        source: serde_json::Error,
        body: RawBody,
    },
    /// The request body could not be encoded.
    #[error("could not encode the request body: {0}")]
    Encode(#[source] serde_json::Error),
    /// Transport: connection, TLS, timeout, body read. The message names every cause once, so it is not
    /// repeated as a `source()`.
    #[error("HTTP transport error: {}", error_chain(.0))]
    Http(reqwest::Error),
    /// A rate limit the middleware could not, or was told not to, wait out.
    #[error("{0}")]
    RateLimit(RateLimitError),
    /// A middleware layer gave up (retry budget, authentication...).
    #[error("middleware: {0:#}")]
    Middleware(anyhow::Error),
    /// A link in a response (a next page) points to a host other than the configured API host; it is not followed.
    #[error("refusing to follow a link to another host: {0}")]
    ForeignUrl(String),
    /// The client was configured wrongly.
    #[error("client configuration: {0}")]
    Config(String),
}

impl Error {
    fn from_middleware(e: reqwest_middleware::Error) -> Self {
        match e {
            reqwest_middleware::Error::Reqwest(e) => Error::Http(e),
            reqwest_middleware::Error::Middleware(e) => match e.downcast::<RateLimitError>() {
                Ok(r) => Error::RateLimit(r),
                Err(e) => Error::Middleware(e),
            },
        }
    }

    /// The HTTP status, when GitHub answered (for a rate limit the middleware refused before sending, the status
    /// GitHub answered when the limit was met).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Decode { status, .. } => Some(*status),
            Error::NotModified(_) => Some(StatusCode::NOT_MODIFIED),
            Error::RateLimit(r) => r.status(),
            _ => None,
        }
    }

    /// The rate limit this call met: the one the middleware gave up on, or, without the middleware, a 403 or 429
    /// from GitHub that says it is a rate limit (`retry-after`, or `x-ratelimit-remaining: 0`).
    pub fn rate_limit(&self) -> Option<RateLimitError> {
        match self {
            Error::RateLimit(r) => Some(r.clone()),
            Error::Api(e) if matches!(e.status.as_u16(), 403 | 429) => {
                RateLimitError::from_response(e.status, &e.rate_limit, e.message.clone(), 1)
            }
            _ => None,
        }
    }

    /// The API error, when GitHub answered with an error status.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Where a success body failed to decode: its JSONPath, e.g. `$.items[3].head.repo`.
    pub fn decode_path(&self) -> Option<&str> {
        match self {
            Error::Decode { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The body of a response that failed to decode (or of an error status), as JSON, so a caller can still read
    /// what GitHub sent; `None` when there is no body or it is not JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        let body = match self {
            Error::Decode { body, .. } => body,
            Error::Api(e) => &e.raw,
            _ => return None,
        };
        serde_json::from_slice(body).ok()
    }
}

/// An error and its causes, joined with `: `, each once (a cause whose text the message already ends with is not
/// repeated). Used wherever an error's causes are written into one message.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

/// One entry of a validation error's `errors` list.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct ValidationErrorItem {
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Rate-limit headers of a response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub used: Option<u64>,
    /// Unix seconds.
    pub reset: Option<u64>,
    pub resource: Option<String>,
    /// Seconds, from `retry-after`.
    pub retry_after: Option<u64>,
}

impl RateLimitHeaders {
    /// Reads the `x-ratelimit-*` and `retry-after` headers (the first of each name, as `HeaderMap::get` would).
    pub fn from_headers(h: &HeaderMap) -> Self {
        // One pass over the headers, matching names by their text: GitHub sends some thirty headers, and six hashed
        // lookups cost more than comparing each name's first bytes.
        let mut scan = RateLimitScan::default();
        for (name, value) in h {
            scan.header(name.as_str(), value);
        }
        scan.finish()
    }
}

/// [`RateLimitHeaders::from_headers`] one header at a time, for a caller that walks the headers for something else
/// too (the cache of `github-auth` copies a response's headers in the same pass).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct RateLimitScan {
    out: RateLimitHeaders,
    /// The names read so far, one bit each: the first value of a name counts.
    seen: u8,
}

impl RateLimitScan {
    /// Reads one header (`name` in lower case, as a `HeaderName` holds it).
    #[inline]
    pub fn header(&mut self, name: &str, value: &http::HeaderValue) {
        let bit = match name.strip_prefix("x-ratelimit-") {
            Some("limit") => 1,
            Some("remaining") => 2,
            Some("used") => 4,
            Some("reset") => 8,
            Some("resource") => 16,
            Some(_) => return,
            None if name == "retry-after" => 32,
            None => return,
        };
        if self.seen & bit != 0 {
            return;
        }
        self.seen |= bit;
        let Ok(text) = value.to_str() else {
            return;
        };
        let num = || text.trim().parse().ok();
        let out = &mut self.out;
        match bit {
            1 => out.limit = num(),
            2 => out.remaining = num(),
            4 => out.used = num(),
            8 => out.reset = num(),
            16 => out.resource = Some(text.to_string()),
            _ => out.retry_after = num(),
        }
    }

    /// What the headers read said.
    pub fn finish(self) -> RateLimitHeaders {
        self.out
    }
}

/// A rate limit a call met. The middleware of `github-auth` gives up with this (inside
/// `reqwest_middleware::Error::Middleware`), and the client surfaces it as [`Error::RateLimit`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitError {
    /// The primary limit of `resource` is used up until `reset_unix`.
    #[error("primary rate limit of `{resource}` exhausted; it resets at Unix time {reset_unix}")]
    Primary {
        /// The status GitHub answered (403 or 429); `None` when the middleware refused before sending because it
        /// already knew the limit was used up.
        status: Option<StatusCode>,
        /// GitHub's `x-ratelimit-resource` (`core`, `search`, ...).
        resource: String,
        /// `x-ratelimit-limit`, when known.
        limit: Option<u64>,
        /// `x-ratelimit-reset`: Unix seconds when the window resets.
        reset_unix: u64,
    },
    /// A secondary rate limit: GitHub kept refusing the request.
    #[error("secondary rate limit: gave up after {attempts} attempt(s){}", message.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Secondary {
        /// The status of the last refusal (403 or 429).
        status: StatusCode,
        /// Requests sent for this call.
        attempts: u32,
        /// The last `retry-after`, if GitHub sent one.
        retry_after: Option<std::time::Duration>,
        /// GitHub's last `message`.
        message: Option<String>,
    },
}

impl RateLimitError {
    /// Classifies a 403 or 429 by its headers: `retry-after` means a secondary limit, `x-ratelimit-remaining: 0`
    /// the primary one. `None` when the headers say neither.
    pub fn from_response(
        status: StatusCode,
        rl: &RateLimitHeaders,
        message: Option<String>,
        attempts: u32,
    ) -> Option<Self> {
        if let Some(secs) = rl.retry_after {
            return Some(RateLimitError::Secondary {
                status,
                attempts,
                retry_after: Some(std::time::Duration::from_secs(secs)),
                message,
            });
        }
        if rl.remaining == Some(0) {
            return Some(RateLimitError::Primary {
                status: Some(status),
                resource: rl.resource.clone().unwrap_or_else(|| "core".into()),
                limit: rl.limit,
                reset_unix: rl.reset.unwrap_or_default(),
            });
        }
        None
    }

    /// The status GitHub answered, if the request was sent.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            RateLimitError::Primary { status, .. } => *status,
            RateLimitError::Secondary { status, .. } => Some(*status),
        }
    }

    /// When a primary limit resets.
    pub fn reset(&self) -> Option<std::time::SystemTime> {
        match self {
            RateLimitError::Primary { reset_unix, .. } => Some(
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(*reset_unix),
            ),
            RateLimitError::Secondary { .. } => None,
        }
    }

    /// How long GitHub asked to wait after a secondary limit, if it said.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            RateLimitError::Secondary { retry_after, .. } => *retry_after,
            RateLimitError::Primary { .. } => None,
        }
    }
}

/// An error status from GitHub, with everything it said.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// Operation id.
    pub operation: &'static str,
    pub status: StatusCode,
    /// GitHub's `message`.
    pub message: Option<String>,
    pub documentation_url: Option<String>,
    /// Validation errors (`errors[]`), when given as objects.
    pub errors: Vec<ValidationErrorItem>,
    /// The body decoded into the type the spec gives for this status.
    pub body: crate::errors::ErrorBody,
    pub rate_limit: RateLimitHeaders,
    pub headers: HeaderMap,
    /// The body as received (kept whatever it is: JSON, HTML, empty).
    pub raw: RawBody,
    /// Why the body did not decode into the spec's type, if it did not.
    pub decode_error: Option<String>,
}

impl ApiError {
    fn new(
        op: &'static str,
        status: StatusCode,
        headers: HeaderMap,
        raw: Bytes,
        decode_error: Option<String>,
    ) -> Self {
        #[derive(serde::Deserialize)]
        struct Common {
            #[serde(default)]
            message: Option<String>,
            #[serde(default)]
            documentation_url: Option<String>,
            #[serde(default)]
            errors: Option<serde_json::Value>,
        }
        let (message, documentation_url, errors, body) = match serde_json::from_slice::<
            serde_json::Value,
        >(&raw)
        {
            Ok(v) => {
                let c: Option<Common> = serde_json::from_value(v.clone()).ok();
                let (m, d, e) = c
                    .map(|c| (c.message, c.documentation_url, c.errors))
                    .unwrap_or_default();
                let errors = match e {
                    Some(serde_json::Value::Array(items)) => items
                        .into_iter()
                        .map(|i| match i {
                            serde_json::Value::String(s) => ValidationErrorItem {
                                resource: None,
                                field: None,
                                code: None,
                                message: Some(s),
                            },
                            other => serde_json::from_value(other).unwrap_or(ValidationErrorItem {
                                resource: None,
                                field: None,
                                code: None,
                                message: None,
                            }),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (m, d, errors, crate::errors::ErrorBody::Json(v))
            }
            Err(_) if raw.is_empty() => (None, None, Vec::new(), crate::errors::ErrorBody::Empty),
            Err(_) => (
                None,
                None,
                Vec::new(),
                crate::errors::ErrorBody::Text(String::from_utf8_lossy(&raw).into_owned()),
            ),
        };
        ApiError {
            operation: op,
            status,
            message,
            documentation_url,
            errors,
            body,
            rate_limit: RateLimitHeaders::from_headers(&headers),
            headers,
            raw: RawBody(raw),
            decode_error,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: GitHub answered {}", self.operation, self.status)?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        for e in &self.errors {
            write!(
                f,
                "; {}",
                [
                    e.resource.as_deref(),
                    e.field.as_deref(),
                    e.code.as_deref(),
                    e.message.as_deref()
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
            )?;
        }
        if let Some(u) = &self.documentation_url {
            write!(f, " ({u})")?;
        }
        Ok(())
    }
}

/// `Option<Option<T>>` for optional nullable request fields: absent (`None`), `null` (`Some(None)`), or a value.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// What the generated `Deserialize` impls of the models share, so that each model adds only its list of fields.
///
/// A model reads a JSON object key by key: [`Field`] turns a key into the index of its field (with a `match` of the
/// model's own, which the compiler turns into comparisons by length and then by a few words), [`put`] stores the
/// value, and [`required`] finishes. Unknown keys are skipped, a repeated key is an error, a missing `Option` field is
/// `None`, and any other missing field is an error naming it, as with `#[derive(Deserialize)]`.
#[doc(hidden)]
pub mod de {
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    /// A model decoded from a JSON object.
    pub trait FromMap<'de>: Sized {
        /// The model's name, for error messages.
        const NAME: &'static str;
        /// Reads the object's keys and values.
        fn from_map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
    }

    /// The body of each model's `Deserialize::deserialize`.
    pub fn structure<'de, T: FromMap<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        d.deserialize_map(ObjectVisitor(PhantomData))
    }

    struct ObjectVisitor<T>(PhantomData<T>);

    impl<'de, T: FromMap<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "struct {}", T::NAME)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::from_map(map)
        }
    }

    /// Turns a key into its field's index with the model's `match` on the key (`usize::MAX` for a key the model
    /// does not have).
    pub struct Field(pub fn(&str) -> usize);

    impl<'de> DeserializeSeed<'de> for Field {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
            d.deserialize_identifier(self)
        }
    }

    impl<'de> Visitor<'de> for Field {
        type Value = usize;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a field name")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<usize, E> {
            Ok((self.0)(key))
        }

        fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<usize, E> {
            match std::str::from_utf8(key) {
                Ok(s) => self.visit_str(s),
                Err(_) => Ok(usize::MAX),
            }
        }

        fn visit_u64<E: de::Error>(self, _: u64) -> Result<usize, E> {
            Ok(usize::MAX)
        }
    }

    /// Stores the value of field `name`; a second value for it is an error.
    #[inline]
    pub fn put<'de, T: de::Deserialize<'de>, A: MapAccess<'de>>(
        slot: &mut Option<T>,
        map: &mut A,
        name: &'static str,
    ) -> Result<(), A::Error> {
        if slot.is_some() {
            return Err(de::Error::duplicate_field(name));
        }
        *slot = Some(map.next_value()?);
        Ok(())
    }

    /// Skips the value of a key the model does not have.
    #[inline]
    pub fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
        map.next_value::<de::IgnoredAny>().map(drop)
    }

    /// The value of a required field, or the error naming it.
    #[inline]
    pub fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
        slot.ok_or_else(|| E::missing_field(name))
    }

    /// Decodes a string with `f`, without copying it when the input lends it.
    pub fn with_str<'de, T, D: Deserializer<'de>>(d: D, f: fn(&str) -> T) -> Result<T, D::Error> {
        d.deserialize_str(StrVisitor(f))
    }

    struct StrVisitor<T>(fn(&str) -> T);

    impl<'de, T> Visitor<'de> for StrVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            Ok((self.0)(s))
        }
    }

    /// The written-out impl against `#[derive(Deserialize)]` on the same fields: same values, same errors.
    #[cfg(test)]
    mod tests {
        use super::*;
        use serde::Deserialize;

        #[derive(Debug, PartialEq, Deserialize)]
        struct Derived {
            id: i64,
            #[serde(rename = "type")]
            kind: String,
            nullable_required: Option<String>,
            #[serde(default)]
            optional: Option<Vec<u32>>,
            #[serde(default)]
            boxed: Option<Box<Derived>>,
        }

        /// What `cargo xtask regen` writes for `Derived`'s fields.
        #[derive(Debug, PartialEq)]
        struct Written {
            id: i64,
            kind: String,
            nullable_required: Option<String>,
            optional: Option<Vec<u32>>,
            boxed: Option<Box<Written>>,
        }

        impl<'de> Deserialize<'de> for Written {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                structure(d)
            }
        }

        impl<'de> FromMap<'de> for Written {
            const NAME: &'static str = "Derived";
            fn from_map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
                fn index(key: &str) -> usize {
                    match key {
                        "id" => 0,
                        "type" => 1,
                        "nullable_required" => 2,
                        "optional" => 3,
                        "boxed" => 4,
                        _ => usize::MAX,
                    }
                }
                let mut f0: Option<i64> = None;
                let mut f1: Option<String> = None;
                let mut f2: Option<Option<String>> = None;
                let mut f3: Option<Option<Vec<u32>>> = None;
                let mut f4: Option<Option<Box<Written>>> = None;
                while let Some(i) = map.next_key_seed(Field(index))? {
                    match i {
                        0 => put(&mut f0, &mut map, "id")?,
                        1 => put(&mut f1, &mut map, "type")?,
                        2 => put(&mut f2, &mut map, "nullable_required")?,
                        3 => put(&mut f3, &mut map, "optional")?,
                        4 => put(&mut f4, &mut map, "boxed")?,
                        _ => skip(&mut map)?,
                    }
                }
                Ok(Written {
                    id: required(f0, "id")?,
                    kind: required(f1, "type")?,
                    nullable_required: f2.flatten(),
                    optional: f3.flatten(),
                    boxed: f4.flatten(),
                })
            }
        }

        impl From<Derived> for Written {
            fn from(d: Derived) -> Self {
                Written {
                    id: d.id,
                    kind: d.kind,
                    nullable_required: d.nullable_required,
                    optional: d.optional,
                    boxed: d.boxed.map(|b| Box::new(Written::from(*b))),
                }
            }
        }

        /// A model inside an untagged union is decoded from serde's buffered copy of the input.
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum Union<T> {
            Number(i64),
            Model(T),
        }

        fn same(json: &str) -> Result<Written, String> {
            let derived = serde_json::from_str::<Derived>(json).map(Written::from);
            let written = serde_json::from_str::<Written>(json);
            match (&derived, &written) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{json}"),
                _ => panic!("{json}: derive gives {derived:?}, written gives {written:?}"),
            }
            // The same through a reader (keys are not lent), a `Value` (keys are owned) and a buffered union.
            let reader = serde_json::from_reader::<_, Written>(json.as_bytes());
            assert_eq!(reader.is_ok(), written.is_ok(), "{json}");
            // (A `Value` keeps the last of repeated keys, so these compare with the derive on the same `Value`.)
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(json) {
                let from_value = serde_json::from_value::<Written>(v.clone()).ok();
                let derived = serde_json::from_value::<Derived>(v.clone()).ok();
                assert_eq!(from_value, derived.map(Written::from), "{json}");
                let union = serde_json::from_value::<Union<Written>>(v.clone()).ok();
                let derived_union = serde_json::from_value::<Union<Derived>>(v).ok();
                assert_eq!(union.is_some(), derived_union.is_some(), "{json}");
                if let (Some(Union::Model(m)), Some(f)) = (union, from_value) {
                    assert_eq!(m, f, "{json}");
                }
            }
            written.map_err(|e| e.to_string())
        }

        #[test]
        fn decodes_as_the_derive_does() {
            let full = same(
                r#"{"id":1,"type":"User","nullable_required":"x","optional":[1,2],
                    "boxed":{"id":2,"type":"Bot","nullable_required":null}}"#,
            )
            .unwrap();
            assert_eq!(full.optional, Some(vec![1, 2]));
            assert_eq!(full.boxed.as_ref().unwrap().kind, "Bot");
            // Keys in any order, unknown keys of any shape skipped, an escaped key, `null` for optional fields.
            let v = same(
                r#"{"extra":{"a":[1,{"b":null}]},"optional":null,"\u0069d":7,"boxed":null,
                    "type":"Organization","nullable_required":null,"more":"x"}"#,
            )
            .unwrap();
            assert_eq!(
                (v.id, v.kind.as_str(), v.optional),
                (7, "Organization", None)
            );
            // A missing `Option` is `None`, even where the schema requires the key.
            assert_eq!(
                same(r#"{"id":1,"type":"User"}"#).unwrap().nullable_required,
                None
            );
            assert_eq!(
                same(r#"{"type":"User"}"#).unwrap_err(),
                "missing field `id` at line 1 column 15"
            );
            assert!(same(r#"{"id":1,"type":"User","id":2}"#)
                .unwrap_err()
                .starts_with("duplicate field `id`"));
            assert!(same(r#"{"id":"1","type":"User"}"#)
                .unwrap_err()
                .starts_with("invalid type: string \"1\", expected i64"));
            assert!(same(r#""text""#)
                .unwrap_err()
                .starts_with("invalid type: string \"text\", expected struct Derived"));
            same(r#"{"id":1,"type":"User","boxed":{"type":"User"}}"#).unwrap_err();
            same(r#"{"id":1,"type":"User""#).unwrap_err();
            same("5").unwrap_err();
        }
    }
}

/// Defines a string enum that keeps values it does not know in `Other`, and writes them back unchanged.
#[macro_export]
#[doc(hidden)]
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $(#[doc = $s] $v,)*
            /// A value this version of the spec does not list.
            Other(String),
        }
        impl $name {
            /// The value as GitHub spells it.
            pub fn as_str(&self) -> &str {
                match self { $($name::$v => $s,)* $name::Other(s) => s }
            }
        }
        impl ::std::convert::From<&str> for $name {
            fn from(s: &str) -> Self {
                match s { $($s => $name::$v,)* other => $name::Other(other.to_string()) }
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(self.as_str()) }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::runtime::de::with_str(d, |s: &str| $name::from(s))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_scheme_host_and_port() {
        let h = Hosts::new(&[
            "https://api.github.com",
            "https://uploads.github.com",
            "http://127.0.0.1:8080/api/v3",
        ])
        .unwrap();
        let ok = |u: &str| h.allows(&url::Url::parse(u).unwrap());
        assert!(ok("https://api.github.com/repos/a/b"));
        assert!(ok("https://API.github.com:443/x"));
        assert!(ok("https://uploads.github.com/repos/a/b/releases/1/assets"));
        assert!(ok("http://127.0.0.1:8080/api/v3/user"));
        assert!(!ok("http://api.github.com/x"), "scheme differs");
        assert!(!ok("https://api.github.com.evil.example/x"));
        assert!(!ok("https://objects.githubusercontent.com/x"));
        assert!(!ok("http://127.0.0.1:8081/api/v3/user"), "port differs");
        assert!(Hosts::new(&["not a url"]).is_err());
    }

    #[test]
    fn redirects_for_moved_resources_are_followed_with_method_and_body() {
        let get = reqwest::Client::new()
            .get("https://api.github.com/repos/old/name")
            .build()
            .unwrap();
        let loc = http::HeaderValue::from_static("https://api.github.com/repositories/42");
        let r = redirected(StatusCode::MOVED_PERMANENTLY, &get, Some(&loc)).unwrap();
        assert_eq!(r.url().as_str(), "https://api.github.com/repositories/42");
        let patch = reqwest::Client::new()
            .patch("https://api.github.com/repos/old/name")
            .body("{\"name\":\"x\"}")
            .build()
            .unwrap();
        let rel = http::HeaderValue::from_static("/repositories/42");
        let r = redirected(StatusCode::TEMPORARY_REDIRECT, &patch, Some(&rel)).unwrap();
        assert_eq!(r.method(), reqwest::Method::PATCH);
        assert_eq!(r.url().as_str(), "https://api.github.com/repositories/42");
        assert_eq!(
            r.body().and_then(|b| b.as_bytes()),
            Some(&b"{\"name\":\"x\"}"[..])
        );
        // A 302 after a write is not replayed, nor is a redirect without a Location.
        assert!(redirected(StatusCode::FOUND, &patch, Some(&rel)).is_none());
        assert!(redirected(StatusCode::MOVED_PERMANENTLY, &get, None).is_none());
        assert!(redirected(StatusCode::OK, &get, Some(&loc)).is_none());
    }

    #[test]
    fn an_operation_answering_with_a_redirect_does_not_follow_it() {
        let ep = |success: &'static [(u16, BodyKind)]| Endpoint {
            id: "x",
            auth: AuthKind::Token,
            method: reqwest::Method::GET,
            host: Host::Api,
            path: "/x",
            accept: DEFAULT_ACCEPT,
            success,
            errors: &[],
        };
        assert!(ep(&[(200, BodyKind::Json)]).info().follow_redirects);
        assert!(
            !ep(&[(204, BodyKind::Empty), (302, BodyKind::Empty)])
                .info()
                .follow_redirects
        );
    }

    #[test]
    fn path_templates_are_filled_in_order_and_encoded() {
        let n = 42i64;
        let path = fill_path(
            "/repos/{owner}/{repo}/contents/{path}/{n}",
            &[&"oct o", &"hello", &"docs/a b.md", &n],
        );
        assert_eq!(path, "/repos/oct%20o/hello/contents/docs/a%20b.md/42");
        assert_eq!(fill_path("/user", &[]), "/user");
    }

    #[test]
    fn query_pairs_join_explode_and_skip_absent_values() {
        let mut q = QueryPairs::default();
        q.push("state", "open");
        q.push_opt::<i64>("page", None);
        q.push_opt("per_page", Some(&30));
        q.push_joined("labels", Some(&vec!["bug", "ui"]));
        q.push_each("ids", Some(&vec![1, 2]));
        q.push_each::<i64>("none", None);
        let got: Vec<(&str, &str)> = q.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("state", "open"),
                ("per_page", "30"),
                ("labels", "bug,ui"),
                ("ids", "1"),
                ("ids", "2")
            ]
        );
        let args = Args::new(&[]).per_page(100);
        assert_eq!(args.query.0, vec![("per_page", "100".to_string())]);
    }

    #[test]
    fn bodies_are_read_by_kind() {
        let json = Bytes::from_static(br#"{"a":1}"#);
        let v: serde_json::Value = decode_as(BodyKind::Json, &json).ok().unwrap();
        assert_eq!(v["a"], 1);
        let text: String = decode_as(BodyKind::Text, &Bytes::from_static(b"diff --git"))
            .ok()
            .unwrap();
        assert_eq!(text, "diff --git");
        let _: () = decode_as(BodyKind::Empty, &Bytes::new()).ok().unwrap();
        assert!(decode_as::<i64>(BodyKind::Json, &json).is_err());
        assert!(decode_as::<String>(BodyKind::Text, &Bytes::from_static(&[0xff])).is_err());
    }

    #[test]
    fn an_unencodable_body_fails_the_call_not_the_build() {
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1);
        let args = Args::new(&[]).json(&bad);
        assert!(args.body.is_err());
    }

    #[test]
    fn user_agents_are_checked() {
        assert!(check_user_agent("my-app/1.0").is_ok());
        assert!(matches!(check_user_agent(""), Err(Error::Config(_))));
        assert!(matches!(
            check_user_agent("bad\nvalue"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn a_call_url_is_the_base_and_path_as_one_string_would_parse() {
        let bases = [
            "https://api.github.com",
            "http://127.0.0.1:8080",
            "https://ghe.example.com/api/v3",
            "https://GHE.Example.com:8443/api/uploads",
            "https://ghe.example.com/a%20b",
        ];
        let values: [&str; 6] = [
            "octocat",
            "héllo wörld",
            "a?b#c",
            "heads/feature x",
            "..",
            "%41",
        ];
        for base in bases {
            let parsed = base_url(base).unwrap();
            for v in values {
                let path = fill_path("/repos/{owner}/{repo}/git/ref/{ref}", &[&"o", &"r", &v]);
                let want = url::Url::parse(&format!("{base}{path}")).unwrap();
                assert_eq!(join_path(&parsed, &path), want, "{base} {path}");
            }
        }
        assert!(matches!(base_url("no scheme"), Err(Error::Config(_))));
        for b in [
            "https://ghe.example.com/api?v=3",
            "https://ghe.example.com/api#v3",
        ] {
            assert!(matches!(base_url(b), Err(Error::Config(_))), "{b}");
        }
        // A path whose dot segments leave a trailing `/` adds no empty segment.
        let dotted = base_url("https://ghe.example.com/api/v3/x/..").unwrap();
        assert_eq!(
            join_path(&dotted, "/repos/o/r").as_str(),
            "https://ghe.example.com/api/v3/repos/o/r"
        );
    }

    #[test]
    fn uploads_base_defaults() {
        assert_eq!(
            uploads_base_for(DEFAULT_API_BASE, None),
            DEFAULT_UPLOADS_BASE
        );
        assert_eq!(
            uploads_base_for("https://ghe.example/api/v3", None),
            "https://ghe.example/api/v3"
        );
        assert_eq!(
            uploads_base_for(DEFAULT_API_BASE, Some("http://127.0.0.1:9")),
            "http://127.0.0.1:9"
        );
    }

    #[test]
    fn http_config_errors_are_typed() {
        assert!(HttpConfig::default().client().is_ok());
        assert!(matches!(
            HttpConfig::default().add_root_certificates_pem(b"garbage"),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            HttpConfig::default().proxy("::not a url::").client(),
            Err(Error::Config(_))
        ));
        assert!(HttpConfig::default()
            .no_proxy()
            .native_roots(true)
            .client()
            .is_ok());
    }

    #[test]
    fn rate_limit_headers_are_read_in_one_pass_first_value_first() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("content-type", "application/json"),
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", " 4999 "),
            ("x-ratelimit-used", "1"),
            ("x-ratelimit-reset", "1700000000"),
            ("x-ratelimit-resource", "core"),
            ("x-ratelimit-unknown", "7"),
            ("retry-after", "30"),
        ] {
            h.append(
                http::HeaderName::from_static(n),
                http::HeaderValue::from_static(v),
            );
        }
        // A second value of a name is not read, as `HeaderMap::get` would not read it; neither is an unparsable
        // first value replaced by a later one.
        h.append("x-ratelimit-limit", http::HeaderValue::from_static("60"));
        h.insert("x-ratelimit-used", http::HeaderValue::from_static("many"));
        h.append("x-ratelimit-used", http::HeaderValue::from_static("2"));
        let rl = RateLimitHeaders::from_headers(&h);
        assert_eq!(
            rl,
            RateLimitHeaders {
                limit: Some(5000),
                remaining: Some(4999),
                used: None,
                reset: Some(1_700_000_000),
                resource: Some("core".into()),
                retry_after: Some(30),
            }
        );
        assert_eq!(
            RateLimitHeaders::from_headers(&HeaderMap::new()),
            RateLimitHeaders::default()
        );
    }

    #[test]
    fn rate_limits_are_read_from_refusals() {
        let mut rl = RateLimitHeaders::default();
        assert_eq!(
            RateLimitError::from_response(StatusCode::FORBIDDEN, &rl, None, 1),
            None,
            "a plain 403"
        );
        rl.remaining = Some(0);
        rl.reset = Some(1_700_000_000);
        let p = RateLimitError::from_response(StatusCode::FORBIDDEN, &rl, None, 1).unwrap();
        assert_eq!(p.status(), Some(StatusCode::FORBIDDEN));
        assert_eq!(
            p.reset(),
            Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
        );
        rl.retry_after = Some(30);
        let s = RateLimitError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &rl,
            Some("slow down".into()),
            2,
        )
        .unwrap();
        assert_eq!(s.retry_after(), Some(std::time::Duration::from_secs(30)));
        assert_eq!(
            s.to_string(),
            "secondary rate limit: gave up after 2 attempt(s) (slow down)"
        );
    }

    #[test]
    fn causes_are_written_once() {
        #[derive(Debug)]
        struct Outer(Inner);
        #[derive(Debug)]
        struct Inner;
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("request failed")
            }
        }
        impl std::fmt::Display for Inner {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connection refused")
            }
        }
        impl std::error::Error for Inner {}
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(
            error_chain(&Outer(Inner)),
            "request failed: connection refused"
        );
    }

    #[test]
    fn path_parameters_are_encoded_but_slashes_kept() {
        assert_eq!(encode_path("heads/feature x"), "heads/feature%20x");
        assert_eq!(encode_path("a?b#c"), "a%3Fb%23c");
    }

    #[test]
    fn older_enterprise_release_is_noticed_once() {
        assert!(release_older("3.16.4", (3, 17)));
        assert!(!release_older("3.17.0", (3, 17)));
        assert!(!release_older("3.19.1", (3, 17)));
        assert!(!release_older("garbage", (3, 17)));
        let client = Client::builder().build().unwrap();
        assert!(
            matches!(
                Client::builder().user_agent("  ").build(),
                Err(Error::Config(_))
            ),
            "an empty User-Agent is refused"
        );
        let mut old = HeaderMap::new();
        old.insert("x-github-enterprise-version", "3.16.4".parse().unwrap());
        let mut new = HeaderMap::new();
        new.insert("x-github-enterprise-version", "3.19.0".parse().unwrap());
        assert!(
            !client.note_server_release(&new, Some((3, 17))),
            "a newer server is fine"
        );
        assert!(
            client.note_server_release(&old, Some((3, 17))),
            "the first response from an older server warns"
        );
        assert!(
            !client.note_server_release(&old, Some((3, 17))),
            "and only the first"
        );
        assert!(
            !client.note_server_release(&old, None),
            "api.github.com targets never warn"
        );
    }
}
