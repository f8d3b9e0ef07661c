//! Observability: counters the pipeline and the dispatcher bump, rendered as Prometheus
//! text for `/metrics`, and the checks behind `/healthz` (both served by `web`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use crate::store::Store;

/// Upper bounds (seconds) of the fetch latency histogram.
const BUCKETS: [f64; 9] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Counters since start; gauges are read from the store at scrape time.
#[derive(Default)]
pub struct Metrics {
    polls: Mutex<BTreeMap<&'static str, u64>>,
    fetch_buckets: [AtomicU64; BUCKETS.len()],
    fetch_count: AtomicU64,
    fetch_sum_ms: AtomicU64,
    items_new: AtomicU64,
    items_updated: AtomicU64,
    deliveries: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// When the scheduler last went round its loop (ms since the epoch).
    pub last_tick: AtomicI64,
}

impl Metrics {
    /// One poll: `ok`, `not_modified` or `error`, and how long its fetch took.
    pub fn poll(&self, result: &'static str, elapsed: Duration, new: usize, updated: usize) {
        *self
            .polls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(result)
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.fetch_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.fetch_count.fetch_add(1, Ordering::Relaxed);
        self.fetch_sum_ms
            .fetch_add(elapsed.as_millis() as u64, Ordering::Relaxed);
        self.items_new.fetch_add(new as u64, Ordering::Relaxed);
        self.items_updated
            .fetch_add(updated as u64, Ordering::Relaxed);
    }

    /// One delivery attempt of a message: `delivered`, `retry` or `failed`.
    pub fn delivery(&self, notifier: &str, result: &'static str) {
        *self
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((notifier.to_string(), result))
            .or_default() += 1;
    }

    /// The Prometheus text exposition, counters plus the store's gauges.
    pub fn render(&self, store: &Store) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP feedwatch_polls_total Source polls by result.\n# TYPE feedwatch_polls_total counter"
        );
        for (result, n) in self.polls.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "feedwatch_polls_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP feedwatch_poll_seconds Time to poll a source.\n# TYPE feedwatch_poll_seconds histogram"
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "feedwatch_poll_seconds_bucket{{le=\"{b}\"}} {}",
                self.fetch_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.fetch_count.load(Ordering::Relaxed);
        let _ = writeln!(out, "feedwatch_poll_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "feedwatch_poll_seconds_sum {}",
            self.fetch_sum_ms.load(Ordering::Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "feedwatch_poll_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP feedwatch_items_total Items stored.\n# TYPE feedwatch_items_total counter"
        );
        let _ = writeln!(
            out,
            "feedwatch_items_total{{kind=\"new\"}} {}",
            self.items_new.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "feedwatch_items_total{{kind=\"updated\"}} {}",
            self.items_updated.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP feedwatch_deliveries_total Delivery attempts by notifier and result.\n# TYPE feedwatch_deliveries_total counter"
        );
        for ((notifier, result), n) in self
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "feedwatch_deliveries_total{{notifier=\"{}\",result=\"{result}\"}} {n}",
                escape_label(notifier)
            );
        }
        if let Ok(g) = store.gauges() {
            let _ = writeln!(
                out,
                "# HELP feedwatch_alerts Outbox rows by state.\n# TYPE feedwatch_alerts gauge"
            );
            for (state, n) in g.alerts {
                let _ = writeln!(out, "feedwatch_alerts{{state=\"{state}\"}} {n}");
            }
            let _ = writeln!(
                out,
                "# HELP feedwatch_sources Active sources.\n# TYPE feedwatch_sources gauge\nfeedwatch_sources {}",
                g.sources
            );
            let _ = writeln!(
                out,
                "# HELP feedwatch_sources_failing Active sources whose last poll failed.\n# TYPE feedwatch_sources_failing gauge\nfeedwatch_sources_failing {}",
                g.failing
            );
        }
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// How late the most overdue source may be before the daemon is unhealthy: polls that wait
/// this long for a slot mean the daemon cannot keep up (or something holds its slots).
const OVERDUE: Duration = Duration::from_secs(5 * 60);

/// Healthy when the store takes a write, the scheduler went round recently, and no source
/// waits longer than [`OVERDUE`] past its poll time.
pub(crate) fn health(
    metrics: &Metrics,
    store: &Store,
    stale_after: Duration,
    now: i64,
) -> Result<String, String> {
    store
        .check_writable()
        .map_err(|e| format!("store not writable: {e}"))?;
    let age = now - metrics.last_tick.load(Ordering::Relaxed);
    if age > crate::time::ms(stale_after) {
        return Err(format!("scheduler stalled: last tick {} s ago", age / 1000));
    }
    let due = store
        .next_poll_at()
        .map_err(|e| format!("store not readable: {e}"))?;
    if let Some(late) = due
        .map(|at| now - at)
        .filter(|&l| l > crate::time::ms(OVERDUE))
    {
        return Err(format!(
            "polls overdue: a source has waited {} s past its poll time",
            late / 1000
        ));
    }
    Ok(format!(
        "ok: store writable, scheduler ticked {} s ago",
        age / 1000
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceType;
    use crate::store::SourceSpec;

    #[test]
    fn healthz_fails_when_a_source_waits_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let spec = SourceSpec {
            name: "s".into(),
            kind: SourceType::Feed,
            url: "http://e.org/f".into(),
            interval_ms: 60_000,
        };
        let t0 = 1_000_000_000;
        store.sync_sources(&[spec], t0, 0).unwrap();
        let metrics = Metrics::default();
        let stale = Duration::from_secs(90);
        let at = |now: i64| {
            metrics.last_tick.store(now, Ordering::Relaxed);
            health(&metrics, &store, stale, now)
        };
        assert!(at(t0 + 60_000).is_ok(), "due a minute ago: fine");
        let e = at(t0 + 6 * 60_000).unwrap_err();
        assert!(e.contains("polls overdue"), "{e}");
        // Claimed by a poll (leased), it is not overdue.
        store.claim_due(t0 + 6 * 60_000, 10, 120_000).unwrap();
        assert!(at(t0 + 6 * 60_000).is_ok());
    }
}
