//! Politeness: a 429 with `Retry-After` is honoured, and `ttl` / `Cache-Control` can only
//! lengthen a source's interval.

mod common;

use std::time::Duration;

use common::*;
use feedwatch::time::Clock;

fn poll_gap_s(source: &serde_json::Value) -> i64 {
    let at = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(source[k].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    at("next_poll") - at("last_poll")
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured_and_ttl_lengthens_the_interval() {
    let http = HttpServer::start().await;
    let extra = format!(
        "\n[[feed]]\nname = \"Busy\"\nurl = \"{}\"\ninterval = \"1s\"\n",
        http.url("/busy/120")
    );
    let cfg = config(&http, 0, &["console"], &extra).replacen(
        "url = \"http",
        "interval = \"1s\"\nurl = \"http",
        1,
    );
    let work = Workdir::new(&cfg);
    let clock = Clock::manual(feedwatch::time::now_ms());
    work.once_at(&clock).await;
    // Several 1 s intervals later, a daemon would poll neither source again.
    clock.advance(Duration::from_secs(3));
    assert_eq!(
        work.due_at(clock.now()),
        Vec::<String>::new(),
        "not polled again inside Retry-After or the feed's ttl"
    );
    assert_eq!(http.hits("/busy/120"), 1);

    let sources = work.sources().await;
    let busy = sources.iter().find(|s| s["name"] == "Busy").unwrap();
    assert!(poll_gap_s(busy) >= 120, "{busy}");
    assert!(busy["last_error"].as_str().unwrap().contains("HTTP 429"));
    // The seed feed says <ttl>10</ttl>: ten minutes, though the interval is one second.
    let clash = sources
        .iter()
        .find(|s| s["name"] == "Clash Report")
        .unwrap();
    assert!(poll_gap_s(clash) >= 600, "{clash}");
    assert_eq!(http.hits("/files/feed.xml"), 1);
}
