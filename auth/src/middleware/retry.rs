//! Retries of server errors and transport failures.

use super::MiddlewareError;
use http::{Method, StatusCode};
use std::time::Duration;

/// Settings of the retries of a [`super::StackLayer`]: 5xx answers (but 501 and 505) and transport errors are sent
/// again with exponential backoff and jitter.
///
/// Only idempotent methods are retried unless [`RetryConfig::retry_non_idempotent`] is set, and never a request
/// whose body cannot be cloned (a stream). Client errors (400, 401, 403, 404, 410, 422, 451, ...) are never retried;
/// rate limits are handled on their own. When every attempt failed in transport, the error is
/// [`MiddlewareError::RetriesExhausted`]; when every attempt got a 5xx, the last response is passed on so the caller
/// sees GitHub's status and message.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Retries after the first attempt (default 3).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each time (default 500 ms).
    pub base_delay: Duration,
    /// Upper bound of one backoff (default 30 s).
    pub max_delay: Duration,
    /// Randomise each backoff between half and all of it, so many clients do not retry in lockstep (default on).
    pub jitter: bool,
    /// Retry POST and PATCH too (default off: they may have taken effect before the failure).
    pub retry_non_idempotent: bool,
    /// Read the whole body of a retriable request inside the layer, so a truncated body is retried like any other
    /// transport error (default on). Turn it off to stream large downloads.
    pub buffer_body: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            jitter: true,
            retry_non_idempotent: false,
            buffer_body: true,
        }
    }
}

impl RetryConfig {
    /// The backoff before retry number `retry` (1-based), jitter included.
    pub fn delay(&self, retry: u32) -> Duration {
        let full = self
            .base_delay
            .saturating_mul(1u32 << (retry.saturating_sub(1)).min(16))
            .min(self.max_delay);
        if self.jitter && !full.is_zero() {
            let half = full / 2;
            half + Duration::from_nanos(rand::random_range(0..=(full - half).as_nanos() as u64))
        } else {
            full
        }
    }
}

pub(crate) fn idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

pub(crate) fn retriable_status(s: StatusCode) -> bool {
    s.is_server_error()
        && s != StatusCode::NOT_IMPLEMENTED
        && s != StatusCode::HTTP_VERSION_NOT_SUPPORTED
}

pub(crate) fn transient(e: &reqwest::Error) -> bool {
    !(e.is_builder() || e.is_redirect() || e.is_status())
}

pub(crate) fn give_up(attempts: u32, e: reqwest_middleware::Error) -> reqwest_middleware::Error {
    if attempts > 1 {
        MiddlewareError::RetriesExhausted {
            attempts,
            source: e,
        }
        .into_middleware()
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_bounds() {
        let c = RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        };
        assert_eq!(c.delay(1), Duration::from_millis(500));
        assert_eq!(c.delay(2), Duration::from_millis(1000));
        assert_eq!(c.delay(3), Duration::from_millis(2000));
        assert_eq!(c.delay(20), Duration::from_secs(30));
        let j = RetryConfig::default();
        for _ in 0..100 {
            let d = j.delay(3);
            assert!(
                d >= Duration::from_millis(1000) && d <= Duration::from_millis(2000),
                "{d:?}"
            );
        }
    }

    #[test]
    fn statuses() {
        assert!(retriable_status(StatusCode::BAD_GATEWAY));
        assert!(retriable_status(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!retriable_status(StatusCode::NOT_IMPLEMENTED));
        for s in [400, 401, 403, 404, 410, 422, 451] {
            assert!(!retriable_status(StatusCode::from_u16(s).unwrap()));
        }
        assert!(
            idempotent(&Method::PUT) && !idempotent(&Method::POST) && !idempotent(&Method::PATCH)
        );
    }
}
