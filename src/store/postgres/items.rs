//! Items on PostgreSQL: classification in one round trip, and a poll's items with their
//! stories and alerts in one transaction of a few round trips. Stories are joined under one
//! advisory lock held to the commit, so two nodes storing copies of one article at once see
//! each other's story and the watch alerts once.

use std::collections::HashMap;
use std::ops::ControlFlow;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::PostgresStore;
use crate::dedupe::{SAME_STORY_BITS, SAME_STORY_CONTAINMENT, containment, distance};
use crate::store::group::together_else_alone;
use crate::store::outbox_rows;
use crate::store::story_index::{STORY_WINDOW_MS, StoryIndex};
use crate::store::{
    ChangedItem, Identity, InsertReport, Items, NewAlert, NewItem, PollCommit, PollRecord, Seen,
    StoreError, StoredArticle,
};

/// One of an item's identities, by the column it is stored in.
type IdentityPart = fn(&Identity) -> Option<&String>;

/// The kinds of identity, strongest first: the column each is stored in, and its value. A
/// GUID is found by the key, which is `guid:` and the GUID whenever an item has one.
const KINDS: [(&str, IdentityPart); 3] = [
    ("key", |i| Some(&i.key)),
    ("url", |i| i.url.as_ref()),
    ("title_date", |i| i.title_date.as_ref()),
];

/// Finds stored items by every kind of identity at once: `$1` the source, then per kind the
/// items' positions and values. Per position, the match of the strongest kind that has one,
/// the oldest row of those: what looking the kinds up one after another, each for the items
/// still unknown, would find, in one round trip.
static CLASSIFY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let lookups: Vec<String> = KINDS
        .iter()
        .enumerate()
        .map(|(kind, (column, _))| {
            format!(
                "SELECT k.n, {kind} AS kind, i.id, i.raw_hash, i.pruned
                 FROM unnest(${}::bigint[], ${}::text[]) AS k(n, v)
                 JOIN items i ON i.source_id = $1 AND i.{column} = k.v",
                2 * kind + 2,
                2 * kind + 3
            )
        })
        .collect();
    format!(
        "SELECT DISTINCT ON (n) n, id, raw_hash, pruned FROM ({}) AS m ORDER BY n, kind, id",
        lookups.join(" UNION ALL ")
    )
});

/// The key of the advisory lock under which new items join stories (as `pg_locks` shows it
/// while a commit waits).
pub const STORY_LOCK: i64 = 0x6665_6564_7761_7402;

impl Items for PostgresStore {
    fn classify(&self, source_id: i64, items: &[Identity]) -> Result<Vec<Seen>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let columns: Vec<(Vec<i64>, Vec<&str>)> = KINDS
                .iter()
                .map(|(_, value)| {
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(n, it)| value(it).map(|v| (n as i64, v.as_str())))
                        .unzip()
                })
                .collect();
            let stmt = client.prepare_cached(&CLASSIFY).await?;
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
            let mut texts = HashMap::new();
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
        let poll = Writes {
            source_id,
            now,
            new,
            changed,
            record: None,
        };
        Ok(self.commit_writes(&[poll])?[0])
    }

    fn commit_and_record(
        &self,
        source_id: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
        rec: &PollRecord,
    ) -> Result<InsertReport, StoreError> {
        let poll = Writes {
            source_id,
            now: rec.at,
            new,
            changed,
            record: Some(rec),
        };
        Ok(self.commit_writes(&[poll])?[0])
    }

    /// One transaction for all the polls: one story lock, one commit, and the outbox rows
    /// and outcomes of all in one round trip. When it fails, each poll is committed alone,
    /// so the failure stays with the poll that caused it.
    fn commit_polls(&self, polls: &[PollCommit]) -> Vec<Result<InsertReport, StoreError>> {
        let writes: Vec<Writes<'_>> = polls
            .iter()
            .map(|p| Writes {
                source_id: p.source_id,
                now: p.record.at,
                new: &p.new,
                changed: &p.changed,
                record: Some(&p.record),
            })
            .collect();
        together_else_alone(
            &writes,
            |all| self.commit_writes(all),
            |w| Ok(self.commit_writes(std::slice::from_ref(w))?[0]),
        )
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

/// One poll's writes as a transaction takes them.
struct Writes<'a> {
    source_id: i64,
    now: i64,
    new: &'a [NewItem],
    changed: &'a [ChangedItem],
    /// The poll's outcome, when it is recorded with its items.
    record: Option<&'a PollRecord>,
}

