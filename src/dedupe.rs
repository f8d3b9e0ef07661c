//! Identity: canonical URLs, item keys and alert ids, so the same article is known as the
//! same article on every poll and after every restart.

use sha2::{Digest, Sha256};
use url::Url;

/// Query parameters that track clicks and never change what a page shows.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "yclid",
    "igshid",
    "ref",
    "ref_src",
    "cmpid",
    "ito",
    "_hsenc",
    "_hsmi",
    "mkt_tok",
    "ns_mchannel",
    "ns_source",
    "ns_campaign",
    "ns_linkname",
    "ncid",
    "sr_share",
    "spm",
    "at_medium",
    "at_campaign",
];

/// Canonical form of a URL: lowercase scheme and host (the url crate does both), default
/// port and fragment dropped, tracking parameters (`utm_*` and the list above) removed.
/// Anything that does not parse is returned trimmed, unchanged.
pub fn canonical_url(raw: &str) -> String {
    match Url::parse(raw.trim()) {
        Ok(url) => canonical(url),
        Err(_) => raw.trim().to_string(),
    }
}

/// [`canonical_url`] of a parsed URL.
pub fn canonical(mut url: Url) -> String {
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url.into()
}

/// An item's identity within its source: its GUID/id, else its canonical link, else a hash
/// of its title and content. Never a generated id: feed-rs may invent a random one per parse.
pub fn item_key(guid: Option<&str>, link: Option<&str>, title: &str, content: &str) -> String {
    if let Some(g) = guid.map(str::trim).filter(|g| !g.is_empty()) {
        return format!("guid:{g}");
    }
    if let Some(l) = link.map(str::trim).filter(|l| !l.is_empty()) {
        return format!("url:{}", canonical_url(l));
    }
    format!("hash:{}", short_hash(&[title, content]))
}

/// A second identity for items whose GUIDs churn: the folded title and the publication day.
/// `None` without a title or a date (too weak to identify anything).
pub fn title_date_key(
    title: &str,
    published: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<String> {
    let day = published?.format("%Y-%m-%d").to_string();
    let words = crate::matcher::words(title);
    if words.is_empty() {
        return None;
    }
    let folded: Vec<&str> = (0..words.len()).map(|i| words.get(i)).collect();
    Some(short_hash(&[&folded.join(" "), &day]))
}

/// Words per shingle for near-duplicate fingerprints.
const SHINGLE: usize = 3;
/// Below this many words a text is too short to fingerprint reliably.
const MIN_FINGERPRINT_WORDS: usize = 25;

/// A 64-bit SimHash of the text's word 3-shingles (folded words), or `None` for texts too
/// short to tell copies from look-alikes. Copies of one story differ in a few bits.
pub fn fingerprint(text: &str) -> Option<u64> {
    // Each word hashed once; a shingle's hash mixes its three words' (order matters). Stable
    // across versions and platforms: fingerprints are stored.
    let hashes = word_hashes(text);
    if hashes.len() < MIN_FINGERPRINT_WORDS {
        return None;
    }
    // How many shingles set each bit, counted eight bits at a time in the byte lanes of
    // eight words (lane k of `lanes[j]` counts bit 8k + j), flushed before a lane can overflow.
    let mut ones = [0u32; 64];
    let mut lanes = [0u64; 8];
    let shingles = hashes.len() + 1 - SHINGLE;
    for (n, w) in hashes.windows(SHINGLE).enumerate() {
        let bits = mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42));
        for (j, lane) in lanes.iter_mut().enumerate() {
            *lane += (bits >> j) & 0x0101_0101_0101_0101;
        }
        if n % 255 == 254 || n + 1 == shingles {
            for (j, lane) in lanes.iter_mut().enumerate() {
                for k in 0..8 {
                    ones[8 * k + j] += ((*lane >> (8 * k)) & 0xff) as u32;
                }
                *lane = 0;
            }
        }
    }
    // A bit is set where more than half the shingles set it.
    Some(ones.iter().enumerate().fold(0u64, |acc, (b, &c)| {
        if 2 * c as usize > shingles {
            acc | 1 << b
        } else {
            acc
        }
    }))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// A stable 64-bit hash of every word (a run of letters and digits, lowercased), in one pass
