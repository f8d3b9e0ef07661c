//! Text pieces every stage shares: whitespace folding, Unicode normalization, HTML
//! escaping, HTML entity names, `${VAR}` placeholders and error chains. A leaf: it imports
//! nothing of the crate.

/// Whitespace runs become one space; leading and trailing whitespace goes.
pub(crate) fn fold_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `s` in ASCII lowercase, copied only when it has an uppercase letter (most names and
/// classes are lowercase already).
pub(crate) fn ascii_lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `s` as text is exchanged: in Unicode's composed form (NFC), so one outlet's "é" as one
/// code point and another's as two are the same text (copies of an article compare equal, a
/// snippet reads the same however its page spelled it), and without soft hyphens, which only
/// say where a line may break: "Mag&shy;da&shy;le&shy;ner" is the word "Magdalener", and a
/// watch on it must see one word.
pub(crate) fn normalize(s: String) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    if s.is_ascii() {
        return s;
    }
    let s = if s.contains('\u{ad}') {
        s.replace('\u{ad}', "")
    } else {
        s
    };
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        s
    } else {
        s.nfc().collect()
    }
}

/// `s` without U+0000. No text column of PostgreSQL can hold it and no reader wants it, yet
/// a feed may carry it (raw, or escaped as `\u0000` in JSON), and an error may quote it.
pub(crate) fn without_nul(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "")
    } else {
        s
    }
}

/// The longest title kept, in characters: a title is a line, not a document.
pub(crate) const MAX_TITLE_CHARS: usize = 1000;

/// `s` cut to at most `max` characters, with `…` in place of what was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let keep = s
                .char_indices()
                .nth(max.saturating_sub(1))
                .map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..keep])
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn clip_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Control characters (CR and LF above all: header injection) become spaces, and
/// whitespace is folded.
pub(crate) fn single_line(s: &str) -> String {
    let spaced: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    fold_whitespace(&spaced)
}

