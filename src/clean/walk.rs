//! The paragraph walk: the text under a node as paragraphs, block by block, with noise left
//! out and runs of link-only paragraphs dropped. Walked with an explicit stack, never
//! recursion.

use ego_tree::NodeRef;
use ego_tree::iter::Edge;
use scraper::Node;

use super::marks::ends_with_stop;
use super::noise::{self, Wrappers};
use super::score;
use crate::text::fold_whitespace;

/// Elements that start and end a paragraph of output.
pub(super) const BLOCK_TAGS: &[&str] = &[
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

/// An element's text on one line: its words with white space folded, and a space where a
/// block inside it ends or begins ("Ann Writer<br>Staff" and "<p>WEEKEND</p><p>CODING</p>"
/// are two words however the page spaced them).
pub(super) fn line_text(root: NodeRef<'_, Node>) -> String {
    let mut line = String::new();
    for edge in root.traverse() {
        let (Edge::Open(node) | Edge::Close(node)) = edge;
        match node.value() {
            Node::Text(t) if matches!(edge, Edge::Open(_)) => line.push_str(t),
            Node::Element(el) if BLOCK_TAGS.contains(&el.name()) => line.push(' '),
            _ => {}
        }
    }
    fold_whitespace(&line)
}

/// Plain text: paragraphs at blank lines, whitespace collapsed inside each.
pub(super) fn split_plain(text: &str) -> String {
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
    /// Whether it is a heading's text.
    heading: bool,
}

/// A paragraph of a walk: its text, its number of links when it is nearly all link text
/// (else 0), and whether it is a heading.
pub(super) struct Marked {
    text: String,
    links: usize,
    heading: bool,
}

/// Paragraphs of text under `root`, noise and link chrome left out.
pub(super) fn paragraphs(root: NodeRef<'_, Node>, w: &Wrappers) -> Vec<String> {
    drop_link_runs(marked_paragraphs(root, w))
        .into_iter()
        .map(|p| p.text)
        .collect()
}

/// Paragraphs of text under `root`, noise left out, each with its number of links when it
/// is nearly all link text (see [`drop_link_runs`]); walked without recursion.
pub(super) fn marked_paragraphs(root: NodeRef<'_, Node>, w: &Wrappers) -> Vec<Marked> {
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
                let block = BLOCK_TAGS.contains(&el.name());
                if node.id() != root.id() && w.is_noise(node, el) {
                    // An embedded post's own words stay; its chrome goes with the rest.
                    if noise::is_embed(el) {
                        stack.extend(quotes_in(node).into_iter().rev().map(Step::Enter));
                    }
                    skipped(&mut cur, block);
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
                    skipped(&mut cur, block);
                    continue;
                }
                if block {
                    flush(&mut cur, &mut out);
                    cur.heading = matches!(el.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6");
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

/// The longest heading that a page closes on and is left out: a longer one is text set in
/// a heading (or in one a page never closed).
const HEADING_BYTES: usize = 120;

/// The bytes of text before a closing link for it to be an article's closing link.
const CLOSING_LINK_AFTER: usize = 200;

/// A page's article paragraphs from its marked paragraphs: as [`drop_link_runs`] leaves
/// them, and without what closes them but is not the article's own words, once it has them:
/// a paragraph that is nothing but a link points elsewhere ("Discuss this in the forum",
/// "More on the topic"), a heading with nothing after it titles a part that is not
/// there ("Related articles", "About the author"), and a call to follow or subscribe is the
/// site's ("Follow us on Telegram"). A feed item's content keeps them (a link
/// post's link is its point).
pub(super) fn article_paragraphs(mut paras: Vec<Marked>) -> Vec<String> {
    paras.retain(|p| p.heading || !is_excerpt(&p.text));
    let mut paras = drop_link_runs(paras);
    // What a closing section leaves last may close the text too ("Follow us" before
    // "About the author").
    loop {
        while let Some((last, rest)) = paras.split_last()
            && (last.links > 0
                || (last.heading && last.text.len() <= HEADING_BYTES)
                || noise::is_call_to_action(&last.text))
            && rest.iter().map(|p| p.text.len()).sum::<usize>() >= CLOSING_LINK_AFTER
        {
            paras.pop();
        }
        match closing_section(&paras) {
            Some(at) => paras.truncate(at),
            None => break,
        }
    }
    paras.into_iter().map(|p| p.text).collect()
}

/// An excerpt of another post, cut where a blog's teaser list cuts it: a sentence or more,
/// at most a hundred words or so, ended by "[...]" or "[…]" (WordPress's excerpt ending)
/// and cut nowhere else, as a quotation with its cuts marked is. Once the excerpts are gone,
/// the teasers' titles are a run of links, which [`drop_link_runs`] takes out.
fn is_excerpt(text: &str) -> bool {
    const CUTS: [&str; 2] = ["[...]", "[…]"];
    let text = text.trim_end();
    let Some(body) = CUTS.iter().find_map(|end| text.strip_suffix(end)) else {
        return false;
    };
    let body = body.trim_end();
    EXCERPT_BYTES.contains(&body.len()) && !CUTS.iter().any(|cut| body.contains(cut))
}

/// How long the text before "[...]" is in an excerpt ([`is_excerpt`]): longer than a line of
/// a transcript that marks a cut, shorter than a quoted passage.
const EXCERPT_BYTES: std::ops::RangeInclusive<usize> = 40..=600;

/// Where a closing section starts: a short label that announces what is not the article
/// ("About the author", "Lesen Sie auch:", "Sur le même sujet") in the article's last part,
/// after which comes a bio, a reading list or the rest of a teaser block; or, once the
/// article has begun, the heading of readers' comments ("12 Comments") or of posts offered
/// to read next ("You may also like..."), whatever follows it.
fn closing_section(paras: &[Marked]) -> Option<usize> {
    let total: usize = paras.iter().map(|p| p.text.len()).sum();
    let mut before = 0;
    for (i, p) in paras.iter().enumerate() {
        // The tail is small beside the article: a label in the middle titles a part of it.
        if i > 0 && 2 * (total - before) <= before && noise::is_closing_label(&p.text) {
            return Some(i);
        }
        // Readers' comments, or other posts offered to read next, under their heading:
        // however long they run, they are not the article.
        if p.heading
            && before >= CLOSING_LINK_AFTER
            && (noise::is_comments_heading(&p.text) || noise::is_recirculation_heading(&p.text))
        {
            return Some(i);
        }
        before += p.text.len();
    }
    None
}

/// Paragraphs without those that are nothing but links when there are several: runs of two
/// or more such paragraphs (the "You may also like" titles set as paragraphs in the body),
/// or one of three or more links (a line of tags); nor the short line that introduces them.
fn drop_link_runs(paras: Vec<Marked>) -> Vec<Marked> {
    let mut keep = vec![true; paras.len()];
    let mut i = 0;
    while i < paras.len() {
        let run = paras[i..].iter().take_while(|p| p.links > 0).count();
        if run >= 2 || (run == 1 && paras[i].links >= 3) {
            keep[i..i + run].fill(false);
            if let Some(lead) = i.checked_sub(1) {
                let p = paras[lead].text.as_str();
                let sentence =
                    (ends_with_stop(p) || p.ends_with(['"', '”'])) && !p.ends_with("...");
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
        .filter_map(|(p, keep)| (keep || !any).then_some(p))
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

/// A block left out of the text still parts the words on either side of it
/// ("schools.<div class=ad>…</div>From"), as a space does, without ending the paragraph.
fn skipped(cur: &mut Para, block: bool) {
    if block {
        push_text(&mut cur.text, " ");
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
fn flush(cur: &mut Para, out: &mut Vec<Marked>) {
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
        out.push(Marked {
            text: p.to_string(),
            links: if all_links { cur.opened.max(1) } else { 0 },
            heading: cur.heading,
        });
    }
    cur.text.clear();
    cur.link_chars = 0;
    cur.opened = 0;
    cur.heading = false;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_text_parts_words_at_blocks_only() {
        let doc = scraper::Html::parse_fragment(
            "<h1><span>WEEKEND</span><br><span>CODING</span> A<i>GENT</i></h1>\
             <div><p>Ann Writer</p><p>Staff</p></div>",
        );
        let lines: Vec<_> = ["h1", "div"]
            .map(|s| scraper::Selector::parse(s).unwrap())
            .iter()
            .map(|s| line_text(*doc.select(s).next().unwrap()))
            .collect();
        assert_eq!(lines, ["WEEKEND CODING AGENT", "Ann Writer Staff"]);
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
}
