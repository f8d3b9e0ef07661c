//! Items on PostgreSQL: classification in one round trip per kind of identity, and a poll's
//! items with their stories and alerts in one transaction. Stories are joined under one
//! advisory lock held to the commit, so two nodes storing copies of one article at once see
//! each other's story and the watch alerts once.

use std::ops::ControlFlow;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::PostgresStore;
use crate::dedupe::{SAME_STORY_BITS, SAME_STORY_CONTAINMENT, containment, distance};
use crate::store::outbox_rows;
use crate::store::story_index::{STORY_WINDOW_MS, StoryIndex};
use crate::store::{
    ChangedItem, Identity, InsertReport, Items, NewAlert, NewItem, PollRecord, Seen, StoreError,
    StoredArticle,
};

/// One of an item's identities, by the column it is stored in.
type IdentityPart = fn(&Identity) -> Option<&String>;

/// Finds stored items by each kind of identity at once: `$1` the source, then per kind (key,
/// guid, URL, title and date) the items' positions and values. Per position, the match of
/// the strongest kind that has one, the oldest row of those: what looking the kinds up one
/// after another, each for the items still unknown, would find, in one round trip.
const CLASSIFY: &str = "SELECT DISTINCT ON (n) n, id, raw_hash, pruned FROM (
        SELECT k.n, 0 AS kind, i.id, i.raw_hash, i.pruned
        FROM unnest($2::bigint[], $3::text[]) AS k(n, v)
        JOIN items i ON i.source_id = $1 AND i.key = k.v
        UNION ALL
        SELECT k.n, 1, i.id, i.raw_hash, i.pruned
        FROM unnest($4::bigint[], $5::text[]) AS k(n, v)
        JOIN items i ON i.source_id = $1 AND i.guid = k.v
        UNION ALL
        SELECT k.n, 2, i.id, i.raw_hash, i.pruned
        FROM unnest($6::bigint[], $7::text[]) AS k(n, v)
        JOIN items i ON i.source_id = $1 AND i.url = k.v
        UNION ALL
        SELECT k.n, 3, i.id, i.raw_hash, i.pruned
        FROM unnest($8::bigint[], $9::text[]) AS k(n, v)
        JOIN items i ON i.source_id = $1 AND i.title_date = k.v
    ) AS m ORDER BY n, kind, id";

/// The key of the advisory lock under which new items join stories.
const STORY_LOCK: i64 = 0x6665_6564_7761_7402;

