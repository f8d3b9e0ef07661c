//! `poll_source`: the one linear path of a poll. fetch → parse → which items are new →
//! clean → match → store items with their alerts; then the outcome on the source's row.
//! Stages never call each other; this file calls them in order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::clean;
use crate::config::PageMode;
use crate::dedupe::{alert_id, short_hash};
use crate::fetch::{FetchOutcome, Fetched, Fetcher, Validators};
use crate::matcher::{Matcher, Scope};
use crate::model::{Alert, AlertKind, Article, Item, Source, SourceKind};
use crate::parse;
use crate::store::{NewAlert, NewItem, PollRecord, SourceRow, Store, ms, now_ms};

/// Longest a source is left alone after failures (doubling from its interval).
const MAX_BACKOFF: Duration = Duration::from_secs(12 * 3600);
/// Longest a server's freshness hint (ttl, max-age, Retry-After) may push the next poll.
const MAX_HINT: Duration = Duration::from_secs(24 * 3600);
/// New links of a watched listing page fetched in one poll; the rest wait for the next.
const MAX_PAGE_LINKS_PER_POLL: usize = 20;

/// Compiled watches and where each one's alerts go.
pub struct Watchlist {
    pub matcher: Matcher,
    /// Watch name → notifier names.
    pub routes: HashMap<String, Vec<String>>,
}

/// Everything a poll needs, built once by `app`.
#[derive(Clone)]
pub struct PollContext {
    pub fetcher: Fetcher,
    pub store: Store,
    pub watchlist: Arc<Watchlist>,
}

/// What one poll did, for logs and `once`.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    pub new_items: usize,
    pub alerts: usize,
    pub error: Option<String>,
}

/// A successful poll, before it is recorded.
struct Polled {
    status: String,
    validators: Option<Validators>,
    /// The longest freshness hint the server or feed gave.
    hint: Option<Duration>,
    new_items: usize,
    alerts: usize,
}

#[derive(Debug, thiserror::Error)]
enum PollError {
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
}

/// Polls one source and records the outcome on its row. Never fails: a failure is data.
pub async fn poll_source(ctx: &PollContext, source: &Source, row: &SourceRow) -> PollReport {
    let started = now_ms();
    let result = poll(ctx, source, row).await;
    let elapsed_ms = now_ms() - started;
    let interval = source.interval;
    let (record, report) = match result {
        Ok(p) => {
            let wait = p.hint.map_or(interval, |h| h.min(MAX_HINT).max(interval));
            if p.new_items > 0 || p.alerts > 0 {
                info!(source = %source.name, status = %p.status, new_items = p.new_items, alerts = p.alerts, elapsed_ms, "polled");
            } else {
                debug!(source = %source.name, status = %p.status, elapsed_ms, "polled");
            }
            (
                PollRecord {
                    at: now_ms(),
                    result: Ok(p.status),
                    validators: p.validators,
                    next_poll_at: now_ms() + ms(wait),
                },
                PollReport {
                    new_items: p.new_items,
                    alerts: p.alerts,
                    error: None,
                },
            )
        }
        Err(e) => {
            let failures = row.consecutive_failures + 1;
            let retry_after = match &e {
                PollError::Fetch(f) => f.retry_after(),
                _ => None,
            };
            let wait =
                backoff(interval, failures).max(retry_after.unwrap_or_default().min(MAX_HINT));
            warn!(source = %source.name, url = %source.url, error = %e, failures, retry_in_s = wait.as_secs(), "poll failed");
            let message = e.to_string();
            (
                PollRecord {
                    at: now_ms(),
                    result: Err(message.clone()),
                    validators: None,
                    next_poll_at: now_ms() + ms(wait),
                },
                PollReport {
                    error: Some(message),
                    ..Default::default()
                },
            )
        }
    };
    let id = row.id;
    if let Err(e) = ctx
        .store
        .blocking(move |s| s.record_poll(id, &record))
        .await
    {
        warn!(source = %source.name, error = %e, "cannot record the poll outcome");
    }
    report
}

/// Interval doubled per consecutive failure, capped, with ±10% jitter so failing sources
/// drift apart rather than retrying in lockstep.
fn backoff(interval: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    doubled
        .min(MAX_BACKOFF.max(interval))
        .mul_f64(0.9 + 0.2 * fastrand::f64())
}

