//! Main-content extraction: the article's own text, without navigation, ads, embeds'
//! chrome, captions, share bars, newsletter boxes, related lists or footers.
//! Pure and synchronous: a `scraper::Html` never lives across an `.await`.
//!
//! The DOM is walked with an explicit stack, never recursion: a page of 100,000 nested
//! elements must not overflow a 2 MiB worker stack (an abort `catch_unwind` cannot catch).

mod depth;
mod jsonld;
mod noise;
mod score;

pub use depth::limit_depth;

use std::sync::LazyLock;

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use crate::model::Article;

/// Elements that start and end a paragraph of output.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "blockquote",
    "body",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "div",
    "dl",
    "dt",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "li",
    "main",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "td",
    "th",
    "tr",
    "ul",
];

/// Below this many characters a chosen region is not trusted to be the article.
const MIN_ARTICLE_CHARS: usize = 200;

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector")
}

static ARTICLE_ROOTS: LazyLock<Vec<Selector>> = LazyLock::new(|| {
    ["[itemprop=articleBody]", "article", "main, [role=main]"]
        .map(selector)
        .to_vec()
});
static BODY: LazyLock<Selector> = LazyLock::new(|| selector("body"));
static TITLE: LazyLock<Selector> = LazyLock::new(|| selector("title"));
static H1: LazyLock<Selector> = LazyLock::new(|| selector("h1"));
static META: LazyLock<Selector> = LazyLock::new(|| selector("meta[content]"));
static CANONICAL: LazyLock<Selector> = LazyLock::new(|| selector("link[rel=canonical][href]"));
static BYLINE: LazyLock<Selector> =
    LazyLock::new(|| selector(".byline .author, [rel=author], [itemprop=author], .author"));
static JSON_LD: LazyLock<Selector> =
    LazyLock::new(|| selector("script[type='application/ld+json']"));
static TIME: LazyLock<Selector> = LazyLock::new(|| selector("time[datetime]"));

/// Extracts the article of a whole HTML page.
pub fn extract_article(html: &str) -> Article {
    let doc = Html::parse_document(&limit_depth(html));
    let meta = |names: &[&str]| -> Option<String> {
        doc.select(&META).find_map(|m| {
            let key = m.value().attr("property").or(m.value().attr("name"))?;
            names
                .iter()
                .any(|n| key.eq_ignore_ascii_case(n))
                .then(|| collapse(m.value().attr("content").unwrap_or("")))
                .filter(|s| !s.is_empty())
        })
    };

    let title = meta(&["og:title", "twitter:title"])
        .or_else(|| {
            doc.select(&H1)
                .next()
                .map(|h| collapse(&h.text().collect::<String>()))
        })
        .or_else(|| {
            doc.select(&TITLE)
                .next()
                .map(|t| collapse(&t.text().collect::<String>()))
        })
        .unwrap_or_default();

    let body = doc.select(&BODY).next().unwrap_or(doc.root_element());
    let scored = score::article_nodes(*body).map(|ids| {
        ids.iter()
            .filter_map(|id| doc.tree.get(*id))
            .flat_map(paragraphs)
            .collect::<Vec<_>>()
            .join("\n\n")
    });
    let mut text = match scored {
        Some(t) if t.chars().count() >= MIN_ARTICLE_CHARS => t,
        _ => main_region(&doc)
            .map(|r| paragraphs(*r).join("\n\n"))
            .unwrap_or_default(),
    };
    // A paywall overlay or a script-rendered shell: the page's own metadata may carry the
    // whole text. Used only when it is much longer than what the visible body gave.
    let scripts: Vec<String> = doc.select(&JSON_LD).map(|s| s.text().collect()).collect();
    if let Some(body) = jsonld::article_body(scripts.iter().map(String::as_str))
        && body.len() > text.len() * 2
    {
        text = body;
    }
    if text.chars().count() < MIN_ARTICLE_CHARS / 2 {
        // Paywall overlays and script-rendered pages: the description is better than nothing.
        if let Some(desc) = meta(&["og:description", "description", "twitter:description"])
            && desc.len() > text.len()
        {
            text = desc;
        }
    }
    Article {
        title,
        text,
        byline: doc
            .select(&BYLINE)
            .map(|b| collapse(&b.text().collect::<String>()))
            .find(|s| !s.is_empty())
            .or_else(|| meta(&["author", "article:author"])),
        published: meta(&["article:published_time", "og:published_time", "date"]).or_else(|| {
            doc.select(&TIME)
                .find_map(|t| t.value().attr("datetime").map(str::to_string))
        }),
        canonical_url: doc
            .select(&CANONICAL)
            .find_map(|l| l.value().attr("href").map(|h| h.trim().to_string())),
    }
}

/// The element most likely to hold the article: the longest `articleBody`, `<article>` or
/// `<main>` with enough text, else `<body>`.
fn main_region(doc: &Html) -> Option<ElementRef<'_>> {
    for sel in ARTICLE_ROOTS.iter() {
        let best = doc
            .select(sel)
            .map(|el| (text_len(&paragraphs(*el)), el))
            .max_by_key(|(len, _)| *len);
        if let Some((len, el)) = best
            && len >= MIN_ARTICLE_CHARS
        {
            return Some(el);
        }
    }
    doc.select(&BODY).next().or(Some(doc.root_element()))
}

fn text_len(paras: &[String]) -> usize {
    paras.iter().map(|p| p.len()).sum()
}

