//! Main-content extraction: the article's own text, without navigation, ads, embeds'
//! chrome, captions, share bars, newsletter boxes, related lists or footers.
//! Pure and synchronous: a `scraper::Html` never lives across an `.await`.
//!
//! The DOM is walked with an explicit stack, never recursion: a page of 100,000 nested
//! elements must not overflow a 2 MiB worker stack (an abort `catch_unwind` cannot catch).

mod depth;
mod edges;
mod entities;
mod facts;
mod jsonld;
mod lead;
mod marks;
mod noise;
mod regions;
mod score;
mod signup;
mod teasers;
mod tokens;
mod walk;

pub use depth::{prepare_for_text, prepare_html};
pub use regions::{REST_OF_PAGE, Region, page_regions};
pub use tokens::parse_document;

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use crate::model::Article;
use crate::text::{fold_whitespace, normalize};
use edges::drop_edge_chrome;
use entities::decode_references;
use facts::PageFacts;
use noise::Wrappers;
use walk::{article_paragraphs, marked_paragraphs, paragraphs, split_plain};

/// How much longer the page's main region must be than the scored article to be taken
/// instead (an article spread over many small sections).
const SPREAD_FACTOR: usize = 4;

/// Below this many characters a chosen region is not trusted to be the article.
const MIN_ARTICLE_CHARS: usize = 200;

/// Names (of tags, attributes, class words) with what the rules make of them, as bits,
/// looked up by length and first byte and then compared: a lookup per tag, attribute and
/// class word, where hashing each name was a fortieth of the extraction.
struct NameKinds {
    buckets: Vec<Vec<(&'static str, u8)>>,
}

impl NameKinds {
    const LENGTHS: usize = 32;
    const FIRSTS: usize = 37;

    fn bucket(name: &str) -> usize {
        let first = match name.as_bytes().first() {
            Some(b @ b'a'..=b'z') => usize::from(b - b'a'),
            Some(b @ b'0'..=b'9') => 26 + usize::from(b - b'0'),
            _ => 36,
        };
        name.len().min(Self::LENGTHS - 1) * Self::FIRSTS + first
    }

    fn get(&self, name: &str) -> Option<&u8> {
        self.buckets[Self::bucket(name)]
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| kind)
    }
}

