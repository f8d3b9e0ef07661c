//! Failover: three `feedwatch run` nodes on one PostgreSQL database poll a local farm of
//! 300 feeds and send to a webhook receiver; one node is killed with SIGKILL mid-cycle. Every
//! alert arrives (an alert id at most twice: a message the dead node sent but did not record
//! is sent again with its id), every source is polled again within two intervals, and no
//! source is ever polled by two nodes at once. A node keeps its name across a lost
//! connection, or stops when another daemon took the name. A node's first cycle ends when
//! the cluster has polled all its sources.

mod common;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use common::postgres::PgCluster;
use common::{HttpServer, Workdir, lines_json, wait_for};

const FEEDS: usize = 300;
const INTERVAL_S: u64 = 30;
/// Each feed answers this late, so polls overlap in time and a double poll would show.
const ANSWER_MS: u64 = 150;

/// One poll of a feed: when it started, and when it ended.
type Poll = (Instant, Option<Instant>);

/// Every poll of every feed, and the most polls of one feed at once.
#[derive(Default)]
struct Farm {
    polls: Mutex<HashMap<usize, Vec<Poll>>>,
    in_flight: Mutex<HashMap<usize, usize>>,
    most_at_once: Mutex<usize>,
}

/// Words of feed `n`'s article: a different text per feed, so no two are one story.
fn words(n: usize) -> String {
    let mut rng = fastrand::Rng::with_seed(n as u64);
    (0..60)
        .map(|_| {
            let len = rng.usize(4..9);
            (0..len)
                .map(|_| rng.alphabetic().to_ascii_lowercase())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Ended<'a> {
    farm: &'a Farm,
    n: usize,
    at: usize,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        let mut in_flight = self
            .farm
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *in_flight.get_mut(&self.n).unwrap() -= 1;
        let mut polls = self.farm.polls.lock().unwrap_or_else(|p| p.into_inner());
        polls.get_mut(&self.n).unwrap()[self.at].1 = Some(Instant::now());
    }
}

async fn feed(State(farm): State<Arc<Farm>>, Path(name): Path<String>) -> impl IntoResponse {
    let n: usize = name.trim_end_matches(".xml").parse().unwrap();
    let started = Instant::now();
    let at = {
        let mut polls = farm.polls.lock().unwrap();
        let list = polls.entry(n).or_default();
        list.push((started, None));
        list.len() - 1
    };
    {
        let mut in_flight = farm.in_flight.lock().unwrap();
        let now = in_flight.entry(n).or_default();
        *now += 1;
        let mut most = farm.most_at_once.lock().unwrap();
        *most = (*most).max(*now);
    }
    // Ends the poll when the answer is sent, or when the poller went away (its connection
    // closed: the killed node's polls end with it).
    let _ended = Ended { farm: &farm, n, at };
    tokio::time::sleep(Duration::from_millis(ANSWER_MS)).await;
    let body = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>
        <item><guid>v-{n}</guid><link>http://news.example/{n}/venezuela</link>
          <title>Venezuela report {n}</title><description>Caracas: {text}</description></item>
        <item><guid>o-{n}</guid><link>http://news.example/{n}/other</link>
          <title>Weather {n}</title><description>Rain. {text}</description></item>
        </channel></rss>"#,
        text = words(n)
    );
    ([(header::CONTENT_TYPE, "application/rss+xml")], body)
}

fn node_config(pg_url: &str, node: &str, farm: &str, hook: &str, feeds: Range<usize>) -> String {
    let mut c = format!(
        r#"
[store]
url = "{pg_url}"
node = "{node}"

[fetch]
timeout = "3s"
connect_timeout = "2s"
concurrency = 16
per_host = 64
host_delay = "0s"

[delivery]
retry_initial = "1s"
retry_max = "2s"

[alerts]
backlog = "all"

[[watch]]
name = "venezuela"
terms = ["Venezuela"]

[[notifier]]
name = "hook"
type = "webhook"
url = "{hook}"
secret_env = "FW_TEST_SECRET"
"#
    );
    for i in feeds {
        c.push_str(&format!(
            "\n[[feed]]\nname = \"f{i:03}\"\nurl = \"{farm}/feed/{i}.xml\"\ninterval = \"{INTERVAL_S}s\"\n"
        ));
    }
    c
}

