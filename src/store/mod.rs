//! SQLite store: sources and their freshness, items, and the alert outbox. One file in WAL
//! mode; everything that must survive a restart lives here, nothing else does.
//!
//! The interface is narrow (due sources, record a poll, insert new items with their alerts,
//! due alerts, mark delivered) so another backend can stand in without touching the stages.

mod alerts;
mod codec;
mod items;
mod lock;
mod prune;
mod schema;
mod sources;
mod status;
mod stories;
mod views;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::Connection;

pub use alerts::{AlertStatus, DeliveryState, OutboxRow, Pause};
pub use items::{ChangedItem, Identity, InsertReport, NewAlert, NewItem, Seen, StoredArticle};
pub use lock::StoreLock;
use prune::POLL_HISTORY;
pub use prune::PruneReport;
pub use sources::{Discovery, HealthChange, PollRecord, SourceHealth, SourceRow, SourceSpec};
pub use status::Gauges;
pub use views::{DeliveryRow, Overview, PollMark, SourceFilter};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement, or a stored value is not what its column should hold.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file cannot be opened or created.
    #[error("cannot open database {path}: {message}")]
    Open {
        /// The database file.
        path: String,
        /// Why.
        message: String,
    },
    /// A newer feedwatch migrated this database.
    #[error(
        "database {path} has schema version {found}, newer than this feedwatch knows ({known}); upgrade feedwatch"
    )]
    TooNew {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// A stored alert's JSON does not parse.
    #[error("stored alert is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The blocking task running the operation panicked or was cancelled.
    #[error("the database task failed: {0}")]
    Task(String),
}

/// Handle to the database; cheap to clone, one connection shared behind a mutex
/// (SQLite serialises writers anyway, and our transactions are short).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    /// Recent story fingerprints (see `stories.rs`); `None` until first needed.
    stories: Arc<Mutex<Option<stories::StoryIndex>>>,
    /// Outcomes of polls that changed nothing but their source's row, waiting to be written
    /// together (see [`Store::defer_record`]).
    deferred: Arc<Mutex<Vec<sources::Deferred>>>,
    /// The database file.
    path: Arc<std::path::PathBuf>,
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

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
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
        Ok(Store {
            conn: Arc::new(Mutex::new(conn)),
            stories: Arc::new(Mutex::new(None)),
            deferred: Arc::new(Mutex::new(Vec::new())),
            path: Arc::new(path.to_path_buf()),
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

    /// Frees what SQLite caches for this connection (pages it can read again).
    pub fn release_memory(&self) -> Result<(), StoreError> {
        Ok(self.lock().release_memory()?)
    }

    /// Runs blocking store work off the async runtime.
    pub async fn blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }
}
