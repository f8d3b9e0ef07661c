//! Poll-cycle benchmark: N generated feeds served by nginx on 127.0.0.1, polled by the real
//! daemon (`feedwatch once`, a separate process) and by the requests + feedparser loop, each
//! measured by the kernel (wall, user+sys CPU, peak RSS from `wait4`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use super::Rng;

/// Items in every feed; a churn step adds two to one feed in ten (dropping the two oldest).
const ITEMS: usize = 20;

/// What the kernel says one process spent.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Usage {
    pub wall_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mb: f64,
}

/// Runs `cmd` to completion and reads its resource usage from `wait4`.
#[expect(clippy::zombie_processes, reason = "wait4 reaps the child")]
pub(crate) fn measured(cmd: &mut Command) -> Usage {
    let start = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    // Peak RSS from the process's own high-water mark, sampled until it exits: `ru_maxrss`
    // would count the bench's own memory, copied into the child before its exec.
    let hwm = std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            else {
                break; // exited: a zombie has no memory left to report
            };
            peak_kb = peak_kb.max(kb);
            std::thread::sleep(Duration::from_millis(2));
        }
        peak_kb
    });
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall_s = start.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed (status {status})"
    );
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        wall_s,
        cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
        peak_rss_mb: hwm.join().unwrap_or(0) as f64 / 1024.0,
    }
}

/// Words of the generated articles; "Venezuela" and "Caracas" (the benchmark's watch) are
/// added to about one item in twenty-five.
const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "government",
    "minister",
    "officials",
    "said",
    "according",
    "report",
    "election",
    "economy",
    "market",
    "prices",
    "inflation",
    "central",
    "bank",
    "talks",
    "agreement",
    "border",
    "security",
    "police",
    "court",
    "ruling",
    "parliament",
    "opposition",
    "president",
    "spokesperson",
    "statement",
    "weekend",
    "region",
    "province",
    "capital",
    "residents",
    "families",
    "hospital",
    "school",
    "students",
    "teachers",
    "workers",
    "union",
    "strike",
    "protest",
    "energy",
    "oil",
    "gas",
    "exports",
    "imports",
    "trade",
    "tariffs",
    "investors",
    "shares",
    "company",
    "chief",
    "executive",
    "quarter",
    "profit",
    "losses",
    "budget",
    "deficit",
    "climate",
    "flooding",
    "drought",
    "harvest",
    "farmers",
    "storm",
    "emergency",
    "aid",
    "agency",
    "international",
    "national",
    "local",
    "council",
    "mayor",
    "city",
    "village",
    "river",
    "coast",
    "mountain",
    "highway",
    "railway",
    "airport",
    "flights",
    "passengers",
    "travel",
    "tourism",
    "health",
    "vaccine",
    "doctors",
    "patients",
    "research",
    "scientists",
    "university",
    "study",
    "data",
    "technology",
    "software",
    "internet",
    "network",
    "phone",
    "satellite",
    "launch",
    "space",
    "military",
    "troops",
    "ceasefire",
    "negotiations",
    "sanctions",
    "embassy",
    "diplomats",
    "visit",
    "summit",
    "leaders",
    "announced",
    "warned",
    "expected",
    "increase",
    "decline",
    "percent",
    "million",
    "billion",
    "year",
    "month",
    "week",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "morning",
    "evening",
    "later",
];

/// Where a cycle's files live: `www` (served), `feedwatch.toml`, the store.
pub(crate) struct Site {
    pub dir: PathBuf,
    pub n: usize,
    pub port: u16,
}

impl Site {
    pub(crate) fn www(&self) -> PathBuf {
        self.dir.join("www")
    }

