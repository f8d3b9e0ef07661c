//! The standfirst: the sentence or two under the headline that sum the article up ("Piogge,
//! temporali e nevicate previste per oggi..."). Pages set it in the article's head with the
//! headline and the byline, apart from the body the scorer chooses, often with a picture or
//! a box of links between the two. And the introduction: prose that opens the article in
//! a block of its own before the body (a page builder's first text widget, an abstract).

use ego_tree::NodeRef;
use ego_tree::iter::Edge;
use scraper::Node;

use super::marks::ends_with_stop;
use super::noise::{Wrappers, words_of};
use super::walk::{line_text, paragraphs};

/// Shorter than this, a line under the headline is a byline, a date or a kicker.
const MIN_CHARS: usize = 100;
/// Elements after the headline that are looked at: the head's, not the page's.
const LOOK_AHEAD: usize = 12;

/// The standfirst after the [`headline`] and before `body_start` (the first element of the
/// text the scorer chose), when the headline comes first: the first paragraph of
/// [`MIN_CHARS`] or more there, if it reads as prose (sentences, few links) and no chrome
/// holds it. A `<header>` around the headline is the article's head, not chrome.
pub(super) fn standfirst(
    root: NodeRef<'_, Node>,
    first_h1: Option<NodeRef<'_, Node>>,
    body_start: NodeRef<'_, Node>,
    page_title: &str,
    w: &Wrappers,
) -> Option<String> {
    let headline = headline(root, first_h1, page_title)?;
    // The headline inside the chosen text: the text has its head already.
    if headline.ancestors().any(|a| a.id() == body_start.id()) {
        return None;
    }
    let mut after = false;
    let mut seen = 0;
    for edge in root.traverse() {
        match edge {
            Edge::Close(n) if n.id() == headline.id() => after = true,
            Edge::Open(n) if after => {
                if n.id() == body_start.id() {
                    return None;
                }
                let Some(el) = n.value().as_element() else {
                    continue;
                };
                seen += 1;
                if seen > LOOK_AHEAD {
                    return None;
                }
                if el.name() != "p" {
                    continue;
                }
                let text = line_text(n);
                if text.chars().count() < MIN_CHARS {
                    continue;
                }
                return (reads_as_prose(n, &text)
                    && !in_chrome(n, root, w)
                    && shares_a_head(headline, n))
                .then_some(text);
            }
            _ => {}
        }
    }
    None
}

/// How much the introduction may add to the text, as a share of the text: an opening, not
/// a second article.
const MAX_INTRODUCTION_SHARE: f64 = 0.5;

/// `text`, the scored text that opens with `first`, with its introduction before it: the
/// paragraphs of prose (sentences of [`MIN_CHARS`] or more) that the `<article>` holding
/// `first` sets before it, and that the text does not hold already (a box of highlights
/// repeats the article's sentences). Only what comes before `first` is read.
pub(super) fn with_introduction(first: NodeRef<'_, Node>, text: String, w: &Wrappers) -> String {
    let is_article = |a: &NodeRef<'_, Node>| {
        a.value()
            .as_element()
            .is_some_and(|e| e.name() == "article")
    };
    let Some(article) = std::iter::once(first)
        .chain(first.ancestors())
        .find(is_article)
    else {
        return text;
    };
    // What the article holds before `first`, level by level up to the article, then put in
    // document order.
    let mut before: Vec<NodeRef<'_, Node>> = std::iter::once(first)
        .chain(first.ancestors())
        .take_while(|a| a.id() != article.id())
        .flat_map(|a| a.prev_siblings())
        .filter(|n| !matches!(n.value(), Node::Element(el) if w.is_noise(*n, el)))
        .collect();
    before.reverse();
    let intro: Vec<String> = before
        .into_iter()
        .flat_map(|n| paragraphs(n, w))
        .filter(|p| p.chars().count() >= MIN_CHARS && ends_a_sentence(p))
        .filter(|p| !text.split("\n\n").any(|have| have == p))
        .collect();
    let added: usize = intro.iter().map(String::len).sum();
    if intro.is_empty() || added as f64 > text.len() as f64 * MAX_INTRODUCTION_SHARE {
        return text;
    }
    format!("{}\n\n{text}", intro.join("\n\n"))
}

