//! The fallback after feed-rs: a tolerant scan for `<item>` and `<entry>` blocks in text
//! that is not well-formed XML (mismatched tags, unescaped HTML, truncation, items nested
//! by mistake). It reads what a person would read: each block's title, link, id, date and
//! body. Linear in the input; no recursion.

use chrono::{DateTime, Utc};
use url::Url;

use crate::dedupe::{canonical_url, item_key};
use crate::model::Item;

/// How many `<item>` or `<entry>` start tags the document has.
pub(super) fn entry_tags(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut items, mut entries) = (0, 0);
    let opens = |at: usize, name: &[u8]| {
        let end = at + 1 + name.len();
        end < b.len()
            && b[at + 1..end].eq_ignore_ascii_case(name)
            && matches!(b[end], b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'/')
    };
    for at in memchr::memchr_iter(b'<', b) {
        match b.get(at + 1) {
            Some(b'i' | b'I') => items += usize::from(opens(at, b"item")),
            Some(b'e' | b'E') => entries += usize::from(opens(at, b"entry")),
            _ => {}
        }
    }
    items.max(entries)
}

/// Items found in a document feed-rs rejected (or under-read).
pub(super) fn scan_items(text: &str, base: &Url) -> Vec<Item> {
    let lower = text.to_ascii_lowercase();
    let tag = if find_open(&lower, "item", 0).is_some() {
        "item"
    } else {
        "entry"
    };
    let mut items = Vec::new();
    let mut from = 0;
    while let Some(start) = find_open(&lower, tag, from) {
        let body_start = lower[start..]
            .find('>')
            .map_or(lower.len(), |i| start + i + 1);
        let close = lower[body_start..]
            .find(&format!("</{tag}>"))
            .map(|i| body_start + i);
        let next_open = find_open(&lower, tag, body_start);
        // A block ends at its close tag, or where the next one opens (nested or unclosed
        // items), or at the end of a truncated document.
        let end = match (close, next_open) {
            (Some(c), Some(n)) => c.min(n),
            (Some(c), None) => c,
            (None, Some(n)) => n,
            (None, None) => lower.len(),
        };
        let block = &text[body_start..end];
        if let Some(item) = to_item(block, base) {
            items.push(item);
        }
        from = end.max(body_start);
    }
    items
}

fn to_item(block: &str, base: &Url) -> Option<Item> {
    let title = field(block, &["title"])
        .map(|t| crate::clean::inline_text(&t))
        .unwrap_or_default();
    let link = field(block, &["link"])
        .filter(|l| !l.trim().is_empty())
        .or_else(|| attr_of(block, "link", "href"))
        .map(|l| {
            base.join(l.trim())
                .map(String::from)
                .unwrap_or_else(|_| l.trim().to_string())
        })
        .map(|l| canonical_url(&l));
    let guid = field(block, &["guid", "id"])
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty());
    let html = field(
        block,
        &["content:encoded", "content", "description", "summary"],
    )
    .unwrap_or_default();
    if title.is_empty() && link.is_none() && html.trim().is_empty() {
        return None;
    }
    let published = field(
        block,
        &[
            "pubdate",
            "published",
            "updated",
            "dc:date",
            "issued",
            "modified",
        ],
    )
    .and_then(|d| parse_date(d.trim()));
    let key = item_key(guid.as_deref(), link.as_deref(), &title, &html);
    Some(Item {
        key,
        guid,
        title,
        url: link,
        published,
        html,
    })
}

/// The text of the first of `names` present in the block: CDATA unwrapped, entities left
/// for the HTML cleaner (which decodes them).
fn field(block: &str, names: &[&str]) -> Option<String> {
    let lower = block.to_ascii_lowercase();
    for name in names {
        let Some(open) = find_open(&lower, name, 0) else {
            continue;
        };
        let tag_end = lower[open..].find('>')? + open;
        if lower[..tag_end].ends_with('/') {
            continue;
        }
        let close = format!("</{name}>");
        let end = lower[tag_end..]
            .find(&close)
            .map_or(block.len(), |i| tag_end + i);
        let raw = block[tag_end + 1..end].trim();
        let raw = raw
            .strip_prefix("<![CDATA[")
            .and_then(|r| r.strip_suffix("]]>"))
            .unwrap_or(raw);
        return Some(unescape_xml(raw));
    }
    None
}

/// Escaped markup (`&lt;p&gt;`) back to markup; the cleaner takes it from there.
fn unescape_xml(s: &str) -> String {
    if !s.contains("&lt;") {
        return s.to_string();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

fn attr_of(block: &str, tag: &str, attr: &str) -> Option<String> {
    let lower = block.to_ascii_lowercase();
    let open = find_open(&lower, tag, 0)?;
    let end = lower[open..].find('>')? + open;
    let inside = &block[open..end];
    let at = inside.to_ascii_lowercase().find(&format!("{attr}="))? + attr.len() + 1;
    let quote = inside[at..].chars().next()?;
    let value = &inside[at + 1..];
    Some(value[..value.find(quote)?].to_string())
}

/// Where `<name` opens as a tag (not `<names`), at or after `from`; case-sensitive, so
/// callers lowercase the text when case may vary.
pub(super) fn find_open(lower: &str, name: &str, from: usize) -> Option<usize> {
    let open = format!("<{name}");
    let mut at = from;
    while let Some(i) = lower.get(at..)?.find(&open) {
        let pos = at + i;
        let next = lower[pos + open.len()..].chars().next();
        if next.is_none_or(|c| c.is_whitespace() || c == '>' || c == '/') {
            return Some(pos);
        }
        at = pos + open.len();
    }
    None
}

fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s)
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .map(|d| d.with_timezone(&Utc))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_broken_and_truncated_feeds() {
        let base = Url::parse("http://e.org/feed").unwrap();
        let broken = "<rss><channel><item><title>One &amp; only</title><link>/one</link><description><p>Unclosed <b>html</description></item>\
                      <item><title><![CDATA[Two]]></title><guid>g2</guid><pubDate>Fri, 02 Jan 2026 14:05:00 +0000</pubDate></item>\
                      <item><title>Three (cut off)";
        let items = scan_items(broken, &base);
        let titles: Vec<&str> = items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["One & only", "Two", "Three (cut off)"]);
        assert_eq!(items[0].url.as_deref(), Some("http://e.org/one"));
        assert_eq!(items[1].key, "guid:g2");
        assert!(items[1].published.is_some());
        let atom = "<feed><entry><title>A</title><link href='http://e.org/a'/></entry><entry><title>B</title>";
        let items = scan_items(atom, &base);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].url.as_deref(), Some("http://e.org/a"));
        assert!(scan_items("<html><body>no feed</body></html>", &base).is_empty());
    }
}
