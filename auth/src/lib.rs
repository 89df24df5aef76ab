//! Authentication and middleware for the generated `github-rest` client.
//!
//! - Credentials: GitHub App JWT, installation tokens (exchanged and cached), OAuth-app Basic auth, personal, OAuth
//!   user and Actions tokens.
//! - Middleware (reqwest-middleware layers): rate limits, retries, conditional requests, tracing.

pub mod middleware;
