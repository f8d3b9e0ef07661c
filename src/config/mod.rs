//! The TOML schema (see `config/feedwatch.toml`), its defaults, and loading with
//! file:line:column errors. Secrets are never read from the file: only the names of the
//! environment variables that hold them.

mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

pub use crate::model::PageMode;
pub use crate::units::{Dur, Size, format_duration, parse_duration};
pub(crate) use validate::template_name;

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub fetch: FetchConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default, rename = "feed")]
    pub feeds: Vec<FeedConfig>,
    #[serde(default, rename = "page")]
    pub pages: Vec<PageConfig>,
    #[serde(default, rename = "watch")]
    pub watches: Vec<WatchConfig>,
    #[serde(default, rename = "notifier")]
    pub notifiers: Vec<NotifierConfig>,
    /// The file this config was read from (for relative paths and messages).
    #[serde(skip)]
    pub file: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Relative to the config file's folder, or to `$STATE_DIRECTORY` when systemd sets it.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// Articles older than this lose their text but keep their identity (a tombstone).
    #[serde(default = "default_keep")]
    pub keep: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetchConfig {
    /// Deadline for one whole request, body included (a trickling server cannot hold a worker).
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Dur,
    /// Largest body accepted, counted after decompression while streaming.
    #[serde(default = "default_max_body")]
    pub max_body: Size,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_per_host")]
    pub per_host: usize,
    /// The longest a server's freshness hint (ttl, Cache-Control, Expires, Retry-After) may
    /// push a source's next poll.
    #[serde(default = "default_max_hint")]
    pub max_hint: Dur,
    /// The longest consecutive failures back a source off (it is never parked for good).
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Dur,
    /// Least time between the starts of two requests to one host.
    #[serde(default = "default_host_delay", deserialize_with = "Dur::zero_allowed")]
    pub host_delay: Dur,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    #[serde(default = "default_user_agent")]
    pub user_agent: String,
    /// Let URLs found in content reach private and local addresses (off: the SSRF guard).
    #[serde(default)]
    pub allow_private: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    #[serde(default = "default_retry_initial")]
    pub retry_initial: Dur,
    #[serde(default = "default_retry_max")]
    pub retry_max: Dur,
    #[serde(default = "default_give_up_after")]
    pub give_up_after: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    #[serde(default = "default_interval")]
    pub interval: Dur,
    #[serde(default)]
    pub full_text: bool,
    /// Labels that watches can select sources by.
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageConfig {
    pub name: Spanned<String>,
    pub url: Spanned<String>,
    #[serde(default = "default_page_mode")]
    pub mode: PageMode,
    pub select: Option<Spanned<String>>,
    #[serde(default = "default_page_interval")]
    pub interval: Dur,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    pub name: Spanned<String>,
    /// Any of these words, phrases, `prefix*` or `/regex/`.
    #[serde(default)]
    pub terms: Vec<Spanned<String>>,
    /// A boolean query (see `matcher::query`); the watch matches if a term or the query does.
    pub query: Option<Spanned<String>>,
    #[serde(default)]
    pub exclude: Vec<Spanned<String>>,
    /// Only articles from these sources (by name).
    #[serde(default)]
    pub sources: Vec<Spanned<String>>,
    /// Only articles from sources with one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Notifier names; `None` routes to every notifier.
    pub notify: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifierKind {
    Email,
    Webhook,
    Console,
}

impl NotifierKind {
    pub fn as_str(self) -> &'static str {
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
pub struct NotifierConfig {
    pub name: Spanned<String>,
    #[serde(rename = "type")]
    pub kind: Spanned<NotifierKind>,
    // email
    pub smtp: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub from: Option<Spanned<String>>,
    pub to: Option<Spanned<Vec<String>>>,
    /// Email subject, text and HTML templates (minijinja; see `notify::template`).
    pub subject_template: Option<Spanned<String>>,
    pub text_template: Option<Spanned<String>>,
    pub html_template: Option<Spanned<String>>,
    // webhook
    /// May name environment variables as `${VAR}` (a Telegram bot token).
    pub url: Option<Spanned<String>>,
    pub secret_env: Option<Spanned<String>>,
    /// `json` (default), `slack`, `discord`, `ntfy` or `telegram`.
    pub format: Option<Spanned<crate::notify::format::WebhookFormat>>,
    /// Telegram's chat to post to.
    pub chat_id: Option<Spanned<String>>,
    /// Extra request headers; values may name environment variables as `${VAR}`.
    pub headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    /// A custom JSON body (minijinja), instead of `format`.
    pub body_template: Option<Spanned<String>>,
    // sending rules, any type
    /// `"1h"` or `"daily 08:00"`: alerts wait and go out together.
    pub digest: Option<Spanned<String>>,
    /// Messages per hour at most; the rest roll into a digest, never dropped.
    pub max_per_hour: Option<Spanned<u32>>,
    /// `"22:00-07:00"`: nothing is sent then; what waited goes as one digest.
    pub quiet_hours: Option<Spanned<String>>,
    /// IANA time zone for `daily HH:MM` and quiet hours (default UTC).
    pub timezone: Option<Spanned<String>>,
}

/// The observability endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `127.0.0.1:9188`: serve `/metrics` and `/healthz` there (off when unset).
    pub listen: Option<Spanned<String>>,
}

/// Alerts about sources themselves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// A source failing this long raises one `source_down` alert (and `source_up` after).
    #[serde(default = "default_alert_after")]
    pub alert_after: Dur,
    /// Notifiers for health alerts (default: every notifier).
    pub notify: Option<Vec<Spanned<String>>>,
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

/// A configuration problem, located in its file.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.at {
            Some((line, col)) => {
                write!(f, "{}:{line}:{col}: {}", self.file.display(), self.message)
            }
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            at: None,
            message: format!("cannot read config: {e}"),
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates config text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let locate = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            file: path.to_path_buf(),
            at: span.map(|s| line_col(text, s.start)),
            message: crate::text::fold_whitespace(&message),
        };
        let mut config: Config =
            toml::from_str(text).map_err(|e| locate(e.span(), e.message().to_string()))?;
        config.file = path.to_path_buf();
        validate::validate(&config).map_err(|(span, msg)| locate(span, msg))?;
        Ok(config)
    }

    /// The SQLite file: relative paths are taken from `$STATE_DIRECTORY` (systemd) if set,
    /// else from the config file's folder.
    pub fn store_path(&self) -> PathBuf {
        if self.store.path.is_absolute() {
            return self.store.path.clone();
        }
        if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
            // systemd may pass several colon-separated folders; the first is ours.
            let first = dir
                .to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string();
            return Path::new(&first).join(&self.store.path);
        }
        let base = self.file.parent().unwrap_or(Path::new("."));
        base.join(&self.store.path)
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn default_store_path() -> PathBuf {
    PathBuf::from("feedwatch.db")
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
fn default_max_redirects() -> usize {
    5
}
fn default_user_agent() -> String {
    format!(
        "feedwatch/{} (+https://example.org/feedwatch)",
        env!("CARGO_PKG_VERSION")
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
            path: default_store_path(),
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

#[cfg(test)]
mod tests;
