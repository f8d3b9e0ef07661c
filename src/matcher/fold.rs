//! Folding text for matching (lowercase, accents dropped, whitespace runs collapsed), with an
//! optional map back to the original for snippets, and the snippet itself.

use unicode_normalization::char::is_combining_mark;

/// Folded text with a map back to the byte offsets of the original.
pub struct Folded {
    /// The folded text.
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

/// The words of a text, folded, with where each stands in the original: what terms are
/// matched against. A word is a run of letters and digits; everything else separates words.
#[derive(Debug, Default)]
pub struct Words {
    /// Every word's folded text, back to back.
    buf: String,
    words: Vec<WordAt>,
}

#[derive(Debug, Clone, Copy)]
struct WordAt {
    folded_end: u32,
    orig_start: u32,
    orig_end: u32,
}

impl Words {
    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The folded text of word `i`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.words[i - 1].folded_end as usize
        };
        &self.buf[start..self.words[i].folded_end as usize]
    }

    /// Byte range in the original text of words `first..=last`.
    pub fn original(&self, first: usize, last: usize) -> (usize, usize) {
        (
            self.words[first].orig_start as usize,
            self.words[last].orig_end as usize,
        )
    }
}

/// Splits and folds text into words in one pass: ASCII through a byte table, characters
/// below U+0800 through a precomputed table, only the rest classified and decomposed on
/// the fly.
pub fn words(text: &str) -> Words {
    words_upto(text, usize::MAX)
}

/// The first `limit` words of `text` (to check a candidate match where it starts).
pub fn words_upto(text: &str, limit: usize) -> Words {
    let mut out = Words::default();
    words_into(text, limit, &mut out);
    out
}

/// Like [`words_upto`], reusing `out`'s buffers (the exact check runs once per candidate).
pub(super) fn words_into(text: &str, limit: usize, out: &mut Words) {
    let bytes = text.as_bytes();
    let mut buf: Vec<u8> = std::mem::take(&mut out.buf).into_bytes();
    buf.clear();
    let mut list: Vec<WordAt> = std::mem::take(&mut out.words);
    list.clear();
    let mut word_start: Option<usize> = None;
    let mut i = 0;
    let mut tmp = String::new();
    while i < bytes.len() && list.len() < limit {
        let b = bytes[i];
        if b < 0x80 {
            if ASCII_FOLD[b as usize] == 0 {
                end_word(&buf, &mut list, &mut word_start, i);
                i += 1;
                continue;
            }
            // A run of ASCII letters and digits: copied lowercased in one go.
            let start = i;
            while i < bytes.len() && bytes[i] < 0x80 && ASCII_FOLD[bytes[i] as usize] != 0 {
                i += 1;
            }
            buf.extend(bytes[start..i].iter().map(|&b| ASCII_FOLD[b as usize]));
            word_start.get_or_insert(start);
            continue;
        }
        let c = text[i..].chars().next().expect("i is a char boundary");
        let class = classify(c, &mut tmp);
        match class {
            Class::Letter(f) => {
                buf.extend_from_slice(f.as_bytes());
                word_start.get_or_insert(i);
            }
            // A decomposed accent inside a word is dropped and the word goes on.
            Class::Mark if word_start.is_some() => {}
            Class::Mark | Class::Other => end_word(&buf, &mut list, &mut word_start, i),
        }
        i += c.len_utf8();
    }
    end_word(&buf, &mut list, &mut word_start, text.len());
    out.buf = String::from_utf8(buf).expect("folding keeps UTF-8 valid");
    out.words = list;
}

fn end_word(buf: &[u8], list: &mut Vec<WordAt>, start: &mut Option<usize>, at: usize) {
    if let Some(s) = start.take() {
        list.push(WordAt {
            folded_end: buf.len() as u32,
            orig_start: s as u32,
            orig_end: at as u32,
        });
    }
}

/// What a non-ASCII character is to the word splitter, with its folded form if a letter.
pub(super) fn classify(c: char, tmp: &mut String) -> Class<'_> {
    if let Some(class) = bmp_table().get(c) {
        return class;
    }
    if c.is_alphanumeric() {
        tmp.clear();
        fold_char(c, tmp);
        Class::Letter(tmp)
    } else if is_combining_mark(c) {
        Class::Mark
    } else {
        Class::Other
    }
}

