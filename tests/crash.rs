//! Crash safety: a daemon polling a feed that keeps producing matching items, delivering to
//! a slow webhook, is killed with SIGKILL at random moments many times. In the end every
//! alert the store decided is at the receiver, none is invented, and repeats happen only
//! for sends in flight at a kill (at most one per kill).

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;

const KILLS: usize = 50;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_loses_and_invents_nothing() {
    let http = HttpServer::start().await;
    http.state.webhook_delay_ms.store(150, Ordering::SeqCst);
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[fetch]\ntimeout = \"5s\"\n[delivery]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n\
         [[feed]]\nname = \"Generator\"\nurl = \"{}\"\ninterval = \"1s\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
        http.url("/gen"),
        http.url("/hook")
    );
    let work = Workdir::new(&cfg);
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..KILLS {
        let polls = http.hits("/gen");
        let mut daemon = work
            .command(&["run"])
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Each run gets at least one poll in (so there is always work in flight), then dies
        // at a random moment of storing or delivering.
        wait_for(Duration::from_secs(10), || http.hits("/gen") > polls).await;
        tokio::time::sleep(Duration::from_millis(rng.u64(0..400))).await;
        signal(&daemon, "KILL");
        daemon.wait().await.unwrap();
    }

    // Let the last run drain the outbox with the feed frozen.
    http.state.generator_frozen.store(true, Ordering::SeqCst);
    let mut daemon = work
        .command(&["run"])
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut drained = false;
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let alerts = work.alerts().await;
        if !alerts.is_empty() && alerts.iter().all(|a| a["state"] == "delivered") {
            drained = true;
            break;
        }
    }
    signal(&daemon, "TERM");
    assert!(daemon.wait().await.unwrap().success());
    assert!(drained, "the outbox never drained");

    let decided: HashSet<String> = work
        .alerts()
        .await
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let mut received: HashMap<String, usize> = HashMap::new();
    for r in http.webhook_received() {
        *received
            .entry(r.header("idempotency-key").unwrap())
            .or_default() += 1;
    }
    let missing: Vec<_> = decided
        .iter()
        .filter(|id| !received.contains_key(*id))
        .collect();
    let invented: Vec<_> = received
        .keys()
        .filter(|id| !decided.contains(*id))
        .collect();
    let repeats: usize = received.values().map(|n| n - 1).sum();
    eprintln!(
        "crash test: {KILLS} kills, {} alerts decided, {} received, {repeats} repeats of in-flight sends",
        decided.len(),
        received.values().sum::<usize>()
    );
    assert!(
        decided.len() > 20,
        "the test produced too few alerts to mean anything: {}",
        decided.len()
    );
    assert!(missing.is_empty(), "alerts lost: {missing:?}");
    assert!(invented.is_empty(), "alerts invented: {invented:?}");
    assert!(repeats <= KILLS, "more repeats ({repeats}) than kills");
}
