//! Where a page's text sat, for `preview --explain`: the elements cleaning drops whole
//! (navigation, related links, ads, comments...), each with its text, so a watch's term
//! found only there can be pointed at.

use ego_tree::NodeRef;
use scraper::Node;

use super::facts::PageFacts;
use super::prepare_html;
use crate::text::{fold_whitespace, truncate_chars};

/// Elements whose content is never shown as text.
const INVISIBLE: &[&str] = &["script", "style", "noscript", "template", "head", "title"];

/// Some of a page's visible text and where it sat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// The element, as its start tag reads: `<aside class="related-links">`; or
    /// `the rest of the page` for text outside such elements (the article's among it).
    pub place: String,
    /// Its visible text, whitespace folded.
    pub text: String,
}

/// A region for the page's text outside the elements cleaning drops whole.
pub const REST_OF_PAGE: &str = "the rest of the page";

/// The outermost elements of the page that cleaning drops whole, in page order, then the
/// rest of its visible text. Walked with an explicit stack, like the extraction.
pub fn page_regions(html: &str) -> Vec<Region> {
    let doc = super::parse_document(&prepare_html(html));
    // Judged as the extraction judges them: a teaser grid is dropped, a wrapper named like
    // chrome around the article is not.
    let wrappers = super::page_wrappers(&doc, &PageFacts::of(&doc));
    let mut regions = Vec::new();
    let mut rest = String::new();
    let mut stack = vec![doc.tree.root()];
    while let Some(node) = stack.pop() {
        match node.value() {
            Node::Text(t) => {
                rest.push_str(t);
                rest.push(' ');
            }
            Node::Element(el) if INVISIBLE.contains(&el.name()) => {}
            // The page itself is never dropped, whatever its classes say.
            Node::Element(el)
                if !matches!(el.name(), "html" | "body") && wrappers.is_noise(node, el) =>
            {
                let text = visible_text(node);
                if !text.is_empty() {
                    regions.push(Region {
                        place: start_tag(el),
                        text,
                    });
                }
            }
            _ => stack.extend(node.children().rev()),
        }
    }
    let rest = fold_whitespace(&rest);
    if !rest.is_empty() {
        regions.push(Region {
            place: REST_OF_PAGE.into(),
            text: rest,
        });
    }
    regions
}

/// The visible text under `root`, whitespace folded.
fn visible_text(root: NodeRef<'_, Node>) -> String {
    let mut out = String::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        match node.value() {
            Node::Text(t) => {
                out.push_str(t);
                out.push(' ');
            }
            Node::Element(el) if INVISIBLE.contains(&el.name()) => {}
            _ => stack.extend(node.children().rev()),
        }
    }
    fold_whitespace(&out)
}

/// `<aside class="related" id="more">`: the tag and the attributes that say what it is.
fn start_tag(el: &scraper::node::Element) -> String {
    let mut tag = format!("<{}", el.name());
    for name in ["class", "id", "role"] {
        if let Some(v) = el.attr(name) {
            let v = truncate_chars(&fold_whitespace(v), 60);
            tag.push_str(&format!(" {name}=\"{v}\""));
        }
    }
    tag.push('>');
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_elements_and_the_rest_in_page_order() {
        let html = r#"<html><head><title>T</title><script>var Caracas;</script></head><body>
            <nav class="menu"><a href="/">Home</a> <a href="/w">World</a></nav>
            <article><p>Talks resumed on Monday.</p></article>
            <aside class="related-links"><a href="/c">Caracas airport reopens</a></aside>
            <div id="comments">Reader: first!</div></body></html>"#;
        let regions = page_regions(html);
        let places: Vec<&str> = regions.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(
            places,
            [
                "<nav class=\"menu\">",
                "<aside class=\"related-links\">",
                "<div id=\"comments\">",
                REST_OF_PAGE
            ]
        );
        assert_eq!(regions[1].text, "Caracas airport reopens");
        assert_eq!(regions[3].text, "Talks resumed on Monday.");
    }

    #[test]
    fn regions_are_judged_as_the_extraction_judges_them() {
        // A wrapper named like an ad around the headline and the article is the page, and a
        // post pasted inside its byline is the post: both are read, so neither is a region
        // the text was dropped from.
        let para = "Negotiators from Caracas met again on Monday, and both sides said the \
                    talks on the election calendar had moved further than in any round before.";
        let html = format!(
            r#"<html><body><nav class="menu"><a href="/">Home</a></nav>
            <div class="page-ads"><h1>Talks resume</h1><p>{para}</p><p>{para}</p><p>{para}</p>
            <p><span class="byline-author">{para} {para}</span></p></div></body></html>"#
        );
        let regions = page_regions(&html);
        let places: Vec<&str> = regions.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(places, ["<nav class=\"menu\">", REST_OF_PAGE]);
        assert!(regions[1].text.starts_with("Talks resume Negotiators"));
        let article = crate::clean::extract_article(&html);
        assert!(article.text.contains(para), "{}", article.text);
    }
}
