//! Benchmarks (never part of the test suite). `cargo run --release --bin feedwatch-bench -- help`.
//!
//! Each subcommand prints a Markdown table row per measurement; corpora paths are arguments.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use feedwatch::matcher::{Matcher, Scope, WatchSpec};

mod cluster;
mod cycle;
mod web;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let corpora = args
        .iter()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/corpora"));
    let sizes: Vec<usize> = match std::env::var("FEEDS") {
        Ok(v) => v
            .split(',')
            .map(|n| n.parse().expect("FEEDS: numbers"))
            .collect(),
        Err(_) => vec![1_000, 10_000],
    };
    match args.first().map(String::as_str) {
        Some("match") => {
            bench_match(&corpora);
        }
        Some("store") => {
            bench_store(&corpora);
        }
        Some("deliver") => bench_deliver(),
        Some("extract") => {
            let figures = bench_extract(&corpora);
            update_extract_section(&figures);
            update_extract_results(&figures);
        }
        Some("parse") if args.iter().any(|a| a == "--list") => list_parse(&corpora),
        Some("parse") => {
            bench_parse(&corpora);
        }
        Some("cycle") => {
            bench_cycle(&sizes);
            println!();
            bench_cluster(sizes.iter().copied().max().unwrap_or(10_000));
        }
        Some("cluster") => {
            bench_cluster(sizes.iter().copied().max().unwrap_or(10_000));
        }
        Some("web") => {
            web::bench_web();
        }
        Some("all") => bench_all(&corpora, &sizes),
        _ => {
            eprintln!(
                "usage: feedwatch-bench <all|parse [--list]|extract|match|store|cycle|cluster|deliver|web> [CORPORA_DIR (default ../shared/corpora)]"
            );
            std::process::exit(2);
        }
    }
}

/// Article texts: the Zyte set's ground-truth bodies (real news prose).
fn article_texts(corpora: &Path) -> Vec<String> {
    let dir = corpora.join("extraction/zyte/expected");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// A deterministic generator (xorshift), so every run uses the same terms.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `n` watch terms, 20 per watch: one in `every` a word of the corpus (so some match, as
/// real watches do), the rest invented names (which mostly do not).
fn watches(n: usize, every: usize, vocabulary: &[&str]) -> Vec<WatchSpec> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let syllables = [
        "ka", "ro", "mi", "zu", "tel", "van", "dor", "ish", "por", "lek", "sa", "qui", "bran", "ot",
    ];
    let mut terms = Vec::with_capacity(n);
    for i in 0..n {
        if i % every == 0 {
            terms.push(vocabulary[rng.below(vocabulary.len())].to_string());
        } else {
            let len = 2 + rng.below(3);
            let word: String = (0..len)
                .map(|_| syllables[rng.below(syllables.len())])
                .collect();
            terms.push(if i % 3 == 0 {
                format!("{word} {}", syllables[rng.below(syllables.len())])
            } else {
                word
            });
        }
    }
    terms
        .chunks(20)
        .enumerate()
        .map(|(i, chunk)| WatchSpec {
            name: format!("w{i}"),
            terms: chunk.to_vec(),
            ..Default::default()
        })
        .collect()
}

