//! HTML pages as sources: telling a page from a feed, and the article links of a listing page.

use scraper::Selector;
use url::Url;

use crate::dedupe::canonical_url;

/// Whether a body is a feed (XML or JSON Feed) rather than an HTML page: the declared type
/// first, then a sniff of the first bytes, as browsers do.
pub fn looks_like_feed(body: &[u8], content_type: Option<&str>) -> bool {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("rss") || ct.contains("atom") || ct.contains("feed+json") {
        return true;
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(1024)]).to_ascii_lowercase();
    let head = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return false;
    }
    head.starts_with("<?xml")
        || head.starts_with("<rss")
        || head.starts_with("<feed")
        || head.starts_with("<rdf")
        || (head.starts_with('{') && head.contains("jsonfeed"))
        || ct.contains("xml")
        // UTF-16 with a BOM: leave it to the feed parser.
        || body.starts_with(&[0xFE, 0xFF])
        || body.starts_with(&[0xFF, 0xFE])
}

/// Feeds an HTML page advertises (`<link rel="alternate" type="application/rss+xml">`, Atom,
/// JSON Feed), resolved against the page, in page order.
pub fn discover_feeds(html: &str, base: &Url) -> Vec<String> {
    let doc = crate::clean::parse_document(&crate::clean::prepare_html(html));
    let links = Selector::parse("link[rel][href][type]").expect("static selector");
    doc.select(&links)
        .filter(|l| {
            l.value().attr("rel").is_some_and(|r| {
                r.split_whitespace()
                    .any(|t| t.eq_ignore_ascii_case("alternate"))
            })
        })
        .filter(|l| {
            let t = l.value().attr("type").unwrap_or("").to_ascii_lowercase();
            matches!(
                t.trim(),
                "application/rss+xml"
                    | "application/atom+xml"
                    | "application/feed+json"
                    | "application/json"
                    | "application/rdf+xml"
            )
        })
        .filter_map(|l| base.join(l.value().attr("href")?.trim()).ok())
        .map(String::from)
        .collect()
}

/// Links of a listing page (or of its `select` region), canonical, first occurrence first,
/// with their text; links inside navigation, headers, footers and asides are left out.
pub fn page_links(html: &str, base: &Url, select: Option<&str>) -> Vec<(String, String)> {
    let doc = crate::clean::parse_document(&crate::clean::prepare_html(html));
    let anchors = Selector::parse("a[href]").expect("static selector");
    let roots: Vec<_> = match select.and_then(|s| Selector::parse(s).ok()) {
        Some(sel) => doc.select(&sel).collect(),
        None => vec![doc.root_element()],
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for root in roots {
        for a in root.select(&anchors) {
            let in_chrome = a
                .ancestors()
                .filter_map(scraper::ElementRef::wrap)
                .any(|e| matches!(e.value().name(), "nav" | "header" | "footer" | "aside"));
            if in_chrome {
                continue;
            }
            let Some(href) = a.value().attr("href") else {
                continue;
            };
            let Ok(url) = base.join(href.trim()) else {
                continue;
            };
            if !matches!(url.scheme(), "http" | "https") {
                continue;
            }
            let url = canonical_url(url.as_str());
            let text = a.text().collect::<Vec<_>>().join(" ");
            let text = crate::text::fold_whitespace(&text);
            if !text.is_empty() && seen.insert(url.clone()) {
                out.push((url, text));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_feeds() {
        assert!(looks_like_feed(b"<?xml version='1.0'?><rss/>", None));
        assert!(looks_like_feed(
            b"  <feed xmlns='http://www.w3.org/2005/Atom'/>",
            Some("text/plain")
        ));
        assert!(looks_like_feed(b"<html>", Some("application/rss+xml")));
        assert!(!looks_like_feed(
            b"<!DOCTYPE html><html></html>",
            Some("text/html")
        ));
        assert!(!looks_like_feed(b"<p>hi</p>", None));
    }

    #[test]
    fn discovers_advertised_feeds() {
        let html = r#"<head><link rel="stylesheet" href="/s.css" type="text/css">
            <link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">
            <link rel="alternate" type="application/atom+xml" href="https://e.org/atom"></head>"#;
        let base = Url::parse("https://e.org/news/").unwrap();
        assert_eq!(
            discover_feeds(html, &base),
            ["https://e.org/rss.xml", "https://e.org/atom"]
        );
        assert!(discover_feeds("<p>none</p>", &base).is_empty());
    }

    #[test]
    fn listing_links_skip_navigation() {
        let html = r#"<nav><a href="/about">About</a></nav><main class="list">
            <a href="/a-1?utm_source=x">First story</a><a href="/a-1">First story again</a>
            <a href="mailto:x@y">mail</a><a href="/a-2"> Second
            story </a></main><footer><a href="/terms">Terms</a></footer>"#;
        let base = Url::parse("https://example.org/news").unwrap();
        let links = page_links(html, &base, Some("main.list"));
        assert_eq!(
            links,
            vec![
                (
                    "https://example.org/a-1".to_string(),
                    "First story".to_string()
                ),
                (
                    "https://example.org/a-2".to_string(),
                    "Second story".to_string()
                ),
            ]
        );
        assert_eq!(page_links(html, &base, None).len(), 2);
    }
}
