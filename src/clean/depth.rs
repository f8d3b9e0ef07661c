//! HTML made ready for parsing, in one pass over its tags:
//! - a bound on element nesting: html5ever's tree building grows with the square of the depth
//!   (about 22 s for 100,000 nested `<div>`s) and tree walkers elsewhere recurse. Nesting is
//!   counted on a stack of open elements kept as the parser keeps it: `<div/>` opens a div
//!   (the slash means nothing on an HTML element), and an end tag closes only an element it
//!   names, so stray `</div>`s close nothing. Tags past the limit are dropped; their text
//!   stays.
//! - the attributes nothing reads (`srcset`, `data-*`, handlers): see [`KEPT_ATTRIBUTES`].
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
    "iframe",
    "noembed",
    "noframes",
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
    // Attributes are left out until a tag's quotes do not pair: from there on the parser
    // pairs them across tags, as the page came.
    let mut rewrite = true;
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
            if closing || name.is_empty() || !rewrite {
                out.push_str(tag);
            } else {
                rewrite = push_start_tag(&mut out, tag, start + len);
            }
        }
    }
    out.push_str(rest);
    (out, deepest)
}

/// Attributes that something reads: the noise rules (class, id, role, style, itemprop,
/// hidden, aria-hidden), page facts and links (href, rel, type, name, property, content,
/// datetime), and the few the tree builder itself looks at (type, color, face, size). The
/// rest (`srcset`, `data-*`, `sizes`, handlers) is a sixth of what a modern page's markup
/// leaves the parser, which would tokenize and intern every name.
const KEPT_ATTRIBUTES: &[&str] = &[
    "class",
    "id",
    "role",
    "style",
    "itemprop",
    "hidden",
    "aria-hidden",
    "href",
    "rel",
    "type",
    "name",
    "property",
    "content",
    "datetime",
    "charset",
    "http-equiv",
    "color",
    "face",
    "size",
];

/// Writes a start tag with only its [`KEPT_ATTRIBUTES`], or as it is when it has no
/// value to drop. False, with the tag as it is, when a quoted value does not close (left
/// open, or a `>` inside it ended the scan early): the parser reads on into the next
/// tags, which must then stay as they are.
fn push_start_tag(out: &mut String, tag: &str, name_end: usize) -> bool {
    let attrs = &tag[name_end..tag.len() - 1];
    if !attrs.contains('=') {
        out.push_str(tag);
        return true;
    }
    let bytes = attrs.as_bytes();
    let skip = |mut i: usize, f: &dyn Fn(u8) -> bool| {
        while i < bytes.len() && f(bytes[i]) {
            i += 1;
        }
        i
    };
    let mark = out.len();
    out.push_str(&tag[..name_end]);
    let mut i = 0;
    while i < bytes.len() {
        let from = i;
        let name_at = skip(i, &|b| b.is_ascii_whitespace() || b == b'/');
        i = skip(name_at, &|b| {
            b != b'=' && b != b'/' && !b.is_ascii_whitespace()
        });
        let name = &attrs[name_at..i];
        let eq = skip(i, &|b| b.is_ascii_whitespace());
        if bytes.get(eq) == Some(&b'=') {
            let value = skip(eq + 1, &|b| b.is_ascii_whitespace());
            i = match bytes.get(value) {
                Some(&q @ (b'"' | b'\'')) => match memchr::memchr(q, &bytes[value + 1..]) {
                    Some(end) => value + end + 2,
                    None => {
                        out.truncate(mark);
                        out.push_str(tag);
                        return false;
                    }
                },
                _ => skip(value, &|b| !b.is_ascii_whitespace()),
            };
        }
        // Each kept attribute with the space before it.
        if name.is_empty() || KEPT_ATTRIBUTES.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            out.push_str(&attrs[from..i]);
        }
        i = i.max(from + 1);
    }
    out.push('>');
    true
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
        let html = "<html><body><div class=a><p>a<br>b</p><img></div><textarea>x<y</textarea></body></html>";
        assert!(matches!(prepare_html(html), Cow::Borrowed(_)));
    }

    #[test]
    fn attributes_nothing_reads_go() {
        let html = r#"<div class="a b" data-x='{"k":1}' id=main><img srcset="a.jpg 1x, b.jpg 2x" alt='it"s'/><a HREF="/x" onclick="go()">x</a><br/></div>"#;
        assert_eq!(
            prepare_html(html),
            r#"<div class="a b" id=main><img/><a HREF="/x">x</a><br/></div>"#
        );
        // A value left open: the parser reads on into the next tags, so they stay whole.
        let open = r#"<div id="rail</div><div data-ad="1"><p class=x data-y=2>t</p>"#;
        assert_eq!(prepare_html(open), open);
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
