//! What `/metrics` and `/healthz` read from the store.

use super::{Store, StoreError};

/// Gauges read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Alerts per delivery state.
    pub alerts: Vec<(String, i64)>,
    /// Active sources.
    pub sources: i64,
    /// Active sources whose last poll failed.
    pub failing: i64,
}

impl Store {
    /// Counts for `/metrics`.
    pub fn gauges(&self) -> Result<Gauges, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT state, COUNT(*) FROM alerts GROUP BY state ORDER BY state")?;
        let alerts = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let (sources, failing) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(consecutive_failures > 0), 0) FROM sources WHERE active = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Gauges {
            alerts,
            sources,
            failing,
        })
    }

    /// A write that changes nothing, to prove the database takes writes (disk full, read-only
    /// mount, a lock held elsewhere all fail it).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("UPDATE sources SET id = id WHERE 0", [])?;
        tx.rollback()?;
        Ok(())
    }
}
