//! The one place where the config becomes runtime objects: the HTTP client, the store, the
//! matcher with its routes, the notifiers. No other module reads the config structs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, NotifierConfig, NotifierKind};
use crate::fetch::{FetchOptions, Fetcher};
use crate::matcher::{Matcher, WatchSpec};
use crate::metrics::Metrics;
use crate::model::{Source, SourceKind};
use crate::notify::dispatcher::{Dispatcher, RetryPolicy};
use crate::notify::email::{EmailNotifier, SmtpTarget};
use crate::notify::format::WebhookFormat;
use crate::notify::schedule::{self, SendPolicy};
use crate::notify::template::Templates;
use crate::notify::webhook::WebhookNotifier;
use crate::notify::{NamedNotifier, Notifier, Secret, console::ConsoleNotifier};
use crate::pipeline::{PollContext, PollLimits, Watchlist};
use crate::store::{HealthRule, SourceSpec, Store};
use crate::time::{ms, now_ms};

/// Everything the daemon runs with; rebuilt whole on reload (the store is kept).
pub struct Runtime {
    pub ctx: PollContext,
    pub sources: HashMap<String, Source>,
    pub notifiers: Arc<Vec<NamedNotifier>>,
    pub policy: RetryPolicy,
    pub concurrency: usize,
    pub per_host: usize,
    pub host_delay: Duration,
    /// How long a claimed source stays leased to a poll that never reports back.
    pub lease: Duration,
    /// Retention of article text (`[store] keep`).
    pub keep: Duration,
    /// Where to serve `/metrics` and `/healthz`, if anywhere.
    pub listen: Option<std::net::SocketAddr>,
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
        let fetcher =
            Fetcher::new(&fetch_options(config)).context("cannot build the HTTP client")?;
        let watchlist = Arc::new(watchlist(config)?);
        let sources = sources(config);
        let specs: Vec<SourceSpec> = sources
            .iter()
            .map(|s| SourceSpec {
                name: s.name.clone(),
                kind: s.kind_name(),
                url: s.url.to_string(),
                interval_ms: ms(s.interval),
            })
            .collect();
        store
            .sync_sources(&specs, now_ms(), SPREAD_PER_SOURCE_MS * specs.len() as i64)
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
                    max_hint: config.fetch.max_hint.0,
                    max_backoff: config.fetch.max_backoff.0,
                },
            },
            sources: sources.into_iter().map(|s| (s.name.clone(), s)).collect(),
            notifiers,
            policy: RetryPolicy {
                initial: config.delivery.retry_initial.0,
                max: config.delivery.retry_max.0,
                give_up_after: config.delivery.give_up_after.0,
            },
            concurrency: config.fetch.concurrency,
            per_host: config.fetch.per_host,
            host_delay: config.fetch.host_delay.0,
            lease: config.fetch.timeout.0 * 4 + Duration::from_secs(60),
            keep: config.store.keep.0,
            listen: config
                .http
                .listen
                .as_ref()
                .and_then(|l| l.get_ref().parse().ok()),
        })
    }

    /// Applies retention; logs what it pruned.
    pub async fn prune(&self) -> anyhow::Result<()> {
        let keep = ms(self.keep);
        let r = self
            .ctx
            .store
            .blocking(move |s| s.prune(now_ms(), keep))
            .await?;
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

    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(
            self.ctx.store.clone(),
            self.notifiers.clone(),
            self.policy,
            self.ctx.metrics.clone(),
        )
    }
}

/// Health alerts go to `[health] notify`, else to every notifier.
fn health_rule(config: &Config) -> HealthRule {
    let notifiers = match &config.health.notify {
        Some(list) => list.iter().map(|n| n.get_ref().clone()).collect(),
        None => config
            .notifiers
            .iter()
            .map(|n| n.name.get_ref().clone())
            .collect(),
    };
    HealthRule {
        alert_after_ms: ms(config.health.alert_after.0),
        notifiers,
    }
}

/// Opens the store named by the config.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let path = config.store_path();
    Store::open(&path).with_context(|| format!("cannot open the store at {}", path.display()))
}

pub fn fetch_options(config: &Config) -> FetchOptions {
    FetchOptions {
        timeout: config.fetch.timeout.0,
        connect_timeout: config.fetch.connect_timeout.0,
        max_body: config.fetch.max_body.0,
        max_redirects: config.fetch.max_redirects,
        user_agent: config.fetch.user_agent.clone(),
        allow_private: config.fetch.allow_private,
    }
}

/// Feeds and pages, in config order.
pub fn sources(config: &Config) -> Vec<Source> {
    let url = |u: &str| url::Url::parse(u).expect("validated at load");
    let feeds = config.feeds.iter().map(|f| Source {
        name: f.name.get_ref().clone(),
        url: url(f.url.get_ref()),
        interval: f.interval.0,
        tags: f.tags.clone(),
        kind: SourceKind::Feed {
            full_text: f.full_text,
        },
    });
    let pages = config.pages.iter().map(|p| Source {
        name: p.name.get_ref().clone(),
        url: url(p.url.get_ref()),
        interval: p.interval.0,
        tags: p.tags.clone(),
        kind: SourceKind::Page {
            mode: p.mode,
            select: p.select.as_ref().map(|s| s.get_ref().clone()),
        },
    });
    feeds.chain(pages).collect()
}

