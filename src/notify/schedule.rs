//! When a notifier may send: digests (`"1h"`, `"daily 08:00"`), a cap per hour whose
//! overflow rolls into a digest, and quiet hours. Pure functions of the clock, so tests
//! drive them with any `now`.

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use crate::config::{Digest, SendRules};

/// What to do with the alerts waiting for a notifier now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Send up to this many alerts one message each, oldest first.
    Each(usize),
    /// Send everything waiting as one message.
    Digest,
    /// Send nothing before this time (ms since the epoch).
    WaitUntil(i64),
}

const HOUR_MS: i64 = 3_600_000;

/// How a notifier's [`SendRules`] apply to what waits: pure functions of the clock.
impl SendRules {
    /// Decides for `pending` waiting alerts, the oldest created at `oldest`, given the times
    /// of the messages sent in the last hour.
    pub fn plan(&self, now: i64, pending: usize, oldest: i64, sent_last_hour: &[i64]) -> Plan {
        if pending == 0 {
            return Plan::WaitUntil(now + HOUR_MS);
        }
        if let Some(end) = self.quiet_until(now) {
            return Plan::WaitUntil(end);
        }
        if let Some(digest) = self.digest {
            let due = self.digest_due(digest, oldest);
            if now < due {
                return Plan::WaitUntil(due);
            }
            return self
                .capped(now, sent_last_hour)
                .map_or(Plan::Digest, Plan::WaitUntil);
        }
        let Some(max) = self.max_per_hour else {
            // Whatever waited through quiet hours leaves as one digest.
            return if pending > 1 && self.quiet.is_some() && self.was_quiet(oldest, now) {
                Plan::Digest
            } else {
                Plan::Each(pending)
            };
        };
        if let Some(until) = self.capped(now, sent_last_hour) {
            return Plan::WaitUntil(until);
        }
        let left = (max as usize).saturating_sub(sent_last_hour.len());
        match (pending, left) {
            (p, l) if p <= l => Plan::Each(p),
            // The last message of the hour carries everything else.
            (_, 1) => Plan::Digest,
            (_, l) => Plan::Each(l - 1),
        }
    }

    /// With the hourly cap reached, when the oldest message of the hour leaves the window.
    fn capped(&self, now: i64, sent_last_hour: &[i64]) -> Option<i64> {
        let max = self.max_per_hour? as usize;
        (sent_last_hour.len() >= max)
            .then(|| sent_last_hour.iter().min().copied().unwrap_or(now) + HOUR_MS)
    }

    fn digest_due(&self, digest: Digest, oldest: i64) -> i64 {
        match digest {
            Digest::Every(d) => crate::time::after(oldest, d),
            Digest::DailyAt(t) => self.next_local(oldest, t),
        }
    }

    /// The first time after `after` that the local clock shows `t`.
    fn next_local(&self, after: i64, t: NaiveTime) -> i64 {
        let tz = self.tz.unwrap_or(chrono_tz::UTC);
        let local = utc(after).with_timezone(&tz);
        for day in 0..3 {
            let date = local.date_naive() + chrono::Days::new(day);
            if let Some(at) = tz.from_local_datetime(&date.and_time(t)).earliest() {
                let at = at.timestamp_millis();
                if at > after {
                    return at;
                }
            }
        }
        after + 24 * HOUR_MS
    }

    /// If `now` is in quiet hours, when they end.
    fn quiet_until(&self, now: i64) -> Option<i64> {
        let q = self.quiet?;
        let tz = self.tz.unwrap_or(chrono_tz::UTC);
        let t = utc(now).with_timezone(&tz).time();
        let inside = if q.start < q.end {
            t >= q.start && t < q.end
        } else {
            t >= q.start || t < q.end
        };
        inside.then(|| self.next_local(now, q.end))
    }

    /// Whether a quiet window ended between `from` and `to`.
    fn was_quiet(&self, from: i64, to: i64) -> bool {
        self.quiet_until(from).is_some_and(|end| end <= to)
    }
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use chrono_tz::Tz;

    use crate::config::{parse_digest, parse_quiet};

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    const MIN: i64 = 60_000;

    #[test]
    fn parses_settings() {
        assert_eq!(
            parse_digest("1h").unwrap(),
            Digest::Every(Duration::from_secs(3600))
        );
        assert_eq!(
            parse_digest("daily 08:00").unwrap(),
            Digest::DailyAt(NaiveTime::from_hms_opt(8, 0, 0).unwrap())
        );
        assert!(parse_digest("weekly").is_err() && parse_digest("daily 25:00").is_err());
        assert!(parse_quiet("22:00-07:00").is_ok());
        assert!(parse_quiet("22:00").is_err() && parse_quiet("07:00-07:00").is_err());
    }

    #[test]
    fn without_rules_everything_goes_at_once() {
        let p = SendRules::default();
        assert_eq!(p.plan(at("2026-01-01T12:00:00Z"), 5, 0, &[]), Plan::Each(5));
    }

    #[test]
    fn interval_digest_waits_for_the_oldest_alert_to_age() {
        let p = SendRules {
            digest: Some(Digest::Every(Duration::from_secs(3600))),
            ..Default::default()
        };
        let first = at("2026-01-01T12:00:00Z");
        assert_eq!(
            p.plan(first + 10 * MIN, 3, first, &[]),
            Plan::WaitUntil(first + 60 * MIN)
        );
        assert_eq!(p.plan(first + 60 * MIN, 3, first, &[]), Plan::Digest);
    }

    #[test]
    fn daily_digest_in_a_time_zone() {
        let tz: Tz = "Europe/Madrid".parse().unwrap();
        let p = SendRules {
            digest: Some(parse_digest("daily 08:00").unwrap()),
            tz: Some(tz),
            ..Default::default()
        };
        let created = at("2026-01-01T20:00:00Z");
        // 08:00 in Madrid in winter is 07:00 UTC.
        assert_eq!(
            p.plan(created + MIN, 1, created, &[]),
            Plan::WaitUntil(at("2026-01-02T07:00:00Z"))
        );
        assert_eq!(
            p.plan(at("2026-01-02T07:00:00Z"), 4, created, &[]),
            Plan::Digest
        );
    }

    #[test]
    fn hourly_cap_rolls_the_rest_into_a_digest() {
        let p = SendRules {
            max_per_hour: Some(3),
            ..Default::default()
        };
        let now = at("2026-01-01T12:00:00Z");
        assert_eq!(p.plan(now, 2, now, &[]), Plan::Each(2));
        assert_eq!(
            p.plan(now, 10, now, &[]),
            Plan::Each(2),
            "two singles, then a digest"
        );
        assert_eq!(p.plan(now, 8, now, &[now - MIN, now - MIN]), Plan::Digest);
        let sent = [now - 50 * MIN, now - 5 * MIN, now - MIN];
        assert_eq!(p.plan(now, 8, now, &sent), Plan::WaitUntil(now + 10 * MIN));
    }

    #[test]
    fn quiet_hours_hold_then_digest() {
        let p = SendRules {
            quiet: Some(parse_quiet("22:00-07:00").unwrap()),
            ..Default::default()
        };
        let night = at("2026-01-01T23:30:00Z");
        assert_eq!(
            p.plan(night, 2, night, &[]),
            Plan::WaitUntil(at("2026-01-02T07:00:00Z"))
        );
        let morning = at("2026-01-02T07:00:00Z");
        assert_eq!(p.plan(morning, 2, night, &[]), Plan::Digest);
        assert_eq!(p.plan(morning + MIN, 1, morning, &[]), Plan::Each(1));
    }
}
