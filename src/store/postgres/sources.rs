//! Sources on PostgreSQL: each node lists its own (`node_sources`) and claims due ones with
//! a lease, so no source is polled by two nodes at once.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{NODE_GONE_MS, PostgresStore, poll_status, query_planned_once, source_type};
use crate::model::{PollStatus, Validators};
use crate::store::{
    Discovery, HealthChange, PollRecord, SourceHealth, SourceRow, SourceSpec, Sources, StoreError,
};

/// The columns of [`SourceRow`], read by [`source_row`].
const ROW_SELECT: &str = "s.id, s.name, s.etag, s.last_modified, s.consecutive_failures,
    s.last_success_at, s.discovered_url, s.failing_since, s.down_alerted";

/// Sources this node lists.
const MINE: &str = "s.id IN (SELECT source_id FROM node_sources WHERE node = $1)";

fn source_row(r: &Row) -> Result<SourceRow, StoreError> {
    Ok(SourceRow {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        validators: Validators {
            etag: r.try_get(2)?,
            last_modified: r.try_get(3)?,
        },
        consecutive_failures: r.try_get::<_, i32>(4)? as u32,
        last_success_at: r.try_get(5)?,
        discovered_url: r.try_get(6)?,
        failing_since: r.try_get(7)?,
        down_alerted: r.try_get(8)?,
    })
}

/// The columns of [`SourceHealth`], read by [`health_row`]; a query adds its conditions.
pub(super) const HEALTH_SELECT: &str =
    "SELECT s.id, s.name, s.kind, s.url, s.active, s.last_poll_at, s.last_success_at, s.last_status,
            s.last_error, s.consecutive_failures, s.next_poll_at,
            (SELECT COUNT(*) FROM items i WHERE i.source_id = s.id)
     FROM sources s";

pub(super) fn health_row(r: &Row) -> Result<SourceHealth, StoreError> {
    Ok(SourceHealth {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        kind: source_type(r, 2)?,
        url: r.try_get(3)?,
        active: r.try_get(4)?,
        last_poll_at: r.try_get(5)?,
        last_success_at: r.try_get(6)?,
        status: poll_status(r, 7)?,
        last_error: r.try_get(8)?,
        consecutive_failures: r.try_get::<_, i32>(9)? as u32,
        next_poll_at: r.try_get(10)?,
        items: r.try_get(11)?,
    })
}

impl Sources for PostgresStore {
    fn sync_sources(
        &self,
        specs: &[SourceSpec],
        now: i64,
        spread_ms: i64,
    ) -> Result<(), StoreError> {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let kinds: Vec<&str> = specs.iter().map(|s| s.kind.as_str()).collect();
        let urls: Vec<&str> = specs.iter().map(|s| s.url.as_str()).collect();
        let intervals: Vec<i64> = specs.iter().map(|s| s.interval_ms).collect();
        let next: Vec<i64> = specs
            .iter()
            .map(|s| {
                now + if spread_ms > 0 {
                    fastrand::i64(0..spread_ms.min(s.interval_ms).max(1))
                } else {
                    0
                }
            })
            .collect();
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            // Nodes sync one at a time: each reads which sources the others still list.
            tx.execute("LOCK TABLE node_sources IN EXCLUSIVE MODE", &[])
                .await?;
            // Only what changed is written: a node starting or reloading with the config the
            // database already holds rewrites no row (each rewrite of a source's row is a new
            // version of it and of its three index entries, which autovacuum must clear).
            tx.execute(
                "INSERT INTO sources (name, kind, url, interval_ms, next_poll_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                 ON CONFLICT (name) DO UPDATE SET
                    kind = excluded.kind,
                    interval_ms = excluded.interval_ms,
                    etag = CASE WHEN sources.url = excluded.url THEN sources.etag END,
                    discovered_url = CASE WHEN sources.url = excluded.url THEN sources.discovered_url END,
                    last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END,
                    next_poll_at = CASE WHEN sources.url = excluded.url THEN sources.next_poll_at
                                        ELSE excluded.next_poll_at END,
                    url = excluded.url
                 WHERE (sources.kind, sources.interval_ms, sources.url)
                       IS DISTINCT FROM (excluded.kind, excluded.interval_ms, excluded.url)",
                &[&names, &kinds, &urls, &intervals, &next],
            )
            .await?;
            let ids: Vec<i64> = tx
                .query("SELECT id FROM sources WHERE name = ANY($1)", &[&names])
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            tx.execute(
                "DELETE FROM node_sources ns WHERE ns.node = $1
                 AND NOT EXISTS (SELECT 1 FROM unnest($2::bigint[]) AS k(id) WHERE k.id = ns.source_id)",
                &[&self.node, &ids],
            )
            .await?;
            tx.execute(
                "INSERT INTO node_sources (node, source_id) SELECT $1, unnest($2::bigint[])
                 ON CONFLICT DO NOTHING",
                &[&self.node, &ids],
            )
            .await?;
            tx.execute(
                "INSERT INTO nodes (node, started_at, heartbeat_at, config_hash) VALUES ($1, $2, $3, '')
                 ON CONFLICT (node) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                &[&self.node, &self.started_at, &now],
            )
            .await?;
            // A source stays active while a node heard from lately lists it.
            tx.execute(
                "UPDATE sources SET active = NOT active WHERE active <> EXISTS (
                    SELECT 1 FROM node_sources ns JOIN nodes n ON n.node = ns.node
                    WHERE ns.source_id = sources.id AND n.heartbeat_at >= $1)",
                &[&(now - NODE_GONE_MS)],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn due_sources(&self, now: i64, limit: usize) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources(
            &format!(
                "WHERE s.active AND {MINE} AND s.next_poll_at <= $2 ORDER BY s.next_poll_at LIMIT $3"
            ),
            &[&self.node, &now, &(limit as i64)],
        )
    }

    fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<SourceRow>, StoreError> {
        let until = now.saturating_add(lease_ms);
        self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "WITH due AS (
                        SELECT s.id FROM sources s
                        WHERE s.active AND {MINE} AND s.next_poll_at <= $2
                        ORDER BY s.next_poll_at LIMIT $3
                        FOR UPDATE OF s SKIP LOCKED)
                     UPDATE sources s SET next_poll_at = $4, leased_by = $1, lease_until = $4
                     WHERE s.id = ANY (ARRAY(SELECT id FROM due))
                     RETURNING {ROW_SELECT}"
                ))
                .await?;
            // Planned once per connection: a plan for a `LIMIT` the server cannot see looked
            // dearer than one made for each call's values, so the server planned the claim
            // anew every time (about 0.4 ms of its CPU, a quarter of the claim's). The
            // claimed rows are updated through an array of their ids, so that the plan made
            // once reads them by the key (joined to the claim, a plan for an unknown number
            // of rows read the whole table instead, at three times the claim's cost).
            let params: [&(dyn ToSql + Sync); 4] = [&self.node, &now, &(limit as i64), &until];
            let rows = query_planned_once(&client, &stmt, &params).await?;
            let mut rows: Vec<SourceRow> = rows.iter().map(source_row).collect::<Result<_, _>>()?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    fn claim_all(&self, now: i64, lease_ms: i64) -> Result<Vec<SourceRow>, StoreError> {
        let until = now.saturating_add(lease_ms);
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!(
                        "WITH mine AS (
                            SELECT s.id FROM sources s
                            WHERE s.active AND {MINE} AND (s.leased_by IS NULL OR s.lease_until <= $2)
                            FOR UPDATE OF s SKIP LOCKED)
                         UPDATE sources s SET next_poll_at = $3, leased_by = $1, lease_until = $3
                         FROM mine WHERE s.id = mine.id
                         RETURNING {ROW_SELECT}"
                    ),
                    &[&self.node, &now, &until],
                )
                .await?;
            let mut rows: Vec<SourceRow> = rows.iter().map(source_row).collect::<Result<_, _>>()?;
            rows.sort_by_key(|r| r.id);
            Ok(rows)
        })
    }

    fn release(&self, ids: &[i64], now: i64) -> Result<(), StoreError> {
        self.run(async {
            let client = self.client().await?;
            client
                .execute(
                    "UPDATE sources SET next_poll_at = $2, leased_by = NULL, lease_until = NULL
                     WHERE id = ANY($1) AND leased_by = $3",
                    &[&ids, &now, &self.node],
                )
                .await?;
            Ok(())
        })
    }

    fn active_sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        self.select_sources(
            &format!("WHERE s.active AND {MINE} ORDER BY s.id"),
            &[&self.node],
        )
    }

    fn next_poll_at(&self) -> Result<Option<i64>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            // The first in the schedule's index that this node lists: MIN() over a join
            // would read every source (23 ms at 10,000, asked after every poll).
            let next = client
                .prepare_cached(&format!(
                    "SELECT s.next_poll_at FROM sources s WHERE s.active AND {MINE}
                     ORDER BY s.next_poll_at LIMIT 1"
                ))
                .await?;
            let row = client.query_opt(&next, &[&self.node]).await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }

    fn polled_since(&self, since: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let polled = client
                .prepare_cached(&format!(
                    "SELECT s.id, s.name FROM sources s
                     WHERE s.active AND {MINE} AND s.last_poll_at >= $2"
                ))
                .await?;
            let rows = client.query(&polled, &[&self.node, &since]).await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn record_polls(&self, batch: &[(i64, PollRecord)]) -> Result<(), StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            if batch.iter().all(|(_, rec)| rec.health.is_none()) {
                return write_records(&client, batch).await;
            }
            let tx = client.transaction().await?;
            write_records(&tx, batch).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    &format!("{HEALTH_SELECT} ORDER BY s.active DESC, s.name"),
                    &[],
                )
                .await?;
            rows.iter().map(health_row).collect()
        })
    }
}

