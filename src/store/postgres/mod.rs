//! The PostgreSQL backend: several daemons ("nodes") share one database. Each node polls
//! the sources its own config lists, claiming due ones with `FOR UPDATE SKIP LOCKED` and a
//! lease (`leased_by`, `lease_until`), so no source is polled by two nodes at once and a dead
//! node's sources are taken over when its leases expire. One node at a time sends a
//! notifier's messages (`notifier_leases`), so order, digests and rate limits hold across
//! nodes. New items join stories under one advisory lock, so copies of an article reaching
//! two nodes at once still alert once.
//!
//! The interface is synchronous (the stages call the store from blocking threads); the
//! client is tokio-postgres with a deadpool pool, driven by a small runtime of the store's
//! own, so a call works from any thread.

mod alerts;
mod items;
mod schema;
mod sources;
mod tls;
mod views;

pub use items::STORY_LOCK;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Row;

use super::story_index::StoryIndex;
use super::{Cluster, Heartbeat, NodeStatus, SILENT_AFTER_MS, StoreError};
use crate::model::{PgTls, PollStatus, SourceType};
use crate::store::DeliveryState;

/// Where the database is and who this node is.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// `postgres://user@host:port/dbname?...`, without `sslmode` and `sslrootcert`.
    pub url: String,
    /// How the server is reached over TLS.
    pub tls: PgTls,
    /// The password, when it is not in the URL (from `password_env`).
    pub password: Option<String>,
    /// This node's name in the cluster.
    pub node: String,
}

/// A PostgreSQL store shared by several nodes.
pub struct PostgresStore {
    pool: Pool,
    /// Drives the connections; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
    node: String,
    /// `host:port/dbname`, for messages (never the password).
    label: String,
    /// When this process opened the store (ms).
    started_at: i64,
    /// Recent story fingerprints and the highest story id read into them.
    stories: Mutex<Option<(StoryIndex, i64)>>,
    /// The connection holding this node's name (see [`PostgresStore::hold_node`]).
    held: Mutex<Option<deadpool_postgres::ClientWrapper>>,
}

/// Connections per node: the blocking threads that call the store, and a few for the CLI.
const POOL_SIZE: usize = 8;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        StoreError::Postgres(describe(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => StoreError::Postgres(other.to_string()),
        }
    }
}

/// The server's own words for a refused statement (tokio-postgres says only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            s.push_str(": ");
            s.push_str(detail);
        }
        return s;
    }
    crate::text::error_chain(e)
}

impl PostgresStore {
    /// Connects to the database, and creates or migrates its tables.
    pub fn connect(target: &PgTarget) -> Result<PostgresStore, StoreError> {
        let store = PostgresStore::build(target)?;
        store.migrate(schema::VERSION as usize)?;
        Ok(store)
    }

    /// Brings the database to schema version `version` only: tests build a database of an
    /// older version with it.
    #[doc(hidden)]
    pub fn migrate_for_tests(target: &PgTarget, version: usize) -> Result<(), StoreError> {
        PostgresStore::build(target)?.migrate(version)
    }

