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

    /// Proves the store takes writes: the write lock (a read-only mount or a lock held
    /// elsewhere fails it), then 16 KiB written and synced beside the database (a full disk
    /// fails it; SQLite's own writes may reuse WAL space and pass on a full disk).
    pub fn check_writable(&self) -> Result<(), StoreError> {
        {
            let mut conn = self.lock();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute("UPDATE sources SET id = id WHERE 0", [])?;
            tx.rollback()?;
        }
        let mut probe = self.path.as_os_str().to_owned();
        probe.push(".healthz");
        let probe = std::path::PathBuf::from(probe);
        let written = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&probe)?;
            f.write_all(&[0u8; 16 * 1024])?;
            f.sync_all()
        })();
        let _ = std::fs::remove_file(&probe);
        written.map_err(|e| StoreError::Open {
            path: self.path.display().to_string(),
            message: format!("cannot write beside the store: {e}"),
        })
    }
}
