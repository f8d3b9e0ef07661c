//! Retention: old articles lose their text but keep their identity (a tombstone), so an item
//! that reappears in a feed is not new again; old finished alerts and stories go.

use rusqlite::params;

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// What retention removed.
pub struct PruneReport {
    /// Items that lost their text.
    pub items: usize,
    /// Delivered alerts removed.
    pub alerts: usize,
    /// Stories removed.
    pub stories: usize,
}

/// Polls kept per source for the status page's strip.
pub(super) const POLL_HISTORY: i64 = 50;

impl Store {
    /// Prunes what is older than `keep_ms`. Pending alerts are never pruned.
    pub fn prune(&self, now: i64, keep_ms: i64) -> Result<PruneReport, StoreError> {
        let cutoff = now - keep_ms;
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let items = tx.execute(
            "UPDATE items SET text = '', pruned = 1 WHERE fetched_at < ?1 AND pruned = 0",
            [cutoff],
        )?;
        let alerts = tx.execute(
            "DELETE FROM alerts WHERE created_at < ?1 AND state != 'pending'",
            [cutoff],
        )?;
        let stories = tx.execute("DELETE FROM stories WHERE last_seen < ?1", params![cutoff])?;
        // The status page shows each source's last POLL_HISTORY polls.
        tx.execute(
            "DELETE FROM polls WHERE rowid IN (SELECT rowid FROM (
                SELECT rowid, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY at DESC) AS n FROM polls)
             WHERE n > ?1)",
            [POLL_HISTORY],
        )?;
        tx.commit()?;
        if stories > 0 {
            *self.stories.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
        Ok(PruneReport {
            items,
            alerts,
            stories,
        })
    }
}
