//! The alert outbox: one row per alert and notifier, delivered at least once, in order of
//! creation, with attempts, backoff and the last error kept for `feedwatch alerts`.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::store::{DeliveryState, Outbox, OutboxRow, Pause, StoreError};

impl Outbox for SqliteStore {
    /// Pauses a notifier: its pending alerts wait, in order, until [`Store::resume_notifiers`].
    fn pause_notifier(&self, notifier: &str, reason: &str, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO notifier_pauses (notifier, reason, since) VALUES (?1, ?2, ?3)
             ON CONFLICT (notifier) DO UPDATE SET reason = excluded.reason",
            params![notifier, reason, now],
        )?;
        Ok(())
    }

    fn paused_notifiers(&self) -> Result<Vec<Pause>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT notifier, reason, since FROM notifier_pauses ORDER BY since")?;
        let rows = stmt.query_map([], pause_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn resume_notifiers(&self) -> Result<Vec<Pause>, StoreError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("DELETE FROM notifier_pauses RETURNING notifier, reason, since")?;
        let rows = stmt.query_map([], pause_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Always: the store's lock file lets one daemon at a time use a SQLite store.
    fn lease_notifier(&self, _: &str, _: i64, _: i64) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Nothing to give back: no other node shares a SQLite store.
    fn release_notifiers(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn due_alerts(
        &self,
        notifier: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT seq, payload, notifier, attempts, created_at FROM alerts
             WHERE notifier = ?1 AND state = 'pending' AND next_attempt_at <= ?2
             ORDER BY seq LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![notifier, now, limit as i64], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, payload, notifier, attempts, created_at) = row?;
            out.push(OutboxRow {
                seq,
                alert: crate::store::decode_alert(&payload)?,
                notifier,
                attempts,
                created_at,
            });
        }
        Ok(out)
    }

    fn next_attempt_at(&self, notifier: &str) -> Result<Option<i64>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT MIN(next_attempt_at) FROM alerts WHERE notifier = ?1 AND state = 'pending'",
                [notifier],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    fn mark_delivered(&self, seqs: &[i64], batch: &str, now: i64) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for seq in seqs {
            tx.prepare_cached(
                "UPDATE alerts SET state = 'delivered', attempts = attempts + 1, delivered_at = ?2,
                    batch = ?3, last_error = NULL WHERE seq = ?1",
            )?
            .execute(params![seq, now, batch])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn mark_attempt_failed(
        &self,
        seqs: &[i64],
        error: &str,
        next: Result<i64, DeliveryState>,
    ) -> Result<(), StoreError> {
        let (state, next_at) = match next {
            Ok(at) => (DeliveryState::Pending, Some(at)),
            Err(state) => (state, None),
        };
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for seq in seqs {
            tx.prepare_cached(
                "UPDATE alerts SET state = ?2, attempts = attempts + 1, last_error = ?3,
                    next_attempt_at = COALESCE(?4, next_attempt_at) WHERE seq = ?1",
            )?
            .execute(params![seq, state, error, next_at])?;
        }
        tx.commit()?;
        Ok(())
    }

    fn messages_since(&self, notifier: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT MIN(delivered_at) FROM alerts WHERE notifier = ?1 AND delivered_at >= ?2 GROUP BY batch ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![notifier, since], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn retry_failed(&self, id: Option<&str>, now: i64) -> Result<usize, StoreError> {
        Ok(self.lock().execute(
            "UPDATE alerts SET state = 'pending', attempts = 0, next_attempt_at = ?1
             WHERE state IN ('failed', 'dead') AND (?2 IS NULL OR id = ?2)",
            params![now, id],
        )?)
    }
}

fn pause_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pause> {
    Ok(Pause {
        notifier: r.get(0)?,
        reason: r.get(1)?,
        since: r.get(2)?,
    })
}
