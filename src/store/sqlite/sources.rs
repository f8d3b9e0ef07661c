//! Sources and their poll state: validators, failures, last error, next poll.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::model::{PollStatus, Validators};
use crate::store::{
    Discovery, HealthChange, PollRecord, SourceHealth, SourceRow, SourceSpec, Sources, StoreError,
};

impl Sources for SqliteStore {
    /// Makes the stored sources match the config: new ones are added and spread over the
    /// next `spread_ms` so a thousand sources do not fire at once; known ones keep their
    /// state (a changed URL drops its validators); removed ones become inactive.
    fn sync_sources(
        &self,
        specs: &[SourceSpec],
        now: i64,
        spread_ms: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        tx.execute("UPDATE sources SET active = 0", [])?;
        let mut upsert = tx.prepare(
            "INSERT INTO sources (name, kind, url, interval_ms, next_poll_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET
                    active = 1,
                    kind = excluded.kind,
                    interval_ms = excluded.interval_ms,
                    etag = CASE WHEN url = excluded.url THEN etag END,
                    discovered_url = CASE WHEN url = excluded.url THEN discovered_url END,
                    last_modified = CASE WHEN url = excluded.url THEN last_modified END,
                    next_poll_at = CASE WHEN url = excluded.url THEN next_poll_at ELSE excluded.next_poll_at END,
                    url = excluded.url",
        )?;
        for spec in specs {
            let offset = if spread_ms > 0 {
                fastrand::i64(0..spread_ms.min(spec.interval_ms).max(1))
            } else {
                0
            };
            upsert.execute(params![
                spec.name,
                spec.kind,
                spec.url,
                spec.interval_ms,
                now + offset
            ])?;
        }
        drop(upsert);
        tx.commit()?;
        Ok(())
    }

