//! Authentication and middleware for the generated `github-rest` client.
//!
//! - Credentials: GitHub App JWT, installation tokens (exchanged and cached), OAuth-app Basic auth, personal, OAuth
//!   user and Actions tokens.
//! - Signing a user in ([`oauth`]): the OAuth web application flow (state, PKCE) and the device flow, ending in the
//!   user-token client.
//! - Middleware (reqwest-middleware layers): rate limits, retries, conditional requests, tracing, and the send gate
//!   where every request waits for back-offs, its slot under the adaptive in-flight cap and write pacing.
//! - Webhooks ([`webhooks`], feature `webhooks`): signature verification, typed payloads, redelivery detection.
//! - Several worker processes sharing installation tokens, rate-limit state, back-offs, the in-flight cap and the
//!   conditional-request cache through Redis (`fleet`, cargo feature `redis`).
//! - One HTTP configuration (`github_rest::HttpConfig`: time-outs, root certificates, proxy) for every host.

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
