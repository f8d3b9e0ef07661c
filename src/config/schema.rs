//! The TOML schema as written (see `config/feedwatch.toml`): tables whose values keep their
//! place in the file, so validation can point at them, and the defaults of every key.
//! `validate` turns these into the typed settings of `config/mod.rs`.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::WebhookFormat;
use crate::model::PageMode;
use crate::units::{Dur, Size};

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub(crate) store: StoreConfig,
    #[serde(default)]
    pub(crate) fetch: FetchConfig,
    #[serde(default)]
    pub(crate) delivery: DeliveryConfig,
    #[serde(default)]
    pub(crate) health: HealthConfig,
    #[serde(default)]
    pub(crate) http: HttpConfig,
    #[serde(default)]
    pub(crate) alerts: AlertsConfig,
    #[serde(default, rename = "feed")]
    pub(crate) feeds: Vec<FeedConfig>,
    #[serde(default, rename = "page")]
    pub(crate) pages: Vec<PageConfig>,
    #[serde(default, rename = "watch")]
    pub(crate) watches: Vec<WatchConfig>,
    #[serde(default, rename = "notifier")]
    pub(crate) notifiers: Vec<NotifierConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoreConfig {
    /// SQLite: relative to the config file's folder, or to `$STATE_DIRECTORY` when systemd
    /// sets it. `feedwatch.db` when neither it nor `url` is given.
    pub(crate) path: Option<Spanned<PathBuf>>,
    /// PostgreSQL, shared by several nodes: `postgres://user@host:port/dbname`.
    pub(crate) url: Option<Spanned<String>>,
    /// The variable holding the database password.
    pub(crate) password_env: Option<Spanned<String>>,
    /// This daemon's name among the nodes (default: the host name).
    pub(crate) node: Option<Spanned<String>>,
    /// Articles older than this lose their text but keep their identity (a tombstone).
    #[serde(default = "default_keep")]
    pub(crate) keep: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FetchConfig {
    /// Deadline for one whole request, body included (a trickling server cannot hold a worker).
    #[serde(default = "default_timeout")]
    pub(crate) timeout: Dur,
    #[serde(default = "default_connect_timeout")]
    pub(crate) connect_timeout: Dur,
    /// Largest body accepted, counted after decompression while streaming.
    #[serde(default = "default_max_body")]
    pub(crate) max_body: Size,
    #[serde(default = "default_concurrency")]
    pub(crate) concurrency: usize,
    #[serde(default = "default_per_host")]
    pub(crate) per_host: usize,
    /// The longest a server's freshness hint (ttl, Cache-Control, Expires, Retry-After) may
    /// push a source's next poll.
    #[serde(default = "default_max_hint")]
    pub(crate) max_hint: Dur,
    /// The longest consecutive failures back a source off (it is never parked for good).
    #[serde(default = "default_max_backoff")]
    pub(crate) max_backoff: Dur,
    /// Least time between the starts of two requests to one host.
    #[serde(default = "default_host_delay", deserialize_with = "Dur::zero_allowed")]
    pub(crate) host_delay: Dur,
    /// Article pages a feed's poll fetches at most; the rest wait for later polls.
    #[serde(default = "default_max_pages_per_poll")]
    pub(crate) max_pages_per_poll: usize,
    #[serde(default = "default_max_redirects")]
    pub(crate) max_redirects: usize,
    #[serde(default = "default_user_agent")]
    pub(crate) user_agent: Spanned<String>,
    /// Let URLs found in content reach private and local addresses (off: the SSRF guard).
    #[serde(default)]
    pub(crate) allow_private: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryConfig {
    #[serde(default = "default_retry_initial")]
    pub(crate) retry_initial: Dur,
    #[serde(default = "default_retry_max")]
    pub(crate) retry_max: Dur,
    #[serde(default = "default_give_up_after")]
    pub(crate) give_up_after: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedConfig {
    pub(crate) name: Spanned<String>,
    pub(crate) url: Spanned<String>,
    #[serde(default = "default_interval")]
    pub(crate) interval: Dur,
    #[serde(default)]
    pub(crate) full_text: bool,
    /// Labels that watches can select sources by.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Overrides `[alerts] backlog` for this source.
    pub(crate) backlog: Option<Spanned<String>>,
}

/// `[alerts]`: what alerts at all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsConfig {
    /// On a source's first poll, only items published this recently alert (`"all"`: every
    /// item); default `"24h"`.
    pub(crate) backlog: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageConfig {
    pub(crate) name: Spanned<String>,
    pub(crate) url: Spanned<String>,
    #[serde(default = "default_page_mode")]
    pub(crate) mode: PageMode,
    pub(crate) select: Option<Spanned<String>>,
    #[serde(default = "default_page_interval")]
    pub(crate) interval: Dur,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Overrides `[alerts] backlog` for this source.
    pub(crate) backlog: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WatchConfig {
    pub(crate) name: Spanned<String>,
    /// Any of these words, phrases, `prefix*` or `/regex/`.
    #[serde(default)]
    pub(crate) terms: Vec<Spanned<String>>,
    /// A boolean query (see `matcher::query`); the watch matches if a term or the query does.
    pub(crate) query: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) exclude: Vec<Spanned<String>>,
    /// Only articles from these sources (by name).
    #[serde(default)]
    pub(crate) sources: Vec<Spanned<String>>,
    /// Only articles from sources with one of these tags.
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Notifier names; `None` routes to every notifier.
    pub(crate) notify: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NotifierKind {
    Email,
    Webhook,
    Console,
}

impl NotifierKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Email => "email",
            NotifierKind::Webhook => "webhook",
            NotifierKind::Console => "console",
        }
    }
}

/// One flat table for every notifier type, so that a key that does not belong to the
/// type can be reported at its own line and column.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotifierConfig {
    pub(crate) name: Spanned<String>,
    #[serde(rename = "type")]
    pub(crate) kind: Spanned<NotifierKind>,
    // email
    pub(crate) smtp: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
    /// Allows a password over plain `smtp://` to a host other than loopback.
    pub(crate) insecure_auth: Option<Spanned<bool>>,
    pub(crate) from: Option<Spanned<String>>,
    pub(crate) to: Option<Spanned<Vec<String>>>,
    /// Email subject, text and HTML templates (minijinja; see `notify::template`).
    pub(crate) subject_template: Option<Spanned<String>>,
    pub(crate) text_template: Option<Spanned<String>>,
    pub(crate) html_template: Option<Spanned<String>>,
    // webhook
    /// May name environment variables as `${VAR}` (a Telegram bot token).
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) secret_env: Option<Spanned<String>>,
    /// `json` (default), `slack`, `discord`, `ntfy` or `telegram`.
    pub(crate) format: Option<Spanned<WebhookFormat>>,
    /// Telegram's chat to post to.
    pub(crate) chat_id: Option<Spanned<String>>,
    /// Extra request headers; values may name environment variables as `${VAR}`.
    pub(crate) headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// A custom JSON body (minijinja), instead of `format`.
    pub(crate) body_template: Option<Spanned<String>>,
    // sending rules, any type
    /// `"1h"` or `"daily 08:00"`: alerts wait and go out together.
    pub(crate) digest: Option<Spanned<String>>,
    /// Messages per hour at most; the rest roll into a digest, never dropped.
    pub(crate) max_per_hour: Option<Spanned<u32>>,
    /// `"22:00-07:00"`: nothing is sent then; what waited goes as one digest.
    pub(crate) quiet_hours: Option<Spanned<String>>,
    /// IANA time zone for `daily HH:MM` and quiet hours (default UTC).
    pub(crate) timezone: Option<Spanned<String>>,
}

