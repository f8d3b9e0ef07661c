//! What the status page, `/metrics` and `/healthz` read on PostgreSQL, and retention.

use std::collections::HashMap;

use super::sources::{HEALTH_SELECT, health_row};
use super::{PostgresStore, delivery_state};
use crate::model::PollStatus;
use crate::store::{
    AlertStatus, DeliveryRow, DeliveryState, Gauges, Overview, POLL_HISTORY, PollMark, PruneReport,
    SourceFilter, SourceHealth, StoreError, Upkeep, Views,
};

impl Views for PostgresStore {
    fn overview(&self, now: i64) -> Result<Overview, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let mut o = Overview::default();
            let r = client
                .query_one(
                    "SELECT COUNT(*),
                        COUNT(*) FILTER (WHERE last_poll_at IS NOT NULL AND consecutive_failures = 0),
                        COUNT(*) FILTER (WHERE consecutive_failures > 0),
                        COUNT(*) FILTER (WHERE down_alerted),
                        COUNT(*) FILTER (WHERE last_poll_at IS NULL),
                        MAX(last_poll_at)
                     FROM sources WHERE active",
                    &[],
                )
                .await?;
            (
                o.sources,
                o.up,
                o.failing,
                o.down,
                o.never_polled,
                o.last_poll_at,
            ) = (
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
            );
            for r in client
                .query("SELECT state, COUNT(*) FROM alerts GROUP BY state", &[])
                .await?
            {
                let n: i64 = r.try_get(1)?;
                match delivery_state(&r, 0)? {
                    DeliveryState::Pending => o.pending = n,
                    DeliveryState::Failed => o.failed = n,
                    DeliveryState::Dead => o.dead = n,
                    DeliveryState::Delivered => {}
                }
            }
            for r in client
                .query(
                    "SELECT CASE status WHEN 'error' THEN 2 WHEN 'not modified' THEN 1 ELSE 0 END, COUNT(*)
                     FROM polls WHERE at >= $1 GROUP BY 1",
                    &[&(now - 3_600_000)],
                )
                .await?
            {
                let kind: i32 = r.try_get(0)?;
                o.polls_last_hour[kind.clamp(0, 2) as usize] = r.try_get(1)?;
            }
            Ok(o)
        })
    }

    fn alerts_per_day(&self, since: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT watch, created_at / 86400000, COUNT(DISTINCT COALESCE(story_id, -item_id))
                     FROM alert_watches WHERE created_at >= $1 GROUP BY 1, 2 ORDER BY 1, 2",
                    &[&since],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
                .collect()
        })
    }

    fn alerts_per_watch(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT watch, COUNT(DISTINCT COALESCE(story_id, -item_id)) FROM alert_watches
                     WHERE created_at >= $1 GROUP BY 1 ORDER BY 2 DESC, 1",
                    &[&since],
                )
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    fn source_page(
        &self,
        filter: SourceFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(i64, Vec<SourceHealth>), StoreError> {
        let (condition, order) = match filter {
            SourceFilter::All => ("TRUE", "s.active DESC, s.name"),
            SourceFilter::Failing => (
                "s.active AND s.consecutive_failures > 0",
                "s.failing_since, s.name",
            ),
        };
        self.run(async {
            let client = self.client().await?;
            let total: i64 = client
                .query_one(
                    &format!("SELECT COUNT(*) FROM sources s WHERE {condition}"),
                    &[],
                )
                .await?
                .try_get(0)?;
            let rows = client
                .query(
                    &format!(
                        "{HEALTH_SELECT} WHERE {condition} ORDER BY {order} LIMIT $1 OFFSET $2"
                    ),
                    &[&(limit as i64), &(offset as i64)],
                )
                .await?;
            Ok((
                total,
                rows.iter().map(health_row).collect::<Result<_, _>>()?,
            ))
        })
    }

    fn poll_strips(&self, sources: &[i64]) -> Result<HashMap<i64, Vec<PollMark>>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT p.source_id, p.at, p.status, p.error
                     FROM unnest($1::bigint[]) AS s(id)
                     CROSS JOIN LATERAL (SELECT source_id, at, status, error FROM polls
                        WHERE source_id = s.id ORDER BY at DESC LIMIT $2) p
                     ORDER BY p.source_id, p.at",
                    &[&sources, &POLL_HISTORY],
                )
                .await?;
            let mut out: HashMap<i64, Vec<PollMark>> =
                sources.iter().map(|&id| (id, Vec::new())).collect();
            for r in rows {
                let status: String = r.try_get(2)?;
                let error: Option<String> = r.try_get(3)?;
                let result = match PollStatus::parse(&status) {
                    Some(PollStatus::Ok(_)) => "ok",
                    Some(PollStatus::NotModified) => "not modified",
                    _ => "error",
                };
                out.entry(r.try_get(0)?).or_default().push(PollMark {
                    at: r.try_get(1)?,
                    result,
                    detail: error.unwrap_or(status),
                });
            }
            Ok(out)
        })
    }

    fn delivery_page(
        &self,
        since: i64,
        watch: Option<&str>,
        states: &[DeliveryState],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT seq, payload, notifier, state, attempts, created_at, delivered_at, last_error,
                       COALESCE('s' || story_id, 'i' || item_id, 'a' || id),
                       (SELECT array_agg(name ORDER BY first) FROM
                          (SELECT s.name, MIN(i.id) AS first FROM items i JOIN sources s ON s.id = i.source_id
                           WHERE i.story_id = alerts.story_id GROUP BY s.name) carried)
                     FROM alerts
                     WHERE seq < $1 AND created_at >= $2
                       AND ($3::text IS NULL OR watch = $3
                            OR EXISTS (SELECT 1 FROM alert_watches w WHERE w.seq = alerts.seq AND w.watch = $3))
                       AND (cardinality($4::text[]) = 0 OR state = ANY($4))
                     ORDER BY seq DESC LIMIT $5",
                    &[&before.unwrap_or(i64::MAX), &since, &watch, &states, &limit],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    let alert = crate::store::decode_alert(r.try_get(1)?)?;
                    let sources: Option<Vec<String>> = r.try_get(9)?;
                    let sources = sources.unwrap_or_else(|| vec![alert.source.clone()]);
                    Ok(DeliveryRow {
                        seq: r.try_get(0)?,
                        group: r.try_get(8)?,
                        status: AlertStatus {
                            alert,
                            notifier: r.try_get(2)?,
                            state: delivery_state(r, 3)?,
                            attempts: r.try_get::<_, i32>(4)? as u32,
                            created_at: r.try_get(5)?,
                            delivered_at: r.try_get(6)?,
                            last_error: r.try_get(7)?,
                            sources,
                        },
                    })
                })
                .collect()
        })
    }
}