    pub(crate) fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}/f/{i:05}.xml", self.port)
    }

    /// Writes every feed with its first twenty items; returns the bytes written.
    pub(crate) fn generate(&self) -> u64 {
        let www = self.www().join("f");
        let _ = std::fs::remove_dir_all(&www);
        std::fs::create_dir_all(&www).unwrap();
        (0..self.n).map(|i| self.write_feed(i, ITEMS, 0)).sum()
    }

    /// Adds two items to one feed in ten, rewriting only those files.
    pub(crate) fn churn(&self, round: usize) -> usize {
        let mut changed = 0;
        for i in (0..self.n).filter(|i| i % 10 == 3) {
            self.write_feed(i, ITEMS + 2 * round, round as u64);
            changed += 1;
        }
        changed
    }

    /// Feed `i` with items `newest - 20 .. newest`, every item's content a function of
    /// (feed, item) only, so a rewritten feed repeats the items it kept byte for byte.
    fn write_feed(&self, i: usize, newest: usize, round: u64) -> u64 {
        let mut xml = String::with_capacity(48 * 1024);
        let _ = write!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\n<title>Outlet {i}</title>\n<link>https://outlet{i}.example.org/</link>\n<description>News from outlet {i}</description>\n<language>en</language>\n"
        );
        for j in (newest - ITEMS..newest).rev() {
            item(&mut xml, i, j);
        }
        xml.push_str("</channel>\n</rss>\n");
        let path = self.www().join(format!("f/{i:05}.xml"));
        std::fs::write(&path, &xml).unwrap();
        // Fixed times, so validators never depend on how fast the steps follow each other.
        let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600 + round * 3600);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(mtime))
            .unwrap();
        xml.len() as u64
    }

    /// The daemon's config: every feed, one watch, a webhook notifier answered by nginx. The
    /// cold cycle alerts on every matching item (`backlog = "all"`), as it measured before
    /// the backlog setting existed.
    pub(crate) fn write_config(&self) -> PathBuf {
        let mut cfg = format!(
            "[store]\npath = \"feedwatch.db\"\n\n[fetch]\nconcurrency = 32\nper_host = 32\nhost_delay = \"0s\"\n\n\
             [alerts]\nbacklog = \"all\"\n\n\
             [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n\n\
             [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}/hook\"\n\n",
            self.port
        );
        for i in 0..self.n {
            let _ = write!(
                cfg,
                "[[feed]]\nname = \"feed {i:05}\"\nurl = \"{}\"\ninterval = \"1h\"\n",
                self.url(i)
            );
        }
        let path = self.dir.join("feedwatch.toml");
        std::fs::write(&path, cfg).unwrap();
        path
    }

    pub(crate) fn write_urls(&self) -> PathBuf {
        let urls: String = (0..self.n).map(|i| self.url(i) + "\n").collect();
        let path = self.dir.join("urls.txt");
        std::fs::write(&path, urls).unwrap();
        path
    }
}

/// One item of feed `feed`: a title, link, guid, date and 1-2 KB of article HTML.
fn item(xml: &mut String, feed: usize, j: usize) {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ ((feed as u64) << 20) ^ j as u64);
    for _ in 0..4 {
        rng.next();
    }
    let words = |rng: &mut Rng, n: usize| -> String {
        let mut s = String::new();
        for k in 0..n {
            if k > 0 {
                s.push(' ');
            }
            s.push_str(WORDS[rng.below(WORDS.len())]);
        }
        s
    };
    let len = 6 + rng.below(5);
    let title = words(&mut rng, len);
    let topical = rng.below(25) == 0;
    let _ = write!(
        xml,
        "<item>\n<title>{title}</title>\n<link>https://outlet{feed}.example.org/news/{j}</link>\n<guid isPermaLink=\"false\">outlet{feed}-{j}</guid>\n<pubDate>{}</pubDate>\n<description><![CDATA[",
        chrono::DateTime::from_timestamp(1_767_225_600 + j as i64 * 1800, 0)
            .unwrap()
            .to_rfc2822()
    );
    let _ = write!(
        xml,
        "<figure><img src=\"https://cdn.example.org/{feed}/{j}.jpg\" alt=\"\"><figcaption>Photo: Agency</figcaption></figure>"
    );
    let paragraphs = 4 + rng.below(3);
    for p in 0..paragraphs {
        let len = 32 + rng.below(26);
        let mut text = words(&mut rng, len);
        if topical && p == 1 {
            text.push_str(" in Caracas, Venezuela");
        }
        let _ = write!(xml, "<p>{text}.</p>");
        if p == 1 {
            xml.push_str("<div class=\"ad\">Advertisement</div>");
        }
    }
    let _ = write!(
        xml,
        "<p><a href=\"https://outlet{feed}.example.org/news/{}\">Read more</a></p>]]></description>\n</item>\n",
        j.saturating_sub(1)
    );
}

