//! Time as the store and the schedulers count it: milliseconds since the Unix epoch, and a
//! clock that tests can set. A leaf: it imports nothing of the crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Milliseconds since the Unix epoch, from the system clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A duration in milliseconds, saturating at `i64::MAX`.
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `at + d`, saturating instead of overflowing into the past.
pub fn after(at: i64, d: Duration) -> i64 {
    at.saturating_add(ms(d))
}

/// A millisecond timestamp as RFC 3339 UTC (`2026-01-02T14:05:00Z`); empty when out of range.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// How CLI tables show a time: in the local zone (`TZ`, else `/etc/localtime`) with its
/// offset, `2026-01-02 15:05:00 +01:00`, or in UTC as RFC 3339 (`--utc`). JSON output is
/// always RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The machine's or `TZ`'s zone.
    #[default]
    Local,
    /// UTC.
    Utc,
}

impl Zone {
    /// `ms` as this zone shows it.
    pub fn show(self, ms: i64) -> String {
        let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
            return String::new();
        };
        match self {
            Zone::Utc => iso(ms),
            Zone::Local => t
                .with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string(),
        }
    }
}

/// Where "now" comes from: the system clock, or a manual one that tests move by hand.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock that reads `start` until it is moved with [`Clock::advance`] or [`Clock::set`].
    pub fn manual(start: i64) -> Clock {
        Clock {
            manual: Some(Arc::new(AtomicI64::new(start))),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        match &self.manual {
            Some(t) => t.load(Ordering::SeqCst),
            None => now_ms(),
        }
    }

    /// Moves a manual clock forward; the system clock cannot be moved.
    pub fn advance(&self, d: Duration) {
        if let Some(t) = &self.manual {
            t.fetch_add(ms(d), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock.
    pub fn set(&self, at: i64) {
        if let Some(t) = &self.manual {
            t.store(at, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        assert_eq!(c.now(), 1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.clone().now(), 3_000);
        c.set(5);
        assert_eq!(c.now(), 5);
        assert!(Clock::system().now() > 1_700_000_000_000);
    }

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(ms(Duration::MAX), i64::MAX);
        assert_eq!(after(i64::MAX - 1, Duration::from_secs(1)), i64::MAX);
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(i64::MAX), "");
    }
}