impl Items for PostgresStore {
    fn classify(&self, source_id: i64, items: &[Identity]) -> Result<Vec<Seen>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            // Every kind of identity in one statement: per item, the row the strongest kind
            // finds (the key, then the guid, the URL, the title and date), the oldest such.
            let kinds: [IdentityPart; 4] = [
                |i| Some(&i.key),
                |i| i.guid.as_ref(),
                |i| i.url.as_ref(),
                |i| i.title_date.as_ref(),
            ];
            let columns: Vec<(Vec<i64>, Vec<&str>)> = kinds
                .iter()
                .map(|value| {
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(n, it)| value(it).map(|v| (n as i64, v.as_str())))
                        .unzip()
                })
                .collect();
            let stmt = client.prepare_cached(CLASSIFY).await?;
            let mut args: Vec<&(dyn ToSql + Sync)> = vec![&source_id];
            for (at, values) in &columns {
                args.push(at);
                args.push(values);
            }
            // Per item: its row, stored raw hash, and whether it is a tombstone.
            let mut found: Vec<Option<(i64, Option<String>, bool)>> = vec![None; items.len()];
            for r in client.query(&stmt, &args).await? {
                let n: i64 = r.try_get(0)?;
                found[n as usize] = Some((r.try_get(1)?, r.try_get(2)?, r.try_get(3)?));
            }
            // Only a changed item needs its stored text, to measure the edit.
            let changed: Vec<i64> = items
                .iter()
                .zip(&found)
                .filter_map(|(it, f)| match f {
                    Some((id, Some(h), false)) if *h != it.raw_hash => Some(*id),
                    _ => None,
                })
                .collect();
            let mut texts = std::collections::HashMap::new();
            if !changed.is_empty() {
                for r in client
                    .query("SELECT id, text FROM items WHERE id = ANY($1)", &[&changed])
                    .await?
                {
                    texts.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, String>(1)?);
                }
            }
            Ok(items
                .iter()
                .zip(found)
                .map(|(it, f)| match f {
                    None => Seen::New,
                    // A tombstone is known for good: pruned items never come back as new.
                    Some((_, _, true)) | Some((_, None, _)) => Seen::Unchanged,
                    Some((_, Some(h), _)) if h == it.raw_hash => Seen::Unchanged,
                    Some((item_id, Some(_), false)) => Seen::Changed {
                        item_id,
                        old_text: texts.remove(&item_id).unwrap_or_default(),
                    },
                })
                .collect())
        })
    }

    fn commit_poll(
        &self,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
    ) -> Result<InsertReport, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let report = self.write_poll(&tx, source_id, now, new, changed).await?;
            tx.commit().await?;
            Ok(report)
        })
    }

    fn commit_and_record(
        &self,
        source_id: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
        rec: &PollRecord,
    ) -> Result<InsertReport, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let report = self
                .write_poll(&tx, source_id, rec.at, new, changed)
                .await?;
            super::sources::write_records(&tx, &[(source_id, rec.clone())]).await?;
            tx.commit().await?;
            Ok(report)
        })
    }

    fn each_article(
        &self,
        since: i64,
        f: &mut dyn FnMut(StoredArticle) -> ControlFlow<()>,
    ) -> Result<(), StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            // A cursor in a read-only transaction: the articles arrive a page at a time.
            let tx = client.build_transaction().read_only(true).start().await?;
            tx.execute(
                "DECLARE articles NO SCROLL CURSOR FOR
                 SELECT s.name, i.title, i.url, i.published_at, i.fetched_at, i.text FROM items i
                 JOIN sources s ON s.id = i.source_id
                 WHERE NOT i.pruned AND i.fetched_at >= $1 AND i.text != ''
                 ORDER BY COALESCE(i.published_at, i.fetched_at) DESC, i.id DESC",
                &[&since],
            )
            .await?;
            loop {
                let rows = tx.query("FETCH 500 FROM articles", &[]).await?;
                if rows.is_empty() {
                    return Ok(());
                }
                for r in rows {
                    let article = StoredArticle {
                        source: r.try_get(0)?,
                        title: r.try_get(1)?,
                        url: r.try_get(2)?,
                        published_at: r.try_get(3)?,
                        fetched_at: r.try_get(4)?,
                        text: r.try_get(5)?,
                    };
                    if f(article).is_break() {
                        return Ok(());
                    }
                }
            }
        })
    }

    fn latest_text(&self, source_id: i64) -> Result<Option<String>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let row = client
                .query_opt(
                    "SELECT text FROM items WHERE source_id = $1 AND NOT pruned ORDER BY id DESC LIMIT 1",
                    &[&source_id],
                )
                .await?;
            Ok(row.map(|r| r.try_get(0)).transpose()?)
        })
    }
}

impl PostgresStore {
    async fn write_poll(
        &self,
        tx: &Transaction<'_>,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
    ) -> Result<InsertReport, StoreError> {
        let mut report = InsertReport::default();
        if new.iter().any(|i| i.fingerprint.is_some()) {
            let lock = tx
                .prepare_cached("SELECT pg_advisory_xact_lock($1)")
                .await?;
            tx.execute(&lock, &[&STORY_LOCK]).await?;
            self.refresh_stories(tx, now).await?;
        }
        self.insert_new(tx, source_id, now, new, &mut report)
            .await?;
        for item in changed {
            match &item.material {
                Some((text, fingerprint)) => {
                    let row = tx
                        .query_one(
                            "UPDATE items SET raw_hash = $2, text = $3, fingerprint = $4, version = version + 1
                             WHERE id = $1 RETURNING story_id",
                            &[&item.item_id, &item.raw_hash, text, &fingerprint.map(|f| f as i64)],
                        )
                        .await?;
                    report.updated += 1;
                    let story_id: Option<i64> = row.try_get(0)?;
                    insert_alerts(tx, item.item_id, story_id, &item.alerts, now, &mut report)
                        .await?;
                }
                None => {
                    tx.execute(
                        "UPDATE items SET raw_hash = $2 WHERE id = $1",
                        &[&item.item_id, &item.raw_hash],
                    )
                    .await?;
                }
            }
        }
        Ok(report)
    }

