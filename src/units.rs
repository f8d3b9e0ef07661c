//! Human units in the config file: durations (`30s`, `15m`, `1h`, `7d`) and sizes (`512KiB`,
//! `10MiB`). A leaf: it imports nothing of the crate.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// A duration written as a number and a unit: `ms`, `s`, `m`, `h` or `d` (`90s`, `15m`, `1h30m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Dur(pub Duration);

/// A byte size written as a number and a unit: `B`, `KiB`, `MiB`, `GiB` (or `KB`, `MB`, `GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size(pub u64);

impl Dur {
    pub(crate) const fn secs(s: u64) -> Self {
        Dur(Duration::from_secs(s))
    }
}

/// The longest duration the config accepts: a hundred years. Longer ones are typos, and
/// would overflow the store's millisecond times.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// The largest size the config accepts (1 TiB).
pub(crate) const MAX_SIZE: u64 = 1 << 40;

/// Parses `1h30m`-style durations: one or more number-unit pairs, at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. \"30s\", \"15m\", \"1h\", \"7d\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let (num, unit) = (&rest[..digits], rest[digits..digits + unit_len].trim());
        let n: u64 = num.parse().map_err(|_| bad_duration(text))?;
        let secs_per = match unit {
            "ms" => {
                total = total
                    .checked_add(Duration::from_millis(n))
                    .ok_or_else(|| too_long(text))?;
                rest = &rest[digits + unit_len..];
                continue;
            }
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            _ => return Err(bad_duration(text)),
        };
        let add = n.checked_mul(secs_per).ok_or_else(|| too_long(text))?;
        total = total
            .checked_add(Duration::from_secs(add))
            .ok_or_else(|| too_long(text))?;
        rest = &rest[digits + unit_len..];
    }
    if total > MAX_DURATION {
        return Err(too_long(text));
    }
    Ok(total)
}

fn too_long(text: &str) -> String {
    format!("duration \"{text}\" is longer than 100 years")
}

fn bad_duration(text: &str) -> String {
    format!("invalid duration \"{text}\"; write e.g. \"30s\", \"15m\", \"1h\", \"7d\"")
}

/// Parses `10MiB`-style sizes.
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let bad = || format!("invalid size \"{text}\"; write e.g. \"512KiB\", \"10MiB\"");
    let n: u64 = s[..digits].parse().map_err(|_| bad())?;
    let mult: u64 = match s[digits..].trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "K" | "kB" => 1 << 10,
        "MiB" | "MB" | "M" => 1 << 20,
        "GiB" | "GB" | "G" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|&n| n <= MAX_SIZE)
        .ok_or_else(|| format!("size \"{text}\" is larger than 1TiB"))
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match parse_duration(&s) {
            Ok(d) if d.is_zero() => Err(de::Error::custom("duration must be greater than zero")),
            Ok(d) => Ok(Dur(d)),
            Err(e) => Err(de::Error::custom(e)),
        }
    }
}

impl Dur {
    /// For the few durations where zero means "none" (`host_delay`).
    pub(crate) fn zero_allowed<'de, D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Dur).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as \"10MiB\" or a number of bytes")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                let n = u64::try_from(v).map_err(|_| E::custom("size must not be negative"))?;
                if n > MAX_SIZE {
                    return Err(E::custom(format!("size {n} is larger than 1TiB")));
                }
                Ok(Size(n))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Formats a duration the way the config writes it (`1h30m`, `45s`).
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return format!("{}ms", d.as_millis());
    }
    let mut out = String::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let cases = [
            ("30s", Some(30)),
            ("15m", Some(900)),
            ("1h", Some(3600)),
            ("7d", Some(604_800)),
            ("1h30m", Some(5400)),
            ("15", None),
            ("m", None),
            ("15x", None),
            ("", None),
            ("-1s", None),
        ];
        for (text, want) in cases {
            assert_eq!(
                parse_duration(text).ok().map(|d| d.as_secs()),
                want,
                "{text}"
            );
        }
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for huge in [
            "200000000000d",
            "18446744073709551615s18446744073709551615s",
            "100000000000000d",
            "36501d",
            "18446744073709551615ms18446744073709551615ms",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("longer than 100 years"), "{huge}: {e}");
        }
        assert!(parse_duration("36500d").is_ok());
    }

    #[test]
    fn sizes() {
        let cases = [
            ("512KiB", Some(512 * 1024)),
            ("10MiB", Some(10 << 20)),
            ("1GiB", Some(1 << 30)),
            ("100", Some(100)),
            ("10 MiB", Some(10 << 20)),
            ("10XB", None),
            ("MiB", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_size(text).ok(), want, "{text}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["30s", "15m", "1h30m", "7d"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }
}
