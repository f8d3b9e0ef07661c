//! A daemon's first poll cycle: the sources not yet polled since it started, and one
//! summary line once every one has been. On a shared store other nodes poll some of this
//! node's sources; those count as done when the store says they were polled.

use std::collections::HashSet;
use std::time::Duration;

use tracing::info;

use crate::pipeline::{CycleTally, PollReport};

/// How often, at most, a node asks the store which sources other nodes polled: a cluster's
/// first polls are spread over minutes, and its claims come back short all that time.
const ASK_EVERY: Duration = Duration::from_secs(5);

/// The first cycle while it lasts.
pub(super) struct FirstCycle {
    /// The sources not yet polled since the start.
    pending: HashSet<String>,
    /// How this node's own polls of them went.
    tally: CycleTally,
    /// How many of them another node polled.
    elsewhere: usize,
    /// When the daemon started (ms).
    since: i64,
    /// When the store was last asked about other nodes' polls.
    asked: Option<tokio::time::Instant>,
}

impl FirstCycle {
    /// A cycle over `sources`, started at `since` (ms).
    pub(super) fn new(sources: impl IntoIterator<Item = String>, since: i64) -> FirstCycle {
        FirstCycle {
            pending: sources.into_iter().collect(),
            tally: CycleTally::default(),
            elsewhere: 0,
            since,
            asked: None,
        }
    }

    /// When the daemon started (ms), if it is time to ask the store again which sources
    /// were polled since then (at most every [`ASK_EVERY`]).
    pub(super) fn ask_since(&mut self, now: tokio::time::Instant) -> Option<i64> {
        if self.asked.is_some_and(|at| now < at + ASK_EVERY) {
            return None;
        }
        self.asked = Some(now);
        Some(self.since)
    }

    /// Counts this node's poll of `name`.
    pub(super) fn polled(&mut self, name: &str, report: &PollReport) {
        if self.pending.remove(name) {
            self.tally.add(report);
        }
    }

    /// Counts the sources that the store says were polled since the start (`polled`, ids
    /// and names), except this node's polls still `running`: those are counted by
    /// [`FirstCycle::polled`] when they end, with their outcome.
    pub(super) fn polled_elsewhere(&mut self, polled: &[(i64, String)], running: &HashSet<i64>) {
        for (id, name) in polled {
            if !running.contains(id) && self.pending.remove(name) {
                self.elsewhere += 1;
            }
        }
    }

    /// Forgets the sources that the config no longer lists (a reload).
    pub(super) fn retain(&mut self, listed: impl Fn(&str) -> bool) {
        self.pending.retain(|name| listed(name));
    }

    /// Whether every source has been polled.
    pub(super) fn is_done(&self) -> bool {
        self.pending.is_empty()
    }

    /// The summary line.
    pub(super) fn log_summary(&self) {
        let t = &self.tally;
        info!(
            sources = t.ok + t.failing + self.elsewhere,
            ok = t.ok,
            failing = t.failing,
            causes = %t.causes_text(),
            new_items = t.new_items,
            alerts = t.alerts,
            polled_elsewhere = self.elsewhere,
            "first poll cycle since start done"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> PollReport {
        PollReport {
            new_items: 2,
            ..PollReport::default()
        }
    }

    #[test]
    fn done_when_every_source_is_polled_here_or_elsewhere() {
        let mut cycle = FirstCycle::new(["a", "b", "c"].map(String::from), 1_000);
        cycle.polled("a", &ok());
        // Polled twice, or not listed: counted once, or not at all.
        cycle.polled("a", &ok());
        cycle.polled("z", &ok());
        assert!(!cycle.is_done());
        // "c" was polled by this node and its poll has not ended yet: left to it.
        let stored = [
            (2, "b".to_string()),
            (3, "c".to_string()),
            (1, "a".to_string()),
        ];
        cycle.polled_elsewhere(&stored, &HashSet::from([3]));
        assert_eq!((cycle.elsewhere, cycle.is_done()), (1, false));
        cycle.polled("c", &ok());
        assert!(cycle.is_done());
        assert_eq!((cycle.tally.ok, cycle.tally.new_items), (2, 4));
    }

    #[test]
    fn the_store_is_asked_at_most_every_few_seconds() {
        let mut cycle = FirstCycle::new(["a"].map(String::from), 7);
        let now = tokio::time::Instant::now();
        assert_eq!(cycle.ask_since(now), Some(7));
        assert_eq!(cycle.ask_since(now + ASK_EVERY / 2), None);
        assert_eq!(cycle.ask_since(now + ASK_EVERY), Some(7));
    }

    #[test]
    fn a_reload_that_drops_the_last_sources_ends_it() {
        let mut cycle = FirstCycle::new(["a", "b"].map(String::from), 0);
        cycle.polled("a", &ok());
        cycle.retain(|name| name != "b");
        assert!(cycle.is_done());
    }
}
