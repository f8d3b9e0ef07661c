//! Readability-style scoring: paragraphs vote for the containers that hold them (by their
//! length and commas), containers are weighed by their class/id hints and their link
//! density, and the best one is the article. Siblings that score nearly as well, or that are
//! plainly paragraphs of prose, join it.

use rustc_hash::FxHashSet as HashSet;

use ego_tree::iter::Edge;
use ego_tree::{NodeId, NodeRef};
use scraper::Node;

use super::marks::{COMMAS, ends_with_stop, has_prose_marks};
use super::noise::Wrappers;

const PARAGRAPH_TAGS: &[&str] = &["p", "pre", "blockquote", "td"];
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "dl",
    "div",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "ul",
];
/// Phrasing elements: text set among them is one run. Any other element (a block, a table
/// cell, a `<br>`) ends a run.
const INLINE_TAGS: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
    "var",
];
const POSITIVE: &[&str] = &[
    "article",
    "body",
    "content",
    "entry",
    "hentry",
    "main",
    "page",
    "post",
    "text",
    "blog",
    "story",
    "articlebody",
    "prose",
    "rich",
];
const NEGATIVE: &[&str] = &[
    "comment",
    "comments",
    "contact",
    "footer",
    "foot",
    "footnote",
    "masthead",
    "media",
    "meta",
    "outbrain",
    "promo",
    "related",
    "scroll",
    "shoutbox",
    "sidebar",
    "sponsor",
    "shopping",
    "tags",
    "tool",
    "widget",
    "hidden",
    "share",
    "social",
    "nav",
    "menu",
    "teaser",
    "recirc",
    "newsletter",
];

/// Each container's score, keyed by node.
type Scores = rustc_hash::FxHashMap<NodeId, f64>;

/// The elements that hold the article, in document order (the best container and the
/// siblings that belong with it), or `None` when no paragraph votes.
pub(super) fn article_nodes(root: NodeRef<'_, Node>, w: &Wrappers) -> Option<Vec<NodeId>> {
    let scores = weigh(root, paragraph_votes(root, w));
    let (top_node, top_score) = best_container(root, &scores)?;
    let threshold = (top_score * 0.2).max(10.0);
    let Some(parent) = top_node.parent() else {
        return Some(vec![top_node.id()]);
    };
    let nodes = with_siblings(top_node, parent, &scores, threshold, w);
    Some(with_chunks(
        root, top_node, parent, nodes, &scores, threshold,
    ))
}

/// Paragraphs of 25 characters or more vote for their parent, grandparent and
/// great-grandparent (by their length and commas); noise is not walked.
fn paragraph_votes(root: NodeRef<'_, Node>, w: &Wrappers) -> Scores {
    let mut scores = Scores::default();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let Node::Element(el) = node.value() else {
            continue;
        };
        if node.id() != root.id() && w.is_noise(node, el) {
            continue;
        }
        let name = el.name();
        let is_paragraph =
            PARAGRAPH_TAGS.contains(&name) || (name == "div" && !has_block_child(node));
        if is_paragraph {
            // A paragraph in a list item is a caption or a teaser more often than prose.
            let in_item = node
                .parent()
                .is_some_and(|p| matches!(p.value(), Node::Element(e) if e.name() == "li"));
            let weight = if in_item { 0.5 } else { 1.0 };
            vote(
                &mut scores,
                visible_stats(node, w),
                weight,
                node.ancestors(),
            );
            if name != "div" {
                continue;
            }
        } else {
            // Text set straight in a container between its blocks and `<br>`s (a `<div>`
            // or `<td>` of `<br><br>`-separated paragraphs, as older pages write them) votes
            // like paragraphs of that container.
            for run in inline_runs(node, w) {
                vote(
                    &mut scores,
                    text_stats(&run),
                    1.0,
                    std::iter::once(node).chain(node.ancestors()),
                );
            }
        }
        stack.extend(node.children());
    }
    scores
}

/// What a paragraph's vote reads of its text: its length in characters, white space
/// folded, and its commas.
#[derive(Default)]
struct TextStats {
    chars: usize,
    commas: usize,
    /// Whether a word was seen, and white space after it.
    started: bool,
    space: bool,
}

impl TextStats {
    fn add(&mut self, text: &str) {
        for c in text.chars() {
            if c.is_whitespace() {
                self.space = self.started;
                continue;
            }
            self.chars += 1 + usize::from(self.space);
            self.commas += usize::from(COMMAS.contains(&c));
            self.started = true;
            self.space = false;
        }
    }
}

fn text_stats(text: &str) -> TextStats {
    let mut stats = TextStats::default();
    stats.add(text);
    stats
}

