//! One alert per story: syndicated copies, GUID churn, edits and tombstones; and `search`.

mod common;

use common::*;

fn rss(items: &str) -> Vec<u8> {
    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wire</title>{items}</channel></rss>").into_bytes()
}

fn item(guid: &str, link: &str, title: &str, body: &str) -> String {
    format!(
        "<item><title>{title}</title><guid isPermaLink=\"false\">{guid}</guid><link>{link}</link>\
         <pubDate>Fri, 02 Jan 2026 14:05:00 +0000</pubDate><description>{body}</description></item>"
    )
}

const BODY: &str = "Officials in the capital met on Monday to discuss the new port, the rail line to the \
    coast and the budget for the coming year. The minister said work would start in spring and that the \
    first trains could run within three years, though engineers warned that the schedule was ambitious \
    and that costs had risen sharply since the plan was first announced last autumn.";

#[tokio::test(flavor = "multi_thread")]
async fn a_syndicated_copy_joins_the_story_and_does_not_alert_again() {
    let http = HttpServer::start().await;
    let extra = format!(
        "\n[[feed]]\nname = \"Hemisphere Wire\"\nurl = \"{}\"\n",
        http.url("/files/syndicated.atom")
    );
    let work = Workdir::new(&config(&http, 0, &["webhook"], &extra));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hooks = http.webhook_received();
    assert_eq!(
        hooks.len(),
        1,
        "one alert for the story, not one per outlet"
    );
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 1);
    let sources: Vec<&str> = alerts[0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources.contains(&"Clash Report") && sources.contains(&"Hemisphere Wire"));
    assert!(stdout(&work.run(&["alerts"]).await).contains("carried by: "));
}

#[tokio::test(flavor = "multi_thread")]
async fn guid_churn_edits_and_tombstones() {
    let http = HttpServer::start().await;
    let feed_url = http.url("/files/wire.xml");
    let cfg = format!(
        "[store]\npath = \"fw.db\"\nkeep = \"1s\"\n[alerts]\nbacklog = \"all\"\n[delivery]\nretry_initial = \"1s\"\n\
         [[feed]]\nname = \"Wire\"\nurl = \"{feed_url}\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[watch]]\nname = \"rail\"\nterms = [\"rail line\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n"
    );
    let work = Workdir::new(&cfg);
    let set = |items: String| http.set_file("wire.xml", rss(&items), "application/rss+xml");

    set(item(
        "g1",
        "https://wire.example/port",
        "Port Plan Approved",
        BODY,
    ));
    let out = work.run(&["once"]).await;
    assert_eq!(
        stdout(&out).lines().collect::<Vec<_>>(),
        ["rail | Wire | Port Plan Approved | https://wire.example/port | matched: rail line"]
    );

    // The publisher changes its GUIDs: same link, same item, nothing new.
    set(item(
        "urn:new-guid-1",
        "https://wire.example/port",
        "Port Plan Approved",
        BODY,
    ));
    assert_eq!(stdout(&work.run(&["once"]).await), "");

    // A typo fixed and a timestamp changed: a small edit, no alert.
    set(item(
        "urn:new-guid-1",
        "https://wire.example/port",
        "Port Plan Approved",
        &BODY.replace("Monday", "Tuesday"),
    ));
    assert_eq!(stdout(&work.run(&["once"]).await), "");

    // A material rewrite that now mentions Caracas: an "updated" alert for that watch only.
    let rewrite = format!(
        "Talks moved to Caracas on Friday. {}",
        &BODY[..BODY.len() / 2]
    );
    set(item(
        "urn:new-guid-1",
        "https://wire.example/port",
        "Port Plan Approved",
        &rewrite,
    ));
    let lines = stdout(&work.run(&["once"]).await);
    assert_eq!(lines.lines().count(), 1, "{lines}");
    assert!(
        lines.starts_with("caracas | Wire | Port Plan Approved"),
        "{lines}"
    );
    let alerts = work.alerts().await;
    let kinds: Vec<(&str, &str)> = alerts
        .iter()
        .map(|a| (a["watch"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("caracas", "updated"), ("rail", "new")]);

    // Past retention the text goes, the identity stays: the item is not new again.
    let later = feedwatch::time::now_ms() + 1100;
    work.once_at(&feedwatch::time::Clock::manual(later)).await;
    set(format!(
        "{}{}",
        item(
            "urn:new-guid-1",
            "https://wire.example/port",
            "Port Plan Approved",
            BODY
        ),
        item(
            "g2",
            "https://wire.example/rail",
            "Rail Line Delayed",
            "The rail line is delayed."
        )
    ));
    let lines = stdout(&work.run(&["once"]).await);
    assert_eq!(
        lines.lines().collect::<Vec<_>>(),
        ["rail | Wire | Rail Line Delayed | https://wire.example/rail | matched: rail line"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_runs_a_query_over_stored_articles() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    assert!(work.run(&["once"]).await.status.success());
    let out = work
        .run(&["search", "Maduro NEAR/3 talks", "--since", "30d", "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hits = lines_json(&out.stdout);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["title"], "Maduro Signals Talks With United States");
    let out = work.run(&["search", "Caribbean AND NOT Maduro"]).await;
    assert_eq!(
        stdout(&out)
            .lines()
            .filter(|l| !l.starts_with('\t'))
            .count(),
        2,
        "{}",
        stdout(&out)
    );
    let out = work.run(&["search", "(Maduro"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("at character 8: expected ')'"),
        "{}",
        stderr(&out)
    );
}
