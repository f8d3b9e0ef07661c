//! `poll_source`: the one linear path of a poll. fetch → parse → which items are new or
//! changed (store) → clean → match → items and alerts committed together; then the outcome
//! on the source's row. Stages never call each other; these files call them in order.

mod dry;
mod feed;
mod health;
mod page;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn};

use crate::dedupe::{alert_id, short_hash, title_date_key};
use crate::fetch::{FetchOutcome, Fetcher, same_host, same_host_and_port};
use crate::matcher::{Matcher, Scope};
use crate::model::PageMode;
use crate::model::Validators;
use crate::model::{Alert, AlertKind, Item, PollStatus, Source, SourceKind};
use crate::parse;
use crate::retry::Backoff;
use crate::store::{
    ChangedItem, Discovery, Identity, InsertReport, NewAlert, NewItem, PollCommit, PollRecord,
    Seen, SourceRow, Store,
};
use crate::time::Clock;

pub(crate) use dry::{
    Explanation, Reading, article_page, explain, probe, read, search_stored, with_page,
};
pub(crate) use health::HealthRule;

/// Compiled watches and where each one's alerts go.
pub struct Watchlist {
    pub matcher: Matcher,
    /// Watch name → notifier names.
    pub routes: HashMap<String, Vec<String>>,
}

/// Everything a poll needs, built once by `app`.
#[derive(Clone)]
pub(crate) struct PollContext {
    pub fetcher: Fetcher,
    pub store: Store,
    pub watchlist: Arc<Watchlist>,
    pub health: Arc<HealthRule>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub limits: PollLimits,
    /// "Now" for every time a poll records.
    pub clock: Clock,
    /// Sources whose content links the SSRF guard refused, already logged once.
    pub refused: Arc<std::sync::Mutex<HashSet<String>>>,
}

/// Bounds on when a source is polled next.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PollLimits {
    /// The longest a server's hint (ttl, max-age, Expires, Retry-After) may push a poll.
    pub max_hint: Duration,
    /// The longest failures back a source off.
    pub max_backoff: Duration,
    /// Article pages one poll of a feed fetches at most.
    pub max_pages: usize,
    /// After this long a poll starts no more page fetches; the rest wait for the next poll.
    pub page_time: Duration,
    /// A poll that runs this long fails (shorter than the lease on its source, so no other
    /// poll of it starts while it runs).
    pub deadline: Duration,
}

/// What one poll did, for logs and `once`.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    pub new_items: usize,
    pub alerts: usize,
    pub error: Option<String>,
    /// Why it failed, in a word or two ([`PollError::cause`]).
    pub cause: Option<&'static str>,
}

/// Polls counted by outcome, for the one line that sums up a cycle.
#[derive(Debug, Clone, Default)]
pub(crate) struct CycleTally {
    pub(crate) ok: usize,
    pub(crate) failing: usize,
    pub(crate) new_items: usize,
    pub(crate) alerts: usize,
    /// Failures by cause, in the order of the causes' names.
    pub(crate) causes: std::collections::BTreeMap<&'static str, usize>,
}

impl CycleTally {
    pub(crate) fn add(&mut self, report: &PollReport) {
        self.new_items += report.new_items;
        self.alerts += report.alerts;
        match report.cause {
            Some(cause) => {
                self.failing += 1;
                *self.causes.entry(cause).or_default() += 1;
            }
            None => self.ok += 1,
        }
    }

    /// `dns 2, http 4xx 1`, or `none`.
    pub(crate) fn causes_text(&self) -> String {
        if self.causes.is_empty() {
            return "none".into();
        }
        let parts: Vec<String> = self
            .causes
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        parts.join(", ")
    }
}

/// A successful poll, before it is recorded.
struct Polled {
    status: PollStatus,
    validators: Option<Validators>,
    /// The longest freshness hint the server or feed gave.
    hint: Option<Duration>,
    /// Items and alerts to commit with the poll's outcome.
    pending: Pending,
    /// A feed found on the listed page, to poll from now on.
    discovered: Discovery,
    /// New items were left for the next poll: its request must not be conditional.
    refetch: bool,
}

impl Polled {
    fn status(status: PollStatus) -> Polled {
        Polled {
            status,
            validators: None,
            hint: None,
            pending: Pending::default(),
            discovered: Discovery::Keep,
            refetch: false,
        }
    }
}

