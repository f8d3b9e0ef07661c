//! HTML made ready for parsing, in one pass over its tags:
//! - a bound on element nesting: html5ever's tree building grows with the square of the depth
//!   (about 22 s for 100,000 nested `<div>`s) and tree walkers elsewhere recurse. Tags past
//!   the limit are dropped; their text stays.
//! - the bodies of `<script>` (but JSON-LD, which extraction reads), `<style>` and `<svg>`
//!   elements, and comments, left out: half the bytes of a typical news page, which nothing
//!   reads and the tokenizer would otherwise walk character by character. The element tags
//!   themselves stay.

use std::borrow::Cow;

/// Deeper than any real page; far below what hurts.
pub(super) const MAX_DEPTH: usize = 256;

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements whose content is text, not markup: skipped whole.
const RAW: &[&str] = &[
    "script",
    "svg",
    "style",
    "textarea",
    "title",
    "xmp",
    "plaintext",
    "noscript",
];

/// `html` without script and style bodies and with every tag nested deeper than
/// [`MAX_DEPTH`] removed (borrowed when there is nothing to remove).
pub fn prepare_html(html: &str) -> Cow<'_, str> {
    let (out, _) = max_depth(html, MAX_DEPTH);
    // Only ever shorter: the same length means nothing was left out.
    if out.len() == html.len() {
        Cow::Borrowed(html)
    } else {
        Cow::Owned(out)
    }
}

/// Walks the tags once and writes the document with tags deeper than `limit` dropped and
/// code left out. Returns the rewritten text and the deepest nesting seen.
fn max_depth(html: &str, limit: usize) -> (String, usize) {
    let mut out = String::with_capacity(html.len());
    let (mut depth, mut deepest, mut dropped) = (0usize, 0usize, 0usize);
    let mut rest = html;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        out.push_str(&rest[..lt]);
        let tag_src = &rest[lt..];
        // Comments go whole (their text is never the article's, and a `>` inside one
        // would end a tag scan early).
        if let Some(body) = tag_src.strip_prefix("<!--") {
            rest = memchr::memmem::find(body.as_bytes(), b"-->").map_or("", |end| &body[end + 3..]);
            continue;
        }
        let Some(gt) = memchr::memchr(b'>', tag_src.as_bytes()) else {
            out.push_str(tag_src);
            rest = "";
            break;
        };
        let tag = &tag_src[..=gt];
        rest = &tag_src[gt + 1..];
        let closing = tag.starts_with("</");
        let start = if closing { 2 } else { 1 };
        let len = tag.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
            .count();
        let name = &tag[start..start + len];
        let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(name));
        let mut keep = true;
        if name.is_empty() || tag.starts_with("<!") || tag.starts_with("<?") {
            // Comments, doctypes, stray `<`: passed through.
        } else if closing {
            if dropped > 0 && depth > limit {
                dropped -= 1;
                keep = false;
            }
            depth = depth.saturating_sub(1);
        } else if is(RAW) && !(name.eq_ignore_ascii_case("svg") && tag.ends_with("/>")) {
            // Copy through the end of the raw element untouched.
            let end = find_close(rest, name).unwrap_or(rest.len());
            let code = name.eq_ignore_ascii_case("style")
                || name.eq_ignore_ascii_case("svg")
                || (name.eq_ignore_ascii_case("script") && !contains_ignore_case(tag, b"ld+json"));
            out.push_str(tag);
            if !code {
                out.push_str(&rest[..end]);
            }
            rest = &rest[end..];
            continue;
        } else if !is(VOID) && !tag.ends_with("/>") {
            depth += 1;
            deepest = deepest.max(depth);
            if depth > limit {
                dropped += 1;
                keep = false;
            }
        }
        if keep {
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    (out, deepest)
}

/// Whether `text` contains `needle` (which starts with an ASCII byte), ignoring ASCII case.
fn contains_ignore_case(text: &str, needle: &[u8]) -> bool {
    let bytes = text.as_bytes();
    let first = needle[0].to_ascii_lowercase();
    let upper = needle[0].to_ascii_uppercase();
    bytes.iter().enumerate().any(|(i, &b)| {
        (b == first || b == upper)
            && bytes
                .get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Where `</name` first stands in `text`, ignoring case, without copying the text.
fn find_close(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memmem::find_iter(bytes, b"</").find(|&at| {
        let end = at + 2 + name.len();
        end <= bytes.len() && bytes[at + 2..end].eq_ignore_ascii_case(name.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_pages_without_code_are_untouched() {
        let html =
            "<html><body><div><p>a<br>b</p><img src=x></div><textarea>x<y</textarea></body></html>";
        assert!(matches!(prepare_html(html), Cow::Borrowed(_)));
    }

    #[test]
    fn comments_and_icons_go_text_stays() {
        let html = "<p>a<!-- x > y --></p><svg viewBox=\"0 0 1 1\"><path d=\"M0\"/><text>icon</text></svg><svg class=i/><p>b</p>";
        assert_eq!(
            prepare_html(html),
            "<p>a</p><svg viewBox=\"0 0 1 1\"></svg><svg class=i/><p>b</p>"
        );
    }

    #[test]
    fn code_bodies_go_and_json_ld_stays() {
        let html = "<head><STYLE>p{}</STYLE><script type=\"application/ld+json\">{\"a\":1}</script></head><body><p>x</p><script src=a.js>if (a<b) { document.write('<p>') }</script ><p>y</p></body>";
        assert_eq!(
            prepare_html(html),
            "<head><STYLE></STYLE><script type=\"application/ld+json\">{\"a\":1}</script></head><body><p>x</p><script src=a.js></script ><p>y</p></body>"
        );
    }

    #[test]
    fn deep_nesting_is_cut_and_text_kept() {
        let n = 100_000;
        let html = format!(
            "<body>{}deep text{}<p>after</p></body>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        );
        let cut = prepare_html(&html);
        assert!(cut.len() < 256 * 12 + 100, "{} bytes left", cut.len());
        assert!(cut.contains("deep text") && cut.contains("<p>after</p>"));
        assert_eq!(max_depth(&cut, usize::MAX).1, MAX_DEPTH);
        assert!(matches!(prepare_html(&cut), Cow::Borrowed(_)));
    }
}
