//! Property test: cleaning, extraction, link finding and feed parsing never panic and stay
//! bounded on mutated versions of real-shaped pages and feeds (byte flips, cuts, spliced
//! fragments, deep nesting, binary junk, invalid UTF-8). Runs a bounded number of cases in
//! CI; `MUTATION_CASES=N MUTATION_SEED=S cargo test --release --test mutation` runs more.

use std::time::Instant;

use feedwatch::{clean, fetch, parse};

const PAGE: &[u8] = include_bytes!("fixtures/article.html");
const FEED: &[u8] = include_bytes!("fixtures/feed.xml");
const ATOM: &[u8] = include_bytes!("fixtures/syndicated.atom");

/// Pieces spliced into inputs: the shapes that break parsers.
const PIECES: &[&[u8]] = &[
    b"<div>",
    b"</div>",
    b"<p>",
    b"<script>",
    b"</script>",
    b"<style>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"&#x110000;",
    b"&#0;",
    b"&amp",
    b"&nbsp;",
    b"<!DOCTYPE x [<!ENTITY a \"&a;&a;\">]>",
    b"<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"\x00",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"<a href=\"javascript:alert(1)\">",
    b"<a href=\"http://[::1]:99999/\">",
    b"<table><tr><td>",
    b"<font face=x>",
    b"<amp-ad>",
    b"<svg><style>",
    // Elements the extractor treats apart: embeds (their quotes are entered), hidden
    // wrappers, chunks of one class.
    b"<blockquote class=\"tiktok-embed\"><blockquote>",
    b"<div class=\"social-embed\">",
    b"<div style=\"display:none\">",
    b"<div id=\"fixable_ad\"><h1>",
    b"<math><mi>",
];

fn mutate(rng: &mut fastrand::Rng, base: &[u8]) -> Vec<u8> {
    let mut out = base.to_vec();
    for _ in 0..rng.usize(1..6) {
        let at = rng.usize(..=out.len());
        match rng.u8(..7) {
            0 => {
                // Flip some bytes.
                for _ in 0..rng.usize(1..20) {
                    if !out.is_empty() {
                        let i = rng.usize(..out.len());
                        out[i] = rng.u8(..);
                    }
                }
            }
            1 => out.truncate(at),
            2 => {
                let piece = PIECES[rng.usize(..PIECES.len())];
                out.splice(at..at, piece.iter().copied());
            }
            3 => {
                // Duplicate a slice somewhere else.
                let from = rng.usize(..=out.len());
                let to = (from + rng.usize(..2000)).min(out.len());
                let slice = out[from..to].to_vec();
                out.splice(at..at, slice);
            }
            4 => {
                let depth = rng.usize(100..20_000);
                let open = if rng.bool() { "<div>" } else { "<b><i>" };
                out.splice(at..at, open.repeat(depth).into_bytes());
            }
            5 => {
                let junk: Vec<u8> = (0..rng.usize(1..4096)).map(|_| rng.u8(..)).collect();
                out.splice(at..at, junk);
            }
            _ => {
                let end = (at + rng.usize(..500)).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

#[test]
fn mutated_pages_and_feeds_never_panic() {
    let cases: usize = std::env::var("MUTATION_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    let seed: u64 = std::env::var("MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let base = url::Url::parse("https://example.org/feed.xml").unwrap();
    let started = Instant::now();
    for case in 0..cases {
        let source = [PAGE, FEED, ATOM][case % 3];
        let input = mutate(&mut rng, source);
        let html = fetch::decode_html(&input, None);
        let article = clean::extract_article(&html);
        // Extraction never invents text: its output is bounded by its input.
        assert!(
            article.text.len() <= html.len() + 64,
            "case {case} (seed {seed}): {} bytes of text from {} bytes",
            article.text.len(),
            html.len()
        );
        let fragment = clean::clean_fragment(&html);
        assert!(
            fragment.len() <= html.len() + 64,
            "case {case} (seed {seed})"
        );
        let _ = parse::page_links(&html, &base, Some("main"));
        let _ = parse::discover_feeds(&html, &base);
        // Errors are fine; panics are caught inside and reported as errors.
        if let Ok(feed) = parse::parse_feed(&input, &base) {
            for item in &feed.items {
                let _ = clean::clean_fragment(&item.html);
            }
        }
    }
    eprintln!(
        "{cases} mutated inputs (seed {seed}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