/// A URL as it may be shown: a password in it becomes `***`.
pub(crate) fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// "outer: inner: innermost", skipping causes whose text an outer one already shows.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Replaces each `${NAME}` in `s` with `value(NAME)`; the first `Err` it returns stops the
/// expansion and is passed on.
pub(crate) fn expand_placeholders<E>(
    s: &str,
    mut value: impl FnMut(&str) -> Result<String, E>,
    unclosed: impl FnOnce() -> E,
) -> Result<String, E> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start + 2..].find('}') else {
            return Err(unclosed());
        };
        out.push_str(&value(&rest[start + 2..start + 2 + len])?);
        rest = &rest[start + 2 + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The names of the `${NAME}` placeholders in `s`, in order (an unclosed one ends the list).
pub(crate) fn placeholder_names(s: &str) -> Vec<String> {
    let mut names = Vec::new();
    let _ = expand_placeholders(
        s,
        |name| {
            names.push(name.to_string());
            Ok::<_, ()>(String::new())
        },
        || (),
    );
    names
}

/// HTML named entities common in feeds (HTML 4's set); XML's own five are handled apart.
pub(crate) fn html_entity(name: &str) -> Option<char> {
    const TABLE: &[(&str, u32)] = &[
        ("nbsp", 160),
        ("iexcl", 161),
        ("cent", 162),
        ("pound", 163),
        ("curren", 164),
        ("yen", 165),
        ("brvbar", 166),
        ("sect", 167),
        ("uml", 168),
        ("copy", 169),
        ("ordf", 170),
        ("laquo", 171),
        ("not", 172),
        ("shy", 173),
        ("reg", 174),
        ("macr", 175),
        ("deg", 176),
        ("plusmn", 177),
        ("sup2", 178),
        ("sup3", 179),
        ("acute", 180),
        ("micro", 181),
        ("para", 182),
        ("middot", 183),
        ("cedil", 184),
        ("sup1", 185),
        ("ordm", 186),
        ("raquo", 187),
        ("frac14", 188),
        ("frac12", 189),
        ("frac34", 190),
        ("iquest", 191),
        ("Agrave", 192),
        ("Aacute", 193),
        ("Acirc", 194),
        ("Atilde", 195),
        ("Auml", 196),
        ("Aring", 197),
        ("AElig", 198),
        ("Ccedil", 199),
        ("Egrave", 200),
        ("Eacute", 201),
        ("Ecirc", 202),
        ("Euml", 203),
        ("Igrave", 204),
        ("Iacute", 205),
        ("Icirc", 206),
        ("Iuml", 207),
        ("ETH", 208),
        ("Ntilde", 209),
        ("Ograve", 210),
        ("Oacute", 211),
        ("Ocirc", 212),
        ("Otilde", 213),
        ("Ouml", 214),
        ("times", 215),
        ("Oslash", 216),
        ("Ugrave", 217),
        ("Uacute", 218),
        ("Ucirc", 219),
        ("Uuml", 220),
        ("Yacute", 221),
        ("THORN", 222),
        ("szlig", 223),
        ("agrave", 224),
        ("aacute", 225),
        ("acirc", 226),
        ("atilde", 227),
        ("auml", 228),
        ("aring", 229),
        ("aelig", 230),
        ("ccedil", 231),
        ("egrave", 232),
        ("eacute", 233),
        ("ecirc", 234),
        ("euml", 235),
        ("igrave", 236),
        ("iacute", 237),
        ("icirc", 238),
        ("iuml", 239),
        ("eth", 240),
        ("ntilde", 241),
        ("ograve", 242),
        ("oacute", 243),
        ("ocirc", 244),
        ("otilde", 245),
        ("ouml", 246),
        ("divide", 247),
        ("oslash", 248),
        ("ugrave", 249),
        ("uacute", 250),
        ("ucirc", 251),
        ("uuml", 252),
        ("yacute", 253),
        ("thorn", 254),
        ("yuml", 255),
        ("OElig", 338),
        ("oelig", 339),
        ("Scaron", 352),
        ("scaron", 353),
        ("Yuml", 376),
        ("fnof", 402),
        ("circ", 710),
        ("tilde", 732),
        ("Alpha", 913),
        ("Beta", 914),
        ("Gamma", 915),
        ("Delta", 916),
        ("Omega", 937),
        ("alpha", 945),
        ("beta", 946),
        ("gamma", 947),
        ("delta", 948),
        ("pi", 960),
        ("omega", 969),
        ("ensp", 8194),
        ("emsp", 8195),
        ("thinsp", 8201),
        ("zwnj", 8204),
        ("zwj", 8205),
        ("lrm", 8206),
        ("rlm", 8207),
        ("ndash", 8211),
        ("mdash", 8212),
        ("lsquo", 8216),
        ("rsquo", 8217),
        ("sbquo", 8218),
        ("ldquo", 8220),
        ("rdquo", 8221),
        ("bdquo", 8222),
        ("dagger", 8224),
        ("Dagger", 8225),
        ("bull", 8226),
        ("hellip", 8230),
        ("permil", 8240),
        ("prime", 8242),
        ("Prime", 8243),
        ("lsaquo", 8249),
        ("rsaquo", 8250),
        ("oline", 8254),
        ("frasl", 8260),
        ("euro", 8364),
        ("trade", 8482),
        ("larr", 8592),
        ("uarr", 8593),
        ("rarr", 8594),
        ("darr", 8595),
        ("harr", 8596),
        ("minus", 8722),
        ("le", 8804),
        ("ge", 8805),
        ("ne", 8800),
        ("infin", 8734),
        ("hearts", 9829),
        ("loz", 9674),
    ];
    TABLE
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, c)| char::from_u32(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_escapes() {
        assert_eq!(fold_whitespace("  a \n\t b  "), "a b");
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(single_line("Subject\r\nBcc: x"), "Subject Bcc: x");
    }

    #[test]
    fn placeholders_expand_and_fail_on_unclosed() {
        let env = |n: &str| -> Result<String, String> { Ok(format!("<{n}>")) };
        let unclosed = || "unclosed".to_string();
        assert_eq!(
            expand_placeholders("a${X}b${Y}", env, unclosed).unwrap(),
            "a<X>b<Y>"
        );
        assert_eq!(
            expand_placeholders("a${X", env, unclosed),
            Err("unclosed".into())
        );
        assert_eq!(placeholder_names("bot${T}/x${U}"), ["T", "U"]);
    }

    #[test]
    fn normalization() {
        // A composition exclusion (Bengali "য়") stays two code points; "e" and a combining
        // acute become "é"; soft hyphens go; normalized text is handed back as it was.
        assert_eq!(normalize("\u{9df}".into()), "\u{9af}\u{9bc}");
        assert_eq!(normalize("cafe\u{301}".into()), "café");
        assert_eq!(
            normalize("Mag\u{ad}da\u{ad}le\u{ad}ner".into()),
            "Magdalener"
        );
        assert_eq!(normalize("plain".into()), "plain");
    }

    #[test]
    fn truncation() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars("ééééé", 2), "é…");
        assert_eq!(clip_bytes("aé", 2), "a");
        assert_eq!(clip_bytes("abc", 10), "abc");
    }

    #[test]
    fn entities() {
        assert_eq!(html_entity("eacute"), Some('é'));
        assert_eq!(html_entity("nosuch"), None);
    }
}
