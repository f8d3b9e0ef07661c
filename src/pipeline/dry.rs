//! A poll without the store: what `preview` and `check --online` show is what a poll would
//! read, through the same parse and clean steps.

use url::Url;

use super::PollError;
use crate::clean;
use crate::dedupe::canonical_url;
use crate::fetch::{FetchError, FetchOutcome, Fetcher, decode_html, same_host_and_port};
use crate::matcher::{Matcher, Scope, Verdict};
use crate::model::Validators;
use crate::model::{Article, Hit, Item, Source, SourceType};
use crate::parse;

/// What a source's bytes hold, read as a poll reads them.
#[derive(Debug)]
pub(crate) enum Reading {
    /// A feed: each item with the clean text a poll matches (without full-text pages).
    Feed(Vec<(Item, Article)>),
    /// An HTML page: one item, its extracted article, the feeds it advertises, and its
    /// HTML as decoded.
    Page {
        item: Box<Item>,
        article: Box<Article>,
        feeds: Vec<String>,
        html: String,
    },
}

/// Reads a fetched body (or a file's bytes) at `url`. CPU work: call it off the async
/// workers.
pub(crate) fn read(
    body: &[u8],
    content_type: Option<&str>,
    url: &Url,
) -> Result<Reading, PollError> {
    if parse::looks_like_feed(body, content_type) {
        let feed = parse::parse_feed(body, url)?;
        let items = feed
            .items
            .into_iter()
            .map(|i| {
                let article = Article {
                    title: i.title.clone(),
                    text: clean::clean_fragment(&i.html),
                    ..Default::default()
                };
                (i, article)
            })
            .collect();
        return Ok(Reading::Feed(items));
    }
    let html = decode_html(body, content_type);
    let feeds = parse::discover_feeds(&html, url);
    let article = clean::extract_article(&html);
    let link = article
        .canonical_url
        .clone()
        .unwrap_or_else(|| url.to_string());
    let item = Item {
        key: String::new(),
        guid: None,
        title: article.title.clone(),
        url: Some(crate::dedupe::canonical_url(&link)),
        published: article
            .published
            .as_deref()
            .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
            .map(|d| d.with_timezone(&chrono::Utc)),
        html: String::new(),
    };
    Ok(Reading::Page {
        item: Box::new(item),
        article: Box::new(article),
        feeds,
        html,
    })
}

/// Fetches a configured source once and says what it serves, as `check --online` reports
/// it: `Ok` with a description, or the reason it cannot be polled.
pub(crate) async fn probe(fetcher: &Fetcher, source: &Source) -> Result<String, PollError> {
    let fetched = match fetcher.fetch(&source.url, &Validators::default()).await? {
        FetchOutcome::NotModified { .. } => return Ok("not modified".into()),
        FetchOutcome::Fetched(f) => f,
    };
    let url = fetched.final_url.clone();
    let reading =
        super::blocking(move || read(&fetched.body, fetched.content_type.as_deref(), &url))
            .await??;
    match (reading, source.source_type()) {
        (Reading::Feed(items), _) => Ok(format!("a feed with {} items", items.len())),
        (Reading::Page { .. }, SourceType::Page) => Ok("an HTML page".into()),
        (Reading::Page { feeds, .. }, SourceType::Feed) => match feeds.first() {
            Some(feed) => Ok(format!(
                "an HTML page advertising the feed {feed}, which will be polled"
            )),
            None => Err(PollError::NotAFeed),
        },
    }
}

/// An item's page as a `full_text` poll reads it: fetched like the daemon fetches it (the
/// listed source's host and port trusted, other private hosts refused), and its article
/// extracted. `None` when the item has no link, or the page gives no text.
pub(crate) async fn article_page(
    fetcher: &Fetcher,
    listed: &Url,
    item: &Item,
) -> Result<Option<(String, Article)>, FetchError> {
    let Some(url) = item.url.as_deref().and_then(|u| Url::parse(u).ok()) else {
        return Ok(None);
    };
    let none = Validators::default();
    let fetched = match fetcher
        .fetch_near(listed, &url, &none, same_host_and_port)
        .await?
    {
        FetchOutcome::Fetched(f) => f,
        FetchOutcome::NotModified { .. } => return Ok(None),
    };
    let html = decode_html(&fetched.body, fetched.content_type.as_deref());
    let (html, article) = super::blocking(move || {
        let article = clean::extract_article(&html);
        (html, article)
    })
    .await
    .map_err(|e| FetchError::Other {
        url: url.to_string(),
        message: e.to_string(),
    })?;
    if article.text.is_empty() {
        return Ok(None);
    }
    Ok(Some((html, article)))
}

/// The item a page's article makes: its title, and its canonical URL when it names one.
pub(crate) fn with_page(item: &Item, page: &Article) -> (Item, Article) {
    let mut item = item.clone();
    if let Some(canonical) = &page.canonical_url {
        item.url = Some(canonical_url(canonical));
    }
    let article = Article {
        title: item.title.clone(),
        ..page.clone()
    };
    (item, article)
}

/// Why one watch does or does not match an article, and where its terms occur in text
/// cleaning removed.
#[derive(Debug, Clone)]
pub(crate) struct Explanation {
    pub(crate) watch: String,
    pub(crate) verdict: Verdict,
    /// For a watch that matched nothing in the article: the places (see
    /// [`clean::Region`]) whose text it would match, with the terms and a snippet there.
    pub(crate) removed: Vec<(String, Hit)>,
}

/// Explains every watch against one article, and looks for the terms of those that match
/// nothing in the text `html` loses in cleaning. CPU work: call it off the async workers.
pub(crate) fn explain(
    matcher: &Matcher,
    scope: Scope<'_>,
    article: &Article,
    html: &str,
) -> Vec<Explanation> {
    let mut out: Vec<Explanation> = matcher
        .explain(scope, &article.title, &article.text)
        .into_iter()
        .map(|(watch, verdict)| Explanation {
            watch,
            verdict,
            removed: Vec::new(),
        })
        .collect();
    if out.iter().all(|e| e.verdict != Verdict::NoTerm) {
        return out;
    }
    for region in clean::page_regions(html) {
        let found = matcher.explain(scope, "", &region.text);
        for (e, (_, verdict)) in out.iter_mut().zip(found) {
            if let (Verdict::NoTerm, Verdict::Match(hit)) = (&e.verdict, verdict) {
                e.removed.push((region.place.clone(), hit));
            }
        }
    }
    out
}

/// Stored articles fetched since `since` that `matcher` (one watch, or a query made one)
/// matches, newest first, each with its hit, until `f` breaks: the engine of `search` and
/// of the status page's search box. `tags` gives each source's tags, so a watch restricted
/// by tags sees them.
pub(crate) fn search_stored(
    store: &crate::store::Store,
    matcher: &Matcher,
    tags: &std::collections::HashMap<String, Vec<String>>,
    since: i64,
    mut f: impl FnMut(crate::store::StoredArticle, Hit) -> std::ops::ControlFlow<()>,
) -> Result<(), crate::store::StoreError> {
    store.each_article(since, &mut |a| {
        let scope = Scope {
            source: &a.source,
            tags: tags.get(&a.source).map_or(&[][..], Vec::as_slice),
        };
        match matcher.match_article(scope, &a.title, &a.text).pop() {
            Some(hit) => f(a, hit),
            None => std::ops::ControlFlow::Continue(()),
        }
    })
}