/// Returns MB/s with 10,000 terms and typical hits.
fn bench_match(corpora: &Path) -> f64 {
    let texts = article_texts(corpora);
    let bytes: usize = texts.iter().map(String::len).sum();
    let all = texts.join(" ");
    let mut vocabulary: Vec<&str> = all
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() >= 7)
        .collect();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    println!(
        "| terms | watches | corpus words among terms | watch hits per article | MB/s (1 core) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let sizes: Vec<usize> = match std::env::var("TERMS") {
        Ok(v) => vec![v.parse().expect("TERMS is a number")],
        Err(_) => vec![10, 1_000, 10_000],
    };
    let mut typical_10k = 0.0;
    for (n, every) in sizes.into_iter().flat_map(|n| [(n, 10), (n, 100)]) {
        let specs = watches(n, every, &vocabulary);
        let count = specs.len();
        let matcher = Matcher::new(specs).expect("generated watches compile");
        let scope = Scope {
            source: "bench",
            tags: &[],
        };
        let mut hits = 0;
        let rounds = 40;
        let start = Instant::now();
        for _ in 0..rounds {
            for t in &texts {
                hits += matcher.match_article(scope, "", t).len();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let mb_s = (bytes * rounds) as f64 / secs / 1e6;
        let per_article = hits as f64 / rounds as f64 / texts.len() as f64;
        println!("| {n} | {count} | 1 in {every} | {per_article:.2} | {mb_s:.0} |");
        if n == 10_000 && every == 100 {
            typical_10k = mb_s;
        }
    }
    println!(
        "\n{} articles, {:.1} MB of text, 40 rounds",
        texts.len(),
        bytes as f64 / 1e6
    );
    typical_10k
}

/// Store throughput with dedupe: new items committed (identity checks, fingerprint, story
/// lookup, one transaction per 20-item poll), then the same items classified as known.
/// Returns (new items/s committed, known items/s classified).
fn bench_store(corpora: &Path) -> (f64, f64) {
    use feedwatch::store::{Identity, NewItem, Store};
    let texts = article_texts(corpora);
    let vocabulary: Vec<String> = texts
        .join(" ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let dir = tempfile_dir();
    let store = Store::open(&dir.join("bench.db")).unwrap();
    let src = one_source(&store);
    let n = 20_000;
    let mut rng = Rng(42);
    let mut items: Vec<NewItem> = Vec::with_capacity(n);
    for i in 0..n {
        // One in ten is another outlet's copy of an earlier story: it joins that story.
        let text = if i % 10 == 9 {
            format!("Republished. {}", items[rng.below(i)].text)
        } else {
            (0..300)
                .map(|_| vocabulary[rng.below(vocabulary.len())].as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let id = Identity {
            key: format!("guid:item-{i}"),
            guid: Some(format!("item-{i}")),
            url: Some(format!("https://example.org/a/{i}")),
            title_date: Some(format!("td-{i}")),
            raw_hash: format!("h{i}"),
        };
        let fingerprint = feedwatch::dedupe::fingerprint(&text);
        items.push(NewItem {
            id,
            title: format!("Item {i}"),
            published_at: Some(i as i64),
            text,
            fingerprint,
            alerts: Vec::new(),
        });
    }
    let start = Instant::now();
    for chunk in items.chunks(20) {
        store.commit_poll(src, 1, chunk, &[]).unwrap();
    }
    let insert = n as f64 / start.elapsed().as_secs_f64();
    let ids: Vec<Identity> = items.iter().map(|i| i.id.clone()).collect();
    let start = Instant::now();
    for chunk in ids.chunks(20) {
        let seen = store.classify(src, chunk).unwrap();
        assert!(seen.iter().all(|s| *s == feedwatch::store::Seen::Unchanged));
    }
    let known = n as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for item in items.iter().take(2000) {
        std::hint::black_box(feedwatch::dedupe::fingerprint(&item.text));
    }
    let fp = 2000.0 / start.elapsed().as_secs_f64();
    println!("| store (one core, 20 items per poll) | items/s |\n|---|---:|");
    println!(
        "| new items committed (identity, story lookup, 10% syndicated copies) | {insert:.0} |"
    );
    println!("| known items classified and skipped | {known:.0} |");
    println!("| fingerprints of 300-word texts | {fp:.0} |");
    let _ = std::fs::remove_dir_all(&dir);
    (insert, known)
}

/// Delivery throughput: pending alerts drained by the dispatcher to a local webhook receiver
/// and a local SMTP server (both minimal, in this process, answering at once), each delivery
/// recorded in the store as in production.
fn bench_deliver() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        feedwatch::init_tls();
        let http = local_http().await;
        let smtp = local_smtp().await;
        println!("| notifier | alerts | alerts/s |\n|---|---:|---:|");
        for (kind, n) in [("webhook", 5000usize), ("email", 2000)] {
            let dir = tempfile_dir();
            let target = if kind == "webhook" {
                format!("url = \"http://{http}/hook\"\n")
            } else {
                format!(
                    "smtp = \"smtp://{smtp}\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n"
                )
            };
            let cfg = format!(
                "[store]\npath = \"{}\"\n[[notifier]]\nname = \"n\"\ntype = \"{kind}\"\n{target}",
                dir.join("d.db").display()
            );
            let config = feedwatch::config::Config::parse(&cfg, &dir.join("c.toml")).unwrap();
            let store = feedwatch::app::open_store(&config).unwrap();
            let rt = feedwatch::app::Runtime::build(&config, store.clone()).unwrap();
            fill_outbox(&store, n);
            let start = Instant::now();
            let report = rt.deliver_due().await.unwrap();
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(report.delivered, n, "{report:?}");
            println!("| {kind} | {n} | {:.0} |", n as f64 / secs);
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}

/// A store's one source (for benchmarks that need items to belong somewhere).
fn one_source(store: &feedwatch::store::Store) -> i64 {
    let spec = feedwatch::store::SourceSpec {
        name: "s".into(),
        kind: feedwatch::model::SourceType::Feed,
        url: "http://e.org/f".into(),
        interval_ms: 1000,
    };
    store.sync_sources(&[spec], 0, 0).unwrap();
    store.active_sources().unwrap()[0].id
}

fn fill_outbox(store: &feedwatch::store::Store, n: usize) {
    use feedwatch::model::{Alert, AlertKind};
    use feedwatch::store::{Identity, NewAlert, NewItem};
    let src = one_source(store);
    let items: Vec<NewItem> = (0..n)
        .map(|i| {
            let alert = Alert {
                id: format!("alert-{i}"),
                kind: AlertKind::New,
                watch: "w".into(),
                watches: vec!["w".into()],
                source: "s".into(),
                title: format!("Maduro signals talks, part {i}"),
                url: Some(format!("https://example.org/a/{i}")),
                published: Some("2026-01-02T14:05:00Z".into()),
                matched: vec!["Maduro".into()],
                snippet: "…Venezuelan President Nicolás Maduro said Venezuela is open to talks with the United States…".into(),
            };
            NewItem {
                id: Identity { key: format!("k{i}"), raw_hash: String::new(), ..Default::default() },
                title: alert.title.clone(),
                text: String::new(),
                alerts: vec![NewAlert { alert, notifier: "n".into() }],
                ..Default::default()
            }
        })
        .collect();
    for chunk in items.chunks(100) {
        store.commit_poll(src, 0, chunk, &[]).unwrap();
    }
}

/// An HTTP/1.1 server that answers every request 200 at once, keeping connections alive.
async fn local_http() -> std::net::SocketAddr {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if r.read_exact(&mut body).await.is_err() || w.write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// An SMTP server that accepts every message at once.
async fn local_smtp() -> std::net::SocketAddr {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut r = BufReader::new(r);
                if w.write_all(b"220 bench ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut line = String::new();
                let mut in_data = false;
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let reply: &[u8] = if in_data {
                        if line != ".\r\n" {
                            continue;
                        }
                        in_data = false;
                        b"250 queued\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") | Some("HELO") => b"250 bench\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            Some("QUIT") => {
                                let _ = w.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        }
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Every file of the feed corpora, sorted.
fn feed_files(corpora: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["feeds/feedjira-sample-feeds", "feeds/node-feedparser-feeds"] {
        let dir = corpora.join(dir);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        files.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

/// One JSON line per corpus file (entries and first title), for `bench/compare_feedparser.py`.
fn list_parse(corpora: &Path) {
    let base = url::Url::parse("http://localhost/feed").unwrap();
    for path in feed_files(corpora) {
        let body = std::fs::read(&path).unwrap();
        let (entries, first) = match feedwatch::parse::parse_feed(&body, &base) {
            Ok(f) => (f.items.len(), f.items.first().map(|i| i.title.clone())),
            Err(_) => (0, None),
        };
        let name = path
            .strip_prefix(corpora)
            .unwrap_or(&path)
            .display()
            .to_string();
        println!(
            "{}",
            serde_json::json!({"file": name, "entries": entries, "first_title": first})
        );
    }
}

struct ParseFigures {
    mb_s: f64,
    feedparser_mb_s: f64,
}

/// Feed parsing throughput over the corpora on one core, and Python feedparser's on the same
/// files (CPU time, in a venv the bench makes).
fn bench_parse(corpora: &Path) -> ParseFigures {
    let files = feed_files(corpora);
    let base = url::Url::parse("http://localhost/feed").unwrap();
    let bodies: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let rounds = 5;
    let start = Instant::now();
    let mut ok = 0;
    for _ in 0..rounds {
        ok = 0;
        for body in &bodies {
            ok += usize::from(feedwatch::parse::parse_feed(body, &base).is_ok());
        }
    }
    let secs = start.elapsed().as_secs_f64() / rounds as f64;
    let mb_s = bytes as f64 / secs / 1e6;
    let python = venv_python(&["feedparser"]);
    let out = std::process::Command::new(python)
        .arg(bench_dir().join("py_parse.py"))
        .args(&files)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "py_parse.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fp: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("py_parse.py prints JSON");
    let feedparser_mb_s = bytes as f64 / fp["cpu_s"].as_f64().unwrap() / 1e6;
    println!(
        "| parser | feeds | parsed | MB | feeds/s | MB/s (1 core) |\n|---|---:|---:|---:|---:|---:|"
    );
    println!(
        "| feedwatch | {} | {ok} | {:.1} | {:.0} | {mb_s:.1} |",
        bodies.len(),
        bytes as f64 / 1e6,
        bodies.len() as f64 / secs,
    );
    println!(
        "| feedparser (Python) | {} | | {:.1} | {:.0} | {feedparser_mb_s:.2} |",
        bodies.len(),
        bytes as f64 / 1e6,
        bodies.len() as f64 / fp["cpu_s"].as_f64().unwrap(),
    );
    println!(
        "\nfeedwatch parses {:.0}x as fast as feedparser",
        mb_s / feedparser_mb_s
    );
    ParseFigures {
        mb_s,
        feedparser_mb_s,
    }
}

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench")
}

/// The extraction sets, each scored with its metric (`snippets` for trafilatura-eval, whose
/// pages have no full ground truth).
const EXTRACTION_SETS: [(&str, &str); 5] = [
    ("zyte", "zyte"),
    ("wcxb-dev", "zyte"),
    ("dragnet", "zyte"),
    ("readability", "zyte"),
    ("trafilatura-eval", "snippets"),
];

/// What separates an article from its comment thread in the expected texts of the
/// dragnet set (as merged from the dragnet data's content and comment annotations).
const COMMENTS_MARKER: &str = "!@#$%^&*() COMMENTS";

/// One set's figures: pages, bytes, feedwatch's median time and F1, trafilatura's F1.
struct SetFigures {
    name: &'static str,
    pages: usize,
    bytes: usize,
    secs: f64,
    f1: f64,
    trafilatura_f1: f64,
    /// For a set whose expected texts carry readers' comments: the F1s (feedwatch's,
    /// trafilatura's) against the article alone, the text before [`COMMENTS_MARKER`].
    /// feedwatch leaves comments out on purpose (a watch must not alert on a reader's
    /// comment), as the bench runs trafilatura.
    article_only: Option<(f64, f64)>,
}

struct ExtractFigures {
    /// Pooled over every set: bytes / seconds, one core.
    mb_s: f64,
    trafilatura_mb_s: f64,
    sets: Vec<SetFigures>,
    /// The mean of the sets' F1s.
    macro_f1: f64,
    trafilatura_macro_f1: f64,
    /// The same with each set that carries comments scored on its articles alone.
    article_macro_f1: f64,
    trafilatura_article_macro_f1: f64,
    /// The per-set table, as printed.
    table: String,
}

/// Extraction over the five sets of `extraction/`: every page through `extract_article` on
/// one core (the median of three passes), one text file per page, each set scored by
/// `../shared/tools/score_extraction.py` with its metric; then trafilatura (Python, in a venv
/// the bench makes) on the same pages, scored the same way. `KEEP=DIR` keeps the predictions
/// and per-page score tables there, by set, to study failures.
fn bench_extract(corpora: &Path) -> ExtractFigures {
    let work = tempfile_dir();
    let keep = std::env::var_os("KEEP").map(PathBuf::from);
    let python = venv_python(&["lxml_html_clean", "trafilatura"]);
    let scorer = corpora.join("../tools/score_extraction.py");
    let mut sets = Vec::new();
    let mut trafilatura_secs = 0.0;
    for (name, metric) in EXTRACTION_SETS {
        let dataset = corpora.join("extraction").join(name);
        let bodies = read_pages(&dataset.join("html"));
        let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
        let out = work.join(name);
        std::fs::create_dir_all(&out).unwrap();
        let (secs, texts) = time_extraction(&bodies);
        for ((id, _), text) in bodies.iter().zip(&texts) {
            std::fs::write(out.join(format!("{id}.txt")), text).unwrap();
        }
        let per_page = keep.as_ref().map(|k| k.join(format!("{name}.tsv")));
        let f1 = score(&scorer, &dataset, &out, metric, per_page);

        let traf_out = work.join(format!("{name}-trafilatura"));
        let run = std::process::Command::new(&python)
            .arg(bench_dir().join("py_extract.py"))
            .arg(dataset.join("html"))
            .arg(&traf_out)
            .output()
            .expect("python runs");
        assert!(
            run.status.success(),
            "py_extract.py failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let t: serde_json::Value =
            serde_json::from_slice(&run.stdout).expect("py_extract.py prints JSON");
        trafilatura_secs += t["cpu_s"].as_f64().unwrap();
        let trafilatura_f1 = score(&scorer, &dataset, &traf_out, metric, None);
        let article_only =
            articles_only(&dataset, &work.join(format!("{name}-articles"))).map(|articles| {
                (
                    score(&scorer, &articles, &out, metric, None),
                    score(&scorer, &articles, &traf_out, metric, None),
                )
            });
        if let Some(dir) = &keep {
            let pred = dir.join("pred").join(name);
            let _ = std::fs::remove_dir_all(&pred);
            std::fs::create_dir_all(pred.parent().unwrap()).unwrap();
            std::fs::rename(&out, pred).unwrap();
        }
        sets.push(SetFigures {
            name,
            pages: bodies.len(),
            bytes,
            secs,
            f1,
            trafilatura_f1,
            article_only,
        });
    }
    let _ = std::fs::remove_dir_all(&work);
    let bytes: usize = sets.iter().map(|s| s.bytes).sum();
    let secs: f64 = sets.iter().map(|s| s.secs).sum();
    let n = sets.len() as f64;
    let figures = ExtractFigures {
        mb_s: bytes as f64 / secs / 1e6,
        trafilatura_mb_s: bytes as f64 / trafilatura_secs / 1e6,
        macro_f1: sets.iter().map(|s| s.f1).sum::<f64>() / n,
        trafilatura_macro_f1: sets.iter().map(|s| s.trafilatura_f1).sum::<f64>() / n,
        article_macro_f1: sets
            .iter()
            .map(|s| s.article_only.map_or(s.f1, |a| a.0))
            .sum::<f64>()
            / n,
        trafilatura_article_macro_f1: sets
            .iter()
            .map(|s| s.article_only.map_or(s.trafilatura_f1, |a| a.1))
            .sum::<f64>()
            / n,
        table: String::new(),
        sets,
    };
    let mut table = String::from(
        "| set | pages | MB | feedwatch MB/s (1 core) | feedwatch F1 | trafilatura F1 |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for s in &figures.sets {
        let metric = if s.name == "trafilatura-eval" {
            " (snippets)"
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "| {}{metric} | {} | {:.1} | {:.0} | {:.3} | {:.3} |",
            s.name,
            s.pages,
            s.bytes as f64 / 1e6,
            s.bytes as f64 / s.secs / 1e6,
            s.f1,
            s.trafilatura_f1
        );
    }
    let _ = writeln!(
        table,
        "| **macro average** | {} | {:.1} | {:.0} (pooled) | **{:.3}** | **{:.3}** |",
        figures.sets.iter().map(|s| s.pages).sum::<usize>(),
        bytes as f64 / 1e6,
        figures.mb_s,
        figures.macro_f1,
        figures.trafilatura_macro_f1
    );
    let cut: Vec<&str> = figures
        .sets
        .iter()
        .filter(|s| s.article_only.is_some())
        .map(|s| s.name)
        .collect();
    if !cut.is_empty() {
        for s in &figures.sets {
            if let Some((f1, trafilatura_f1)) = s.article_only {
                let _ = writeln!(
                    table,
                    "| {}, articles without their comments | | | | {f1:.3} | {trafilatura_f1:.3} |",
                    s.name
                );
            }
        }
        let _ = writeln!(
            table,
            "| macro average, {} without comments | | | | {:.3} | {:.3} |",
            cut.join(", "),
            figures.article_macro_f1,
            figures.trafilatura_article_macro_f1
        );
    }
    print!("{table}");
    println!(
        "\nfeedwatch extracts {:.0}x as fast as trafilatura (pooled over the five sets)",
        figures.mb_s / figures.trafilatura_mb_s
    );
    ExtractFigures { table, ..figures }
}

/// Markers around the per-set extraction table in `bench/RESULTS.md`, which `extract`
/// rewrites alone (its git history is the per-commit record of the five sets).
const EXTRACT_START: &str = "<!-- extract: written by `feedwatch-bench extract` -->";
const EXTRACT_END: &str = "<!-- /extract -->";

fn extract_section(f: &ExtractFigures) -> String {
    format!(
        "{EXTRACT_START}\nExtraction on the five sets ({}, {}):\n\n{}{EXTRACT_END}\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        f.table
    )
}

/// The extraction figures of `bench/results.json`, by key.
fn extract_results(f: &ExtractFigures) -> serde_json::Map<String, serde_json::Value> {
    let num = |v: f64| serde_json::json!((v * 1000.0).round() / 1000.0);
    let mut out = serde_json::Map::new();
    out.insert("extract_mb_s".into(), num(f.mb_s));
    out.insert("extract_f1_macro".into(), num(f.macro_f1));
    out.insert(
        "extract_f1_macro_trafilatura".into(),
        num(f.trafilatura_macro_f1),
    );
    out.insert(
        "extract_vs_trafilatura".into(),
        num(f.mb_s / f.trafilatura_mb_s),
    );
    for set in &f.sets {
        out.insert(format!("extract_f1_{}", set.name), num(set.f1));
        out.insert(
            format!("extract_f1_{}_trafilatura", set.name),
            num(set.trafilatura_f1),
        );
        if let Some((f1, trafilatura_f1)) = set.article_only {
            out.insert(format!("extract_f1_{}_articles", set.name), num(f1));
            out.insert(
                format!("extract_f1_{}_articles_trafilatura", set.name),
                num(trafilatura_f1),
            );
        }
    }
    if f.sets.iter().any(|s| s.article_only.is_some()) {
        out.insert("extract_f1_macro_articles".into(), num(f.article_macro_f1));
        out.insert(
            "extract_f1_macro_articles_trafilatura".into(),
            num(f.trafilatura_article_macro_f1),
        );
    }
    out
}

/// Replaces the extraction figures in `bench/results.json`, the others left as the last
/// full run wrote them (and the one-set `extract_f1` of earlier runs dropped).
fn update_extract_results(f: &ExtractFigures) {
    let path = bench_dir().join("results.json");
    let mut results: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    results.remove("extract_f1");
    results.extend(extract_results(f));
    let sorted: std::collections::BTreeMap<_, _> = results.into_iter().collect();
    std::fs::write(&path, serde_json::to_string_pretty(&sorted).unwrap() + "\n").unwrap();
    eprintln!("wrote the extraction figures in bench/results.json");
}

/// Replaces the extraction table in `bench/RESULTS.md` (or adds it).
fn update_extract_section(f: &ExtractFigures) {
    let path = bench_dir().join("RESULTS.md");
    let md = std::fs::read_to_string(&path).unwrap_or_default();
    let section = extract_section(f);
    let updated = match (md.find(EXTRACT_START), md.find(EXTRACT_END)) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}{section}{}",
                &md[..a],
                &md[b + EXTRACT_END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("{md}\n{section}"),
    };
    std::fs::write(&path, updated).unwrap();
    eprintln!("wrote the extraction table in bench/RESULTS.md");
}

/// For a set whose expected texts carry readers' comments after [`COMMENTS_MARKER`]: a
/// copy of it in `dir` (its index and expected texts) whose texts end before the marker,
/// to score extraction on the articles alone. `None` when no text carries the marker.
fn articles_only(dataset: &Path, dir: &Path) -> Option<PathBuf> {
    let expected = dataset.join("expected");
    let texts: Vec<(std::ffi::OsString, String)> = std::fs::read_dir(&expected)
        .ok()?
        .map(|e| {
            let e = e.unwrap();
            let bytes = std::fs::read(e.path()).unwrap();
            (e.file_name(), String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect();
    if !texts.iter().any(|(_, t)| t.contains(COMMENTS_MARKER)) {
        return None;
    }
    std::fs::create_dir_all(dir.join("expected")).unwrap();
    std::fs::copy(dataset.join("index.tsv"), dir.join("index.tsv")).unwrap();
    for (name, text) in texts {
        let article = text.split(COMMENTS_MARKER).next().unwrap_or_default();
        std::fs::write(dir.join("expected").join(name), article).unwrap();
    }
    Some(dir.to_path_buf())
}

/// Every page of a folder: (id, bytes), by id.
fn read_pages(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    pages
        .iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(p).unwrap(),
            )
        })
        .collect()
}

/// The median of three passes of extraction over `bodies` (one pass can take a third of a
/// second, where a stray scheduler hiccup shows), and the texts.
fn time_extraction(bodies: &[(String, Vec<u8>)]) -> (f64, Vec<String>) {
    let mut texts = Vec::new();
    let mut passes: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            texts = bodies
                .iter()
                .map(|(_, body)| {
                    let html = feedwatch::fetch::decode_html(body, None);
                    feedwatch::clean::extract_article(&html).text
                })
                .collect();
            start.elapsed().as_secs_f64()
        })
        .collect();
    passes.sort_by(f64::total_cmp);
    (passes[1], texts)
}

/// The F1 of one folder of predictions for one set, with its metric (`zyte` or `snippets`),
/// by `scorer` (`score_extraction.py`).
fn score(
    scorer: &Path,
    dataset: &Path,
    predictions: &Path,
    metric: &str,
    per_page: Option<PathBuf>,
) -> f64 {
    let json = predictions.with_extension("score.json");
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(scorer)
        .arg(dataset)
        .arg(predictions)
        .arg("--metric")
        .arg(metric)
        .arg("--json")
        .arg(&json)
        .stdout(std::process::Stdio::null());
    if let Some(path) = per_page {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        cmd.arg("--per-page").arg(path);
    }
    assert!(
        matches!(cmd.status(), Ok(s) if s.success()),
        "could not run {}",
        scorer.display()
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    v[metric]["f1"]
        .as_f64()
        .unwrap_or_else(|| panic!("the scorer reports {metric}.f1"))
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("feedwatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Python with the packages a comparison needs, in `bench/.venv` (created when missing).
fn venv_python(packages: &[&str]) -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/.venv");
    let python = venv.join("bin/python");
    if !python.is_file() {
        let ok = std::process::Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "python3 -m venv {} failed", venv.display());
    }
    for package in packages {
        let import = package.replace('-', "_");
        let present = std::process::Command::new(&python)
            .arg("-c")
            .arg(format!("import {import}"))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            eprintln!("installing {package} into {}", venv.display());
            let ok = std::process::Command::new(&python)
                .args(["-m", "pip", "install", "-q", package])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "pip install {package} failed");
        }
    }
    python
}

/// Poll cycles at each size: cold (every item new), warm (every feed 304), churn (one feed in
/// ten has two new items); the requests + feedparser loop beside feedwatch at 1,000 feeds.
fn bench_cycle(sizes: &[usize]) -> CycleFigures {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-cycle");
    let mut out = CycleFigures::default();
    println!(
        "| feeds | poller | cycle | wall s | CPU s | peak RSS MB |\n|---:|---|---|---:|---:|---:|"
    );
    for &n in sizes {
        let dir = root.join(n.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("www")).unwrap();
        let (nginx, port) = cycle::Nginx::start(&dir, &dir.join("www"));
        let site = cycle::Site {
            dir: dir.clone(),
            n,
            port,
        };
        let bytes = site.generate();
        eprintln!(
            "{n} feeds, {:.1} MB, served on 127.0.0.1:{port}",
            bytes as f64 / 1e6
        );
        site.write_config();
        site.write_urls();
        let python = (n <= 1_000).then(|| venv_python(&["requests", "feedparser"]));
        let mut fw = cycle::Cycles::default();
        let mut py = cycle::Cycles::default();
        let step = |name: &str, fw: &mut cycle::Usage, py: &mut cycle::Usage| {
            *fw = cycle::feedwatch_once(&site);
            println!(
                "| {n} | feedwatch | {name} | {:.2} | {:.2} | {:.0} |",
                fw.wall_s, fw.cpu_s, fw.peak_rss_mb
            );
            if let Some(python) = &python {
                *py = cycle::python_once(&site, python);
                println!(
                    "| {n} | requests+feedparser | {name} | {:.2} | {:.2} | {:.0} |",
                    py.wall_s, py.cpu_s, py.peak_rss_mb
                );
            }
        };
        step("cold", &mut fw.cold, &mut py.cold);
        step("warm", &mut fw.warm, &mut py.warm);
        site.churn(1);
        step("churn", &mut fw.churn, &mut py.churn);
        if n == 1_000 {
            let (idle, peak) = cycle::idle_rss(&site);
            out.idle_rss_mb = Some(idle);
            println!(
                "| {n} | feedwatch run | idle after its first (cold) cycle | | | {idle:.0} (peak {peak:.0}) |"
            );
        }
        drop(nginx);
        out.sizes.push((n, fw, python.map(|_| py)));
    }
    out
}

/// The cluster rows of `cycle`: one node on SQLite, 1-3 nodes on one PostgreSQL, same feeds.
fn bench_cluster(n: usize) -> Vec<cluster::Row> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-cycle");
    println!(
        "| feeds | store | nodes | cycle | wall s (first to last poll) | CPU s, nodes + server (server) | CPU s per 1,000 feeds |\n|---:|---|---:|---|---:|---:|---:|"
    );
    let rows = cluster::bench_cluster(&root, n);
    println!();
    for (k, r) in rows.iter().enumerate() {
        if r.backend == "SQLite" {
            continue;
        }
        // The SQLite cycles of the same kind measured just before and just after.
        let sqlite = |r: &&cluster::Row| r.backend == "SQLite" && r.cycle == rows[k].cycle;
        let around: Vec<f64> = [
            rows[..k].iter().rev().find(sqlite),
            rows[k + 1..].iter().find(sqlite),
        ]
        .into_iter()
        .flatten()
        .map(|r| r.cpu_s)
        .collect();
        let reference = around.iter().sum::<f64>() / around.len() as f64;
        println!(
            "PostgreSQL, {} node(s), {}: {:.2}x SQLite's CPU (SQLite around it: {})",
            r.nodes,
            r.cycle,
            r.cpu_s / reference,
            around
                .iter()
                .map(|c| format!("{c:.2} s"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    rows
}

#[derive(Default)]
struct CycleFigures {
    /// Per size: feedwatch's cycles, and the Python loop's where it ran.
    sizes: Vec<(usize, cycle::Cycles, Option<cycle::Cycles>)>,
    /// `feedwatch run` with 1,000 sources, between polls.
    idle_rss_mb: Option<f64>,
}

/// Every benchmark, then one table in `bench/RESULTS.md` and the figures in
/// `bench/results.json`.
fn bench_all(corpora: &Path, sizes: &[usize]) {
    println!("## parse\n");
    let parse = bench_parse(corpora);
    println!("\n## extract\n");
    let extract = bench_extract(corpora);
    println!("\n## match\n");
    let match_mb_s = bench_match(corpora);
    println!("\n## store\n");
    let (store_new, store_known) = bench_store(corpora);
    println!("\n## poll cycles\n");
    let cycles = bench_cycle(sizes);
    println!("\n## status page\n");
    let web = web::bench_web();

    let at = |n: usize| cycles.sizes.iter().find(|(m, _, _)| *m == n);
    let fw = |n: usize, f: fn(&cycle::Cycles) -> cycle::Usage| at(n).map(|(_, c, _)| f(c));
    let py = |n: usize, f: fn(&cycle::Cycles) -> cycle::Usage| {
        at(n).and_then(|(_, _, p)| p.as_ref().map(f))
    };
    let cold = |c: &cycle::Cycles| c.cold;
    let warm = |c: &cycle::Cycles| c.warm;
    let churn = |c: &cycle::Cycles| c.churn;
    let peak = cycles
        .sizes
        .iter()
        .flat_map(|(_, c, _)| [c.cold, c.warm, c.churn])
        .map(|u| u.peak_rss_mb)
        .fold(0.0, f64::max);
    let num = |v: Option<f64>| {
        v.map_or(serde_json::Value::Null, |v| {
            serde_json::json!((v * 1000.0).round() / 1000.0)
        })
    };
    let slowest_page = web.rows.iter().map(|r| r.2).fold(0.0, f64::max);
    let mut results = serde_json::json!({
        "parse_mb_s": num(Some(parse.mb_s)),
        "parse_vs_feedparser": num(Some(parse.mb_s / parse.feedparser_mb_s)),
        "match_mb_s_10k_terms": num(Some(match_mb_s)),
        "store_items_s": num(Some(store_new)),
        "cold_cycle_1k_cpu_s": num(fw(1_000, cold).map(|u| u.cpu_s)),
        "warm_cycle_1k_cpu_s": num(fw(1_000, warm).map(|u| u.cpu_s)),
        "churn_cycle_1k_cpu_s": num(fw(1_000, churn).map(|u| u.cpu_s)),
        "cold_cycle_10k_s": num(fw(10_000, cold).map(|u| u.wall_s)),
        "warm_cycle_10k_s": num(fw(10_000, warm).map(|u| u.wall_s)),
        "peak_rss_mb": num(Some(peak)),
        "idle_rss_mb": num(cycles.idle_rss_mb),
    });

    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark results\n");
    let _ = writeln!(
        md,
        "{}; {} UTC. `cargo run --release --bin feedwatch-bench -- all` (bench/README.md).\n",
        machine(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(
        md,
        "| stage | measure | feedwatch | Python | ratio | target |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---|");
    let mut row =
        |stage: &str, measure: &str, ours: String, theirs: String, ratio: String, target: &str| {
            let _ = writeln!(
                md,
                "| {stage} | {measure} | {ours} | {theirs} | {ratio} | {target} |"
            );
        };
    let x = |a: f64, b: f64| format!("{:.1}x", a / b);
    row(
        "parse",
        "MB/s, one core, feed corpora",
        format!("{:.1}", parse.mb_s),
        format!("{:.2} (feedparser)", parse.feedparser_mb_s),
        x(parse.mb_s, parse.feedparser_mb_s),
        ">= 50x",
    );
    row(
        "extract",
        "MB/s, one core, pooled over the five sets",
        format!("{:.1}", extract.mb_s),
        format!("{:.2} (trafilatura)", extract.trafilatura_mb_s),
        x(extract.mb_s, extract.trafilatura_mb_s),
        ">= 100 MB/s, >= 10x",
    );
    row(
        "extract",
        "F1, macro average of the five sets",
        format!("{:.3}", extract.macro_f1),
        format!("{:.3} (trafilatura)", extract.trafilatura_macro_f1),
        String::new(),
        ">= 0.94, each set >= trafilatura",
    );
    row(
        "match",
        "MB/s, 10,000 terms",
        format!("{match_mb_s:.0}"),
        String::new(),
        String::new(),
        ">= 200",
    );
    row(
        "store",
        "new items/s with dedupe",
        format!("{store_new:.0}"),
        String::new(),
        String::new(),
        "",
    );
    row(
        "store",
        "known items/s skipped",
        format!("{store_known:.0}"),
        String::new(),
        String::new(),
        "",
    );
    for (name, f, target) in [
        ("cold", cold as fn(&cycle::Cycles) -> cycle::Usage, "<= 2 s"),
        ("warm", warm, "<= 0.1 s"),
        ("churn", churn, "<= 0.25 s"),
    ] {
        if let Some(ours) = fw(1_000, f) {
            let theirs = py(1_000, f);
            row(
                &format!("1,000 feeds, {name}"),
                "CPU s (user+sys)",
                format!("{:.2}", ours.cpu_s),
                theirs.map_or(String::new(), |t| {
                    format!("{:.2} (requests+feedparser)", t.cpu_s)
                }),
                theirs.map_or(String::new(), |t| x(t.cpu_s, ours.cpu_s)),
                target,
            );
        }
    }
    for (name, f, target) in [
        (
            "cold",
            cold as fn(&cycle::Cycles) -> cycle::Usage,
            "<= 20 s",
        ),
        ("warm", warm, "<= 1.5 s"),
    ] {
        if let Some(ours) = fw(10_000, f) {
            row(
                &format!("10,000 feeds, {name}"),
                "wall s",
                format!("{:.2}", ours.wall_s),
                String::new(),
                String::new(),
                target,
            );
        }
    }
    row(
        "memory",
        "peak RSS MB, any cycle",
        format!("{peak:.0}"),
        py(1_000, cold).map_or(String::new(), |t| {
            format!("{:.0} (1,000 feeds)", t.peak_rss_mb)
        }),
        String::new(),
        "<= 100",
    );
    if let Some(idle) = cycles.idle_rss_mb {
        row(
            "memory",
            "idle RSS MB, `run` with 1,000 sources",
            format!("{idle:.0}"),
            String::new(),
            String::new(),
            "<= 25",
        );
    }
    let _ = writeln!(
        md,
        "\nEvery poll cycle, measured by the kernel (`wait4`) for the whole process:\n"
    );
    let _ = writeln!(
        md,
        "| feeds | poller | cycle | wall s | CPU s | peak RSS MB |\n|---:|---|---|---:|---:|---:|"
    );
    for (n, fw, py) in &cycles.sizes {
        for (who, c) in [
            ("feedwatch once", Some(fw)),
            ("requests+feedparser", py.as_ref()),
        ] {
            let Some(c) = c else { continue };
            for (name, u) in [("cold", c.cold), ("warm", c.warm), ("churn", c.churn)] {
                let _ = writeln!(
                    md,
                    "| {n} | {who} | {name} | {:.2} | {:.2} | {:.0} |",
                    u.wall_s, u.cpu_s, u.peak_rss_mb
                );
            }
        }
    }
    results["web_page_slowest_ms_10k_sources_100k_alerts"] = num(Some(slowest_page));
    for (key, value) in extract_results(&extract) {
        results[key] = value;
    }
    let _ = writeln!(md, "\n{}", extract_section(&extract));
    let _ = writeln!(
        md,
        "\nThe status page, served by `feedwatch run` over loopback HTTP (20 fetches of each page; the peer is the same page over a store a hundred times smaller):\n\n{}",
        web.table
    );
    println!("\n{md}");
    std::fs::write(bench_dir().join("RESULTS.md"), &md).unwrap();
    std::fs::write(
        bench_dir().join("results.json"),
        serde_json::to_string_pretty(&results).unwrap() + "\n",
    )
    .unwrap();
    eprintln!("wrote bench/RESULTS.md and bench/results.json");
}

/// "AMD EPYC ..., 2 cores, 24 GiB": what the figures were measured on.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb: f64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0.0);
    format!("{cpu}, {cores} cores, {:.0} GiB", mem_kb / 1024.0 / 1024.0)
}
