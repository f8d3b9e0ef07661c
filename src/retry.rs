//! The one retry policy: exponential backoff with jitter and a cap, a server's `Retry-After`
//! honoured within bounds, and one rule for which failures are worth trying again. Feeds,
//! pages, webhooks and SMTP all use it. A leaf: it imports nothing of the crate.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};

/// Exponential backoff: `initial` doubled per attempt after the first, capped, then spread
/// by ±`jitter` so many failing peers drift apart instead of retrying in lockstep.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Backoff {
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait (never below `initial`).
    pub cap: Duration,
    /// Relative spread, 0.1 for ±10%.
    pub jitter: f64,
}

impl Backoff {
    /// The wait after `attempt` consecutive failures (1-based), before jitter.
    pub(crate) fn base(&self, attempt: u32) -> Duration {
        self.initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap.max(self.initial))
    }

    /// The wait after `attempt` consecutive failures: [`Backoff::base`] with jitter, or the
    /// server's `Retry-After` (at most `retry_after_cap`) when that is longer.
    pub(crate) fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        retry_after_cap: Duration,
    ) -> Duration {
        let spread = 1.0 - self.jitter + 2.0 * self.jitter * fastrand::f64();
        let jittered = self.base(attempt).mul_f64(spread);
        retry_after.map_or(jittered, |ra| ra.min(retry_after_cap).max(jittered))
    }
}

/// Whether an HTTP status is worth retrying: request timeout, too early, too many
/// requests, and server errors (RFC 9110 §15.5.9, RFC 8470, RFC 6585 §4, §15.6).
pub(crate) fn http_status_is_transient(status: u16) -> bool {
    matches!(status, 408 | 425 | 429) || (500..600).contains(&status)
}

/// Whether an SMTP reply code is worth retrying: 4xx are transient negative completions,
/// 5xx permanent ones (RFC 5321 §4.2.1).
pub(crate) fn smtp_code_is_transient(code: u16) -> bool {
    (400..500).contains(&code)
}

/// Whether an HTTP status says the receiver refused our credentials (401, 403): every
/// alert would meet the same answer until someone fixes the token.
pub(crate) fn http_status_refuses_credentials(status: u16) -> bool {
    matches!(status, 401 | 403)
}

/// Whether an SMTP reply code says the server refused our login: authentication required
/// (530), mechanism too weak (534), credentials invalid (535), encryption required for the
/// mechanism (538) (RFC 4954 §6).
pub(crate) fn smtp_code_refuses_credentials(code: u16) -> bool {
    matches!(code, 530 | 534 | 535 | 538)
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let s = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(s).ok()?;
    let delta = when.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(delta.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_jitters_and_honours_retry_after() {
        let b = Backoff {
            initial: Duration::from_secs(10),
            cap: Duration::from_secs(1800),
            jitter: 0.2,
        };
        let within = |d: Duration, base: u64| {
            let s = d.as_secs_f64();
            s >= base as f64 * 0.8 - 1e-9 && s <= base as f64 * 1.2 + 1e-9
        };
        let cap = Duration::from_secs(1800);
        for _ in 0..50 {
            assert!(within(b.delay(1, None, cap), 10));
            assert!(within(b.delay(2, None, cap), 20));
            assert!(within(b.delay(4, None, cap), 80));
            assert!(within(b.delay(30, None, cap), 1800));
            let ra = Some(Duration::from_secs(600));
            assert!(b.delay(1, ra, cap) >= Duration::from_secs(600));
            let ra = Some(Duration::from_secs(99_999));
            assert!(b.delay(1, ra, cap) <= cap);
        }
        // The cap never cuts below the first wait (a source polled daily backs off from a day).
        let slow = Backoff {
            initial: Duration::from_secs(86_400),
            cap: Duration::from_secs(3600),
            jitter: 0.0,
        };
        assert_eq!(slow.base(5), Duration::from_secs(86_400));
    }

    #[test]
    fn transient_rules() {
        for (status, want) in [
            (408, true),
            (425, true),
            (429, true),
            (500, true),
            (503, true),
        ] {
            assert_eq!(http_status_is_transient(status), want, "{status}");
        }
        for status in [200, 301, 400, 401, 403, 404, 410, 600] {
            assert!(!http_status_is_transient(status), "{status}");
        }
        assert!(smtp_code_is_transient(421) && smtp_code_is_transient(450));
        assert!(!smtp_code_is_transient(535) && !smtp_code_is_transient(550));
        assert!(smtp_code_refuses_credentials(535) && !smtp_code_refuses_credentials(550));
        assert!(http_status_refuses_credentials(401) && !http_status_refuses_credentials(404));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
        h.insert(
            header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }
}
