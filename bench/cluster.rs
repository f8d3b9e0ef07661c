//! Cluster benchmark: N generated feeds (served by nginx, as in `cycle.rs`) polled by 1, 2
//! and 3 `feedwatch run` nodes on one PostgreSQL (a throwaway cluster on this machine), and
//! by one node on SQLite, in the same run. A cycle starts when every source is made due at
//! once while the nodes run; it is measured from the first poll to the last (as the store
//! records them), and its CPU is what the nodes and the PostgreSQL server spent meanwhile.
//! On two cores the nodes compete for the same CPU: the figure to read is CPU per 1,000
//! feeds, beside SQLite's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cycle::{Nginx, Site};

#[path = "../tests/common/postgres.rs"]
mod postgres;

/// One measured cycle.
pub(crate) struct Row {
    pub backend: &'static str,
    pub nodes: usize,
    pub cycle: &'static str,
    pub wall_s: f64,
    pub cpu_s: f64,
    /// Of which the PostgreSQL server's.
    pub server_cpu_s: f64,
}

/// CPU seconds (user + system) a process has spent so far.
fn cpu_of(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // After the command name (in parentheses, which may hold spaces): utime is the 12th
    // field, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a constant of the system.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// The postmaster and its children: the whole server.
fn server_pids(postmaster: u32) -> Vec<u32> {
    let mut pids = vec![postmaster];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("PPid:"))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            });
        if parent == Some(postmaster) {
            pids.push(pid);
        }
    }
    pids
}

/// One connection of the bench's own, kept open, so watching the cycle forks no server
/// process; its own CPU is left out of the server's.
struct Watcher {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    pid: u32,
}

impl Watcher {
    fn connect(url: &str) -> Watcher {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client
        });
        let pid: i32 = runtime
            .block_on(client.query_one("SELECT pg_backend_pid()", &[]))
            .unwrap()
            .get(0);
        Watcher {
            runtime,
            client,
            pid: pid as u32,
        }
    }

    /// One number, or 0 when the tables are not made yet.
    fn count(&self, sql: &str) -> i64 {
        self.runtime
            .block_on(self.client.query_one(sql, &[]))
            .ok()
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .unwrap_or(0)
    }

    fn execute(&self, sql: &str) {
        self.runtime
            .block_on(self.client.batch_execute(sql))
            .unwrap();
    }
}

/// Where the nodes keep their state.
enum Backend<'a> {
    Sqlite(PathBuf),
    Postgres(&'a postgres::PgCluster, String, Box<Watcher>),
}

impl Backend<'_> {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SQLite",
            Backend::Postgres(..) => "PostgreSQL",
        }
    }

    fn store_table(&self, node: usize) -> String {
        match self {
            Backend::Sqlite(path) => format!("[store]\npath = \"{}\"\n", path.display()),
            Backend::Postgres(pg, db, _) => {
                format!("[store]\nurl = \"{}\"\nnode = \"n{node}\"\n", pg.url(db))
            }
        }
    }

    /// One number from the store.
    fn count(&self, sql: &str) -> i64 {
        match self {
            Backend::Sqlite(path) => {
                // Never created here: the node makes its store.
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE;
                let Ok(conn) = rusqlite::Connection::open_with_flags(path, flags) else {
                    return 0;
                };
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                conn.query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                    .unwrap_or(None)
                    .unwrap_or(0)
            }
            // Nothing yet before the first node made the tables.
            Backend::Postgres(_, _, watcher) => watcher.count(sql),
        }
    }

    fn execute(&self, sql: &str) {
        match self {
            Backend::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                conn.execute_batch(sql).unwrap();
            }
            Backend::Postgres(_, _, watcher) => watcher.execute(sql),
        }
    }

    /// CPU the server has spent so far (none for SQLite, which runs in the node).
    fn server_cpu(&self) -> f64 {
        match self {
            Backend::Sqlite(_) => 0.0,
            Backend::Postgres(pg, _, watcher) => pg.pid().map_or(0.0, |pid| {
                server_pids(pid)
                    .into_iter()
                    .filter(|&p| p != watcher.pid)
                    .map(cpu_of)
                    .sum()
            }),
        }
    }
}

