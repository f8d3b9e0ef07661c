//! Watches compiled into one matcher: whole words and phrases, case- and accent-insensitive,
//! over the title and the clean text. One Aho-Corasick automaton holds every term of every
//! watch, so the cost of a pass barely grows with the number of watches.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::model::Hit;

/// What a watch asks for, as the matcher needs it.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    pub name: String,
    pub terms: Vec<String>,
    pub exclude: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MatcherError {
    #[error("watch \"{watch}\": {message}")]
    Term { watch: String, message: String },
    #[error("cannot build the matcher: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

#[derive(Debug, Clone, Copy)]
enum Role {
    Term(usize),
    Exclude,
}

/// All watches, compiled.
pub struct Matcher {
    watches: Vec<WatchSpec>,
    automaton: Option<AhoCorasick>,
    /// Pattern id → every (watch, role) that uses this folded pattern.
    uses: Vec<Vec<(usize, Role)>>,
}

/// Checks a single term: it must contain at least one letter or digit.
pub fn check_term(term: &str) -> Result<(), String> {
    if fold(term).text.chars().any(char::is_alphanumeric) {
        Ok(())
    } else {
        Err(format!("term \"{term}\" has no letters or digits to match"))
    }
}

impl Matcher {
    pub fn new(watches: Vec<WatchSpec>) -> Result<Matcher, MatcherError> {
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut uses: Vec<Vec<(usize, Role)>> = Vec::new();
        for (w, watch) in watches.iter().enumerate() {
            let roles = watch
                .terms
                .iter()
                .enumerate()
                .map(|(i, t)| (t, Role::Term(i)))
                .chain(watch.exclude.iter().map(|t| (t, Role::Exclude)));
            for (term, role) in roles {
                check_term(term).map_err(|message| MatcherError::Term {
                    watch: watch.name.clone(),
                    message,
                })?;
                let folded = fold(term).text.trim().to_string();
                let id = *ids.entry(folded.clone()).or_insert_with(|| {
                    patterns.push(folded);
                    uses.push(Vec::new());
                    patterns.len() - 1
                });
                uses[id].push((w, role));
            }
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)?,
            )
        };
        Ok(Matcher {
            watches,
            automaton,
            uses,
        })
    }

    pub fn watches(&self) -> &[WatchSpec] {
        &self.watches
    }

    /// Matches one article; returns a hit per watch that matched and was not excluded.
    pub fn match_article(&self, title: &str, text: &str) -> Vec<Hit> {
        let Some(ac) = &self.automaton else {
            return Vec::new();
        };
        let n = self.watches.len();
        let mut matched: Vec<Vec<bool>> = self
            .watches
            .iter()
            .map(|w| vec![false; w.terms.len()])
            .collect();
        let mut excluded = vec![false; n];
        // First match position in the text (folded offsets) per watch, for the snippet.
        let mut first_in_text: Vec<Option<(usize, usize)>> = vec![None; n];

        let title_f = fold(title);
        let text_f = fold(text);
        for (folded, is_text) in [(&title_f, false), (&text_f, true)] {
            let hay = folded.text.as_str();
            for m in ac.find_overlapping_iter(hay) {
                if !is_word_boundary(hay, m.start(), m.end()) {
                    continue;
                }
                for &(w, role) in &self.uses[m.pattern().as_usize()] {
                    match role {
                        Role::Exclude => excluded[w] = true,
                        Role::Term(i) => {
                            matched[w][i] = true;
                            if is_text && first_in_text[w].is_none_or(|(s, _)| m.start() < s) {
                                first_in_text[w] = Some((m.start(), m.end()));
                            }
                        }
                    }
                }
            }
        }

        let mut hits = Vec::new();
        for (w, watch) in self.watches.iter().enumerate() {
            if excluded[w] || !matched[w].iter().any(|&b| b) {
                continue;
            }
            let terms = watch
                .terms
                .iter()
                .zip(&matched[w])
                .filter(|(_, m)| **m)
                .map(|(t, _)| t.clone())
                .collect();
            let snippet = match first_in_text[w] {
                Some((s, e)) => snippet(text, text_f.original(s), text_f.original(e)),
                None => snippet(text, 0, 0),
            };
            hits.push(Hit {
                watch: watch.name.clone(),
                terms,
                snippet,
            });
        }
        hits
    }
}

