//! Parsing fetched bytes into items: feeds through feed-rs, HTML pages through scraper.
//! Pure and synchronous; callers run it on a blocking thread.

mod feed;
mod lenient;
mod page;
pub(crate) mod repair;

pub use feed::{ParsedFeed, parse_feed};
pub use page::{discover_feeds, looks_like_feed, page_links};
pub use repair::repair as repair_xml;

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a feed: {0}")]
    Invalid(String),
    #[error("the feed parser crashed on this input ({0})")]
    Panicked(String),
}
