//! The SQLite backend: one file in WAL mode, used by one daemon at a time (the lock file
//! refuses a second) and read by the CLI while the daemon runs.

mod alerts;
mod codec;
mod items;
mod lock;
mod schema;
mod sources;
mod stories;
mod upkeep;
mod views;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use lock::StoreLock;

use super::story_index::StoryIndex;
use super::{Cluster, Heartbeat, NodeStatus, StoreError};

/// A SQLite store: one file in WAL mode, one connection behind a mutex (SQLite serialises
/// writers anyway, and our transactions are short).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Recent story fingerprints (see `stories.rs`); `None` until first needed.
    stories: Mutex<Option<StoryIndex>>,
    /// The database file.
    path: std::path::PathBuf,
}

/// How every SQLite database file begins.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Makes sure `path` is a store or nothing: a missing file is created readable by its owner
/// only (SQLite gives the WAL and shared-memory files the same mode); an empty file, or one
/// that is not SQLite, is an error rather than a new empty store that would alert on every
/// item again.
fn check_file(path: &Path) -> Result<(), String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.to_string()),
    }
    // Another process may have created it a moment ago and be writing its first page:
    // an empty file is given a little while to fill.
    let mut header = Vec::new();
    for _ in 0..100 {
        header.clear();
        std::fs::File::open(path)
            .and_then(|f| f.take(16).read_to_end(&mut header))
            .map_err(|e| e.to_string())?;
        if !header.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if header.is_empty() {
        return Err(
            "the file is empty, so it is not a feedwatch store (restore it from a backup, or \
             remove it to start a new store that will see every item as new)"
                .into(),
        );
    }
    if header.len() < 16 || header[..] != SQLITE_HEADER[..] {
        return Err("the file is not a SQLite database, so not a feedwatch store".into());
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(&e))?;
        }
        check_file(path).map_err(|e| open_err(&e))?;
        let mut conn = Connection::open(path).map_err(|e| open_err(&e))?;
        conn.busy_timeout(Duration::from_secs(10))?;
        // Two processes opening a new file at once can meet SQLITE_BUSY where the busy
        // handler does not apply (one switching the file to WAL while the other reads it):
        // the setup is idempotent, so it is tried again for a while.
        let mut tries = 0;
        loop {
            match Self::setup(&mut conn, path) {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 100 =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(20 + fastrand::u64(..30)));
                }
                other => break other?,
            }
        }
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            stories: Mutex::new(None),
            path: path.to_path_buf(),
        })
    }

    fn setup(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
        // WAL: readers (`feedwatch sources` while the daemon runs) never block the writer.
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000;")?;
        schema::migrate(conn, path)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back
        // on drop), so a poisoned mutex is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One node: the daemon holding the lock file (see [`StoreLock`]).
impl Cluster for SqliteStore {
    fn node(&self) -> &str {
        "local"
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn heartbeat(&self, _: i64, _: &str) -> Result<Heartbeat, StoreError> {
        Ok(Heartbeat::default())
    }

    fn nodes(&self, _: i64) -> Result<Vec<NodeStatus>, StoreError> {
        Ok(Vec::new())
    }
}