/// A throwaway database, the farm of feeds and the webhook receiver.
struct Setup {
    pg: PgCluster,
    url: String,
    farm: Arc<Farm>,
    farm_url: String,
    hook: HttpServer,
}

impl Setup {
    /// The config of node `node` on this setup's database, farm and receiver.
    fn config(&self, node: &str) -> String {
        self.config_of(node, 0..FEEDS)
    }

    /// The same, listing only the farm's feeds `feeds`.
    fn config_of(&self, node: &str, feeds: Range<usize>) -> String {
        node_config(
            &self.url,
            node,
            &self.farm_url,
            &self.hook.url("/hook"),
            feeds,
        )
    }

    /// How many articles the receiver was alerted of.
    fn alerted(&self) -> usize {
        let urls: std::collections::HashSet<String> = self
            .hook
            .webhook_received()
            .iter()
            .map(|r| r.json()["url"].as_str().unwrap().to_string())
            .collect();
        urls.len()
    }

    async fn start() -> Setup {
        let pg = PgCluster::start();
        let url = pg.database("fw");
        let farm = Arc::new(Farm::default());
        let app = Router::new()
            .route("/feed/{name}", get(feed))
            .with_state(farm.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let farm_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Setup {
            pg,
            url,
            farm,
            farm_url,
            hook: HttpServer::start().await,
        }
    }
}

/// `feedwatch run` in each folder, its log in `log` there; killed when dropped.
fn start_nodes(dirs: &[Workdir]) -> Vec<tokio::process::Child> {
    dirs.iter()
        .map(|d| {
            d.command(&["run"])
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(d.dir.path().join("log")).unwrap())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_cycle_loses_no_alert_and_no_source() {
    let setup = Setup::start().await;
    let dirs: Vec<Workdir> = (1..=3)
        .map(|n| Workdir::new(&setup.config(&format!("n{n}"))))
        .collect();
    let (farm, hook) = (&setup.farm, &setup.hook);
    let mut nodes = start_nodes(&dirs);
    let polled = || farm.polls.lock().unwrap().len();
    // Mid-cycle: the first polls are spread over 15 s (50 ms per new source).
    assert!(
        wait_for(Duration::from_secs(60), || polled() >= FEEDS / 4).await,
        "the nodes did not start polling"
    );
    assert!(polled() < FEEDS, "the cycle ended before the kill");
    nodes[1].start_kill().unwrap();
    nodes[1].wait().await.unwrap();
    let killed_at = Instant::now();

    // Every alert arrives.
    let alerted = || setup.alerted();
    let all_arrived = wait_for(Duration::from_secs(120), || alerted() >= FEEDS).await;
    let logs = || -> String {
        dirs.iter()
            .map(|d| std::fs::read_to_string(d.dir.path().join("log")).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    assert!(
        all_arrived,
        "{} of {FEEDS} alerts arrived\n{}",
        alerted(),
        logs()
    );

    // Every source is polled again after the kill, within two intervals of its last poll.
    let again = wait_for(Duration::from_secs(2 * INTERVAL_S + 15), || {
        let polls = farm.polls.lock().unwrap();
        polls.len() == FEEDS
            && polls
                .values()
                .all(|p| p.iter().any(|(s, _)| *s > killed_at))
    })
    .await;
    assert!(
        again,
        "some source was not polled again after the kill\n{}",
        logs()
    );
    let limit = Duration::from_secs(2 * INTERVAL_S);
    for (n, polls) in farm.polls.lock().unwrap().iter() {
        for pair in polls.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap <= limit, "feed {n} waited {gap:?} between two polls");
        }
    }
    // Never two polls of one source at once.
    assert_eq!(*farm.most_at_once.lock().unwrap(), 1);

    // Each alert at most twice, and the article alerted once per story: one alert per feed.
    let mut per_id: HashMap<String, usize> = HashMap::new();
    let mut per_url: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for r in hook.webhook_received() {
        let id = r.header("idempotency-key").unwrap();
        *per_id.entry(id.clone()).or_default() += 1;
        let url = r.json()["url"].as_str().unwrap().to_string();
        per_url.entry(url).or_default().insert(id);
    }
    assert!(
        per_id.values().all(|&n| n <= 2),
        "an alert sent three times: {per_id:?}"
    );
    assert_eq!(per_url.len(), FEEDS);
    assert!(
        per_url.values().all(|ids| ids.len() == 1),
        "two alerts for one article"
    );

    // The cluster as a node sees it: the killed node is silent once 30 s have passed.
    let out = dirs[0].run(&["cluster", "--json"]).await;
    let rows = lines_json(&out.stdout);
    assert_eq!(rows.len(), 3, "{}", common::stdout(&out));
    let alive: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["node"].as_str().unwrap().to_string(),
                r["alive"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(alive.contains(&("n2".to_string(), false)), "{alive:?}");
    assert!(alive.contains(&("n1".to_string(), true)), "{alive:?}");
    assert!(rows.iter().all(|r| r["same_config"] == true), "{rows:?}");
    for node in &mut nodes {
        let _ = node.start_kill();
    }
}

/// Two nodes whose config files differ: each says so once in its log, naming the other
/// node and its config's hash, and `cluster --json` marks the other node's config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_with_different_configs_say_so() {
    let setup = Setup::start().await;
    let same = setup.config("a");
    let other = setup.config("b").replace(
        "terms = [\"Venezuela\"]",
        "terms = [\"Venezuela\", \"Caracas\"]",
    );
    let dirs = [Workdir::new(&same), Workdir::new(&other)];
    let _nodes = start_nodes(&dirs);
    let log = |n: usize| std::fs::read_to_string(dirs[n].dir.path().join("log")).unwrap();
    let said = |n: usize, other: &str| {
        log(n)
            .lines()
            .filter(|l| l.contains("nodes run different config files"))
            .filter(|l| l.contains(&format!("{other} (")))
            .count()
    };
    // A node learns of the other at its next heartbeat (every 5 s).
    assert!(
        wait_for(Duration::from_secs(30), || said(0, "b") > 0
            && said(1, "a") > 0)
        .await,
        "no mismatch said:\n{}\n----\n{}",
        log(0),
        log(1)
    );
    // Said once, not at every heartbeat.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!((said(0, "b"), said(1, "a")), (1, 1));
    let out = dirs[0].run(&["cluster", "--json"]).await;
    let rows = lines_json(&out.stdout);
    let same_config = |node: &str| {
        rows.iter()
            .find(|r| r["node"] == node)
            .map(|r| r["same_config"].as_bool().unwrap())
    };
    assert_eq!(
        (same_config("a"), same_config("b")),
        (Some(true), Some(false))
    );
}

/// Every node of a cluster lists all the sources and polls only its share. Its first cycle
/// ends once the cluster has polled every one: its summary line counts them all, those the
/// other node polled among them. (Before, it waited for polls of its own that never came.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_ends_its_first_cycle_once_the_cluster_polled_every_source() {
    let setup = Setup::start().await;
    let dirs = [
        Workdir::new(&setup.config("a")),
        Workdir::new(&setup.config("b")),
    ];
    let _nodes = start_nodes(&dirs);
    let log = |n: usize| std::fs::read_to_string(dirs[n].dir.path().join("log")).unwrap();
    let summary = |n: usize| {
        log(n)
            .lines()
            .find(|l| l.contains("first poll cycle since start done"))
            .map(String::from)
    };
    assert!(
        wait_for(Duration::from_secs(90), || summary(0).is_some()
            && summary(1).is_some())
        .await,
        "a node's first cycle did not end:\n{}\n----\n{}",
        log(0),
        log(1)
    );
    let field = |line: &str, key: &str| -> usize {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line}"))
    };
    let mut elsewhere = 0;
    for n in 0..2 {
        let line = summary(n).unwrap();
        let count = |key: &str| field(&line, key);
        assert_eq!(count("sources"), FEEDS, "{line}");
        assert_eq!(
            count("ok") + count("failing") + count("polled_elsewhere"),
            FEEDS,
            "{line}"
        );
        elsewhere += count("polled_elsewhere");
    }
    assert!(elsewhere > 0, "each node polled every source itself");
}

/// A node's name is held by a lock on a connection of its own. When that connection closes
/// (as a database restart closes it), the node takes its name again at its next heartbeat
/// and keeps running; when another daemon took the name meanwhile, the node stops with an
/// error that says so, and a daemon started under a name already held is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_keeps_its_name_across_a_lost_connection_or_stops() {
    let setup = Setup::start().await;
    let url = &setup.url;
    let dirs = [Workdir::new(&setup.config("a"))];
    let mut nodes = start_nodes(&dirs);
    let log = || std::fs::read_to_string(dirs[0].dir.path().join("log")).unwrap();
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let key = feedwatch::store::node_lock("a");
    // The holder of the name's lock (a bigint key: its high half in classid, low in objid).
    let holder = format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
           AND classid::bigint = {} AND objid::bigint = {}",
        (key >> 32) & 0xffff_ffff,
        key & 0xffff_ffff
    );
    let held = || {
        let client = &client;
        let holder = holder.clone();
        async move { !client.query(&holder, &[]).await.unwrap().is_empty() }
    };
    assert!(
        common::wait_for_async(Duration::from_secs(30), held).await,
        "the node never held its name:\n{}",
        log()
    );
    let terminate = format!("SELECT pg_terminate_backend(pid) FROM ({holder}) AS h");

    // Closed with the name left free: taken again, and the node runs on.
    client.batch_execute(&terminate).await.unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || log()
            .contains("holds this node's name again"))
        .await,
        "the name was not taken again:\n{}",
        log()
    );
    assert!(common::wait_for_async(Duration::from_secs(5), held).await);
    assert!(nodes[0].try_wait().unwrap().is_none(), "{}", log());

    // Closed while another connection waits for the name: it gets it, and the node stops.
    let (thief, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let waiting = tokio::spawn(async move {
        thief
            .execute("SELECT pg_advisory_lock($1)", &[&key])
            .await
            .unwrap();
        thief
    });
    let queued = "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
    assert!(
        common::wait_for_async(Duration::from_secs(10), || async {
            !client.query(queued, &[]).await.unwrap().is_empty()
        })
        .await
    );
    client.batch_execute(&terminate).await.unwrap();
    let _thief = waiting.await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), nodes[0].wait())
        .await
        .expect("the node did not stop")
        .unwrap();
    assert!(!status.success());
    assert!(
        log().contains("another feedwatch daemon runs as node \"a\""),
        "{}",
        log()
    );

    // A daemon started under a name another holds is refused at once.
    let out = dirs[0].run(&["run"]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("another feedwatch daemon runs as node \"a\" on this database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `feedwatch once` run by cron on several hosts shares the notifier as daemons do: a run
/// sends its own alerts, or leaves them to a run on another node that is sending and waits
/// until that one has, and it gives the notifier back when it ends. (Before, a run held the
/// notifier for its lease's length after it ended, so a run on another node in those seconds
/// left its alerts pending until some later run.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_on_several_nodes_sends_every_alert_before_it_ends() {
    let setup = Setup::start().await;
    let dirs = [
        Workdir::new(&setup.config_of("a", 0..40)),
        Workdir::new(&setup.config_of("b", 40..80)),
        Workdir::new(&setup.config_of("c", 80..120)),
    ];
    let ok = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", common::stderr(out));
    };
    // Two at once: each stores its alerts, one node sends them all.
    let (a, b) = tokio::join!(dirs[0].run(&["once"]), dirs[1].run(&["once"]));
    ok(&a);
    ok(&b);
    assert_eq!(
        setup.alerted(),
        80,
        "{}\n----\n{}",
        common::stderr(&a),
        common::stderr(&b)
    );
    // Then a third node, seconds later.
    let c = dirs[2].run(&["once"]).await;
    ok(&c);
    assert_eq!(setup.alerted(), 120, "{}", common::stderr(&c));
    // Each article alerted once.
    assert_eq!(setup.hook.webhook_received().len(), 120);
}

/// A daemon that stops on SIGTERM gives its notifier back, so another node sends at once
/// rather than when the lease runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_daemon_gives_its_notifier_back() {
    let setup = Setup::start().await;
    let dirs = [Workdir::new(&setup.config_of("a", 0..20))];
    let mut nodes = start_nodes(&dirs);
    let held = || {
        setup.pg.sql(
            "fw",
            "SELECT node FROM notifier_leases WHERE notifier = 'hook'",
        )
    };
    assert!(
        wait_for(Duration::from_secs(60), || setup.alerted() == 20).await,
        "{} of 20 alerts arrived",
        setup.alerted()
    );
    assert_eq!(held().trim(), "a");
    common::signal(&nodes[0], "TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), nodes[0].wait())
        .await
        .expect("the daemon did not stop")
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        held().trim(),
        "",
        "the stopped node still holds the notifier"
    );
}
