//! Plain data passed between the stages: sources, parsed items, clean articles, hits, alerts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

/// What a `[[page]]` source watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageMode {
    /// New article links on a listing page.
    Links,
    /// Changes to the page's main text.
    Content,
}

/// Cache validators from the last successful response, sent back exactly as given
/// (servers compare them byte for byte).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag`.
    pub etag: Option<String>,
    /// `Last-Modified`.
    pub last_modified: Option<String>,
}

/// How a PostgreSQL store is reached over TLS: its URL's `sslmode` and `sslrootcert`, read
/// as libpq (and so `psql`) reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PgTls {
    /// How much TLS is asked for, and how much of the server's certificate is checked.
    pub mode: PgSslMode,
    /// `sslrootcert`: a PEM file of the authorities whose certificates to trust. With one, a
    /// mode that uses TLS checks the server's certificate against it; without, only
    /// `verify-full` checks it, against the system's roots.
    pub root_cert: Option<std::path::PathBuf>,
}

/// A URL's `sslmode`, as libpq reads it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PgSslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it (libpq tries without first; read here as `Prefer`).
    Allow,
    /// TLS when the server offers it, the certificate unchecked (the default).
    #[default]
    Prefer,
    /// TLS or no connection, the certificate unchecked.
    Require,
    /// TLS, the certificate signed by an authority of `sslrootcert`, whatever host it names.
    VerifyCa,
    /// TLS, the certificate signed by a trusted authority and naming the host connected to.
    VerifyFull,
}

impl PgSslMode {
    /// The mode a URL's `sslmode` names.
    pub fn parse(text: &str) -> Option<PgSslMode> {
        Some(match text {
            "disable" => PgSslMode::Disable,
            "allow" => PgSslMode::Allow,
            "prefer" => PgSslMode::Prefer,
            "require" => PgSslMode::Require,
            "verify-ca" => PgSslMode::VerifyCa,
            "verify-full" => PgSslMode::VerifyFull,
            _ => return None,
        })
    }
}

/// How a source is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// An RSS, Atom or JSON feed.
    Feed {
        /// Fetch each new item's page and read its article.
        full_text: bool,
    },
    /// An HTML page, watched as a whole (`mode = "content"`) or for new links (`"links"`).
    Page {
        /// What is watched.
        mode: PageMode,
        /// A CSS selector narrowing the watched region.
        select: Option<String>,
    },
}

/// A configured source, as the runtime sees it.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its name in the config (unique).
    pub name: String,
    /// What is fetched.
    pub url: Url,
    /// Time between polls.
    pub interval: Duration,
    /// Feed or page, with its settings.
    pub kind: SourceKind,
    /// Labels that watches can select sources by.
    pub tags: Vec<String>,
    /// On its first poll, items published longer ago than this are stored without alerting
    /// (undated items count as old); `None` alerts on every item.
    pub backlog: Option<Duration>,
}

impl Source {
    /// Feed or page, without the settings.
    pub fn source_type(&self) -> SourceType {
        match self.kind {
            SourceKind::Feed { .. } => SourceType::Feed,
            SourceKind::Page { .. } => SourceType::Page,
        }
    }
}

/// Feed or page: what the store keeps of a source's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    /// An RSS, Atom or JSON feed.
    Feed,
    /// An HTML page.
    Page,
}

impl SourceType {
    /// `feed` or `page`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Feed => "feed",
            SourceType::Page => "page",
        }
    }

    /// The inverse of [`SourceType::as_str`].
    pub fn parse(s: &str) -> Option<SourceType> {
        match s {
            "feed" => Some(SourceType::Feed),
            "page" => Some(SourceType::Page),
            _ => None,
        }
    }
}

impl std::fmt::Display for SourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a source's last poll came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollStatus {
    /// Read and processed; says what it found ("20 items", "unchanged", "first version").
    Ok(String),
    /// The server answered 304 Not Modified.
    NotModified,
    /// The poll failed (the error is kept beside the status).
    Error,
}

impl PollStatus {
    /// As shown and stored: `ok: 20 items`, `not modified`, `error`.
    pub fn text(&self) -> String {
        match self {
            PollStatus::Ok(found) => format!("ok: {found}"),
            PollStatus::NotModified => "not modified".into(),
            PollStatus::Error => "error".into(),
        }
    }

    /// The inverse of [`PollStatus::text`].
    pub fn parse(s: &str) -> Option<PollStatus> {
        match s {
            "not modified" => Some(PollStatus::NotModified),
            "error" => Some(PollStatus::Error),
            _ => s
                .strip_prefix("ok: ")
                .map(|f| PollStatus::Ok(f.to_string())),
        }
    }
}

