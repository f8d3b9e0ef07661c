//! When a notifier may send: digests (`"1h"`, `"daily 08:00"`), a cap per hour and quiet
//! hours, parsed from the notifier's table into types.

use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use toml::Spanned;

use crate::config::checks::{Invalid, at};
use crate::config::schema::NotifierConfig;

/// How often a digest notifier sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    /// At most one message per interval, sent when the oldest waiting alert is this old.
    Every(Duration),
    /// Once a day at this local time.
    DailyAt(NaiveTime),
}

/// A nightly window without messages: what arrives waits, then goes as one digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, local time.
    pub start: NaiveTime,
    /// End, local time (may be the next day).
    pub end: NaiveTime,
}

/// A notifier's sending rules (applied by `notify::schedule`).
#[derive(Debug, Clone, Default)]
pub struct SendRules {
    /// Alerts wait and go out together.
    pub digest: Option<Digest>,
    /// Messages per hour at most; the rest roll into a digest.
    pub max_per_hour: Option<u32>,
    /// Nothing is sent then.
    pub quiet: Option<QuietHours>,
    /// For `daily HH:MM` and quiet hours; UTC when unset.
    pub tz: Option<Tz>,
}

fn parse<T>(
    value: &Option<Spanned<String>>,
    f: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, Invalid> {
    value
        .as_ref()
        .map(|v| f(v.get_ref()).map_err(|e| at(v, e)))
        .transpose()
}

/// The sending rules of a notifier table.
pub(super) fn send_rules(n: &NotifierConfig) -> Result<SendRules, Invalid> {
    if let Some(m) = &n.max_per_hour
        && *m.get_ref() == 0
    {
        return Err(at(m, "max_per_hour must be at least 1".into()));
    }
    Ok(SendRules {
        digest: parse(&n.digest, parse_digest)?,
        max_per_hour: n.max_per_hour.as_ref().map(|m| *m.get_ref()),
        quiet: parse(&n.quiet_hours, parse_quiet)?,
        tz: parse(&n.timezone, parse_tz)?,
    })
}

/// Parses `digest`: a duration (`"1h"`) or `"daily HH:MM"`.
pub fn parse_digest(s: &str) -> Result<Digest, String> {
    if let Some(time) = s.trim().strip_prefix("daily") {
        return parse_time(time.trim()).map(Digest::DailyAt);
    }
    crate::units::parse_duration(s)
        .ok()
        .filter(|d| !d.is_zero())
        .map(Digest::Every)
        .ok_or_else(|| {
            format!("invalid digest \"{s}\"; write a duration (\"1h\") or \"daily 08:00\"")
        })
}

/// Parses `quiet_hours = "22:00-07:00"`.
pub fn parse_quiet(s: &str) -> Result<QuietHours, String> {
    let bad = || format!("invalid quiet_hours \"{s}\"; write \"22:00-07:00\"");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (start, end) = (
        parse_time(a.trim()).map_err(|_| bad())?,
        parse_time(b.trim()).map_err(|_| bad())?,
    );
    if start == end {
        return Err(bad());
    }
    Ok(QuietHours { start, end })
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("invalid time \"{s}\"; write HH:MM"))
}

fn parse_tz(s: &str) -> Result<Tz, String> {
    s.parse().map_err(|_| {
        format!("unknown time zone \"{s}\"; use an IANA name such as \"Europe/Madrid\"")
    })
}
