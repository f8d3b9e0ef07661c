//! Folding text for matching (lowercase, accents dropped, whitespace runs collapsed), with an
//! optional map back to the original for snippets, and the snippet itself.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folded text with a map back to the byte offsets of the original.
pub struct Folded {
    pub text: String,
    origin: Vec<u32>,
    original_len: usize,
}

impl Folded {
    /// Byte offset in the original text of a byte offset in the folded text.
    pub fn original(&self, folded_offset: usize) -> usize {
        self.origin
            .get(folded_offset)
            .map_or(self.original_len, |&o| o as usize)
    }
}

/// Folds text for matching, without the map (the hot path).
pub fn fold_str(text: &str) -> String {
    if text.is_ascii() {
        return fold_ascii(text.as_bytes());
    }
    let mut out = String::with_capacity(text.len());
    fold_into(text, &mut out, None);
    out
}

/// Folds text and keeps the map back to the original.
pub fn fold(text: &str) -> Folded {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    fold_into(text, &mut out, Some(&mut origin));
    Folded {
        text: out,
        origin,
        original_len: text.len(),
    }
}

fn fold_ascii(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut last_space = true;
    for &b in bytes {
        if b.is_ascii_whitespace() {
            if !last_space {
                out.push(b' ');
                last_space = true;
            }
        } else {
            out.push(b.to_ascii_lowercase());
            last_space = false;
        }
    }
    String::from_utf8(out).expect("ASCII in, ASCII out")
}

fn fold_into(text: &str, out: &mut String, mut origin: Option<&mut Vec<u32>>) {
    let mut last_space = true;
    for (offset, c) in text.char_indices() {
        let before = out.len();
        if c.is_whitespace() {
            if last_space {
                continue;
            }
            out.push(' ');
            last_space = true;
        } else {
            last_space = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                for d in std::iter::once(c).nfkd().filter(|d| !is_combining_mark(*d)) {
                    out.extend(d.to_lowercase());
                }
            }
        }
        if let Some(o) = origin.as_deref_mut() {
            o.extend(std::iter::repeat_n(offset as u32, out.len() - before));
        }
    }
}

/// A word starts or ends here: no letter or digit on the other side.
/// `start` and `end` are char boundaries of `hay`.
pub fn is_word_start(hay: &str, start: usize) -> bool {
    !hay[..start]
        .chars()
        .next_back()
        .is_some_and(char::is_alphanumeric)
}

pub fn is_word_end(hay: &str, end: usize) -> bool {
    !hay[end..].chars().next().is_some_and(char::is_alphanumeric)
}

/// The end of the word that continues at `end` (for prefix matches).
pub fn word_end(hay: &str, end: usize) -> usize {
    hay[end..]
        .find(|c: char| !c.is_alphanumeric())
        .map_or(hay.len(), |i| end + i)
}

/// Byte offsets where words start: for `NEAR`, word distance is a difference of indexes here.
pub fn word_starts(hay: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut in_word = false;
    for (i, c) in hay.char_indices() {
        let alnum = c.is_alphanumeric();
        if alnum && !in_word {
            starts.push(i);
        }
        in_word = alnum;
    }
    starts
}

const SNIPPET_BEFORE: usize = 80;
const SNIPPET_AFTER: usize = 160;

/// About 250 characters of `text` around `start..end`, cut at spaces, with `…` where cut.
pub fn snippet(text: &str, start: usize, end: usize) -> String {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut from = floor(start.saturating_sub(SNIPPET_BEFORE));
    let mut to = floor((end + SNIPPET_AFTER).min(text.len()));
    if from > 0
        && let Some(sp) = text[from..start].find(char::is_whitespace)
    {
        from += sp;
    }
    if to < text.len()
        && let Some(sp) = text[end..to].rfind(char::is_whitespace)
    {
        to = end + sp;
    }
    let mut s = text[from..to]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if from > 0 {
        s.insert(0, '…');
    }
    if to < text.len() {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_ligatures_and_space() {
        assert_eq!(fold_str("Nicolás  MADURO\n\tsaid"), "nicolas maduro said");
        assert_eq!(fold_str("ﬁnance Ærø"), "finance ærø");
        assert_eq!(fold_str("Plain ASCII  Text"), "plain ascii text");
        let f = fold("Já  B");
        assert_eq!(f.text, "ja b");
        assert_eq!(f.original(0), 0);
        assert_eq!(f.original(2), 3, "the space maps to the first space");
        assert_eq!(f.original(3), 5);
        assert_eq!(f.original(4), 6, "past the end maps to the end");
    }

    #[test]
    fn word_positions() {
        assert_eq!(word_starts("a bc, d"), [0, 2, 6]);
        assert!(is_word_start("x oil", 2) && !is_word_start("toil", 1));
        assert_eq!(word_end("venezuelan oil", 8), 10);
    }
}
