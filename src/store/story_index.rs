//! The recent stories' fingerprints in memory, for finding the story a new item joins
//! without comparing it with every story. Each backend keeps one per process, built from its
//! `stories` table (which stays the truth) on first use.

use rustc_hash::FxHashMap;

use crate::dedupe::{SAME_STORY_BITS, distance};

/// How far back a new item looks for a story to join.
pub(crate) const STORY_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// The recent stories' fingerprints, searchable for those near a new item's without comparing
/// against them all. Small indexes are scanned whole: exact, and fast enough below a few tens
/// of thousands. Larger ones are split into four 16-bit blocks, and a lookup probes each
/// block's table with the item's block and its 16 neighbours within one bit: two fingerprints
/// at most 7 bits apart always agree on some block up to one bit (four blocks with 2 or more
/// differences each make at least 8), and pairs 8 to 12 bits apart are found when their
/// differences leave some block nearly untouched (about 5 in 6 at 8 bits, 1 in 2 at 12).
/// Copies of one story are mostly a few bits apart; probing within 2 bits would find every
/// pair up to 11 bits, at 8 times the probes (cache misses): the 10,000-feed cold poll cycle
/// of `feedwatch-bench cycle` (200,000 new items) took 32 s with those probes and 17 s
/// with these.
#[derive(Debug, Default)]
pub(crate) struct StoryIndex {
    built_at: i64,
    /// The stories' fingerprints, apart from the rest so a whole scan reads only them.
    fingerprints: Vec<u64>,
    pub(super) entries: Vec<StoryEntry>,
    /// Built once the index is large enough to need it (megabytes it would cost small ones).
    blocks: Option<Box<Blocks>>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct StoryEntry {
    pub(super) id: i64,
    pub(super) last_seen: i64,
}

/// Per 16-bit block of the fingerprint: the entries having each value there.
type Blocks = [FxHashMap<u16, Vec<u32>>; 4];

/// The index keeps expired stories until it is rebuilt, at most this long after.
pub(super) const REBUILD_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Below this many stories a lookup compares with every one.
const SCAN_ALL_BELOW: usize = 30_000;

impl StoryIndex {
    /// An empty index, built at `now`.
    pub(super) fn new(now: i64) -> StoryIndex {
        StoryIndex {
            built_at: now,
            ..StoryIndex::default()
        }
    }

    /// Story `id` was seen again at `now`. Finds it by id, so the index must have been filled
    /// in ascending id order (as the PostgreSQL backend does).
    pub(super) fn touch(&mut self, id: i64, now: i64) {
        if let Ok(i) = self.entries.binary_search_by_key(&id, |e| e.id) {
            self.entries[i].last_seen = now;
        }
    }

    /// Whether to build it again: it keeps expired stories until then.
    pub(super) fn is_stale(&self, now: i64) -> bool {
        self.built_at < now - REBUILD_AFTER_MS
    }

    pub(super) fn push(&mut self, id: i64, fingerprint: u64, last_seen: i64) {
        let at = u32::try_from(self.entries.len()).expect("fewer than 2^32 stories");
        self.fingerprints.push(fingerprint);
        self.entries.push(StoryEntry { id, last_seen });
        match &mut self.blocks {
            Some(blocks) => {
                for (b, table) in blocks.iter_mut().enumerate() {
                    table.entry(block(fingerprint, b)).or_default().push(at);
                }
            }
            None if self.entries.len() >= SCAN_ALL_BELOW => {
                let mut blocks: Box<Blocks> = Box::default();
                for (at, &fingerprint) in self.fingerprints.iter().enumerate() {
                    for (b, table) in blocks.iter_mut().enumerate() {
                        table
                            .entry(block(fingerprint, b))
                            .or_default()
                            .push(at as u32);
                    }
                }
                self.blocks = Some(blocks);
            }
            None => {}
        }
    }

