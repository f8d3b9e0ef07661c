//! A bound on element nesting, applied to HTML before it is parsed: html5ever's tree
//! building grows with the square of the depth (about 22 s for 100,000 nested `<div>`s) and
//! tree walkers elsewhere recurse. Tags past the limit are dropped; their text stays.

use std::borrow::Cow;

/// Deeper than any real page; far below what hurts.
pub const MAX_DEPTH: usize = 256;

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];
/// Elements whose content is text, not markup: skipped whole.
const RAW: &[&str] = &[
    "script",
    "style",
    "textarea",
    "title",
    "xmp",
    "plaintext",
    "noscript",
];

/// `html` with every tag nested deeper than [`MAX_DEPTH`] removed (borrowed when none is).
pub fn limit_depth(html: &str) -> Cow<'_, str> {
    if max_depth(html, usize::MAX).1 <= MAX_DEPTH {
        return Cow::Borrowed(html);
    }
    Cow::Owned(max_depth(html, MAX_DEPTH).0.expect("rewriting"))
}

/// Walks the tags; with a `limit`, also writes the document with deeper tags dropped.
/// Returns (rewritten text, deepest nesting seen).
fn max_depth(html: &str, limit: usize) -> (Option<String>, usize) {
    let rewrite = limit != usize::MAX;
    let mut out = rewrite.then(|| String::with_capacity(html.len()));
    let (mut depth, mut deepest, mut dropped) = (0usize, 0usize, 0usize);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        if let Some(o) = out.as_mut() {
            o.push_str(&rest[..lt]);
        }
        let tag_src = &rest[lt..];
        let Some(gt) = tag_src.find('>') else {
            if let Some(o) = out.as_mut() {
                o.push_str(tag_src);
            }
            rest = "";
            break;
        };
        let tag = &tag_src[..=gt];
        rest = &tag_src[gt + 1..];
        let closing = tag.starts_with("</");
        let name: String = tag[if closing { 2 } else { 1 }..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == ':')
            .collect::<String>()
            .to_ascii_lowercase();
        let mut keep = true;
        if name.is_empty() || tag.starts_with("<!") || tag.starts_with("<?") {
            // Comments, doctypes, stray `<`: passed through.
        } else if closing {
            if dropped > 0 && depth > limit {
                dropped -= 1;
                keep = false;
            }
            depth = depth.saturating_sub(1);
        } else if RAW.contains(&name.as_str()) {
            // Copy through the end of the raw element untouched.
            let end = find_close(rest, &name).unwrap_or(rest.len());
            if let Some(o) = out.as_mut() {
                o.push_str(tag);
                o.push_str(&rest[..end]);
            }
            rest = &rest[end..];
            continue;
        } else if !VOID.contains(&name.as_str()) && !tag.ends_with("/>") {
            depth += 1;
            deepest = deepest.max(depth);
            if depth > limit {
                dropped += 1;
                keep = false;
            }
        }
        if keep && let Some(o) = out.as_mut() {
            o.push_str(tag);
        }
    }
    if let Some(o) = out.as_mut() {
        o.push_str(rest);
    }
    (out, deepest)
}

/// Where `</name` first stands in `text`, ignoring case, without copying the text.
fn find_close(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = text[from..].find("</") {
        let at = from + i;
        let end = at + 2 + name.len();
        if end <= bytes.len() && bytes[at + 2..end].eq_ignore_ascii_case(name.as_bytes()) {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shallow_pages_are_untouched() {
        let html = "<html><body><div><p>a<br>b</p><img src=x></div><script>if (a<b) {}</script></body></html>";
        assert!(matches!(limit_depth(html), Cow::Borrowed(_)));
    }

    #[test]
    fn deep_nesting_is_cut_and_text_kept() {
        let n = 100_000;
        let html = format!(
            "<body>{}deep text{}<p>after</p></body>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        );
        let cut = limit_depth(&html);
        assert!(cut.len() < 256 * 12 + 100, "{} bytes left", cut.len());
        assert!(cut.contains("deep text") && cut.contains("<p>after</p>"));
        assert_eq!(max_depth(&cut, usize::MAX).1, MAX_DEPTH);
    }
}
