//! The daemon: polls on its own, reloads on SIGHUP, stops cleanly on SIGTERM.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread")]
async fn run_alerts_reloads_on_sighup_and_exits_zero_on_sigterm() {
    let http = HttpServer::start().await;
    let base = config(&http, 0, &["console"], "");
    let work = Workdir::new(&base);
    let mut daemon = work
        .command(&["run"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(daemon.stdout.take().unwrap()).lines();

    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("no alert within 30 s");
    assert!(
        first
            .unwrap()
            .unwrap()
            .contains("Maduro Signals Talks With United States")
    );

    // Add a second feed and reload: it gets polled without a restart.
    http.set_file(
        "extra.xml",
        b"<rss version=\"2.0\"><channel><title>Andes Daily</title><item><title>Caracas Metro Reopens</title>\
          <guid>ad-1</guid><description>The Caracas metro reopened on Monday after repairs.</description></item>\
          </channel></rss>"
            .to_vec(),
        "application/rss+xml",
    );
    work.write_config(&format!(
        "{base}\n[[feed]]\nname = \"Andes Daily\"\nurl = \"{}\"\n",
        http.url("/files/extra.xml")
    ));
    signal(&daemon, "HUP");
    let second = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("reloaded feed never alerted");
    let second = second.unwrap().unwrap();
    assert!(
        second.starts_with("venezuela | Andes Daily | Caracas Metro Reopens"),
        "{second}"
    );

    // An invalid config is refused and the daemon keeps running.
    work.write_config("[fetch]\ntimeout = \"soon\"\n");
    signal(&daemon, "HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "a bad reload must not stop the daemon"
    );

    signal(&daemon, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(10), daemon.wait())
        .await
        .expect("did not stop within 10 s");
    assert!(status.unwrap().success());
    assert_eq!(
        http.hits("/files/feed.xml"),
        1,
        "polled once per interval, not in a loop"
    );
}
