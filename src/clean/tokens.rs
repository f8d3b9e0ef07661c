//! A page parsed as html5ever parses it, from tokens read here: html5ever's tree builder
//! builds the tree, and this module reads the tags, text and character references it is
//! handed. html5ever's own tokenizer takes one character at a time from a queue of buffers,
//! and was a third of the extraction's work even on a page made ready for it
//! ([`prepare_for_text`](super::prepare_for_text)); this reader finds each `<` and `&` with
//! `memchr` and reads a tag's bytes in place.
//!
//! It follows the HTML standard's tokenizer for what pages hold: tags and their attributes,
//! text with character references (named ones with the legacy names and the rule for
//! attribute values, numeric ones with the standard's replacements), comments, a doctype
//! (which sets quirks mode), and the text-only content of `<title>`, `<textarea>`,
//! `<style>`, `<script>` and the others the tree builder names. What it does not read (a
//! NUL, CDATA, a doctype of an unusual shape, a script whose text holds `<!--`, a comment
//! closed by `--!>` or never closed) hands the page to html5ever's whole parser instead.
//! Tests compare the trees of both on generated and real pages.

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    Doctype, EndTag, StartTag, Tag, TagKind, Token, TokenSink, TokenSinkResult,
};
use html5ever::tree_builder::{TreeBuilder, TreeBuilderOpts, TreeSink};
use html5ever::{Attribute, LocalName, QualName, ns};
use scraper::{Html, HtmlTreeSink};

use crate::text::ascii_lowercase;

/// `html` parsed into the tree html5ever's parser builds of it.
pub fn parse_document(html: &str) -> Html {
    // The standard's input stream: no byte order mark, and line breaks as `\n`.
    let html = html.strip_prefix('\u{feff}').unwrap_or(html);
    if memchr::memchr(0, html.as_bytes()).is_some() {
        return Html::parse_document(html);
    }
    let normalized;
    let html = if memchr::memchr(b'\r', html.as_bytes()).is_some() {
        normalized = html.replace("\r\n", "\n").replace('\r', "\n");
        &normalized
    } else {
        html
    };
    Reader::new(html)
        .read()
        .unwrap_or_else(|Unread| Html::parse_document(html))
}

/// Markup this reader leaves to html5ever's tokenizer.
struct Unread;

struct Reader<'a> {
    src: &'a str,
    at: usize,
    builder: TreeBuilder<ego_tree::NodeId, HtmlTreeSink>,
    /// Text read and not yet handed to the tree builder.
    text: StrTendril,
}

/// How the text after a start tag is read, as the tree builder says.
enum Content {
    Markup,
    /// Text up to the end tag of the element just opened, whose name it is.
    Raw(RawKind, LocalName),
    /// Text to the end of the page.
    Plaintext,
}

fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b' ')
}

impl<'a> Reader<'a> {
    fn new(src: &'a str) -> Self {
        // About a node per `<` (an element for a start tag, a text for an end tag): room
        // for them from the start, where growing copied the tree each time it doubled.
        let mut doc = Html::new_document();
        let tags = memchr::memchr_iter(b'<', src.as_bytes()).count();
        doc.tree = ego_tree::Tree::with_capacity(scraper::Node::Document, tags + 1);
        let sink = HtmlTreeSink::new(doc);
        Reader {
            src,
            at: 0,
            builder: TreeBuilder::new(sink, TreeBuilderOpts::default()),
            text: StrTendril::new(),
        }
    }

    fn read(mut self) -> Result<Html, Unread> {
        while self.at < self.src.len() {
            match self.markup()? {
                Content::Markup => {}
                Content::Raw(kind, name) => self.raw(kind, &name)?,
                Content::Plaintext => {
                    self.text.push_slice(&self.src[self.at..]);
                    self.at = self.src.len();
                }
            }
        }
        self.flush();
        // Only a start tag changes how the tokens after it are read.
        let _ = self.builder.process_token(Token::EOFToken, 1);
        self.builder.end();
        Ok(self.builder.sink.finish())
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    fn flush(&mut self) {
        if !self.text.is_empty() {
            let text = std::mem::take(&mut self.text);
            let _ = self.builder.process_token(Token::CharacterTokens(text), 1);
        }
    }

    /// html5ever's tokenizer hands the tree builder each parse error as a token, and one
    /// between `<pre>` (or `<textarea>`) and its text keeps the line break that would begin
    /// it: `</>`, or `&#10` without its `;` (the standard drops that line break too, html5ever
    /// does not).
    fn parse_error(&mut self) {
        self.flush();
        let _ = self
            .builder
            .process_token(Token::ParseError("misplaced markup".into()), 1);
    }

    /// Before text that starts with `text`: the parse error of a line break written as a
    /// numeric reference without its `;` (see [`Reader::parse_error`]; no other reference
    /// is a line break, and other errors change nothing).
    fn before_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        if self.text.is_empty()
            && text.starts_with("&#")
            && numeric_reference(bytes, 2)
                .is_some_and(|(c, end)| c == '\n' && bytes[end - 1] != b';')
        {
            self.parse_error();
        }
    }

