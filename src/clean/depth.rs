//! HTML made ready for parsing, in one pass over its tags:
//! - a bound on element nesting: html5ever's tree building grows with the square of the depth
//!   (about 22 s for 100,000 nested `<div>`s) and tree walkers elsewhere recurse. Nesting is
//!   counted on a stack of open elements kept as the parser keeps it: `<div/>` opens a div
//!   (the slash means nothing on an HTML element), and an end tag closes only an element it
//!   names, so stray `</div>`s close nothing. Tags past the limit are dropped; their text
//!   stays.
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

/// How far down the stack an end tag looks for the element it closes. The parser looks
/// further, but an end tag that finds its element deeper than this leaves the count higher
/// than the parser's, never lower: the bound only ever cuts sooner.
const END_TAG_REACH: usize = 64;

/// Walks the tags once and writes the document with tags deeper than `limit` dropped and
/// code left out. Returns the rewritten text and the deepest nesting seen.
fn max_depth(html: &str, limit: usize) -> (String, usize) {
    let mut out = String::with_capacity(html.len());
    // Open elements: their names and whether their start tag was kept.
    let mut open: Vec<(&str, bool)> = Vec::new();
    let mut deepest = 0usize;
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
            keep = close(&mut open, name);
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
        } else if !is(VOID) {
            keep = open.len() < limit;
            open.push((name, keep));
            deepest = deepest.max(open.len());
        }
        if keep {
            out.push_str(tag);
        }
    }
    out.push_str(rest);
    (out, deepest)
}

/// An end tag: closes the nearest open element of its name within reach, and the elements
/// opened inside it; whether the end tag is kept (it is dropped with its dropped start tag,
/// and a stray one is kept for the parser to ignore).
fn close(open: &mut Vec<(&str, bool)>, name: &str) -> bool {
    let reach = open.len().saturating_sub(END_TAG_REACH);
    match open[reach..]
        .iter()
        .rposition(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(at) => {
            let kept = open[reach + at].1;
            open.truncate(reach + at);
            kept
        }
        None => true,
    }
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

    #[test]
    fn self_closing_divs_and_stray_end_tags_count_as_the_parser_counts_them() {
        // `<div/>` opens a div; stray end tags close nothing.
        for html in [
            format!("<body>{}x</body>", "<div/>".repeat(100_000)),
            format!("<body>{}x</body>", "<div></span>".repeat(100_000)),
            format!("<body>{}x</body>", "<section><div></p>".repeat(50_000)),
        ] {
            let cut = prepare_html(&html);
            let tree = scraper::Html::parse_document(&cut);
            let deepest = tree
                .tree
                .nodes()
                .map(|n| n.ancestors().count())
                .max()
                .unwrap();
            assert!(deepest <= MAX_DEPTH + 8, "{deepest} levels after the cut");
            assert!(cut.contains('x'));
        }
    }
}