/// without building the words: FNV-1a over the lowercased UTF-8, then mixed. Copies of a
/// story share their spelling, so no further folding is needed.
fn word_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len() / 6);
    let (mut h, mut in_word) = (FNV_OFFSET, false);
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            h = fnv(h, c.to_ascii_lowercase() as u8);
            in_word = true;
        } else if !c.is_ascii() && c.is_alphanumeric() {
            for lower in c.to_lowercase() {
                let mut buf = [0u8; 4];
                for &b in lower.encode_utf8(&mut buf).as_bytes() {
                    h = fnv(h, b);
                }
            }
            in_word = true;
        } else if in_word {
            out.push(mix(h));
            (h, in_word) = (FNV_OFFSET, false);
        }
    }
    if in_word {
        out.push(mix(h));
    }
    out
}

/// The SplitMix64 finalizer: every input bit reaches every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Bits that differ between two fingerprints.
pub fn distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Fingerprints at most this many bits apart may be the same story (unrelated texts differ
/// in about 32); [`containment`] then decides.
pub const SAME_STORY_BITS: u32 = 12;

/// Copies of one story: most shingles of the shorter text occur in the longer one (a
/// republished story with an added line or a trimmed footer still counts).
pub const SAME_STORY_CONTAINMENT: f64 = 0.7;

fn shingles(t: &str) -> std::collections::HashSet<String> {
    let w = crate::matcher::words(t);
    let list: Vec<&str> = (0..w.len()).map(|i| w.get(i)).collect();
    if list.len() < SHINGLE {
        return std::iter::once(list.join(" ")).collect();
    }
    list.windows(SHINGLE).map(|s| s.join(" ")).collect()
}

/// Word 3-shingle Jaccard similarity of two texts, from 0 (nothing shared) to 1 (same).
pub fn similarity(a: &str, b: &str) -> f64 {
    let (sa, sb) = (shingles(a), shingles(b));
    let union = sa.union(&sb).count();
    if union == 0 {
        return 1.0;
    }
    sa.intersection(&sb).count() as f64 / union as f64
}

/// Share of the smaller text's shingles found in the other, from 0 to 1.
pub fn containment(a: &str, b: &str) -> f64 {
    let (sa, sb) = (shingles(a), shingles(b));
    let smaller = sa.len().min(sb.len());
    if smaller == 0 {
        return 0.0;
    }
    sa.intersection(&sb).count() as f64 / smaller as f64
}

/// An edit is material when less than this share of the text's shingles stay the same: a
/// fixed typo or a changed timestamp stays above it.
pub const MATERIAL_EDIT_SIMILARITY: f64 = 0.85;

/// The stable id of the alert raised for one item and one watch: the same inputs always give
/// the same id, which receivers use to drop repeats.
pub fn alert_id(source: &str, item_key: &str, watch: &str) -> String {
    short_hash(&[source, item_key, watch])
}

/// 128 bits of SHA-256 over the parts, hex; parts are length-prefixed so ("ab","c") ≠ ("a","bc").
pub fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane-counted SimHash equals the plain one (a counter per bit), for texts long
    /// enough to flush the lanes several times.
    #[test]
    fn fingerprint_counts_like_the_plain_simhash() {
        let mut rng = fastrand::Rng::with_seed(3);
        for len in [25, 26, 257, 300, 1000] {
            let text: Vec<String> = (0..len).map(|_| format!("w{}", rng.u32(..50))).collect();
            let text = text.join(" ");
            let hashes: Vec<u64> = text
                .split(' ')
                .map(|w| w.bytes().fold(FNV_OFFSET, fnv))
                .map(mix)
                .collect();
            let mut counts = [0i64; 64];
            for w in hashes.windows(SHINGLE) {
                let bits = mix(w[0] ^ w[1].rotate_left(21) ^ w[2].rotate_left(42));
                for (b, c) in counts.iter_mut().enumerate() {
                    *c += if bits >> b & 1 == 1 { 1 } else { -1 };
                }
            }
            let plain = (0..64).fold(
                0u64,
                |acc, b| if counts[b] > 0 { acc | 1 << b } else { acc },
            );
            assert_eq!(fingerprint(&text), Some(plain), "{len} words");
        }
    }

    #[test]
    fn canonical_urls() {
        let cases = [
            (
                "https://ClashReport.com/world/a-1234?utm_source=rss&utm_medium=feed",
                "https://clashreport.com/world/a-1234",
            ),
            (
                "HTTP://Example.org:80/a?id=3&fbclid=x#top",
                "http://example.org/a?id=3",
            ),
            (
                "https://example.org:443/a?b=1&ref=home&c=2",
                "https://example.org/a?b=1&c=2",
            ),
            ("https://example.org:8443/a", "https://example.org:8443/a"),
            ("not a url", "not a url"),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_url(raw), want, "{raw}");
        }
    }

    #[test]
    fn item_keys_prefer_guid_then_link_then_hash() {
        assert_eq!(
            item_key(Some(" g1 "), Some("https://e.org/a"), "t", "c"),
            "guid:g1"
        );
        assert_eq!(
            item_key(Some(""), Some("https://e.org/a?utm_x=1"), "t", "c"),
            "url:https://e.org/a"
        );
        let a = item_key(None, None, "t", "c");
        assert!(a.starts_with("hash:"));
        assert_eq!(a, item_key(None, None, "t", "c"));
        assert_ne!(a, item_key(None, None, "tc", ""));
    }

    #[test]
    fn fingerprints_link_copies_not_different_stories() {
        let story = "Venezuelan President Nicolás Maduro struck a conciliatory but guarded tone toward the \
            United States, signaling openness to negotiations even as Washington's pressure campaign \
            intensifies. Speaking in an interview aired on Jan. 2, 2026, Maduro said Venezuela is prepared \
            to discuss agreements on drug trafficking, oil, and migration, while avoiding confirmation of a \
            reported US strike on Venezuelan territory days earlier.";
        let copy = format!("This story was first published by Clash Report. {story}");
        let other = "A US carrier strike group entered the Caribbean Sea on Thursday, the Navy said, in the \
            largest deployment to the region in decades. Officials declined to say how long the group would \
            remain, and did not comment on reports that a second group was being prepared for the region.";
        let (a, b, c) = (
            fingerprint(story).unwrap(),
            fingerprint(&copy).unwrap(),
            fingerprint(other).unwrap(),
        );
        assert!(
            distance(a, b) <= SAME_STORY_BITS,
            "copy is {} bits away",
            distance(a, b)
        );
        assert!(
            distance(a, c) > SAME_STORY_BITS,
            "other story is only {} bits away",
            distance(a, c)
        );
        assert!(containment(story, &copy) > 0.95);
        assert!(containment(story, other) < 0.1);
        assert_eq!(fingerprint("Too short to tell."), None);
    }

    #[test]
    fn material_edits() {
        let text = "Maduro said Venezuela is prepared to discuss agreements on drug trafficking, oil and migration with Washington this week.";
        let typo = text.replace("prepared", "prepard");
        let rewrite = "Maduro rejected any talks with Washington and ordered the army to the border on Friday.";
        assert!(similarity(text, &typo) > 0.6);
        assert!(similarity(text, rewrite) < MATERIAL_EDIT_SIMILARITY);
        assert_eq!(similarity(text, text), 1.0);
    }

    #[test]
    fn title_date_keys() {
        let day = chrono::DateTime::parse_from_rfc3339("2026-01-02T14:05:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let later = day + chrono::Duration::hours(3);
        assert_eq!(
            title_date_key("Maduro Signals Talks", Some(day)),
            title_date_key("maduro  signals talks!", Some(later))
        );
        assert_eq!(title_date_key("Maduro", None), None);
        assert_ne!(
            title_date_key("A", Some(day)),
            title_date_key("B", Some(day))
        );
    }

    #[test]
    fn alert_ids_are_stable_and_distinct() {
        assert_eq!(alert_id("s", "guid:1", "w"), alert_id("s", "guid:1", "w"));
        assert_ne!(alert_id("s", "guid:1", "w"), alert_id("s", "guid:1", "v"));
        assert_eq!(alert_id("s", "k", "w").len(), 32);
    }
}
