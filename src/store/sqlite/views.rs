//! What the status page reads: counts for the overview, a page of sources with their
//! recent polls, a page of deliveries, and alerts per watch and day. Each query reads a
//! bounded page through an index, so a store of 10,000 sources and 100,000 alerts answers
//! as fast as a small one.

use std::collections::HashMap;

use rusqlite::params;

use super::SqliteStore;
use crate::model::PollStatus;
use crate::store::{
    AlertStatus, DeliveryRow, DeliveryState, Overview, POLL_HISTORY, PollMark, SourceFilter,
    SourceHealth, StoreError, Views,
};

impl Views for SqliteStore {
    /// Counts for the overview.
    fn overview(&self, now: i64) -> Result<Overview, StoreError> {
        let conn = self.lock();
        let mut o = Overview::default();
        (
            o.sources,
            o.up,
            o.failing,
            o.down,
            o.never_polled,
            o.last_poll_at,
        ) = conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(last_poll_at IS NOT NULL AND consecutive_failures = 0), 0),
                    COALESCE(SUM(consecutive_failures > 0), 0), COALESCE(SUM(down_alerted), 0),
                    COALESCE(SUM(last_poll_at IS NULL), 0), MAX(last_poll_at)
             FROM sources WHERE active = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM alerts GROUP BY state")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let n: i64 = r.get(1)?;
            match r.get::<_, DeliveryState>(0)? {
                DeliveryState::Pending => o.pending = n,
                DeliveryState::Failed => o.failed = n,
                DeliveryState::Dead => o.dead = n,
                DeliveryState::Delivered => {}
            }
        }
        let mut stmt = conn.prepare_cached(
            "SELECT CASE status WHEN 'error' THEN 2 WHEN 'not modified' THEN 1 ELSE 0 END, COUNT(*)
             FROM polls WHERE at >= ?1 GROUP BY 1",
        )?;
        let mut rows = stmt.query([now - 3_600_000])?;
        while let Some(r) = rows.next()? {
            let kind: i64 = r.get(0)?;
            o.polls_last_hour[kind.clamp(0, 2) as usize] = r.get(1)?;
        }
        Ok(o)
    }

    /// Articles that alerted each watch per day (UTC days since the epoch) since `since`,
    /// counting copies of a story once.
    fn alerts_per_day(&self, since: i64) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT watch, created_at / 86400000, COUNT(DISTINCT COALESCE(story_id, -item_id))
             FROM alert_watches WHERE created_at >= ?1 GROUP BY 1, 2 ORDER BY 1, 2",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Articles that alerted each watch since `since` (copies of a story once), most first.
    fn alerts_per_watch(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT watch, COUNT(DISTINCT COALESCE(story_id, -item_id)) FROM alert_watches
             WHERE created_at >= ?1 GROUP BY 1 ORDER BY 2 DESC, 1",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One page of sources (`offset`, `limit`) and how many there are in all.
    fn source_page(
        &self,
        filter: SourceFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(i64, Vec<SourceHealth>), StoreError> {
        let conn = self.lock();
        let (condition, order) = match filter {
            SourceFilter::All => ("1", "s.active DESC, s.name"),
            SourceFilter::Failing => (
                "s.active = 1 AND s.consecutive_failures > 0",
                "s.failing_since, s.name",
            ),
        };
        let total = conn.query_row(
            &format!("SELECT COUNT(*) FROM sources s WHERE {condition}"),
            [],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare_cached(&format!(
            "{} WHERE {condition} ORDER BY {order} LIMIT ?1 OFFSET ?2",
            super::sources::HEALTH_SELECT
        ))?;
        let rows = stmt.query_map(
            params![limit as i64, offset as i64],
            super::sources::health_row,
        )?;
        Ok((total, rows.collect::<Result<_, _>>()?))
    }

    fn poll_strips(&self, sources: &[i64]) -> Result<HashMap<i64, Vec<PollMark>>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT at, status, error FROM polls WHERE source_id = ?1 ORDER BY at DESC LIMIT ?2",
        )?;
        let mut out = HashMap::new();
        for &id in sources {
            let rows = stmt.query_map(params![id, POLL_HISTORY], |r| {
                let status: String = r.get(1)?;
                let error: Option<String> = r.get(2)?;
                let result = match PollStatus::parse(&status) {
                    Some(PollStatus::Ok(_)) => "ok",
                    Some(PollStatus::NotModified) => "not modified",
                    _ => "error",
                };
                Ok(PollMark {
                    at: r.get(0)?,
                    result,
                    detail: error.unwrap_or(status),
                })
            })?;
            let mut marks: Vec<PollMark> = rows.collect::<Result<_, _>>()?;
            marks.reverse();
            out.insert(id, marks);
        }
        Ok(out)
    }

    /// Up to `limit` deliveries created since `since`, newest first, older than row
    /// `before` when given (the next page), optionally of one watch (among the watches a
    /// row lists) or of some states (none given: all).
    fn delivery_page(
        &self,
        since: i64,
        watch: Option<&str>,
        states: &[DeliveryState],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let conn = self.lock();
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let states = states.join(",");
        let mut stmt = conn.prepare_cached(
            "SELECT seq, payload, notifier, state, attempts, created_at, delivered_at, last_error,
               COALESCE('s' || story_id, 'i' || item_id, 'a' || id),
               (SELECT GROUP_CONCAT(name, char(31)) FROM
                  (SELECT s.name FROM items i JOIN sources s ON s.id = i.source_id
                   WHERE i.story_id = alerts.story_id GROUP BY s.name ORDER BY MIN(i.id)))
             FROM alerts
             WHERE seq < ?1 AND created_at >= ?2
               AND (?3 IS NULL OR watch = ?3
                    OR EXISTS (SELECT 1 FROM alert_watches w WHERE w.seq = alerts.seq AND w.watch = ?3))
               AND (?4 = '' OR instr(',' || ?4 || ',', ',' || state || ',') > 0)
             ORDER BY seq DESC LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                before.unwrap_or(i64::MAX),
                since,
                watch,
                states,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, String>(8)?,
                    r.get::<_, Option<String>>(9)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (
                seq,
                payload,
                (notifier, state, attempts, created_at, delivered_at),
                last_error,
                group,
                sources,
            ) = row?;
            let alert = crate::store::decode_alert(&payload)?;
            let sources = match sources {
                Some(list) => list.split('\u{1f}').map(str::to_string).collect(),
                None => vec![alert.source.clone()],
            };
            out.push(DeliveryRow {
                seq,
                group,
                status: AlertStatus {
                    alert,
                    notifier,
                    state,
                    attempts,
                    created_at,
                    delivered_at,
                    last_error,
                    sources,
                },
            });
        }
        Ok(out)
    }
}
