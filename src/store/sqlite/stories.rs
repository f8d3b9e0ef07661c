//! Stories in SQLite: a new item joins the story whose first copy it nearly repeats (found
//! through the in-memory [`StoryIndex`]), else starts one.

use rusqlite::{Transaction, params};

use super::SqliteStore;
use crate::dedupe::{SAME_STORY_CONTAINMENT, containment};
use crate::store::StoreError;
use crate::store::story_index::{STORY_WINDOW_MS, StoryIndex};

impl SqliteStore {
    /// Inserts a new item in its story: an existing one whose text it nearly repeats, else
    /// a new one. Items too short to fingerprint get no story (they alert on their own).
    /// `insert` stores the item with the story id it is given and returns the item's id, or
    /// `None` when the item was already stored (then no story is made or touched). The story
    /// comes first so the item's row is written once.
    pub(super) fn insert_in_story(
        &self,
        tx: &Transaction<'_>,
        fingerprint: Option<u64>,
        text: &str,
        now: i64,
        insert: impl FnOnce(Option<i64>) -> Result<Option<i64>, StoreError>,
    ) -> Result<Option<(i64, Option<i64>)>, StoreError> {
        let Some(fp) = fingerprint else {
            return Ok(insert(None)?.map(|item| (item, None)));
        };
        let mut cache = self.stories.lock().unwrap_or_else(|p| p.into_inner());
        // Rebuilt from the table when first needed, and once a day so expired stories leave.
        if cache.as_ref().is_none_or(|c| c.is_stale(now)) {
            let mut index = StoryIndex::new(now);
            let mut stmt = tx.prepare_cached(
                "SELECT id, fingerprint, last_seen FROM stories WHERE last_seen >= ?1 AND fingerprint IS NOT NULL",
            )?;
            let mut rows = stmt.query([now - STORY_WINDOW_MS])?;
            while let Some(r) = rows.next()? {
                index.push(r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?);
            }
            *cache = Some(index);
        }
        let stories = cache.as_mut().expect("loaded above");
        let mut joined = None;
        for (_, i) in stories.near(fp, now - STORY_WINDOW_MS) {
            let story = stories.entries[i].id;
            let first: Option<String> = tx
                .prepare_cached(
                    "SELECT text FROM items WHERE story_id = ?1 AND pruned = 0 ORDER BY id LIMIT 1",
                )?
                .query_row([story], |r| r.get(0))
                .ok();
            if first.is_some_and(|t| containment(&t, text) >= SAME_STORY_CONTAINMENT) {
                joined = Some(i);
                break;
            }
        }
        let story = match joined {
            Some(i) => stories.entries[i].id,
            None => {
                tx.prepare_cached(
                    "INSERT INTO stories (fingerprint, first_seen, last_seen) VALUES (?1, ?2, ?2)",
                )?
                .execute(params![fp as i64, now])?;
                tx.last_insert_rowid()
            }
        };
        let Some(item) = insert(Some(story))? else {
            if joined.is_none() {
                tx.prepare_cached("DELETE FROM stories WHERE id = ?1")?
                    .execute([story])?;
            }
            return Ok(None);
        };
        match joined {
            Some(i) => {
                tx.prepare_cached("UPDATE stories SET last_seen = ?2 WHERE id = ?1")?
                    .execute(params![story, now])?;
                stories.entries[i].last_seen = now;
            }
            None => stories.push(story, fp, now),
        }
        Ok(Some((item, Some(story))))
    }
}
