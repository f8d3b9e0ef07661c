//! The alert outbox: one row per alert and notifier, delivered at least once, in order of
//! creation, with attempts, backoff and the last error kept for `feedwatch alerts`.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::model::Alert;
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

    /// Every paused notifier, longest paused first.
    fn paused_notifiers(&self) -> Result<Vec<Pause>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT notifier, reason, since FROM notifier_pauses ORDER BY since")?;
        let rows = stmt.query_map([], pause_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Resumes every paused notifier; returns those that were.
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

    /// Pending deliveries of one notifier that are due, oldest first.
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
                alert: decode(&payload)?,
                notifier,
                attempts,
                created_at,
            });
        }
        Ok(out)
    }

    /// When the next pending delivery of a notifier is due, if any.
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

    /// The rows of one message (a single alert or a digest) were accepted by the receiver.
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

    /// A failed attempt at a message: its rows stay pending until `next`, or end in a state.
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

    /// When each message this notifier delivered since `since` went out (rate limits).
    fn messages_since(&self, notifier: &str, since: i64) -> Result<Vec<i64>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT MIN(delivered_at) FROM alerts WHERE notifier = ?1 AND delivered_at >= ?2 GROUP BY batch ORDER BY 1",
        )?;
        let rows = stmt.query_map(params![notifier, since], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Puts failed and dead deliveries (all, or those of one alert id) back in the queue
    /// with a fresh count of attempts. Returns how many rows.
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

/// An outbox row's alert. One stored before alerts listed their watches names its one watch.
pub(super) fn decode(payload: &str) -> Result<Alert, StoreError> {
    let mut alert: Alert = serde_json::from_str(payload)?;
    if alert.watches.is_empty() {
        alert.watches.push(alert.watch.clone());
    }
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertKind;
    use crate::store::Store;
    use crate::store::{Identity, NewAlert, NewItem, Seen, SourceSpec};

    fn alert(id: &str) -> Alert {
        Alert {
            id: id.into(),
            kind: AlertKind::New,
            watch: "w".into(),
            watches: vec!["w".into()],
            source: "s".into(),
            title: "t".into(),
            url: None,
            published: None,
            matched: vec!["x".into()],
            snippet: "x".into(),
        }
    }

    /// A new store in `dir` with one source, and that source's row.
    fn store_with_source(dir: &std::path::Path) -> (Store, i64) {
        let store = Store::open(&dir.join("t.db")).unwrap();
        let spec = SourceSpec {
            name: "s".into(),
            kind: crate::model::SourceType::Feed,
            url: "http://e.org/f".into(),
            interval_ms: 1000,
        };
        store.sync_sources(&[spec], 0, 0).unwrap();
        let src = store.active_sources().unwrap()[0].id;
        (store, src)
    }

    #[test]
    fn outbox_lifecycle_and_dedupe() {
        let dir = tempfile::tempdir().unwrap();
        let (store, src) = store_with_source(dir.path());
        let item = |key: &str, id: &str| NewItem {
            id: Identity {
                key: key.into(),
                raw_hash: "h".into(),
                ..Default::default()
            },
            title: "t".into(),
            text: "x".into(),
            alerts: vec![NewAlert {
                alert: alert(id),
                notifier: "n".into(),
            }],
            ..Default::default()
        };
        let r = store
            .commit_poll(src, 10, &[item("k1", "a1"), item("k2", "a2")], &[])
            .unwrap();
        assert_eq!((r.items, r.alerts), (2, 2));
        // The same items again: nothing new, no alert.
        let r = store
            .commit_poll(src, 20, &[item("k1", "a1")], &[])
            .unwrap();
        assert_eq!(r.items + r.alerts, 0);
        let ids = [
            Identity {
                key: "k1".into(),
                raw_hash: "h".into(),
                ..Default::default()
            },
            Identity {
                key: "k3".into(),
                ..Default::default()
            },
        ];
        assert_eq!(
            store.classify(src, &ids).unwrap(),
            [Seen::Unchanged, Seen::New]
        );

        let due = store.due_alerts("n", 10, 10).unwrap();
        assert_eq!(
            due.iter().map(|r| r.alert.id.as_str()).collect::<Vec<_>>(),
            ["a1", "a2"]
        );
        store
            .mark_attempt_failed(&[due[0].seq], "HTTP 500", Ok(100))
            .unwrap();
        store.mark_delivered(&[due[1].seq], "a2", 30).unwrap();
        assert_eq!(store.messages_since("n", 0).unwrap(), [30]);
        assert!(store.due_alerts("n", 50, 10).unwrap().is_empty());
        assert_eq!(store.next_attempt_at("n").unwrap(), Some(100));
        assert_eq!(store.due_alerts("n", 100, 10).unwrap()[0].attempts, 1);

        let all = store.recent_alerts(0, Some("w")).unwrap();
        let states: Vec<_> = all.iter().map(|a| (a.alert.id.as_str(), a.state)).collect();
        assert_eq!(
            states,
            [
                ("a2", DeliveryState::Delivered),
                ("a1", DeliveryState::Pending)
            ]
        );
        assert_eq!(all[1].last_error.as_deref(), Some("HTTP 500"));
    }

    /// Several watches' alerts of one item go out as one row per notifier; a watch that
    /// already alerted for the item's story is left out of the row.
    #[test]
    fn one_row_per_notifier_and_once_per_story_per_watch() {
        let dir = tempfile::tempdir().unwrap();
        let (store, src) = store_with_source(dir.path());
        let text = "the same long story text, carried by two outlets word for word".repeat(4);
        let item = |key: &str, fp: Option<u64>, routes: &[(&str, &str)]| NewItem {
            id: Identity {
                key: key.into(),
                raw_hash: key.into(),
                ..Default::default()
            },
            title: "t".into(),
            text: text.clone(),
            fingerprint: fp,
            alerts: routes
                .iter()
                .map(|(watch, notifier)| NewAlert {
                    alert: Alert {
                        watch: watch.to_string(),
                        watches: vec![watch.to_string()],
                        matched: vec![format!("term-{watch}")],
                        ..alert(&format!("{key}-{watch}"))
                    },
                    notifier: notifier.to_string(),
                })
                .collect(),
            ..Default::default()
        };
        store
            .commit_poll(
                src,
                10,
                &[item("k1", Some(42), &[("w1", "n"), ("w1", "m")])],
                &[],
            )
            .unwrap();
        let r = store
            .commit_poll(
                src,
                20,
                &[item(
                    "k2",
                    Some(42),
                    &[("w1", "n"), ("w2", "n"), ("w2", "m")],
                )],
                &[],
            )
            .unwrap();
        assert_eq!(
            r.alerts, 2,
            "w2 once per notifier; w1 already alerted the story"
        );
        let r = store
            .commit_poll(
                src,
                30,
                &[item("k3", None, &[("w1", "n"), ("w2", "n")])],
                &[],
            )
            .unwrap();
        assert_eq!(r.alerts, 1);

        let rows = store.recent_alerts(0, None).unwrap();
        let seen: Vec<(String, &str, Vec<&str>)> = rows
            .iter()
            .map(|a| {
                (
                    a.alert.id.clone(),
                    a.notifier.as_str(),
                    a.alert.watch_names(),
                )
            })
            .collect();
        let merged = crate::dedupe::short_hash(&["k3-w1", "k3-w2"]);
        assert_eq!(
            seen,
            [
                (merged, "n", vec!["w1", "w2"]),
                ("k2-w2".into(), "m", vec!["w2"]),
                ("k2-w2".into(), "n", vec!["w2"]),
                ("k1-w1".into(), "m", vec!["w1"]),
                ("k1-w1".into(), "n", vec!["w1"]),
            ]
        );
        assert_eq!(rows[0].alert.matched, ["term-w1", "term-w2"]);
        // Listed under each of its watches.
        assert_eq!(store.recent_alerts(0, Some("w2")).unwrap().len(), 3);
        assert_eq!(store.recent_alerts(0, Some("w1")).unwrap().len(), 3);
    }
}
