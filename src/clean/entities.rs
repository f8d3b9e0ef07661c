//! Character references decoded as an HTML parser decodes them, for short texts that need
//! no DOM (a title with `&amp;` or `&#8217;`).

/// `s` with its character references decoded as an HTML parser would, or `None` when one
/// is a named reference outside HTML 4's set (the feed repair's table).
pub(super) fn decode_references(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
            .map_or(after.len().min(12), |(i, _)| i);
        let name = &after[..end];
        let terminated = after[end..].starts_with(';');
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.map(numeric_reference)
        } else {
            match name {
                "" => None,
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ if !terminated => None,
                _ => Some(crate::text::html_entity(name)?),
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[end + usize::from(terminated)..];
            }
            // A bare `&` (or `&1`): text, as in a browser.
            None if name.is_empty() || !name.starts_with('#') && !terminated => {
                if name.chars().all(|c| c.is_ascii_alphanumeric()) && !name.is_empty() {
                    return None; // `&copy` without `;`: leave the legacy cases to html5ever
                }
                out.push('&');
                rest = after;
            }
            None => return None,
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The character a numeric reference stands for: C1 codes as windows-1252, invalid ones as
/// U+FFFD (the HTML rules).
fn numeric_reference(code: u32) -> char {
    if (0x80..=0x9f).contains(&code) {
        let byte = [code as u8];
        let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
        return text.chars().next().unwrap_or('\u{fffd}');
    }
    match char::from_u32(code) {
        Some('\0') | None => '\u{fffd}',
        Some(c) => c,
    }
}
