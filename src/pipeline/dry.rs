//! A poll without the store: what `preview` and `check --online` show is what a poll would
//! read, through the same parse and clean steps.

use url::Url;

use super::PollError;
use crate::clean;
use crate::fetch::{FetchOutcome, Fetcher, decode_html};
use crate::model::Validators;
use crate::model::{Article, Item, Source, SourceType};
use crate::parse;

/// What a source's bytes hold, read as a poll reads them.
#[derive(Debug)]
pub(crate) enum Reading {
    /// A feed: each item with the clean text a poll matches (without full-text pages).
    Feed(Vec<(Item, Article)>),
    /// An HTML page: one item, its extracted article, and the feeds it advertises.
    Page {
        item: Box<Item>,
        article: Box<Article>,
        feeds: Vec<String>,
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