impl Upkeep for PostgresStore {
    fn prune(&self, now: i64, keep_ms: i64) -> Result<PruneReport, StoreError> {
        let cutoff = now - keep_ms;
        let report = self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let items = tx
                .execute(
                    "UPDATE items SET text = '', pruned = TRUE WHERE fetched_at < $1 AND NOT pruned",
                    &[&cutoff],
                )
                .await?;
            let alerts = tx
                .execute(
                    "DELETE FROM alerts WHERE created_at < $1 AND state != 'pending'",
                    &[&cutoff],
                )
                .await?;
            // Their items keep no id of a story that is gone.
            let stories: i64 = tx
                .query_one(
                    "WITH gone AS (DELETE FROM stories WHERE last_seen < $1 RETURNING id),
                          cleared AS (UPDATE items SET story_id = NULL
                                      WHERE story_id IN (SELECT id FROM gone))
                     SELECT COUNT(*) FROM gone",
                    &[&cutoff],
                )
                .await?
                .try_get(0)?;
            tx.execute(
                "DELETE FROM polls p USING (
                    SELECT ctid, ROW_NUMBER() OVER (PARTITION BY source_id ORDER BY at DESC) AS n FROM polls) old
                 WHERE p.ctid = old.ctid AND old.n > $1",
                &[&POLL_HISTORY],
            )
            .await?;
            // Nodes gone for a week leave the list.
            tx.execute(
                "DELETE FROM nodes WHERE heartbeat_at < $1",
                &[&(now - 7 * 24 * 3_600_000)],
            )
            .await?;
            tx.commit().await?;
            Ok(PruneReport {
                items: items as usize,
                alerts: alerts as usize,
                stories: stories as usize,
            })
        })?;
        if report.stories > 0 {
            *self.lock_stories() = None;
        }
        Ok(report)
    }

    fn gauges(&self) -> Result<Gauges, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let alerts = client
                .query(
                    "SELECT state, COUNT(*) FROM alerts GROUP BY state ORDER BY state",
                    &[],
                )
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, StoreError>>()?;
            let r = client
                .query_one(
                    "SELECT COUNT(*), COUNT(*) FILTER (WHERE consecutive_failures > 0) FROM sources WHERE active",
                    &[],
                )
                .await?;
            Ok(Gauges {
                alerts,
                sources: r.try_get(0)?,
                failing: r.try_get(1)?,
            })
        })
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        self.run(async {
            let r = self
                .client()
                .await?
                .query_one(
                    "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')",
                    &[],
                )
                .await?;
            let (recovery, read_only): (bool, String) = (r.try_get(0)?, r.try_get(1)?);
            if recovery || read_only == "on" {
                return Err(StoreError::Postgres(format!(
                    "{} takes no writes (a standby, or read-only)",
                    self.label
                )));
            }
            Ok(())
        })
    }

    fn release_memory(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Autovacuum does it in time; a daemon's first cycle fills the tables faster than that.
    /// A table still small is left unanalyzed: statistics of a nearly empty table make the
    /// planner read it whole, and the plans of foreign-key checks, made once per connection,
    /// would go on reading it whole while a cycle fills it (a cold cycle cost several times
    /// its CPU). Unanalyzed, it is planned as a table that may grow, by its index. A table
    /// that has not grown by a tenth since its statistics were taken (by this node or
    /// another) is left as it is: every node of a cluster ends its first cycle and its
    /// retention passes within moments of the others, and each analyzed every table again
    /// (half a second of the server's CPU a node after a cold cycle of 10,000 feeds).
    fn refresh_statistics(&self) -> Result<(), StoreError> {
        self.run(async {
            let client = self.client().await?;
            let grown = client
                .query(
                    "SELECT t FROM unnest($1::text[]) AS t JOIN pg_class c ON c.oid = to_regclass(t)
                     WHERE c.reltuples < 0
                        OR pg_relation_size(c.oid) * 10
                           > c.relpages::bigint * current_setting('block_size')::bigint * 11",
                    &[&GROWING_TABLES.as_slice()],
                )
                .await?;
            let mut analyze = Vec::new();
            for row in grown {
                let table: String = row.try_get(0)?;
                let rows: i64 = client
                    .query_one(
                        &format!(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT {ANALYZED_FROM}) t"
                        ),
                        &[],
                    )
                    .await?
                    .try_get(0)?;
                if rows >= ANALYZED_FROM {
                    analyze.push(table);
                }
            }
            if !analyze.is_empty() {
                client
                    .batch_execute(&format!("ANALYZE {}", analyze.join(", ")))
                    .await?;
            }
            Ok(())
        })
    }
}

/// The tables polls fill.
const GROWING_TABLES: [&str; 7] = [
    "sources",
    "node_sources",
    "items",
    "stories",
    "alerts",
    "alert_watches",
    "polls",
];

/// The rows from which a table's statistics are taken: enough pages that its index wins.
const ANALYZED_FROM: i64 = 1000;