    fn emit(&mut self, token: Token) -> TokenSinkResult<ego_tree::NodeId> {
        self.flush();
        self.builder.process_token(token, 1)
    }

    /// Reads text and markup from `at` up to the next tag that starts text-only content.
    fn markup(&mut self) -> Result<Content, Unread> {
        let bytes = self.src.as_bytes();
        while let Some(found) = memchr::memchr2(b'<', b'&', &bytes[self.at..]) {
            let lt = self.at + found;
            push_str(&mut self.text, &self.src[self.at..lt]);
            self.at = lt;
            if bytes[lt] == b'&' {
                self.before_text(&self.src[lt..]);
                self.at = push_reference(&mut self.text, self.src, lt, false);
                continue;
            }
            match self.byte(lt + 1) {
                Some(b) if b.is_ascii_alphabetic() => {
                    if let Some(content) = self.tag(StartTag, lt + 1) {
                        return Ok(content);
                    }
                }
                Some(b'/') => match self.byte(lt + 2) {
                    Some(b) if b.is_ascii_alphabetic() => {
                        self.tag(EndTag, lt + 2);
                    }
                    // `</>` is only a parse error; `</` at the end is text.
                    Some(b'>') => {
                        self.parse_error();
                        self.at = lt + 3;
                    }
                    None => {
                        self.text.push_slice("</");
                        self.at = lt + 2;
                    }
                    Some(_) => self.bogus_comment(lt + 2),
                },
                Some(b'!') => self.declaration(lt)?,
                Some(b'?') => self.bogus_comment(lt + 1),
                _ => {
                    self.text.push_char('<');
                    self.at = lt + 1;
                }
            }
        }
        push_str(&mut self.text, &self.src[self.at..]);
        self.at = self.src.len();
        Ok(Content::Markup)
    }