/// The article's headline: the page's first `<h1>` when it is the page's title
/// ([`titles_the_page`]), else the first `<h1>` or `<h2>` that is (the first `<h1>` of many
/// pages is their logo or a menu's label).
fn headline<'a>(
    root: NodeRef<'a, Node>,
    first_h1: Option<NodeRef<'a, Node>>,
    page_title: &str,
) -> Option<NodeRef<'a, Node>> {
    let titles = |n: &NodeRef<'a, Node>| titles_the_page(&line_text(*n), page_title);
    first_h1.filter(titles).or_else(|| {
        root.descendants().find(|n| {
            n.value()
                .as_element()
                .is_some_and(|e| matches!(e.name(), "h1" | "h2"))
                && titles(n)
        })
    })
}

/// Whether a headline is the page's own title (two thirds of the words of its `<title>` or
/// `og:title`), not a blog's name over its motto ("10Q Detective" on a page titled "10Q
/// Detective: Beware of the soft spots in the filings").
fn titles_the_page(headline: &str, page_title: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    };
    let (headline, title) = (words(headline), words(page_title));
    let shared = title.iter().filter(|w| headline.contains(w)).count();
    !title.is_empty() && 3 * shared >= 2 * title.len()
}

/// Sentences, not a list of names or links: a sentence's end, and under a fifth of the
/// text in links.
fn reads_as_prose(p: NodeRef<'_, Node>, text: &str) -> bool {
    let linked: usize = p
        .descendants()
        .filter(|d| d.value().as_element().is_some_and(|e| e.name() == "a"))
        .map(|a| line_text(a).len())
        .sum();
    (ends_a_sentence(text) || text.contains(". ")) && 5 * linked < text.len()
}

/// Whether a paragraph ends as a sentence does.
fn ends_a_sentence(text: &str) -> bool {
    ends_with_stop(text) || text.trim_end().ends_with(['…', '"', '“', '”', '»'])
}

/// Whether the headline and `p` sit in one article's head: the smallest element holding
/// both holds no navigation. (A blog's name in an `<h1>` and its motto under it sit in the
/// site's masthead, which only the page's wrapper shares with the post.)
fn shares_a_head(headline: NodeRef<'_, Node>, p: NodeRef<'_, Node>) -> bool {
    let Some(common) = p
        .ancestors()
        .find(|a| headline.ancestors().any(|h| h.id() == a.id()))
    else {
        return false;
    };
    !common
        .descendants()
        .any(|d| d.value().as_element().is_some_and(|e| e.name() == "nav"))
}

/// The element before `node` among its siblings, past text and comments.
fn element_before(node: NodeRef<'_, Node>) -> Option<NodeRef<'_, Node>> {
    node.prev_siblings().find(|s| s.value().is_element())
}

/// A picture: an image, or an element holding one and no text.
fn is_picture(n: NodeRef<'_, Node>) -> bool {
    n.descendants().any(|d| {
        d.value()
            .as_element()
            .is_some_and(|e| matches!(e.name(), "img" | "picture"))
    }) && super::noise::text_len(n) == 0
}

/// Class words of a box about the author: a bio under the headline is no standfirst.
const ABOUT_THE_AUTHOR: &[&str] = &["author", "bio", "biography", "profile"];

/// Whether chrome other than a `<header>`, a figure or a box about the author holds `node`
/// (below `root`: WordPress calls a one-author blog's `<body>` "single-author"), or it is a
/// picture's caption (the element before it is a picture: a caption follows its
/// picture, where a standfirst may have the article's picture after it).
fn in_chrome(node: NodeRef<'_, Node>, root: NodeRef<'_, Node>, w: &Wrappers) -> bool {
    let about_the_author = |el: &scraper::node::Element| {
        el.attr("class").is_some_and(|class| {
            words_of(class).any(|w| ABOUT_THE_AUTHOR.iter().any(|a| w.eq_ignore_ascii_case(a)))
        })
    };
    element_before(node).is_some_and(is_picture)
        || node
            .ancestors()
            .take_while(|a| a.id() != root.id())
            .any(|a| {
                a.value().as_element().is_some_and(|el| {
                    el.name() == "figure"
                        || about_the_author(el)
                        || (el.name() != "header" && w.is_noise(a, el))
                })
            })
}