/// Why a poll failed: recorded on the source's row, never a crash.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PollError {
    #[error(transparent)]
    Fetch(#[from] crate::fetch::FetchError),
    #[error(transparent)]
    Parse(#[from] parse::ParseError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("expected a feed, got an HTML page")]
    NotAFeed,
    #[error("internal error while processing: {0}")]
    Task(String),
    /// The whole poll outlived its deadline.
    #[error("the poll took longer than {}; stopped", crate::units::format_duration(*.0))]
    OverDeadline(Duration),
    /// Parsing or cleaning took longer than the budget.
    #[error("reading the document took longer than {}; skipped", crate::units::format_duration(*.0))]
    OverBudget(Duration),
}

impl PollError {
    /// A short name for why the poll failed, to count failures by.
    pub(crate) fn cause(&self) -> &'static str {
        match self {
            PollError::Fetch(f) => f.cause(),
            PollError::Parse(_) => "unreadable",
            PollError::NotAFeed => "not a feed",
            PollError::Store(_) => "store",
            PollError::Task(_) => "internal",
            PollError::OverDeadline(_) | PollError::OverBudget(_) => "too slow",
        }
    }
}

/// Polls one source and records the outcome on its row. Never fails: a failure is data.
/// A successful poll's items, alerts and outcome are committed in one transaction.
///
/// `slot` is the poll's share of the global bound: it is released once the source's own
/// document is read, so article pages wait on their hosts' bounds, not on other sources,
/// and at the latest once the poll has its place in the line to the store
/// ([`Store::place_in_line`](crate::store::Store::place_in_line)).
pub(crate) async fn poll_source(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    slot: OwnedSemaphorePermit,
) -> PollReport {
    let started = std::time::Instant::now();
    let mut slot = Some(slot);
    let result =
        match tokio::time::timeout(ctx.limits.deadline, poll(ctx, source, row, &mut slot)).await {
            Ok(r) => r,
            Err(_) => Err(PollError::OverDeadline(ctx.limits.deadline)),
        };
    let elapsed = started.elapsed();
    // What the poll read waits for its commit in a line of bounded length: the next fetch
    // starts once this poll has its place in it.
    let place = match &result {
        Ok(_) => Some(ctx.store.place_in_line().await),
        Err(_) => None,
    };
    drop(slot);
    let error = match result {
        Ok(polled) => match record_success(ctx, source, row, polled, elapsed).await {
            Ok(report) => return report,
            Err(e) => e,
        },
        Err(e) => e,
    };
    drop(place);
    record_failure(ctx, source, row, error, elapsed).await
}

/// Commits a successful poll: its items and alerts with the source's new times, or, when
/// it found nothing on a healthy source, the times alone later with others.
async fn record_success(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    p: Polled,
    elapsed: Duration,
) -> Result<PollReport, PollError> {
    let interval = source.interval;
    let wait = p
        .hint
        .map_or(interval, |h| h.min(ctx.limits.max_hint).max(interval));
    let at = ctx.clock.now();
    let status = p.status;
    let record = PollRecord {
        at,
        result: Ok(status.clone()),
        validators: p.validators,
        next_poll_at: crate::time::after(at, wait),
        discovered_url: p.discovered,
        health: health::health_change(&ctx.health, source, row, None, at),
    };
    let Pending { new, changed } = p.pending;
    let id = row.id;
    let quiet = new.is_empty()
        && changed.is_empty()
        && row.consecutive_failures == 0
        && record.discovered_url == Discovery::Keep
        && record.health.is_none();
    let s = if quiet {
        // Nothing to keep but the row's times: written later with others.
        ctx.store.defer_record(id, record).await?;
        InsertReport::default()
    } else {
        ctx.store
            .commit(PollCommit {
                source_id: id,
                new,
                changed,
                record,
            })
            .await?
    };
    let result = if status == PollStatus::NotModified {
        "not_modified"
    } else {
        "ok"
    };
    ctx.metrics.poll(result, elapsed, s.items, s.updated);
    let elapsed_ms = elapsed.as_millis() as u64;
    if s.items + s.updated + s.alerts > 0 {
        info!(source = %source.name, status = %status, new_items = s.items, updated = s.updated,
              alerts = s.alerts, repeats = s.repeats, elapsed_ms, "polled");
    } else {
        debug!(source = %source.name, status = %status, elapsed_ms, "polled");
    }
    Ok(PollReport {
        new_items: s.items,
        alerts: s.alerts,
        ..Default::default()
    })
}

