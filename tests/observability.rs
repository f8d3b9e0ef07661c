//! `/metrics` (parsed as Prometheus text), `/healthz`, and JSON logs.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use common::*;

async fn get(url: &str) -> (u16, String) {
    feedwatch::init_tls();
    let resp = reqwest::get(url).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// `name{labels} value` lines into a map from `name{labels}` to value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (key, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad metrics line {l:?}"));
            (
                key.to_string(),
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value in {l:?}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_json_logs() {
    let http = HttpServer::start().await;
    let port = free_port();
    let extra = format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n");
    let work = Workdir::new(&config(&http, 0, &["webhook"], &extra));
    let daemon = work
        .command(&["--log-format", "json", "run"])
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || !http
            .webhook_received()
            .is_empty())
        .await
    );

    let base = format!("http://127.0.0.1:{port}");
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ok"));
    let (status, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let m = parse_prometheus(&body);
    assert_eq!(m["feedwatch_polls_total{result=\"ok\"}"], 1.0, "{body}");
    assert_eq!(m["feedwatch_items_total{kind=\"new\"}"], 3.0);
    assert_eq!(
        m["feedwatch_deliveries_total{notifier=\"webhook\",result=\"delivered\"}"],
        1.0
    );
    assert_eq!(m["feedwatch_alerts{state=\"delivered\"}"], 1.0);
    assert_eq!(m["feedwatch_sources"], 1.0);
    assert_eq!(m["feedwatch_sources_failing"], 0.0);
    assert_eq!(m["feedwatch_poll_seconds_count"], 1.0);
    assert_eq!(m["feedwatch_poll_seconds_bucket{le=\"+Inf\"}"], 1.0);
    assert_eq!(get(&format!("{base}/nope")).await.0, 404);

    signal(&daemon, "TERM");
    let out = daemon.wait_with_output().await.unwrap();
    assert!(out.status.success());
    let logs = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "delivered" && l["notifier"] == "webhook"),
        "{logs}"
    );
}

/// A tmpfs of `size`, mounted for the test and unmounted when dropped (the tests run as
/// root, as CI does; the mount is the only way to fill a disk without filling the machine's).
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "this test mounts a small tmpfs, which needs root (as CI runs)"
        );
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_fails_on_a_full_disk() {
    feedwatch::init_tls();
    let disk = SmallDisk::mount("2m");
    let http = HttpServer::start().await;
    let port = free_port();
    let db = disk.0.path().join("fw.db");
    let cfg = config(
        &http,
        0,
        &["console"],
        &format!("\n[http]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .replace("path = \"fw.db\"", &format!("path = \"{}\"", db.display()));
    let work = Workdir::new(&cfg);
    let _daemon = work.spawn_daemon();
    let base = format!("http://127.0.0.1:{port}/healthz");
    let mut up = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if reqwest::get(&base).await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
    }
    assert!(up, "the daemon never became healthy");

    // Fill the disk to the last byte.
    let filler = disk.0.path().join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[1u8; 4096]).is_ok() {}
        let _ = f.sync_all();
    }
    // The daemon goes on through a full disk: its polls and claims fail and are retried.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = get(&base).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store not writable"), "{body}");

    std::fs::remove_file(&filler).unwrap();
    let (status, body) = get(&base).await;
    assert_eq!(status, 200, "{body}");
}
