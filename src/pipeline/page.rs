//! Page sources: a page's main text watched for changes (`content`), or a listing page
//! watched for new article links (`links`).

use std::collections::HashSet;

use super::{
    Pending, PollContext, PollError, Polled, alerts_for, blocking, classify, distinct, fetch_page,
    identities, new_item,
};
use crate::clean;
use crate::dedupe::{canonical_url, fingerprint, short_hash};
use crate::fetch::{Fetched, decode_html};
use crate::model::{AlertKind, Item, PollStatus, Source};
use crate::parse;
use crate::store::{Seen, SourceRow};

/// New links of a watched listing page fetched in one poll; the rest wait for the next.
const MAX_PAGE_LINKS_PER_POLL: usize = 20;

/// A watched page's main text, kept as versions; alerts match only the text a new version
/// added, so a page that always mentions a term does not alert on every unrelated change.
pub(super) async fn poll_content(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
) -> Result<Polled, PollError> {
    let html = decode_html(&fetched.body, fetched.content_type.as_deref());
    let article = blocking(move || clean::extract_article(&html)).await?;
    let id = row.id;
    let previous = ctx.store.blocking(move |s| s.latest_text(id)).await?;
    if previous.as_deref() == Some(article.text.as_str()) {
        return Ok(Polled::status(PollStatus::Ok("unchanged".into())));
    }
    let item = Item {
        key: format!("version:{}", short_hash(&[&article.text])),
        guid: None,
        title: article.title.clone(),
        url: Some(canonical_url(source.url.as_str())),
        published: None,
        html: article.text.clone(),
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
    let mut ids = identities(std::slice::from_ref(&item));
    let id = ids.pop().expect("one item");
    // Versions of one page are not copies of a story: no fingerprint, no story.
    let version = new_item(&item, id, article.text, None, alerts);
    let pending = Pending {
        new: vec![version],
        changed: Vec::new(),
    };
    let status = if previous.is_none() {
        "first version"
    } else {
        "changed"
    };
    Ok(Polled {
        pending,
        ..Polled::status(PollStatus::Ok(status.into()))
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
pub(super) async fn poll_links(
    ctx: &PollContext,
    source: &Source,
    row: &SourceRow,
    fetched: Fetched,
    select: Option<String>,
) -> Result<Polled, PollError> {
    let html = decode_html(&fetched.body, fetched.content_type.as_deref());
    let base = fetched.final_url.clone();
    let links = blocking(move || parse::page_links(&html, &base, select.as_deref())).await?;
    let total = links.len();
    let items: Vec<Item> = distinct(
        links
            .into_iter()
            .map(|(url, text)| Item {
                key: format!("url:{url}"),
                guid: None,
                title: text,
                url: Some(url),
                published: None,
                html: String::new(),
            })
            .collect(),
    );
    let (ids, seen) = classify(ctx, row, &items).await?;
    let new: Vec<_> = items
        .into_iter()
        .zip(ids)
        .zip(seen)
        .filter(|(_, s)| *s == Seen::New)
        .map(|(x, _)| x)
        .collect();

    let baseline = row.last_success_at.is_none();
    let mut batch = Vec::new();
    for (item, id) in new.into_iter().take(if baseline {
        usize::MAX
    } else {
        MAX_PAGE_LINKS_PER_POLL
    }) {
        if baseline {
            batch.push(new_item(&item, id, String::new(), None, Vec::new()));
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
                let fp = fingerprint(&article.text);
                new_item(&item, id, article.text, fp, alerts)
            })
            .await?,
        );
    }
    let pending = Pending {
        new: batch,
        changed: Vec::new(),
    };
    Ok(Polled {
        pending,
        ..Polled::status(PollStatus::Ok(format!("{total} links")))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn added_paragraphs_only() {
        assert_eq!(super::added_paragraphs("a\n\nb", "a\n\nc\n\nb"), "c");
        assert_eq!(super::added_paragraphs("a", "a"), "");
    }
}
