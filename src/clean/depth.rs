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
//!
//! For reading a page's text ([`prepare_for_text`]), the parser is spared more: what is inside
//! elements whose content is never the article's ([`UNREAD`]: menus, buttons, embeds),
//! code elements and form fields whole, `<link>`s but the canonical one, links' targets,
//! and white space that nobody's text holds (runs fold to one character, and white space
//! beside a line-breaking tag goes: the text breaks there anyway). The tree keeps every
//! element and word the extraction reads, with two thirds of the nodes.

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
    prepare(html, false)
}

/// As [`prepare_html`], for reading a page's text: less for the parser to read (see the
/// module's documentation), the same text and facts for the extraction.
pub fn prepare_for_text(html: &str) -> Cow<'_, str> {
    prepare(html, true)
}

fn prepare(html: &str, text_only: bool) -> Cow<'_, str> {
    let (out, _) = max_depth(html, MAX_DEPTH, text_only);
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
/// code left out (and, `text_only`, what [`prepare_for_text`] leaves out). Returns the
/// rewritten text and the deepest nesting seen.
fn max_depth(html: &str, limit: usize, text_only: bool) -> (String, usize) {
    let mut pass = Pass {
        out: String::with_capacity(html.len()),
        open: Vec::new(),
        limit,
        deepest: 0,
        text_only,
        pre: 0,
        after_block: false,
        muted: None,
    };
    let mut rest = html;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        let text = &rest[..lt];
        let tag_src = &rest[lt..];
        // Comments go whole (their text is never the article's, and a `>` inside one
        // would end a tag scan early). The text before one may still stand beside a block.
        if let Some(body) = tag_src.strip_prefix("<!--") {
            let after_block = pass.after_block;
            pass.after_block &= !pass.text(text, after_block);
            rest = memchr::memmem::find(body.as_bytes(), b"-->").map_or("", |end| &body[end + 3..]);
            continue;
        }
        let Some(gt) = tag_end(tag_src.as_bytes()) else {
            pass.text(text, false);
            pass.write(tag_src);
            rest = "";
            break;
        };
        rest = pass.tag(text, &tag_src[..=gt], &tag_src[gt + 1..]);
    }
    pass.text(rest, false);
    (pass.out, pass.deepest)
}

/// One pass of [`max_depth`] over a document's tags.
struct Pass<'a> {
    out: String,
    /// Open elements: their names and whether their start tag was kept.
    open: Vec<(&'a str, bool)>,
    limit: usize,
    deepest: usize,
    text_only: bool,
    /// How many `<pre>`-like elements are open.
    pre: usize,
    /// Whether the last tag written breaks the text's lines.
    after_block: bool,
    /// Inside an [`UNREAD`] element (`text_only`): the length of the open stack with it.
    muted: Option<usize>,
}

impl<'a> Pass<'a> {
    fn write(&mut self, s: &str) {
        if self.muted.is_none() {
            self.out.push_str(s);
        }
    }

    /// Writes the text between two tags: as it is, or (`text_only`, outside `<pre>`) with
    /// its white space folded, and then left out when it is only white space beside a tag
    /// that breaks lines. Whether any text was written.
    fn text(&mut self, text: &str, beside_block: bool) -> bool {
        if self.muted.is_some() || text.is_empty() {
            return false;
        }
        if !self.text_only || self.pre > 0 {
            self.out.push_str(text);
        } else if beside_block && text.bytes().all(|b| b.is_ascii_whitespace()) {
            return false;
        } else {
            push_folded(&mut self.out, text);
        }
        true
    }