impl PostgresStore {
    /// Commits polls in one transaction; per poll, what it stored.
    fn commit_writes(&self, polls: &[Writes<'_>]) -> Result<Vec<InsertReport>, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            let reports = self.write_polls(&tx, polls).await?;
            tx.commit().await?;
            Ok(reports)
        })
    }

    /// Writes polls' new and edited items, their stories and alerts, and their records when
    /// given. The records go in the last round trip, with the outbox rows: only after the
    /// story lock this may take. A commit that held a source's row while it waited for the
    /// lock would deadlock with the holder of the lock waiting for that row behind a
    /// statement that writes every source (a node starting up); sent alongside the lock, a
    /// record could run first whenever a statement of the lock was not yet prepared on the
    /// connection.
    async fn write_polls(
        &self,
        tx: &Transaction<'_>,
        polls: &[Writes<'_>],
    ) -> Result<Vec<InsertReport>, StoreError> {
        let mut reports = vec![InsertReport::default(); polls.len()];
        let stories = polls
            .iter()
            .filter(|p| p.new.iter().any(|i| i.fingerprint.is_some()))
            .map(|p| p.now)
            .max();
        if let Some(now) = stories {
            self.lock_and_refresh_stories(tx, now).await?;
        }
        let mut outbox = Outbox::default();
        let new: Vec<Fresh<'_>> = polls
            .iter()
            .enumerate()
            .flat_map(|(poll, p)| {
                p.new.iter().map(move |item| Fresh {
                    poll,
                    source_id: p.source_id,
                    now: p.now,
                    item,
                })
            })
            .collect();
        self.insert_new(tx, &new, &mut outbox, &mut reports).await?;
        let mut alerting = Vec::new();
        for (n, poll) in polls.iter().enumerate() {
            alerting.extend(write_changed(tx, n, poll, &mut reports[n]).await?);
        }
        outbox.plan(tx, &alerting, &mut reports).await?;
        let records: Vec<(i64, PollRecord)> = polls
            .iter()
            .filter_map(|p| p.record.map(|r| (p.source_id, r.clone())))
            .collect();
        let (inserted, ()) = futures_util::future::try_join(outbox.insert(tx), async {
            if records.is_empty() {
                return Ok(());
            }
            super::sources::write_records(tx, &records).await
        })
        .await?;
        for n in inserted {
            reports[n].alerts += 1;
        }
        Ok(reports)
    }

    /// New items of every poll in a few round trips, whatever their number: each finds its
    /// story (an existing one it nearly repeats, one an earlier item of the transaction
    /// starts, or a new one), one statement makes the new stories and stores the items
    /// (those already stored are left out), then the stored items' alerts are planned.
    async fn insert_new<'a>(
        &self,
        tx: &Transaction<'_>,
        new: &[Fresh<'a>],
        outbox: &mut Outbox<'a>,
        reports: &mut [InsertReport],
    ) -> Result<(), StoreError> {
        let Some(now) = new.iter().map(|f| f.now).max() else {
            return Ok(());
        };
        let placement = self.place(tx, new).await?;
        let (made_ids, stored) = store_new(tx, now, new, &placement).await?;
        // Stories whose every item was stored before go again; the rest join the index.
        let kept = placement.kept(&stored);
        let dropped: Vec<i64> = made_ids
            .iter()
            .zip(&kept)
            .filter(|(_, k)| !**k)
            .map(|(id, _)| *id)
            .collect();
        if !dropped.is_empty() {
            tx.execute("DELETE FROM stories WHERE id = ANY($1)", &[&dropped])
                .await?;
        }
        if let Some((index, max)) = self.lock_stories().as_mut() {
            for ((fp, _), (&id, &keep)) in placement.made.iter().zip(made_ids.iter().zip(&kept)) {
                if keep {
                    index.push(id, *fp, now);
                    *max = (*max).max(id);
                }
            }
            for (p, s) in placement.places.iter().zip(&stored) {
                if let (Some(Place::Existing(id)), Some(_)) = (p, s) {
                    index.touch(*id, now);
                }
            }
        }
        let alerting: Vec<Alerting<'_>> = new
            .iter()
            .zip(&placement.places)
            .zip(placement.story_ids(&made_ids))
            .zip(stored)
            .filter_map(|(((fresh, place), story_id), item_id)| {
                item_id.map(|item_id| Alerting {
                    item_id,
                    story_id,
                    alerts: &fresh.item.alerts,
                    // A row just stored, in a story just made (or none): nothing can have
                    // alerted for either yet.
                    fresh: !matches!(place, Some(Place::Existing(_))),
                    poll: fresh.poll,
                    now: fresh.now,
                })
            })
            .collect();
        for a in &alerting {
            reports[a.poll].items += 1;
        }
        outbox.plan(tx, &alerting, reports).await
    }

    /// Finds each new item's story: an existing one it nearly repeats, one an earlier item
    /// of the batch starts, or a new one.
    async fn place(
        &self,
        tx: &Transaction<'_>,
        new: &[Fresh<'_>],
    ) -> Result<Placement, StoreError> {
        let mut placement = Placement {
            places: Vec::with_capacity(new.len()),
            made: Vec::new(),
        };
        for (i, fresh) in new.iter().enumerate() {
            let item = fresh.item;
            let Some(fp) = item.fingerprint else {
                placement.places.push(None);
                continue;
            };
            let place = match self.existing_story(tx, fp, &item.text, fresh.now).await? {
                Some(id) => Place::Existing(id),
                None => match placement.made.iter().position(|&(f, first)| {
                    distance(f, fp) <= SAME_STORY_BITS
                        && containment(&new[first].item.text, &item.text) >= SAME_STORY_CONTAINMENT
                }) {
                    Some(n) => Place::Made(n),
                    None => {
                        placement.made.push((fp, i));
                        Place::Made(placement.made.len() - 1)
                    }
                },
            };
            placement.places.push(Some(place));
        }
        Ok(placement)
    }

    /// Takes the story lock, then reads the stories other nodes (or this one, before a
    /// restart) made since the index was last read: all recent ones the first time and once
    /// a day, else those with a higher id. Under the lock, ids arrive in commit order.
    async fn lock_and_refresh_stories(
        &self,
        tx: &Transaction<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        // Stories are only made under the story lock, so the highest id says whether any
        // came since (a backward step in the key's index, whatever the table's statistics),
        // and the new ones are read by the key up to it, a page at a time: bounded on both
        // sides, the range is planned by the key's index even by a plan made when the table
        // was small (a bound on one side only was planned as a read of the whole table).
        // The lock and the highest id are sent together; the server runs them in order, and
        // the second statement's snapshot is taken once the lock is held.
        let lock = tx
            .prepare_cached("SELECT pg_advisory_xact_lock($1)")
            .await?;
        let highest = tx.prepare_cached("SELECT MAX(id) FROM stories").await?;
        let (_, top) = futures_util::future::try_join(
            tx.execute(&lock, &[&STORY_LOCK]),
            tx.query_one(&highest, &[]),
        )
        .await?;
        let top: Option<i64> = top.try_get(0)?;
        // Only now, under the lock: the node's other commits wait for it before they read
        // the index.
        let since = now - STORY_WINDOW_MS;
        let (mut index, max) = match self.lock_stories().take() {
            Some((index, max)) if !index.is_stale(now) => (index, max),
            _ => (StoryIndex::new(now), 0),
        };
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

/// Writes a poll's edited items: each one's new raw hash, and its text when that changed
/// materially. Returns those whose alerts go to the outbox.
async fn write_changed<'a>(
    tx: &Transaction<'_>,
    n: usize,
    poll: &Writes<'a>,
    report: &mut InsertReport,
) -> Result<Vec<Alerting<'a>>, StoreError> {
    let mut alerting = Vec::new();
    for item in poll.changed {
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
                alerting.push(Alerting {
                    item_id: item.item_id,
                    story_id: row.try_get(0)?,
                    alerts: &item.alerts,
                    fresh: false,
                    poll: n,
                    now: poll.now,
                });
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
    Ok(alerting)
}

/// An outbox row planned for an item: its alert (for one notifier) with the watches it
/// lists.
struct OutboxRow<'a> {
    alert: crate::model::Alert,
    payload: String,
    notifier: &'a str,
    item_id: i64,
    story_id: Option<i64>,
    watches: Vec<&'a str>,
    /// The poll it is of (in the transaction's order), and when that poll ended.
    poll: usize,
    now: i64,
}

/// A stored item whose alerts go to the outbox.
struct Alerting<'a> {
    item_id: i64,
    story_id: Option<i64>,
    alerts: &'a [NewAlert],
    /// Whether the item and its story were both made in this transaction, so that no watch
    /// can have alerted for either: the check of earlier alerts is left out.
    fresh: bool,
    /// The poll it came in (in the transaction's order), and when that poll ended.
    poll: usize,
    now: i64,
}