async fn poll(ctx: &PollContext, source: &Source, row: &SourceRow) -> Result<Polled, PollError> {
    let fetched = match ctx.fetcher.fetch(&source.url, &row.validators).await? {
        FetchOutcome::NotModified { max_age } => {
            return Ok(Polled {
                status: "not modified".into(),
                validators: None,
                hint: max_age,
                new_items: 0,
                alerts: 0,
            });
        }
        FetchOutcome::Fetched(f) => f,
    };
    let validators = Some(fetched.validators.clone());
    let max_age = fetched.max_age;
    let mut polled = match &source.kind {
        SourceKind::Feed { full_text } => poll_feed(ctx, source, row, fetched, *full_text).await?,
        SourceKind::Page {
            mode: PageMode::Content,
            ..
        } => poll_page_content(ctx, source, row, fetched).await?,
        SourceKind::Page {
            mode: PageMode::Links,
            select,
        } => poll_page_links(ctx, source, row, fetched, select.clone()).await?,
    };
    polled.validators = validators;
    polled.hint = polled.hint.max(max_age);
    Ok(polled)
}

async fn poll_feed(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
    full_text: bool,
) -> Result<Polled, PollError> {
    if !parse::looks_like_feed(&fetched.body, fetched.content_type.as_deref()) {
        return Err(PollError::NotAFeed);
    }
    let base = fetched.final_url.clone();
    let feed = blocking(move || parse::parse_feed(&fetched.body, &base)).await??;
    let total = feed.items.len();
    let new = new_items(ctx, row.id, feed.items).await?;

    // Cheap check first: only items not seen before get their pages fetched.
    let mut pages: Vec<Option<String>> = Vec::with_capacity(new.len());
    for item in &new {
        pages.push(match (&item.url, full_text) {
            (Some(url), true) => fetch_page(ctx, source, url).await,
            _ => None,
        });
    }
    let wl = ctx.watchlist.clone();
    let src = source.clone();
    let batch = blocking(move || {
        new.into_iter()
            .zip(pages)
            .map(|(item, page)| {
                let article = match page {
                    Some(html) => clean::extract_article(&html),
                    None => Article {
                        title: item.title.clone(),
                        text: clean::clean_fragment(&item.html),
                        ..Default::default()
                    },
                };
                let text = if article.text.is_empty() {
                    clean::clean_fragment(&item.html)
                } else {
                    article.text
                };
                let alerts = alerts_for(&wl, &src, &item, &text, &item.title, AlertKind::New);
                to_new_item(item, text, alerts)
            })
            .collect::<Vec<_>>()
    })
    .await?;
    let (new_items, alerts) = store_batch(ctx, row.id, batch).await?;
    Ok(Polled {
        status: format!("ok: {total} items"),
        validators: None,
        hint: feed
            .ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m) * 60)),
        new_items,
        alerts,
    })
}

/// A watched page's main text, kept as versions; alerts match only the text a new version
/// added, so a page that always mentions a term does not alert on every unrelated change.
async fn poll_page_content(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
) -> Result<Polled, PollError> {
    let html = crate::fetch::decode_html(&fetched.body, fetched.content_type.as_deref());
    let article = blocking(move || clean::extract_article(&html)).await?;
    let id = row.id;
    let previous = ctx.store.blocking(move |s| s.latest_text(id)).await?;
    if previous.as_deref() == Some(article.text.as_str()) {
        return Ok(Polled {
            status: "ok: unchanged".into(),
            validators: None,
            hint: None,
            new_items: 0,
            alerts: 0,
        });
    }
    let item = Item {
        key: format!("version:{}", short_hash(&[&article.text])),
        title: article.title.clone(),
        url: Some(crate::dedupe::canonical_url(source.url.as_str())),
        published: None,
        html: String::new(),
    };
    let alerts = match &previous {
        // The first version is the baseline: nothing was "added" yet.
        None => Vec::new(),
        Some(prev) => {
            let added = added_paragraphs(prev, &article.text);
            alerts_for(
                &ctx.watchlist,
                source,
                &item,
                &added,
                "",
                AlertKind::Changed,
            )
        }
    };
    let batch = vec![to_new_item(item, article.text, alerts)];
    let (new_items, alerts) = store_batch(ctx, row.id, batch).await?;
    let status = if previous.is_none() {
        "ok: first version"
    } else {
        "ok: changed"
    };
    Ok(Polled {
        status: status.into(),
        validators: None,
        hint: None,
        new_items,
        alerts,
    })
}

