//! Alerts about sources themselves: one `source_down` once a source has failed for
//! `[health] alert_after`, and one `source_up` when it recovers, never one per failed poll.

use crate::dedupe::short_hash;
use crate::model::{Alert, AlertKind, Source};
use crate::store::{HealthChange, SourceRow};
use crate::time::iso;

/// Who hears about sources that go down, and after how long.
#[derive(Debug, Clone, Default)]
pub(crate) struct HealthRule {
    pub alert_after_ms: i64,
    /// Empty: no health alerts.
    pub notifiers: Vec<String>,
}

/// The health alert a poll at `at` raises, if any: `failed` holds the poll's error.
pub(super) fn health_change(
    rule: &HealthRule,
    source: &Source,
    row: &SourceRow,
    failed: Option<&str>,
    at: i64,
) -> Option<HealthChange> {
    if rule.notifiers.is_empty() {
        return None;
    }
    let name = &source.name;
    let (kind, title, snippet, since) = match failed {
        Some(error) if !row.down_alerted => {
            let since = row.failing_since.unwrap_or(at);
            if at - since < rule.alert_after_ms {
                return None;
            }
            (
                AlertKind::SourceDown,
                format!("Source down: {name}"),
                format!("Failing since {}: {error}", iso(since)),
                since,
            )
        }
        None if row.down_alerted => (
            AlertKind::SourceUp,
            format!("Source back: {name}"),
            format!("Polled successfully again at {}.", iso(at)),
            at,
        ),
        _ => return None,
    };
    Some(HealthChange {
        alert: Alert {
            id: short_hash(&[name, kind.as_str(), &since.to_string()]),
            kind,
            watch: "health".into(),
            watches: vec!["health".into()],
            source: name.clone(),
            title,
            url: Some(source.url.to_string()),
            published: Some(iso(at)),
            matched: Vec::new(),
            snippet,
        },
        notifiers: rule.notifiers.clone(),
        down: kind == AlertKind::SourceDown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SourceKind, Validators};

    #[test]
    fn down_once_after_the_delay_and_up_once_after() {
        let rule = HealthRule {
            alert_after_ms: 1000,
            notifiers: vec!["ops".into()],
        };
        let source = Source {
            name: "S".into(),
            url: url::Url::parse("http://e.org/f").unwrap(),
            interval: std::time::Duration::from_secs(60),
            kind: SourceKind::Feed { full_text: false },
            tags: Vec::new(),
            backlog: None,
        };
        let row = |failing_since, down_alerted| SourceRow {
            id: 1,
            name: "S".into(),
            validators: Validators::default(),
            consecutive_failures: 1,
            last_success_at: None,
            discovered_url: None,
            failing_since,
            down_alerted,
        };
        assert!(health_change(&rule, &source, &row(Some(0), false), Some("x"), 999).is_none());
        let down = health_change(&rule, &source, &row(Some(0), false), Some("x"), 1000).unwrap();
        assert!(down.down && down.alert.kind == AlertKind::SourceDown);
        assert!(
            down.alert.snippet.ends_with(": x"),
            "{}",
            down.alert.snippet
        );
        assert!(health_change(&rule, &source, &row(Some(0), true), Some("x"), 5000).is_none());
        let up = health_change(&rule, &source, &row(None, true), None, 6000).unwrap();
        assert!(!up.down && up.alert.kind == AlertKind::SourceUp);
        assert!(health_change(&rule, &source, &row(None, false), None, 6000).is_none());
        let silent = HealthRule::default();
        assert!(health_change(&silent, &source, &row(Some(0), false), Some("x"), 9000).is_none());
    }
}
