//! The one place where the config becomes runtime objects: the HTTP client, the store, the
//! matcher with its routes, the notifiers. No other module reads the config structs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Channel, Config, NotifierSettings, PostgresSettings};
use crate::fetch::{FetchOptions, Fetcher};
use crate::matcher::Matcher;
use crate::metrics::Metrics;
use crate::model::Source;
use crate::notify::dispatcher::{Dispatcher, RetryPolicy};
use crate::notify::email::EmailNotifier;
use crate::notify::webhook::WebhookNotifier;
use crate::notify::{NamedNotifier, Notifier, Secret, console::ConsoleNotifier};
use crate::pipeline::HealthRule;
use crate::pipeline::{PollContext, PollLimits, Watchlist};
use crate::store::{PgTarget, PostgresStore, SourceSpec, Store, StoreLock};
use crate::time::{Clock, ms};

/// Everything the daemon runs with; rebuilt whole on reload (the store is kept).
pub struct Runtime {
    pub(crate) ctx: PollContext,
    pub(crate) sources: HashMap<String, Source>,
    pub(crate) notifiers: Arc<Vec<NamedNotifier>>,
    pub(crate) policy: RetryPolicy,
    pub(crate) concurrency: usize,
    /// How long a claimed source stays leased to a poll that never reports back.
    pub(crate) lease: Duration,
    /// Retention of article text (`[store] keep`).
    pub(crate) keep: Duration,
    /// Where to serve the status page, `/metrics` and `/healthz`, if anywhere.
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// The variable with the status page's token (`[http] token_env`).
    pub(crate) token_env: Option<String>,
    /// The config file's hash, which nodes sharing a database compare.
    pub(crate) config_hash: String,
    /// How long a node keeps a notifier to itself after last saying so (PostgreSQL): longer
    /// than one message can take to send.
    pub(crate) notifier_lease: Duration,
}

/// What one round of deliveries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Alerts the receivers accepted.
    pub delivered: usize,
    /// Alerts that failed for now and wait for their next attempt.
    pub retrying: usize,
    /// Alerts refused for good, or given up on (dead letters).
    pub failed: usize,
}

/// Spread of first polls for new sources: 50 ms per new source, at most their interval,
/// so a thousand sources added at once do not fire in the same second.
const SPREAD_PER_SOURCE_MS: i64 = 50;

impl Runtime {
    /// Builds the runtime and makes the store's sources match the config.
    pub fn build(config: &Config, store: Store) -> anyhow::Result<Runtime> {
        Self::build_with(config, store, Arc::default())
    }

