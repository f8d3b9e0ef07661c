//! The values that cross the store's interface, the same for every backend.

use crate::model::{Alert, PollStatus, SourceType, Validators};

// Sources and their poll state.

/// A configured source, as the store keeps it (keyed by name).
#[derive(Debug, Clone)]
pub struct SourceSpec {
    /// Its configured name (the key).
    pub name: String,
    /// Feed or page.
    pub kind: SourceType,
    /// Its configured URL.
    pub url: String,
    /// Its interval (ms).
    pub interval_ms: i64,
}

/// A source due for a poll, with what the poll needs from its history.
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Its row.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// To send back (conditional GET).
    pub validators: Validators,
    /// Failed polls since the last success.
    pub consecutive_failures: u32,
    /// When it last succeeded (ms).
    pub last_success_at: Option<i64>,
    /// The feed a listed HTML page pointed to (`<link rel="alternate">`), polled instead.
    pub discovered_url: Option<String>,
    /// Since when the source has failed without a success, if it is failing.
    pub failing_since: Option<i64>,
    /// Whether its `source_down` alert went out (and `source_up` is owed).
    pub down_alerted: bool,
}

/// The outcome of one poll, written back in one statement.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// When the poll ended (ms).
    pub at: i64,
    /// What the poll found, or the error message.
    pub result: Result<PollStatus, String>,
    /// New validators; `None` keeps the stored ones (a 304 or a failure).
    pub validators: Option<Validators>,
    /// What becomes of the feed URL found on the listed page.
    pub discovered_url: Discovery,
    /// When to poll it next (ms).
    pub next_poll_at: i64,
    /// A `source_down` or `source_up` alert the poll raised.
    pub health: Option<HealthChange>,
}

/// A source went down for long enough, or came back: the alert, who gets it, and which way.
#[derive(Debug, Clone)]
pub struct HealthChange {
    /// The alert.
    pub alert: Alert,
    /// Notifiers it goes to.
    pub notifiers: Vec<String>,
    /// `true` for down (its `source_up` is then owed), `false` for back up.
    pub down: bool,
}

/// The feed a listed HTML page points to (`<link rel="alternate">`), after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovery {
    /// As it was.
    Keep,
    /// Poll this feed from now on.
    Set(String),
    /// Look for the feed on the page again next time.
    Forget,
}

/// What `feedwatch sources` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceHealth {
    /// Its row.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Feed or page.
    pub kind: SourceType,
    /// Its URL.
    pub url: String,
    /// Still in the config.
    pub active: bool,
    /// When it was last polled (ms).
    pub last_poll_at: Option<i64>,
    /// When it last succeeded (ms).
    pub last_success_at: Option<i64>,
    /// What the last poll came to.
    pub status: Option<PollStatus>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Failed polls since the last success.
    pub consecutive_failures: u32,
    /// When it is polled next (ms).
    pub next_poll_at: i64,
    /// Items stored from it.
    pub items: i64,
}

// Items, and what a poll commits.

/// How an item is recognised: its key, and the other identities that survive GUID churn.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// Identity within its source (`guid:`, `url:` or `hash:`, see `dedupe::item_key`).
    pub key: String,
    /// The feed's GUID, if any: stored, and found by the key, which is `guid:` and the GUID
    /// whenever there is one.
    pub guid: Option<String>,
    /// Canonical URL (left out when several items of the feed share it).
    pub url: Option<String>,
    /// `dedupe::title_date_key` (left out when several items of the feed share it).
    pub title_date: Option<String>,
    /// Hash of the item as the source gave it: unchanged means nothing to do.
    pub raw_hash: String,
}

/// What the store knows of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// Not stored before.
    New,
    /// Stored, with the same raw content.
    Unchanged,
    /// Known, but its content changed since it was stored.
    Changed {
        /// Its row.
        item_id: i64,
        /// The clean text stored for it.
        old_text: String,
    },
}

/// A new item to store, with the alerts it raises (one per watch and notifier; the store
/// sends one message per notifier).
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    /// How it is recognised next time.
    pub id: Identity,
    /// Plain text.
    pub title: String,
    /// When it was published (ms).
    pub published_at: Option<i64>,
    /// Its clean text.
    pub text: String,
    /// Story fingerprint; `None` keeps it out of stories (page versions).
    pub fingerprint: Option<u64>,
    /// Alerts it raised, stored with it.
    pub alerts: Vec<NewAlert>,
}

/// A known item whose content changed.
#[derive(Debug, Clone)]
pub struct ChangedItem {
    /// Its row.
    pub item_id: i64,
    /// Hash of its raw content now.
    pub raw_hash: String,
    /// A material change: the text becomes a new version and `alerts` are considered.
    /// Otherwise only the raw hash is updated (the stored text stays the reference).
    pub material: Option<(String, Option<u64>)>,
    /// Alerts the change raised.
    pub alerts: Vec<NewAlert>,
}

#[derive(Debug, Clone)]
/// An alert for one notifier, stored in the outbox with its item.
pub struct NewAlert {
    /// The alert.
    pub alert: Alert,
    /// The notifier it goes to.
    pub notifier: String,
}

/// An article as stored, for `search`.
#[derive(Debug, Clone)]
pub struct StoredArticle {
    /// The source's name.
    pub source: String,
    /// Plain text.
    pub title: String,
    /// Canonical URL.
    pub url: Option<String>,
    /// When it was published (ms).
    pub published_at: Option<i64>,
    /// When it was stored (ms).
    pub fetched_at: i64,
    /// Its clean text.
    pub text: String,
}