    fn build(target: &PgTarget) -> Result<PostgresStore, StoreError> {
        let mut config: tokio_postgres::Config =
            target.url.parse().map_err(|e| StoreError::Open {
                path: "the [store] url".into(),
                message: describe(&e),
            })?;
        if let Some(password) = &target.password {
            config.password(password);
        }
        // So that `pg_stat_activity` tells the nodes' connections apart.
        if config.get_application_name().is_none() {
            config.application_name(format!("feedwatch {}", target.node));
        }
        let label = label(&config);
        let open_err = |message: String| StoreError::Open {
            path: label.clone(),
            message,
        };
        config.ssl_mode(tls::ssl_mode(target.tls.mode, config.get_hosts()));
        let tls = tls::client_config(&target.tls)
            .map_err(|e| open_err(format!("cannot set up TLS: {e}")))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres_rustls::MakeRustlsConnect::new(tls),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("feedwatch-pg")
            .enable_all()
            .build()
            .map_err(|e| open_err(format!("cannot start the database runtime: {e}")))?;
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| open_err(e.to_string()))?;
        Ok(PostgresStore {
            pool,
            runtime: Some(runtime),
            node: target.node.clone(),
            label,
            started_at: crate::time::now_ms(),
            stories: Mutex::new(None),
            held: Mutex::new(None),
        })
    }

    /// Connects once (so a wrong address or password is said at start) and migrates.
    fn migrate(&self, version: usize) -> Result<(), StoreError> {
        let open_err = |message: String| StoreError::Open {
            path: self.label.clone(),
            message,
        };
        self.run(async {
            let mut client = self.pool.get().await.map_err(|e| match e {
                deadpool_postgres::PoolError::Backend(e) => open_err(describe(&e)),
                other => open_err(other.to_string()),
            })?;
            schema::migrate_to(&mut client, &self.label, version).await
        })
    }

    /// Holds this node's name for as long as the store lives: a session advisory lock on a
    /// connection of its own, which the server drops when the process ends, however it ends.
    /// A second daemon with the same name on the same database is refused, as a second
    /// daemon on one SQLite file is.
    pub fn hold_node(&self) -> Result<(), StoreError> {
        self.run(async {
            let held = self.take_node().await?;
            *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(held);
            Ok(())
        })
    }

    /// The name's lock on a connection of its own, taken out of the pool.
    async fn take_node(&self) -> Result<deadpool_postgres::ClientWrapper, StoreError> {
        let client = self.client().await?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&node_lock(&self.node)])
            .await?
            .try_get(0)?;
        if !got {
            return Err(StoreError::NodeTaken {
                path: self.label.clone(),
                node: self.node.clone(),
            });
        }
        Ok(deadpool_postgres::Object::take(client))
    }

    /// Takes this node's name again when the connection holding it was closed (a database
    /// restart, a terminated backend): the server let the lock go with it. Says whether it
    /// did; refused when another daemon took the name meanwhile.
    async fn keep_node(&self) -> Result<bool, StoreError> {
        let lost = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|c| c.is_closed());
        if !lost {
            return Ok(false);
        }
        let held = self.take_node().await?;
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = Some(held);
        Ok(true)
    }

    /// Runs `f` to completion on this thread, its I/O driven by the store's runtime.
    fn run<T>(&self, f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        let runtime = self.runtime.as_ref().expect("present until dropped");
        let _enter = runtime.enter();
        block_on(f)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which async code may not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The key of the session advisory lock that holds node `node`'s name (as `pg_locks` shows
/// it while the node runs).
pub fn node_lock(node: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("feedwatch node {node}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// `host:port/dbname` of a connection string.
fn label(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{host}:{port}/{}",
        config.get_dbname().unwrap_or("")
    )
}

/// Polls a future on the calling thread until it is ready. The store's calls come from
/// blocking threads (and the CLI's main task), none of which may start a runtime of its own.
fn block_on<T>(f: impl Future<Output = T>) -> T {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Runs a prepared statement under a plan made once per connection: `SET LOCAL
/// plan_cache_mode = force_generic_plan` in a transaction of its own, the three sent at once.
/// For statements the server would otherwise plan anew at every call (a plan made for the
/// values looked cheaper to it than the generic one), although their best plan is the same
/// whatever the values.
async fn query_planned_once(
    client: &tokio_postgres::Client,
    stmt: &tokio_postgres::Statement,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let (_, rows, _) = futures_util::future::try_join3(
        client.batch_execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"),
        client.query(stmt, params),
        client.batch_execute("COMMIT"),
    )
    .await?;
    Ok(rows)
}

/// A stored enum's text, read back strictly.
fn parse<T>(
    row: &Row,
    idx: usize,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    let s: String = row.try_get(idx)?;
    parse(&s).ok_or_else(|| StoreError::Postgres(format!("unknown {what} \"{s}\" in the store")))
}

fn source_type(row: &Row, idx: usize) -> Result<SourceType, StoreError> {
    parse(row, idx, "source kind", SourceType::parse)
}

fn poll_status(row: &Row, idx: usize) -> Result<Option<PollStatus>, StoreError> {
    match row.try_get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(_) => parse(row, idx, "poll status", PollStatus::parse).map(Some),
    }
}

fn delivery_state(row: &Row, idx: usize) -> Result<DeliveryState, StoreError> {
    parse(row, idx, "delivery state", DeliveryState::parse)
}

/// Nodes not heard from for this long no longer keep their sources active.
pub(crate) const NODE_GONE_MS: i64 = 10 * 60 * 1000;

impl Cluster for PostgresStore {
    fn node(&self) -> &str {
        &self.node
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn heartbeat(&self, now: i64, config_hash: &str) -> Result<Heartbeat, StoreError> {
        self.run(async {
            let retaken = self.keep_node().await?;
            let mut client = self.client().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO nodes (node, started_at, heartbeat_at, config_hash)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (node) DO UPDATE SET started_at = excluded.started_at,
                    heartbeat_at = excluded.heartbeat_at, config_hash = excluded.config_hash",
                &[&self.node, &self.started_at, &now, &config_hash],
            )
            .await?;
            let silent = now - SILENT_AFTER_MS;
            let taken = tx
                .execute(
                    "UPDATE sources SET next_poll_at = LEAST(next_poll_at, $2), leased_by = NULL,
                        lease_until = NULL
                     WHERE leased_by IN (SELECT node FROM nodes WHERE node <> $1 AND heartbeat_at < $3)",
                    &[&self.node, &now, &silent],
                )
                .await?;
            tx.execute(
                "DELETE FROM notifier_leases
                 WHERE node IN (SELECT node FROM nodes WHERE node <> $1 AND heartbeat_at < $2)",
                &[&self.node, &silent],
            )
            .await?;
            let peers = tx
                .query(
                    "SELECT node, config_hash FROM nodes WHERE node <> $1 AND heartbeat_at >= $2
                     ORDER BY node",
                    &[&self.node, &silent],
                )
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_, StoreError>>()?;
            tx.commit().await?;
            Ok(Heartbeat {
                taken,
                peers,
                retaken,
            })
        })
    }

    fn nodes(&self, now: i64) -> Result<Vec<NodeStatus>, StoreError> {
        self.run(async {
            let client = self.client().await?;
            let rows = client
                .query(
                    "SELECT n.node, n.heartbeat_at, n.started_at, n.config_hash,
                        (SELECT COUNT(*) FROM sources s WHERE s.leased_by = n.node AND s.lease_until > $1),
                        (SELECT COUNT(*) FROM node_sources ns WHERE ns.node = n.node)
                     FROM nodes n ORDER BY n.heartbeat_at DESC, n.node",
                    &[&now],
                )
                .await?;
            rows.iter()
                .map(|r| {
                    Ok(NodeStatus {
                        node: r.try_get(0)?,
                        heartbeat_at: r.try_get(1)?,
                        started_at: r.try_get(2)?,
                        config_hash: r.try_get(3)?,
                        leases: r.try_get(4)?,
                        sources: r.try_get(5)?,
                    })
                })
                .collect()
        })
    }
}