    /// Handles one tag and the text before it; returns the rest of the document after it
    /// (after a raw element's content when it opens one).
    fn tag(&mut self, text: &str, tag: &'a str, rest: &'a str) -> &'a str {
        let closing = tag.starts_with("</");
        let start = if closing { 2 } else { 1 };
        let len = tag.as_bytes()[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b':')
            .count();
        let name = &tag[start..start + len];
        let mut lower = [0u8; 16];
        let key = lowercase(name, &mut lower);
        if name.is_empty() || tag.starts_with("<!") || tag.starts_with("<?") {
            // Doctypes, stray `<`: passed through.
            self.text(text, false);
            self.after_block = false;
            self.write(tag);
            return rest;
        }
        let kind = kind_of(key);
        if !closing && kind & RAW_TAG != 0 && !(key == "svg" && tag.ends_with("/>")) {
            self.text(text, false);
            self.after_block = false;
            return self.raw(tag, key, rest);
        }
        // A stray end tag closes nothing, so it breaks no line either.
        let mut stray = false;
        let keep = if closing {
            let closed = close(&mut self.open, name);
            stray = closed.is_none();
            closed.unwrap_or(true)
        } else if kind & VOID_TAG != 0 {
            // For the text, form fields, links to anything but the page's own address and
            // metadata the extraction does not read are not there at all.
            !(self.text_only
                && (kind & UNREAD_TAG != 0
                    || (key == "link" && !contains_ignore_case(tag, b"canonical"))
                    || (key == "meta" && !meta_is_read(&tag[start + len..tag.len() - 1]))))
        } else {
            let keep = self.open.len() < self.limit;
            self.open.push((name, keep));
            self.deepest = self.deepest.max(self.open.len());
            keep
        };
        let block = keep && !stray && self.text_only && kind & BREAKS_LINES != 0;
        self.text(text, self.after_block || block);
        self.after_block = block;
        if closing && self.pre > 0 {
            self.pre = self.open.iter().filter(|(n, _)| is_pre(n)).count();
        } else if !closing && is_pre(key) {
            self.pre += 1;
        }
        // An end tag that closes the unread element is written, as is its start tag.
        if self.muted.is_some_and(|depth| self.open.len() < depth) {
            self.muted = None;
        }
        if keep && self.muted.is_none() {
            if closing {
                self.out.push_str(tag);
            } else {
                let drop_href = self.text_only && key != "link";
                push_start_tag(&mut self.out, tag, start + len, drop_href);
            }
            if !closing && self.text_only && kind & (UNREAD_TAG | VOID_TAG) == UNREAD_TAG {
                self.muted = Some(self.open.len());
            }
        }
        rest
    }

    /// A raw element's start tag (`key` its lowercase name) and its content up to its end
    /// tag, written as it is or, for code, left out.
    fn raw(&mut self, tag: &str, key: &str, rest: &'a str) -> &'a str {
        let end = super::tokens::find_end_tag(rest, key).unwrap_or(rest.len());
        let code = match key {
            "style" | "svg" => true,
            "script" => !contains_ignore_case(tag, b"ld+json"),
            _ => self.text_only && kind_of(key) & UNREAD_TAG != 0,
        };
        if code && self.text_only {
            // Nothing reads the element itself either: it goes with its end tag.
            let rest = &rest[end..];
            return memchr::memchr(b'>', rest.as_bytes()).map_or("", |gt| &rest[gt + 1..]);
        }
        self.write(tag);
        if !code {
            self.write(&rest[..end]);
        }
        &rest[end..]
    }
}

/// What the pass does with a tag or an attribute, by its lowercase name, as bits.
const VOID_TAG: u8 = 1;
const RAW_TAG: u8 = 2;
const BREAKS_LINES: u8 = 4;
const UNREAD_TAG: u8 = 8;
const KEPT_ATTRIBUTE: u8 = 16;

/// The lists above as one map: a lookup per tag, where comparing with each list's names was
/// a third of the pass.
static KINDS: std::sync::LazyLock<super::NameKinds> = std::sync::LazyLock::new(|| {
    super::name_kinds(&[
        (VOID, VOID_TAG),
        (RAW, RAW_TAG),
        (super::walk::BLOCK_TAGS, BREAKS_LINES),
        (DOCUMENT_TAGS, BREAKS_LINES),
        (UNREAD, UNREAD_TAG),
        (KEPT_ATTRIBUTES, KEPT_ATTRIBUTE),
    ])
});

fn kind_of(key: &str) -> u8 {
    KINDS.get(key).copied().unwrap_or(0)
}

/// `name` in ASCII lowercase (in `buf` when it is not already), or "" when it is longer
/// than any name looked up.
fn lowercase<'b>(name: &'b str, buf: &'b mut [u8; 16]) -> &'b str {
    if name.len() > buf.len() {
        return "";
    }
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return name;
    }
    let out = &mut buf[..name.len()];
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).unwrap_or("")
}

/// Elements whose content is never read as a page's text: each is in the noise rules' list
/// of skipped tags and no rule takes it back (as one does a `<form>` or an `<aside>` that
/// holds the article), and nothing in it is a fact of the page. [`prepare_for_text`] keeps
/// their tags and leaves out what is inside.
pub(super) const UNREAD: &[&str] = &[
    "nav",
    "select",
    "button",
    "template",
    "object",
    "canvas",
    "video",
    "audio",
    "menu",
    "dialog",
    "noscript",
    "iframe",
    "textarea",
    "input",
    "amp-ad",
    "amp-sticky-ad",
    "amp-analytics",
];

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

