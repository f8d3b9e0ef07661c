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

pub use depth::prepare_html;

use std::sync::LazyLock;

use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use crate::model::Article;
use crate::text::fold_whitespace;
use noise::Wrappers;

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

/// The article text without the page furniture that often opens or closes the chosen block:
/// the headline repeated, a date or dateline, a bare link, a short label ("Caption", "Text
/// size", "BREAKING NEWS") before the first real paragraph; the headline or a bare link
/// after the last. Never the whole text.
fn drop_edge_chrome(text: &str, title: &str) -> String {
    let paras: Vec<&str> = text.split("\n\n").collect();
    let title = title.trim();
    let repeat = |p: &str| {
        let p = p.trim();
        (!title.is_empty() && p.eq_ignore_ascii_case(title))
            || (!p.contains(' ') && (p.starts_with("http://") || p.starts_with("https://")))
    };
    let chrome = |p: &str| {
        let p = p.trim();
        let words = p.split_whitespace().count();
        let sentence = p.ends_with(['.', '!', '?', '"', '”', '»', ':', ';']);
        repeat(p)
            || (words <= 6 && !sentence && looks_like_date(p))
            || (words <= 3 && !sentence && p.chars().count() <= 30)
            || (words <= 8 && !sentence && is_byline(p))
    };
    let skip = paras.iter().take_while(|p| chrome(p)).count();
    if skip == paras.len() {
        return text.to_string();
    }
    // At the end only repeats: a short closing line is often the author's sign-off.
    let keep = paras.len() - paras[skip..].iter().rev().take_while(|p| repeat(p)).count();
    if skip == 0 && keep == paras.len() {
        return text.to_string();
    }
    paras[skip..keep].join("\n\n")
}

/// "By Jerusalem Post Staff", "Por Ana Gómez y Luis Pérez": a byline repeated in the body.
/// Every word after "By" is a name ("By the numbers" and "Di Maria scores" are not).
fn is_byline(p: &str) -> bool {
    let Some(names) = ["By ", "By\u{a0}", "BY ", "Por ", "Par ", "Von ", "Di "]
        .iter()
        .find_map(|by| p.strip_prefix(by))
    else {
        return false;
    };
    names.split_whitespace().all(|w| {
        ["and", "y", "et", "und", "e", "&", "-", "|"].contains(&w)
            || w.chars()
                .next()
                .is_some_and(|c| !c.is_alphabetic() || c.is_uppercase())
    })
}

/// "Nov. 20, 2019 5:52 AM EST", "2018-08-16", "02 Ago 2017": a year, another number, and
/// little else but short words ("Stock Car 2018" is a headline).
fn looks_like_date(p: &str) -> bool {
    let numbers: Vec<&str> = p
        .split(|c: char| !c.is_ascii_digit())
        .filter(|d| !d.is_empty())
        .collect();
    let has_year = numbers
        .iter()
        .any(|d| d.len() == 4 && (d.starts_with("19") || d.starts_with("20")));
    let letters = p.chars().filter(|c| c.is_alphabetic()).count();
    has_year && numbers.len() >= 2 && letters <= 20
}

/// What one walk over the page finds besides the article: metadata, title, byline, links.
#[derive(Default)]
struct PageFacts<'a> {
    /// `<meta>` names or properties (lowercased) with their content, in page order.
    metas: Vec<(String, &'a str)>,
    h1: Option<ElementRef<'a>>,
    title: Option<ElementRef<'a>>,
    body: Option<ElementRef<'a>>,
    json_ld: Vec<ElementRef<'a>>,
    /// Elements naming the author: `.author`, `[rel=author]`, `[itemprop=author]`.
    authors: Vec<ElementRef<'a>>,
    time: Option<&'a str>,
    canonical: Option<&'a str>,
}