    fn due_sources(&self, now: i64, limit: usize) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources(
            "WHERE active = 1 AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT ?2",
            params![now, limit as i64],
        )
    }

    /// Takes up to `limit` due sources for polling: each is leased until `now + lease_ms`
    /// (its next poll moves there), so it is not taken twice, and a crash mid-poll only
    /// delays it by the lease. [`Store::record_poll`] replaces the lease with the real time.
    fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<SourceRow>, StoreError> {
        let rows = self.due_sources(now, limit)?;
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("UPDATE sources SET next_poll_at = ?2 WHERE id = ?1")?;
        for row in &rows {
            stmt.execute(params![row.id, now + lease_ms])?;
        }
        Ok(rows)
    }

    fn release(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("UPDATE sources SET next_poll_at = ?2 WHERE id = ?1")?;
        for id in ids {
            stmt.execute(params![id, now])?;
        }
        Ok(())
    }

    /// Every active source, regardless of schedule (for `once`).
    fn active_sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources("WHERE active = 1 ORDER BY id", [])
    }

    fn next_poll_at(&self) -> Result<Option<i64>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT MIN(next_poll_at) FROM sources WHERE active = 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    fn polled_since(&self, since: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, name FROM sources WHERE active = 1 AND last_poll_at >= ?1",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn record_polls(&self, batch: &[(i64, PollRecord)]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for (source_id, rec) in batch {
            self.write_record(&tx, *source_id, rec)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{HEALTH_SELECT} ORDER BY s.active DESC, s.name"))?;
        let rows = stmt.query_map([], health_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl SqliteStore {
    fn select_sources(
        &self,
        tail: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<SourceRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id, name, etag, last_modified, consecutive_failures, last_success_at, discovered_url,
                    failing_since, down_alerted FROM sources {tail}"
        ))?;
        let rows = stmt.query_map(args, |r| {
            Ok(SourceRow {
                id: r.get(0)?,
                name: r.get(1)?,
                validators: Validators {
                    etag: r.get(2)?,
                    last_modified: r.get(3)?,
                },
                consecutive_failures: r.get(4)?,
                last_success_at: r.get(5)?,
                discovered_url: r.get(6)?,
                failing_since: r.get(7)?,
                down_alerted: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(super) fn write_record(
        &self,
        tx: &rusqlite::Transaction<'_>,
        source_id: i64,
        rec: &PollRecord,
    ) -> Result<(), StoreError> {
        let (status, error) = match &rec.result {
            Ok(s) => (s.clone(), None),
            Err(e) => (PollStatus::Error, Some(e.as_str())),
        };
        let (set_discovered, discovered) = match &rec.discovered_url {
            Discovery::Keep => (false, None),
            Discovery::Set(url) => (true, Some(url.as_str())),
            Discovery::Forget => (true, None),
        };
        let ok = rec.result.is_ok();
        let (set_validators, etag, lm) = match &rec.validators {
            Some(v) => (true, v.etag.clone(), v.last_modified.clone()),
            None => (false, None, None),
        };
        tx.prepare_cached(
            "UPDATE sources SET
                last_poll_at = ?2,
                last_success_at = CASE WHEN ?3 THEN ?2 ELSE last_success_at END,
                last_status = ?4,
                last_error = ?5,
                consecutive_failures = CASE WHEN ?3 THEN 0 ELSE consecutive_failures + 1 END,
                etag = CASE WHEN ?6 THEN ?7 ELSE etag END,
                last_modified = CASE WHEN ?6 THEN ?8 ELSE last_modified END,
                next_poll_at = ?9,
                failing_since = CASE WHEN ?3 THEN NULL ELSE COALESCE(failing_since, ?2) END,
                discovered_url = CASE WHEN ?10 THEN ?11 ELSE discovered_url END
             WHERE id = ?1",
        )?
        .execute(params![
            source_id,
            rec.at,
            ok,
            status,
            error,
            set_validators,
            etag,
            lm,
            rec.next_poll_at,
            set_discovered,
            discovered
        ])?;
        tx.prepare_cached(
            "INSERT INTO polls (source_id, at, status, error) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            source_id,
            rec.at,
            status,
            error.map(|e| crate::text::truncate_chars(e, 300))
        ])?;
        match &rec.health {
            Some(change) => self.write_health(tx, source_id, rec.at, change),
            None => Ok(()),
        }
    }

    /// A health alert decided by the poll: the source's alerted flag, and one outbox row per
    /// notifier.
    fn write_health(
        &self,
        tx: &rusqlite::Transaction<'_>,
        source_id: i64,
        at: i64,
        change: &HealthChange,
    ) -> Result<(), StoreError> {
        tx.prepare_cached("UPDATE sources SET down_alerted = ?2 WHERE id = ?1")?
            .execute(params![source_id, change.down])?;
        let payload = serde_json::to_string(&change.alert)?;
        for notifier in &change.notifiers {
            tx.prepare_cached(
                "INSERT INTO alerts (id, notifier, watch, payload, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                change.alert.id,
                notifier,
                change.alert.watch,
                payload,
                at
            ])?;
        }
        Ok(())
    }
}

/// The columns of [`SourceHealth`], read by [`health_row`]; a query adds its conditions.
pub(super) const HEALTH_SELECT: &str =
    "SELECT s.id, s.name, s.kind, s.url, s.active, s.last_poll_at, s.last_success_at, s.last_status,
            s.last_error, s.consecutive_failures, s.next_poll_at,
            (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id)
     FROM sources s";

pub(super) fn health_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SourceHealth> {
    Ok(SourceHealth {
        id: r.get(0)?,
        name: r.get(1)?,
        kind: r.get(2)?,
        url: r.get(3)?,
        active: r.get(4)?,
        last_poll_at: r.get(5)?,
        last_success_at: r.get(6)?,
        status: r.get(7)?,
        last_error: r.get(8)?,
        consecutive_failures: r.get(9)?,
        next_poll_at: r.get(10)?,
        items: r.get(11)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceType;
    use crate::store::{DEFER_BATCH, DEFER_MS, Store};

    /// A store at `path` with `n` feeds, and their ids in order.
    fn store_with_feeds(path: &std::path::Path, n: usize) -> (Store, Vec<i64>) {
        let store = Store::open(path).unwrap();
        let specs: Vec<SourceSpec> = (0..n)
            .map(|i| SourceSpec {
                name: format!("s{i:03}"),
                kind: SourceType::Feed,
                url: format!("http://e.org/{i}"),
                interval_ms: 1000,
            })
            .collect();
        store.sync_sources(&specs, 0, 0).unwrap();
        let ids = store
            .active_sources()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        (store, ids)
    }

    /// A poll at `at` that found the feed unchanged.
    fn not_modified(at: i64) -> PollRecord {
        PollRecord {
            at,
            result: Ok(PollStatus::NotModified),
            validators: None,
            discovered_url: Discovery::Keep,
            next_poll_at: at + 3_600_000,
            health: None,
        }
    }

    #[tokio::test]
    async fn deferred_outcomes_are_written_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let (store, ids) = store_with_feeds(&dir.path().join("t.db"), DEFER_BATCH + 1);
        let polled = |store: &Store| {
            store
                .source_health()
                .unwrap()
                .iter()
                .filter(|h| h.last_poll_at.is_some())
                .count()
        };
        let rec = not_modified;
        // Below the batch size nothing is written until a flush...
        for &id in &ids[..DEFER_BATCH - 1] {
            store.defer_record(id, rec(5)).await.unwrap();
        }
        assert_eq!(polled(&store), 0);
        // ...and the batch's last one writes them all.
        store
            .defer_record(ids[DEFER_BATCH - 1], rec(5))
            .await
            .unwrap();
        assert_eq!(polled(&store), DEFER_BATCH);
        // An outcome older than the wait limit is written with the next one.
        store.defer_record(ids[DEFER_BATCH], rec(10)).await.unwrap();
        assert_eq!(polled(&store), DEFER_BATCH);
        // The scheduler's cue: due once the oldest has waited the limit.
        assert!(!store.deferred_due(10 + DEFER_MS - 1));
        assert!(store.deferred_due(10 + DEFER_MS));
        store
            .defer_record(ids[0], rec(20 + DEFER_MS))
            .await
            .unwrap();
        assert_eq!(polled(&store), DEFER_BATCH + 1);
        assert_eq!(store.flush_records().unwrap(), 0);
        let row = &store.source_health().unwrap()[0];
        assert_eq!(
            (row.last_poll_at, row.next_poll_at),
            (Some(20 + DEFER_MS), 20 + DEFER_MS + 3_600_000)
        );
    }

    #[tokio::test]
    async fn deferred_outcomes_survive_a_failed_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let (store, ids) = store_with_feeds(&path, 2);
        let rec = not_modified;
        // The database refuses the write (as a full disk or a lost connection would).
        let other = rusqlite::Connection::open(&path).unwrap();
        other
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE UPDATE ON sources
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        store.defer_record(ids[0], rec(5)).await.unwrap();
        assert!(store.flush_records().is_err());
        // One deferred since joins it; once the database takes writes again, both are
        // written, the older first.
        store.defer_record(ids[1], rec(6)).await.unwrap();
        other.execute_batch("DROP TRIGGER refuse").unwrap();
        assert_eq!(store.flush_records().unwrap(), 2);
        let mut polled: Vec<_> = store
            .source_health()
            .unwrap()
            .iter()
            .map(|h| h.last_poll_at)
            .collect();
        polled.sort();
        assert_eq!(polled, [Some(5), Some(6)]);
    }
}
