//! The store: sources and their freshness, items, and the alert outbox; everything that must
//! survive a restart lives here, nothing else does.
//!
//! The stages speak to [`Store`], a handle on one [`Backend`]: SQLite (one file, one
//! daemon, the default) or PostgreSQL (several daemons sharing sources by leases). The
//! interface is narrow and split by topic ([`Sources`], [`Items`], [`Outbox`], [`Views`],
//! [`Upkeep`], [`Cluster`]); the values crossing it are in `types.rs`. Both backends pass
//! the same conformance tests (`tests/store_conformance.rs`).

mod group;
mod outbox_rows;
mod postgres;
mod sqlite;
mod story_index;
mod types;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};

pub use group::Place;
pub use postgres::{PgTarget, PostgresStore, STORY_LOCK, node_lock};
pub use sqlite::{SqliteStore, StoreLock};
pub use types::*;

/// Polls kept per source for the status page's strip (older ones go with retention).
pub(crate) const POLL_HISTORY: i64 = 50;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement, or a stored value is not what its column should hold.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused a statement or the connection failed.
    #[error("database error: {0}")]
    Postgres(String),
    /// The database cannot be opened, created or reached.
    #[error("cannot open database {path}: {message}")]
    Open {
        /// The database file, or the server's address.
        path: String,
        /// Why.
        message: String,
    },
    /// A newer feedwatch migrated this database.
    #[error(
        "database {path} has schema version {found}, newer than this feedwatch knows ({known}); upgrade feedwatch"
    )]
    TooNew {
        /// The database file, or the server's address.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Another daemon holds this node's name on the shared database.
    #[error(
        "cannot open database {path}: another feedwatch daemon runs as node \"{node}\" on this database; give each daemon its own [store] node"
    )]
    NodeTaken {
        /// The server's address.
        path: String,
        /// The name.
        node: String,
    },
    /// A stored alert's JSON does not parse.
    #[error("stored alert is corrupt: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The blocking task running the operation panicked or was cancelled.
    #[error("the database task failed: {0}")]
    Task(String),
}

/// An outbox row's alert. One stored before alerts listed their watches names its one watch.
pub(crate) fn decode_alert(payload: &str) -> Result<crate::model::Alert, StoreError> {
    let mut alert: crate::model::Alert = serde_json::from_str(payload)?;
    if alert.watches.is_empty() {
        alert.watches.push(alert.watch.clone());
    }
    Ok(alert)
}

/// Sources and their poll state: the schedule, leases, validators, failures.
pub trait Sources {
    /// Makes the stored sources match this node's config: new ones are added and spread over
    /// the next `spread_ms` so a thousand sources do not fire at once; known ones keep their
    /// state (a changed URL drops its validators); ones no node lists any more become
    /// inactive.
    fn sync_sources(
        &self,
        specs: &[SourceSpec],
        now: i64,
        spread_ms: i64,
    ) -> Result<(), StoreError>;
    /// Active sources whose next poll is due, earliest first.
    fn due_sources(&self, now: i64, limit: usize) -> Result<Vec<SourceRow>, StoreError>;
    /// Takes up to `limit` due sources for polling: each is leased until `now + lease_ms`
    /// (its next poll moves there), so no other poll (of this node or another) takes it, and
    /// a crash mid-poll only delays it by the lease. Recording the poll ends the lease.
    fn claim_due(
        &self,
        now: i64,
        limit: usize,
        lease_ms: i64,
    ) -> Result<Vec<SourceRow>, StoreError>;
    /// Makes sources due now again (polls cut short by shutdown).
    fn release(&self, ids: &[i64], now: i64) -> Result<(), StoreError>;
    /// Every active source this node lists, regardless of schedule.
    fn active_sources(&self) -> Result<Vec<SourceRow>, StoreError>;
    /// Takes every active source this node lists, regardless of schedule, for `once`: as
    /// [`Sources::claim_due`] does, but for sources another node is polling right now
    /// (leased), which are left to it. One daemon uses a SQLite store: all of them.
    fn claim_all(&self, _now: i64, _lease_ms: i64) -> Result<Vec<SourceRow>, StoreError> {
        self.active_sources()
    }
    /// When the next active source is due, if any.
    fn next_poll_at(&self) -> Result<Option<i64>, StoreError>;
    /// The active sources this node lists that were polled (by any node) at or after
    /// `since`: their ids and names.
    fn polled_since(&self, since: i64) -> Result<Vec<(i64, String)>, StoreError>;
    /// Records a poll's outcome: success resets the failure count, failure increments it.
    fn record_poll(&self, source_id: i64, rec: &PollRecord) -> Result<(), StoreError> {
        self.record_polls(std::slice::from_ref(&(source_id, rec.clone())))
    }
    /// Records several polls' outcomes in one transaction.
    fn record_polls(&self, batch: &[(i64, PollRecord)]) -> Result<(), StoreError>;
    /// Health of every source, active first.
    fn source_health(&self) -> Result<Vec<SourceHealth>, StoreError>;
}