impl PostgresStore {
    fn select_sources(
        &self,
        tail: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SourceRow>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(&format!("SELECT {ROW_SELECT} FROM sources s {tail}"), args)
                .await?;
            rows.iter().map(source_row).collect()
        })
    }
}

/// Writes polls' outcomes: the sources' rows and their poll history in one statement,
/// whatever the batch's size, then any health alerts they raise. Recording a poll ends the
/// source's lease. Without health alerts, the one statement needs no transaction around it.
pub(super) async fn write_records(
    client: &impl GenericClient,
    batch: &[(i64, PollRecord)],
) -> Result<(), StoreError> {
    // A source twice in one batch (polled twice within the deferral): its last outcome
    // sets the row; both go to the history.
    let mut last: Vec<&(i64, PollRecord)> = Vec::with_capacity(batch.len());
    for entry in batch.iter().rev() {
        if !last.iter().any(|(id, _)| *id == entry.0) {
            last.push(entry);
        }
    }
    let mut cols = RecordColumns::default();
    for (source_id, rec) in last {
        cols.push(*source_id, rec);
    }
    let c = &cols;
    if let [_] = batch {
        // One poll (a poll's commit): scalar parameters, whose plan the server makes once.
        // The arrays' statement is planned anew each time (about 175 µs of the server's
        // CPU), as a plan for unknown arrays looks dearer than one for the arrays given.
        let record = client.prepare_cached(&RECORD_ONE).await?;
        let error = c.errors[0]
            .as_deref()
            .map(|e| crate::text::truncate_chars(e, MAX_ERROR_CHARS));
        client
            .execute(
                &record,
                &[
                    &c.ids[0],
                    &c.ats[0],
                    &c.oks[0],
                    &c.statuses[0],
                    &c.errors[0],
                    &c.set_v[0],
                    &c.etags[0],
                    &c.lms[0],
                    &c.nexts[0],
                    &c.set_d[0],
                    &c.discovered[0],
                    &error,
                ],
            )
            .await?;
    } else {
        let record = client.prepare_cached(&RECORD_BATCH).await?;
        let mut all = RecordColumns::default();
        for (source_id, rec) in batch {
            all.push(*source_id, rec);
        }
        let errors: Vec<Option<String>> = all
            .errors
            .iter()
            .map(|e| {
                e.as_deref()
                    .map(|e| crate::text::truncate_chars(e, MAX_ERROR_CHARS))
            })
            .collect();
        client
            .execute(
                &record,
                &[
                    &c.ids,
                    &c.ats,
                    &c.oks,
                    &c.statuses,
                    &c.errors,
                    &c.set_v,
                    &c.etags,
                    &c.lms,
                    &c.nexts,
                    &c.set_d,
                    &c.discovered,
                    &all.ids,
                    &all.ats,
                    &all.statuses,
                    &errors,
                ],
            )
            .await?;
    }
    for (source_id, rec) in batch {
        if let Some(change) = &rec.health {
            write_health(client, *source_id, rec.at, change).await?;
        }
    }
    Ok(())
}

/// The longest error a poll's history keeps.
const MAX_ERROR_CHARS: usize = 300;