/// [`TextStats`] of [`visible_text`], without making it.
fn visible_stats(node: NodeRef<'_, Node>, w: &Wrappers) -> TextStats {
    let mut stats = TextStats::default();
    each_visible_text(node, w, |t| stats.add(t));
    stats
}

/// A paragraph's vote: 25 characters or more count, by length and commas (times
/// `weight`), for the first three of `ancestors` (its parent first).
fn vote<'a>(
    scores: &mut Scores,
    text: TextStats,
    weight: f64,
    ancestors: impl Iterator<Item = NodeRef<'a, Node>>,
) {
    let len = text.chars;
    if len < 25 {
        return;
    }
    let score = weight * (1.0 + text.commas as f64 + (len as f64 / 100.0).min(3.0));
    for (i, ancestor) in ancestors.take(3).enumerate() {
        if !matches!(ancestor.value(), Node::Element(_)) {
            break;
        }
        let share = [1.0, 0.5, 1.0 / 3.0][i];
        let entry = scores
            .entry(ancestor.id())
            .or_insert_with(|| base_score(ancestor));
        *entry += score * share;
    }
}

/// The runs of text directly in `node` (text and inline elements between its block
/// children and `<br>`s), each whitespace-folded; runs mostly of link text are left out.
fn inline_runs(node: NodeRef<'_, Node>, w: &Wrappers) -> Vec<String> {
    let mut runs = Vec::new();
    // Most containers hold only elements: nothing to gather.
    let has_text = node
        .children()
        .any(|c| c.value().as_text().is_some_and(|t| t.trim().len() >= 10));
    if !has_text {
        return runs;
    }
    let (mut run, mut linked) = (String::new(), 0usize);
    let mut end = |run: &mut String, linked: &mut usize| {
        let text = crate::text::fold_whitespace(run);
        let len = text.chars().count();
        if len > 0 && *linked * 2 < len {
            runs.push(text);
        }
        run.clear();
        *linked = 0;
    };
    for child in node.children() {
        match child.value() {
            Node::Text(t) => run.push_str(t),
            Node::Element(el) if !INLINE_TAGS.contains(&el.name()) => {
                end(&mut run, &mut linked);
            }
            Node::Element(el) if w.is_noise(child, el) => {}
            Node::Element(el) => {
                let text = visible_text(child, w);
                if el.name() == "a" {
                    linked += text.chars().count();
                }
                run.push(' ');
                run.push_str(&text);
                run.push(' ');
            }
            _ => {}
        }
    }
    end(&mut run, &mut linked);
    runs
}

/// A node's score, as [`weigh`] made it (0 for a node without one).
fn weighed(scores: &Scores, node: NodeRef<'_, Node>) -> f64 {
    scores.get(&node.id()).copied().unwrap_or(0.0)
}

/// Each score times the share of its node's text outside links ([`link_density`]), every
/// share found in one walk of the document: a walk of each scored node's own text went
/// over the same text once per scored ancestor.
fn weigh(root: NodeRef<'_, Node>, mut scores: Scores) -> Scores {
    // Per open element: its text and the text in links, so far.
    let mut open: Vec<(usize, usize)> = Vec::new();
    // The positions in `open` of open links.
    let mut links: Vec<usize> = Vec::new();
    for edge in root.tree().root().traverse() {
        match edge {
            Edge::Open(node) => match node.value() {
                Node::Element(el) => {
                    if el.name() == "a" {
                        links.push(open.len());
                    }
                    open.push((0, 0));
                }
                Node::Text(t) => {
                    let len = t.trim().chars().count();
                    if let Some(top) = open.last_mut() {
                        top.0 += len;
                    }
                    // Link text for the innermost link and, as it closes, those around it;
                    // not for elements inside the link.
                    if let Some(&link) = links.last() {
                        open[link].1 += len;
                    }
                }
                _ => {}
            },
            Edge::Close(node) => {
                let Node::Element(el) = node.value() else {
                    continue;
                };
                let Some((all, linked)) = open.pop() else {
                    continue;
                };
                if el.name() == "a" {
                    links.pop();
                }
                if let Some(score) = scores.get_mut(&node.id())
                    && all > 0
                {
                    *score *= 1.0 - linked as f64 / all as f64;
                }
                if let Some(parent) = open.last_mut() {
                    parent.0 += all;
                    parent.1 += linked;
                }
            }
        }
    }
    scores
}

