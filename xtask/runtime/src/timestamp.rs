//! The type of every `format: date-time` value: a UTC instant that reads the forms GitHub sends.
//!
//! GitHub writes timestamps as RFC 3339 text, with `Z` (`2011-04-14T16:00:49Z`) or an offset
//! (`2011-04-14T16:00:49+02:00`), and some webhook payloads (a `push` event's `repository.created_at`, older
//! `installation` events) carry Unix seconds instead. [`Timestamp`] reads all three and always writes RFC 3339 with
//! `Z`, which is also how it appears in a query (`since=2024-01-01T00:00:00Z`).
//!
//! It wraps [`chrono::DateTime<Utc>`](chrono::DateTime): chrono is what octocrab and most of the ecosystem (sqlx,
//! serde_with) already speak, so a value converts with `.into()` both ways and derefs to chrono's methods.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use std::fmt;

/// A point in time, in UTC, as GitHub sends it (RFC 3339 text or Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The chrono value.
    pub fn as_datetime(&self) -> &DateTime<Utc> {
        &self.0
    }
    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.0.timestamp()
    }
    /// The instant `secs` seconds after the Unix epoch; `None` out of chrono's range.
    pub fn from_unix_seconds(secs: i64) -> Option<Self> {
        Utc.timestamp_opt(secs, 0).single().map(Timestamp)
    }
    /// Now, from the system clock.
    pub fn now() -> Self {
        Timestamp(Utc::now())
    }
}

impl std::ops::Deref for Timestamp {
    type Target = DateTime<Utc>;
    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t)
    }
}

impl<Tz: TimeZone> From<&DateTime<Tz>> for Timestamp {
    fn from(t: &DateTime<Tz>) -> Self {
        Timestamp(t.with_timezone(&Utc))
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(t: Timestamp) -> Self {
        t.0
    }
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(t: std::time::SystemTime) -> Self {
        Timestamp(t.into())
    }
}

/// RFC 3339 in UTC with `Z`, with fractional seconds only when there are any.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// Text that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp: {0:?}")]
pub struct TimestampError(String);

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;
    fn from_str(s: &str) -> Result<Self, TimestampError> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Timestamp(t.with_timezone(&Utc)));
        }
        older_form(s).ok_or_else(|| TimestampError(s.to_string()))
    }
}

/// Forms older payloads carry (check runs of 2018: `2018-04-25 20:42:10`): a space for the `T`, and no offset
/// (UTC) or ` UTC` or a numeric offset after the time.
fn older_form(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    let s = s.strip_suffix(" UTC").unwrap_or(s);
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f %z") {
        return Some(Timestamp(t.with_timezone(&Utc)));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()?;
    Some(Timestamp(naive.and_utc()))
}

impl TryFrom<&str> for Timestamp {
    type Error = TimestampError;
    fn try_from(s: &str) -> Result<Self, TimestampError> {
        s.parse()
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visitor)
    }
}

struct Visitor;

impl serde::de::Visitor<'_> for Visitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp or Unix seconds")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Timestamp, E> {
        Timestamp::from_unix_seconds(v)
            .ok_or_else(|| E::custom(format!("Unix seconds out of range: {v}")))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Timestamp, E> {
        let v =
            i64::try_from(v).map_err(|_| E::custom(format!("Unix seconds out of range: {v}")))?;
        self.visit_i64(v)
    }

    /// Unix seconds with a fraction (`1712345678.5`), as some payloads write them.
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Timestamp, E> {
        if !v.is_finite() {
            return Err(E::custom("Unix seconds must be finite"));
        }
        let secs = v.floor();
        let nanos = ((v - secs) * 1e9).round() as u32;
        Utc.timestamp_opt(secs as i64, nanos.min(999_999_999))
            .single()
            .map(Timestamp)
            .ok_or_else(|| E::custom(format!("Unix seconds out of range: {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn read(json: &str) -> Result<Timestamp, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn reads_what_github_sends() {
        let z = read(r#""2011-04-14T16:00:49Z""#).unwrap();
        assert_eq!(z.unix_seconds(), 1302796849);
        assert_eq!(read(r#""2011-04-14T18:00:49+02:00""#).unwrap(), z);
        assert_eq!(read(r#""2011-04-14T11:00:49-05:00""#).unwrap(), z);
        assert_eq!(read("1302796849").unwrap(), z);
        assert_eq!(read("1302796849.0").unwrap(), z);
        let frac = read(r#""2011-04-14T16:00:49.123Z""#).unwrap();
        assert_eq!(frac.timestamp_subsec_millis(), 123);
        // Older payloads: a space for the `T`, no offset (UTC), ` UTC`, or a numeric offset.
        assert_eq!(read(r#""2011-04-14 16:00:49""#).unwrap(), z);
        assert_eq!(read(r#""2011-04-14T16:00:49""#).unwrap(), z);
        assert_eq!(read(r#""2011-04-14 16:00:49 UTC""#).unwrap(), z);
        assert_eq!(read(r#""2011-04-14 18:00:49 +0200""#).unwrap(), z);
    }

    #[test]
    fn writes_rfc3339_with_z() {
        let t = read(r#""2011-04-14T18:00:49+02:00""#).unwrap();
        assert_eq!(t.to_string(), "2011-04-14T16:00:49Z");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#""2011-04-14T16:00:49Z""#
        );
        let frac = read(r#""2011-04-14T16:00:49.5Z""#).unwrap();
        assert_eq!(frac.to_string(), "2011-04-14T16:00:49.500Z");
        assert_eq!(read(&serde_json::to_string(&frac).unwrap()).unwrap(), frac);
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            r#""yesterday""#,
            r#""2011-04-14""#,
            r#""""#,
            "true",
            "null",
            "[]",
            "1e300",
        ] {
            assert!(read(bad).is_err(), "{bad} was read");
        }
        assert!("2011-04-14 16:00".parse::<Timestamp>().is_err());
    }

    #[test]
    fn converts_with_chrono() {
        let now = Utc::now();
        let t: Timestamp = now.into();
        let back: DateTime<Utc> = t.into();
        assert_eq!(back, now);
        assert_eq!(
            t.year(),
            now.format("%Y").to_string().parse::<i32>().unwrap()
        );
    }
}