/// ASCII letters and digits, lowercased; 0 for every other byte.
pub(super) const ASCII_FOLD: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() {
            t[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

pub(super) enum Class<'a> {
    Letter(&'a str),
    Mark,
    Other,
}

/// Every non-ASCII character of the Basic Multilingual Plane, classified and folded once
/// (about 0.5 MiB, built on first use): the splitter's per-character work is a lookup.
struct BmpTable {
    /// Per code point from U+0080: folded form as (offset, length) into `folded`, length 0
    /// and offset 0 for "other", offset `u32::MAX` for a combining mark.
    entries: Vec<(u32, u8)>,
    folded: String,
}

const MARK: u32 = u32::MAX;

impl BmpTable {
    fn get(&self, c: char) -> Option<Class<'_>> {
        let &(offset, len) = self.entries.get((c as usize).wrapping_sub(0x80))?;
        Some(match (offset, len) {
            (MARK, _) => Class::Mark,
            (_, 0) => Class::Other,
            (o, l) => Class::Letter(&self.folded[o as usize..o as usize + l as usize]),
        })
    }
}

fn bmp_table() -> &'static BmpTable {
    static TABLE: std::sync::LazyLock<BmpTable> = std::sync::LazyLock::new(|| {
        let mut folded = String::new();
        let entries = (0x80u32..0x10000)
            .map(|cp| match char::from_u32(cp) {
                Some(c) if c.is_alphanumeric() => {
                    let start = folded.len();
                    fold_char(c, &mut folded);
                    (start as u32, (folded.len() - start) as u8)
                }
                Some(c) if is_combining_mark(c) => (MARK, 0),
                _ => (0, 0),
            })
            .collect();
        BmpTable { entries, folded }
    });
    &TABLE
}

/// Folds text for regexes: lowercase, accents dropped, whitespace runs collapsed.
pub fn fold_str(text: &str) -> String {
    fold(text).text
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

fn fold_into(text: &str, out: &mut String, mut origin: Option<&mut Vec<u32>>) {
    let bytes = text.as_bytes();
    let mut last_space = true;
    let mut i = 0;
    while i < bytes.len() {
        let before = out.len();
        let b = bytes[i];
        let width = if b < 0x80 {
            if b.is_ascii_whitespace() {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                out.push(char::from(b.to_ascii_lowercase()));
                last_space = false;
            }
            1
        } else {
            let c = text[i..].chars().next().expect("i is a char boundary");
            if c.is_whitespace() {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
            } else {
                last_space = false;
                fold_char(c, out);
            }
            c.len_utf8()
        };
        if let Some(o) = origin.as_deref_mut() {
            o.extend(std::iter::repeat_n(i as u32, out.len() - before));
        }
        i += width;
    }
}

/// One non-ASCII, non-space character: letters lose their accents and case (NFKD, combining
/// marks dropped, lowercase); anything else (curly quotes, dashes) is kept as it is.
fn fold_char(c: char, out: &mut String) {
    if !c.is_alphanumeric() && !is_combining_mark(c) {
        out.push(c);
        return;
    }
    // Decomposing one char directly avoids the buffering of the `nfkd()` iterator adapter.
    unicode_normalization::char::decompose_compatible(c, |d| {
        if !is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    });
}

const SNIPPET_BEFORE: usize = 80;
const SNIPPET_AFTER: usize = 160;
/// The most of a match itself a snippet shows, in bytes.
const SNIPPET_MAX_MATCH: usize = 200;

/// About 250 characters of `text` around `start..end`, cut at spaces, with `…` where cut.
pub fn snippet(text: &str, start: usize, end: usize) -> String {
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut from = floor(start.saturating_sub(SNIPPET_BEFORE));
    // A match is a word or a phrase, but a regex may span a whole text: the snippet stays
    // a snippet.
    let end = floor(end.min(start + SNIPPET_MAX_MATCH).min(text.len()));
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
    let mut s = String::with_capacity(to - from + 8);
    if from > 0 {
        s.push('…');
    }
    // Runs between whitespace are copied whole; each whitespace run becomes one space.
    for (i, run) in text[from..to]
        .split(char::is_whitespace)
        .filter(|r| !r.is_empty())
        .enumerate()
    {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(run);
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
    fn words_fold_and_keep_original_offsets() {
        let text = "Nicolás  MADURO’s “talks” — ﬁnance, 2026!";
        let w = words(text);
        let folded: Vec<&str> = (0..w.len()).map(|i| w.get(i)).collect();
        assert_eq!(
            folded,
            ["nicolas", "maduro", "s", "talks", "finance", "2026"]
        );
        let (s, e) = w.original(0, 1);
        assert_eq!(&text[s..e], "Nicolás  MADURO");
        let (s, e) = w.original(5, 5);
        assert_eq!(&text[s..e], "2026");
        assert_eq!(
            words("e\u{301}te").get(0),
            "ete",
            "decomposed accents stay inside the word"
        );
        assert!(words(" ,. ").is_empty());
    }
}
