//! Parsing fetched bytes into items: feeds through feed-rs, HTML pages through scraper.
//! Pure and synchronous; callers run it on a blocking thread.

mod feed;
mod lenient;
mod page;
pub(crate) mod repair;

pub use feed::{ParsedFeed, parse_feed};
pub use page::{discover_feeds, looks_like_feed, page_links};
pub use repair::repair as repair_xml;

/// Why a feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Neither the feed parser nor the lenient scanner found a feed.
    #[error("not a feed: {0}")]
    Invalid(String),
    /// The feed parser panicked (caught: the poll fails, the daemon goes on).
    #[error("the feed parser crashed on this input ({0})")]
    Panicked(String),
}