/// Items: what is new, and committing a poll's items with their alerts in one transaction.
pub trait Items {
    /// Classifies a poll's items against what is stored: by key, then GUID, canonical URL,
    /// and title+day. Checked before any expensive work (full-text fetch, extraction).
    fn classify(&self, source_id: i64, items: &[Identity]) -> Result<Vec<Seen>, StoreError>;
    /// Commits a poll: new items (each joined to its story), changed items, and the alerts
    /// of both, in one transaction. An alert is left out when its watch already alerted for
    /// the same story or item.
    fn commit_poll(
        &self,
        source_id: i64,
        now: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
    ) -> Result<InsertReport, StoreError>;
    /// A poll's items and alerts, and its outcome on the source's row, in one transaction:
    /// what the daemon does after every successful poll.
    fn commit_and_record(
        &self,
        source_id: i64,
        new: &[NewItem],
        changed: &[ChangedItem],
        rec: &PollRecord,
    ) -> Result<InsertReport, StoreError>;
    /// Commits several polls, each as [`Items::commit_and_record`] does, in as few
    /// transactions as the backend can: per poll, its report or its error. One poll's
    /// failure costs the others nothing.
    fn commit_polls(&self, polls: &[PollCommit]) -> Vec<Result<InsertReport, StoreError>> {
        polls
            .iter()
            .map(|p| self.commit_and_record(p.source_id, &p.new, &p.changed, &p.record))
            .collect()
    }
    /// Stored articles (not pruned) fetched since `since`, newest published first (stored
    /// time for undated ones), for `search`, until `f` breaks.
    fn each_article(
        &self,
        since: i64,
        f: &mut dyn FnMut(StoredArticle) -> ControlFlow<()>,
    ) -> Result<(), StoreError>;
    /// Text of the newest stored item of a source (a watched page's last version).
    fn latest_text(&self, source_id: i64) -> Result<Option<String>, StoreError>;
}

