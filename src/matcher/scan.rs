//! The hot path: one pass over an article's bytes that hashes each folded word as it goes
//! and looks it up among the first words (and prefixes) of every term, without copying the
//! text. Only the rare words that hit are then checked exactly.

use rustc_hash::FxHashMap;

use super::fold::{ASCII_FOLD, Class, classify};

/// Word hash: the same function over the folded bytes of terms and of text. Per byte only
/// a rotate and a xor (short dependency chain); a multiply spreads the bits at the end.
/// Collisions only cost an exact check.
#[inline]
fn mix(h: u64, b: u8) -> u64 {
    h.rotate_left(5) ^ u64::from(b)
}

#[inline]
fn finish(h: u64) -> u64 {
    h.wrapping_mul(0x517c_c1b7_2722_0a95)
}

pub(super) fn hash_word(folded: &str) -> u64 {
    finish(folded.bytes().fold(0, mix))
}

/// Bits in the first-word filter: 2^18 bits is 32 KiB, an L1 cache, and lets through about
/// 4% of words that are no term's first word when there are 10,000 terms.
const FILTER_BITS: u32 = 18;

/// Where to look words up: first words of terms by hash, and one-word prefixes by length.
pub(super) struct Index {
    pub first: FxHashMap<u64, Vec<usize>>,
    /// A one-hash Bloom filter over `first`'s keys: most words are rejected without a probe.
    filter: Vec<u64>,
    /// (prefix length in folded bytes, prefix hash → atoms), sorted by length.
    pub prefixes: Vec<(usize, FxHashMap<u64, Vec<usize>>)>,
}

impl Index {
    pub(super) fn new(
        first: FxHashMap<u64, Vec<usize>>,
        prefixes: Vec<(usize, FxHashMap<u64, Vec<usize>>)>,
    ) -> Index {
        let mut filter = vec![0u64; 1 << (FILTER_BITS - 6)];
        for &h in first.keys() {
            let bit = (h >> (64 - FILTER_BITS)) as usize;
            filter[bit >> 6] |= 1 << (bit & 63);
        }
        Index {
            first,
            filter,
            prefixes,
        }
    }

    #[inline]
    fn first_word(&self, h: u64) -> Option<&[usize]> {
        let bit = (h >> (64 - FILTER_BITS)) as usize;
        if self.filter[bit >> 6] & (1 << (bit & 63)) == 0 {
            return None;
        }
        self.first.get(&h).map(Vec::as_slice)
    }
}

/// A word whose hash hit: the atoms to check there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate<'a> {
    pub word: usize,
    pub orig_start: usize,
    pub atoms: &'a [usize],
}

/// The word being hashed.
#[derive(Default)]
struct Word {
    hash: u64,
    len: usize,
    start: usize,
    next_prefix: usize,
}

impl Word {
    /// Adds one folded byte; returns the atoms of a one-word prefix that this makes.
    #[inline]
    fn push<'i>(&mut self, b: u8, index: &'i Index) -> Option<&'i [usize]> {
        self.hash = mix(self.hash, b);
        self.len += 1;
        let mut found = None;
        while let Some((plen, map)) = index.prefixes.get(self.next_prefix) {
            if *plen > self.len {
                break;
            }
            if *plen == self.len {
                found = map.get(&finish(self.hash)).map(Vec::as_slice);
            }
            self.next_prefix += 1;
        }
        found
    }
}

/// Scans `text`, calling `hit` for every word whose hash (or prefix hash) is in the index.
/// Returns the number of words.
pub(super) fn scan<'i>(text: &str, index: &'i Index, mut hit: impl FnMut(Candidate<'i>)) -> usize {
    let bytes = text.as_bytes();
    let mut words = 0;
    let mut w = Word::default();
    let mut tmp = String::new();
    // Ends the current word, if any: looks it up and starts afresh.
    macro_rules! end_word {
        () => {
            if w.len > 0 {
                if let Some(atoms) = index.first_word(finish(w.hash)) {
                    hit(Candidate {
                        word: words,
                        orig_start: w.start,
                        atoms,
                    });
                }
                words += 1;
                #[allow(unused_assignments)]
                {
                    w = Word::default();
                }
            }
        };
    }
    let no_prefixes = index.prefixes.is_empty();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let f = ASCII_FOLD[b as usize];
            if f == 0 {
                end_word!();
                i += 1;
                continue;
            }
            if w.len == 0 {
                w.start = i;
            }
            if no_prefixes {
                // The common case: hash a run of ASCII letters in a tight loop.
                let mut h = w.hash;
                let run_start = i;
                while i < bytes.len() {
                    let f = ASCII_FOLD[bytes[i] as usize & 0x7f];
                    if f == 0 || bytes[i] >= 0x80 {
                        break;
                    }
                    h = mix(h, f);
                    i += 1;
                }
                w.hash = h;
                w.len += i - run_start;
                continue;
            }
            if let Some(atoms) = w.push(f, index) {
                hit(Candidate {
                    word: words,
                    orig_start: w.start,
                    atoms,
                });
            }
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("i is a char boundary");
        match classify(c, &mut tmp) {
            Class::Letter(f) => {
                if w.len == 0 {
                    w.start = i;
                }
                for &fb in f.as_bytes() {
                    if let Some(atoms) = w.push(fb, index) {
                        hit(Candidate {
                            word: words,
                            orig_start: w.start,
                            atoms,
                        });
                    }
                }
            }
            Class::Mark if w.len > 0 => {}
            Class::Mark | Class::Other => end_word!(),
        }
        i += c.len_utf8();
    }
    end_word!();
    words
}
