//! The time source and sleeper every layer waits with, so tests can run waits in virtual time.

use futures::future::BoxFuture;
use std::time::{Duration, SystemTime};

/// Tells the wall-clock time and sleeps. Layers never call `SystemTime::now` or `tokio::time::sleep` directly, so a
/// test (or an application with its own scheduler) can substitute both.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time (GitHub's `x-ratelimit-reset` is in Unix seconds).
    fn now(&self) -> SystemTime;
    /// Completes after `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
}

/// The default clock: wall time derived from tokio's clock, sleeping with `tokio::time::sleep`.
///
/// The wall time is the system time at construction plus the tokio time elapsed since, so under
/// `tokio::time::pause()` both the time and the sleeps are virtual and consistent with each other.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time.
    pub fn new() -> Self {
        TokioClock {
            wall: SystemTime::now(),
            mono: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall + self.mono.elapsed()
    }

    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Unix time in milliseconds.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
