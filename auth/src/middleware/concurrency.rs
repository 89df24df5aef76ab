//! A cap on requests in flight and pacing of content-creating requests (GitHub's secondary-limit best practices:
//! no more than 100 concurrent requests, at least one second between POST, PATCH, PUT and DELETE requests).

use super::{rebuild, Clock};
use futures::StreamExt;
use http::{Extensions, Method};
use reqwest_middleware::{Middleware, Next};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;

/// Settings of [`ConcurrencyLayer`].
#[derive(Debug, Clone)]
pub struct ConcurrencyConfig {
    /// Requests in flight at most (default 10); `None` for no cap. A request counts until its body is read or
    /// dropped.
    pub max_in_flight: Option<usize>,
    /// Minimum gap between the starts of two content-creating requests (default 1 s); `None` for no pacing.
    pub write_interval: Option<Duration>,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_in_flight: Some(10),
            write_interval: Some(Duration::from_secs(1)),
        }
    }
}

/// Caps requests in flight and spaces content-creating requests. One layer's limits are shared by every clone of
/// the client it is installed in.
pub struct ConcurrencyLayer {
    permits: Option<Arc<Semaphore>>,
    interval: Option<Duration>,
    next_write: Mutex<Option<SystemTime>>,
    clock: Arc<dyn Clock>,
}

impl ConcurrencyLayer {
    /// A layer with these settings, waiting with `clock`.
    pub fn new(config: ConcurrencyConfig, clock: Arc<dyn Clock>) -> Self {
        ConcurrencyLayer {
            permits: config
                .max_in_flight
                .map(|n| Arc::new(Semaphore::new(n.max(1)))),
            interval: config.write_interval,
            next_write: Mutex::new(None),
            clock,
        }
    }

    /// Reserves the next write slot and returns how long to wait for it.
    fn reserve_write_slot(&self, interval: Duration) -> Duration {
        let now = self.clock.now();
        let mut next = self.next_write.lock().unwrap();
        let slot = match *next {
            Some(t) if t > now => t,
            _ => now,
        };
        *next = Some(slot + interval);
        slot.duration_since(now).unwrap_or_default()
    }
}

fn creates_content(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PATCH | Method::PUT | Method::DELETE
    )
}

#[async_trait::async_trait]
impl Middleware for ConcurrencyLayer {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        if let (Some(interval), true) = (self.interval, creates_content(req.method())) {
            let wait = self.reserve_write_slot(interval);
            if !wait.is_zero() {
                self.clock.sleep(wait).await;
            }
        }
        let Some(sem) = &self.permits else {
            return next.run(req, extensions).await;
        };
        let permit = sem
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let resp = next.run(req, extensions).await?;
        // The permit travels with the body, so a request counts as in flight until its body is read or dropped.
        let (status, version, headers, url) = (
            resp.status(),
            resp.version(),
            resp.headers().clone(),
            resp.url().clone(),
        );
        let body = resp.bytes_stream().map(move |chunk| {
            let _held = &permit;
            chunk
        });
        Ok(rebuild(
            status,
            version,
            headers,
            url,
            reqwest::Body::wrap_stream(body),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::middleware::TokioClock;

    #[tokio::test(start_paused = true)]
    async fn write_slots_are_spaced() {
        let l = ConcurrencyLayer::new(ConcurrencyConfig::default(), Arc::new(TokioClock::new()));
        let s = Duration::from_secs(1);
        assert_eq!(l.reserve_write_slot(s), Duration::ZERO);
        assert_eq!(l.reserve_write_slot(s), s);
        assert_eq!(l.reserve_write_slot(s), 2 * s);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(l.reserve_write_slot(s), Duration::ZERO);
    }
}
