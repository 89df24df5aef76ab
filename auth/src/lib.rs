//! Authentication and middleware for the generated `github-rest` client.
//!
//! - Credentials: GitHub App JWT, installation tokens (exchanged and cached), OAuth-app Basic auth, personal, OAuth
//!   user and Actions tokens.
//! - Middleware (reqwest-middleware layers): rate limits, retries, conditional requests, tracing.

pub mod middleware;

pub mod app_jwt;
mod basic;
pub mod builder;
pub mod clock;
pub mod error;
pub mod installation;
pub mod layer;
pub mod oauth;
pub mod store;
pub mod token;

pub use app_jwt::{AppIssuer, AppJwt};
pub use builder::{App, ClientBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::AuthError;
pub use installation::{InstallationTokens, Narrowing, DEFAULT_REFRESH_MARGIN};
pub use layer::AuthLayer;
pub use secrecy::{ExposeSecret, SecretString};
pub use store::{CacheKey, Lease, MemoryStore, StoreError, StoredToken, TokenStore};
pub use token::{ClientCredentials, UserTokens};