/// A source's row from its poll's outcome `r`.
const RECORD_SET: &str = "
    UPDATE sources s SET
        last_poll_at = r.at,
        last_success_at = CASE WHEN r.ok THEN r.at ELSE s.last_success_at END,
        last_status = r.status,
        last_error = r.error,
        consecutive_failures = CASE WHEN r.ok THEN 0 ELSE s.consecutive_failures + 1 END,
        etag = CASE WHEN r.set_v THEN r.etag ELSE s.etag END,
        last_modified = CASE WHEN r.set_v THEN r.lm ELSE s.last_modified END,
        next_poll_at = r.next,
        failing_since = CASE WHEN r.ok THEN NULL ELSE COALESCE(s.failing_since, r.at) END,
        discovered_url = CASE WHEN r.set_d THEN r.disc ELSE s.discovered_url END,
        leased_by = NULL,
        lease_until = NULL";

/// The columns of a poll's outcome, as [`RECORD_SET`] reads them.
const RECORD_COLUMNS: &str = "r(id, at, ok, status, error, set_v, etag, lm, next, set_d, disc)";

/// Polls' outcomes as arrays, the sources' last outcomes ($1 to $11) and every poll of the
/// batch for the history ($12 to $15).
static RECORD_BATCH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH updated AS ({RECORD_SET}
            FROM unnest($1::bigint[], $2::bigint[], $3::bool[], $4::text[], $5::text[],
                        $6::bool[], $7::text[], $8::text[], $9::bigint[], $10::bool[],
                        $11::text[]) AS {RECORD_COLUMNS}
            WHERE s.id = r.id)
         INSERT INTO polls (source_id, at, status, error)
         SELECT * FROM unnest($12::bigint[], $13::bigint[], $14::text[], $15::text[])"
    )
});

/// One poll's outcome, with the error its history keeps ($12).
static RECORD_ONE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "WITH updated AS ({RECORD_SET}
            FROM (VALUES ($1::bigint, $2::bigint, $3::bool, $4::text, $5::text, $6::bool,
                          $7::text, $8::text, $9::bigint, $10::bool, $11::text))
                AS {RECORD_COLUMNS}
            WHERE s.id = r.id)
         INSERT INTO polls (source_id, at, status, error) VALUES ($1, $2, $4, $12)"
    )
});

/// Poll outcomes as columns, one array per parameter of the batch statements.
#[derive(Default)]
struct RecordColumns {
    ids: Vec<i64>,
    ats: Vec<i64>,
    oks: Vec<bool>,
    statuses: Vec<String>,
    errors: Vec<Option<String>>,
    set_v: Vec<bool>,
    etags: Vec<Option<String>>,
    lms: Vec<Option<String>>,
    nexts: Vec<i64>,
    set_d: Vec<bool>,
    discovered: Vec<Option<String>>,
}

impl RecordColumns {
    fn push(&mut self, source_id: i64, rec: &PollRecord) {
        let (status, error) = match &rec.result {
            Ok(s) => (s.text(), None),
            Err(e) => (PollStatus::Error.text(), Some(e.clone())),
        };
        let (set_discovered, discovered) = match &rec.discovered_url {
            Discovery::Keep => (false, None),
            Discovery::Set(url) => (true, Some(url.clone())),
            Discovery::Forget => (true, None),
        };
        let (set_validators, etag, lm) = match &rec.validators {
            Some(v) => (true, v.etag.clone(), v.last_modified.clone()),
            None => (false, None, None),
        };
        self.ids.push(source_id);
        self.ats.push(rec.at);
        self.oks.push(rec.result.is_ok());
        self.statuses.push(status);
        self.errors.push(error);
        self.set_v.push(set_validators);
        self.etags.push(etag);
        self.lms.push(lm);
        self.nexts.push(rec.next_poll_at);
        self.set_d.push(set_discovered);
        self.discovered.push(discovered);
    }
}

/// A health alert decided by the poll: the source's alerted flag, and one outbox row per
/// notifier. Only the node holding the source's lease polls it, so the alert is raised once
/// for the cluster; its id makes a second raising a no-op anyway.
async fn write_health(
    tx: &impl GenericClient,
    source_id: i64,
    at: i64,
    change: &HealthChange,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sources SET down_alerted = $2 WHERE id = $1",
        &[&source_id, &change.down],
    )
    .await?;
    let payload = serde_json::to_string(&change.alert)?;
    for notifier in &change.notifiers {
        tx.execute(
            "INSERT INTO alerts (id, notifier, watch, payload, created_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT DO NOTHING",
            &[
                &change.alert.id,
                notifier,
                &change.alert.watch,
                &payload,
                &at,
            ],
        )
        .await?;
    }
    Ok(())
}
