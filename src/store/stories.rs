//! Stories: copies of one article from several sources, linked by a near-duplicate
//! fingerprint within a window. The recent fingerprints are cached in memory (rebuilt from
//! the table on first use); the table stays the truth.

use rusqlite::{Transaction, params};

use super::{Store, StoreError};
use crate::dedupe::{SAME_STORY_BITS, SAME_STORY_CONTAINMENT, containment, distance};

/// How far back a new item looks for a story to join.
pub const STORY_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy)]
pub(super) struct StoryFingerprint {
    id: i64,
    fingerprint: u64,
    last_seen: i64,
}

impl Store {
    /// Puts a just-inserted item in a story: an existing one whose text it nearly repeats,
    /// else a new one. Items too short to fingerprint get no story (they alert on their own).
    pub(super) fn join_story(
        &self,
        tx: &Transaction<'_>,
        item_id: i64,
        fingerprint: Option<u64>,
        text: &str,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let Some(fp) = fingerprint else {
            return Ok(None);
        };
        let mut cache = self.stories.lock().unwrap_or_else(|p| p.into_inner());
        if cache.is_none() {
            let mut stmt = tx.prepare(
                "SELECT id, fingerprint, last_seen FROM stories WHERE last_seen >= ?1 AND fingerprint IS NOT NULL",
            )?;
            let rows = stmt.query_map([now - STORY_WINDOW_MS], |r| {
                Ok(StoryFingerprint {
                    id: r.get(0)?,
                    fingerprint: r.get::<_, i64>(1)? as u64,
                    last_seen: r.get(2)?,
                })
            })?;
            *cache = Some(rows.collect::<Result<_, _>>()?);
        }
        let stories = cache.as_mut().expect("loaded above");
        stories.retain(|s| s.last_seen >= now - STORY_WINDOW_MS);
        let mut near: Vec<(u32, usize)> = stories
            .iter()
            .enumerate()
            .map(|(i, s)| (distance(s.fingerprint, fp), i))
            .filter(|(d, _)| *d <= SAME_STORY_BITS)
            .collect();
        near.sort_unstable();
        for (_, i) in near {
            let story = stories[i].id;
            let first: Option<String> = tx
                .prepare_cached(
                    "SELECT text FROM items WHERE story_id = ?1 AND pruned = 0 ORDER BY id LIMIT 1",
                )?
                .query_row([story], |r| r.get(0))
                .ok();
            if first.is_some_and(|t| containment(&t, text) >= SAME_STORY_CONTAINMENT) {
                tx.execute(
                    "UPDATE stories SET last_seen = ?2 WHERE id = ?1",
                    params![story, now],
                )?;
                tx.execute(
                    "UPDATE items SET story_id = ?2 WHERE id = ?1",
                    params![item_id, story],
                )?;
                stories[i].last_seen = now;
                return Ok(Some(story));
            }
        }
        tx.execute(
            "INSERT INTO stories (fingerprint, first_seen, last_seen) VALUES (?1, ?2, ?2)",
            params![fp as i64, now],
        )?;
        let story = tx.last_insert_rowid();
        tx.execute(
            "UPDATE items SET story_id = ?2 WHERE id = ?1",
            params![item_id, story],
        )?;
        stories.push(StoryFingerprint {
            id: story,
            fingerprint: fp,
            last_seen: now,
        });
        Ok(Some(story))
    }
}