impl<'a> PageFacts<'a> {
    fn of(doc: &'a Html) -> Self {
        let mut f = PageFacts::default();
        for node in doc.root_element().descendants() {
            let Some(el) = ElementRef::wrap(node) else {
                continue;
            };
            let v = el.value();
            // One pass over the attributes: `Element::attr` interns and searches per call.
            let (mut key, mut content, mut href, mut datetime) = (None, None, None, None);
            let (mut rel, mut json_ld, mut author) = (None, false, false);
            for (name, value) in v.attrs() {
                match name {
                    "property" => key = Some(value),
                    "name" => key = key.or(Some(value)),
                    "content" => content = Some(value),
                    "href" => href = Some(value),
                    "datetime" => datetime = Some(value),
                    "rel" => rel = Some(value),
                    "type" => json_ld = value == "application/ld+json",
                    "itemprop" => author |= value == "author",
                    "class" => author |= value.split_ascii_whitespace().any(|c| c == "author"),
                    _ => {}
                }
            }
            author |= rel == Some("author");
            match v.name() {
                "meta" => {
                    if let (Some(key), Some(content)) = (key, content) {
                        f.metas.push((key.to_ascii_lowercase(), content));
                    }
                }
                "h1" if f.h1.is_none() => f.h1 = Some(el),
                "title" if f.title.is_none() => f.title = Some(el),
                "body" if f.body.is_none() => f.body = Some(el),
                "script" if json_ld => f.json_ld.push(el),
                "time" if f.time.is_none() => f.time = datetime,
                "link" if f.canonical.is_none() && rel == Some("canonical") => f.canonical = href,
                _ => {}
            }
            if author {
                f.authors.push(el);
            }
        }
        f
    }

    /// The first non-empty content of a `<meta>` with one of these names.
    fn meta(&self, names: &[&str]) -> Option<String> {
        self.metas.iter().find_map(|(key, content)| {
            names
                .iter()
                .any(|n| key.eq_ignore_ascii_case(n))
                .then(|| fold_whitespace(content))
                .filter(|s| !s.is_empty())
        })
    }
}

/// Extracts the article of a whole HTML page.
pub fn extract_article(html: &str) -> Article {
    let doc = Html::parse_document(&prepare_html(html));
    let facts = PageFacts::of(&doc);
    let element_text = |e: ElementRef| fold_whitespace(&e.text().collect::<String>());
    let title = facts
        .meta(&["og:title", "twitter:title"])
        .or_else(|| facts.h1.map(element_text))
        .or_else(|| facts.title.map(element_text))
        .unwrap_or_default();

    let body = facts.body.unwrap_or(doc.root_element());
    let wrappers = Wrappers::of(*body, facts.h1.map(|h| *h));
    let scored = score::article_nodes(*body, &wrappers).map(|ids| {
        let marked = ids
            .iter()
            .filter_map(|id| doc.tree.get(*id))
            .flat_map(|n| marked_paragraphs(n, &wrappers))
            .collect();
        drop_link_runs(marked).join("\n\n")
    });
    let mut text = match scored {
        Some(t) if t.chars().count() >= MIN_ARTICLE_CHARS => t,
        _ => main_region(&doc, &wrappers)
            .map(|r| paragraphs(*r, &wrappers).join("\n\n"))
            .unwrap_or_default(),
    };
    // A paywall overlay or a script-rendered shell: the page's own metadata may carry the
    // whole text. Used only when it is much longer than what the visible body gave.
    let scripts: Vec<String> = facts.json_ld.iter().map(|s| s.text().collect()).collect();
    if let Some(body) = jsonld::article_body(scripts.iter().map(String::as_str))
        && body.len() > text.len() * 2
    {
        text = body;
    }
    text = drop_edge_chrome(&text, &title);
    if text.chars().count() < MIN_ARTICLE_CHARS / 2 {
        // Paywall overlays and script-rendered pages: the description is better than nothing.
        if let Some(desc) = facts.meta(&["og:description", "description", "twitter:description"])
            && desc.len() > text.len()
        {
            text = desc;
        }
    }
    Article {
        title,
        text,
        byline: facts
            .authors
            .iter()
            .map(|b| element_text(*b))
            .find(|s| !s.is_empty())
            .or_else(|| facts.meta(&["author", "article:author"])),
        published: facts
            .meta(&["article:published_time", "og:published_time", "date"])
            .or_else(|| facts.time.map(str::to_string)),
        canonical_url: facts.canonical.map(|h| h.trim().to_string()),
    }
}

