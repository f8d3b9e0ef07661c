//! A soak in CI size: 40 feeds that never stop producing matching items, each due ten times
//! a second, until the daemon has polled them a thousand times (each poll storing and
//! alerting). Memory stays flat once warm. The test counts polls, not seconds: a loaded
//! machine takes longer, never fails it.

mod common;

use std::time::Duration;

use common::*;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Polls before memory is read as warm, and after.
const WARM_POLLS: usize = 200;
const SOAK_POLLS: usize = 800;

/// Waits until the feeds have been polled `n` times in all; returns the count. Fails when
/// polling stops: no new poll for a minute.
async fn wait_for_polls(http: &HttpServer, n: usize) -> usize {
    let (mut last, mut since) = (http.hits("/gen"), std::time::Instant::now());
    while last < n {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = http.hits("/gen");
        if now > last {
            (last, since) = (now, std::time::Instant::now());
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "the daemon stopped polling after {last} polls"
        );
    }
    last
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_stays_flat_while_polling_continuously() {
    let http = HttpServer::start().await;
    let mut cfg = String::from(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[fetch]\nhost_delay = \"1ms\"\nper_host = 8\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n[[notifier]]\nname = \"console\"\ntype = \"console\"\n",
    );
    for i in 0..40 {
        cfg.push_str(&format!(
            "[[feed]]\nname = \"Feed {i}\"\nurl = \"{}?f={i}\"\ninterval = \"100ms\"\n",
            http.url("/gen")
        ));
    }
    let work = Workdir::new(&cfg);
    let daemon = work.spawn_daemon();
    let pid = daemon.id().unwrap();

    // Warm: every feed polled a few times over.
    let polls_warm = wait_for_polls(&http, WARM_POLLS).await;
    let warm = rss_kib(pid);
    let polls = wait_for_polls(&http, polls_warm + SOAK_POLLS).await - polls_warm;
    let end = rss_kib(pid);
    signal(&daemon, "TERM");
    let status = daemon.wait_with_output().await.unwrap().status;
    assert!(status.success());

    eprintln!("soak: {polls} polls after warm-up; RSS {warm} KiB warm, {end} KiB at the end");
    assert!(
        end <= warm + warm / 4 + 4096,
        "memory grew from {warm} KiB to {end} KiB"
    );
}