    /// Reads a tag whose name starts at `from` and hands it to the tree builder; what it
    /// says of the content after a start tag, or None (an end tag, or a tag the page ends
    /// inside, which the standard drops).
    fn tag(&mut self, kind: TagKind, from: usize) -> Option<Content> {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'/' | b'>') {
            i += 1;
        }
        let name = LocalName::from(ascii_lowercase(&self.src[from..i]).as_ref());
        let mut attrs: Vec<Attribute> = Vec::new();
        let mut duplicates = false;
        let mut self_closing = false;
        let end = self.src.len();
        loop {
            while i < end && is_space(bytes[i]) {
                i += 1;
            }
            let Some(&b) = bytes.get(i) else {
                self.at = end;
                return None;
            };
            if b == b'>' {
                i += 1;
                break;
            }
            if b == b'/' {
                i += 1;
                if self.byte(i) == Some(b'>') {
                    self_closing = true;
                    i += 1;
                    break;
                }
                continue;
            }
            let Some((attr_name, value, next)) = self.attribute(i) else {
                self.at = end;
                return None;
            };
            i = next;
            let attr_name = LocalName::from(ascii_lowercase(attr_name).as_ref());
            if attrs.iter().any(|a| a.name.local == attr_name) {
                duplicates = true;
            } else {
                attrs.push(Attribute {
                    name: QualName::new(None, ns!(), attr_name),
                    value,
                });
            }
        }
        self.at = i;
        let result = self.emit(Token::TagToken(Tag {
            kind,
            name: name.clone(),
            self_closing,
            attrs,
            had_duplicate_attributes: duplicates,
        }));
        match result {
            TokenSinkResult::RawData(raw) if kind == StartTag => Some(Content::Raw(raw, name)),
            TokenSinkResult::Plaintext => Some(Content::Plaintext),
            _ if kind == StartTag => Some(Content::Markup),
            _ => None,
        }
    }

    /// Reads the attribute whose name starts at `from` (its first character may be `=`):
    /// its name as written, its value, and where reading goes on. None when the page ends
    /// inside it.
    fn attribute(&self, from: usize) -> Option<(&'a str, StrTendril, usize)> {
        let (src, bytes) = (self.src, self.src.as_bytes());
        let skip_space = |mut i: usize| {
            while bytes.get(i).copied().is_some_and(is_space) {
                i += 1;
            }
            i
        };
        let mut i = from + 1;
        while bytes
            .get(i)
            .is_some_and(|b| !is_space(*b) && !matches!(b, b'/' | b'>' | b'='))
        {
            i += 1;
        }
        let name = &src[from..i];
        i = skip_space(i);
        let mut value = StrTendril::new();
        if bytes.get(i) != Some(&b'=') {
            return Some((name, value, i));
        }
        i = skip_space(i + 1);
        match *bytes.get(i)? {
            q @ (b'"' | b'\'') => {
                let close = memchr::memchr(q, &bytes[i + 1..])?;
                push_decoded(&mut value, &src[i + 1..i + 1 + close], true);
                i += close + 2;
            }
            // A missing value: the tag ends at this `>`.
            b'>' => {}
            _ => {
                let from = i;
                while bytes.get(i).is_some_and(|b| !is_space(*b) && *b != b'>') {
                    i += 1;
                }
                push_decoded(&mut value, &src[from..i], true);
            }
        }
        Some((name, value, i))
    }

    /// Reads `<!`: a comment or a doctype.
    fn declaration(&mut self, lt: usize) -> Result<(), Unread> {
        let rest = &self.src[lt + 2..];
        if let Some(body) = rest.strip_prefix("--") {
            // `<!-->` and `<!--->` are empty comments.
            let (data, after) = if body.starts_with('>') {
                ("", 1)
            } else if body.starts_with("->") {
                ("", 2)
            } else {
                // One the page leaves open may lose a dash or two at its end.
                let end = memchr::memmem::find(body.as_bytes(), b"-->").ok_or(Unread)?;
                (&body[..end], end + 3)
            };
            if data.contains("--!") {
                return Err(Unread);
            }
            self.at = lt + 4 + after;
            let _ = self.emit(Token::CommentToken(StrTendril::from_slice(data)));
            return Ok(());
        }
        if rest
            .as_bytes()
            .get(..7)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"doctype"))
        {
            let (doctype, len) = read_doctype(&rest[7..]).ok_or(Unread)?;
            self.at = lt + 9 + len;
            let _ = self.emit(Token::DoctypeToken(doctype));
            return Ok(());
        }
        // CDATA is text inside SVG and MathML, a comment elsewhere.
        if rest.starts_with("[CDATA[") {
            return Err(Unread);
        }
        self.bogus_comment(lt + 2);
        Ok(())
    }

    /// `<?xml …>`, `<!x>`, `</1>`: a comment from `from` up to the next `>`.
    fn bogus_comment(&mut self, from: usize) {
        let end = memchr::memchr(b'>', &self.src.as_bytes()[from..])
            .map_or(self.src.len(), |gt| from + gt);
        self.at = (end + 1).min(self.src.len());
        let _ = self.emit(Token::CommentToken(StrTendril::from_slice(
            &self.src[from..end],
        )));
    }

    /// Reads the text-only content of the element `name` just opened, up to its end tag.
    fn raw(&mut self, kind: RawKind, name: &str) -> Result<(), Unread> {
        let rest = &self.src[self.at..];
        let end = find_end_tag(rest, name).unwrap_or(rest.len());
        let content = &rest[..end];
        match kind {
            RawKind::Rcdata => {
                self.before_text(content);
                push_decoded(&mut self.text, content, false);
            }
            // A script's `<!--` starts the standard's escaped states.
            RawKind::ScriptData if content.contains("<!--") => return Err(Unread),
            RawKind::Rawtext | RawKind::ScriptData => push_str(&mut self.text, content),
            RawKind::ScriptDataEscaped(_) => return Err(Unread),
        }
        self.at += end;
        Ok(())
    }
}