/// The element most likely to hold the article: the longest `articleBody`, `<article>` or
/// `<main>` with enough text, else `<body>`.
fn main_region<'a>(doc: &'a Html, w: &Wrappers) -> Option<ElementRef<'a>> {
    for sel in ARTICLE_ROOTS.iter() {
        let best = doc
            .select(sel)
            .map(|el| (text_len(&paragraphs(*el, w)), el))
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
    let frag = Html::parse_fragment(&prepare_html(html));
    paragraphs(*frag.root_element(), &Wrappers::default()).join("\n\n")
}

/// Plain text of a short inline snippet (a title that may carry markup or entities).
pub fn inline_text(s: &str) -> String {
    if !s.contains('<') && !s.contains('&') {
        return fold_whitespace(s);
    }
    // Most titles only carry character references ("Q&amp;A", "it&#8217;s"): decoded
    // without building a DOM. Markup or a rare named reference takes the full parser.
    if !s.contains('<')
        && let Some(text) = decode_references(s)
    {
        return fold_whitespace(&text);
    }
    let frag = Html::parse_fragment(s);
    fold_whitespace(&frag.root_element().text().collect::<String>())
}

/// `s` with its character references decoded as an HTML parser would, or `None` when one
/// is a named reference outside HTML 4's set (the feed repair's table).
fn decode_references(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
            .map_or(after.len().min(12), |(i, _)| i);
        let name = &after[..end];
        let terminated = after[end..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.map(numeric_reference)
        } else {
            match name {
                "" => None,
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ if !terminated => None,
                _ => Some(crate::text::html_entity(name)?),
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + usize::from(terminated)..];
            }
            // A bare `&` (or `&1`): text, as in a browser.
            None if name.is_empty() || !name.starts_with('#') && !terminated => {
                if name.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty() {
                    return None; // `&copy` without `;`: leave the legacy cases to html5ever
                }
                out.push('&');
                rest = after;
            }
            None => return None,
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The character a numeric reference stands for: C1 codes as windows-1252, invalid ones as
/// U+FFFD (the HTML rules).
fn numeric_reference(code: u32) -> char {
    if (0x80..=0x9f).contains(&code) {
        let byte = [code as u8];
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
        return text.chars().next().unwrap_or('\u{fffd}');
    }
    match char::from_u32(code) {
        Some('\0') | None => '\u{fffd}',
        Some(c) => c,
    }
}

/// Plain text: paragraphs at blank lines, whitespace collapsed inside each.
fn split_plain(text: &str) -> String {
    text.split("\n\n")
        .map(fold_whitespace)
        .filter(|p| !p.is_empty() && !noise::is_noise_paragraph(p))
        .collect::<Vec<_>>()
        .join("\n\n")
}

enum Step<'a> {
    Enter(NodeRef<'a, Node>),
    /// The end of a block.
    Exit,
    /// The end of a link.
    LinkExit,
}

/// A paragraph of output being built: its text, and how much of it sits in links.
#[derive(Default)]
struct Para {
    text: String,
    /// Links open around the current text node.
    links: usize,
    link_chars: usize,
    /// Links opened in this paragraph.
    opened: usize,
}

/// Paragraphs of text under `root`, noise and link chrome left out.
fn paragraphs(root: NodeRef<'_, Node>, w: &Wrappers) -> Vec<String> {
    drop_link_runs(marked_paragraphs(root, w))
}

/// Paragraphs of text under `root`, noise left out, each with its number of links when it
/// is nearly all link text (see [`drop_link_runs`]); walked without recursion.
fn marked_paragraphs(root: NodeRef<'_, Node>, w: &Wrappers) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut cur = Para::default();
    let mut stack = vec![Step::Enter(root)];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Exit => {
                flush(&mut cur, &mut out);
                continue;
            }
            Step::LinkExit => {
                cur.links -= 1;
                continue;
            }
            Step::Enter(node) => node,
        };
        match node.value() {
            Node::Text(t) => {
                if cur.links > 0 {
                    cur.link_chars += visible_chars(t);
                }
                push_text(&mut cur.text, t)
            }
            Node::Element(el) => {
                if node.id() != root.id() && w.is_noise(node, el) {
                    // An embedded post's own words stay; its chrome goes with the rest.
                    if noise::is_embed(el) {
                        stack.extend(quotes_in(node).into_iter().rev().map(Step::Enter));
                    }
                    continue;
                }
                if el.name() == "a" && first_text(node).is_some_and(noise::is_noise_link_text) {
                    continue;
                }
                // Lists and boxes that are mostly links (related stories, tag clouds,
                // "read more" blocks) are navigation even without a telling class.
                if node.id() != root.id()
                    && matches!(el.name(), "ul" | "ol" | "div" | "section" | "table" | "dl")
                    && score::is_link_list(node, w)
                {
                    continue;
                }
                let block = BLOCK_TAGS.contains(&el.name());
                if block {
                    flush(&mut cur, &mut out);
                    stack.push(Step::Exit);
                }
                if el.name() == "a" {
                    cur.links += 1;
                    cur.opened += 1;
                    stack.push(Step::LinkExit);
                }
                stack.extend(node.children().rev().map(Step::Enter));
            }
            _ => stack.extend(node.children().rev().map(Step::Enter)),
        }
    }
    flush(&mut cur, &mut out);
    out
}

