//! The configuration: the TOML file (`schema`), its validation with file:line:column errors
//! (`validate`, `notifier`), and the typed settings that come out of it. After
//! [`Config::load`] nothing is a string waiting to be parsed: durations are `Duration`s, URLs
//! `Url`s, time zones `Tz`s. Secrets are never read from the file: only the names of the
//! environment variables that hold them.

mod checks;
mod notifier;
mod postgres;
mod schema;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::units::{format_duration, parse_duration};
pub use notifier::{
    Channel, Digest, EmailSettings, NotifierSettings, QuietHours, Security, SendRules, SmtpTarget,
    WebhookFormat, WebhookSettings, parse_digest, parse_quiet,
};

use crate::matcher::WatchSpec;
use crate::model::{PgTls, Source};

/// The validated configuration, as typed settings.
#[derive(Debug)]
pub struct Config {
    /// The file this config was read from (for relative paths and messages).
    pub file: PathBuf,
    /// A hash of the file's settings but `[store]` (see [`settings_hash`]): nodes sharing
    /// a database compare them.
    pub hash: String,
    /// `[store]`.
    pub store: StoreSettings,
    /// `[fetch]`.
    pub fetch: FetchSettings,
    /// `[delivery]`.
    pub delivery: DeliverySettings,
    /// `[health]`.
    pub health: HealthSettings,
    /// `[http]`: where to serve the status page, `/metrics` and `/healthz`, if anywhere.
    pub http: HttpSettings,
    /// Feeds, then pages, in file order.
    pub sources: Vec<Source>,
    /// `[[watch]]` tables, in file order.
    pub watches: Vec<WatchSettings>,
    /// `[[notifier]]` tables, in file order.
    pub notifiers: Vec<NotifierSettings>,
}

/// The first 12 hex digits of the SHA-256 of the settings in `text` but its `[store]` table
/// (where each node names itself), in a canonical form: comments, layout and key order do
/// not change it, a source, watch or notifier does.
fn settings_hash(text: &str) -> String {
    use sha2::Digest;
    let canonical = match toml::from_str::<toml::Table>(text) {
        Ok(mut table) => {
            table.remove("store");
            table.to_string()
        }
        Err(_) => text.to_string(),
    };
    hex::encode(&sha2::Sha256::digest(canonical.as_bytes())[..6])
}

/// `[http]`.
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Where to listen.
    pub listen: Option<SocketAddr>,
    /// The environment variable with the token pages ask for (none on loopback: no token).
    pub token_env: Option<String>,
}

/// `[store]`.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The SQLite file as written: relative paths are resolved by [`Config::store_path`].
    pub path: PathBuf,
    /// PostgreSQL in its place, when `[store] url` is set.
    pub postgres: Option<PostgresSettings>,
    /// Articles older than this lose their text but keep their identity (a tombstone).
    pub keep: Duration,
}

/// `[store] url` and its companions: a PostgreSQL database shared by several nodes.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// `postgres://user@host:port/dbname?...` without `sslmode` and `sslrootcert`, checked to
    /// parse.
    pub url: String,
    /// The URL's `sslmode` and `sslrootcert`.
    pub tls: PgTls,
    /// The variable holding the password, read when the store is opened.
    pub password_env: Option<String>,
    /// This daemon's name among the nodes; `None`: the host name.
    pub node: Option<String>,
}

/// `[fetch]`.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Deadline for one whole request, body included.
    pub timeout: Duration,
    /// Deadline for connecting.
    pub connect_timeout: Duration,
    /// Largest body accepted, counted after decompression while streaming.
    pub max_body: u64,
    /// Sources polled at once.
    pub concurrency: usize,
    /// Requests at once against one host.
    pub per_host: usize,
    /// The longest a server's freshness hint may push a source's next poll.
    pub max_hint: Duration,
    /// The longest consecutive failures back a source off.
    pub max_backoff: Duration,
    /// Least time between the starts of two requests to one host.
    pub host_delay: Duration,
    /// Redirects followed at most.
    pub max_redirects: usize,
    /// Article pages a feed's poll fetches at most; the rest wait for later polls.
    pub max_pages_per_poll: usize,
    /// The `User-Agent` header sent.
    pub user_agent: String,
    /// Let URLs found in content reach private and local addresses (off: the SSRF guard).
    pub allow_private: bool,
}

/// `[delivery]`: how failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// The first retry of a failed delivery waits this long.
    pub retry_initial: Duration,
    /// Retries wait at most this long.
    pub retry_max: Duration,
    /// Then the alert is a dead letter.
    pub give_up_after: Duration,
}

/// `[health]`: alerts about sources themselves.
#[derive(Debug, Clone)]
pub struct HealthSettings {
    /// A source failing this long raises one `source_down` alert (and `source_up` after).
    pub alert_after: Duration,
    /// Notifiers for health alerts (`[health] notify`, else every notifier).
    pub notify: Vec<String>,
}

/// A `[[watch]]`: what the matcher compiles, and where its alerts go.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Its name, terms, exclusions, query and source filters.
    pub spec: WatchSpec,
    /// Notifier names (`notify`, else every notifier).
    pub notify: Vec<String>,
}

/// A configuration problem, located in its file.
#[derive(Debug)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub at: Option<(usize, usize)>,
    /// What is wrong, in one line.
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
        let file: schema::ConfigFile =
            toml::from_str(text).map_err(|e| locate(e.span(), e.message().to_string()))?;
        let mut config = validate::validate(file, path).map_err(|(span, msg)| locate(span, msg))?;
        config.hash = settings_hash(text);
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

    /// The configured defaults, as an empty file gives them.
    pub fn defaults() -> Config {
        Config::parse("", Path::new("(defaults)")).expect("an empty config is valid")
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

#[cfg(test)]
mod tests;