    /// New items in a few statements, whatever their number: each finds its story (an
    /// existing one it nearly repeats, one an earlier item of the batch starts, or a new one),
    /// the new stories are made in one statement, the items stored in one (those already
    /// stored are left out), then each stored item's alerts.
    async fn insert_new(
        &self,
        tx: &Transaction<'_>,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        report: &mut InsertReport,
    ) -> Result<(), StoreError> {
        if new.is_empty() {
            return Ok(());
        }
        // Per item: its story, as an existing id or the batch's n-th new story.
        let mut places: Vec<Option<Place>> = Vec::with_capacity(new.len());
        // The batch's new stories: (fingerprint, the item that starts it).
        let mut made: Vec<(u64, usize)> = Vec::new();
        for (i, item) in new.iter().enumerate() {
            let Some(fp) = item.fingerprint else {
                places.push(None);
                continue;
            };
            let place = match self.existing_story(tx, fp, &item.text, now).await? {
                Some(id) => Place::Existing(id),
                None => match made.iter().position(|&(f, first)| {
                    distance(f, fp) <= SAME_STORY_BITS
                        && containment(&new[first].text, &item.text) >= SAME_STORY_CONTAINMENT
                }) {
                    Some(n) => Place::Made(n),
                    None => {
                        made.push((fp, i));
                        Place::Made(made.len() - 1)
                    }
                },
            };
            places.push(Some(place));
        }
        let made_ids = make_stories(tx, &made, now).await?;
        let story_of = |p: &Option<Place>| match p {
            Some(Place::Existing(id)) => Some(*id),
            Some(Place::Made(n)) => Some(made_ids[*n]),
            None => None,
        };
        let story_ids: Vec<Option<i64>> = places.iter().map(story_of).collect();
        let stored = store_items(tx, source_id, now, new, &story_ids).await?;
        // Stories whose every item was stored before go again; the rest are seen now.
        let kept: Vec<bool> = (0..made.len())
            .map(|n| {
                places
                    .iter()
                    .zip(&stored)
                    .any(|(p, s)| s.is_some() && matches!(p, Some(Place::Made(m)) if *m == n))
            })
            .collect();
        let dropped: Vec<i64> = made_ids
            .iter()
            .zip(&kept)
            .filter(|(_, k)| !**k)
            .map(|(id, _)| *id)
            .collect();
        let mut seen: Vec<i64> = places
            .iter()
            .zip(&stored)
            .filter_map(|(p, s)| match (p, s) {
                (Some(Place::Existing(id)), Some(_)) => Some(*id),
                _ => None,
            })
            .collect();
        seen.sort_unstable();
        seen.dedup();
        if !dropped.is_empty() {
            tx.execute("DELETE FROM stories WHERE id = ANY($1)", &[&dropped])
                .await?;
        }
        if !seen.is_empty() {
            let touch = tx
                .prepare_cached("UPDATE stories SET last_seen = $2 WHERE id = ANY($1)")
                .await?;
            tx.execute(&touch, &[&seen, &now]).await?;
        }
        if let Some((index, max)) = self.lock_stories().as_mut() {
            for ((fp, _), (&id, &keep)) in made.iter().zip(made_ids.iter().zip(&kept)) {
                if keep {
                    index.push(id, *fp, now);
                    *max = (*max).max(id);
                }
            }
            for &id in &seen {
                index.touch(id, now);
            }
        }
        for ((item, story_id), item_id) in new.iter().zip(story_ids).zip(stored) {
            let Some(item_id) = item_id else { continue };
            report.items += 1;
            insert_alerts(tx, item_id, story_id, &item.alerts, now, report).await?;
        }
        Ok(())
    }