/// The alert outbox: one row per message and notifier, delivered at least once, in order.
pub trait Outbox {
    /// Pauses a notifier: its pending alerts wait, in order, until
    /// [`Outbox::resume_notifiers`].
    fn pause_notifier(&self, notifier: &str, reason: &str, now: i64) -> Result<(), StoreError>;
    /// The pause of a notifier, if it is paused.
    fn notifier_pause(&self, notifier: &str) -> Result<Option<Pause>, StoreError> {
        Ok(self
            .paused_notifiers()?
            .into_iter()
            .find(|p| p.notifier == notifier))
    }
    /// Every paused notifier, longest paused first.
    fn paused_notifiers(&self) -> Result<Vec<Pause>, StoreError>;
    /// Resumes every paused notifier; returns those that were.
    fn resume_notifiers(&self) -> Result<Vec<Pause>, StoreError>;
    /// Whether this node sends a notifier's messages until `now + lease_ms`: one node at a
    /// time does, so the order, digests and rate limits hold across nodes. Taken when free
    /// or expired, renewed by its holder.
    fn lease_notifier(&self, notifier: &str, now: i64, lease_ms: i64) -> Result<bool, StoreError>;
    /// Gives back every notifier lease this node holds, when it stops sending (the daemon
    /// stops, `once` ends): another node sends at once, not when the lease runs out.
    fn release_notifiers(&self) -> Result<(), StoreError>;
    /// Pending deliveries of one notifier that are due, oldest first.
    fn due_alerts(
        &self,
        notifier: &str,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// When the next pending delivery of a notifier is due, if any.
    fn next_attempt_at(&self, notifier: &str) -> Result<Option<i64>, StoreError>;
    /// The rows of one message (a single alert or a digest) were accepted by the receiver.
    fn mark_delivered(&self, seqs: &[i64], batch: &str, now: i64) -> Result<(), StoreError>;
    /// A failed attempt at a message: its rows stay pending until `next`, or end in a state.
    fn mark_attempt_failed(
        &self,
        seqs: &[i64],
        error: &str,
        next: Result<i64, DeliveryState>,
    ) -> Result<(), StoreError>;
    /// When each message this notifier delivered since `since` went out (rate limits).
    fn messages_since(&self, notifier: &str, since: i64) -> Result<Vec<i64>, StoreError>;
    /// Puts failed and dead deliveries (all, or those of one alert id) back in the queue
    /// with a fresh count of attempts. Returns how many rows.
    fn retry_failed(&self, id: Option<&str>, now: i64) -> Result<usize, StoreError>;
}

/// What the status page and the CLI's listings read: bounded pages through indexes.
pub trait Views {
    /// The overview's counts.
    fn overview(&self, now: i64) -> Result<Overview, StoreError>;
    /// Stories alerted per watch and day (days since the epoch, UTC) since `since`.
    fn alerts_per_day(&self, since: i64) -> Result<Vec<(String, i64, i64)>, StoreError>;
    /// Stories alerted per watch since `since`, most first.
    fn alerts_per_watch(&self, since: i64) -> Result<Vec<(String, i64)>, StoreError>;
    /// How many sources pass `filter`, and one page of them.
    fn source_page(
        &self,
        filter: SourceFilter,
        offset: usize,
        limit: usize,
    ) -> Result<(i64, Vec<SourceHealth>), StoreError>;
    /// The last [`POLL_HISTORY`] polls of each source, oldest first.
    fn poll_strips(&self, sources: &[i64]) -> Result<HashMap<i64, Vec<PollMark>>, StoreError>;
    /// Deliveries created since `since` and before row `before`, newest first, of one watch
    /// and in some states if asked.
    fn delivery_page(
        &self,
        since: i64,
        watch: Option<&str>,
        states: &[DeliveryState],
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<DeliveryRow>, StoreError>;
    /// Deliveries created since `since`, newest first, optionally of one watch (among the
    /// watches it lists).
    fn recent_alerts(
        &self,
        since: i64,
        watch: Option<&str>,
    ) -> Result<Vec<AlertStatus>, StoreError> {
        let rows = self.delivery_page(since, watch, &[], None, usize::MAX)?;
        Ok(rows.into_iter().map(|r| r.status).collect())
    }
}

/// Retention and the health checks.
pub trait Upkeep {
    /// Old articles lose their text but keep their identity (a tombstone), so an item that
    /// reappears in a feed is not new again; old finished alerts, stories and polls go.
    fn prune(&self, now: i64, keep_ms: i64) -> Result<PruneReport, StoreError>;
    /// Counts for `/metrics`.
    fn gauges(&self) -> Result<Gauges, StoreError>;
    /// Whether the store takes writes (for `/healthz`).
    fn check_writable(&self) -> Result<(), StoreError>;
    /// Frees what the backend caches and can read again.
    fn release_memory(&self) -> Result<(), StoreError>;
    /// Refreshes the query planner's statistics of the tables polls fill: after the first
    /// cycle (plans made while they looked empty would read every row) and after retention.
    fn refresh_statistics(&self) -> Result<(), StoreError>;
}

/// The daemons sharing one store. A SQLite store has one (its lock file refuses a second).
pub trait Cluster {
    /// This node's name.
    fn node(&self) -> &str;
    /// Whether other daemons may share the store (then the heartbeat runs).
    fn is_shared(&self) -> bool;
    /// Says this node is alive (with the hash of its config); called every
    /// [`HEARTBEAT_MS`]. Takes back the leases of nodes silent for [`SILENT_AFTER_MS`], so
    /// their sources are polled and their notifiers' messages sent without waiting for the
    /// leases to run out; says how many sources were taken back, and the configs of the
    /// nodes still alive.
    fn heartbeat(&self, now: i64, config_hash: &str) -> Result<Heartbeat, StoreError>;
    /// Every node the store has heard from, with its leases.
    fn nodes(&self, now: i64) -> Result<Vec<NodeStatus>, StoreError>;
}

/// How often a node says it is alive.
pub const HEARTBEAT_MS: i64 = 5_000;
/// A node silent this long is taken for dead: its leases go to the others.
pub const SILENT_AFTER_MS: i64 = 30_000;

/// Everything a backend does.
pub trait Backend: Sources + Items + Outbox + Views + Upkeep + Cluster + Send + Sync {}

impl<T: Sources + Items + Outbox + Views + Upkeep + Cluster + Send + Sync> Backend for T {}

/// Handle to the store: cheap to clone, calls go to the backend (`store.due_sources(..)`).
/// Store work blocks, so async code runs it through [`Store::blocking`].
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// Outcomes of polls that changed nothing but their source's row, waiting to be written
    /// together (see [`Store::defer_record`]).
    deferred: Arc<Mutex<Vec<(i64, PollRecord)>>>,
    /// Polls waiting to be committed together (see [`Store::commit`]).
    group: Arc<group::Group>,
}

/// Deferred poll outcomes are written once this many wait...
pub(crate) const DEFER_BATCH: usize = 64;
/// ...or once the oldest waited this long (milliseconds).
pub(crate) const DEFER_MS: i64 = 10_000;

impl std::ops::Deref for Store {
    type Target = dyn Backend;