/// Where the end tag of `name` (lowercase) starts in `text`: `</name` in any case, followed by white
/// space, `/` or `>`.
pub(super) fn find_end_tag(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    memchr::memmem::find_iter(bytes, b"</").find(|&at| {
        let end = at + 2 + name.len();
        end < bytes.len()
            && bytes[at + 2..end].eq_ignore_ascii_case(name.as_bytes())
            && (is_space(bytes[end]) || matches!(bytes[end], b'/' | b'>'))
    })
}

/// Reads a doctype after `<!DOCTYPE`, up to and with its `>`: its name and identifiers,
/// and how many bytes it took. None for any shape but `<!DOCTYPE name>`,
/// `<!DOCTYPE name PUBLIC "id" ["id"]>` and `<!DOCTYPE name SYSTEM "id">`.
fn read_doctype(src: &str) -> Option<(Doctype, usize)> {
    let bytes = src.as_bytes();
    let skip = |mut i: usize| {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        i
    };
    let from = skip(0);
    if from == 0 {
        return None;
    }
    let mut i = from;
    while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
        i += 1;
    }
    let name = StrTendril::from_slice(&ascii_lowercase(&src[from..i]));
    let quoted = |i: usize| -> Option<(StrTendril, usize)> {
        let q = *bytes.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
        let len = memchr::memchr(q, &bytes[i + 1..])?;
        let id = &src[i + 1..i + 1 + len];
        (!id.contains('>')).then(|| (StrTendril::from_slice(id), i + len + 2))
    };
    let keyword = |i: usize, word: &str| {
        src.get(i..i + word.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(word))
    };
    let (mut public_id, mut system_id) = (None, None);
    i = skip(i);
    if keyword(i, "public") {
        let (id, next) = quoted(skip(i + 6))?;
        public_id = Some(id);
        i = skip(next);
        if let Some((id, next)) = quoted(i) {
            system_id = Some(id);
            i = skip(next);
        }
    } else if keyword(i, "system") {
        let (id, next) = quoted(skip(i + 6))?;
        system_id = Some(id);
        i = skip(next);
    }
    (bytes.get(i) == Some(&b'>')).then(|| {
        let doctype = Doctype {
            name: Some(name),
            public_id,
            system_id,
            force_quirks: false,
        };
        (doctype, i + 1)
    })
}

/// Appends `text` with its character references decoded, as the standard reads text
/// (`attribute`: an attribute's value).
fn push_decoded(out: &mut StrTendril, text: &str, attribute: bool) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(found) = memchr::memchr(b'&', &bytes[at..]) {
        push_str(out, &text[at..at + found]);
        at = push_reference(out, text, at + found, attribute);
    }
    push_str(out, &text[at..]);
}

/// Appends `s`; into an empty tendril, copied once at its size (most text and values have
/// no reference and are one piece).
fn push_str(out: &mut StrTendril, s: &str) {
    if out.is_empty() {
        *out = StrTendril::from_slice(s);
    } else {
        out.push_slice(s);
    }
}

/// Decodes the character reference at `src[amp]` (an `&`) into `out`, or writes the `&` as
/// text when none starts there; returns where reading goes on.
fn push_reference(out: &mut StrTendril, src: &str, amp: usize, attribute: bool) -> usize {
    let bytes = src.as_bytes();
    match bytes.get(amp + 1) {
        Some(b'#') => {
            if let Some((c, next)) = numeric_reference(bytes, amp + 2) {
                out.push_char(c);
                return next;
            }
        }
        Some(b) if b.is_ascii_alphanumeric() => {
            if let Some((chars, next)) = named_reference(bytes, amp + 1, attribute) {
                out.push_char(chars.0);
                if let Some(c) = chars.1 {
                    out.push_char(c);
                }
                return next;
            }
        }
        _ => {}
    }
    out.push_char('&');
    amp + 1
}