/// Where the tag at the start of `src` ends (its `>`), read as the tokenizer reads it: a
/// `>` inside a quoted attribute value (`src="javascript:'<html>'"`) does not end a start
/// or end tag. None when it never ends (the parser reads the rest of the page into it).
fn tag_end(src: &[u8]) -> Option<usize> {
    let named = |at: usize| src.get(at).is_some_and(u8::is_ascii_alphabetic);
    if !(named(1) || (src.get(1) == Some(&b'/') && named(2))) {
        return memchr::memchr(b'>', src);
    }
    let mut i = 1;
    loop {
        i += memchr::memchr2(b'>', b'=', &src[i..])?;
        if src[i] == b'>' {
            return Some(i);
        }
        // A value: quoted, it runs to its closing quote; else to white space or `>`.
        i += 1;
        while src.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        match src.get(i) {
            Some(&q @ (b'"' | b'\'')) => i += 2 + memchr::memchr(q, &src[i + 1..])?,
            _ => {
                while src
                    .get(i)
                    .is_some_and(|&b| b != b'>' && !b.is_ascii_whitespace())
                {
                    i += 1;
                }
            }
        }
    }
}

/// Writes a start tag (whole, as [`tag_end`] finds it) with only its [`KEPT_ATTRIBUTES`],
/// or as it is when it has no value to drop.
fn push_start_tag(out: &mut String, tag: &str, name_end: usize, drop_href: bool) {
    let attrs = &tag[name_end..tag.len() - 1];
    if !attrs.contains('=') {
        out.push_str(tag);
        return;
    }
    let mark = out.len();
    out.push_str(&tag[..name_end]);
    for attr in Attributes::of(attrs) {
        let Some(attr) = attr else {
            // A quote never closed (not from `tag_end`): the tag as it is.
            out.truncate(mark);
            out.push_str(tag);
            return;
        };
        let mut lower = [0u8; 16];
        let key = lowercase(attr.name, &mut lower);
        // A style is read only for whether it hides the element.
        let kept = kind_of(key) & KEPT_ATTRIBUTE != 0
            && !(drop_href && key == "href")
            && (key != "style" || super::noise::hidden_by_style(attr.value));
        if attr.name.is_empty() || kept {
            out.push_str(attr.raw);
        }
    }
    out.push('>');
}

/// Whether the extraction reads a `<meta>` (its attributes after the name): its name or
/// property is one of [`READ_METAS`](super::facts::READ_METAS).
fn meta_is_read(attrs: &str) -> bool {
    Attributes::of(attrs).flatten().any(|attr| {
        let mut lower = [0u8; 16];
        matches!(lowercase(attr.name, &mut lower), "name" | "property")
            && super::facts::READ_METAS
                .iter()
                .any(|m| attr.value.trim().eq_ignore_ascii_case(m))
    })
}

/// An attribute of a start tag.
struct Attribute<'a> {
    /// As written, with the white space before it.
    raw: &'a str,
    name: &'a str,
    /// Without its quotes.
    value: &'a str,
}

/// The attributes of a start tag (the text between its name and its `>`), read as the
/// tokenizer reads them; `None`, and then nothing, for a quote that never closes.
struct Attributes<'a> {
    attrs: &'a str,
    at: usize,
    done: bool,
}

