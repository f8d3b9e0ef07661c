//! Schema migrations, versioned by `PRAGMA user_version`: each entry runs once, in order,
//! inside a transaction.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: sources with their freshness, items, and the alert outbox.
    r#"
    CREATE TABLE sources (
        id                   INTEGER PRIMARY KEY,
        name                 TEXT NOT NULL UNIQUE,
        kind                 TEXT NOT NULL,
        url                  TEXT NOT NULL,
        interval_ms          INTEGER NOT NULL,
        active               INTEGER NOT NULL DEFAULT 1,
        etag                 TEXT,
        last_modified        TEXT,
        last_poll_at         INTEGER,
        last_success_at      INTEGER,
        last_status          TEXT,
        last_error           TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_poll_at         INTEGER NOT NULL
    );
    CREATE INDEX sources_due ON sources (active, next_poll_at);

    CREATE TABLE items (
        id           INTEGER PRIMARY KEY,
        source_id    INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        key          TEXT NOT NULL,
        url          TEXT,
        title        TEXT NOT NULL,
        published_at INTEGER,
        text         TEXT NOT NULL,
        fetched_at   INTEGER NOT NULL,
        UNIQUE (source_id, key)
    );

    CREATE TABLE alerts (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL,
        notifier        TEXT NOT NULL,
        item_id         INTEGER REFERENCES items (id) ON DELETE SET NULL,
        watch           TEXT NOT NULL,
        payload         TEXT NOT NULL,
        state           TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        delivered_at    INTEGER,
        UNIQUE (id, notifier)
    );
    CREATE INDEX alerts_due ON alerts (notifier, state, next_attempt_at);
    CREATE INDEX alerts_created ON alerts (created_at);
    "#,
    // 2: identities beyond the key (GUID churn), versions, tombstones, and stories that link
    // copies of one article across sources.
    r#"
    CREATE TABLE stories (
        id          INTEGER PRIMARY KEY,
        fingerprint INTEGER,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL
    );
    CREATE INDEX stories_last_seen ON stories (last_seen);

    ALTER TABLE items ADD COLUMN guid TEXT;
    ALTER TABLE items ADD COLUMN title_date TEXT;
    ALTER TABLE items ADD COLUMN raw_hash TEXT;
    ALTER TABLE items ADD COLUMN fingerprint INTEGER;
    ALTER TABLE items ADD COLUMN story_id INTEGER REFERENCES stories (id) ON DELETE SET NULL;
    ALTER TABLE items ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE items ADD COLUMN pruned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX items_guid ON items (source_id, guid) WHERE guid IS NOT NULL;
    CREATE INDEX items_url ON items (source_id, url) WHERE url IS NOT NULL;
    CREATE INDEX items_title_date ON items (source_id, title_date) WHERE title_date IS NOT NULL;
    CREATE INDEX items_story ON items (story_id);
    CREATE INDEX items_fetched ON items (fetched_at);

    ALTER TABLE alerts ADD COLUMN story_id INTEGER;
    CREATE INDEX alerts_story_watch ON alerts (story_id, watch);
    CREATE INDEX alerts_item_watch ON alerts (item_id, watch);
    "#,
    // 3: messages (a single alert or a digest) for rate limits, and source health alerts.
    r#"
    ALTER TABLE alerts ADD COLUMN batch TEXT;
    CREATE INDEX alerts_delivered ON alerts (notifier, delivered_at);
    ALTER TABLE sources ADD COLUMN failing_since INTEGER;
    ALTER TABLE sources ADD COLUMN down_alerted INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: the feed an HTML page advertises, polled in its place.
    r#"
    ALTER TABLE sources ADD COLUMN discovered_url TEXT;
    "#,
    // 5: an outbox row may carry several watches (one message per article and notifier);
    // which watches alerted for which item and story is kept per watch.
    r#"
    CREATE TABLE alert_watches (
        seq        INTEGER NOT NULL REFERENCES alerts (seq) ON DELETE CASCADE,
        watch      TEXT NOT NULL,
        item_id    INTEGER REFERENCES items (id) ON DELETE SET NULL,
        story_id   INTEGER,
        created_at INTEGER NOT NULL
    );
    INSERT INTO alert_watches (seq, watch, item_id, story_id, created_at)
        SELECT seq, watch, item_id, story_id, created_at FROM alerts
        WHERE item_id IS NOT NULL OR story_id IS NOT NULL;
    CREATE INDEX alert_watches_seq ON alert_watches (seq);
    CREATE INDEX alert_watches_created ON alert_watches (created_at);
    CREATE INDEX alert_watches_story ON alert_watches (story_id, watch);
    CREATE INDEX alert_watches_item ON alert_watches (item_id, watch);
    DROP INDEX alerts_story_watch;
    DROP INDEX alerts_item_watch;
    "#,
    // 6: notifiers paused after the receiver refused the credentials, until a restart,
    // reload or `alerts --retry`.
    r#"
    CREATE TABLE notifier_pauses (
        notifier TEXT PRIMARY KEY,
        reason   TEXT NOT NULL,
        since    INTEGER NOT NULL
    );
    "#,
    // 7: each source's recent polls, for the status page (trimmed by retention).
    r#"
    CREATE TABLE polls (
        source_id INTEGER NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
        at        INTEGER NOT NULL,
        status    TEXT NOT NULL,
        error     TEXT
    );
    CREATE INDEX polls_source ON polls (source_id, at);
    CREATE INDEX polls_at ON polls (at);
    "#,
    // 8: no index of GUIDs: an item's key is `guid:` and its GUID whenever it has one, so
    // the key's unique index finds every item a GUID would.
    r#"
    DROP INDEX IF EXISTS items_guid;
    "#,
];

pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    // One statement, one snapshot: another process may be migrating the file right now.
    let (version, tables): (i64, i64) = conn.query_row(
        "SELECT (SELECT user_version FROM pragma_user_version), (SELECT COUNT(*) FROM sqlite_master)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let known = MIGRATIONS.len() as i64;
    if version == 0 {
        // A SQLite file with tables but no version of ours belongs to something else.
        if tables > 0 {
            return Err(StoreError::Open {
                path: path.display().to_string(),
                message: "the file is a SQLite database of another program, not a feedwatch store"
                    .into(),
            });
        }
    }
    if version > known {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        // The write lock first, then the version again: another process opening the same
        // file (the daemon and a CLI command, say) may have just run this step.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The daemon and a CLI command may open a new store file at the same moment: each
    /// migration step runs once, whoever gets there first.
    #[test]
    fn concurrent_opens_of_a_new_file_migrate_once() {
        for _ in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("feedwatch.db");
            let opens: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || super::super::SqliteStore::open(&path).map(|_| ()))
                })
                .collect();
            for open in opens {
                open.join().unwrap().unwrap();
            }
        }
    }

    /// A store of the previous version keeps its alerts: they read as alerts of their one
    /// watch, and that watch does not alert their story again.
    #[test]
    fn alerts_of_a_version_4_store_keep_their_watch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feedwatch.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for sql in &super::MIGRATIONS[..4] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                r#"PRAGMA user_version = 4;
                INSERT INTO sources (id, name, kind, url, interval_ms, next_poll_at)
                    VALUES (1, 's', 'feed', 'http://e.org/f', 1000, 0);
                INSERT INTO stories (id, fingerprint, first_seen, last_seen) VALUES (7, 42, 0, 0);
                INSERT INTO items (id, source_id, key, title, text, fetched_at, story_id)
                    VALUES (3, 1, 'k1', 't', 'x', 0, 7);
                INSERT INTO alerts (id, notifier, item_id, story_id, watch, payload, created_at, next_attempt_at)
                    VALUES ('a1', 'n', 3, 7, 'w',
                     '{"id":"a1","kind":"new","watch":"w","source":"s","title":"t","url":null,"published":null,"matched":["x"],"snippet":"x"}',
                     0, 0);"#,
            )
            .unwrap();
        }
        use crate::store::Views;
        let store = super::super::SqliteStore::open(&path).unwrap();
        let rows = store.recent_alerts(0, Some("w")).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].alert.watches, ["w"]);
        let seen: i64 = store
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM alert_watches WHERE story_id = 7 AND watch = 'w'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(seen, 1);
    }
}
