//! Items: which of a poll's items are new or changed, and committing them with their alerts
//! in one transaction, so a crash can neither lose an alert nor invent one. A watch alerts
//! once per story: copies of an article from other sources join its story and stay quiet.

use rusqlite::{OptionalExtension, Transaction, params};

use super::SqliteStore;
use crate::store::group::together_else_alone;
use crate::store::outbox_rows;
use crate::store::{
    ChangedItem, Identity, InsertReport, Items, NewAlert, NewItem, PollCommit, PollRecord, Seen,
    StoreError, StoredArticle,
};

impl Items for SqliteStore {
    fn classify(&self, source_id: i64, items: &[Identity]) -> Result<Vec<Seen>, StoreError> {
        let guard = self.lock();
        // One read transaction for all the lookups: one lock instead of one per statement.
        let conn = guard.unchecked_transaction()?;
        // One indexed lookup per identity, strongest first; most known items stop at the key.
        // A GUID is found by the key, which is `guid:` and the GUID whenever there is one.
        let lookups = [
            "SELECT id, raw_hash, pruned FROM items WHERE source_id = ?1 AND key = ?2",
            "SELECT id, raw_hash, pruned FROM items WHERE source_id = ?1 AND url = ?2 LIMIT 1",
            "SELECT id, raw_hash, pruned FROM items WHERE source_id = ?1 AND title_date = ?2 LIMIT 1",
        ];
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            let values = [Some(&it.key), it.url.as_ref(), it.title_date.as_ref()];
            let mut found = None;
            for (sql, value) in lookups.iter().zip(values) {
                let Some(value) = value else { continue };
                found = conn
                    .prepare_cached(sql)?
                    .query_row(params![source_id, value], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, bool>(2)?,
                        ))
                    })
                    .optional()?;
                if found.is_some() {
                    break;
                }
            }
            out.push(match found {
                None => Seen::New,
                // A tombstone is known for good: pruned items never come back as new.
                Some((_, _, true)) | Some((_, None, _)) => Seen::Unchanged,
                Some((_, Some(h), _)) if h == it.raw_hash => Seen::Unchanged,
                // Only a changed item needs its stored text, to measure the edit.
                Some((item_id, Some(_), false)) => {
                    let old_text = conn
                        .prepare_cached("SELECT text FROM items WHERE id = ?1")?
                        .query_row([item_id], |r| r.get(0))?;
                    Seen::Changed { item_id, old_text }
                }
            });
        }
        conn.commit()?;
        Ok(out)
    }

    fn commit_poll(
        &self,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
    ) -> Result<InsertReport, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let report = self.write_poll(&tx, source_id, now, new, changed)?;
        tx.commit()?;
        Ok(report)
    }

    fn commit_and_record(
        &self,
        source_id: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
        rec: &PollRecord,
    ) -> Result<InsertReport, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let report = self.write_and_record(&tx, source_id, new, changed, rec)?;
        tx.commit()?;
        Ok(report)
    }

    /// The polls in one transaction, which writes the pages they share (the indexes' and
    /// the sources' own) once, not once per poll; if it fails, each poll commits alone, so a
    /// poll the store refuses fails alone.
    fn commit_polls(&self, polls: &[PollCommit]) -> Vec<Result<InsertReport, StoreError>> {
        together_else_alone(
            polls,
            |all| self.commit_together(all),
            |p| self.commit_and_record(p.source_id, &p.new, &p.changed, &p.record),
        )
    }

    fn each_article(
        &self,
        since: i64,
        f: &mut dyn FnMut(StoredArticle) -> std::ops::ControlFlow<()>,
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT s.name, i.title, i.url, i.published_at, i.fetched_at, i.text FROM items i
             JOIN sources s ON s.id = i.source_id
             WHERE i.pruned = 0 AND i.fetched_at >= ?1 AND i.text != ''
             ORDER BY COALESCE(i.published_at, i.fetched_at) DESC, i.id DESC",
        )?;
        let mut rows = stmt.query([since])?;
        while let Some(r) = rows.next()? {
            let article = StoredArticle {
                source: r.get(0)?,
                title: r.get(1)?,
                url: r.get(2)?,
                published_at: r.get(3)?,
                fetched_at: r.get(4)?,
                text: r.get(5)?,
            };
            if f(article).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn latest_text(&self, source_id: i64) -> Result<Option<String>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT text FROM items WHERE source_id = ?1 AND pruned = 0 ORDER BY id DESC LIMIT 1",
                [source_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}

impl SqliteStore {
    /// Polls in one transaction, each as [`Items::commit_and_record`] writes it.
    fn commit_together(&self, polls: &[PollCommit]) -> Result<Vec<InsertReport>, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let reports = polls
            .iter()
            .map(|p| self.write_and_record(&tx, p.source_id, &p.new, &p.changed, &p.record))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok(reports)
    }

    /// A poll's items and alerts, and its outcome on the source's row, in `tx`.
    fn write_and_record(
        &self,
        tx: &Transaction<'_>,
        source_id: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
        rec: &PollRecord,
    ) -> Result<InsertReport, StoreError> {
        let report = self.write_poll(tx, source_id, rec.at, new, changed)?;
        self.write_record(tx, source_id, rec)?;
        Ok(report)
    }

    fn write_poll(
        &self,
        tx: &rusqlite::Transaction<'_>,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
    ) -> Result<InsertReport, StoreError> {
        let mut report = InsertReport::default();
        for item in new {
            let insert = |story_id: Option<i64>| {
                let inserted = tx.prepare_cached(
                    "INSERT INTO items (source_id, key, guid, url, title_date, raw_hash, title, published_at, text, fingerprint, fetched_at, story_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    source_id, item.id.key, item.id.guid, item.id.url, item.id.title_date, item.id.raw_hash,
                    item.title, item.published_at, item.text, item.fingerprint.map(|f| f as i64), now, story_id
                ])?;
                Ok((inserted > 0).then(|| tx.last_insert_rowid()))
            };
            let Some((item_id, story_id)) =
                self.insert_in_story(tx, item.fingerprint, &item.text, now, insert)?
            else {
                continue;
            };
            report.items += 1;
            insert_alerts(tx, item_id, story_id, &item.alerts, now, &mut report)?;
        }
        for item in changed {
            match &item.material {
                Some((text, fingerprint)) => {
                    tx.prepare_cached(
                        "UPDATE items SET raw_hash = ?2, text = ?3, fingerprint = ?4, version = version + 1 WHERE id = ?1",
                    )?
                    .execute(params![item.item_id, item.raw_hash, text, fingerprint.map(|f| f as i64)])?;
                    report.updated += 1;
                    let story_id: Option<i64> = tx.query_row(
                        "SELECT story_id FROM items WHERE id = ?1",
                        [item.item_id],
                        |r| r.get(0),
                    )?;
                    insert_alerts(tx, item.item_id, story_id, &item.alerts, now, &mut report)?;
                }
                None => {
                    tx.prepare_cached("UPDATE items SET raw_hash = ?2 WHERE id = ?1")?
                        .execute(params![item.item_id, item.raw_hash])?;
                }
            }
        }
        Ok(report)
    }
}

