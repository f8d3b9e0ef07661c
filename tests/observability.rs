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
