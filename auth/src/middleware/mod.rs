//! reqwest-middleware layers for GitHub: rate limits, retries, conditional requests, tracing.
