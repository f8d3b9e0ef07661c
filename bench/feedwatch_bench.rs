//! Benchmarks (never part of the test suite). `cargo run --release --bin feedwatch-bench -- help`.
//!
//! Each subcommand prints a Markdown table row per measurement; corpora paths are arguments.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use feedwatch::matcher::{Matcher, Scope, WatchSpec};

mod cluster;
mod cycle;
mod extract;
mod web;

use extract::{
    bench_extract, extract_results, extract_section, update_extract_results, update_extract_section,
};

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
    sorted_paths(&corpora.join("extraction/zyte/expected"))
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
        files.extend(
            sorted_paths(&corpora.join(dir))
                .into_iter()
                .filter(|p| p.is_file()),
        );
    }
    files.sort();
    files
}

/// What a folder holds, by name; a folder that cannot be read stops the bench, naming it.
fn sorted_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
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
    let fp = run_python(&python, "py_parse.py", &files);
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

/// Runs one of the bench's Python scripts with `args` and reads the JSON it prints.
fn run_python(
    python: &Path,
    script: &str,
    args: &[impl AsRef<std::ffi::OsStr>],
) -> serde_json::Value {
    let out = std::process::Command::new(python)
        .arg(bench_dir().join(script))
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{script} prints JSON"))
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
    let all = All::measure(corpora, sizes);
    let mut results = all.results();
    let mut md = all.summary_table();
    md.push_str(&all.cycles_table());
    for (key, value) in extract_results(&all.extract) {
        results[key] = value;
    }
    let _ = writeln!(md, "\n{}", extract_section(&all.extract));
    let _ = writeln!(
        md,
        "\nThe status page, served by `feedwatch run` over loopback HTTP (20 fetches of each page; the peer is the same page over a store a hundred times smaller):\n\n{}",
        all.web.table
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

/// The figures of every benchmark, as `all` measures them one after the other.
struct All {
    parse: ParseFigures,
    extract: extract::ExtractFigures,
    match_mb_s: f64,
    store_new: f64,
    store_known: f64,
    cycles: CycleFigures,
    web: web::WebFigures,
}

/// Picks one cycle (cold, warm or churn) out of a size's three.
type Pick = fn(&cycle::Cycles) -> cycle::Usage;
const COLD: Pick = |c| c.cold;
const WARM: Pick = |c| c.warm;
const CHURN: Pick = |c| c.churn;

/// A figure for `bench/results.json`, to three decimals (`null` when not measured).
fn num(v: Option<f64>) -> serde_json::Value {
    v.map_or(serde_json::Value::Null, |v| {
        serde_json::json!((v * 1000.0).round() / 1000.0)
    })
}

/// One row of the summary table.
fn row(md: &mut String, [stage, measure, ours, theirs, ratio, target]: [&str; 6]) {
    let _ = writeln!(
        md,
        "| {stage} | {measure} | {ours} | {theirs} | {ratio} | {target} |"
    );
}

/// How many times `b` `a` is, to one decimal: "25.1x".
fn times(a: f64, b: f64) -> String {
    format!("{:.1}x", a / b)
}

impl All {
    fn measure(corpora: &Path, sizes: &[usize]) -> All {
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
        All {
            parse,
            extract,
            match_mb_s,
            store_new,
            store_known,
            cycles,
            web,
        }
    }

    /// feedwatch's cycle of `pick` at `n` feeds.
    fn ours(&self, n: usize, pick: Pick) -> Option<cycle::Usage> {
        let at = self.cycles.sizes.iter().find(|(m, _, _)| *m == n);
        at.map(|(_, c, _)| pick(c))
    }

    /// The Python loop's cycle of `pick` at `n` feeds, where it ran.
    fn theirs(&self, n: usize, pick: Pick) -> Option<cycle::Usage> {
        let at = self.cycles.sizes.iter().find(|(m, _, _)| *m == n);
        at.and_then(|(_, _, p)| p.as_ref().map(pick))
    }

    /// The highest peak RSS of any of feedwatch's cycles.
    fn peak_rss_mb(&self) -> f64 {
        self.cycles
            .sizes
            .iter()
            .flat_map(|(_, c, _)| [c.cold, c.warm, c.churn])
            .map(|u| u.peak_rss_mb)
            .fold(0.0, f64::max)
    }

    /// The figures of `bench/results.json` but extraction's.
    fn results(&self) -> serde_json::Value {
        let slowest_page = self.web.rows.iter().map(|r| r.2).fold(0.0, f64::max);
        serde_json::json!({
            "parse_mb_s": num(Some(self.parse.mb_s)),
            "parse_vs_feedparser": num(Some(self.parse.mb_s / self.parse.feedparser_mb_s)),
            "match_mb_s_10k_terms": num(Some(self.match_mb_s)),
            "store_items_s": num(Some(self.store_new)),
            "cold_cycle_1k_cpu_s": num(self.ours(1_000, COLD).map(|u| u.cpu_s)),
            "warm_cycle_1k_cpu_s": num(self.ours(1_000, WARM).map(|u| u.cpu_s)),
            "churn_cycle_1k_cpu_s": num(self.ours(1_000, CHURN).map(|u| u.cpu_s)),
            "cold_cycle_10k_s": num(self.ours(10_000, COLD).map(|u| u.wall_s)),
            "warm_cycle_10k_s": num(self.ours(10_000, WARM).map(|u| u.wall_s)),
            "peak_rss_mb": num(Some(self.peak_rss_mb())),
            "idle_rss_mb": num(self.cycles.idle_rss_mb),
            "web_page_slowest_ms_10k_sources_100k_alerts": num(Some(slowest_page)),
        })
    }

    /// `bench/RESULTS.md`'s heading and its table of every stage against its peer and target.
    fn summary_table(&self) -> String {
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
        self.stage_rows(&mut md);
        self.cycle_rows(&mut md);
        md
    }

    /// The summary's rows for parsing, extraction, matching and the store.
    fn stage_rows(&self, md: &mut String) {
        let (parse, extract) = (&self.parse, &self.extract);
        for (stage, measure, ours, theirs, peer, target) in [
            (
                "parse",
                "MB/s, one core, feed corpora",
                parse.mb_s,
                parse.feedparser_mb_s,
                "feedparser",
                ">= 50x",
            ),
            (
                "extract",
                "MB/s, one core, pooled over the five sets",
                extract.mb_s,
                extract.trafilatura_mb_s,
                "trafilatura",
                ">= 100 MB/s, >= 10x",
            ),
        ] {
            let (ours_s, theirs_s) = (format!("{ours:.1}"), format!("{theirs:.2} ({peer})"));
            row(
                md,
                [
                    stage,
                    measure,
                    &ours_s,
                    &theirs_s,
                    &times(ours, theirs),
                    target,
                ],
            );
        }
        row(
            md,
            [
                "extract",
                "F1, macro average of the five sets",
                &format!("{:.3}", extract.macro_f1),
                &format!("{:.3} (trafilatura)", extract.trafilatura_macro_f1),
                "",
                ">= 0.94, each set >= trafilatura",
            ],
        );
        let match_mb_s = format!("{:.0}", self.match_mb_s);
        let store_new = format!("{:.0}", self.store_new);
        let store_known = format!("{:.0}", self.store_known);
        for (stage, measure, ours, target) in [
            ("match", "MB/s, 10,000 terms", match_mb_s, ">= 200"),
            ("store", "new items/s with dedupe", store_new, ""),
            ("store", "known items/s skipped", store_known, ""),
        ] {
            row(md, [stage, measure, &ours, "", "", target]);
        }
    }

    /// The summary's rows for poll cycles and memory.
    fn cycle_rows(&self, md: &mut String) {
        for (name, pick, target) in [
            ("cold", COLD, "<= 2 s"),
            ("warm", WARM, "<= 0.1 s"),
            ("churn", CHURN, "<= 0.25 s"),
        ] {
            let Some(ours) = self.ours(1_000, pick) else {
                continue;
            };
            let theirs = self.theirs(1_000, pick);
            row(
                md,
                [
                    &format!("1,000 feeds, {name}"),
                    "CPU s (user+sys)",
                    &format!("{:.2}", ours.cpu_s),
                    &theirs.map_or(String::new(), |t| {
                        format!("{:.2} (requests+feedparser)", t.cpu_s)
                    }),
                    &theirs.map_or(String::new(), |t| times(t.cpu_s, ours.cpu_s)),
                    target,
                ],
            );
        }
        for (name, pick, target) in [("cold", COLD, "<= 20 s"), ("warm", WARM, "<= 1.5 s")] {
            if let Some(ours) = self.ours(10_000, pick) {
                let wall = format!("{:.2}", ours.wall_s);
                row(
                    md,
                    [
                        &format!("10,000 feeds, {name}"),
                        "wall s",
                        &wall,
                        "",
                        "",
                        target,
                    ],
                );
            }
        }
        let python_peak = self.theirs(1_000, COLD).map_or(String::new(), |t| {
            format!("{:.0} (1,000 feeds)", t.peak_rss_mb)
        });
        let peak = format!("{:.0}", self.peak_rss_mb());
        row(
            md,
            [
                "memory",
                "peak RSS MB, any cycle",
                &peak,
                &python_peak,
                "",
                "<= 100",
            ],
        );
        if let Some(idle) = self.cycles.idle_rss_mb {
            let idle = format!("{idle:.0}");
            let measure = "idle RSS MB, `run` with 1,000 sources";
            row(md, ["memory", measure, &idle, "", "", "<= 25"]);
        }
    }

    /// Every poll cycle of every size, feedwatch's and the Python loop's.
    fn cycles_table(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "\nEvery poll cycle, measured by the kernel (`wait4`) for the whole process:\n"
        );
        let _ = writeln!(
            md,
            "| feeds | poller | cycle | wall s | CPU s | peak RSS MB |\n|---:|---|---|---:|---:|---:|"
        );
        for (n, fw, py) in &self.cycles.sizes {
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
        md
    }
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
