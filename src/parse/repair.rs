//! Repairs applied before feed-rs sees a document: the text decoded to UTF-8 whatever it
//! declared (and whether the declaration was right), junk before the root and DOCTYPEs
//! removed (no entity expansion, ever: billion laughs and XXE stay inert), HTML named
//! entities made numeric, bare `&` escaped, a feed wrapped in an HTML page unwrapped, and
//! Atom 0.3 spelled as Atom 1.0.

use std::borrow::Cow;

/// The repaired document, UTF-8, with a matching declaration: the body itself, uncopied,
/// when it needs no repair (most feeds).
pub fn repair(body: &[u8]) -> Cow<'_, str> {
    let text = decode(body);
    let text = then(text, strip_doctype);
    let text = then(text, unwrap_root);
    let text = then(text, fix_entities);
    then(text, atom03)
}

/// `step` applied to `text`, copying only when it changed something.
fn then<'a>(text: Cow<'a, str>, step: impl Fn(&str) -> Cow<'_, str>) -> Cow<'a, str> {
    match step(&text) {
        Cow::Borrowed(same) if same.len() == text.len() => text,
        changed => Cow::Owned(changed.into_owned()),
    }
}

/// UTF-8 from a BOM, else the declared encoding, else UTF-8, and windows-1252 when bytes
/// declared (or assumed) UTF-8 are not.
pub(crate) fn decode(body: &[u8]) -> Cow<'_, str> {
    let (encoding, skip) = match encoding_rs::Encoding::for_bom(body) {
        Some((e, n)) => (e, n),
        None => (declared_encoding(body).unwrap_or(encoding_rs::UTF_8), 0),
    };
    let bytes = &body[skip..];
    let text = if encoding == encoding_rs::UTF_8 {
        match std::str::from_utf8(bytes) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
                    .into_owned(),
            ),
        }
    } else {
        Cow::Owned(encoding.decode_without_bom_handling(bytes).0.into_owned())
    };
    then(text, set_declared_utf8)
}

fn declared_encoding(body: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let decl = &head[head.find("<?xml")?..];
    let decl = &decl[..decl.find("?>")?];
    encoding_rs::Encoding::for_label(declared_label(decl)?.as_bytes())
}

/// The `encoding="..."` value of an XML declaration's text.
fn declared_label(decl: &str) -> Option<&str> {
    let at = decl.find("encoding")? + "encoding".len();
    let value = decl[at..].trim_start().strip_prefix('=')?.trim_start();
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    Some(value[1..value[1..].find(quote)? + 1].trim())
}

/// Junk before the first tag goes, and the declaration (if any) says UTF-8.
fn set_declared_utf8(text: &str) -> Cow<'_, str> {
    let start = text.find('<').unwrap_or(text.len());
    let text = &text[start..];
    if let Some(rest) = text.strip_prefix("<?xml")
        && let Some(end) = rest.find("?>")
    {
        let decl = &rest[..end];
        let utf8 = declared_label(decl).is_none_or(|l| l.eq_ignore_ascii_case("utf-8"));
        if utf8 && start == 0 {
            return Cow::Borrowed(text);
        }
        let version = if decl.contains("1.1") { "1.1" } else { "1.0" };
        return Cow::Owned(format!(
            "<?xml version=\"{version}\" encoding=\"UTF-8\"?>{}",
            &rest[end + 2..]
        ));
    }
    Cow::Borrowed(text)
}

/// DOCTYPE declarations removed, internal subsets included: nothing gets to define entities.
fn strip_doctype(text: &str) -> Cow<'_, str> {
    let Some(start) = find_ci(text, "<!doctype") else {
        return Cow::Borrowed(text);
    };
    let rest = &text[start..];
    let mut depth = 0i32;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '>' if depth <= 0 => {
                end = i + 1;
                break;
            }
            _ => {}
        }
    }
    Cow::Owned(format!("{}{}", &text[..start], &rest[end..]))
}

/// A feed inside an HTML page (or after a stylesheet) starts at its own root element.
fn unwrap_root(text: &str) -> Cow<'_, str> {
    let root = first_element(text);
    if matches!(root.as_deref(), Some("rss" | "feed" | "rdf:rdf" | "rdf")) {
        return Cow::Borrowed(text);
    }
    let Some(at) = ["rss", "feed", "rdf:RDF"]
        .iter()
        .filter_map(|t| super::lenient::find_open(text, t, 0))
        .min()
    else {
        return Cow::Borrowed(text);
    };
    let decl = if text.starts_with("<?xml") {
        &text[..text.find("?>").map_or(0, |e| e + 2)]
    } else {
        ""
    };
    Cow::Owned(format!("{decl}{}", &text[at..]))
}

/// The name of the first element (lowercased), skipping declarations, comments and PIs.
fn first_element(text: &str) -> Option<String> {
    let mut rest = text;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at..];
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
            continue;
        }
        let name: String = rest[1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        return Some(name.to_ascii_lowercase());
    }
}