    /// Reads the stories other nodes (or this one, before a restart) made since the index
    /// was last read: all recent ones the first time and once a day, else those with a
    /// higher id. Called under the story lock, so ids arrive in commit order.
    async fn refresh_stories(&self, tx: &Transaction<'_>, now: i64) -> Result<(), StoreError> {
        let since = now - STORY_WINDOW_MS;
        let (mut index, max) = match self.lock_stories().take() {
            Some((index, max)) if !index.is_stale(now) => (index, max),
            _ => (StoryIndex::new(now), 0),
        };
        // Stories are only made under the story lock, so the highest id says whether any
        // came since (a backward step in the key's index, whatever the table's statistics),
        // and the new ones are read by the key up to it, a page at a time: bounded on both
        // sides, the range is planned by the key's index even by a plan made when the table
        // was small (a bound on one side only was planned as a read of the whole table).
        let highest = tx.prepare_cached("SELECT MAX(id) FROM stories").await?;
        let top: Option<i64> = tx.query_one(&highest, &[]).await?.try_get(0)?;
        let newer = tx
            .prepare_cached(
                "SELECT id, fingerprint, last_seen FROM stories WHERE id > $1 AND id <= $2
                 ORDER BY id LIMIT 5000",
            )
            .await?;
        let mut max = max;
        let top = top.unwrap_or(0);
        while max < top {
            let rows = tx.query(&newer, &[&max, &top]).await?;
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let id: i64 = r.try_get(0)?;
                max = max.max(id);
                let (fp, last_seen): (Option<i64>, i64) = (r.try_get(1)?, r.try_get(2)?);
                if let Some(fp) = fp.filter(|_| last_seen >= since) {
                    index.push(id, fp as u64, last_seen);
                }
            }
        }
        *self.lock_stories() = Some((index, max));
        Ok(())
    }

    pub(super) fn lock_stories(&self) -> std::sync::MutexGuard<'_, Option<(StoryIndex, i64)>> {
        self.stories.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The existing story a new item joins: one whose first copy it nearly repeats.
    async fn existing_story(
        &self,
        tx: &Transaction<'_>,
        fp: u64,
        text: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let near: Vec<i64> = {
            let guard = self.lock_stories();
            let Some((index, _)) = guard.as_ref() else {
                return Err(StoreError::Task("the story index was not read".into()));
            };
            index
                .near(fp, now - STORY_WINDOW_MS)
                .into_iter()
                .map(|(_, i)| index.entries[i].id)
                .collect()
        };
        if near.is_empty() {
            return Ok(None);
        }
        // The story's items through their index, the first picked here: ordering by id in
        // the query would walk the whole table by its primary key.
        let texts = tx
            .prepare_cached("SELECT id, text FROM items WHERE story_id = $1 AND NOT pruned")
            .await?;
        for story in near {
            let mut first: Option<(i64, String)> = None;
            for r in tx.query(&texts, &[&story]).await? {
                let (id, text): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
                if first.as_ref().is_none_or(|(f, _)| id < *f) {
                    first = Some((id, text));
                }
            }
            let first = first.map(|(_, t)| t);
            if first.is_some_and(|t| containment(&t, text) >= SAME_STORY_CONTAINMENT) {
                return Ok(Some(story));
            }
        }
        Ok(None)
    }
}

/// Where a new item's story is.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// A story stored before.
    Existing(i64),
    /// The batch's n-th new story.
    Made(usize),
}

/// Makes the batch's new stories in one statement; their ids, in order. Story ids come from
/// one sequence, under the story lock, so they ascend in the order the rows are inserted.
async fn make_stories(
    tx: &Transaction<'_>,
    made: &[(u64, usize)],
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    if made.is_empty() {
        return Ok(Vec::new());
    }
    let fps: Vec<i64> = made.iter().map(|&(fp, _)| fp as i64).collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO stories (fingerprint, first_seen, last_seen)
             SELECT f, $2, $2 FROM unnest($1::bigint[]) WITH ORDINALITY AS t(f, n) ORDER BY n
             RETURNING id",
        )
        .await?;
    let mut ids: Vec<i64> = tx
        .query(&insert, &[&fps, &now])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}