/// The outermost `<blockquote>`s below `node` (never `node` itself), in document order.
fn quotes_in(node: NodeRef<'_, Node>) -> Vec<NodeRef<'_, Node>> {
    let mut found = Vec::new();
    let mut stack: Vec<_> = node.children().rev().collect();
    while let Some(n) = stack.pop() {
        if matches!(n.value(), Node::Element(e) if e.name() == "blockquote") {
            found.push(n);
        } else {
            stack.extend(n.children().rev());
        }
    }
    found
}

/// Paragraphs without those that are nothing but links when there are several: runs of two
/// or more such paragraphs (the "You may also like" titles set as paragraphs in the body),
/// or one of three or more links (a line of tags); nor the short line that introduces them.
fn drop_link_runs(paras: Vec<(String, usize)>) -> Vec<String> {
    let mut keep = vec![true; paras.len()];
    let mut i = 0;
    while i < paras.len() {
        let run = paras[i..]
            .iter()
            .take_while(|(_, links)| *links > 0)
            .count();
        if run >= 2 || (run == 1 && paras[i].1 >= 3) {
            keep[i..i + run].fill(false);
            if let Some(lead) = i.checked_sub(1) {
                let p = paras[lead].0.as_str();
                let sentence = p.ends_with(['.', '!', '?', '"', '”']) && !p.ends_with("...");
                if p.split_whitespace().count() <= 6 && !sentence {
                    keep[lead] = false;
                }
            }
        }
        i += run.max(1);
    }
    // A text that is nothing but links (a feed's link roundup) is kept whole: its links are
    // its content.
    let any = keep.iter().any(|&k| k);
    paras
        .into_iter()
        .zip(keep)
        .filter_map(|((p, _), keep)| (keep || !any).then_some(p))
        .collect()
}

fn first_text<'a>(node: NodeRef<'a, Node>) -> Option<&'a str> {
    node.descendants()
        .find_map(|n| n.value().as_text().map(|t| &**t))
}

/// Characters of `text` other than whitespace.
fn visible_chars(text: &str) -> usize {
    if text.is_ascii() {
        text.bytes().filter(|b| !b.is_ascii_whitespace()).count()
    } else {
        text.chars().filter(|c| !c.is_whitespace()).count()
    }
}

/// Appends `text` with each run of whitespace as one space, and none at the start of `cur`.
fn push_text(cur: &mut String, text: &str) {
    let space = |cur: &mut String| {
        if !cur.is_empty() && !cur.ends_with(' ') {
            cur.push(' ');
        }
    };
    // Most text is ASCII, split faster by bytes (the same whitespace but vertical tab, which
    // HTML does not count either).
    let ascii = text.is_ascii();
    let words: Box<dyn Iterator<Item = &str>> = if ascii {
        Box::new(text.split_ascii_whitespace())
    } else {
        Box::new(text.split_whitespace())
    };
    for (i, word) in words.enumerate() {
        if i > 0 || text.starts_with(char::is_whitespace) {
            space(cur);
        }
        cur.push_str(word);
    }
    if text.ends_with(char::is_whitespace) {
        space(cur);
    }
}