/// A new item of one of the transaction's polls.
struct Fresh<'a> {
    poll: usize,
    source_id: i64,
    /// When its poll ended.
    now: i64,
    item: &'a NewItem,
}

/// Where a new item's story is.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// A story stored before.
    Existing(i64),
    /// The batch's n-th new story.
    Made(usize),
}

/// The stories of a batch of new items.
struct Placement {
    /// Per item: its story, or `None` for an item without a fingerprint.
    places: Vec<Option<Place>>,
    /// The batch's new stories: (fingerprint, the item that starts it).
    made: Vec<(u64, usize)>,
}

/// The statement's story parameters: per item, an existing story's id and its position
/// (from 1) among the new stories; and the new stories' fingerprints.
type StoryColumns = (Vec<Option<i64>>, Vec<Option<i64>>, Vec<i64>);

impl Placement {
    /// Per item: its story's id, given the new stories' ids.
    fn story_ids(&self, made_ids: &[i64]) -> Vec<Option<i64>> {
        self.places
            .iter()
            .map(|p| match p {
                Some(Place::Existing(id)) => Some(*id),
                Some(Place::Made(n)) => Some(made_ids[*n]),
                None => None,
            })
            .collect()
    }

    /// Per new story: whether any of its items was stored (`stored` per item).
    fn kept(&self, stored: &[Option<i64>]) -> Vec<bool> {
        (0..self.made.len())
            .map(|n| {
                self.places
                    .iter()
                    .zip(stored)
                    .any(|(p, s)| s.is_some() && matches!(p, Some(Place::Made(m)) if *m == n))
            })
            .collect()
    }

