//! Sources on PostgreSQL: each node lists its own (`node_sources`) and claims due ones with
//! a lease, so no source is polled by two nodes at once.

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{NODE_GONE_MS, PostgresStore, poll_status, source_type};
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
            let ids: Vec<i64> = tx
                .query(
                    "INSERT INTO sources (name, kind, url, interval_ms, next_poll_at)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])
                     ON CONFLICT (name) DO UPDATE SET
                        active = TRUE,
                        kind = excluded.kind,
                        interval_ms = excluded.interval_ms,
                        etag = CASE WHEN sources.url = excluded.url THEN sources.etag END,
                        discovered_url = CASE WHEN sources.url = excluded.url THEN sources.discovered_url END,
                        last_modified = CASE WHEN sources.url = excluded.url THEN sources.last_modified END,
                        next_poll_at = CASE WHEN sources.url = excluded.url THEN sources.next_poll_at
                                            ELSE excluded.next_poll_at END,
                        url = excluded.url
                     RETURNING id",
                    &[&names, &kinds, &urls, &intervals, &next],
                )
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            tx.execute("DELETE FROM node_sources WHERE node = $1", &[&self.node])
                .await?;
            tx.execute(
                "INSERT INTO node_sources (node, source_id) SELECT $1, unnest($2::bigint[])",
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
                "UPDATE sources SET active = EXISTS (
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
                     FROM due WHERE s.id = due.id
                     RETURNING {ROW_SELECT}"
                ))
                .await?;
            let rows = client
                .query(&stmt, &[&self.node, &now, &(limit as i64), &until])
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
            let row = client
                .query_one(
                    &format!("SELECT MIN(s.next_poll_at) FROM sources s WHERE s.active AND {MINE}"),
                    &[&self.node],
                )
                .await?;
            Ok(row.try_get(0)?)
        })
    }

    fn record_polls(&self, batch: &[(i64, PollRecord)]) -> Result<(), StoreError> {
        self.run(async {
            let mut client = self.client().await?;
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

/// Writes polls' outcomes in `tx`: the statements go out together (pipelined), not one
/// round trip each. Recording a poll ends the source's lease.
pub(super) async fn write_records(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[(i64, PollRecord)],
) -> Result<(), StoreError> {
    let update = tx
        .prepare_cached(
            "UPDATE sources SET
                last_poll_at = $2,
                last_success_at = CASE WHEN $3 THEN $2 ELSE last_success_at END,
                last_status = $4,
                last_error = $5,
                consecutive_failures = CASE WHEN $3 THEN 0 ELSE consecutive_failures + 1 END,
                etag = CASE WHEN $6 THEN $7 ELSE etag END,
                last_modified = CASE WHEN $6 THEN $8 ELSE last_modified END,
                next_poll_at = $9,
                failing_since = CASE WHEN $3 THEN NULL ELSE COALESCE(failing_since, $2) END,
                discovered_url = CASE WHEN $10 THEN $11 ELSE discovered_url END,
                leased_by = NULL,
                lease_until = NULL
             WHERE id = $1",
        )
        .await?;
    let mut ids = Vec::with_capacity(batch.len());
    let mut ats = Vec::with_capacity(batch.len());
    let mut statuses = Vec::with_capacity(batch.len());
    let mut errors = Vec::with_capacity(batch.len());
    let mut updates = Vec::with_capacity(batch.len());
    for (source_id, rec) in batch {
        let (status, error) = match &rec.result {
            Ok(s) => (s.text().to_string(), None),
            Err(e) => (PollStatus::Error.text().to_string(), Some(e.clone())),
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
        let (ok, update) = (rec.result.is_ok(), &update);
        let (status2, error2) = (status.clone(), error.clone());
        updates.push(async move {
            tx.execute(
                update,
                &[
                    source_id,
                    &rec.at,
                    &ok,
                    &status2,
                    &error2,
                    &set_validators,
                    &etag,
                    &lm,
                    &rec.next_poll_at,
                    &set_discovered,
                    &discovered,
                ],
            )
            .await
        });
        ids.push(*source_id);
        ats.push(rec.at);
        statuses.push(status);
        errors.push(error.map(|e| crate::text::truncate_chars(&e, 300).to_string()));
    }
    futures_util::future::try_join_all(updates).await?;
    tx.execute(
        "INSERT INTO polls (source_id, at, status, error)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[])",
        &[&ids, &ats, &statuses, &errors],
    )
    .await?;
    for (source_id, rec) in batch {
        if let Some(change) = &rec.health {
            write_health(tx, *source_id, rec.at, change).await?;
        }
    }
    Ok(())
}

/// A health alert decided by the poll: the source's alerted flag, and one outbox row per
/// notifier. Only the node holding the source's lease polls it, so the alert is raised once
/// for the cluster; its id makes a second raising a no-op anyway.
async fn write_health(
    tx: &deadpool_postgres::Transaction<'_>,
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