/// `&name;` that XML does not know becomes a character reference (or text when unknown);
/// a bare `&` becomes `&amp;`.
fn fix_entities(text: &str) -> Cow<'_, str> {
    let Some(first) = entity_to_fix(text) else {
        return Cow::Borrowed(text);
    };
    // Everything before the first reference to fix is copied as it is.
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..first]);
    let mut rest = &text[first..];
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let terminated = after[name_len..].starts_with(';');
        match (terminated, name) {
            (true, "amp" | "lt" | "gt" | "quot" | "apos") => {
                out.push_str(&rest[at..at + name_len + 2])
            }
            (true, n) if n.starts_with('#') && n.len() > 1 => {
                out.push_str(&rest[at..at + name_len + 2])
            }
            (true, n) if !n.is_empty() => match crate::text::html_entity(n) {
                Some(c) => out.push_str(&format!("&#{};", c as u32)),
                None => out.push_str(&format!("&amp;{n};")),
            },
            _ => {
                out.push_str("&amp;");
                rest = after;
                continue;
            }
        }
        rest = &after[name_len + 1..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the first `&` stands that is not one of XML's own five entities or a character
/// reference; `None` for most feeds, which are then used as they are, without a copy.
fn entity_to_fix(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    memchr::memchr_iter(b'&', b).find(|&at| {
        let after = &b[at + 1..];
        // Escaped HTML is mostly these: settled without measuring the name.
        if [&b"lt;"[..], b"gt;", b"amp;", b"quot;"]
            .iter()
            .any(|known| after.starts_with(known))
        {
            return false;
        }
        let end = after
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'#'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let known = matches!(name, b"amp" | b"lt" | b"gt" | b"quot" | b"apos")
            || (name.len() > 1 && name[0] == b'#');
        !(known && after.get(end) == Some(&b';'))
    })
}

/// Atom 0.3 read as Atom 1.0: its namespace and its date elements renamed.
fn atom03(text: &str) -> Cow<'_, str> {
    if memchr::memmem::find(text.as_bytes(), b"http://purl.org/atom/ns#").is_none() {
        return Cow::Borrowed(text);
    }
    const RENAMED: [(&str, &str); 4] = [
        ("issued", "published"),
        ("modified", "updated"),
        ("tagline", "subtitle"),
        ("copyright", "rights"),
    ];
    // One pass: at each `<`, an old element name (open or close) is renamed.
    let mut out = String::with_capacity(text.len() + 256);
    let mut copied = 0;
    for at in memchr::memchr_iter(b'<', text.as_bytes()) {
        let name_at = at + 1 + usize::from(text[at + 1..].starts_with('/'));
        let rest = &text[name_at..];
        if let Some((old, new)) = RENAMED
            .iter()
            .find(|(old, _)| rest.strip_prefix(old).is_some_and(|r| r.starts_with('>')))
        {
            out.push_str(&text[copied..name_at]);
            out.push_str(new);
            copied = name_at + old.len();
        }
    }
    out.push_str(&text[copied..]);
    // Escaped content in 0.3 is HTML in 1.0 terms.
    Cow::Owned(
        out.replace("http://purl.org/atom/ns#", "http://www.w3.org/2005/Atom")
            .replace("mode=\"escaped\"", "type=\"html\"")
            .replace("mode='escaped'", "type='html'"),
    )
}

/// Where `needle` (which starts with two non-letters, like `<!`) first occurs, ignoring
/// ASCII case.
fn find_ci(text: &str, needle: &str) -> Option<usize> {
    let (hay, n) = (text.as_bytes(), needle.as_bytes());
    memchr::memmem::find_iter(hay, &n[..2])
        .find(|&i| hay.len() >= i + n.len() && hay[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_the_bytes_are() {
        assert!(
            decode(b"<?xml version='1.0' encoding='utf-8'?><rss>caf\xe9</rss>").contains("café")
        );
        let cp1251 = b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss>\xcf\xf0\xe8</rss>";
        let text = decode(cp1251);
        assert!(
            text.contains("При") && text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{text}"
        );
        assert_eq!(decode(b"junk\n  <rss/>"), "<rss/>");
    }

    #[test]
    fn entities_doctype_and_wrapped_feeds() {
        assert_eq!(
            fix_entities("a&nbsp;b &eacute; &amp; &#233; &x; R&D &"),
            "a&#160;b &#233; &amp; &#233; &amp;x; R&amp;D &amp;"
        );
        // Known references before the first to fix are copied as they are.
        assert_eq!(
            fix_entities("&lt;p&gt; &quot;x&quot; &#8217; &ltx &nbsp;"),
            "&lt;p&gt; &quot;x&quot; &#8217; &amp;ltx &#160;"
        );
        assert!(matches!(
            fix_entities("&lt;b&gt; &amp; &#1;"),
            Cow::Borrowed(_)
        ));
        let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><rss>&lol2;</rss>";
        assert_eq!(
            repair(laughs.as_bytes()),
            "<?xml version=\"1.0\"?><rss>&amp;lol2;</rss>"
        );
        let wrapped = "<?xml version=\"1.0\"?><html><body><feed xmlns=\"http://www.w3.org/2005/Atom\"></feed></body></html>";
        assert!(repair(wrapped.as_bytes()).contains("?><feed xmlns"));
        let atom03 = "<feed version=\"0.3\" xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued></entry></feed>";
        assert!(repair(atom03.as_bytes()).contains("<published>x</published>"));
        let renamed = repair(
            b"<feed xmlns='http://purl.org/atom/ns#'><tagline>t</tagline><entry><modified>m</modified><issuedx>i</issuedx><content mode='escaped'>c</content></entry></feed>",
        );
        assert!(renamed.contains("xmlns='http://www.w3.org/2005/Atom'"));
        assert!(renamed.contains("<subtitle>t</subtitle><entry><updated>m</updated><issuedx>i</issuedx><content type='html'>"));
    }
}