/// Records a failed poll: the source backs off (longer if the server asked), and its
/// failure count and error are kept on its row.
async fn record_failure(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    error: PollError,
    elapsed: Duration,
) -> PollReport {
    ctx.metrics.poll("error", elapsed, 0, 0);
    let failures = row.consecutive_failures + 1;
    let retry_after = match &error {
        PollError::Fetch(f) => f.retry_after(),
        _ => None,
    };
    let wait = backoff(source.interval, ctx.limits.max_backoff).delay(
        failures,
        retry_after,
        ctx.limits.max_hint,
    );
    match &error {
        // A fetch error names its URL (maybe a discovered feed's), and ends with a hint
        // when the network failed.
        PollError::Fetch(f) => {
            warn!(source = %source.name, error = %error, failures, retry_in_s = wait.as_secs(),
                  hint = f.hint(), "poll failed")
        }
        _ => {
            warn!(source = %source.name, url = %source.url, error = %error, failures, retry_in_s = wait.as_secs(), "poll failed")
        }
    }
    let message = crate::text::without_nul(error.to_string());
    let at = ctx.clock.now();
    let record = PollRecord {
        at,
        result: Err(message.clone()),
        validators: None,
        next_poll_at: crate::time::after(at, wait),
        // A discovered feed that fails is looked for again on the page next time.
        discovered_url: if row.discovered_url.is_some() {
            Discovery::Forget
        } else {
            Discovery::Keep
        },
        health: health::health_change(&ctx.health, source, row, Some(&message), at),
    };
    let id = row.id;
    if let Err(e) = ctx
        .store
        .blocking(move |s| s.record_poll(id, &record))
        .await
    {
        warn!(source = %source.name, error = %e, "cannot record the poll outcome");
    }
    PollReport {
        error: Some(message),
        cause: Some(error.cause()),
        ..Default::default()
    }
}

/// A failing source waits its interval doubled per consecutive failure, up to `cap` (never
/// below the interval), ±10%.
fn backoff(interval: Duration, cap: Duration) -> Backoff {
    Backoff {
        initial: interval,
        cap,
        jitter: 0.1,
    }
}