/// Stores the new items in one statement; per item, its row, or `None` when it was stored
/// before (by another node a moment ago, say).
async fn store_items(
    tx: &Transaction<'_>,
    source_id: i64,
    now: i64,
    new: &[NewItem],
    stories: &[Option<i64>],
) -> Result<Vec<Option<i64>>, StoreError> {
    let col = |f: fn(&NewItem) -> Option<&str>| new.iter().map(f).collect::<Vec<_>>();
    let keys = col(|i| Some(i.id.key.as_str()));
    let guids = col(|i| i.id.guid.as_deref());
    let urls = col(|i| i.id.url.as_deref());
    let title_dates = col(|i| i.id.title_date.as_deref());
    let hashes = col(|i| Some(i.id.raw_hash.as_str()));
    let titles = col(|i| Some(i.title.as_str()));
    let texts = col(|i| Some(i.text.as_str()));
    let published: Vec<Option<i64>> = new.iter().map(|i| i.published_at).collect();
    let fps: Vec<Option<i64>> = new
        .iter()
        .map(|i| i.fingerprint.map(|f| f as i64))
        .collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO items (source_id, fetched_at, key, guid, url, title_date, raw_hash, title,
                                published_at, text, fingerprint, story_id)
             SELECT $1, $2, k, g, u, td, h, t, p, x, f, st
             FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::bigint[], $10::text[], $11::bigint[], $12::bigint[])
                  AS r(k, g, u, td, h, t, p, x, f, st)
             ON CONFLICT DO NOTHING RETURNING id, key",
        )
        .await?;
    let rows = tx
        .query(
            &insert,
            &[
                &source_id,
                &now,
                &keys,
                &guids,
                &urls,
                &title_dates,
                &hashes,
                &titles,
                &published,
                &texts,
                &fps,
                &stories,
            ],
        )
        .await?;
    let mut ids = std::collections::HashMap::with_capacity(rows.len());
    for r in rows {
        ids.insert(r.try_get::<_, String>(1)?, r.try_get::<_, i64>(0)?);
    }
    // A key twice in one batch is stored once, for its first item.
    Ok(new.iter().map(|i| ids.remove(i.id.key.as_str())).collect())
}

/// Inserts the outbox rows of one item: of its alerts (one per watch and notifier), those of
/// watches that have not yet alerted for the item's story (or the item itself), merged into
/// one row per notifier that lists every such watch.
async fn insert_alerts(
    tx: &Transaction<'_>,
    item_id: i64,
    story_id: Option<i64>,
    alerts: &[NewAlert],
    now: i64,
    report: &mut InsertReport,
) -> Result<(), StoreError> {
    if alerts.is_empty() {
        return Ok(());
    }
    let check = tx
        .prepare_cached(
            "SELECT DISTINCT watch FROM alert_watches WHERE watch = ANY($1)
                AND (item_id = $2 OR ($3::bigint IS NOT NULL AND story_id = $3))",
        )
        .await?;
    let watches = outbox_rows::watches(alerts);
    let alerted: Vec<String> = tx
        .query(&check, &[&watches, &item_id, &story_id])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let alerted: Vec<&str> = alerted.iter().map(String::as_str).collect();
    let (rows, repeats) = outbox_rows::plan(alerts, &alerted);
    report.repeats += repeats;
    for (notifier, alert) in rows {
        let payload = serde_json::to_string(&alert)?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO alerts (id, notifier, item_id, story_id, watch, payload, created_at, next_attempt_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING RETURNING seq",
            )
            .await?;
        let row = tx
            .query_opt(
                &insert,
                &[
                    &alert.id,
                    &notifier,
                    &item_id,
                    &story_id,
                    &alert.watch,
                    &payload,
                    &now,
                ],
            )
            .await?;
        let Some(row) = row else { continue };
        report.alerts += 1;
        let seq: i64 = row.try_get(0)?;
        let watches: Vec<&str> = alert.watch_names();
        let listed = tx
            .prepare_cached(
                "INSERT INTO alert_watches (seq, watch, item_id, story_id, created_at)
                 SELECT $1, unnest($2::text[]), $3, $4, $5",
            )
            .await?;
        tx.execute(&listed, &[&seq, &watches, &item_id, &story_id, &now])
            .await?;
    }
    Ok(())
}
