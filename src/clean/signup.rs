//! Sign-up boxes: a heading that asks the reader to subscribe ("Sign up for the CorkBeo
//! newsletter", "Join Our Newsletter", "Newsletter abonnieren"), a sentence or two and a
//! form. Set between an article's paragraphs, often in a container with no telling class
//! (`div.factbox`, a page builder's widget), they read as the article's own text.

use ego_tree::{NodeId, NodeRef};
use scraper::Node;

use super::walk::line_text;

/// A box longer than this is a part of the article that mentions a newsletter, not a call
/// to join one: a heading, a sentence or two of what it sends, a button.
const MAX_BOX_BYTES: usize = 600;

/// A heading longer than this is a title, not a call.
const MAX_HEADING_BYTES: usize = 100;

/// Words that make a heading a call to subscribe, whole (after lowercasing).
const CALLS: &[&str] = &[
    "subscribe",
    "sign up",
    "sign-up",
    "signup",
    "abonnieren",
    "abonniere",
    "abonnez-vous",
    "anmelden",
    "suscríbete",
    "inscríbete",
    "iscriviti",
];

/// The boxes under `body` that a sign-up heading opens: the heading's widest ancestor with
/// at most [`MAX_BOX_BYTES`] of text, when it holds more than the heading. Never the body,
/// nor a box holding the headline (a post about newsletters).
pub(super) fn signup_boxes(
    body: NodeRef<'_, Node>,
    headline: Option<NodeRef<'_, Node>>,
) -> Vec<NodeId> {
    body.descendants()
        .filter(|n| n.value().as_element().is_some_and(is_heading))
        .filter(|h| headline.is_none_or(|hl| hl.id() != h.id()))
        .filter_map(|h| {
            let mut text = Text::default();
            text.add(h);
            if text.over(MAX_HEADING_BYTES) || !is_call(&line_text(h)) {
                return None;
            }
            signup_box(h, text, body, headline)
        })
        .collect()
}

/// The box that sign-up heading `h` opens ([`signup_boxes`]), given `text`, what was read
/// of the heading itself. Climbs one ancestor at a time, reading only what each adds beside
/// the one below: each node at most once, and at most [`Text::MAX_NODES`] of them.
fn signup_box(
    h: NodeRef<'_, Node>,
    mut text: Text,
    body: NodeRef<'_, Node>,
    headline: Option<NodeRef<'_, Node>>,
) -> Option<NodeId> {
    let holds_headline =
        |a: NodeRef<'_, Node>| headline.is_some_and(|hl| hl.ancestors().any(|x| x.id() == a.id()));
    let heading = text.bytes;
    let (mut below, mut shell) = (h, None);
    for a in h.ancestors() {
        if a.id() == body.id() || holds_headline(a) {
            break;
        }
        for sibling in a.children().filter(|c| c.id() != below.id()) {
            text.add(sibling);
        }
        if text.over(MAX_BOX_BYTES) {
            break;
        }
        (below, shell) = (a, (text.bytes > heading).then_some(a.id()));
    }
    shell
}

/// A heading, or an element a page builder styles as one (Elementor's
/// `div.elementor-heading-title`).
fn is_heading(el: &scraper::node::Element) -> bool {
    // The class read as the attribute's text: `Element::classes` interns every class of
    // every element.
    matches!(el.name(), "h1" | "h2" | "h3" | "h4" | "h5" | "h6")
        || el.attrs().any(|(name, value)| {
            name == "class" && (value.contains("heading") || value.contains("title"))
        })
}

/// Whether a heading asks the reader to subscribe: it says one of [`CALLS`], offers "our
/// newsletter" or ends by naming one ("The Quanta Newsletter", "agrarheute-Newsletter!").
/// A title about newsletters ("How to write a newsletter with AI") names one in passing.
fn is_call(heading: &str) -> bool {
    let lower = heading.to_lowercase();
    let end = lower.trim_end_matches(|c: char| !c.is_alphanumeric());
    end.ends_with("newsletter")
        || end.ends_with("newsletters")
        || lower.contains("our newsletter")
        || CALLS.iter().any(|call| {
            lower.match_indices(call).any(|(at, _)| {
                let before = lower[..at].chars().next_back();
                let after = lower[at + call.len()..].chars().next();
                !before.is_some_and(char::is_alphanumeric)
                    && !after.is_some_and(char::is_alphanumeric)
            })
        })
}

/// Text read under some nodes, outside scripts and styles: its bytes, and the nodes read.
#[derive(Default)]
struct Text {
    bytes: usize,
    nodes: usize,
}

impl Text {
    /// The most nodes read for one heading: past this, whatever holds them is no box (and a
    /// page of many headings over large empty markup costs no more than this each).
    const MAX_NODES: usize = 5_000;

    /// Reads the text under `node`, stopping once it is too much for a box.
    fn add(&mut self, node: NodeRef<'_, Node>) {
        let mut stack = vec![node];
        while let Some(node) = stack.pop() {
            if self.over(MAX_BOX_BYTES) {
                return;
            }
            self.nodes += 1;
            match node.value() {
                Node::Text(t) => self.bytes += t.trim().len(),
                Node::Element(el) if matches!(el.name(), "script" | "style" | "template") => {}
                _ => stack.extend(node.children()),
            }
        }
    }

    /// Whether more than `bytes` of text, or too many nodes, were read.
    fn over(&self, bytes: usize) -> bool {
        self.bytes > bytes || self.nodes > Self::MAX_NODES
    }
}

#[cfg(test)]
mod tests {
    use super::is_call;

    #[test]
    fn calls_to_subscribe() {
        for yes in [
            "Sign up for the CorkBeo newsletter",
            "Join Our Newsletter",
            "Like what you're reading? Subscribe To Our Monthly Newsletter!",
            "The Quanta Newsletter",
            "Willkommen beim agrarheute-Newsletter!",
            "Newsletter abonnieren",
            "Sign-up To The Newsletter And Get A Free eBook",
        ] {
            assert!(is_call(yes), "{yes}");
        }
        for no in [
            "How to write a (good) newsletter with AI",
            "5-steps to build your AI-powered newsletter system",
            "Hacker Monthly Breezed Past 2,000 Paid Subscribers",
            "The subscriber count",
        ] {
            assert!(!is_call(no), "{no}");
        }
    }
}
