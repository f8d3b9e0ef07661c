//! The outbox on PostgreSQL. One node at a time sends a notifier's messages, holding the
//! notifier's lease; after that node dies, the next holder sends what it left pending, with
//! the same alert ids (webhook `Idempotency-Key`, email `Message-ID`).

use tokio_postgres::Row;

use super::{PostgresStore, query_planned_once};
use crate::store::{DeliveryState, Outbox, OutboxRow, Pause, StoreError};

fn pause_row(r: &Row) -> Result<Pause, StoreError> {
    Ok(Pause {
        notifier: r.try_get(0)?,
        reason: r.try_get(1)?,
        since: r.try_get(2)?,
    })
}

/// Marks the alerts of a delivered message, named by `seq = ANY($1)`.
const MARK_DELIVERED: &str = "UPDATE alerts SET state = 'delivered', attempts = attempts + 1,
    delivered_at = $2, batch = $3, last_error = NULL WHERE seq = ANY($1)";

/// [`MARK_DELIVERED`] for a message of one alert, named by `seq = $1`.
const MARK_ONE_DELIVERED: &str = "UPDATE alerts SET state = 'delivered', attempts = attempts + 1,
    delivered_at = $2, batch = $3, last_error = NULL WHERE seq = $1";

impl Outbox for PostgresStore {
    fn pause_notifier(&self, notifier: &str, reason: &str, now: i64) -> Result<(), StoreError> {
        self.run(async {
            self.client()
                .await?
                .execute(
                    "INSERT INTO notifier_pauses (notifier, reason, since) VALUES ($1, $2, $3)
                     ON CONFLICT (notifier) DO UPDATE SET reason = excluded.reason",
                    &[&notifier, &reason, &now],
                )
                .await?;
            Ok(())
        })
    }

    fn paused_notifiers(&self) -> Result<Vec<Pause>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT notifier, reason, since FROM notifier_pauses ORDER BY since",
                    &[],
                )
                .await?;
            rows.iter().map(pause_row).collect()
        })
    }

    fn resume_notifiers(&self) -> Result<Vec<Pause>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "DELETE FROM notifier_pauses RETURNING notifier, reason, since",
                    &[],
                )
                .await?;
            rows.iter().map(pause_row).collect()
        })
    }

    fn lease_notifier(&self, notifier: &str, now: i64, lease_ms: i64) -> Result<bool, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let take = client
                .prepare_cached(
                    "INSERT INTO notifier_leases (notifier, node, lease_until) VALUES ($1, $2, $3)
                     ON CONFLICT (notifier) DO UPDATE SET node = excluded.node,
                        lease_until = excluded.lease_until
                     WHERE notifier_leases.node = excluded.node OR notifier_leases.lease_until < $4
                     RETURNING node",
                )
                .await?;
            let row = client
                .query_opt(
                    &take,
                    &[&notifier, &self.node, &now.saturating_add(lease_ms), &now],
                )
                .await?;
            Ok(row.is_some())
        })
    }

    fn release_notifiers(&self) -> Result<(), StoreError> {
        self.run(async {
            self.client()
                .await?
                .execute("DELETE FROM notifier_leases WHERE node = $1", &[&self.node])
                .await?;
            Ok(())
        })
    }

    fn due_alerts(
        &self,
        notifier: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT seq, payload, notifier, attempts, created_at FROM alerts
                     WHERE notifier = $1 AND state = 'pending' AND next_attempt_at <= $2
                     ORDER BY seq LIMIT $3",
                )
                .await?;
            // Planned once, as the claim is (see `claim_due`): a plan made for the values
            // took the due rows for spread evenly among the delivered ones kept before
            // them, and read those by the key, all of them, to find the first due one.
            let limit = limit.min(i64::MAX as usize) as i64;
            let rows = query_planned_once(&client, &stmt, &[&notifier, &now, &limit]).await?;
            rows.iter()
                .map(|r| {
                    Ok(OutboxRow {
                        seq: r.try_get(0)?,
                        alert: crate::store::decode_alert(r.try_get(1)?)?,
                        notifier: r.try_get(2)?,
                        attempts: r.try_get::<_, i32>(3)? as u32,
                        created_at: r.try_get(4)?,
                    })
                })
                .collect()
        })
    }

    fn next_attempt_at(&self, notifier: &str) -> Result<Option<i64>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let next = client
                .prepare_cached(
                    "SELECT MIN(next_attempt_at) FROM alerts WHERE notifier = $1 AND state = 'pending'",
                )
                .await?;
            let row = client.query_one(&next, &[&notifier]).await?;
            Ok(row.try_get(0)?)
        })
    }

    fn mark_delivered(&self, seqs: &[i64], batch: &str, now: i64) -> Result<(), StoreError> {
        self.run(async {
            let client = self.client().await?;
            // Prepared once per connection: sent as text, each delivery cost a round trip
            // more to prepare it. A message of one alert (the usual one) names it by
            // `seq = $1`, whose plan is the key's index scan whatever the table holds, so
            // the server plans it once per connection rather than per delivery (34 µs of
            // its CPU, two fifths of running it). Several are named by `ANY($1)`, planned
            // for each call's values: planned once, while the table was still small, that
            // plan scanned the table and cost each delivery of a cold cycle 1.75 ms.
            match seqs {
                [seq] => {
                    let mark = client.prepare_cached(MARK_ONE_DELIVERED).await?;
                    client.execute(&mark, &[seq, &now, &batch]).await?;
                }
                _ => {
                    let mark = client.prepare_cached(MARK_DELIVERED).await?;
                    client.execute(&mark, &[&seqs, &now, &batch]).await?;
                }
            }
            Ok(())
        })
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
        self.run(async {
            let client = self.client().await?;
            let mark = client
                .prepare_cached(
                    "UPDATE alerts SET state = $2, attempts = attempts + 1, last_error = $3,
                        next_attempt_at = COALESCE($4, next_attempt_at) WHERE seq = ANY($1)",
                )
                .await?;
            client
                .execute(&mark, &[&seqs, &state.as_str(), &error, &next_at])
                .await?;
            Ok(())
        })
    }

    fn messages_since(&self, notifier: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        self.run(async {
            let rows = self
                .client()
                .await?
                .query(
                    "SELECT MIN(delivered_at) FROM alerts WHERE notifier = $1 AND delivered_at >= $2
                     GROUP BY batch ORDER BY 1",
                    &[&notifier, &since],
                )
                .await?;
            rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
        })
    }

    fn retry_failed(&self, id: Option<&str>, now: i64) -> Result<usize, StoreError> {
        self.run(async {
            let n = self
                .client()
                .await?
                .execute(
                    "UPDATE alerts SET state = 'pending', attempts = 0, next_attempt_at = $1
                     WHERE state IN ('failed', 'dead') AND ($2::text IS NULL OR id = $2)",
                    &[&now, &id],
                )
                .await?;
            Ok(n as usize)
        })
    }
}
