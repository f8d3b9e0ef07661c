//! Feed sources: parse, classify each item (new, changed, known), fetch pages of new items
//! when `full_text` is on, clean and match, commit.

use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tracing::info;

use super::{
    Pending, PollContext, PollError, Polled, Watchlist, alerts_for, blocking, classify, distinct,
    fetch_page, new_item,
};
use crate::clean;
use crate::dedupe::{MATERIAL_EDIT_SIMILARITY, canonical_url, fingerprint, similarity};
use crate::fetch::Fetched;
use crate::model::{AlertKind, Item, PollStatus, Source};
use crate::parse;
use crate::store::{ChangedItem, Identity, NewItem, Seen, SourceRow};

/// A new item with its identity.
type NewEntry = (Item, Identity);
/// A changed item: its identity, its row, and its stored text when that is the feed's own.
type ChangedEntry = (Item, Identity, i64, Option<String>);

/// One poll of a feed: parse, classify, fetch pages of new items (with `full_text`), then
/// clean and match new and changed items.
pub(super) async fn poll_feed(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
    full_text: bool,
    slot: &mut Option<OwnedSemaphorePermit>,
) -> Result<Polled, PollError> {
    if !parse::looks_like_feed(&fetched.body, fetched.content_type.as_deref()) {
        return Err(PollError::NotAFeed);
    }
    let base = fetched.final_url.clone();
    let feed = blocking(move || parse::parse_feed(&fetched.body, &base)).await??;
    let total = feed.items.len();
    let items = distinct(feed.items);
    let (ids, seen) = classify(ctx, row, &items).await?;
    let (mut new, changed) = sort_seen(items, ids, seen, full_text);
    // Cheap checks done: only new items get their pages fetched, a bounded number per poll
    // and for a bounded time; the rest stay unstored and are new again next poll.
    // Items of a first poll's backlog do not alert: their pages are not worth fetching.
    let backlog = Backlog::of(source, row, ctx.clock.now());
    let alert: Vec<bool> = new
        .iter()
        .map(|(i, _)| backlog.alerts(i.published))
        .collect();
    if full_text && alert.iter().any(|&a| a) {
        // The feed is read: its pages wait on their hosts' bounds, not on other sources'
        // slots. (Without pages the slot is kept to the end: it also bounds how many polls
        // hold parsed items in memory at once.)
        drop(slot.take());
    }
    let pages = if full_text {
        fetch_pages(ctx, source, &new, &alert).await
    } else {
        vec![None; new.len()]
    };
    let waiting = new.len() - pages.len();
    new.truncate(pages.len());
    if waiting > 0 {
        info!(source = %source.name, waiting, "article pages left for the next poll");
    }
    let wl = ctx.watchlist.clone();
    let src = source.clone();
    let (new, changed) = blocking(move || {
        let new = new
            .into_iter()
            .zip(pages)
            .zip(alert)
            .map(|((entry, page), alert)| clean_new(&wl, &src, entry, page, alert))
            .collect();
        let changed = changed
            .into_iter()
            .map(|entry| clean_changed(&wl, &src, entry))
            .collect();
        (new, changed)
    })
    .await?;
    let ttl = feed
        .ttl_minutes
        .map(|m| Duration::from_secs(u64::from(m) * 60));
    let status = if waiting > 0 {
        format!("{total} items, {waiting} pages for the next poll")
    } else {
        format!("{total} items")
    };
    Ok(Polled {
        hint: ttl,
        pending: Pending { new, changed },
        refetch: waiting > 0,
        ..Polled::status(PollStatus::Ok(status))
    })
}

/// The pages of the `wanted` new items, in feed order: at most `max_pages` of them, none started
/// after `page_time`. Shorter than `new` when some wait for the next poll.
async fn fetch_pages(
    ctx: &PollContext,
    source: &Source,
    new: &[NewEntry],
    wanted: &[bool],
) -> Vec<Option<String>> {
    let stop_at = std::time::Instant::now() + ctx.limits.page_time;
    let mut pages = Vec::with_capacity(new.len().min(ctx.limits.max_pages));
    let mut fetched = 0;
    for ((item, _), &wanted) in new.iter().zip(wanted) {
        let Some(url) = item.url.as_ref().filter(|_| wanted) else {
            pages.push(None);
            continue;
        };
        if fetched >= ctx.limits.max_pages || std::time::Instant::now() >= stop_at {
            break;
        }
        fetched += 1;
        pages.push(fetch_page(ctx, source, url).await);
    }
    pages
}