/// Where `terms` occur in `text` as whole words (byte ranges of the original text, sorted,
/// not overlapping): for highlighting a snippet.
pub fn find_terms(text: &str, terms: &[String]) -> Vec<std::ops::Range<usize>> {
    let folded = fold(text);
    let mut found: Vec<std::ops::Range<usize>> = Vec::new();
    for term in terms {
        let needle = fold(term).text.trim().to_string();
        if needle.is_empty() {
            continue;
        }
        for (start, _) in folded.text.match_indices(&needle) {
            let end = start + needle.len();
            if is_word_boundary(&folded.text, start, end) {
                found.push(folded.original(start)..folded.original(end));
            }
        }
    }
    found.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut merged: Vec<std::ops::Range<usize>> = Vec::new();
    for r in found {
        match merged.last_mut() {
            Some(last) if r.start < last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// Text lowercased, accents removed and whitespace runs collapsed, with a map back to the
/// byte offsets of the original.
pub struct Folded {
    pub text: String,
    origin: Vec<u32>,
    original_len: usize,
}

impl Folded {
    /// Byte offset in the original text of a byte offset in the folded text.
    fn original(&self, folded_offset: usize) -> usize {
        self.origin
            .get(folded_offset)
            .map_or(self.original_len, |&o| o as usize)
    }
}

/// Folds text for matching: NFKD, combining marks dropped, lowercase, whitespace collapsed.
pub fn fold(text: &str) -> Folded {
    let mut out = String::with_capacity(text.len());
    let mut origin = Vec::with_capacity(text.len());
    let mut last_space = true;
    for (offset, c) in text.char_indices() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                origin.push(offset as u32);
                last_space = true;
            }
            continue;
        }
        last_space = false;
        let mut push = |ch: char| {
            let before = out.len();
            out.push(ch);
            origin.extend(std::iter::repeat_n(offset as u32, out.len() - before));
        };
        if c.is_ascii() {
            push(c.to_ascii_lowercase());
            continue;
        }
        for d in std::iter::once(c).nfkd() {
            if is_combining_mark(d) {
                continue;
            }
            for l in d.to_lowercase() {
                push(l);
            }
        }
    }
    Folded {
        text: out,
        origin,
        original_len: text.len(),
    }
}

/// A match counts only as whole words: no letter or digit touches either end.
/// `start` and `end` are char boundaries: patterns are whole UTF-8 strings.
fn is_word_boundary(hay: &str, start: usize, end: usize) -> bool {
    let before = hay[..start].chars().next_back();
    let after = hay[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
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
    let body: Vec<&str> = text[from..to].split_whitespace().collect();
    let mut s = body.join(" ");
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

    fn matcher(terms: &[&str], exclude: &[&str]) -> Matcher {
        Matcher::new(vec![WatchSpec {
            name: "w".into(),
            terms: terms.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }])
        .unwrap()
    }

    #[test]
    fn whole_words_case_and_accents() {
        // (terms, exclude, title, text, matched terms)
        type Case<'a> = (
            &'a [&'a str],
            &'a [&'a str],
            &'a str,
            &'a str,
            Option<&'a [&'a str]>,
        );
        let cases: &[Case] = &[
            (
                &["nicolas maduro"],
                &[],
                "",
                "President Nicolás Maduro said",
                Some(&["nicolas maduro"]),
            ),
            (
                &["Nicolás Maduro"],
                &[],
                "",
                "NICOLAS   MADURO\nspoke",
                Some(&["Nicolás Maduro"]),
            ),
            (&["oil"], &[], "", "the toilet was broken", None),
            (&["oil"], &[], "", "oil, and migration", Some(&["oil"])),
            (&["Venezuela"], &[], "", "Venezuelan officials", None),
            (
                &["Venezuela"],
                &[],
                "",
                "Venezuela’s oil",
                Some(&["Venezuela"]),
            ),
            (
                &["Venezuela"],
                &[],
                "Venezuela talks",
                "nothing here",
                Some(&["Venezuela"]),
            ),
            (
                &["Venezuela", "Caracas"],
                &["baseball"],
                "",
                "Caracas baseball team in Venezuela",
                None,
            ),
            (
                &["Venezuela", "Caracas", "Maduro"],
                &[],
                "",
                "Maduro in Caracas",
                Some(&["Caracas", "Maduro"]),
            ),
            (&["straße"], &[], "", "Die Strasse ist", None),
            (&["ﬁnance"], &[], "", "finance news", Some(&["ﬁnance"])),
        ];
        for (terms, exclude, title, text, want) in cases {
            let hits = matcher(terms, exclude).match_article(title, text);
            let got: Option<Vec<&str>> = hits
                .first()
                .map(|h| h.terms.iter().map(String::as_str).collect());
            assert_eq!(got.as_deref(), *want, "terms {terms:?} on {text:?}");
        }
    }

    #[test]
    fn shared_terms_across_watches() {
        let m = Matcher::new(vec![
            WatchSpec {
                name: "a".into(),
                terms: vec!["oil".into()],
                exclude: vec![],
            },
            WatchSpec {
                name: "b".into(),
                terms: vec!["OIL".into()],
                exclude: vec!["price".into()],
            },
        ])
        .unwrap();
        let hits = m.match_article("", "oil price");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].watch, "a");
    }

    #[test]
    fn snippet_surrounds_first_match_in_original_text() {
        let text = format!(
            "{} Nicolás Maduro said {}",
            "word ".repeat(40),
            "more ".repeat(60)
        );
        let hits = matcher(&["nicolas maduro"], &[]).match_article("", &text);
        let s = &hits[0].snippet;
        assert!(s.contains("Nicolás Maduro said"), "{s}");
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.chars().count() < 260, "{s}");
    }

    #[test]
    fn rejects_terms_without_words() {
        assert!(check_term("  ").is_err());
        assert!(check_term("--").is_err());
        assert!(check_term("C3PO").is_ok());
    }
}
