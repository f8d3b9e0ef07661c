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

/// Sources claimed ahead of a free slot are the node's until polled: a daemon that stops
/// gives them back with the polls it cut short, so they are due at once (for another node,
/// or this one started again), not when their lease runs out.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_gives_back_sources_claimed_but_not_polled() {
    let http = HttpServer::start().await;
    let feeds: String = (1..=3)
        .map(|n| {
            format!(
                "\n[[feed]]\nname = \"Slow {n}\"\nurl = \"{}?n={n}\"\n",
                http.url("/trickle")
            )
        })
        .collect();
    let work = Workdir::new(&format!(
        "[store]\npath = \"fw.db\"\n\n[fetch]\nconcurrency = 1\ntimeout = \"30s\"\n{feeds}"
    ));
    // A first run records the sources (new ones are spread over 150 ms) and stops while
    // its only slot is busy: all three are due when the second starts.
    let first = run_until_polled(&work, &http, 1).await;
    stop(first).await;
    // One source polling, one claimed ahead of the only slot, one never claimed.
    let daemon = run_until_polled(&work, &http, 2).await;
    stop(daemon).await;
    assert_eq!(http.hits("/trickle"), 2, "one slot, one poll per run");
    let now = feedwatch::time::Clock::system().now();
    let mut due = work.due_at(now);
    due.sort();
    assert_eq!(due, ["Slow 1", "Slow 2", "Slow 3"]);
}

/// `feedwatch run`, once the slow feed has been asked `hits` times in all and a little after.
async fn run_until_polled(work: &Workdir, http: &HttpServer, hits: usize) -> tokio::process::Child {
    let daemon = work.command(&["run"]).kill_on_drop(true).spawn().unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || http.hits("/trickle") == hits).await,
        "poll {hits} never started"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    daemon
}

async fn stop(mut daemon: tokio::process::Child) {
    signal(&daemon, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("did not stop within 20 s");
    assert!(status.unwrap().success());
}