/// New and changed items; known unchanged ones drop out.
fn sort_seen(
    items: Vec<Item>,
    ids: Vec<Identity>,
    seen: Vec<Seen>,
    full_text: bool,
) -> (Vec<NewEntry>, Vec<ChangedEntry>) {
    let mut new = Vec::new();
    let mut changed = Vec::new();
    for ((item, id), seen) in items.into_iter().zip(ids).zip(seen) {
        match seen {
            Seen::New => new.push((item, id)),
            Seen::Unchanged => {}
            // With full text the stored text is the page's, not the feed's: comparing the
            // two would see an edit on every change of the feed entry.
            Seen::Changed { item_id, .. } if full_text => {
                changed.push((item, id, item_id, None));
            }
            Seen::Changed { item_id, old_text } => {
                changed.push((item, id, item_id, Some(old_text)))
            }
        }
    }
    (new, changed)
}

/// A new item's text (its page's article when fetched, else the feed's own), its alerts
/// and fingerprint.
fn clean_new(
    wl: &Watchlist,
    src: &Source,
    (mut item, id): NewEntry,
    page: Option<String>,
    alert: bool,
) -> NewItem {
    let article = page.map(|html| clean::extract_article(&html));
    let mut text = article.as_ref().map(|a| a.text.clone()).unwrap_or_default();
    if text.is_empty() {
        text = clean::clean_fragment(&item.html);
    }
    // The page's own canonical link is the better URL for the alert.
    if let Some(canonical) = article.and_then(|a| a.canonical_url) {
        item.url = Some(canonical_url(&canonical));
    }
    let alerts = if alert {
        alerts_for(wl, src, &item, &text, &item.title, AlertKind::New)
    } else {
        Vec::new()
    };
    let fp = fingerprint(&text);
    new_item(&item, id, text, fp, alerts)
}

/// What a source's first poll may alert on: items published within its `backlog`. Later
/// polls alert on every new item.
#[derive(Debug, Clone, Copy)]
struct Backlog {
    /// Items published before this (ms) are old; `None`: every item alerts.
    since: Option<i64>,
}

impl Backlog {
    fn of(source: &Source, row: &SourceRow, now: i64) -> Backlog {
        let first = row.last_success_at.is_none();
        Backlog {
            since: source
                .backlog
                .filter(|_| first)
                .map(|d| now.saturating_sub(crate::time::ms(d))),
        }
    }

    /// Whether an item published at `published` alerts (undated items count as old).
    fn alerts(&self, published: Option<chrono::DateTime<chrono::Utc>>) -> bool {
        match self.since {
            None => true,
            Some(since) => published.is_some_and(|p| p.timestamp_millis() >= since),
        }
    }
}

/// A changed item: a material edit of the text alerts as `updated`; typos, timestamps and
/// rotated boilerplate stay below the threshold, update nothing but the raw hash, and never
/// alert.
fn clean_changed(
    wl: &Watchlist,
    src: &Source,
    (item, id, item_id, old_text): ChangedEntry,
) -> ChangedItem {
    let Some(old_text) = old_text else {
        return ChangedItem {
            item_id,
            raw_hash: id.raw_hash,
            material: None,
            alerts: Vec::new(),
        };
    };
    let text = clean::clean_fragment(&item.html);
    let material = similarity(&old_text, &text) < MATERIAL_EDIT_SIMILARITY;
    let alerts = if material {
        alerts_for(wl, src, &item, &text, &item.title, AlertKind::Updated)
    } else {
        Vec::new()
    };
    let fp = fingerprint(&text);
    ChangedItem {
        item_id,
        raw_hash: id.raw_hash,
        material: material.then_some((text, fp)),
        alerts,
    }
}