    fn columns(&self) -> StoryColumns {
        let existing = self
            .places
            .iter()
            .map(|p| match p {
                Some(Place::Existing(id)) => Some(*id),
                _ => None,
            })
            .collect();
        let made_at = self
            .places
            .iter()
            .map(|p| match p {
                Some(Place::Made(n)) => Some(*n as i64 + 1),
                _ => None,
            })
            .collect();
        let fingerprints = self.made.iter().map(|&(fp, _)| fp as i64).collect();
        (existing, made_at, fingerprints)
    }
}

/// Makes the transaction's new stories, stores the new items of all its polls (those
/// already stored are left out) and marks the existing stories they join as seen, in one
/// statement. Returns the new stories' ids in order, and per item its row or `None` when it
/// was stored before (by another node a moment ago, say). Story ids come from one sequence,
/// under the story lock, so they ascend in the order the rows are inserted. An item finds
/// its new story by position in the array of their ids: looked up in a table of them, each
/// item read all of the statement's new stories, which cost 9 of the server's 24 CPU s in a
/// cold cycle of 10,000 feeds once polls committed together (640 items to a statement).
async fn store_new(
    tx: &Transaction<'_>,
    now: i64,
    new: &[Fresh<'_>],
    placement: &Placement,
) -> Result<(Vec<i64>, Vec<Option<i64>>), StoreError> {
    let (existing, made_at, made) = placement.columns();
    let col = |f: fn(&NewItem) -> Option<&str>| new.iter().map(|n| f(n.item)).collect::<Vec<_>>();
    let keys = col(|i| Some(i.id.key.as_str()));
    let guids = col(|i| i.id.guid.as_deref());
    let urls = col(|i| i.id.url.as_deref());
    let title_dates = col(|i| i.id.title_date.as_deref());
    let hashes = col(|i| Some(i.id.raw_hash.as_str()));
    let titles = col(|i| Some(i.title.as_str()));
    let texts = col(|i| Some(i.text.as_str()));
    let published: Vec<Option<i64>> = new.iter().map(|n| n.item.published_at).collect();
    let fps: Vec<Option<i64>> = new
        .iter()
        .map(|n| n.item.fingerprint.map(|f| f as i64))
        .collect();
    let sources: Vec<i64> = new.iter().map(|n| n.source_id).collect();
    let fetched: Vec<i64> = new.iter().map(|n| n.now).collect();
    let insert = tx
        .prepare_cached(
            "WITH made AS (
                INSERT INTO stories (fingerprint, first_seen, last_seen)
                SELECT f, $2, $2 FROM unnest($13::bigint[]) WITH ORDINALITY AS t(f, n) ORDER BY n
                RETURNING id),
             made_ids AS (SELECT array_agg(id ORDER BY id) AS ids FROM made),
             stored AS (
                INSERT INTO items (source_id, fetched_at, key, guid, url, title_date, raw_hash,
                                   title, published_at, text, fingerprint, story_id)
                SELECT s, fa, k, g, u, td, h, t, p, x, f,
                       COALESCE(st, (SELECT ids FROM made_ids)[r.mk])
                FROM unnest($1::bigint[], $15::bigint[], $3::text[], $4::text[], $5::text[],
                            $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[],
                            $11::bigint[], $12::bigint[], $14::bigint[])
                     AS r(s, fa, k, g, u, td, h, t, p, x, f, st, mk)
                ON CONFLICT DO NOTHING RETURNING id, source_id, key, story_id),
             touched AS (
                UPDATE stories SET last_seen = $2
                WHERE id = ANY($12::bigint[]) AND id IN (SELECT story_id FROM stored))
             SELECT id, source_id, key, NULL::bigint FROM stored
             UNION ALL SELECT id, NULL, NULL, n
                 FROM unnest((SELECT ids FROM made_ids)) WITH ORDINALITY AS m(id, n)",
        )
        .await?;
    let rows = tx
        .query(
            &insert,
            &[
                &sources,
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
                &existing,
                &made,
                &made_at,
                &fetched,
            ],
        )
        .await?;
    let mut made_ids = vec![0i64; made.len()];
    let mut ids = HashMap::with_capacity(rows.len());
    for r in rows {
        let id: i64 = r.try_get(0)?;
        match (
            r.try_get::<_, Option<i64>>(1)?,
            r.try_get::<_, Option<String>>(2)?,
            r.try_get::<_, Option<i64>>(3)?,
        ) {
            (Some(source), Some(key), _) => {
                ids.insert((source, key), id);
            }
            (_, _, Some(n)) => made_ids[n as usize - 1] = id,
            _ => {}
        }
    }
    // A key twice in one poll is stored once, for its first item.
    let stored = new
        .iter()
        .map(|n| ids.remove(&(n.source_id, n.item.id.key.clone())))
        .collect();
    Ok((made_ids, stored))
}