    /// Builds the runtime keeping `metrics` (a reload does not reset the counters).
    pub fn build_with(
        config: &Config,
        store: Store,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Runtime> {
        Self::build_at(config, store, metrics, Clock::system())
    }

    /// Builds the runtime on `clock` (tests move a manual one instead of waiting).
    pub fn build_at(
        config: &Config,
        store: Store,
        metrics: Arc<Metrics>,
        clock: Clock,
    ) -> anyhow::Result<Runtime> {
        let fetcher =
            Fetcher::new(&fetch_options(config)).context("cannot build the HTTP client")?;
        let watchlist = Arc::new(watchlist(config)?);
        let sources = config.sources.clone();
        let specs: Vec<SourceSpec> = sources
            .iter()
            .map(|s| SourceSpec {
                name: s.name.clone(),
                kind: s.source_type(),
                url: s.url.to_string(),
                interval_ms: ms(s.interval),
            })
            .collect();
        store
            .sync_sources(
                &specs,
                clock.now(),
                SPREAD_PER_SOURCE_MS * specs.len() as i64,
            )
            .context("cannot record the configured sources")?;
        let notifiers = Arc::new(notifiers(config, &fetcher)?);
        Ok(Runtime {
            ctx: PollContext {
                fetcher,
                store,
                watchlist,
                health: Arc::new(health_rule(config)),
                metrics: metrics.clone(),
                limits: PollLimits {
                    max_hint: config.fetch.max_hint,
                    max_backoff: config.fetch.max_backoff,
                    max_pages: config.fetch.max_pages_per_poll,
                    // Page fetches start for two timeouts; the one in flight then ends within
                    // a third, cleaning follows: all well inside the lease below.
                    page_time: config.fetch.timeout.saturating_mul(2),
                    deadline: config.fetch.timeout.saturating_mul(3) + Duration::from_secs(45),
                },
                clock,
                refused: Arc::default(),
            },
            sources: sources.into_iter().map(|s| (s.name.clone(), s)).collect(),
            notifiers,
            policy: RetryPolicy {
                initial: config.delivery.retry_initial,
                max: config.delivery.retry_max,
                give_up_after: config.delivery.give_up_after,
            },
            concurrency: config.fetch.concurrency,
            lease: config.fetch.timeout.saturating_mul(4) + Duration::from_secs(60),
            keep: config.store.keep,
            listen: config.http.listen,
            token_env: config.http.token_env.clone(),
            config_hash: config.hash.clone(),
            // A notifier's timeout is the fetch timeout.
            notifier_lease: config.fetch.timeout.saturating_mul(2) + Duration::from_secs(10),
        })
    }

    /// Applies retention; logs what it pruned.
    pub async fn prune(&self) -> anyhow::Result<()> {
        let (keep, now) = (ms(self.keep), self.ctx.clock.now());
        let r = self.ctx.store.blocking(move |s| s.prune(now, keep)).await?;
        self.ctx.store.blocking(|s| s.refresh_statistics()).await?;
        if r.items + r.alerts + r.stories > 0 {
            tracing::info!(
                items = r.items,
                alerts = r.alerts,
                stories = r.stories,
                "pruned past retention"
            );
        }
        Ok(())
    }

    /// Delivers every alert due now, each notifier at once (for `once`).
    pub async fn deliver_due(&self) -> anyhow::Result<DeliveryReport> {
        let r = self.dispatcher().deliver_due().await?;
        Ok(DeliveryReport {
            delivered: r.delivered,
            retrying: r.retrying,
            failed: r.failed,
        })
    }

    pub(crate) fn dispatcher(&self) -> Dispatcher {
        let dispatcher = Dispatcher::new(
            self.ctx.store.clone(),
            self.notifiers.clone(),
            self.policy,
            self.ctx.metrics.clone(),
            self.ctx.clock.clone(),
        );
        if self.ctx.store.is_shared() {
            dispatcher.shared(self.notifier_lease)
        } else {
            dispatcher
        }
    }
}

/// Health alerts go to `[health] notify`, else to every notifier.
fn health_rule(config: &Config) -> HealthRule {
    HealthRule {
        alert_after_ms: ms(config.health.alert_after),
        notifiers: config.health.notify.clone(),
    }
}

/// Opens the store named by the config, creating it if it is missing.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    match &config.store.postgres {
        None => {
            let path = config.store_path();
            Store::open(&path)
                .with_context(|| format!("cannot open the store at {}", path.display()))
        }
        Some(pg) => Ok(Store::new(connect_postgres(pg)?)),
    }
}

fn connect_postgres(pg: &PostgresSettings) -> anyhow::Result<PostgresStore> {
    let password = match &pg.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            anyhow::anyhow!("[store] password_env names {var}, which is not set (or not UTF-8)")
        })?),
        None => None,
    };
    let target = PgTarget {
        url: pg.url.clone(),
        tls: pg.tls.clone(),
        password,
        node: pg.node.clone().unwrap_or_else(host_name),
    };
    PostgresStore::connect(&target).context("cannot open the PostgreSQL store")
}

/// This machine's name: a node's default name among the daemons sharing a database.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "feedwatch".to_string(),
    }
}

/// Opens the store for a command that only reads it (or re-queues deliveries): a missing
/// store is an error saying where it was looked for, never a new empty one.
pub fn open_existing_store(config: &Config) -> anyhow::Result<Store> {
    if config.store.postgres.is_some() {
        return open_store(config);
    }
    let path = config.store_path();
    if !path.exists() {
        anyhow::bail!(
            "no store at {} ([store] path in {}{}); nothing has been polled with this config yet, \
             or the daemon's config names another store",
            path.display(),
            config.file.display(),
            if std::env::var_os("STATE_DIRECTORY").is_some() {
                ", under $STATE_DIRECTORY"
            } else {
                ""
            }
        );
    }
    open_store(config)
}