impl<'a> Attributes<'a> {
    fn of(attrs: &'a str) -> Self {
        Attributes {
            attrs,
            at: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Option<Attribute<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.attrs.as_bytes();
        if self.done || self.at >= bytes.len() {
            return None;
        }
        let skip = |mut i: usize, f: &dyn Fn(u8) -> bool| {
            while i < bytes.len() && f(bytes[i]) {
                i += 1;
            }
            i
        };
        let from = self.at;
        let name_at = skip(from, &|b| b.is_ascii_whitespace() || b == b'/');
        let mut i = skip(name_at, &|b| {
            b != b'=' && b != b'/' && !b.is_ascii_whitespace()
        });
        let name = &self.attrs[name_at..i];
        let eq = skip(i, &|b| b.is_ascii_whitespace());
        let mut value = &self.attrs[i..i];
        if bytes.get(eq) == Some(&b'=') {
            let at = skip(eq + 1, &|b| b.is_ascii_whitespace());
            i = match bytes.get(at) {
                Some(&q @ (b'"' | b'\'')) => match memchr::memchr(q, &bytes[at + 1..]) {
                    Some(end) => {
                        value = &self.attrs[at + 1..at + 1 + end];
                        at + end + 2
                    }
                    None => {
                        self.done = true;
                        return Some(None);
                    }
                },
                _ => {
                    let end = skip(at, &|b| !b.is_ascii_whitespace());
                    value = &self.attrs[at..end];
                    end
                }
            };
        }
        self.at = i.max(from + 1);
        Some(Some(Attribute {
            raw: &self.attrs[from..i],
            name,
            value,
        }))
    }
}

/// Elements whose white space is the text's.
fn is_pre(name: &str) -> bool {
    ["pre", "listing", "plaintext"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
}

/// Besides the paragraph walk's blocks, the tags at which text breaks into lines: the
/// document's frame and a table's row groups. White space beside such a tag is nobody's
/// text.
const DOCUMENT_TAGS: &[&str] = &["html", "head", "tbody", "thead", "tfoot"];

/// `text` with each run of white space made one space.
fn push_folded(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            // One space, never a line break: the tokenizer stops at each `\n` (to count
            // lines) and hands it to the tree builder alone.
            if i - start > 1 || bytes[start] != b' ' {
                out.push_str(&text[from..start]);
                out.push(' ');
                from = i;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&text[from..]);
}

/// An end tag: closes the nearest open element of its name within reach, and the elements
/// opened inside it; whether the end tag is kept (it is dropped with its dropped start tag),
/// or None for a stray one, which closes nothing (and is kept for the parser to ignore).
fn close(open: &mut Vec<(&str, bool)>, name: &str) -> Option<bool> {
    let reach = open.len().saturating_sub(END_TAG_REACH);
    let at = reach
        + open[reach..]
            .iter()
            .rposition(|(n, _)| n.eq_ignore_ascii_case(name))?;
    let kept = open[at].1;
    open.truncate(at);
    Some(kept)
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
        // A style stays only when it hides its element.
        assert_eq!(
            prepare_html(r#"<p style="color: red">a</p><p STYLE='display: none'>b</p>"#),
            r#"<p>a</p><p STYLE='display: none'>b</p>"#
        );
        // Quoted values hold `>` and tags; one left open takes the rest of the page.
        for page in [
            r#"<div id="rail</div><div data-ad="1"><p class=x data-y=2>t</p>"#,
            r#"<p><iframe data-x=1 src="javascript:'<html>'"></iframe>a<b title='x>y' class=c>b</b> c</p>"#,
            r#"<p class=a data-v = ">" title=x>y>z</p><p id="open>t</p>"#,
        ] {
            assert_eq!(outline(&prepare_html(page)), outline(page), "{page}");
        }
    }

    /// The elements (with their class and id) and texts the parser finds in `html`.
    fn outline(html: &str) -> Vec<String> {
        let doc = scraper::Html::parse_document(html);
        doc.tree
            .nodes()
            .filter_map(|n| match n.value() {
                scraper::Node::Element(e) => Some(format!(
                    "<{} {:?} {:?}>",
                    e.name(),
                    e.attr("class"),
                    e.attr("id")
                )),
                scraper::Node::Text(t) => Some(t.to_string()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_pages_fold_white_space_outside_pre() {
        let html = "<body>\n  <div>\n    <p>a  <a href=/x>b</a>\n <a href=/y>c</a></p>\n  </div>\n<pre>x\n    y</pre></body>";
        assert_eq!(
            prepare_for_text(html),
            "<body><div><p>a <a>b</a> <a>c</a></p></div><pre>x\n    y</pre></body>"
        );
        // White space beside a block's tag is nobody's text; beside a stray end tag, which
        // the parser ignores, it may part two words.
        assert_eq!(
            prepare_for_text("<li> <span>a</span> </li>\n<span>b</span> <div>c</div>"),
            "<li><span>a</span></li><span>b</span><div>c</div>"
        );
        assert_eq!(
            prepare_for_text("<div><a>x</a></h2> <span>y</span></div>"),
            "<div><a>x</a></h2> <span>y</span></div>"
        );
        let head = "<head><link rel=stylesheet href=/s.css><link rel=canonical href=/a>\
                    <meta name=viewport content=width=device-width><meta property=\"OG:Title\" content=T>\
                    <script type=application/ld+json>{}</script><style>p{}</style></head>";
        assert_eq!(
            prepare_for_text(head),
            "<head><link rel=canonical href=/a><meta property=\"OG:Title\" content=T>\
             <script type=application/ld+json>{}</script></head>"
        );
    }

    #[test]
    fn unread_elements_are_all_skipped_by_the_noise_rules() {
        for name in UNREAD {
            assert!(super::super::noise::SKIP_TAGS.contains(name), "{name}");
        }
    }

    #[test]
    fn text_pages_leave_out_what_is_inside_unread_elements() {
        let html = "<div><nav><ul><li><nav>in</nav></li><li>menu</li></ul></nav><p>a</p>\
                    <select><option>one</select><button><i>icon</i> Share</button><p>b</p>\
                    <noscript><p>enable</p></noscript><input name=q><script>x()</script></div>";
        assert_eq!(
            prepare_for_text(html),
            "<div><nav></nav><p>a</p><select></select><button></button><p>b</p></div>"
        );
        // A `<nav>` left open ends with its parent, as the parser ends it.
        let open = "<div><div><nav><a href=/>Home</a></div><p>text</p></div>";
        assert_eq!(
            prepare_for_text(open),
            "<div><div><nav></div><p>text</p></div>"
        );
        // The page's own reading of them is untouched.
        assert!(prepare_html(html).contains("menu"));
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
        assert_eq!(max_depth(&cut, usize::MAX, false).1, MAX_DEPTH);
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