/// The outbox rows of a transaction's stored items, planned as the items are written and
/// inserted together at the end: of an item's alerts (one per watch and notifier), those of
/// watches that have not yet alerted for the item's story (or the item itself), merged into
/// one row per notifier that lists every such watch. Items of one story are planned in
/// order, each seeing the watches the earlier ones alert, whichever poll they came in.
#[derive(Default)]
struct Outbox<'a> {
    rows: Vec<OutboxRow<'a>>,
    /// Watches alerted by items planned before, by story.
    alerted: Vec<(i64, &'a str)>,
}

impl<'a> Outbox<'a> {
    /// Plans the rows of `items`, in at most one round trip whatever their number: the checks
    /// of earlier alerts for items that are not fresh, sent at once.
    async fn plan(
        &mut self,
        tx: &Transaction<'_>,
        items: &[Alerting<'a>],
        reports: &mut [InsertReport],
    ) -> Result<(), StoreError> {
        let items: Vec<&Alerting<'a>> = items.iter().filter(|a| !a.alerts.is_empty()).collect();
        if items.is_empty() {
            return Ok(());
        }
        let check = tx
            .prepare_cached(
                // Two index reads, one plan whatever the arguments: with `$3 IS NOT NULL` in
                // it, the server planned the statement anew each time (about 120 µs).
                "SELECT watch FROM alert_watches WHERE item_id = $2 AND watch = ANY($1)
                 UNION SELECT watch FROM alert_watches WHERE story_id = $3 AND watch = ANY($1)",
            )
            .await?;
        let watches: Vec<Vec<&'a str>> = items
            .iter()
            .map(|a| outbox_rows::watches(a.alerts))
            .collect();
        let check = &check;
        // A cold start's items, each in a new story, need no check at all.
        let checked: Vec<Vec<String>> = futures_util::future::try_join_all(
            items.iter().zip(&watches).map(|(a, watches)| async move {
                if a.fresh {
                    return Ok(Vec::new());
                }
                let rows = tx.query(check, &[watches, &a.item_id, &a.story_id]).await?;
                rows.iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<Vec<String>, _>>()
            }),
        )
        .await?;
        for ((a, stored), item_watches) in items.iter().zip(checked).zip(&watches) {
            let alerted: Vec<&str> = stored
                .iter()
                .map(String::as_str)
                .chain(
                    self.alerted
                        .iter()
                        .filter(|(s, _)| Some(*s) == a.story_id)
                        .map(|(_, w)| *w),
                )
                .collect();
            let (rows, repeats) = outbox_rows::plan(a.alerts, &alerted);
            reports[a.poll].repeats += repeats;
            for (notifier, alert) in rows {
                let names = alert.watch_names();
                let watches: Vec<&'a str> = item_watches
                    .iter()
                    .copied()
                    .filter(|w| names.contains(w))
                    .collect();
                if let Some(story) = a.story_id {
                    self.alerted.extend(watches.iter().map(|w| (story, *w)));
                }
                self.rows.push(OutboxRow {
                    payload: serde_json::to_string(&alert)?,
                    alert,
                    notifier,
                    item_id: a.item_id,
                    story_id: a.story_id,
                    watches,
                    poll: a.poll,
                    now: a.now,
                });
            }
        }
        Ok(())
    }

    /// Inserts the planned rows and the watches they list, in two statements whatever their
    /// number; returns the poll of each row that was new. (A statement a row, sent at once,
    /// cost the server about 90 µs a row.) A row whose alert is stored already is left out,
    /// with its watches.
    async fn insert(&self, tx: &Transaction<'_>) -> Result<Vec<usize>, StoreError> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO alerts (id, notifier, item_id, story_id, watch, payload,
                                     created_at, next_attempt_at)
                 SELECT i, n, it, st, w, p, c, c
                 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[],
                             $6::text[], $7::bigint[]) WITH ORDINALITY AS r(i, n, it, st, w, p, c, o)
                 ORDER BY o
                 ON CONFLICT DO NOTHING RETURNING seq, id, notifier",
            )
            .await?;
        let rows = &self.rows;
        let ids: Vec<&str> = rows.iter().map(|r| r.alert.id.as_str()).collect();
        let notifiers: Vec<&str> = rows.iter().map(|r| r.notifier).collect();
        let items: Vec<i64> = rows.iter().map(|r| r.item_id).collect();
        let stories: Vec<Option<i64>> = rows.iter().map(|r| r.story_id).collect();
        let watches: Vec<&str> = rows.iter().map(|r| r.alert.watch.as_str()).collect();
        let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
        let created: Vec<i64> = rows.iter().map(|r| r.now).collect();
        let params: [&(dyn ToSql + Sync); 7] = [
            &ids, &notifiers, &items, &stories, &watches, &payloads, &created,
        ];
        let mut seqs: HashMap<(String, String), i64> = HashMap::new();
        for r in tx.query(&insert, &params).await? {
            seqs.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
        }
        let mut listed = Listed::default();
        let mut new = Vec::new();
        for row in rows {
            // A row twice in the transaction is stored once, for the first.
            let key = (row.alert.id.clone(), row.notifier.to_string());
            if let Some(seq) = seqs.remove(&key) {
                new.push(row.poll);
                listed.add(seq, row);
            }
        }
        listed.insert(tx).await?;
        Ok(new)
    }
}

/// The watches that stored outbox rows list, as columns.
#[derive(Default)]
struct Listed<'a> {
    seqs: Vec<i64>,
    watches: Vec<&'a str>,
    items: Vec<i64>,
    stories: Vec<Option<i64>>,
    created: Vec<i64>,
}

impl<'a> Listed<'a> {
    fn add(&mut self, seq: i64, row: &OutboxRow<'a>) {
        for watch in &row.watches {
            self.seqs.push(seq);
            self.watches.push(watch);
            self.items.push(row.item_id);
            self.stories.push(row.story_id);
            self.created.push(row.now);
        }
    }

    async fn insert(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if self.seqs.is_empty() {
            return Ok(());
        }
        let insert = tx
            .prepare_cached(
                "INSERT INTO alert_watches (seq, watch, item_id, story_id, created_at)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[],
                                      $5::bigint[])",
            )
            .await?;
        tx.execute(
            &insert,
            &[
                &self.seqs,
                &self.watches,
                &self.items,
                &self.stories,
                &self.created,
            ],
        )
        .await?;
        Ok(())
    }
}