/// The observability endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpConfig {
    /// `127.0.0.1:9188`: serve the status page, `/metrics` and `/healthz` there (off when
    /// unset).
    pub(crate) listen: Option<Spanned<String>>,
    /// The environment variable holding the token every page asks for; required when
    /// `listen` is not a loopback address.
    pub(crate) token_env: Option<Spanned<String>>,
}

/// Alerts about sources themselves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthConfig {
    /// A source failing this long raises one `source_down` alert (and `source_up` after).
    #[serde(default = "default_alert_after")]
    pub(crate) alert_after: Dur,
    /// Notifiers for health alerts (default: every notifier).
    pub(crate) notify: Option<Vec<Spanned<String>>>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            alert_after: default_alert_after(),
            notify: None,
        }
    }
}

fn default_alert_after() -> Dur {
    Dur::secs(6 * 3600)
}

fn default_keep() -> Dur {
    Dur::secs(90 * 86_400)
}
fn default_timeout() -> Dur {
    Dur::secs(30)
}
fn default_connect_timeout() -> Dur {
    Dur::secs(10)
}
fn default_max_body() -> Size {
    Size(10 << 20)
}
fn default_concurrency() -> usize {
    16
}
fn default_per_host() -> usize {
    2
}
fn default_max_hint() -> Dur {
    Dur::secs(24 * 3600)
}
fn default_max_backoff() -> Dur {
    Dur::secs(12 * 3600)
}
fn default_host_delay() -> Dur {
    Dur(std::time::Duration::from_millis(500))
}
fn default_max_pages_per_poll() -> usize {
    50
}
fn default_max_redirects() -> usize {
    5
}
fn default_user_agent() -> Spanned<String> {
    Spanned::new(
        0..0,
        format!(
            "feedwatch/{} (+https://example.org/feedwatch)",
            env!("CARGO_PKG_VERSION")
        ),
    )
}
fn default_retry_initial() -> Dur {
    Dur::secs(10)
}
fn default_retry_max() -> Dur {
    Dur::secs(30 * 60)
}
fn default_give_up_after() -> Dur {
    Dur::secs(24 * 3600)
}
fn default_interval() -> Dur {
    Dur::secs(15 * 60)
}
fn default_page_interval() -> Dur {
    Dur::secs(3600)
}
fn default_page_mode() -> PageMode {
    PageMode::Content
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: None,
            url: None,
            password_env: None,
            node: None,
            keep: default_keep(),
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            max_body: default_max_body(),
            concurrency: default_concurrency(),
            per_host: default_per_host(),
            host_delay: default_host_delay(),
            max_hint: default_max_hint(),
            max_backoff: default_max_backoff(),
            max_redirects: default_max_redirects(),
            max_pages_per_poll: default_max_pages_per_poll(),
            user_agent: default_user_agent(),
            allow_private: false,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            give_up_after: default_give_up_after(),
        }
    }
}
