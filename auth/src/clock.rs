//! Time: a replaceable clock, the offset to GitHub's clock, and the timestamp formats GitHub uses.

use futures::future::BoxFuture;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The one clock of this crate: tells the wall-clock time and sleeps. Token expiry, JWT claims, rate-limit resets,
/// back-offs and the device flow's polling all read it, so a test (or an application with its own scheduler) can
/// substitute both.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current wall-clock time (GitHub's `x-ratelimit-reset` and `expires_at` are wall-clock times).
    fn now(&self) -> SystemTime;
    /// Completes after `d`; tokio's sleep unless a clock says otherwise.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Wall time derived from tokio's clock, sleeping with `tokio::time::sleep`: the system time at construction plus
/// the tokio time elapsed since, so under `tokio::time::pause()` both the time and the sleeps are virtual and
/// consistent with each other. The middleware's default.
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
}

/// Unix time in milliseconds.
pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; for tests. Its sleeps are tokio's.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The local clock corrected by the offset to GitHub's clock, learnt from a response's `Date` header. Expiry times
/// GitHub hands out (`expires_at`) and JWT claims it checks (`iat`, `exp`) are in its time, not ours.
#[derive(Debug, Clone)]
pub(crate) struct ServerClock {
    local: Arc<dyn Clock>,
    /// Server time minus local time, in seconds.
    offset: Arc<AtomicI64>,
}

impl ServerClock {
    pub(crate) fn new(local: Arc<dyn Clock>) -> Self {
        ServerClock {
            local,
            offset: Arc::new(AtomicI64::new(0)),
        }
    }

    /// GitHub's time, in Unix seconds.
    pub(crate) fn server_unix(&self) -> i64 {
        unix(self.local.now()) + self.offset.load(Ordering::Relaxed)
    }

    /// The offset now in use, in seconds.
    pub(crate) fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Learns the offset from a response's `Date` header (ignored when absent or unparsable).
    pub(crate) fn observe_date(&self, headers: &http::HeaderMap) {
        let Some(date) = headers
            .get(http::header::DATE)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        let Ok(server) = httpdate::parse_http_date(date) else {
            return;
        };
        let offset = unix(server) - unix(self.local.now());
        let old = self.offset.swap(offset, Ordering::Relaxed);
        if (old - offset).abs() > 5 {
            tracing::debug!(
                offset_secs = offset,
                "clock offset to GitHub updated from the Date header"
            );
        }
    }
}

/// Unix seconds of a time (negative before 1970).
pub(crate) fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Parses an RFC 3339 / ISO 8601 timestamp as GitHub writes them (`2016-07-11T22:14:10Z`, optionally with fractional
/// seconds or a `+hh:mm` offset) into Unix seconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' || !(rb[0] == b'+' || rb[0] == b'-') {
                return None;
            }
            let h: i64 = rest[1..3].parse().ok()?;
            let m: i64 = rest[4..6].parse().ok()?;
            let o = h * 3600 + m * 60;
            if rb[0] == b'-' {
                -o
            } else {
                o
            }
        }
    };
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_github_timestamps() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(
            parse_rfc3339("2016-07-11T22:14:10.123Z"),
            Some(1_468_275_250)
        );
        assert_eq!(
            parse_rfc3339("2016-07-12T00:14:10+02:00"),
            Some(1_468_275_250)
        );
        assert_eq!(
            parse_rfc3339("2016-07-11T18:14:10-04:00"),
            Some(1_468_275_250)
        );
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "tomorrow",
            "2016-07-11",
            "2016-13-11T22:14:10Z",
            "2016-07-11T22:14:10",
            "2016-07-11T22:14:10+0200",
            "2016-07-11T22:14:1xZ",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn learns_offset_from_date_header() {
        let local = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let clock = ServerClock::new(Arc::new(local));
        let mut h = http::HeaderMap::new();
        let server = UNIX_EPOCH + Duration::from_secs(1_000_000 + 3600);
        h.insert(
            http::header::DATE,
            httpdate::fmt_http_date(server).parse().unwrap(),
        );
        clock.observe_date(&h);
        assert_eq!(clock.offset(), 3600);
        assert_eq!(clock.server_unix(), 1_003_600);
        h.insert(http::header::DATE, "not a date".parse().unwrap());
        clock.observe_date(&h);
        assert_eq!(
            clock.offset(),
            3600,
            "an unparsable Date keeps the last offset"
        );
    }
}