async fn poll(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> Result<Polled, PollError> {
    let is_feed = matches!(source.kind, SourceKind::Feed { .. });
    let url = match (&row.discovered_url, is_feed) {
        (Some(u), true) => url::Url::parse(u).unwrap_or_else(|_| source.url.clone()),
        _ => source.url.clone(),
    };
    // A discovered feed is content: trusted only on the listed page's own host.
    let fetch = ctx
        .fetcher
        .fetch_near(&source.url, &url, &row.validators, same_host);
    let mut fetched = match fetch.await? {
        FetchOutcome::NotModified { max_age } => {
            return Ok(Polled {
                hint: max_age,
                ..Polled::status(PollStatus::NotModified)
            });
        }
        FetchOutcome::Fetched(f) => f,
    };
    let mut discovered = Discovery::Keep;
    if is_feed && !parse::looks_like_feed(&fetched.body, fetched.content_type.as_deref()) {
        // A listed HTML page that advertises its feed: the feed is polled from now on.
        let html = crate::fetch::decode_html(&fetched.body, fetched.content_type.as_deref());
        let base = fetched.final_url.clone();
        let found = blocking(move || parse::discover_feeds(&html, &base)).await?;
        if let Some(feed_url) = found.into_iter().next() {
            info!(source = %source.name, page = %url, feed = %feed_url, "the listed page advertises a feed; polling the feed");
            let parsed = url::Url::parse(&feed_url).map_err(|_| PollError::NotAFeed)?;
            let none = Validators::default();
            let fetch = ctx
                .fetcher
                .fetch_near(&source.url, &parsed, &none, same_host);
            fetched = match fetch.await? {
                FetchOutcome::Fetched(f) => f,
                FetchOutcome::NotModified { .. } => return Err(PollError::NotAFeed),
            };
            discovered = Discovery::Set(feed_url);
        }
    }
    let validators = Some(fetched.validators.clone());
    let max_age = fetched.max_age;
    let mut polled = match &source.kind {
        SourceKind::Feed { full_text } => {
            feed::poll_feed(ctx, source, row, fetched, *full_text, slot).await?
        }
        SourceKind::Page {
            mode: PageMode::Content,
            ..
        } => page::poll_content(ctx, source, row, fetched).await?,
        SourceKind::Page {
            mode: PageMode::Links,
            select,
        } => {
            drop(slot.take());
            page::poll_links(ctx, source, row, fetched, select.clone()).await?
        }
    };
    // Items left for a later poll need the feed again, not a 304.
    polled.validators = if polled.refetch {
        Some(Validators::default())
    } else {
        validators
    };
    polled.hint = polled.hint.max(max_age);
    polled.discovered = discovered;
    Ok(polled)
}

/// The identities of a poll's items. A URL or a title+day that several items of the same
/// feed share identifies none of them (feeds that link every item to their home page).
fn identities(items: &[Item]) -> Vec<Identity> {
    let count = |values: Vec<Option<String>>| {
        let mut n: HashMap<String, usize> = HashMap::new();
        for v in values.iter().flatten() {
            *n.entry(v.clone()).or_default() += 1;
        }
        values
            .into_iter()
            .map(|v| v.filter(|v| n[v] == 1))
            .collect::<Vec<_>>()
    };
    let urls = count(items.iter().map(|i| i.url.clone()).collect());
    let title_dates = count(
        items
            .iter()
            .map(|i| title_date_key(&i.title, i.published))
            .collect(),
    );
    items
        .iter()
        .zip(urls.into_iter().zip(title_dates))
        .map(|(i, (url, title_date))| Identity {
            key: i.key.clone(),
            guid: i.guid.clone(),
            url,
            title_date,
            raw_hash: short_hash(&[&i.title, &i.html]),
        })
        .collect()
}

/// Each item's identities, and what the store knows of it: the cheap check that comes
/// before any full-text fetch or extraction. A source that has never polled successfully
/// has nothing stored (items are stored only with a successful poll's record, in one
/// transaction), so its items are new without asking the store: a cold cycle of 10,000 new
/// feeds saved 10,000 lookups, a round trip each on PostgreSQL.
async fn classify(
    ctx: &PollContext,
    row: &SourceRow,
    items: &[Item],
) -> Result<(Vec<Identity>, Vec<Seen>), PollError> {
    let ids = identities(items);
    if row.last_success_at.is_none() {
        return Ok((ids, vec![Seen::New; items.len()]));
    }
    let (source_id, lookup) = (row.id, ids.clone());
    let seen = ctx
        .store
        .blocking(move |s| s.classify(source_id, &lookup))
        .await?;
    Ok((ids, seen))
}

/// The first item of each key (feeds sometimes repeat an item).
fn distinct(items: Vec<Item>) -> Vec<Item> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.key.clone()))
        .collect()
}

/// An item's page for full-text extraction; a failure falls back to the feed's content.
async fn fetch_page(ctx: &PollContext, source: &Source, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let none = Validators::default();
    let fetch = ctx
        .fetcher
        .fetch_near(&source.url, &parsed, &none, same_host_and_port);
    match fetch.await {
        Ok(FetchOutcome::Fetched(f)) => Some(crate::fetch::decode_html(
            &f.body,
            f.content_type.as_deref(),
        )),
        Ok(FetchOutcome::NotModified { .. }) => None,
        Err(crate::fetch::FetchError::Forbidden(e)) => {
            // One line per source, not one per item: the operator decides once.
            let first = ctx
                .refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(source.name.clone());
            if first {
                warn!(source = %source.name, url, error = %e,
                      "article pages on other private hosts are not fetched; the feed's text is used (set [fetch] allow_private = true to allow them)");
            } else {
                debug!(source = %source.name, url, error = %e, "article page refused");
            }
            None
        }
        Err(e) => {
            warn!(source = %source.name, error = %e, hint = e.hint(),
                  "cannot fetch the article page; using the feed's text");
            None
        }
    }
}

