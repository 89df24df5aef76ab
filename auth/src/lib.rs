//! Authentication and middleware for the generated `github-rest` client.
//!
//! - Credentials: GitHub App JWT, installation tokens (exchanged and cached), OAuth-app Basic auth, personal, OAuth
//!   user and Actions tokens.
//! - Signing a user in ([`oauth`]): the OAuth web application flow (state, PKCE) and the device flow, ending in the
//!   user-token client.
//! - Middleware (one reqwest-middleware layer): rate limits, retries, conditional requests, tracing, and the send gate
//!   where every request waits for back-offs, its slot under the adaptive in-flight cap and write pacing.
//! - Webhooks (`webhooks`, feature `webhooks`): signature verification, typed payloads, redelivery detection.
//! - Several worker processes sharing installation tokens, rate-limit state, back-offs, the in-flight cap and the
//!   conditional-request cache through Redis (`fleet`, cargo feature `redis`).
//! - One HTTP configuration (`github_rest::HttpConfig`: time-outs, root certificates, proxy) for every host.
//!
//! Every mode ends in a plain [`github_rest::Client`], so every generated endpoint works with it. The endpoint groups
//! are cargo features of `github-rest` (this crate enables `apps` only): depend on `github-rest` yourself with the
//! groups you call, and cargo unifies the two.
//!
//! # Authentication modes
//!
//! One [`AuthBuilder`] constructor per mode; hosts (`base_url` for GHES), the user agent, the HTTP configuration,
//! the token store and the [middleware](middleware::MiddlewareConfig) are set on the builder before `build()`.
//!
//! **Personal access token**, OAuth user token or Actions' `GITHUB_TOKEN`, sent as `Authorization: Bearer`:
//!
//! ```no_run
//! use github_auth::{AuthBuilder, SecretString};
//! use github_rest::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let token = SecretString::from(std::env::var("GITHUB_TOKEN")?);
//! let client = AuthBuilder::token(token).user_agent("my-app").build()?;
//! let mut issues = client.issues().list_for_authenticated_user_stream(&Default::default());
//! while let Some(issue) = issues.try_next().await? {
//!     println!("#{} {}", issue.number, issue.title);
//! }
//! # Ok(()) }
//! ```
//!
//! **User token** (user-to-server, expiring): renewed with its refresh token and the app's client credentials when
//! it expires or GitHub refuses it; `on_token_refresh` sees each new pair so it can be saved. [`oauth::SignIn`]
//! obtains the first pair.
//!
//! ```no_run
//! use github_auth::{AuthBuilder, ClientCredentials, UserTokens};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tokens = UserTokens::expiring("ghu_…", 1_900_000_000, "ghr_…"); // access token, expiry (Unix s), refresh token
//! let app = ClientCredentials::new("Iv23abc", "client-secret");
//! let client = AuthBuilder::user_token(tokens, app)
//!     .on_token_refresh(|new| println!("save the new refresh token (expires {:?})", new.refresh_token_expires_at))
//!     .build()?;
//! let installations = client.apps().list_installations_for_authenticated_user(&Default::default()).await?;
//! println!("{} installations", installations.body.total_count);
//! # Ok(()) }
//! ```
//!
//! **GitHub App** (its JWT, signed RS256 with the app's private key, `iss` the app id or client id): `build()` gives
//! the JWT client; `build_app()` gives an [`App`], which also finds installations and makes their clients.
//!
//! ```no_run
//! use github_auth::{AuthBuilder, SecretString};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
//! let app = AuthBuilder::app(12345, key).build_app()?; // app id, private key (PEM)
//! let me = app.client().apps().get_authenticated().await?;
//! for installation in app.installations().await? {
//!     let client = app.installation_client(installation.id, None)?;
//!     // … act as that installation
//! #   let _ = (&me, client);
//! }
//! # Ok(()) }
//! ```
//!
//! **App installation**: installation tokens minted with the app's JWT, cached per API base, app, installation and
//! narrowing, renewed before they expire; the operations that take the app's JWT get the JWT.
//!
//! ```no_run
//! use github_auth::{middleware::MiddlewareConfig, AuthBuilder, SecretString};
//! use github_rest::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SecretString::from(std::fs::read_to_string("app.private-key.pem")?);
//! let client = AuthBuilder::installation(12345, key, 987654) // app id, private key, installation id
//!     .repositories(["widgets"])                             // optional: narrow the token
//!     .middleware(MiddlewareConfig::default())               // rate limits, retries, ETag cache, tracing
//!     .build()?;
//! let repos: Vec<_> = client
//!     .apps()
//!     .list_repos_accessible_to_installation_stream(&Default::default())
//!     .try_collect()
//!     .await?;
//! println!("{} repositories", repos.len());
//! # Ok(()) }
//! ```
//!
//! **OAuth app** (or a GitHub App's client credentials): client id and secret as HTTP Basic, for the
//! `/applications/{client_id}/…` endpoints.
//!
//! ```no_run
//! use github_auth::{AuthBuilder, ClientCredentials};
//! use github_rest::types::AppsCheckTokenRequest;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AuthBuilder::oauth_app(ClientCredentials::new("Iv23abc", "client-secret")).build()?;
//! let check = AppsCheckTokenRequest::new("gho_…");
//! let token = client.apps().check_token("Iv23abc", &check).await?;
//! println!("token of {:?}", token.body.user.map(|u| u.login));
//! # Ok(()) }
//! ```
//!
//! # Crate organisation
//!
//! | module | what lives there |
//! |---|---|
//! | [`builder`] | [`AuthBuilder`] (one constructor per mode, hosts, options, `build`/`build_app`) and the [`App`] handle |
//! | [`app_jwt`] | the App's JWT: [`AppIssuer`] (app id or client id), [`AppJwt`] (RS256 signing, cached until near expiry) |
//! | [`installation`] | installation tokens: [`InstallationTokens`] (exchange, cache, refresh, one exchange at a time), [`Narrowing`] |
//! | [`token`] | [`ClientCredentials`] (client id and secret) and [`UserTokens`] (access and refresh token) |
//! | [`oauth`] | signing a user in: [`oauth::SignIn`] with the web application flow (state, PKCE) and the device flow |
//! | [`store`] | the [`TokenStore`] trait for cached installation tokens, its keys and entries, [`MemoryStore`] |
//! | [`layer`] | [`AuthLayer`], the middleware that puts each operation's credential on its request, for the configured hosts only |
//! | [`middleware`] | the other middleware, one layer ([`middleware::MiddlewareConfig`] installs it): tracing, conditional-request cache, rate limits, retries and the send gate, with their store traits |
//! | [`clock`] | the [`Clock`] every timer reads (tokens, JWTs, back-offs, polling), replaceable in tests |
//! | [`error`] | [`AuthError`], what reaches the caller when a credential cannot be had |
//! | `fleet` | (feature `redis`) `RedisFleet`: Redis implementations of the token store, rate-limit store, cache and in-flight cap |
//! | `webhooks` | (feature `webhooks`) `WebhookSecrets` (signature check and typed decoding) and `Redeliveries` |
//!
//! # Cargo features
//!
//! | feature | enables |
//! |---|---|
//! | `redis` | the `fleet` module: several worker processes share installation tokens, rate-limit state, back-offs, the in-flight cap and the conditional-request cache through Redis (tokens encrypted with AES-256-GCM) |
//! | `webhooks` | the `webhooks` module, and `github-rest`'s `webhooks` feature for the typed payloads |
//!
//! Neither is on by default.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod middleware;

pub mod app_jwt;
mod basic;
pub mod builder;
pub mod clock;
pub mod error;
#[cfg(feature = "redis")]
pub mod fleet;
pub mod installation;
pub mod layer;
pub mod oauth;
pub mod store;
pub mod token;
#[cfg(feature = "webhooks")]
pub mod webhooks;

pub use app_jwt::{AppIssuer, AppJwt};
pub use builder::{App, AuthBuilder};
pub use clock::{Clock, ManualClock, SystemClock, TokioClock};
pub use error::AuthError;
pub use installation::{InstallationTokens, Narrowing, DEFAULT_REFRESH_MARGIN};
pub use layer::AuthLayer;
pub use secrecy::{ExposeSecret, SecretString};
pub use store::{CacheKey, Lease, MemoryStore, StoreError, StoredToken, TokenStore};
pub use token::{ClientCredentials, UserTokens};
