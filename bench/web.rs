//! Status page benchmark: the real daemon (`feedwatch run`, a separate process) serves its
//! pages over a store of 10,000 sources (50 polls each) and 100,000 alerts, and beside it
//! over a store a hundred times smaller, the peer in the same run. Each page is fetched
//! over loopback HTTP; the figures are the median and the slowest of 20 fetches.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use feedwatch::model::{Alert, AlertKind, PollStatus, SourceType};
use feedwatch::store::{
    DeliveryState, Discovery, Identity, NewAlert, NewItem, PollRecord, SourceSpec, Store,
};

const WATCHES: [&str; 5] = ["venezuela", "oil", "cuba", "colombia", "brazil"];
const DAY_MS: i64 = 86_400_000;

/// The pages fetched, as paths.
const PAGES: [&str; 9] = [
    "/",
    "/sources",
    "/sources?page=50",
    "/sources?filter=failing",
    "/alerts",
    "/alerts?since=30d&watch=oil",
    "/alerts?state=failed&since=all",
    "/watches",
    "/metrics",
];

/// Per page: (path, median ms, slowest ms) at scale, and the median for the small store;
/// and the table printed.
pub(crate) struct WebFigures {
    pub rows: Vec<(String, f64, f64, f64)>,
    pub table: String,
}

