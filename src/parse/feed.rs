//! feed-rs adapter: RSS 0.9x/1.0/2.0, Atom and JSON Feed into [`Item`]s with stable keys.

use std::panic::{AssertUnwindSafe, catch_unwind};

use feed_rs::model::{Entry, Link};
use url::Url;

use super::ParseError;
use crate::dedupe::{canonical, canonical_url, item_key};
use crate::model::Item;

/// A parsed feed: its items and its `<ttl>` (minutes), a hint to poll no more often.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The entries, in feed order.
    pub items: Vec<Item>,
    /// RSS `<ttl>`: minutes the feed stays fresh.
    pub ttl_minutes: Option<u32>,
}

/// Parses a feed document: repaired first (encoding, entities, DOCTYPE, wrappers, Atom
/// 0.3), then read by feed-rs; where feed-rs fails or reads fewer entries than the document
/// holds, a tolerant scan takes over. A panic inside feed-rs (quick-xml has some on odd
/// input) becomes [`ParseError::Panicked`] instead of taking the process down. No text of
/// an item holds U+0000.
pub fn parse_feed(body: &[u8], base: &Url) -> Result<ParsedFeed, ParseError> {
    let mut feed = read_feed(body, base)?;
    feed.items = feed.items.into_iter().map(item_without_nul).collect();
    Ok(feed)
}

fn item_without_nul(item: Item) -> Item {
    use crate::text::without_nul;
    Item {
        key: without_nul(item.key),
        guid: item.guid.map(without_nul),
        title: without_nul(item.title),
        url: item.url.map(without_nul),
        published: item.published,
        html: without_nul(item.html),
    }
}

fn read_feed(body: &[u8], base: &Url) -> Result<ParsedFeed, ParseError> {
    let is_json = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let repaired = if is_json {
        None
    } else {
        Some(super::repair::repair(body))
    };
    let input = repaired.as_deref().map_or(body, str::as_bytes);
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(base.as_str()))
        // An empty id marks "the feed gave none"; item_key then falls back to link or hash.
        // feed-rs's own fallback can be a fresh random UUID on every parse.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    let parsed = match catch_unwind(AssertUnwindSafe(|| parser.parse(input))) {
        Ok(Ok(feed)) => Ok(feed),
        Ok(Err(e)) => Err(ParseError::Invalid(e.to_string())),
        Err(panic) => Err(ParseError::Panicked(panic_message(&panic))),
    };
    let Some(text) = repaired.as_deref() else {
        return parsed.map(|feed| to_parsed(feed, base));
    };
    match parsed {
        Ok(feed) => {
            let mut out = to_parsed(feed, base);
            if super::lenient::entry_tags(text) > out.items.len() {
                let scanned = super::lenient::scan_items(text, base);
                if scanned.len() > out.items.len() {
                    out.items = scanned;
                }
            }
            Ok(out)
        }
        Err(e) => {
            let items = super::lenient::scan_items(text, base);
            if items.is_empty() {
                return Err(e);
            }
            Ok(ParsedFeed {
                items,
                ttl_minutes: None,
            })
        }
    }
}

fn to_parsed(feed: feed_rs::model::Feed, base: &Url) -> ParsedFeed {
    ParsedFeed {
        ttl_minutes: feed.ttl,
        items: feed.entries.into_iter().map(|e| to_item(e, base)).collect(),
    }
}

fn to_item(entry: Entry, base: &Url) -> Item {
    let link = entry_link(&entry.links, base);
    let title = entry.title.map(|t| t.content).unwrap_or_default();
    let title = crate::clean::inline_text(&title);
    let html = entry
        .content
        .and_then(|c| c.body)
        .filter(|b| !b.trim().is_empty())
        .or_else(|| entry.summary.map(|s| s.content))
        .or_else(|| {
            entry
                .media
                .into_iter()
                .find_map(|m| m.description.map(|d| d.content))
        })
        .unwrap_or_default();
    let key = item_key(Some(&entry.id), link.as_deref(), &title, &html);
    let guid = Some(entry.id.trim().to_string()).filter(|g| !g.is_empty());
    Item {
        key,
        guid,
        title,
        url: link,
        published: entry.published.or(entry.updated),
        html,
    }
}