fn name_kinds(lists: &[(&[&'static str], u8)]) -> NameKinds {
    let mut kinds = NameKinds {
        buckets: vec![Vec::new(); NameKinds::LENGTHS * NameKinds::FIRSTS],
    };
    for (names, kind) in lists {
        for name in *names {
            let bucket = &mut kinds.buckets[NameKinds::bucket(name)];
            match bucket.iter_mut().find(|(n, _)| n == name) {
                Some((_, k)) => *k |= kind,
                None => bucket.push((name, *kind)),
            }
        }
    }
    kinds
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("static selector")
}

static ARTICLE_ROOTS: LazyLock<Vec<Selector>> = LazyLock::new(|| {
    ["[itemprop=articleBody]", "article", "main, [role=main]"]
        .map(selector)
        .to_vec()
});
static BODY: LazyLock<Selector> = LazyLock::new(|| selector("body"));

/// Extracts the article of a whole HTML page.
pub fn extract_article(html: &str) -> Article {
    let doc = parse_document(&prepare_for_text(html));
    let facts = PageFacts::of(&doc);
    let element_text = |e: ElementRef| walk::line_text(*e);
    let meta_title = facts.meta(&["og:title", "twitter:title"]);
    let title = meta_title
        .clone()
        .or_else(|| facts.h1.map(element_text))
        .or_else(|| facts.title.map(element_text))
        .map(|t| crate::text::truncate_chars(&t, crate::text::MAX_TITLE_CHARS))
        .unwrap_or_default();

    let body = facts.body.unwrap_or(doc.root_element());
    let headline = facts.h1.map(|h| *h);
    let wrappers = page_wrappers(&doc, &facts);
    let scored = score::article_nodes(*body, &wrappers).map(|ids| {
        let marked = ids
            .iter()
            .filter_map(|id| doc.tree.get(*id))
            .flat_map(|n| marked_paragraphs(n, &wrappers))
            .collect();
        let first = ids.first().copied();
        let text = article_paragraphs(marked).join("\n\n");
        let text = match first.and_then(|id| doc.tree.get(id)) {
            Some(first) => lead::with_introduction(first, text, &wrappers),
            None => text,
        };
        (text, first)
    });
    let region = || {
        main_region(&doc, &wrappers)
            .map(|r| article_paragraphs(marked_paragraphs(*r, &wrappers)).join("\n\n"))
            .unwrap_or_default()
    };
    // The scored text with the standfirst above it, when the headline's head holds one.
    let page_title = meta_title
        .or_else(|| facts.title.map(element_text))
        .unwrap_or_default();
    let with_lead = |t: String, first: Option<ego_tree::NodeId>| match first
        .and_then(|id| doc.tree.get(id))
        .and_then(|first| lead::standfirst(*body, headline, first, &page_title, &wrappers))
    {
        Some(lead) if !t.contains(&lead[..lead.floor_char_boundary(60)]) => {
            format!("{lead}\n\n{t}")
        }
        _ => t,
    };
    let mut text = match scored {
        Some((t, first)) if t.chars().count() >= MIN_ARTICLE_CHARS => {
            // The main region is read again only when the page has that much more text.
            (visible_len(*body, &wrappers) > t.len() * SPREAD_FACTOR)
                .then(region)
                .filter(|r| r.len() > t.len() * SPREAD_FACTOR)
                .unwrap_or_else(|| with_lead(t, first))
        }
        _ => region(),
    };
    // A paywall overlay or a script-rendered shell: the page's own metadata may carry the
    // whole text. Used only when it is much longer than what the visible body gave.
    let scripts: Vec<String> = facts.json_ld.iter().map(|s| s.text().collect()).collect();
    if let Some(body) = jsonld::article_body(scripts.iter().map(String::as_str))
        && body.len() > text.len() * 2
    {
        text = body;
    }
    let h1 = facts.h1.map(element_text).unwrap_or_default();
    text = drop_edge_chrome(&text, &[&title, &h1]);
    if text.chars().count() < MIN_ARTICLE_CHARS / 2 {
        // Paywall overlays and script-rendered pages: the description is better than nothing.
        if let Some(desc) = facts.meta(&["og:description", "description", "twitter:description"])
            && desc.len() > text.len()
        {
            text = desc;
        }
    }
    Article {
        title: normalize(title),
        text: normalize(text),
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

/// What on the page is chrome beyond its own classes and tags, and which chrome-named
/// wrappers hold the article: teaser grids are chrome however much prose their cards hold.
fn page_wrappers(doc: &Html, facts: &PageFacts) -> Wrappers {
    let body = facts.body.unwrap_or(doc.root_element());
    let headline = facts.h1.map(|h| *h);
    let mut chrome = teasers::teaser_grids(*body, headline);
    chrome.extend(signup::signup_boxes(*body, headline));
    Wrappers::of(*body, headline, chrome)
}

/// Bytes of text under `root` outside noise: an upper bound on what its paragraphs hold.
fn visible_len(root: ego_tree::NodeRef<'_, scraper::Node>, w: &Wrappers) -> usize {
    let mut n = 0;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.value() {
            scraper::Node::Text(t) => n += t.trim().len(),
            scraper::Node::Element(el) if node.id() != root.id() && w.is_noise(node, el) => {}
            _ => stack.extend(node.children()),
        }
    }
    n
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
        return normalize(split_plain(html));
    }
    let frag = Html::parse_fragment(&prepare_html(html));
    normalize(paragraphs(*frag.root_element(), &Wrappers::default()).join("\n\n"))
}

/// The most of a title's raw markup that is read: a title is a line, and what a feed puts
/// past this is not worth parsing.
const MAX_TITLE_MARKUP: usize = 16 * 1024;

/// Plain text of a title that may carry markup or entities, at most
/// [`MAX_TITLE_CHARS`](crate::text::MAX_TITLE_CHARS) characters.
pub fn inline_text(s: &str) -> String {
    let s = crate::text::clip_bytes(s, MAX_TITLE_MARKUP);
    let text = if !s.contains('<') && !s.contains('&') {
        fold_whitespace(s)
    } else if let Some(text) = (!s.contains('<')).then(|| decode_references(s)).flatten() {
        // Most titles only carry character references ("Q&amp;A", "it&#8217;s"): decoded
        // without building a DOM. Markup or a rare named reference takes the full parser,
        // behind the same nesting bound as pages.
        fold_whitespace(&text)
    } else {
        let frag = Html::parse_fragment(&prepare_html(s));
        fold_whitespace(&frag.root_element().text().collect::<String>())
    };
    crate::text::truncate_chars(&normalize(text), crate::text::MAX_TITLE_CHARS)
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
    fn chunks_told_apart_by_their_number_are_one_article() {
        let para = |n: usize| {
            format!(
                "<p class=\"story-body-text\">Paragraph {n} of the deal's story: the sale, the \
                 holding company left behind, and what shareholders get to say about it.</p>"
            )
        };
        let paras = |r: std::ops::Range<usize>| r.map(para).collect::<String>();
        // Each chunk in a wrapper of its own, an ad and a box of related links between them.
        let html = format!(
            r#"<html><body><main><article id="story"><header><h1>The sale</h1></header>
            <div class="story-body-supplemental"><div class="story-body story-body-1">{}</div>
            <div class="supplemental"><aside class="marginalia">Related Coverage
            <a href="/a">Another deal</a></aside></div></div>
            <div class="story-interrupter"><div class="ad">Advertisement</div></div>
            <div class="story-body-supplemental"><div class="story-body story-body-2">{}</div>
            </div></article></main></body></html>"#,
            paras(1..4),
            paras(4..16)
        );
        let text = extract_article(&html).text;
        for n in 1..16 {
            assert!(text.contains(&format!("Paragraph {n} of")), "{n}: {text}");
        }
        assert!(!text.contains("Another deal"), "{text}");
    }

    /// A page builder sets a guide in text blocks, each deep in a section of its own under
    /// a heading block; the first part is half as long again as the others (each scores
    /// about 0.69 of it). Every part is read.
    #[test]
    fn parts_of_unequal_length_in_sections_are_one_article() {
        let part = |n: usize, paragraphs: usize| {
            // Each block's own class, as a page builder names each element.
            let id = ["e70717d", "a1b2c3f", "f4e5d6c", "b7a8c9e"][n - 1];
            let paras: String = (0..paragraphs)
                .map(|i| {
                    format!(
                        "<p>Part {n}, step {i} of the guide: measure the wall, mark the \
                         studs, and drill the holes before you lift the shelf.</p>"
                    )
                })
                .collect();
            format!(
                r#"<section class="builder-section"><div class="builder-column"><div class="column-wrap">
                <div class="heading-block"><h2>Part {n}</h2></div>
                <div class="element-{id}"><div>{paras}</div></div>
                </div></div></section>"#
            )
        };
        let html = format!(
            r#"<html><body><div class="builder-page"><h1>Hanging a shelf</h1>{}{}{}{}</div>
            <div class="sidebar"><p>Our most popular guide this week, as chosen by readers.</p></div>
            </body></html>"#,
            part(1, 12),
            part(2, 8),
            part(3, 8),
            part(4, 8)
        );
        let text = extract_article(&html).text;
        for n in 1..=4 {
            assert!(text.contains(&format!("Part {n}, step 0")), "{n}: {text}");
        }
        assert!(!text.contains("most popular guide"), "{text}");
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
    fn a_header_aside_or_call_to_action_around_the_whole_article_is_read() {
        let prose = "<p>The council approved the budget on Tuesday after a long debate, \
                     and the mayor said the vote settles the matter for this year.</p>"
            .repeat(4);
        let teaser = "<p>Another story from this site, summarised in a sentence or two for \
                      the reader who wants more.</p>";
        for wrapper in [
            r#"<header class="section_blog-post5-content">"#,
            r#"<aside class="blogPost">"#,
            r#"<div class="above-cta">"#,
        ] {
            let close = if wrapper.starts_with("<header") {
                "</header>"
            } else if wrapper.starts_with("<aside") {
                "</aside>"
            } else {
                "</div>"
            };
            let html = format!(
                r#"<html><body><header class="site"><nav><a href="/">Home</a></nav></header>
                {wrapper}<h1>Budget approved</h1><div class="rich-text">{prose}</div>{close}
                <aside class="sidebar"><h3>More</h3>{teaser}</aside></body></html>"#
            );
            let text = extract_article(&html).text;
            assert_eq!(text.matches("The council").count(), 4, "{wrapper}: {text}");
            assert!(!text.contains("Another story"), "{wrapper}: {text}");
        }
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
    fn a_phrase_inside_a_sentence_is_text_whatever_its_class() {
        let text = clean_fragment(
            "<p>I am a <a class='popup' href='#'>rather elderly</a> man, and a \
             <span class='tooltip'>law-copyist</span> by trade.</p>\
             <p>Shown <span class='popup' hidden>hidden note</span> here.</p>\
             <div><a class='popup' href='#'>Open the menu</a></div>",
        );
        assert_eq!(
            text,
            "I am a rather elderly man, and a law-copyist by trade.\n\nShown here."
        );
    }

    /// Prose is told from a list of links by its commas and full stops, in any script: a
    /// Japanese story whose sentences are mostly links (a glossary, a reading aid) is text,
    /// and a line of menu links beside it is not. (A paragraph of three links or more is a
    /// line of tags whatever its script: see `drop_link_runs`.)
    #[test]
    fn linked_prose_in_other_scripts_is_not_a_link_list() {
        let story = "むかしむかし、あるところにおじいさんとおばあさんが住んでいました。\
                     おじいさんは山へ柴刈りに、おばあさんは川へ洗濯に行きました。\
                     すると、川上から大きな桃が、どんぶらこ、どんぶらこと流れてきました。";
        let linked: String = story
            .split_inclusive('。')
            .enumerate()
            .map(|(i, sentence)| match i {
                0 | 1 => format!("<a href='/w{i}'>{sentence}</a>"),
                _ => sentence.to_string(),
            })
            .collect();
        let text = clean_fragment(&format!(
            "<p>昔話です。</p><div>{linked}</div>\
             <div><a href='/'>ホーム</a> <a href='/news'>ニュース</a> <a href='/c'>お問い合わせ</a></div>"
        ));
        assert_eq!(text, format!("昔話です。\n\n{story}"));
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
        assert_eq!(drop_edge_chrome(&text, &["Son of president stabbed"]), body);
        // A closing sign-off stays; so does a text that is all short lines.
        let signed = format!("{body}\n\nJohn Smith");
        assert_eq!(drop_edge_chrome(&signed, &["Title"]), signed);
        assert_eq!(
            drop_edge_chrome("Caption\n\nTags", &["Title"]),
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

    /// The title names the site as well ("Headline - Site"): the headline atop the article's
    /// block is still the headline repeated.
    #[test]
    fn the_headline_repeated_goes_when_the_title_names_the_site() {
        let body = "Real article sentence about Caracas and the talks. ".repeat(8);
        for (title, h1) in [
            (
                "Talks resume in Caracas - The Daily Site",
                "Talks resume in Caracas",
            ),
            (
                "商品の改造が商標法違反に！？ - 事務所",
                "商品の改造が商標法違反に！？",
            ),
        ] {
            let html = format!(
                r#"<html><head><meta property="og:title" content="{title}"></head><body>
                <div class="post"><div><h1>{h1}</h1></div><p>{body}</p><p>{body}</p></div>
                </body></html>"#
            );
            let a = extract_article(&html);
            assert_eq!(a.title, title);
            assert!(a.text.starts_with("Real article"), "{}", a.text);
        }
    }

    /// A short first sentence is the story's lead, not a label, in Chinese as in English:
    /// it ends in `。`.
    #[test]
    fn a_short_lead_sentence_in_chinese_stays() {
        let paragraph = "据日本气象厅消息，这次地震的震级为五点八级，震源深度约为四十公里，\
                         东京市中心有明显震感，部分地铁线路暂时停运，目前尚无人员伤亡的报告。";
        let html = format!(
            r#"<html><head><title>东京发生地震</title></head><body>
            <nav><a href="/">首页</a> <a href="/news">新闻</a></nav>
            <article><h1>东京发生地震</h1><p>今天早上东京发生了地震。</p>
            <p>{paragraph}</p><p>{paragraph}</p><p>{paragraph}</p></article></body></html>"#
        );
        let a = extract_article(&html);
        assert!(
            a.text.starts_with("今天早上东京发生了地震。\n\n"),
            "{}",
            a.text
        );
    }

    #[test]
    fn a_closing_section_goes_and_a_label_in_the_middle_stays() {
        let para = |n: usize| {
            format!(
                "<p>Paragraph {n} of the report on the talks in Caracas, long enough to be \
                 prose, with a comma and a full stop.</p>"
            )
        };
        let story: String = (1..=6).map(para).collect();
        let bio =
            "<p>Ann Writer has covered Latin America for twenty years and lives in Bogotá.</p>";
        for label in ["About the author", "Lesen Sie auch die folgenden Beiträge:"] {
            let html = format!(
                "<html><body><article>{story}<h3>{label}</h3>{bio}</article></body></html>"
            );
            let text = extract_article(&html).text;
            assert!(text.ends_with("Paragraph 6 of the report on the talks in Caracas, long enough to be prose, with a comma and a full stop."), "{text}");
        }
        // A call to follow the site closes it too, and an arrow sets off a promo label.
        let html = format!(
            "<html><body><article><p>À lire aussi » <a href=/x>Une autre histoire</a></p>{story}\
             <p>Síguenos en Telegram, Instagram y Facebook para recibir las noticias.</p>\
             </article></body></html>"
        );
        let text = extract_article(&html).text;
        assert!(
            text.starts_with("Paragraph 1") && text.ends_with("full stop."),
            "{text}"
        );
        // Early in the article, the label titles a part of it.
        let html = format!(
            "<html><body><article>{}<h3>About the author</h3>{}</article></body></html>",
            para(1),
            (2..=6).map(para).collect::<String>()
        );
        let text = extract_article(&html).text;
        assert!(
            text.contains("About the author") && text.contains("Paragraph 6"),
            "{text}"
        );
    }

    #[test]
    fn words_stay_apart_where_the_parser_is_spared_white_space() {
        let story = "<p>The council met on Tuesday in Caracas, as it does every week, and voted \
                     on the budget for the coming year after a long debate.</p>"
            .repeat(4);
        let html = format!(
            "<html><body><h1><span>Council</span><br> <span>votes</span></h1><article>{story}\
             <div>Figures come from the ministry.<!-- --> <div class=\"ad-slot\">Sponsored</div> \
             <!-- -->Figures from partners are marked.</div></article></body></html>"
        );
        let article = extract_article(&html);
        assert_eq!(article.title, "Council votes");
        assert!(
            article
                .text
                .ends_with("Figures come from the ministry. Figures from partners are marked."),
            "{}",
            article.text
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
    fn a_teaser_box_between_the_paragraphs_is_not_the_text_but_a_lead_called_teaser_is() {
        let para = "<p>The virologist answered listeners' questions on testing, on the spread \
                    of the virus in the spring and on what the models can and cannot say.</p>";
        let html = format!(
            "<html><body><article class=\"copytext\"><h1>The podcast, episode 16</h1>\
             <div class=\"teaser lead\"><p>In this episode: criticism from the internet and \
             new forecasts from Lombardy.</p></div>{para}{para}\
             <div class=\"teaser\"><h2><a href=\"/glossary\">The glossary of the podcast</a></h2>\
             <p>What is a zoonosis? Our glossary explains the terms of the podcast.</p></div>\
             {para}{para}</article></body></html>"
        );
        let text = extract_article(&html).text;
        assert!(text.contains("Lombardy"), "{text}");
        assert_eq!(text.matches("The virologist").count(), 4, "{text}");
        assert!(!text.contains("zoonosis"), "{text}");
        assert!(!text.contains("glossary"), "{text}");
    }

    #[test]
    fn a_grid_of_post_cards_whose_classes_name_each_posts_categories_is_not_the_text() {
        let para = "<p>The gym's waiver covered ordinary accidents, the court found, but not a \
                    machine the owner knew to be broken and left in use for weeks.</p>";
        // A theme's card: the post's own classes after the card's, an excerpt of WordPress's
        // default 55 words, a date and a link on.
        let card = |n: usize, category: &str| {
            format!(
                "<article class=\"elementor-post post-{n} type-post hentry category-{category}\">\
                 <h3><a href=\"/post-{n}\">Another post, number {n}</a></h3>\
                 <div class=\"excerpt\"><p>{}</p></div><span>March {n}, 2025</span>\
                 <a href=\"/post-{n}\">Read more</a></article>",
                "Applicants often wonder whether they can take the administration to court \
                 when a claim is denied, and what the path to the benefits looks like. "
                    .repeat(2)
            )
        };
        let html = format!(
            "<html><body><div class=\"row\"><div class=\"single\"><h1>Injured at the gym</h1>\
             {para}{para}{para}</div><div class=\"side-posts\">{}{}{}{}</div></div>\
             </body></html>",
            card(1, "blog"),
            card(2, "elder-law"),
            card(3, "blog category-disability"),
            card(4, "news"),
        );
        let text = extract_article(&html).text;
        assert_eq!(text.matches("The gym's waiver").count(), 3, "{text}");
        assert!(!text.contains("Applicants"), "{text}");
        // `preview --explain` names the grid as dropped.
        let regions = page_regions(&html);
        assert_eq!(regions[0].place, "<div class=\"side-posts\">");
        assert!(regions[0].text.contains("Applicants"), "{regions:?}");
    }

    #[test]
    fn the_overlays_of_a_video_gallery_are_not_the_text_however_long() {
        let para = "<p>The director and his cast were eager to point out that their February \
                    film is no copy of the vampire saga, whatever the posters suggest.</p>";
        let lightbox = |n: usize| {
            format!(
                "<div class=\"pmc-trailer-widget-lightbox\"><div id=\"video-{n}\">\
                 <h3>Trailer number {n}</h3><p>{}</p></div></div>",
                "The official trailer of the remake, starring two actors who hunt witches \
                 across the country, years after their encounter with a gingerbread house. "
                    .repeat(3)
            )
        };
        let html = format!(
            "<html><body><div class=\"main\"><h1>The director speaks</h1>{para}{para}</div>\
             {}{}{}</body></html>",
            lightbox(1),
            lightbox(2),
            lightbox(3),
        );
        let text = extract_article(&html).text;
        assert_eq!(
            text.matches("The director and his cast").count(),
            2,
            "{text}"
        );
        assert!(!text.contains("gingerbread"), "{text}");
    }

    #[test]
    fn a_post_pasted_inside_its_byline_is_the_text_and_the_byline_alone_is_not() {
        // A blog editor pasted the post into the byline's `<span>`, after the byline itself.
        let para = |text: &str| format!("<span>{text}</span><br><br>");
        let html = format!(
            "<html><body><div class=\"post-body\"><h2>Thursday, May 3</h2>\
             <span class=\"byline-author\"><b><span class=\"byline-author\">Posted by Scott, \
             product manager</span><br>{}{}{}</b></span></div></body></html>",
            para(
                "When a story breaks, the news page is designed to give you the most relevant \
                 articles from a variety of sources, from national outlets to local points of \
                 view and expert opinion. Three new features arrive this week for readers of \
                 the US edition."
            ),
            para(
                "Larger images now lead the main page, so that the day's biggest stories stand \
                 out at a glance, and a new page for each story gathers the latest articles and \
                 commentary as soon as they are published anywhere."
            ),
            para(
                "Discussions relevant to each story appear beside it, and readers who have \
                 signed in can follow the people who write them or join in directly from the \
                 page, without leaving the story they were reading."
            ),
        );
        let text = extract_article(&html).text;
        assert!(text.contains("When a story breaks"), "{text}");
        assert!(text.contains("Discussions relevant"), "{text}");
        assert!(!text.contains("Posted by"), "{text}");
    }

    #[test]
    fn a_dateline_opens_the_first_sentence() {
        let html = "<html><body><article><h1>Masks stolen</h1><p><span class=\"dateline\">\
                    KOBE &#8211; </span>A total of 6,000 surgical masks have been lost at a \
                    hospital in Kobe, it was learned Tuesday.</p><p>The police are investigating \
                    the incident as a case of theft, officials at the hospital said.</p>\
                    </article></body></html>";
        let text = extract_article(html).text;
        assert!(text.starts_with("KOBE – A total of 6,000"), "{text}");
    }

    #[test]
    fn the_standfirst_under_the_headline_leads_the_text_and_a_blogs_motto_does_not() {
        let body = "<p>It is only a matter of time before half of all jobs are done by \
                    machines, the philosopher said on the programme, and politics has no plan \
                    for what comes after.</p>"
            .repeat(4);
        let lead = "Digitisation will cost millions of jobs, says the philosopher. He calls for \
                    an unconditional basic income before it is too late.";
        let page = |title: &str, h1: &str| {
            format!(
                "<html><head><title>{title}</title></head><body>\
                 <div class=\"brand\"><h1><a href=\"/\">Radio</a></h1></div><article>\
                 <div class=\"articlehead\"><h1>{h1}</h1><p class=\"subtitle\">{lead}</p>\
                 <div class=\"image\"><img src=\"/precht.jpg\"></div>\
                 <p class=\"author\">Richard Precht talks to Karin Fischer</p></div>\
                 <div class=\"articleside\"><h6>More on this</h6><p><a href=\"/a\">Basic \
                 income: pro and contra</a></p></div>\
                 <div class=\"articlemain\"><div class=\"text\">{body}</div></div></article>\
                 </body></html>"
            )
        };
        let article = extract_article(&page(
            "The future of work: deck chairs on the Titanic | Radio",
            "The future of work: deck chairs on the Titanic",
        ))
        .text;
        assert!(article.starts_with("Digitisation will cost"), "{article}");
        assert_eq!(
            article.matches("It is only a matter").count(),
            4,
            "{article}"
        );
        // A blog's name over its motto, on a page titled after the post.
        let blog = extract_article(&format!(
            "<html><head><title>Life as a CIO: On the road in China, a week of meetings</title>\
             </head><body><div id=\"top\"><h1>Life as a CIO</h1><p>{lead}</p></div>\
             <div class=\"post\"><h2>On the road in China</h2>{body}</div></body></html>"
        ))
        .text;
        assert!(!blog.contains("Digitisation"), "{blog}");
        assert_eq!(blog.matches("It is only a matter").count(), 4, "{blog}");
    }

    #[test]
    fn an_article_in_sections_of_their_own_is_read_whole() {
        // A publishing platform sets each part of a post in its own section, its paragraphs
        // three levels down: no one container holds them, and any one part scores alone.
        let part = |n: usize| {
            format!(
                "<section><div><div class=\"z{n}\"><h2>Part {n}</h2>{}</div></div></section>",
                format!(
                    "<p>Part {n} of the argument, in which the writer answers his critics, \
                     point by point, and at some length.</p>"
                )
                .repeat(3)
            )
        };
        let html = format!(
            "<html><body><div id=\"root\"><nav><a href=\"/\">Home</a></nav><article>\
             <div>{}{}{}{}</div></article></div></body></html>",
            part(1),
            part(2),
            part(3),
            part(4)
        );
        let text = extract_article(&html).text;
        for n in 1..=4 {
            assert!(
                text.contains(&format!("Part {n} of the argument")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_captions_of_a_gallery_set_in_the_article_are_not_its_text() {
        let para = "<p>Those towels and sheets might not be as clean as they look, according to \
                    the hotel owners who answered an online thread about what guests never see.</p>";
        let slides: String = (1..=12)
            .map(|n| {
                format!(
                    "<li><span>{n}/12 Slide {n}</span><p>Revenues at the club fell by a fifth \
                     last year, number {n} in the series, after it missed the cup, the accounts \
                     show, and the board blamed the weather.</p></li>"
                )
            })
            .collect();
        let html = format!(
            "<html><body><article><h1>What hotels do not tell you</h1>{para}{para}\
             <div class=\"full-gallery\"><h2>Business news in pictures</h2><ul>{slides}</ul>\
             </div>{para}</article></body></html>"
        );
        let text = extract_article(&html).text;
        assert_eq!(text.matches("Those towels").count(), 3, "{text}");
        assert!(!text.contains("Revenues at the club"), "{text}");
    }

    #[test]
    fn an_introduction_a_page_builder_set_apart_before_the_article_is_its_text() {
        let body = "<p>The council met on Tuesday evening to vote on the harbour plan, and the \
                    debate ran for three hours before the final count was taken.</p>"
            .repeat(6);
        let block = |class: &str, text: &str| {
            format!("<section class=\"{class}\"><div><p>{text}</p></div></section>")
        };
        let html = format!(
            "<html><body><div class=\"wrap\">{}<section class=\"body\">{body}</section>{}</div>\
             </body></html>",
            block(
                "intro",
                "Choosing a harbour plan for Zanzibar took the council two years. The vote this \
                 week ends a long dispute. Here is what the plan changes for the fishing fleet \
                 and for the ferries that serve the islands, from the first boats of the day \
                 to the last."
            ),
            block(
                "after",
                "Elsewhere in the region, a bakery in Lindi won a prize. Its owner has baked bread \
                 for forty years. She plans to open a second shop next spring, near the market \
                 square where the buses stop."
            ),
        );
        let text = extract_article(&html).text;
        assert!(text.contains("Zanzibar"), "{text}");
        assert!(text.contains("final count"), "{text}");
        assert!(!text.contains("Lindi"), "{text}");
    }

    #[test]
    fn the_prose_that_opens_an_article_in_a_block_of_its_own_is_its_text() {
        let body = "<p>The council met on Tuesday evening to vote on the harbour plan, and the \
                    debate ran for three hours before the final count was taken.</p>"
            .repeat(8);
        let widget = |inner: &str| format!("<div class=\"widget\"><div>{inner}</div></div>");
        let html = format!(
            "<html><body><article>{}{}{}{}</article><div class=\"more\"><div>{}</div></div>\
             </body></html>",
            widget("<p>By Ana Ruiz, harbour correspondent</p>"),
            widget(
                "<p>Choosing a harbour plan for Zanzibar took the council two years, and the vote \
                 this week ends a long dispute over the fishing fleet.</p>"
            ),
            // A box of highlights repeats one of the article's sentences.
            widget(
                "<p>The council met on Tuesday evening to vote on the harbour plan, and the \
                    debate ran for three hours before the final count was taken.</p>"
            ),
            widget(&body),
            "<p>Elsewhere, a bakery in Lindi won a prize for the bread its owner has baked for \
             forty years, and she plans a second shop.</p>",
        );
        let text = extract_article(&html).text;
        assert!(
            text.starts_with("Choosing a harbour plan for Zanzibar"),
            "{text}"
        );
        assert_eq!(text.matches("final count").count(), 8, "{text}");
        assert!(!text.contains("Ana Ruiz"), "{text}");
        assert!(!text.contains("Lindi"), "{text}");
    }

    #[test]
    fn a_section_named_after_its_title_is_text_whatever_words_its_title_has() {
        let para = |topic: &str| {
            format!(
                "<p>Push {topic} between two clones of the repository, one on the laptop and \
                 one on the test server, and amend them on either side before publishing.</p>"
            )
        };
        let section = |id: &str, title: &str, topic: &str| {
            format!(
                "<div class=\"section\" id=\"{id}\"><h2>{title}</h2>{}{}</div>",
                para(topic),
                para(topic)
            )
        };
        let html = format!(
            "<html><body><div class=\"content\"><h1>Shared history</h1>{}{}{}{}</div></body></html>",
            section("overview", "Overview", "drafts"),
            // A documentation generator's id: the title's words, one a chrome word.
            section(
                "sharing-with-a-single-developer",
                "Sharing with a single developer",
                "changesets"
            ),
            // A chrome id whose heading is a label, and one that is not the title's.
            section("related-articles", "Related articles", "teasers"),
            section("share-bar", "Publishing from the laptop today", "buttons"),
        );
        let text = extract_article(&html).text;
        assert!(text.contains("Push changesets"), "{text}");
        assert!(text.contains("Push drafts"), "{text}");
        assert!(!text.contains("Push teasers"), "{text}");
        assert!(!text.contains("Push buttons"), "{text}");
    }

    #[test]
    fn a_blogs_list_of_excerpts_after_the_post_is_not_its_text() {
        let prose = "<p>The harbour authority approved the new ferry timetable on Monday, and \
                     the first boats run on the new times from the start of next month.</p>"
            .repeat(3);
        let teaser = |n: usize| {
            format!(
                "<p><a href=\"/{n}\">Another post number {n}</a></p>\
                 <p>Lighthouse keepers on the northern islands describe a winter of storms, \
                 supply boats that never came and long nights spent reading by lamp [...]</p>"
            )
        };
        let html = format!(
            "<html><body><div class=\"main\"><h1>Ferry times</h1>{prose}\
             <h3>Related Posts</h3>{}</div></body></html>",
            (1..=5).map(teaser).collect::<String>()
        );
        let text = extract_article(&html).text;
        assert_eq!(text.matches("harbour authority").count(), 3, "{text}");
        assert!(!text.contains("Lighthouse"), "{text}");
        assert!(!text.contains("Another post"), "{text}");
        // A quotation with its cuts marked stays.
        let quoted = format!(
            "<html><body><div class=\"main\">{prose}<p>She wrote: \"The boats [...] run late \
             in winter, as every islander knows, and the timetable says so [...]</p></div></body></html>"
        );
        assert!(
            extract_article(&quoted)
                .text
                .contains("every islander knows")
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
