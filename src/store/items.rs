//! Items: which of a poll's items are new, and inserting them with their alerts in one
//! transaction, so a crash can neither lose an alert nor invent one.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};

use super::{Store, StoreError};
use crate::model::Alert;

/// An item to store, with the alerts it raises (one per watch and notifier).
#[derive(Debug, Clone)]
pub struct NewItem {
    pub key: String,
    pub url: Option<String>,
    pub title: String,
    pub published_at: Option<i64>,
    pub text: String,
    pub alerts: Vec<NewAlert>,
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub alert: Alert,
    pub notifier: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InsertReport {
    pub items: usize,
    pub alerts: usize,
}

impl Store {
    /// The subset of `keys` already stored for this source. Checked before any expensive
    /// work (full-text fetch, extraction) is done for an item.
    pub fn known_keys(
        &self,
        source_id: i64,
        keys: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT 1 FROM items WHERE source_id = ?1 AND key = ?2")?;
        let mut known = HashSet::new();
        for key in keys {
            if stmt.exists(params![source_id, key])? {
                known.insert(key.clone());
            }
        }
        Ok(known)
    }

    /// Inserts the items that are still new and, for each, its alerts; one transaction.
    /// An item another poll stored meanwhile is skipped with its alerts.
    pub fn insert_new(
        &self,
        source_id: i64,
        now: i64,
        items: &[NewItem],
    ) -> Result<InsertReport, StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let mut report = InsertReport::default();
        {
            let mut insert_item = tx.prepare_cached(
                "INSERT INTO items (source_id, key, url, title, published_at, text, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
            )?;
            let mut insert_alert = tx.prepare_cached(
                "INSERT INTO alerts (id, notifier, item_id, watch, payload, created_at, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT DO NOTHING",
            )?;
            for item in items {
                let inserted = insert_item.execute(params![
                    source_id,
                    item.key,
                    item.url,
                    item.title,
                    item.published_at,
                    item.text,
                    now
                ])?;
                if inserted == 0 {
                    continue;
                }
                report.items += 1;
                let item_id = tx.last_insert_rowid();
                for a in &item.alerts {
                    let payload = serde_json::to_string(&a.alert)?;
                    report.alerts += insert_alert.execute(params![
                        a.alert.id,
                        a.notifier,
                        item_id,
                        a.alert.watch,
                        payload,
                        now
                    ])?;
                }
            }
        }
        tx.commit()?;
        Ok(report)
    }

    /// Text of the newest stored item of a source (a watched page's last version).
    pub fn latest_text(&self, source_id: i64) -> Result<Option<String>, StoreError> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT text FROM items WHERE source_id = ?1 ORDER BY id DESC LIMIT 1",
                [source_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}
