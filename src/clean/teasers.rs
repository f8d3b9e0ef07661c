//! Teaser grids: a row of cards, each a link to another story with a line or two about it
//! ("more from the blog", "latest news"). Their sentences are prose, and on a page with a
//! short article they outnumber its paragraphs, so they are found by their shape: three or
//! more sibling cards of the same tag and first class, each opening with a link and short.

use ego_tree::{NodeId, NodeRef};
use scraper::Node;

use super::noise::{is_prose, text_len, words_of};

/// A card longer than this is an article's section, not a teaser. A theme's card holds an
/// excerpt of WordPress's default 55 words (about 400 characters) besides its title, date and
/// "read more": at 400 such grids were read as the article on pages with a shorter one.
const MAX_CARD_CHARS: usize = 600;
/// Fewer cards than this are a pair of links, not a grid.
const MIN_CARDS: usize = 3;

/// The containers under `body` whose children are mostly teaser cards, and the cards
/// standing alone that their class calls teasers, except those that hold the headline (a
/// page that is itself a list).
pub(super) fn teaser_grids(
    body: NodeRef<'_, Node>,
    headline: Option<NodeRef<'_, Node>>,
) -> Vec<NodeId> {
    let holds_headline = |node: NodeRef<'_, Node>| {
        headline.is_some_and(|h| h.ancestors().any(|a| a.id() == node.id()))
    };
    let grids: Vec<NodeId> = body
        .descendants()
        .filter(|node| (is_grid(*node) || is_named_card(*node)) && !holds_headline(*node))
        .map(|node| node.id())
        .collect();
    // A page with little prose besides its grids is a listing: its grids are the content.
    if grids.is_empty() || prose_outside(body, &grids) < MIN_ARTICLE_PARAGRAPHS {
        return Vec::new();
    }
    grids
}

/// Long paragraphs an article beside the grids has at least.
const MIN_ARTICLE_PARAGRAPHS: usize = 3;

/// The long `<p>`s ([`is_prose`]) under `body` and outside `grids`.
fn prose_outside(body: NodeRef<'_, Node>, grids: &[NodeId]) -> usize {
    let mut n = 0;
    let mut stack = vec![body];
    while let Some(node) = stack.pop() {
        if grids.contains(&node.id()) {
            continue;
        }
        match node.value().as_element() {
            Some(el) if el.name() == "p" => n += usize::from(is_prose(node)),
            Some(el) if matches!(el.name(), "script" | "style" | "nav" | "footer") => {}
            _ => stack.extend(node.children()),
        }
    }
    n
}

/// Whether most of `node`'s element children are cards of one tag and class.
fn is_grid(node: NodeRef<'_, Node>) -> bool {
    if !node.value().is_element() {
        return false;
    }
    // Cards are blocks of their own: a run of `<p>`s is prose whatever its links, list
    // items are weighed as teasers where paragraphs vote, and links or footnote marks are a
    // paragraph's. Most elements have fewer than three such children: no grid, no cost.
    let block = |el: &scraper::node::Element| matches!(el.name(), "div" | "article" | "section");
    let (mut elements, mut blocks) = (0usize, 0usize);
    for child in node.children() {
        if let Some(el) = child.value().as_element() {
            elements += 1;
            blocks += usize::from(block(el));
        }
    }
    if blocks < MIN_CARDS || 5 * blocks < 4 * elements {
        return false;
    }
    let mut kinds: Vec<((&str, &str), usize)> = Vec::new();
    for el in node.children().filter_map(|c| c.value().as_element()) {
        if !block(el) {
            continue;
        }
        match kinds.iter_mut().find(|(k, _)| *k == kind(el)) {
            Some((_, n)) => *n += 1,
            None => kinds.push((kind(el), 1)),
        }
    }
    let Some(&(top, n)) = kinds.iter().max_by_key(|(k, n)| (*n, *k)) else {
        return false;
    };
    if n < MIN_CARDS || 5 * n < 4 * elements {
        return false;
    }
    node.children()
        .filter(|c| c.value().as_element().is_some_and(|e| kind(e) == top))
        .all(is_card)
}

/// A card standing alone in the text that its class calls a teaser (a box pointing to
/// another story between an article's paragraphs): the class alone does not say it, since
/// many sites call an article's own lead its teaser; the card's shape does.
fn is_named_card(node: NodeRef<'_, Node>) -> bool {
    node.value().as_element().is_some_and(|el| {
        // The class read from the attributes in place: `Element::attr` interns the name it
        // is given, a cost on every element of the page.
        matches!(el.name(), "div" | "aside" | "section")
            && el.attrs().any(|(name, c)| {
                name == "class" && words_of(c).any(|w| w.eq_ignore_ascii_case("teaser"))
            })
    }) && is_card(node)
}

/// A card's kind: its tag and its first class. The classes after it may be the post's own:
/// WordPress adds one per category of each post (`article.elementor-post.post-4185
/// .category-blog`), so no two cards of a grid share them all.
fn kind(el: &scraper::node::Element) -> (&str, &str) {
    (
        el.name(),
        el.attr("class")
            .and_then(|c| c.split_whitespace().next())
            .unwrap_or(""),
    )
}

/// A short block that opens with a link standing alone, the teaser's headline or picture
/// (not a linked phrase at the start of a sentence, as a roundup's items open).
fn is_card(card: NodeRef<'_, Node>) -> bool {
    let mut chars = 0usize;
    let mut opens_with_link = None;
    for node in card.descendants() {
        match node.value() {
            Node::Element(el) if el.name() == "a" && opens_with_link.is_none() => {
                opens_with_link = Some(stands_alone(node));
            }
            Node::Text(t) => {
                let len = t.trim().chars().count();
                if len > 0 && opens_with_link.is_none() {
                    opens_with_link = Some(false);
                }
                chars += len;
                if chars > MAX_CARD_CHARS {
                    return false;
                }
            }
            _ => {}
        }
    }
    opens_with_link == Some(true) && chars > 0
}

/// Whether a link is a block of its own: it holds a picture or a heading, or it is all the
/// text of the element around it.
fn stands_alone(link: NodeRef<'_, Node>) -> bool {
    let holds_block = link.descendants().any(|d| {
        d.value()
            .as_element()
            .is_some_and(|e| matches!(e.name(), "img" | "picture" | "h2" | "h3" | "h4" | "div"))
    });
    holds_block || link.parent().is_some_and(|p| text_len(p) == text_len(link))
}