impl std::fmt::Display for PollStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl Serialize for PollStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// One entry of a parsed feed (or a page taken as one item), before cleaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Identity within its source: `guid:…`, `url:…` or `hash:…` (see `dedupe::item_key`).
    pub key: String,
    /// The feed's GUID/id, when it gave one.
    pub guid: Option<String>,
    /// Plain text.
    pub title: String,
    /// Canonical link, when the item has one.
    pub url: Option<String>,
    /// When the source says it was published.
    pub published: Option<DateTime<Utc>>,
    /// The richest HTML (or text) body the source gave: content, else summary.
    pub html: String,
}

/// Clean text of an article: what watches match against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Article {
    /// The headline.
    pub title: String,
    /// Paragraphs separated by blank lines.
    pub text: String,
    /// The author, when the page names one.
    pub byline: Option<String>,
    /// The publication time the page gives, as written.
    pub published: Option<String>,
    /// The page's own canonical link.
    pub canonical_url: Option<String>,
}

/// A watch that matched an article.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The watch's name.
    pub watch: String,
    /// The watch's terms, as written in the config, that matched.
    pub terms: Vec<String>,
    /// Text around the first match.
    pub snippet: String,
}

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A new item matched.
    New,
    /// A known item changed and now matches.
    Updated,
    /// A watched page's added text matches.
    Changed,
    /// Sent by `test-notify`.
    Test,
    /// A source has failed for longer than `[health] alert_after`.
    SourceDown,
    /// ...and has recovered.
    SourceUp,
}

impl AlertKind {
    /// As the webhook payload writes it (`new`, `source_down`...).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::New => "new",
            AlertKind::Updated => "updated",
            AlertKind::Changed => "changed",
            AlertKind::Test => "test",
            AlertKind::SourceDown => "source_down",
            AlertKind::SourceUp => "source_up",
        }
    }
}

/// One alert: the webhook JSON body, field for field (see README, "One alert per story").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id: the idempotency key.
    pub id: String,
    /// Why it was raised.
    pub kind: AlertKind,
    /// The first watch it matched (kept for receivers written before `watches`).
    pub watch: String,
    /// Every watch it matched, `watch` first: an article matching several watches sends
    /// one message per notifier, not one per watch.
    #[serde(default)]
    pub watches: Vec<String>,
    /// The source's name.
    pub source: String,
    /// The item's title, plain text.
    pub title: String,
    /// The item's canonical URL.
    pub url: Option<String>,
    /// RFC 3339 publication time.
    pub published: Option<String>,
    /// The terms found (of every watch, each once).
    pub matched: Vec<String>,
    /// Text around the first match, plain text.
    pub snippet: String,
}

impl Alert {
    /// The watches it matched, `watch` first; an alert stored before `watches` existed
    /// names only `watch`.
    pub fn watch_names(&self) -> Vec<&str> {
        if self.watches.is_empty() {
            vec![self.watch.as_str()]
        } else {
            self.watches.iter().map(String::as_str).collect()
        }
    }

    /// Its watches as people read them: `venezuela, oil`.
    pub fn watch_label(&self) -> String {
        self.watch_names().join(", ")
    }

    /// One alert for several watches' alerts of the same article: the first one's article
    /// and snippet, every watch, and the union of the matched terms. `parts` is not empty.
    pub fn merge(parts: &[&Alert], id: String) -> Alert {
        let first = parts[0];
        let mut merged = Alert {
            id,
            watches: Vec::new(),
            matched: Vec::new(),
            ..first.clone()
        };
        for part in parts {
            for w in part.watch_names() {
                if !merged.watches.iter().any(|m| m == w) {
                    merged.watches.push(w.to_string());
                }
            }
            for t in &part.matched {
                if !merged.matched.contains(t) {
                    merged.matched.push(t.clone());
                }
            }
        }
        merged
    }
}

/// One delivery: a single alert, or a digest of several.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The alert id, or for a digest an id derived from its alerts' ids (idempotency key).
    pub id: &'a str,
    /// The alerts it carries, oldest first (one unless a digest).
    pub alerts: &'a [Alert],
}

impl Message<'_> {
    /// Whether it carries several alerts.
    pub fn is_digest(&self) -> bool {
        self.alerts.len() > 1
    }

    /// Its first alert.
    pub fn first(&self) -> &Alert {
        &self.alerts[0]
    }

    /// The watches of the message, each once, in order.
    pub fn watches(&self) -> Vec<&str> {
        let mut w: Vec<&str> = Vec::new();
        for name in self.alerts.iter().flat_map(Alert::watch_names) {
            if !w.contains(&name) {
                w.push(name);
            }
        }
        w
    }
}