/// Holds the store for `run` or `once`, then opens it: a SQLite file by its lock file (see
/// [`StoreLock`]), a node of a PostgreSQL store by its name (one daemon per name), so a
/// second daemon is refused at once instead of delivering alerts twice.
pub fn hold_store(config: &Config) -> anyhow::Result<(Option<StoreLock>, Store)> {
    match &config.store.postgres {
        None => {
            let lock = StoreLock::acquire(&config.store_path()).map_err(anyhow::Error::msg)?;
            Ok((Some(lock), open_store(config)?))
        }
        Some(pg) => {
            let store = connect_postgres(pg)?;
            store.hold_node()?;
            Ok((None, Store::new(store)))
        }
    }
}

/// The shared HTTP client's limits and identity.
pub fn fetch_options(config: &Config) -> FetchOptions {
    let f = &config.fetch;
    FetchOptions {
        timeout: f.timeout,
        connect_timeout: f.connect_timeout,
        max_body: f.max_body,
        per_host: f.per_host,
        host_delay: f.host_delay,
        max_redirects: f.max_redirects,
        user_agent: f.user_agent.clone(),
        allow_private: f.allow_private,
    }
}

/// Compiles the watches and their routes.
pub fn watchlist(config: &Config) -> anyhow::Result<Watchlist> {
    let specs = config.watches.iter().map(|w| w.spec.clone()).collect();
    let routes = config
        .watches
        .iter()
        .map(|w| (w.spec.name.clone(), w.notify.clone()))
        .collect();
    Ok(Watchlist {
        matcher: Matcher::new(specs)?,
        routes,
    })
}

/// The notifiers, each with its sending rules.
pub fn notifiers(config: &Config, fetcher: &Fetcher) -> anyhow::Result<Vec<NamedNotifier>> {
    config
        .notifiers
        .iter()
        .map(|n| {
            let notifier = build_notifier(n, fetcher, config.fetch.timeout)
                .with_context(|| format!("notifier \"{}\"", n.name))?;
            Ok(NamedNotifier {
                name: n.name.clone(),
                notifier,
                policy: n.rules.clone(),
            })
        })
        .collect()
}

fn build_notifier(
    n: &NotifierSettings,
    fetcher: &Fetcher,
    timeout: Duration,
) -> anyhow::Result<Notifier> {
    let secret = |var: &Option<String>| var.as_deref().map(Secret::from_env);
    let templates = n.templates.clone();
    Ok(match &n.channel {
        Channel::Console => Notifier::Console(ConsoleNotifier),
        Channel::Webhook(w) => Notifier::Webhook(WebhookNotifier::new(
            fetcher.client().clone(),
            w,
            templates,
            secret(&w.secret_env),
        )),
        Channel::Email(e) => Notifier::Email(
            EmailNotifier::new(e, secret(&e.password_env), timeout, templates, n.rules.tz)
                .map_err(anyhow::Error::msg)?,
        ),
    })
}

/// Environment variables a notifier names and that are not set, with the notifier: `check`
/// warns about them (deliveries through it would wait for them). Every notifier counts, used
/// or not, and every `${VAR}` of a webhook's URL and headers.
pub fn missing_secrets(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in &config.notifiers {
        let vars = match &n.channel {
            Channel::Email(e) => e.password_env.iter().cloned().collect(),
            Channel::Webhook(w) => w.env_vars(),
            Channel::Console => Vec::new(),
        };
        for var in vars {
            if !Secret::from_env(&var).is_set() && !out.iter().any(|(_, v)| *v == var) {
                out.push((n.name.clone(), var));
            }
        }
    }
    out
}

/// Each source's tags by its name: watches restricted by tags see them.
pub fn source_tags(config: &Config) -> HashMap<String, Vec<String>> {
    config
        .sources
        .iter()
        .map(|s| (s.name.clone(), s.tags.clone()))
        .collect()
}

/// Notifiers that no watch routes to (a typo in a watch's `notify`, or a leftover): `check`
/// warns, since they send no alert (health alerts aside).
pub fn unused_notifiers(config: &Config) -> Vec<String> {
    config
        .notifiers
        .iter()
        .map(|n| &n.name)
        .filter(|name| !config.watches.iter().any(|w| w.notify.contains(name)))
        .cloned()
        .collect()
}