/// Ends the paragraph being built: kept unless empty or a boilerplate label, with the number
/// of its links when nearly all its text is link text (else 0).
fn flush(cur: &mut Para, out: &mut Vec<(String, usize)>) {
    let p = cur.text.trim();
    // Counted only when there is link text to weigh against it.
    let chars = if cur.link_chars > 0 {
        visible_chars(p)
    } else {
        usize::MAX
    };
    // "READ MORE: <a>Another story</a>": a promo set inline.
    let promo = || cur.link_chars * 2 >= chars && noise::is_promo_label(p);
    if !p.is_empty() && !noise::is_noise_paragraph(p) && !promo() {
        let all_links = cur.link_chars > 0 && cur.link_chars * 10 >= chars * 8;
        out.push((p.to_string(), if all_links { cur.opened.max(1) } else { 0 }));
    }
    cur.text.clear();
    cur.link_chars = 0;
    cur.opened = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn article_chunks_join_and_link_chrome_goes() {
        let para = |n: usize| {
            format!(
                "<p>Paragraph {n} of the story, long enough to count as prose, with a comma, \
                 another comma, and a full stop at the end of it.</p>"
            )
        };
        let chunk = |from: usize| {
            format!(
                "<div class=\"grid body__container\">{}{}{}</div>",
                para(from),
                para(from + 1),
                para(from + 2)
            )
        };
        let html = format!(
            r#"<html><body><div class="wrap"><header><h1>Headline</h1></header>
            <span itemprop="datePublished">segunda-feira, 22 de janeiro de 2018</span>
            <div class="chunks">{}</div>
            <figure><img src="x.jpg"></figure>
            <div class="promo-cta"><p>Support our newsroom and make a difference for readers.</p></div>
            <div class="chunks">{}
              <p>You may also like...</p>
              <p><a href="/a">Another story about something</a></p>
              <p><a href="/b">Yet another story</a></p>
              <p>Tags</p><p><a href="/t/1">one</a>, <a href="/t/2">two</a>, <a href="/t/3">three</a></p>
            </div>
            <div style="display: none"><div itemprop="name">Hidden Schema Name</div></div>
            </div></body></html>"#,
            chunk(1),
            chunk(4)
        );
        let text = extract_article(&html).text;
        for n in 1..=6 {
            assert!(
                text.contains(&format!("Paragraph {n} of")),
                "{n} missing: {text}"
            );
        }
        for noise in [
            "segunda-feira",
            "Support our newsroom",
            "You may also like",
            "Another story",
            "Tags",
            "two",
            "Hidden Schema",
        ] {
            assert!(!text.contains(noise), "{noise:?} kept: {text}");
        }
    }

    #[test]
    fn a_wrapper_named_like_an_ad_around_the_whole_article_is_read() {
        let prose = "<p>Security forces used lethal force against protesters in many cities, \
                     witnesses said, and the toll is expected to rise further.</p>"
            .repeat(4);
        let html = format!(
            r#"<html><body><div id="fixable_ad"><div class="menu"><a href="/">Home</a></div>
            <h1>Protesters killed</h1><div class="article_body">{prose}</div>
            <div class="ad-slot"><p>Buy the best shoes in town, discounted this week, while stock lasts.</p></div>
            </div><div class="comments"><h3>Comments</h3>{comment}</div></body></html>"#,
            comment = "<p>A reader's comment long enough to be prose, about something else entirely, really.</p>"
                .repeat(6)
        );
        let text = extract_article(&html).text;
        assert_eq!(text.matches("Security forces").count(), 4, "{text}");
        assert!(!text.contains("Buy the best shoes"), "{text}");
        assert!(!text.contains("reader's comment"), "{text}");
    }

    #[test]
    fn embedded_posts_keep_their_words_and_lose_their_chrome() {
        let text = clean_fragment(
            r#"<p>People reacted.</p>
            <div class="social-media-embed"><blockquote class="twitter-tweet"><p>Meth. We're on it.
            <a href="https://t.co/x">pic.twitter.com/abc</a></p></blockquote>
            <a href="https://x.com/1">View post on X</a><script src="w.js"></script></div>
            <blockquote class="tiktok-embed" cite="https://tiktok.com/1"><section>A dance.</section></blockquote>
            <p>After.</p>"#,
        );
        assert_eq!(text, "People reacted.\n\nMeth. We're on it.\n\nAfter.");
    }

    #[test]
    fn bylines_are_told_from_headlines() {
        for byline in [
            "By JERUSALEM POST STAFF",
            "Por Ana Gómez y Luis Pérez",
            "By Jane Doe",
        ] {
            assert!(is_byline(byline), "{byline}");
        }
        for not_byline in [
            "By the numbers",
            "Di Maria scores twice",
            "Von der Leyen warns",
        ] {
            assert!(!is_byline(not_byline), "{not_byline}");
        }
    }

    #[test]
    fn dates_are_told_from_headlines_with_a_year() {
        for date in ["Nov. 20, 2019 5:52 AM EST", "2018-08-16", "02 Ago 2017"] {
            assert!(looks_like_date(date), "{date}");
        }
        for not_date in ["Calendário da Stock Car 2018", "Class of 2020"] {
            assert!(!looks_like_date(not_date), "{not_date}");
        }
    }

    #[test]
    fn one_link_or_a_linked_phrase_stays() {
        let text = clean_fragment(
            "<p>Read the <a href='/r'>full report</a> here, it says much.</p>\
             <p><a href='/only'>A single link on its own line</a></p>",
        );
        assert_eq!(
            text,
            "Read the full report here, it says much.\n\nA single link on its own line"
        );
    }

    #[test]
    fn a_roundup_of_links_is_kept_whole() {
        let text = clean_fragment(
            "<p><a href='/a'>Venezuela's oil output falls</a></p><p><a href='/b'>Markets rally</a></p>",
        );
        assert_eq!(text, "Venezuela's oil output falls\n\nMarkets rally");
    }

    #[test]
    fn inline_promos_and_ad_labels_go() {
        let text = clean_fragment(
            "<p>First.</p><p>READ MORE: <a href='/x'>China plague outbreak confirmed in Beijing</a></p>\
             <p>Advert</p><p>More: the council meets on Tuesday, as it does every week.</p>\
             <p>Lea también: <a href='/y'>Otra noticia del día</a></p>",
        );
        assert_eq!(
            text,
            "First.\n\nMore: the council meets on Tuesday, as it does every week."
        );
    }

    #[test]
    fn text_runs_collapse_whitespace_across_nodes() {
        let join = |parts: &[&str]| {
            let mut cur = String::new();
            for p in parts {
                push_text(&mut cur, p);
            }
            cur
        };
        assert_eq!(join(&["  a \n\t b  "]), "a b ");
        assert_eq!(join(&["bo", "ld", " text"]), "bold text");
        assert_eq!(join(&["a ", " ", "\u{a0}b"]), "a b");
        assert_eq!(join(&["   ", "x"]), "x");
        assert_eq!(join(&["x", "\u{2003}", "y"]), "x y");
    }

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
    fn furniture_at_the_edges_goes() {
        let body =
            "A long first paragraph of the article, which says what happened.\n\nAnd a second one.";
        let text = format!(
            "Caption\n\nBy JERUSALEM POST STAFF\n\nNov. 20, 2019, 9:28 AM UTC\n\nSon of president stabbed\n\n{body}\n\nSon of president stabbed"
        );
        assert_eq!(drop_edge_chrome(&text, "Son of president stabbed"), body);
        // A closing sign-off stays; so does a text that is all short lines.
        let signed = format!("{body}\n\nJohn Smith");
        assert_eq!(drop_edge_chrome(&signed, "Title"), signed);
        assert_eq!(
            drop_edge_chrome("Caption\n\nTags", "Title"),
            "Caption\n\nTags"
        );
    }

    #[test]
    fn plain_text_and_entities() {
        assert_eq!(
            clean_fragment("Just  text\n\nand more"),
            "Just text\n\nand more"
        );
        assert_eq!(inline_text("A &amp; B <i>c</i>"), "A & B c");
        // References decoded without a DOM agree with the parser.
        for s in [
            "Q&amp;A: it&#8217;s &#x201C;fine&#x201d; &#146;90s &lt;3",
            "Tom & Jerry &amp more &rsquo;quoted&lsquo; &nbsp;x &#0; &#1114112; &hellip;",
            "AT&T &copy; 2026 &eacute;t&eacute; &unknown; &",
        ] {
            let parsed = fold_whitespace(
                &Html::parse_fragment(s)
                    .root_element()
                    .text()
                    .collect::<String>(),
            );
            assert_eq!(inline_text(s), parsed, "{s}");
        }
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
        // The headline is the title, not a paragraph of the text.
        assert!(a.text.starts_with("Real article"), "{}", a.text);
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
