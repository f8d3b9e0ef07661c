//! Sources and their poll state: validators, failures, last error, next poll.

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::Validators;
use crate::model::{Alert, PollStatus, SourceType};

/// A configured source, as the store keeps it (keyed by name).
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Its configured name (the key).
    pub name: String,
    /// Feed or page.
    pub kind: SourceType,
    /// Its configured URL.
    pub url: String,
    /// Its interval (ms).
    pub interval_ms: i64,
}

/// A source due for a poll, with what the poll needs from its history.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Its row.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// To send back (conditional GET).
    pub validators: Validators,
    /// Failed polls since the last success.
    pub consecutive_failures: u32,
    /// When it last succeeded (ms).
    pub last_success_at: Option<i64>,
    /// The feed a listed HTML page pointed to (`<link rel="alternate">`), polled instead.
    pub discovered_url: Option<String>,
    /// Since when the source has failed without a success, if it is failing.
    pub failing_since: Option<i64>,
    /// Whether its `source_down` alert went out (and `source_up` is owed).
    pub down_alerted: bool,
}

/// The outcome of one poll, written back in one statement.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// When the poll ended (ms).
    pub at: i64,
    /// What the poll found, or the error message.
    pub result: Result<PollStatus, String>,
    /// New validators; `None` keeps the stored ones (a 304 or a failure).
    pub validators: Option<Validators>,
    /// What becomes of the feed URL found on the listed page.
    pub discovered_url: Discovery,
    /// When to poll it next (ms).
    pub next_poll_at: i64,
    /// A `source_down` or `source_up` alert the poll raised.
    pub health: Option<HealthChange>,
}

/// A source went down for long enough, or came back: the alert, who gets it, and which way.
#[derive(Debug, Clone)]
pub struct HealthChange {
    /// The alert.
    pub alert: Alert,
    /// Notifiers it goes to.
    pub notifiers: Vec<String>,
    /// `true` for down (its `source_up` is then owed), `false` for back up.
    pub down: bool,
}

/// The feed a listed HTML page points to (`<link rel="alternate">`), after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// As it was.
    Keep,
    /// Poll this feed from now on.
    Set(String),
    /// Look for the feed on the page again next time.
    Forget,
}

/// A poll outcome waiting to be written (see [`Store::defer_record`]).
#[derive(Debug)]
pub(super) struct Deferred {
    source_id: i64,
    rec: PollRecord,
}

/// Deferred poll outcomes are written once this many wait...
pub(super) const DEFER_BATCH: usize = 64;
/// ...or once the oldest waited this long (milliseconds).
pub(super) const DEFER_MS: i64 = 10_000;

/// What `feedwatch sources` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceHealth {
    /// Its row.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Feed or page.
    pub kind: SourceType,
    /// Its URL.
    pub url: String,
    /// Still in the config.
    pub active: bool,
    /// When it was last polled (ms).
    pub last_poll_at: Option<i64>,
    /// When it last succeeded (ms).
    pub last_success_at: Option<i64>,
    /// What the last poll came to.
    pub status: Option<PollStatus>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Failed polls since the last success.
    pub consecutive_failures: u32,
    /// When it is polled next (ms).
    pub next_poll_at: i64,
    /// Items stored from it.
    pub items: i64,
}

impl Store {
    /// Makes the stored sources match the config: new ones are added and spread over the
    /// next `spread_ms` so a thousand sources do not fire at once; known ones keep their
    /// state (a changed URL drops its validators); removed ones become inactive.
    pub fn sync_sources(
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

    /// Active sources whose next poll is due, earliest first.
    pub fn due_sources(&self, now: i64, limit: usize) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources(
            "WHERE active = 1 AND next_poll_at <= ?1 ORDER BY next_poll_at LIMIT ?2",
            params![now, limit as i64],
        )
    }

    /// Takes up to `limit` due sources for polling: each is leased until `now + lease_ms`
    /// (its next poll moves there), so it is not taken twice, and a crash mid-poll only
    /// delays it by the lease. [`Store::record_poll`] replaces the lease with the real time.
    pub fn claim_due(
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

    /// Makes sources due now again (polls cut short by shutdown).
    pub fn release(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached("UPDATE sources SET next_poll_at = ?2 WHERE id = ?1")?;
        for id in ids {
            stmt.execute(params![id, now])?;
        }
        Ok(())
    }

    /// Every active source, regardless of schedule (for `once`).
    pub fn active_sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources("WHERE active = 1 ORDER BY id", [])
    }

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

    /// When the next active source is due, if any.
    pub fn next_poll_at(&self) -> Result<Option<i64>, StoreError> {
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

    /// Records a poll's outcome: success resets the failure count, failure increments it.
    pub fn record_poll(&self, source_id: i64, rec: &PollRecord) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        self.write_record(&tx, source_id, rec)?;
        tx.commit()?;
        Ok(())
    }

    /// Queues the outcome of a poll that found nothing new on a healthy source, to be written
    /// with others in one transaction: a warm cycle of 1,000 sources answering 304 spent a
    /// third of its CPU committing them one by one. Only the source's times are at stake if
    /// the process dies first (it is polled again sooner, and a lost ETag costs one full
    /// fetch); items and alerts are never deferred. Written once [`DEFER_BATCH`] wait or the
    /// oldest is [`DEFER_MS`] old, and by [`Store::flush_records`], which the scheduler
    /// calls when its polls drain and before it claims more; well within a claim's lease.
    pub async fn defer_record(&self, source_id: i64, rec: PollRecord) -> Result<(), StoreError> {
        let now = rec.at;
        let full = {
            let mut queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(Deferred { source_id, rec });
            queue.len() >= DEFER_BATCH
        };
        if full || self.deferred_due(now) {
            self.blocking(|s| s.flush_records()).await?;
        }
        Ok(())
    }

    /// Whether deferred outcomes wait that are [`DEFER_MS`] old at `now`: the scheduler's
    /// cue to write them without waiting for a full batch.
    pub fn deferred_due(&self, now: i64) -> bool {
        let queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        queue.first().is_some_and(|d| d.rec.at <= now - DEFER_MS)
    }

    /// Writes the deferred poll outcomes in one transaction; how many there were.
    pub fn flush_records(&self) -> Result<usize, StoreError> {
        let batch = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for d in &batch {
            self.write_record(&tx, d.source_id, &d.rec)?;
        }
        tx.commit()?;
        Ok(batch.len())
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

    /// Health of every source, active first.
    pub fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!("{HEALTH_SELECT} ORDER BY s.active DESC, s.name"))?;
        let rows = stmt.query_map([], health_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    #[tokio::test]
    async fn deferred_outcomes_are_written_in_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let specs: Vec<SourceSpec> = (0..DEFER_BATCH + 1)
            .map(|i| SourceSpec {
                name: format!("s{i:03}"),
                kind: SourceType::Feed,
                url: format!("http://e.org/{i}"),
                interval_ms: 1000,
            })
            .collect();
        store.sync_sources(&specs, 0, 0).unwrap();
        let ids: Vec<i64> = store
            .active_sources()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        let polled = |store: &Store| {
            store
                .source_health()
                .unwrap()
                .iter()
                .filter(|h| h.last_poll_at.is_some())
                .count()
        };
        let rec = |at: i64| PollRecord {
            at,
            result: Ok(PollStatus::NotModified),
            validators: None,
            discovered_url: Discovery::Keep,
            next_poll_at: at + 3_600_000,
            health: None,
        };
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
}