    fn deref(&self) -> &Self::Target {
        &*self.backend
    }
}

impl Store {
    /// A handle on `backend`.
    pub fn new(backend: impl Backend + 'static) -> Store {
        Store {
            backend: Arc::new(backend),
            deferred: Arc::new(Mutex::new(Vec::new())),
            group: Arc::default(),
        }
    }

    /// Opens (creating if needed) and migrates the SQLite store at `path`.
    pub fn open(path: &std::path::Path) -> Result<Store, StoreError> {
        Ok(Store::new(SqliteStore::open(path)?))
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

    /// Queues the outcome of a poll that found nothing new on a healthy source, to be written
    /// with others in one transaction: a warm cycle of 1,000 sources answering 304 spent a
    /// third of its CPU committing them one by one. Only the source's times are at stake if
    /// the process dies first (it is polled again sooner, and a lost ETag costs one full
    /// fetch); items and alerts are never deferred. Written once [`DEFER_BATCH`] wait or the
    /// oldest is [`DEFER_MS`] old, and by [`Store::flush_records`], which the scheduler
    /// calls when its polls drain and before it claims more; well within a claim's lease.
    pub async fn defer_record(&self, source_id: i64, rec: PollRecord) -> Result<(), StoreError> {
        let now = rec.at;
        let full = {
            let mut queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            queue.push((source_id, rec));
            queue.len() >= DEFER_BATCH
        };
        if full || self.deferred_due(now) {
            self.blocking(|s| s.flush_records()).await?;
        }
        Ok(())
    }

    /// Whether deferred outcomes wait that are [`DEFER_MS`] old at `now`: the scheduler's
    /// cue to write them without waiting for a full batch.
    pub fn deferred_due(&self, now: i64) -> bool {
        let queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
        queue
            .first()
            .is_some_and(|(_, rec)| rec.at <= now - DEFER_MS)
    }

    /// Writes the deferred poll outcomes in one transaction; how many there were. When the
    /// write fails they wait again, ahead of any deferred since, for the next flush.
    pub fn flush_records(&self) -> Result<usize, StoreError> {
        let batch = std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|p| p.into_inner()));
        if batch.is_empty() {
            return Ok(0);
        }
        if let Err(e) = self.backend.record_polls(&batch) {
            let mut queue = self.deferred.lock().unwrap_or_else(|p| p.into_inner());
            let since = std::mem::replace(&mut *queue, batch);
            queue.extend(since);
            return Err(e);
        }
        Ok(batch.len())
    }
}