/// The server's processes now: each one's kind ("backend", "autovacuum worker",
/// "walwriter", ...) and CPU so far, by process id.
fn server_processes(postmaster: u32, leave_out: u32) -> BTreeMap<u32, (String, f64)> {
    server_pids(postmaster)
        .into_iter()
        .filter(|&p| p != leave_out)
        .map(|pid| {
            let cmdline =
                std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let title = cmdline.trim_end_matches('\0').replace('\0', " ");
            let kind = match title.strip_prefix("postgres: ") {
                // "postgres: USER DATABASE HOST(PORT) STATE": a client's backend.
                Some(rest) if rest.contains('(') => "backend".to_string(),
                Some(rest) => rest.to_string(),
                None => "postmaster".to_string(),
            };
            (pid, (kind, cpu_of(pid)))
        })
        .collect()
}

/// CPU spent between two looks, by kind of server process (a process that ended in between
/// is missed).
fn cpu_by_kind(
    before: &BTreeMap<u32, (String, f64)>,
    after: &BTreeMap<u32, (String, f64)>,
) -> String {
    let mut kinds: BTreeMap<&str, f64> = BTreeMap::new();
    for (pid, (kind, cpu)) in after {
        let was = before.get(pid).map_or(0.0, |(_, c)| *c);
        *kinds.entry(kind).or_default() += cpu - was;
    }
    kinds
        .iter()
        .filter(|(_, cpu)| **cpu > 0.005)
        .map(|(kind, cpu)| format!("{kind} {cpu:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nodes running `feedwatch run`; killed when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let _ = child.wait();
        }
    }
}

fn start_nodes(site: &Site, backend: &Backend<'_>, nodes: usize, tag: &str) -> Nodes {
    let exe = std::env::current_exe().unwrap().with_file_name("feedwatch");
    let base = std::fs::read_to_string(site.write_config()).unwrap();
    // The cycle's own config, its [store] table replaced by this backend's.
    let feeds = &base[base.find("\n[fetch]").expect("a [fetch] table")..];
    Nodes(
        (1..=nodes)
            .map(|n| {
                let config = site.dir.join(format!("{tag}-n{n}.toml"));
                std::fs::write(&config, format!("{}{feeds}", backend.store_table(n))).unwrap();
                Command::new(&exe)
                    .arg("--config")
                    .arg(&config)
                    .arg("run")
                    .env("FEEDWATCH_LOG", "warn")
                    .stdout(Stdio::null())
                    .stderr(
                        std::fs::File::create(site.dir.join(format!("{tag}-n{n}.log"))).unwrap(),
                    )
                    .spawn()
                    .unwrap()
            })
            .collect(),
    )
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 30 s) until the nodes and the server spend less than a fifth of a core:
/// their start done, nothing but the odd poll running.
fn settle(cpu: &impl Fn() -> f64) {
    const WINDOW: Duration = Duration::from_millis(500);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut before = cpu();
    while Instant::now() < deadline {
        std::thread::sleep(WINDOW);
        let now = cpu();
        if now - before < 0.2 * WINDOW.as_secs_f64() {
            return;
        }
        before = now;
    }
}