/// The alerts an item raises: one per matching watch and routed notifier.
fn alerts_for(
    wl: &Watchlist,
    source: &Source,
    item: &Item,
    text: &str,
    title: &str,
    kind: AlertKind,
) -> Vec<NewAlert> {
    let mut out = Vec::new();
    let scope = Scope {
        source: &source.name,
        tags: &source.tags,
    };
    for hit in wl.matcher.match_article(scope, title, text) {
        let alert = Alert {
            id: alert_id(&source.name, &item.key, &hit.watch),
            kind,
            watch: hit.watch.clone(),
            watches: vec![hit.watch.clone()],
            source: source.name.clone(),
            title: item.title.clone(),
            url: item.url.clone(),
            published: item
                .published
                .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            matched: hit.terms,
            snippet: hit.snippet,
        };
        for notifier in wl.routes.get(&hit.watch).into_iter().flatten() {
            out.push(NewAlert {
                alert: alert.clone(),
                notifier: notifier.clone(),
            });
        }
    }
    out
}

fn new_item(
    item: &Item,
    id: Identity,
    text: String,
    fingerprint: Option<u64>,
    alerts: Vec<NewAlert>,
) -> NewItem {
    NewItem {
        id,
        title: item.title.clone(),
        published_at: item.published.map(|p| p.timestamp_millis()),
        text,
        fingerprint,
        alerts,
    }
}

/// New and changed items of a poll, committed with its outcome by [`poll_source`].
#[derive(Default)]
struct Pending {
    new: Vec<NewItem>,
    changed: Vec<ChangedItem>,
}

/// The longest one piece of CPU work of a poll (parsing a document, or cleaning and matching
/// its items) may take before the poll gives up on it. Nesting is bounded before parsing, so
/// only a pathological input comes near; its source gets an error, the daemon goes on.
const WORK_BUDGET: Duration = Duration::from_secs(30);

/// Runs CPU work (parsing, extraction) off the async workers, within [`WORK_BUDGET`]; a
/// panic in it becomes an error.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, PollError> {
    blocking_within(WORK_BUDGET, f).await
}

/// [`blocking`] with a budget. Past it the poll fails; the thread finishes its work unseen
/// (a thread cannot be stopped from outside) and the process does not wait for it to exit.
async fn blocking_within<R: Send + 'static>(
    budget: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, PollError> {
    match tokio::time::timeout(budget, tokio::task::spawn_blocking(f)).await {
        Ok(done) => done.map_err(|e| PollError::Task(e.to_string())),
        Err(_) => Err(PollError::OverBudget(budget)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_past_its_budget_fails_the_poll() {
        let slow = blocking_within(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_millis(500));
        })
        .await;
        let e = slow.unwrap_err().to_string();
        assert!(e.contains("longer than 50ms"), "{e}");
        assert_eq!(
            blocking_within(Duration::from_secs(5), || 7).await.unwrap(),
            7
        );
    }

    #[test]
    fn backoff_grows_and_caps() {
        let cap = Duration::from_secs(12 * 3600);
        let i = Duration::from_secs(600);
        assert!(
            backoff(i, cap).delay(1, None, cap) >= Duration::from_secs(540)
                && backoff(i, cap).delay(1, None, cap) <= Duration::from_secs(660)
        );
        assert!(backoff(i, cap).delay(3, None, cap) >= Duration::from_secs(2160));
        assert!(backoff(i, cap).delay(30, None, cap) <= cap.mul_f64(1.1));
        let day = Duration::from_secs(86_400);
        assert!(
            backoff(day, cap).delay(5, None, cap) >= day.mul_f64(0.9),
            "never sooner than the interval's cap"
        );
    }

    #[test]
    fn shared_urls_identify_nothing() {
        let item = |key: &str, url: &str| Item {
            key: key.into(),
            guid: None,
            title: key.into(),
            url: Some(url.into()),
            published: None,
            html: String::new(),
        };
        let ids = identities(&[
            item("a", "https://e.org/"),
            item("b", "https://e.org/"),
            item("c", "https://e.org/c"),
        ]);
        assert_eq!(ids[0].url, None);
        assert_eq!(ids[1].url, None);
        assert_eq!(ids[2].url.as_deref(), Some("https://e.org/c"));
    }
}