/// Inserts the outbox rows of one item: of its alerts (one per watch and notifier), those of
/// watches that have not yet alerted for the item's story (or the item itself), merged into
/// one row per notifier that lists every such watch.
fn insert_alerts(
    tx: &Transaction<'_>,
    item_id: i64,
    story_id: Option<i64>,
    alerts: &[NewAlert],
    now: i64,
    report: &mut InsertReport,
) -> Result<(), StoreError> {
    let mut alerted = Vec::new();
    for watch in outbox_rows::watches(alerts) {
        let seen: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM alert_watches WHERE watch = ?1 AND (item_id = ?2 OR (?3 IS NOT NULL AND story_id = ?3)))",
            )?
            .query_row(params![watch, item_id, story_id], |r| r.get(0))?;
        if seen {
            alerted.push(watch);
        }
    }
    let (rows, repeats) = outbox_rows::plan(alerts, &alerted);
    report.repeats += repeats;
    for (notifier, alert) in rows {
        let payload = serde_json::to_string(&alert)?;
        let inserted = tx
            .prepare_cached(
                "INSERT INTO alerts (id, notifier, item_id, story_id, watch, payload, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT DO NOTHING",
            )?
            .execute(params![alert.id, notifier, item_id, story_id, alert.watch, payload, now])?;
        if inserted == 0 {
            continue;
        }
        report.alerts += 1;
        let seq = tx.last_insert_rowid();
        for watch in alert.watch_names() {
            tx.prepare_cached(
                "INSERT INTO alert_watches (seq, watch, item_id, story_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![seq, watch, item_id, story_id, now])?;
        }
    }
    Ok(())
}