/// The best-scoring container and its score. Content split over several children of one
/// container (common with page builders): when the parent scores nearly as well, the parent
/// is the article.
fn best_container<'a>(
    root: NodeRef<'a, Node>,
    scores: &Scores,
) -> Option<(NodeRef<'a, Node>, f64)> {
    let tree = root.tree();
    let (top, _) = scores
        .keys()
        .filter_map(|id| tree.get(*id))
        .map(|node| (node.id(), weighed(scores, node)))
        // Ties go to the earlier element, so the same page always gives the same text.
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))?;
    let mut top_node = tree.get(top)?;
    let mut top_score = weighed(scores, top_node);
    if let Some(common) = common_container(root, scores, top_node, top_score) {
        top_node = common;
        top_score = weighed(scores, common);
    }
    while let Some(parent) = top_node
        .parent()
        .filter(|p| p.value().is_element() && p.id() != root.id())
    {
        let parent_score = weighed(scores, parent);
        if parent_score < top_score * 0.75 {
            break;
        }
        top_node = parent;
        top_score = parent_score;
    }
    Some((top_node, top_score))
}

/// The container of the top one's rivals, when the article is in several sections: among
/// the best [`RIVALS`] other containers, those scoring at least two thirds of the top one;
/// when [`MIN_RIVALS`] of them or more sit under one of the top one's ancestors (the
/// nearest such), that ancestor. (A post in several `<section>`s, or in a page builder's
/// text widgets, gives each its own container, and any one of them alone is a part of the
/// article. Readability asks for three quarters; parts of unequal length, a long one among
/// shorter ones, fell short of it.)
fn common_container<'a>(
    root: NodeRef<'a, Node>,
    scores: &Scores,
    top: NodeRef<'a, Node>,
    top_score: f64,
) -> Option<NodeRef<'a, Node>> {
    const RIVALS: usize = 4;
    const MIN_RIVALS: usize = 3;
    let tree = root.tree();
    // Rivals beside the top container: its ancestors and what it holds score with it.
    let beside = |n: &NodeRef<'a, Node>| {
        !n.ancestors().any(|a| a.id() == top.id()) && !top.ancestors().any(|a| a.id() == n.id())
    };
    let mut best: Vec<(f64, NodeId)> = scores
        .keys()
        .filter(|id| **id != top.id())
        .filter_map(|id| tree.get(*id))
        .filter(beside)
        .map(|n| (weighed(scores, n), n.id()))
        .collect();
    best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let rivals: Vec<NodeRef<'a, Node>> = best
        .iter()
        .take(RIVALS)
        .filter(|(s, _)| *s >= top_score * 2.0 / 3.0)
        .filter_map(|(_, id)| tree.get(*id))
        .collect();
    if rivals.len() < MIN_RIVALS {
        return None;
    }
    top.ancestors()
        .take_while(|a| a.id() != root.id() && a.value().is_element())
        .find(|a| {
            rivals
                .iter()
                .filter(|r| r.ancestors().any(|ra| ra.id() == a.id()))
                .count()
                >= MIN_RIVALS
        })
}

/// The top container and those of its siblings that score as content or are plainly prose,
/// and the sections of prose before it (its introduction), in document order. After it,
/// such sections are as often an author's bio or the next story.
fn with_siblings(
    top_node: NodeRef<'_, Node>,
    parent: NodeRef<'_, Node>,
    scores: &Scores,
    threshold: f64,
    w: &Wrappers,
) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let mut before = true;
    for sibling in parent.children() {
        if sibling.id() == top_node.id() {
            nodes.push(sibling.id());
            before = false;
            continue;
        }
        let Node::Element(el) = sibling.value() else {
            continue;
        };
        if w.is_noise(sibling, el) {
            continue;
        }
        let prose = (el.name() == "p" || (el.name() == "div" && !has_block_child(sibling))) && {
            let text = visible_text(sibling, w);
            let density = link_density(sibling);
            (text.chars().count() > 80 && density < 0.25)
                || (density == 0.0 && ends_with_stop(&text))
        };
        // A section of prose beside the article: its introduction set apart by a page
        // builder.
        let prose_block = before
            && !prose
            && matches!(el.name(), "div" | "section")
            && has_block_child(sibling)
            && link_density(sibling) < 0.1
            && {
                let text = visible_text(sibling, w);
                text.chars().count() > 200 && text.matches(". ").count() >= 2
            };
        if weighed(scores, sibling) >= threshold || prose || prose_block {
            nodes.push(sibling.id());
        }
    }
    nodes
}

