//! A soak in CI size: 40 feeds that never stop producing matching items, each polled ten
//! times a second for about 9 seconds (thousands of polls, each storing and alerting).
//! Memory stays flat once warm.

mod common;

use std::time::Duration;

use common::*;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
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

    tokio::time::sleep(Duration::from_secs(3)).await;
    let warm = rss_kib(pid);
    let polls_warm = http.hits("/gen");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let end = rss_kib(pid);
    let polls = http.hits("/gen") - polls_warm;
    signal(&daemon, "TERM");
    let status = daemon.wait_with_output().await.unwrap().status;
    assert!(status.success());

    eprintln!(
        "soak: {polls} polls in 6 s after warm-up; RSS {warm} KiB warm, {end} KiB at the end"
    );
    // Hundreds of polls at least, even on a loaded machine (about 1,300-1,800 unloaded).
    assert!(polls > 200, "the daemon kept polling: {polls}");
    assert!(
        end <= warm + warm / 4 + 4096,
        "memory grew from {warm} KiB to {end} KiB"
    );
}