    /// Entries (positions) of live stories within [`SAME_STORY_BITS`] of `fp`, nearest first.
    pub(super) fn near(&self, fp: u64, since: i64) -> Vec<(u32, usize)> {
        let close = |i: usize| {
            let d = distance(self.fingerprints[i], fp);
            (d <= SAME_STORY_BITS && self.entries[i].last_seen >= since).then_some((d, i))
        };
        let mut near: Vec<(u32, usize)> = if let Some(blocks) = &self.blocks {
            let mut found = Vec::new();
            for (b, table) in blocks.iter().enumerate() {
                for key in within_one_bit(block(fp, b)) {
                    if let Some(list) = table.get(&key) {
                        found.extend(list.iter().filter_map(|&i| close(i as usize)));
                    }
                }
            }
            found
        } else {
            let mut found = Vec::new();
            within_bits(&self.fingerprints, fp, SAME_STORY_BITS, &mut found);
            found.into_iter().filter_map(close).collect()
        };
        near.sort_unstable();
        near.dedup();
        near
    }
}

/// Pushes the positions of `fps` within `max` bits of `fp`. Reads 16 fingerprints at a time
/// and looks closer only at groups with a hit (rare), so the compiler vectorises the loop; on
/// x86-64 CPUs with AVX2 it runs a copy compiled for them (the baseline target has no
/// `popcnt`, and counting bits without it took a sixth of a cold poll cycle's CPU).
fn within_bits(fps: &[u64], fp: u64, max: u32, found: &mut Vec<usize>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: the CPU has just been checked for the features the copy is compiled with.
        return unsafe { within_bits_avx2(fps, fp, max, found) };
    }
    within_bits_portable(fps, fp, max, found)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn within_bits_avx2(fps: &[u64], fp: u64, max: u32, found: &mut Vec<usize>) {
    within_bits_portable(fps, fp, max, found)
}

#[inline(always)]
fn within_bits_portable(fps: &[u64], fp: u64, max: u32, found: &mut Vec<usize>) {
    const GROUP: usize = 16;
    for (g, group) in fps.chunks(GROUP).enumerate() {
        // `min` rather than `any`: a loop that stops early is not vectorised.
        if group.iter().map(|&f| distance(f, fp)).min() <= Some(max) {
            found.extend(
                (g * GROUP..)
                    .zip(group)
                    .filter(|&(_, &f)| distance(f, fp) <= max)
                    .map(|(i, _)| i),
            );
        }
    }
}

fn block(fp: u64, b: usize) -> u16 {
    (fp >> (16 * b)) as u16
}

/// `key` and every value one bit away (17 in all).
fn within_one_bit(key: u16) -> impl Iterator<Item = u16> {
    std::iter::once(key).chain((0..16).map(move |i| key ^ (1 << i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_cover_one_bit() {
        let keys: std::collections::HashSet<u16> = within_one_bit(0xA5A5).collect();
        assert_eq!(keys.len(), 17);
        assert!(keys.iter().all(|k| (k ^ 0xA5A5).count_ones() <= 1));
    }

    #[test]
    fn scan_finds_exactly_the_near_fingerprints() {
        let mut rng = fastrand::Rng::with_seed(3);
        let fp = rng.u64(..);
        // Every distance from 0 to 64, in a length that leaves a partial last group.
        let fps: Vec<u64> = (0..1_000)
            .map(|i| {
                fp ^ (u64::MAX.checked_shr(64 - (i % 65)).unwrap_or(0)).rotate_left(rng.u32(..64))
            })
            .collect();
        let mut found = Vec::new();
        within_bits(&fps, fp, SAME_STORY_BITS, &mut found);
        let expected: Vec<usize> = (0..fps.len())
            .filter(|&i| distance(fps[i], fp) <= SAME_STORY_BITS)
            .collect();
        assert_eq!(found, expected);
        found.clear();
        within_bits_portable(&fps, fp, 3, &mut found);
        assert_eq!(
            found.len(),
            expected.iter().filter(|&&i| i % 65 <= 3).count()
        );
    }

    /// The block index finds what a full scan finds, for every distance it guarantees, and
    /// most pairs up to the story threshold.
    #[test]
    fn indexed_lookup_finds_every_near_story() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut index = StoryIndex::default();
        for id in 0..(SCAN_ALL_BELOW as i64 + 5_000) {
            index.push(id, rng.u64(..), 100);
        }
        let (mut far, mut far_found) = (0, 0);
        for round in 0..390 {
            let at = rng.usize(..index.entries.len());
            let mut fp = index.fingerprints[at];
            let flips = round % 13; // 0..=12 bits
            let mut flipped = 0u64;
            while flipped.count_ones() < flips {
                flipped |= 1 << rng.u32(..64);
            }
            fp ^= flipped;
            let near = index.near(fp, 0);
            let found = near.iter().any(|&(d, i)| i == at && d == flips);
            assert!(found || flips > 7, "story {at} at {flips} bits not found");
            far_found += usize::from(found && flips > 7);
            far += usize::from(flips > 7);
            let scan: Vec<usize> = (0..index.entries.len())
                .filter(|&i| distance(index.fingerprints[i], fp) <= 7)
                .collect();
            assert!(scan.iter().all(|i| near.iter().any(|&(_, j)| j == *i)));
            // Expired stories are never offered.
            assert!(index.near(fp, 101).is_empty());
        }
        assert!(
            far_found * 2 > far,
            "{far_found} of {far} pairs 8-12 bits apart found"
        );
    }
}