/// Makes every source due now and measures the cycle that follows.
fn cycle(backend: &Backend<'_>, nodes: &Nodes, n: usize, name: &'static str) -> Row {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let cpu =
        || -> f64 { nodes.0.iter().map(|c| cpu_of(c.id())).sum::<f64>() + backend.server_cpu() };
    if name == "warm" {
        // Steady state: the cold cycle's alerts delivered first (thousands of them, sent
        // while the first warm cycles ran, made those cost twice a later one).
        wait_until("the outbox to drain", Duration::from_secs(600), || {
            backend.count("SELECT COUNT(*) FROM alerts WHERE state = 'pending'") == 0
        });
    }
    if let Backend::Postgres(_, _, watcher) = backend {
        // A warm cycle in steady state, as autovacuum leaves it: statistics of what the
        // cold cycle wrote (plans made while the tables looked empty read every row). No
        // worker left running into either cycle's figures.
        if name == "warm" {
            watcher.execute("VACUUM ANALYZE");
        }
        wait_until("autovacuum to finish", Duration::from_secs(300), || {
            watcher.count(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'",
            ) == 0
        });
    }
    let processes = || match backend {
        Backend::Postgres(pg, _, watcher) if profiling() => pg
            .pid()
            .map(|pid| server_processes(pid, watcher.pid))
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    // The nodes' own start (a retention pass, statistics) is not the cycle's: measured from
    // when they have settled, as on a daemon that has run a while.
    settle(&cpu);
    let processes_before = processes();
    let start = now_ms();
    let cpu_before = cpu();
    let server_before = backend.server_cpu();
    backend.execute("UPDATE sources SET next_poll_at = 0");
    let polled = format!("SELECT COUNT(*) FROM sources WHERE last_poll_at >= {start}");
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut again = Instant::now();
    while backend.count(&polled) < n as i64 {
        // A poll that was running when the sources were made due records its outcome after
        // (the next poll an hour on): made due again. A lease is shorter, and left alone.
        if again.elapsed() > Duration::from_secs(1) {
            backend.execute(&format!(
                "UPDATE sources SET next_poll_at = 0
                 WHERE (last_poll_at IS NULL OR last_poll_at < {start}) AND next_poll_at > {}",
                now_ms() + 1_800_000
            ));
            again = Instant::now();
        }
        if Instant::now() > deadline {
            if let Backend::Postgres(pg, db, _) = backend {
                eprintln!(
                    "not polled:\n{}",
                    pg.sql(
                        db,
                        &format!(
                            "SELECT id, active, next_poll_at, leased_by, lease_until, last_poll_at,
                                (SELECT string_agg(node, ',') FROM node_sources WHERE source_id = id)
                             FROM sources WHERE last_poll_at < {start} OR last_poll_at IS NULL LIMIT 20"
                        )
                    )
                );
            }
            panic!("{} of {n} sources polled in 300 s", backend.count(&polled));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let cpu_s = cpu() - cpu_before;
    if let Backend::Postgres(pg, db, _) = backend
        && profiling()
    {
        eprintln!(
            "{} node(s), {name} cycle: server CPU s by process: {}\nstatements by time spent (calls | ms | planning ms | rows | statement)\n{}",
            nodes.0.len(),
            cpu_by_kind(&processes_before, &processes()),
            pg.sql(
                db,
                "SELECT calls, round(total_exec_time::numeric), round(total_plan_time::numeric), rows,
                        left(regexp_replace(query, '\\s+', ' ', 'g'), 120)
                 FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 20;
                 SELECT pg_stat_statements_reset() IS NULL"
            )
        );
    }
    let server_cpu_s = backend.server_cpu() - server_before;
    let first = backend.count(&format!(
        "SELECT MIN(last_poll_at) FROM sources WHERE last_poll_at >= {start}"
    ));
    let last = backend.count("SELECT MAX(last_poll_at) FROM sources");
    Row {
        backend: backend.name(),
        nodes: nodes.0.len(),
        cycle: name,
        wall_s: (last - first) as f64 / 1000.0,
        cpu_s,
        server_cpu_s,
    }
}

/// `PG_PROFILE=1`: PostgreSQL's statements by the time they took, after each cycle (from
/// `pg_stat_statements`), to see where the server's CPU goes.
fn profiling() -> bool {
    std::env::var_os("PG_PROFILE").is_some_and(|v| v == "1")
}

/// The PostgreSQL setups to run, by their number of nodes: `NODES=1,3`, or 1, 2 and 3.
fn node_counts() -> Vec<usize> {
    std::env::var("NODES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3])
}

/// Cold and warm cycles of `n` feeds on SQLite (one node) and PostgreSQL (1, 2, 3 nodes), with
/// SQLite measured again after each PostgreSQL setup.
pub(crate) fn bench_cluster(root: &Path, n: usize) -> Vec<Row> {
    let dir = root.join(format!("cluster-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www")).unwrap();
    let (_nginx, port) = Nginx::start(&dir, &dir.join("www"));
    let site = Site {
        dir: dir.clone(),
        n,
        port,
    };
    site.generate();
    let mut options = std::env::var("PG_OPTIONS").unwrap_or_default();
    if profiling() {
        options.push_str(
            " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all \
             -c pg_stat_statements.track_planning=on",
        );
    }
    let mut rows = Vec::new();
    // SQLite before every PostgreSQL setup and after the last, each on a new file: this
    // machine's speed drifts by a third within the hour, so each setup is read against the
    // SQLite cycles on either side of it rather than against one measured minutes before.
    let sqlite = |i: usize| Backend::Sqlite(dir.join(format!("sqlite{i}.db")));
    measure_setup(&site, &sqlite(0), 1, &mut rows);
    for (i, count) in node_counts().into_iter().enumerate() {
        // Each setup on a server of its own, so that every setup starts from the same state:
        // on one server shared by the setups, the same one node cost 1.26-1.39x SQLite's CPU
        // cold as the first setup and 1.51x as the third (one run).
        let pg = postgres::PgCluster::start_in(&dir.join(format!("pg{count}")), &options);
        let name = format!("nodes{count}");
        let url = pg.database(&name);
        if profiling() {
            pg.sql(&name, "CREATE EXTENSION pg_stat_statements");
        }
        let backend = Backend::Postgres(&pg, name, Box::new(Watcher::connect(&url)));
        measure_setup(&site, &backend, count, &mut rows);
        // The server stopped before SQLite is measured beside it.
        drop(backend);
        drop(pg);
        measure_setup(&site, &sqlite(i + 1), 1, &mut rows);
    }
    rows
}

/// Starts `count` nodes on `backend`, measures a cold cycle and the median of five warm
/// ones, prints both rows and adds them to `rows`, and stops the nodes.
fn measure_setup(site: &Site, backend: &Backend<'_>, count: usize, rows: &mut Vec<Row>) {
    let n = site.n;
    let tag = format!("{}{count}", backend.name());
    let nodes = start_nodes(site, backend, count, &tag);
    // Every node has listed its sources (the first polls are spread over minutes).
    let listed = match backend {
        Backend::Sqlite(_) => "SELECT COUNT(*) FROM sources".to_string(),
        Backend::Postgres(..) => "SELECT COUNT(*) FROM node_sources".to_string(),
    };
    wait_until("the nodes to start", Duration::from_secs(120), || {
        backend.count(&listed) >= (n * count) as i64
    });
    // Warm cycles last about a second, so anything else on the machine shows: the
    // median of five.
    let cold = cycle(backend, &nodes, n, "cold");
    let mut warms: Vec<Row> = (0..5).map(|_| cycle(backend, &nodes, n, "warm")).collect();
    warms.sort_by(|a, b| a.cpu_s.total_cmp(&b.cpu_s));
    for row in [cold, warms.swap_remove(2)] {
        println!(
            "| {n} | {} | {} | {} | {:.2} | {:.2} ({:.2}) | {:.3} |",
            row.backend,
            row.nodes,
            row.cycle,
            row.wall_s,
            row.cpu_s,
            row.server_cpu_s,
            row.cpu_s * 1000.0 / n as f64
        );
        rows.push(row);
    }
}