/// Compiles the watches and their routes (default: every notifier).
pub fn watchlist(config: &Config) -> anyhow::Result<Watchlist> {
    let all: Vec<String> = config
        .notifiers
        .iter()
        .map(|n| n.name.get_ref().clone())
        .collect();
    let specs = config
        .watches
        .iter()
        .map(|w| WatchSpec {
            name: w.name.get_ref().clone(),
            terms: w.terms.iter().map(|t| t.get_ref().clone()).collect(),
            exclude: w.exclude.iter().map(|t| t.get_ref().clone()).collect(),
            query: w.query.as_ref().map(|q| q.get_ref().clone()),
            sources: w.sources.iter().map(|s| s.get_ref().clone()).collect(),
            tags: w.tags.clone(),
        })
        .collect();
    let routes = config
        .watches
        .iter()
        .map(|w| {
            let to = match &w.notify {
                Some(list) => list.iter().map(|n| n.get_ref().clone()).collect(),
                None => all.clone(),
            };
            (w.name.get_ref().clone(), to)
        })
        .collect();
    Ok(Watchlist {
        matcher: Matcher::new(specs)?,
        routes,
    })
}

pub fn notifiers(config: &Config, fetcher: &Fetcher) -> anyhow::Result<Vec<NamedNotifier>> {
    config
        .notifiers
        .iter()
        .map(|n| {
            let context = || format!("notifier \"{}\"", n.name.get_ref());
            let notifier =
                build_notifier(n, fetcher, config.fetch.timeout.0).with_context(context)?;
            let policy = send_policy(n)
                .map_err(anyhow::Error::msg)
                .with_context(context)?;
            Ok(NamedNotifier {
                name: n.name.get_ref().clone(),
                notifier,
                policy,
            })
        })
        .collect()
}

fn send_policy(n: &NotifierConfig) -> Result<SendPolicy, String> {
    Ok(SendPolicy {
        digest: n
            .digest
            .as_ref()
            .map(|d| schedule::parse_digest(d.get_ref()))
            .transpose()?,
        max_per_hour: n.max_per_hour.as_ref().map(|m| *m.get_ref()),
        quiet: n
            .quiet_hours
            .as_ref()
            .map(|q| schedule::parse_quiet(q.get_ref()))
            .transpose()?,
        tz: n
            .timezone
            .as_ref()
            .map(|t| {
                t.get_ref()
                    .parse()
                    .map_err(|_| format!("unknown time zone {}", t.get_ref()))
            })
            .transpose()?,
    })
}

fn templates(n: &NotifierConfig) -> anyhow::Result<Option<Templates>> {
    let slots = [
        ("subject_template", &n.subject_template),
        ("text_template", &n.text_template),
        ("html_template", &n.html_template),
        ("body_template", &n.body_template),
    ];
    let sources: Vec<(&'static str, String)> = slots
        .into_iter()
        .filter_map(|(key, t)| {
            t.as_ref()
                .map(|t| (crate::config::template_name(key), t.get_ref().clone()))
        })
        .collect();
    if sources.is_empty() {
        return Ok(None);
    }
    Ok(Some(Templates::new(sources).map_err(anyhow::Error::msg)?))
}

fn build_notifier(
    n: &NotifierConfig,
    fetcher: &Fetcher,
    timeout: Duration,
) -> anyhow::Result<Notifier> {
    let secret =
        |s: &Option<toml::Spanned<String>>| s.as_ref().map(|v| Secret::from_env(v.get_ref()));
    let templates = templates(n)?;
    Ok(match n.kind.get_ref() {
        NotifierKind::Console => Notifier::Console(ConsoleNotifier),
        NotifierKind::Webhook => {
            let url = n
                .url
                .as_ref()
                .map(|u| u.get_ref().clone())
                .unwrap_or_default();
            let format = n.format.as_ref().map(|f| *f.get_ref()).unwrap_or_default();
            let extra = match format {
                // ntfy: the topic is the URL's last path segment.
                WebhookFormat::Ntfy => url
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .map(str::to_string),
                WebhookFormat::Telegram => n.chat_id.as_ref().map(|c| c.get_ref().clone()),
                _ => None,
            };
            let headers = n.headers.iter().flat_map(|h| h.get_ref().clone()).collect();
            Notifier::Webhook(WebhookNotifier::new(
                fetcher.client().clone(),
                url,
                format,
                extra,
                headers,
                templates,
                secret(&n.secret_env),
            ))
        }
        NotifierKind::Email => {
            let smtp = n
                .smtp
                .as_ref()
                .map(|s| s.get_ref().as_str())
                .unwrap_or_default();
            let target = SmtpTarget::parse(smtp).map_err(anyhow::Error::msg)?;
            let from = n
                .from
                .as_ref()
                .map(|f| f.get_ref().as_str())
                .unwrap_or_default();
            let to =
                n.to.as_ref()
                    .map(|t| t.get_ref().clone())
                    .unwrap_or_default();
            Notifier::Email(
                EmailNotifier::new(
                    &target,
                    secret(&n.password_env),
                    from,
                    &to,
                    timeout,
                    templates,
                )
                .map_err(anyhow::Error::msg)?,
            )
        }
    })
}

/// Environment variables named by notifiers that some watch routes to, and not set:
/// `check` warns about them (deliveries through those notifiers would wait for them).
pub fn missing_secrets(config: &Config) -> Vec<String> {
    let routed = |name: &str| {
        config.watches.iter().any(|w| match &w.notify {
            None => true,
            Some(list) => list.iter().any(|n| n.get_ref() == name),
        })
    };
    config
        .notifiers
        .iter()
        .filter(|n| routed(n.name.get_ref()))
        .flat_map(|n| [&n.password_env, &n.secret_env])
        .flatten()
        .map(|v| Secret::from_env(v.get_ref()))
        .filter(|s| !s.is_set())
        .map(|s| s.var().to_string())
        .collect()
}