/// A successful poll's writes, committed with those of other polls finishing at the same
/// time (see [`Items::commit_polls`]).
#[derive(Debug, Clone)]
pub struct PollCommit {
    /// The polled source.
    pub source_id: i64,
    /// Its new items.
    pub new: Vec<NewItem>,
    /// Its known items whose content changed.
    pub changed: Vec<ChangedItem>,
    /// The poll's outcome.
    pub record: PollRecord,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// What one poll's commit stored.
pub struct InsertReport {
    /// New items stored.
    pub items: usize,
    /// Known items whose text changed materially.
    pub updated: usize,
    /// Outbox rows created.
    pub alerts: usize,
    /// Alerts not raised because the story (or item) already alerted that watch.
    pub repeats: usize,
}

// The alert outbox.

/// Where an outbox row stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not yet delivered; tried again at `next_attempt_at`.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Refused for good by the receiver (a 4xx, an SMTP 5xx).
    Failed,
    /// Still failing after `give_up_after`: a dead letter.
    Dead,
}

impl DeliveryState {
    /// As stored and shown: `pending`, `delivered`, `failed`, `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
            DeliveryState::Dead => "dead",
        }
    }

    /// The inverse of [`DeliveryState::as_str`].
    pub fn parse(s: &str) -> Option<DeliveryState> {
        match s {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            "dead" => Some(DeliveryState::Dead),
            _ => None,
        }
    }
}

/// A pending delivery.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Row order: creation order.
    pub seq: i64,
    /// The alert.
    pub alert: Alert,
    /// The notifier it goes to.
    pub notifier: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was stored (ms).
    pub created_at: i64,
}

/// What `feedwatch alerts` shows of one delivery.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlertStatus {
    #[serde(flatten)]
    /// The alert.
    pub alert: Alert,
    /// The notifier it goes to.
    pub notifier: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: u32,
    /// When it was stored (ms).
    pub created_at: i64,
    /// When the receiver accepted it (ms).
    pub delivered_at: Option<i64>,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Every source that carried the alert's story, first first (the story alerts once).
    pub sources: Vec<String>,
}

/// A notifier that sends nothing until it is resumed: the receiver refused its credentials.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pause {
    /// The notifier.
    pub notifier: String,
    /// The receiver's answer.
    pub reason: String,
    /// When it was paused (ms).
    pub since: i64,
}

// What the status page reads.

/// The overview's counts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Overview {
    /// Active sources.
    pub sources: i64,
    /// Active sources whose last poll succeeded.
    pub up: i64,
    /// Active sources whose last poll failed.
    pub failing: i64,
    /// Failing longer than `[health] alert_after` (a `source_down` alert went out).
    pub down: i64,
    /// Not polled yet.
    pub never_polled: i64,
    /// Deliveries by state.
    pub pending: i64,
    /// Refused for good by the receiver.
    pub failed: i64,
    /// Dead letters.
    pub dead: i64,
    /// The latest poll of any source (ms).
    pub last_poll_at: Option<i64>,
    /// Polls in the hour before `now`: ok, not modified, failed.
    pub polls_last_hour: [i64; 3],
}

/// One poll in a source's strip.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PollMark {
    /// When (ms).
    pub at: i64,
    /// `ok`, `not modified` or `error`.
    pub result: &'static str,
    /// What it found, or the error.
    pub detail: String,
}

/// Which sources a page of sources shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceFilter {
    /// Every source, active ones first, by name.
    #[default]
    All,
    /// Active sources whose last poll failed, longest failing first.
    Failing,
}

/// A delivery as the alerts page lists it: with its row and its story, to group by.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// The outbox row (newer rows have higher numbers).
    pub seq: i64,
    /// The article's story, else its item; copies of one story share it.
    pub group: String,
    /// The delivery.
    pub status: AlertStatus,
}

// What `/metrics` and `/healthz` read.

/// Gauges read at scrape time.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Alerts per delivery state.
    pub alerts: Vec<(String, i64)>,
    /// Active sources.
    pub sources: i64,
    /// Active sources whose last poll failed.
    pub failing: i64,
}

// Retention.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
/// What retention removed.
pub struct PruneReport {
    /// Items that lost their text.
    pub items: usize,
    /// Delivered alerts removed.
    pub alerts: usize,
    /// Stories removed.
    pub stories: usize,
}

// The daemons sharing a store.

/// What a heartbeat learned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heartbeat {
    /// Sources taken back from nodes gone silent.
    pub taken: u64,
    /// The other nodes heard from lately, with the hashes of their configs.
    pub peers: Vec<(String, String)>,
    /// Whether this node took its name again, the connection that held it having closed.
    pub retaken: bool,
}

/// One daemon sharing the store, as `feedwatch cluster` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    /// Its name (`[store] node`, else host name and process id).
    pub node: String,
    /// When it last said it was alive (ms).
    pub heartbeat_at: i64,
    /// When it started (ms).
    pub started_at: i64,
    /// Hash of its config file's sources, watches and notifiers.
    pub config_hash: String,
    /// Sources it holds a lease on now.
    pub leases: i64,
    /// Sources its config lists.
    pub sources: i64,
}