/// nginx on a free port serving `site.www()`, with its ETag and Last-Modified, and `/hook`
/// answering 204 to the webhook notifier. Stopped on drop.
pub(crate) struct Nginx {
    child: Child,
}

impl Nginx {
    pub(crate) fn start(dir: &Path, www: &Path) -> (Nginx, u16) {
        let nginx = which("nginx").unwrap_or_else(|| {
            panic!("nginx is not installed: apt-get install nginx-light (the poll-cycle benchmark serves its feeds with it)")
        });
        let port = free_port();
        let conf = dir.join("nginx.conf");
        let tmp = dir.join("nginx-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let t = tmp.display();
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {t}/body;\n  proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n  scgi_temp_path {t}/scgi;\n\
                 keepalive_requests 100000;\n  types {{ application/rss+xml xml; }}\n\
                 server {{\n    listen 127.0.0.1:{port};\n    root {www};\n    location = /hook {{ return 204; }}\n  }}\n}}\n",
                d = dir.display(),
                www = www.display(),
            ),
        )
        .unwrap();
        let child = Command::new(nginx)
            .arg("-e")
            .arg(dir.join("nginx-error.log"))
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        (Nginx { child }, port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: the master stops its workers (killed alone, they keep the port).
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

pub(crate) fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Cold, warm and churn cycles of one poller over one site.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cycles {
    pub cold: Usage,
    pub warm: Usage,
    pub churn: Usage,
}

/// Runs `feedwatch once` (the release binary next to this one) over the site.
pub(crate) fn feedwatch_once(site: &Site) -> Usage {
    let exe = std::env::current_exe().unwrap().with_file_name("feedwatch");
    assert!(
        exe.is_file(),
        "{} is missing: cargo build --release first",
        exe.display()
    );
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(site.dir.join("feedwatch.log"))
        .unwrap();
    measured(
        Command::new(exe)
            .arg("--config")
            .arg(site.dir.join("feedwatch.toml"))
            .arg("once")
            .stdout(Stdio::null())
            .stderr(log),
    )
}

/// Runs the requests + feedparser loop (bench/poll_feedparser.py) over the site.
pub(crate) fn python_once(site: &Site, python: &Path) -> Usage {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/poll_feedparser.py");
    measured(
        Command::new(python)
            .arg(script)
            .arg(site.dir.join("py-state.json"))
            .arg(site.dir.join("urls.txt"))
            .stdout(Stdio::null()),
    )
}

/// Resident memory of `feedwatch run` between polls: started on a fresh store (which spreads
/// the first polls of new sources over a minute), measured two seconds after every source has
/// been polled once, as `feedwatch sources` reports.
pub(crate) fn idle_rss(site: &Site) -> (f64, f64) {
    let _ = std::fs::remove_file(site.dir.join("feedwatch.db"));
    let exe = std::env::current_exe().unwrap().with_file_name("feedwatch");
    let config = site.dir.join("feedwatch.toml");
    let mut child = Command::new(&exe)
        .arg("--config")
        .arg(&config)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(site.dir.join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let polled = || -> usize {
        let out = Command::new(&exe)
            .arg("--config")
            .arg(&config)
            .args(["sources", "--json"])
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.lines()
            .filter(|l| l.contains("\"last_success\":\"") && l.contains("\"kind\":\"feed\""))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while polled() < site.n {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "feedwatch run exited ({status}); see {}",
                site.dir.join("run.log").display()
            );
        }
        assert!(
            Instant::now() < deadline,
            "feedwatch run did not poll every source"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(2));
    let status = |key: &str| -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    let idle = status("VmRSS:");
    let peak = status("VmHWM:");
    let _ = child.kill();
    let _ = child.wait();
    (idle, peak)
}