/// The item's page: the first `alternate` (or untyped) link, resolved and canonical.
fn entry_link(links: &[Link], base: &Url) -> Option<String> {
    let link = links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| links.first())?;
    let href = link.href.trim();
    Some(match base.join(href) {
        Ok(url) => canonical(url),
        Err(_) => canonical_url(href),
    })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.org/feed.xml").unwrap()
    }

    #[test]
    fn rss_items_get_stable_keys() {
        let xml = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
            <item><title>With guid</title><guid>g-1</guid><link>/a?utm_source=x</link></item>
            <item><title>Link only</title><link>https://example.org/b#frag</link></item>
            <item><title>Nothing</title><description>body</description></item>
            </channel></rss>"#;
        let first = parse_feed(xml, &base()).unwrap().items;
        let keys: Vec<_> = first.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys[0], "guid:g-1");
        assert_eq!(keys[1], "url:https://example.org/b");
        assert!(keys[2].starts_with("hash:"));
        assert_eq!(first[0].url.as_deref(), Some("https://example.org/a"));
        assert_eq!(
            parse_feed(xml, &base()).unwrap().items,
            first,
            "keys are stable across parses"
        );
    }

    #[test]
    fn atom_and_json_feed() {
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>f</id>
            <entry><title type="html">A &lt;b&gt;bold&lt;/b&gt; title</title><id>e1</id>
            <link href="https://example.org/e1"/><content type="html">&lt;p&gt;Hi&lt;/p&gt;</content></entry></feed>"#;
        let items = parse_feed(atom, &base()).unwrap().items;
        assert_eq!(items[0].key, "guid:e1");
        assert_eq!(items[0].title, "A bold title");
        assert!(items[0].html.contains("<p>Hi</p>"));
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t",
            "items":[{"id":"j1","url":"https://example.org/j1","content_html":"<p>x</p>","title":"J"}]}"#;
        let items = parse_feed(json, &base()).unwrap().items;
        assert_eq!(items[0].key, "guid:j1");
    }

    #[test]
    fn no_text_keeps_a_nul() {
        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"t",
            "items":[{"id":"j\u00001","url":"https://example.org/j\u00001",
            "content_html":"<p>a\u0000b</p>","title":"J\u0000K"}]}"#;
        let xml = b"<rss version=\"2.0\"><channel><title>t</title><item><title>J\0K</title>\
            <guid>j\x001</guid><description>a\0b</description></item></channel></rss>";
        for body in [&json[..], &xml[..]] {
            let items = parse_feed(body, &base()).unwrap().items;
            let item = &items[0];
            let texts = [&item.key, &item.title, &item.html];
            let texts = texts.into_iter().chain(&item.guid).chain(&item.url);
            assert!(texts.clone().all(|t| !t.contains('\0')), "{item:?}");
            assert_eq!(item.key, "guid:j1");
            assert_eq!(item.title, "JK");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_feed(b"<html><body>not a feed</body></html>", &base()).is_err());
        assert!(parse_feed(b"", &base()).is_err());
        // quick-xml panics on a second declaration naming another encoding.
        let two = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><?xml version=\"1.0\" encoding=\"UTF-16\"?><rss/>";
        assert!(matches!(
            parse_feed(two, &base()),
            Err(ParseError::Panicked(_))
        ));
    }

    #[test]
    fn utf16_with_bom_is_read() {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>t</title>\
                   <item><title>Café</title><guid>1</guid></item></channel></rss>";
        for be in [true, false] {
            let mut bytes = if be {
                vec![0xFE, 0xFF]
            } else {
                vec![0xFF, 0xFE]
            };
            for c in xml.encode_utf16() {
                bytes.extend_from_slice(&if be { c.to_be_bytes() } else { c.to_le_bytes() });
            }
            let items = parse_feed(&bytes, &base()).unwrap().items;
            assert_eq!(items[0].title, "Café");
        }
    }
}