/// A numeric reference's digits from `from` (after `&#`): its character and where it ends.
fn numeric_reference(bytes: &[u8], from: usize) -> Option<(char, usize)> {
    let (radix, mut i) = match bytes.get(from) {
        Some(b'x' | b'X') => (16, from + 1),
        _ => (10, from),
    };
    let digits = i;
    let mut n: u32 = 0;
    while let Some(d) = bytes.get(i).and_then(|&b| (b as char).to_digit(radix)) {
        // Past U+10FFFF the value no longer matters: it is replaced.
        n = n.saturating_mul(radix).saturating_add(d).min(0x11_0000);
        i += 1;
    }
    if i == digits {
        return None;
    }
    if bytes.get(i) == Some(&b';') {
        i += 1;
    }
    let c = match n {
        0 | 0xD800..=0xDFFF | 0x11_0000.. => '\u{fffd}',
        0x80..=0x9F => html5ever::data::C1_REPLACEMENTS[(n - 0x80) as usize]
            .unwrap_or_else(|| char::from_u32(n).unwrap_or('\u{fffd}')),
        _ => char::from_u32(n).unwrap_or('\u{fffd}'),
    };
    Some((c, i))
}

/// The longest named reference from `from` (after `&`): its characters and where it ends,
/// or None when no name matches or, in an attribute's value, when a name without its `;`
/// runs on into a letter, a digit or `=` (`?a=1&copy=2` is a link, not a copyright sign).
fn named_reference(
    bytes: &[u8],
    from: usize,
    attribute: bool,
) -> Option<((char, Option<char>), usize)> {
    let mut found = None;
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if !(b.is_ascii_alphanumeric() || b == b';') {
            break;
        }
        // The names are ASCII: the slice is a whole string.
        let name = std::str::from_utf8(&bytes[from..=i]).ok()?;
        match html5ever::data::NAMED_ENTITIES.get(name) {
            None => break,
            Some(&(0, _)) => {}
            Some(&(c1, c2)) => found = Some((c1, c2, i + 1)),
        }
        i += 1;
        if b == b';' {
            break;
        }
    }
    let (c1, c2, end) = found?;
    if attribute
        && bytes[end - 1] != b';'
        && bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'=')
    {
        return None;
    }
    let c1 = char::from_u32(c1)?;
    Some(((c1, char::from_u32(c2).filter(|_| c2 != 0)), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree as text: quirks mode, then each node and where it closes.
    fn outline(doc: &Html) -> String {
        let mut out = format!("{:?}\n", doc.quirks_mode);
        for edge in doc.tree.root().traverse() {
            match edge {
                ego_tree::iter::Edge::Open(n) => out.push_str(&format!("{:?}\n", n.value())),
                ego_tree::iter::Edge::Close(_) => out.push_str("/\n"),
            }
        }
        out
    }

    /// Whether this reader read `html` (else it leaves it to html5ever), and then built
    /// html5ever's tree.
    fn read_as_html5ever(html: &str) -> bool {
        match Reader::new(html).read() {
            Ok(doc) => {
                assert_eq!(
                    outline(&doc),
                    outline(&Html::parse_document(html)),
                    "{html:?}"
                );
                true
            }
            Err(Unread) => false,
        }
    }

    #[test]
    fn markup_reads_as_html5ever_reads_it() {
        let pages = [
            "<!DOCTYPE html><html><head><title>A &amp; B</title></head><body><p>x</p></body></html>",
            "<!doctype HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" \"http://www.w3.org/TR/html4/loose.dtd\"><p>q",
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\"><p>q",
            "<!DOCTYPE html SYSTEM 'about:legacy-compat'><p>q",
            "<p>a<b>b<i>c</b>d</i>e</p><table><tr><td>1<td>2</table>x<table>y</table>",
            "<div class=a CLASS=b id = 'c' data-x=\"1>2\" checked>t</div><img src=x.png/><br/>",
            "<a href=\"?a=1&copy=2&amp;b=3&copy;&notit;&notin;&not\">&notit; &notin; &not &copy2 &#x41;&#65&#0;&#x110000;&#128;&#x9d;&#xD800;&#;&#x;</a>",
            "<title>a <b> &lt; </title ><textarea>\n<p>t</textarea><style>p > a {}</STYLE><script>if (a < b) x()</script>",
            "<pre>\nline</pre><pre>&#10;line</pre><listing>\n\nx</listing>",
            "<p>a <!-- c --> b <!----> <!--> <!---> <!-- a -- b --->c</p>",
            "<?xml version=\"1.0\"?><!x y><p></1 a>b</>c</ p>",
            "a < b <3 &  &; &#x &z; 5 &lt 6</",
            "<svg><path d=M0/><foreignObject><p>x</p></foreignObject></svg><math><mi>x</math>",
            "<p/ class=a /x= y / ><div =a a==b a=\"\"b>",
            "<select><option>a<option>b</select><frameset></frameset><noscript><p>n</p></noscript>",
            "<plaintext><p>all text</p>",
            "<div title='unclosed",
            "<div class",
            "<p>end<",
            "<xmp><p></xmp><iframe><p></iframe><noembed><b></noembed><noframes>x</noframes>",
        ];
        for html in pages {
            assert!(read_as_html5ever(html), "{html}");
        }
        // Left to html5ever: script escapes, CDATA, an odd doctype, `--!>`.
        for html in [
            "<script><!-- <script>x</script> --></script>",
            "<svg><![CDATA[x]]></svg>",
            "<!DOCTYPE html bogus><p>",
            "<!-- a --!> b -->",
        ] {
            assert!(!read_as_html5ever(html), "{html}");
            assert_eq!(
                outline(&parse_document(html)),
                outline(&Html::parse_document(html))
            );
        }
    }

    #[test]
    fn generated_markup_reads_as_html5ever_reads_it() {
        const PIECES: &[&str] = &[
            "<div",
            "<p",
            "<a href=",
            "<b>",
            "</b>",
            "<i>",
            "</div>",
            "</p>",
            "<table>",
            "<tr>",
            "<td>",
            "</table>",
            "<li>",
            "<ul>",
            "<title>",
            "</title>",
            "<script>",
            "</script>",
            "<textarea>",
            "<pre>",
            "</pre>",
            "<svg>",
            "</svg>",
            "<math>",
            "<br/>",
            "</br>",
            "<select>",
            "<option>",
            "<html>",
            "<body>",
            "<head>",
            "<!DOCTYPE html>",
            "<!--",
            "-->",
            "<!",
            "<?",
            "</",
            "<",
            ">",
            "/>",
            "/",
            "=",
            "\"",
            "'",
            " ",
            "\n",
            "\t",
            "a",
            "Z",
            "é",
            "€",
            "&",
            "&amp",
            "&amp;",
            "&not",
            "&notin;",
            "&#",
            "&#x",
            "9",
            ";",
            "class",
            "id=x",
            "CLASS",
            "<p class=a>",
            "<noscript>",
            "<style>",
            "<plaintext>",
            "<frameset>",
            "<template>",
            "<form>",
            "<input>",
            "<xmp>",
            "&#10",
            "&#xa;",
            "</>",
            "<listing>",
            "&NewLine;",
            "<iframe>",
            "</iframe>",
            "<h1>",
            "<button>",
            "<a>",
            "</a>",
        ];
        let mut rng = fastrand::Rng::with_seed(12);
        let mut read = 0;
        let cases = 5_000;
        for _ in 0..cases {
            let len = rng.usize(1..60);
            let html: String = (0..len)
                .map(|_| PIECES[rng.usize(..PIECES.len())])
                .collect();
            read += usize::from(read_as_html5ever(&html));
        }
        // Most are read here, not left to html5ever.
        assert!(read * 10 > cases * 8, "{read} of {cases} read");
    }

    #[test]
    fn pages_read_as_html5ever_reads_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let pages = std::fs::read_dir(format!("{dir}/golden"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .chain([format!("{dir}/article.html").into()])
            .filter(|p| p.extension().is_some_and(|e| e == "html"));
        let mut n = 0;
        for page in pages {
            let html = String::from_utf8_lossy(&std::fs::read(&page).unwrap()).into_owned();
            for prepared in [
                super::super::prepare_for_text(&html),
                super::super::prepare_html(&html),
            ] {
                assert!(read_as_html5ever(&prepared), "{}", page.display());
            }
            n += 1;
        }
        assert!(n >= 10, "{n} pages");
    }

    #[test]
    fn byte_order_mark_and_carriage_returns_go_as_html5ever_drops_them() {
        for html in [
            "\u{feff}<p>a\r\nb\rc</p>",
            "<pre>\r\nx</pre>",
            "<p>a\0b</p>",
        ] {
            assert_eq!(
                outline(&parse_document(html)),
                outline(&Html::parse_document(html)),
                "{html:?}"
            );
        }
    }
}
