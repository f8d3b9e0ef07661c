//! Punctuation that tells prose from labels and menus, in the scripts pages are written in:
//! a Chinese or Japanese sentence ends in `。`, an Arabic question in `؟`, a Hindi sentence in
//! `।`.

/// Commas of Latin, Arabic, and the ideographic and full-width ones of Chinese and Japanese.
pub(super) const COMMAS: [char; 4] = [',', '،', '、', '，'];

/// Full stops of Latin, and the ideographic and full-width ones of Chinese and Japanese.
const FULL_STOPS: [char; 3] = ['.', '。', '．'];

/// Commas and full stops a block of prose has at least: a list of links or tags has fewer.
const PROSE_MARKS: usize = 5;

/// Whether `text` shows itself as prose by its commas and full stops, in any script.
pub(super) fn has_prose_marks(text: &str) -> bool {
    let mark = |c: char| COMMAS.contains(&c) || FULL_STOPS.contains(&c);
    text.matches(mark).nth(PROSE_MARKS - 1).is_some()
}

/// The marks that end a sentence: the full stops, question and exclamation marks (Latin,
/// full-width, Arabic), the Urdu full stop and the Devanagari danda.
const SENTENCE_ENDS: [char; 10] = ['.', '。', '．', '!', '?', '！', '？', '؟', '۔', '।'];

/// Whether `text` ends with a mark that ends a sentence, in any script (white space at the
/// end aside). Closing quotes and other marks that may follow one are the caller's.
pub(super) fn ends_with_stop(text: &str) -> bool {
    text.trim_end().ends_with(SENTENCE_ENDS)
}

#[cfg(test)]
mod tests {
    use super::ends_with_stop;

    #[test]
    fn sentences_end_in_the_marks_of_their_script() {
        for sentence in [
            "The talks resumed.",
            "Did they?",
            "今天早上东京发生了地震。",
            "本当ですか？",
            "هل انتهت المحادثات؟",
            "बैठक आज हुई।",
            "Done! ",
        ] {
            assert!(ends_with_stop(sentence), "{sentence}");
        }
        for label in ["Related stories", "东京新闻", "Share:", ""] {
            assert!(!ends_with_stop(label), "{label}");
        }
    }
}