/// Clean text of an HTML fragment, such as a feed item's content, with the same rules.
pub fn clean_fragment(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return split_plain(html);
    }
    let frag = Html::parse_fragment(&limit_depth(html));
    paragraphs(*frag.root_element()).join("\n\n")
}

/// Plain text of a short inline snippet (a title that may carry markup or entities).
pub fn inline_text(s: &str) -> String {
    if !s.contains('<') && !s.contains('&') {
        return collapse(s);
    }
    let frag = Html::parse_fragment(s);
    collapse(&frag.root_element().text().collect::<String>())
}

/// Plain text: paragraphs at blank lines, whitespace collapsed inside each.
fn split_plain(text: &str) -> String {
    text.split("\n\n")
        .map(collapse)
        .filter(|p| !p.is_empty() && !noise::is_noise_paragraph(p))
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

enum Step<'a> {
    Enter(NodeRef<'a, Node>),
    Exit,
}

/// Paragraphs of text under `root`, noise left out, walked without recursion.
fn paragraphs(root: NodeRef<'_, Node>) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut stack = vec![Step::Enter(root)];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Exit => {
                flush(&mut cur, &mut out);
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(t) => push_text(&mut cur, t),
            Node::Element(el) => {
                if node.id() != root.id() && noise::is_noise(el) {
                    continue;
                }
                if el.name() == "a" && first_text(node).is_some_and(noise::is_noise_link_text) {
                    continue;
                }
                // Lists and boxes that are mostly links (related stories, tag clouds,
                // "read more" blocks) are navigation even without a telling class.
                if node.id() != root.id()
                    && matches!(el.name(), "ul" | "ol" | "div" | "section" | "table" | "dl")
                    && score::is_link_list(node)
                {
                    continue;
                }
                let block = BLOCK_TAGS.contains(&el.name());
                if block {
                    flush(&mut cur, &mut out);
                    stack.push(Step::Exit);
                }
                stack.extend(node.children().rev().map(Step::Enter));
            }
            _ => stack.extend(node.children().rev().map(Step::Enter)),
        }
    }
    flush(&mut cur, &mut out);
    out
}

fn first_text<'a>(node: NodeRef<'a, Node>) -> Option<&'a str> {
    node.descendants()
        .find_map(|n| n.value().as_text().map(|t| &**t))
}

fn push_text(cur: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() {
            if !cur.is_empty() && !cur.ends_with(' ') {
                cur.push(' ');
            }
        } else {
            cur.push(c);
        }
    }
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    let p = cur.trim();
    if !p.is_empty() && !noise::is_noise_paragraph(p) {
        out.push(p.to_string());
    }
    cur.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_keeps_paragraphs_and_drops_noise() {
        let html = r#"<div class="ad-slot"><div class="ad-label">Advertisement banner</div></div>
            <figure><img alt="Cover Image"><figcaption>Cover Image</figcaption></figure>
            <h2>Heading</h2><p>First   paragraph with <b>bold</b> text.</p>
            <div class="embed"><a href="https://x.com/1">View post on X</a></div>
            <p>Second <a href="https://t.co/x">pic.twitter.com/abc</a> paragraph.</p>
            <div class='ad-label'>Advertisement banner</div><script>var ad = 1;</script>"#;
        assert_eq!(
            clean_fragment(html),
            "Heading\n\nFirst paragraph with bold text.\n\nSecond paragraph."
        );
    }

    #[test]
    fn plain_text_and_entities() {
        assert_eq!(
            clean_fragment("Just  text\n\nand more"),
            "Just text\n\nand more"
        );
        assert_eq!(inline_text("A &amp; B <i>c</i>"), "A & B c");
    }

    #[test]
    fn article_prefers_main_region_and_meta() {
        let body = "Real article sentence about Caracas and the talks. ".repeat(8);
        let html = format!(
            r#"<html><head><title>T | Site</title><meta property="og:title" content="The Title">
            <link rel="canonical" href="https://e.org/a"></head><body>
            <nav><a href="/">Venezuela</a></nav><div class="trending">Trending: Venezuela</div>
            <article><h1>The Title</h1><div class="byline"><span class="author">Ann Writer</span></div>
            <p>{body}</p></article><footer>All rights reserved</footer></body></html>"#
        );
        let a = extract_article(&html);
        assert_eq!(a.title, "The Title");
        assert_eq!(a.byline.as_deref(), Some("Ann Writer"));
        assert_eq!(a.canonical_url.as_deref(), Some("https://e.org/a"));
        assert!(
            a.text.starts_with("The Title\n\nReal article"),
            "{}",
            a.text
        );
        assert!(
            !a.text.contains("Trending") && !a.text.contains("rights"),
            "{}",
            a.text
        );
    }

    #[test]
    fn app_shell_with_json_ld_gives_the_article_body() {
        let body = "Venezuela reopened the border crossing on Monday, officials said. ".repeat(6);
        let html = format!(
            r#"<html><head><script type="application/ld+json">{{"@context":"https://schema.org","@type":"NewsArticle",
            "headline":"Border reopens","articleBody":"{body}
Second paragraph of the story."}}</script></head>
            <body><div id="app"><div class="paywall">Subscribe to read</div><p>Loading…</p></div></body></html>"#
        );
        let a = extract_article(&html);
        assert!(
            a.text.starts_with("Venezuela reopened the border")
                && a.text.ends_with("Second paragraph of the story."),
            "{}",
            a.text
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let depth = 10_000;
        let html = format!(
            "{}deep text{}",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        // Run on a small stack, as a tokio blocking thread would have.
        let text = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || clean_fragment(&html))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(text, "deep text");
    }
}