pub(crate) fn bench_web() -> WebFigures {
    let exe = std::env::current_exe().unwrap();
    let feedwatch = exe.with_file_name("feedwatch");
    assert!(
        feedwatch.exists(),
        "build feedwatch first: cargo build --release"
    );
    let base = std::env::temp_dir().join(format!("feedwatch-bench-web-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let small = measure(&feedwatch, &base.join("small"), 100, 1_000);
    let large = measure(&feedwatch, &base.join("large"), 10_000, 100_000);
    let _ = std::fs::remove_dir_all(&base);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| page | 10,000 sources, 100,000 alerts: median ms | slowest ms | 100 sources, 1,000 alerts: median ms | ratio |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for ((path, med, max), (_, small_med, _)) in large.iter().zip(&small) {
        let _ = writeln!(
            out,
            "| `{path}` | {med:.1} | {max:.1} | {small_med:.1} | {:.1}x |",
            med / small_med.max(0.01)
        );
        rows.push((path.clone(), *med, *max, *small_med));
    }
    print!("{out}");
    WebFigures { rows, table: out }
}

/// Fills a store, starts the daemon on it, and times each page.
fn measure(feedwatch: &Path, dir: &Path, sources: usize, alerts: usize) -> Vec<(String, f64, f64)> {
    std::fs::create_dir_all(dir).unwrap();
    let started = Instant::now();
    fill(&dir.join("fw.db"), sources, alerts);
    eprintln!(
        "web: {sources} sources, {alerts} alerts stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = format!(
        "[store]\npath = \"fw.db\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n"
    );
    for w in WATCHES {
        let _ = write!(config, "[[watch]]\nname = \"{w}\"\nterms = [\"{w}\"]\n");
    }
    for i in 0..sources {
        let _ = write!(
            config,
            "[[feed]]\nname = \"source {i:05}\"\nurl = \"http://127.0.0.1:9/{i}.xml\"\ninterval = \"1d\"\n"
        );
    }
    std::fs::write(dir.join("feedwatch.toml"), config).unwrap();
    let daemon = Daemon(
        Command::new(feedwatch)
            .arg("--config")
            .arg(dir.join("feedwatch.toml"))
            .arg("run")
            .env("FEEDWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let figures = rt.block_on(async {
        feedwatch::init_tls();
        let client = reqwest::Client::new();
        let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(url("/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "the daemon did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut figures = Vec::new();
        for path in PAGES {
            let fetch = || async {
                let t = Instant::now();
                let r = client.get(url(path)).send().await.unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                let _ = r.bytes().await.unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            };
            fetch().await;
            let mut ms = Vec::new();
            for _ in 0..20 {
                ms.push(fetch().await);
            }
            ms.sort_by(f64::total_cmp);
            figures.push((path.to_string(), ms[ms.len() / 2], ms[ms.len() - 1]));
        }
        figures
    });
    drop(daemon);
    figures
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `sources` sources with 50 polls each (one in 20 failing), and `alerts` alerts over 30
/// days across the first sources, one in 4 matching two watches, one in 100 failed.
fn fill(path: &Path, sources: usize, alerts: usize) {
    let store = Store::open(path).unwrap();
    let now = feedwatch::time::now_ms();
    let specs: Vec<SourceSpec> = (0..sources)
        .map(|i| SourceSpec {
            name: format!("source {i:05}"),
            kind: SourceType::Feed,
            url: format!("http://127.0.0.1:9/{i}.xml"),
            interval_ms: DAY_MS,
        })
        .collect();
    store.sync_sources(&specs, now, 0).unwrap();
    let rows = store.active_sources().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for poll in 0..50i64 {
            for (i, row) in rows.iter().enumerate() {
                let failing = i % 20 == 0 && poll > 40;
                let rec = PollRecord {
                    at: now - (50 - poll) * 3_600_000,
                    result: if failing {
                        Err("HTTP 503 from the server".into())
                    } else if poll % 3 == 0 {
                        Ok(PollStatus::Ok("20 items".into()))
                    } else {
                        Ok(PollStatus::NotModified)
                    },
                    validators: None,
                    discovered_url: Discovery::Keep,
                    next_poll_at: now + DAY_MS,
                    health: None,
                };
                store.defer_record(row.id, rec).await.unwrap();
            }
        }
        store.flush_records().unwrap();
    });
    let carriers = rows.len().min(100);
    let mut batch: Vec<NewItem> = Vec::new();
    for i in 0..alerts {
        let at = now - (i as i64 * 30 * DAY_MS / alerts.max(1) as i64);
        let first = WATCHES[i % WATCHES.len()];
        let mut routes = vec![first];
        if i % 4 == 0 {
            routes.push(WATCHES[(i + 1) % WATCHES.len()]);
        }
        let item = NewItem {
            id: Identity {
                key: format!("k{i}"),
                raw_hash: format!("h{i}"),
                ..Default::default()
            },
            title: format!("Talks on {first}, part {i}"),
            published_at: Some(at),
            text: format!(
                "Officials discussed {} at length, part {i}.",
                routes.join(" and ")
            ),
            alerts: routes
                .iter()
                .map(|w| NewAlert {
                    alert: Alert {
                        id: format!("a{i}-{w}"),
                        kind: AlertKind::New,
                        watch: w.to_string(),
                        watches: vec![w.to_string()],
                        source: format!("source {:05}", i % carriers),
                        title: format!("Talks on {first}, part {i}"),
                        url: Some(format!("https://example.org/{i}")),
                        published: None,
                        matched: vec![w.to_string()],
                        snippet: format!("Officials discussed {w} at length."),
                    },
                    notifier: "hook".into(),
                })
                .collect(),
            ..Default::default()
        };
        batch.push(item);
        if batch.len() == 500 || i + 1 == alerts {
            store
                .commit_poll(rows[i % carriers].id, at, &batch, &[])
                .unwrap();
            batch.clear();
        }
    }
    // Delivered, but one in 100 failed for good.
    loop {
        let due = store.due_alerts("hook", i64::MAX, 1_000).unwrap();
        if due.is_empty() {
            break;
        }
        let (failed, delivered): (Vec<_>, Vec<_>) = due.iter().partition(|r| r.seq % 100 == 0);
        let seqs: Vec<i64> = delivered.iter().map(|r| r.seq).collect();
        store.mark_delivered(&seqs, "b", now).unwrap();
        let seqs: Vec<i64> = failed.iter().map(|r| r.seq).collect();
        store
            .mark_attempt_failed(&seqs, "HTTP 410", Err(DeliveryState::Failed))
            .unwrap();
    }
}