/// An article split into chunks around figures or ads repeats its container's tag and
/// classes further on ("articleBodyText version-2 section", then "articleBodyText
/// section": half the classes or more shared; "story-body story-body-1", then "story-body
/// story-body-2": the same classes but for the chunk's number); those that score as content
/// join `nodes`, in document order.
fn with_chunks(
    root: NodeRef<'_, Node>,
    top_node: NodeRef<'_, Node>,
    parent: NodeRef<'_, Node>,
    nodes: Vec<NodeId>,
    scores: &Scores,
    threshold: f64,
) -> Vec<NodeId> {
    let Node::Element(top_el) = top_node.value() else {
        return nodes;
    };
    fn classes(e: &scraper::node::Element) -> HashSet<&str> {
        e.attr("class")
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(unnumbered)
            .collect()
    }
    let class = classes(top_el);
    if class.is_empty() {
        return nodes;
    }
    let similar = |e: &scraper::node::Element| {
        let other = classes(e);
        e.name() == top_el.name()
            && 2 * class.intersection(&other).count() >= class.union(&other).count()
    };
    // The chosen nodes' parent and its ancestors hold the article; they are not chunks.
    let above: HashSet<NodeId> = std::iter::once(parent)
        .chain(parent.ancestors())
        .map(|a| a.id())
        .collect();
    let tree = root.tree();
    let chunks: HashSet<NodeId> = scores
        .keys()
        .filter_map(|id| tree.get(*id))
        .filter(|node| {
            !above.contains(&node.id())
                && matches!(node.value(), Node::Element(e) if similar(e))
                && weighed(scores, *node) >= threshold
        })
        .map(|node| node.id())
        .collect();
    if chunks.is_empty() {
        return nodes;
    }
    // One walk in document order takes the chosen nodes and the chunks, each with what it
    // holds: a chunk inside another (or inside a chosen node) is read with it.
    let chosen: HashSet<NodeId> = nodes.into_iter().collect();
    let mut picked = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if chosen.contains(&node.id()) || chunks.contains(&node.id()) {
            picked.push(node.id());
        } else {
            stack.extend(node.children().rev());
        }
    }
    picked
}

/// A class without the number that tells one chunk of an article from the next:
/// "story-body-2" is "story-body".
fn unnumbered(class: &str) -> &str {
    match class.trim_end_matches(|c: char| c.is_ascii_digit()) {
        stem if stem.len() < class.len() => stem.trim_end_matches(['-', '_']),
        _ => class,
    }
}

/// A container's start: its tag and its class/id hints.
fn base_score(node: NodeRef<'_, Node>) -> f64 {
    let Node::Element(el) = node.value() else {
        return 0.0;
    };
    let tag = match el.name() {
        "article" => 10.0,
        "div" | "main" | "section" => 5.0,
        "pre" | "td" | "blockquote" => 3.0,
        "address" | "ol" | "ul" | "dl" | "dd" | "dt" | "li" | "form" => -3.0,
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "th" => -5.0,
        _ => 0.0,
    };
    let hints = [el.attr("class"), el.attr("id")];
    let mut weight = 0.0;
    for hint in hints.into_iter().flatten() {
        let words: Vec<String> = hint
            .to_ascii_lowercase()
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        if words.iter().any(|w| NEGATIVE.contains(&w.as_str())) {
            weight -= 25.0;
        }
        if words.iter().any(|w| POSITIVE.contains(&w.as_str())) {
            weight += 25.0;
        }
    }
    if el
        .attr("itemprop")
        .is_some_and(|p| p.contains("articleBody"))
    {
        weight += 50.0;
    }
    tag + weight
}

fn has_block_child(node: NodeRef<'_, Node>) -> bool {
    node.children()
        .any(|c| matches!(c.value(), Node::Element(e) if BLOCK_TAGS.contains(&e.name())))
}

/// Text under `node`, noise left out, white space folded.
fn visible_text(node: NodeRef<'_, Node>, w: &Wrappers) -> String {
    let mut out = String::new();
    each_visible_text(node, w, |t| out.push_str(t));
    crate::text::fold_whitespace(&out)
}

/// Each text under `node` outside noise, in document order, walked without recursion.
fn each_visible_text(node: NodeRef<'_, Node>, w: &Wrappers, mut f: impl FnMut(&str)) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n.value() {
            Node::Text(t) => f(t),
            Node::Element(el) if n.id() != node.id() && w.is_noise(n, el) => {}
            _ => stack.extend(n.children().rev()),
        }
    }
}

/// A block that is mostly links and little prose.
pub(super) fn is_link_list(node: NodeRef<'_, Node>, w: &Wrappers) -> bool {
    let density = link_density(node);
    density > 0.5 && !has_prose_marks(&visible_text(node, w))
}

/// Share of the text under `node` that sits inside links.
fn link_density(node: NodeRef<'_, Node>) -> f64 {
    let (mut all, mut linked) = (0usize, 0usize);
    let mut stack = vec![(node, false)];
    while let Some((n, in_link)) = stack.pop() {
        match n.value() {
            Node::Text(t) => {
                let len = t.trim().chars().count();
                all += len;
                if in_link {
                    linked += len;
                }
            }
            Node::Element(el) => {
                let link = in_link || el.name() == "a";
                stack.extend(n.children().map(|c| (c, link)));
            }
            _ => stack.extend(n.children().map(|c| (c, in_link))),
        }
    }
    if all == 0 {
        0.0
    } else {
        linked as f64 / all as f64
    }
}
