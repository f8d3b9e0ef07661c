//! A throwaway PostgreSQL cluster for a test or a benchmark: `initdb` and `pg_ctl` from
//! Debian's `postgresql` package, in a folder of its own, on a free port of 127.0.0.1,
//! stopped when dropped. As root it runs as the `postgres` user (or `nobody`), since
//! PostgreSQL refuses to run as root. `./tests/run` installs the package when it is
//! missing. Shared with `bench/` (by `#[path]`), so it needs nothing but std and libc.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster; stopped (immediately, nothing to keep) when dropped.
pub(crate) struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    pub(crate) port: u16,
    /// Removed with the cluster (a test's temporary folder), if anything.
    _temp: Option<Box<dyn std::any::Any>>,
}

/// The folder holding `initdb`, `pg_ctl` and `psql`: the newest of Debian's
/// `/usr/lib/postgresql/<version>/bin`, else the one on PATH.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| d.join("initdb").exists());
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL's initdb was not found (neither in /usr/lib/postgresql/*/bin nor on PATH): \
             run the tests with ./tests/run, which installs Debian's postgresql package"
        )
    })
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Who runs the server: nobody else when the tests are not root.
fn run_as() -> Option<String> {
    // SAFETY: geteuid only reads the process's user id.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let has = |user: &str| {
        Command::new("id")
            .arg("-u")
            .arg(user)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    Some(
        if has("postgres") {
            "postgres"
        } else {
            "nobody"
        }
        .to_string(),
    )
}

impl PgCluster {
    /// A cluster in a temporary folder, removed when the cluster is dropped.
    #[cfg(test)]
    pub(crate) fn start() -> PgCluster {
        let temp = tempfile::Builder::new().prefix("fw-pg-").tempdir().unwrap();
        let mut cluster = PgCluster::start_in(temp.path(), "");
        cluster._temp = Some(Box::new(temp));
        cluster
    }

    /// Creates and starts a cluster in the empty folder `dir`, with a superuser `feedwatch`
    /// (trust on 127.0.0.1); `options` are more of the server's `-c name=value` settings.
    pub(crate) fn start_in(dir: &Path, options: &str) -> PgCluster {
        let bin = bin_dir();
        let run_as = run_as();
        std::fs::create_dir_all(dir).unwrap();
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .arg("-R")
                .arg(user)
                .arg(dir)
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give {} to {user}", dir.display());
        }
        let mut cluster = PgCluster {
            dir: dir.to_path_buf(),
            bin,
            run_as,
            port: 0,
            _temp: None,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "feedwatch",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        // A port taken between choosing and binding: try another.
        for _ in 0..5 {
            let port = free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 {options}",
                cluster.dir.display()
            );
            let log = cluster.dir.join("server.log");
            let started = cluster.try_run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &options,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if started {
                cluster.port = port;
                return cluster;
            }
        }
        let log = std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
        panic!("PostgreSQL did not start:\n{log}");
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        cmd.args(args).current_dir(&self.dir);
        cmd
    }

    fn try_run(&self, program: &str, args: &[&str]) -> bool {
        let out = self.command(program, args).output().unwrap();
        if !out.status.success() {
            eprintln!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        out.status.success()
    }

    fn run(&self, program: &str, args: &[&str]) {
        assert!(self.try_run(program, args), "{program} failed");
    }

    /// Runs SQL in database `db` with psql, stopping at the first error.
    pub(crate) fn sql(&self, db: &str, sql: &str) -> String {
        self.try_sql(db, sql)
            .unwrap_or_else(|e| panic!("psql: {e}"))
    }

    /// The same, the error returned.
    pub(crate) fn try_sql(&self, db: &str, sql: &str) -> Result<String, String> {
        let port = self.port.to_string();
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "feedwatch", "-d", db])
            .args(["-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// A new empty database, and its URL.
    pub(crate) fn database(&self, name: &str) -> String {
        self.sql("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url(name)
    }

    /// The URL of database `name`.
    pub(crate) fn url(&self, name: &str) -> String {
        format!("postgres://feedwatch@127.0.0.1:{}/{name}", self.port)
    }

    /// The folder the cluster lives in.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// The postmaster's process id (its children are the server's other processes).
    pub(crate) fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data();
            let _ = self
                .command(
                    "pg_ctl",
                    &[
                        "-D",
                        data.to_str().unwrap(),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                )
                .output();
        }
    }
}