/// Paragraphs of `new` that `old` did not have.
fn added_paragraphs(old: &str, new: &str) -> String {
    let before: HashSet<&str> = old.split("\n\n").collect();
    new.split("\n\n")
        .filter(|p| !before.contains(p))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// New article links on a listing page: each is fetched, extracted and matched. The first
/// successful poll only learns the links already there.
async fn poll_page_links(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
    select: Option<String>,
) -> Result<Polled, PollError> {
    let html = crate::fetch::decode_html(&fetched.body, fetched.content_type.as_deref());
    let base = fetched.final_url.clone();
    let links = blocking(move || parse::page_links(&html, &base, select.as_deref())).await?;
    let total = links.len();
    let items: Vec<Item> = links
        .into_iter()
        .map(|(url, text)| Item {
            key: format!("url:{url}"),
            title: text,
            url: Some(url),
            published: None,
            html: String::new(),
        })
        .collect();
    let mut new = new_items(ctx, row.id, items).await?;
    let baseline = row.last_success_at.is_none();
    if !baseline {
        new.truncate(MAX_PAGE_LINKS_PER_POLL);
    }
    let mut batch = Vec::with_capacity(new.len());
    for item in new {
        if baseline {
            batch.push(to_new_item(item, String::new(), Vec::new()));
            continue;
        }
        let Some(html) = fetch_page(ctx, source, item.url.as_deref().unwrap_or_default()).await
        else {
            continue;
        };
        let wl = ctx.watchlist.clone();
        let src = source.clone();
        batch.push(
            blocking(move || {
                let article = clean::extract_article(&html);
                let title = if article.title.is_empty() {
                    item.title.clone()
                } else {
                    article.title
                };
                let item = Item { title, ..item };
                let alerts =
                    alerts_for(&wl, &src, &item, &article.text, &item.title, AlertKind::New);
                to_new_item(item, article.text, alerts)
            })
            .await?,
        );
    }
    let (new_items, alerts) = store_batch(ctx, row.id, batch).await?;
    Ok(Polled {
        status: format!("ok: {total} links"),
        validators: None,
        hint: None,
        new_items,
        alerts,
    })
}

/// Items whose keys the store does not know yet (first of each key only).
async fn new_items(
    ctx: &PollContext,
    source_id: i64,
    items: Vec<Item>,
) -> Result<Vec<Item>, PollError> {
    let mut seen = HashSet::new();
    let items: Vec<Item> = items
        .into_iter()
        .filter(|i| seen.insert(i.key.clone()))
        .collect();
    let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
    let known = ctx
        .store
        .blocking(move |s| s.known_keys(source_id, &keys))
        .await?;
    Ok(items
        .into_iter()
        .filter(|i| !known.contains(&i.key))
        .collect())
}

/// An item's page for full-text extraction; a failure falls back to the feed's content.
async fn fetch_page(ctx: &PollContext, source: &Source, url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match ctx.fetcher.fetch(&parsed, &Validators::default()).await {
        Ok(FetchOutcome::Fetched(f)) => Some(crate::fetch::decode_html(
            &f.body,
            f.content_type.as_deref(),
        )),
        Ok(FetchOutcome::NotModified { .. }) => None,
        Err(e) => {
            warn!(source = %source.name, url, error = %e, "cannot fetch the article page; using the feed's text");
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

fn to_new_item(item: Item, text: String, alerts: Vec<NewAlert>) -> NewItem {
    NewItem {
        key: item.key,
        url: item.url,
        title: item.title,
        published_at: item.published.map(|p| p.timestamp_millis()),
        text,
        alerts,
    }
}

async fn store_batch(
    ctx: &PollContext,
    source_id: i64,
    batch: Vec<NewItem>,
) -> Result<(usize, usize), PollError> {
    if batch.is_empty() {
        return Ok((0, 0));
    }
    let r = ctx
        .store
        .blocking(move |s| s.insert_new(source_id, now_ms(), &batch))
        .await?;
    Ok((r.items, r.alerts))
}

/// Runs CPU work (parsing, extraction) off the async workers; a panic in it becomes an error.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, PollError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PollError::Task(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let i = Duration::from_secs(600);
        assert!(
            backoff(i, 1) >= Duration::from_secs(540) && backoff(i, 1) <= Duration::from_secs(660)
        );
        assert!(backoff(i, 3) >= Duration::from_secs(2160));
        assert!(backoff(i, 30) <= MAX_BACKOFF.mul_f64(1.1));
        let day = Duration::from_secs(86_400);
        assert!(
            backoff(day, 5) >= day.mul_f64(0.9),
            "never sooner than the interval's cap"
        );
    }

    #[test]
    fn added_paragraphs_only() {
        assert_eq!(added_paragraphs("a\n\nb", "a\n\nc\n\nb"), "c");
        assert_eq!(added_paragraphs("a", "a"), "");
    }
}
