//! Hostile content inside otherwise valid feeds: every piece ends up bounded, and the rest of
//! the feed is read as usual.

mod common;

use common::*;

fn feed(items: &str) -> Vec<u8> {
    format!("<rss version=\"2.0\"><channel><title>H</title>{items}</channel></rss>").into_bytes()
}

fn hostile_config(http: &HttpServer) -> String {
    config(http, 0, &["webhook"], "").replace(
        &http.url("/files/feed.xml"),
        &http.url("/files/hostile.xml"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn huge_and_deeply_nested_titles_are_cut_to_a_line() {
    let http = HttpServer::start().await;
    let huge = format!("Caracas {}", "word ".repeat(100_000));
    let nested = format!(
        "{}Caracas nested{}",
        "&lt;div&gt;".repeat(20_000),
        "&lt;/div&gt;".repeat(20_000)
    );
    let items = format!(
        "<item><title>{huge}</title><guid>h1</guid><description>Caracas.</description></item>\
         <item><title>{nested}</title><guid>h2</guid><description>Caracas too.</description></item>"
    );
    http.set_file("hostile.xml", feed(&items), "application/rss+xml");
    let work = Workdir::new(&hostile_config(&http));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let got = http.webhook_received();
    assert_eq!(got.len(), 2, "both items alert");
    for hook in &got {
        let title = hook.json()["title"].as_str().unwrap().to_string();
        assert!(
            title.chars().count() <= 1000,
            "{} chars",
            title.chars().count()
        );
        assert!(
            hook.body.len() < 8 * 1024,
            "webhook body of {} bytes",
            hook.body.len()
        );
    }
    let huge_title = got[0].json()["title"].as_str().unwrap().to_string();
    assert!(huge_title.starts_with("Caracas word") && huge_title.ends_with('…'));
}

/// `<div/>` opens a div (the slash means nothing on an HTML element): 100,000 of them used to
/// slip past the nesting bound and take minutes of CPU, in `extract`, as a watched page and
/// in an item's description. Each now reads like any page (the runs are bounded by the
/// harness's 60 s limit).
#[tokio::test(flavor = "multi_thread")]
async fn self_closing_divs_do_not_slip_past_the_nesting_bound() {
    let http = HttpServer::start().await;
    let page = format!(
        "<html><body><p>Caracas opens the port.</p>{}<p>The end.</p></body></html>",
        "<div/>".repeat(100_000)
    );
    http.set_file("deep.html", page.clone().into_bytes(), "text/html");
    let description = format!(
        "<item><title>Deep</title><guid>d1</guid><description><![CDATA[<p>Caracas.</p>{}]]></description></item>",
        "<div/>".repeat(50_000)
    );
    http.set_file("hostile.xml", feed(&description), "application/rss+xml");
    let cfg = format!(
        "{}\n[[page]]\nname = \"Deep page\"\nurl = \"{}\"\n",
        hostile_config(&http),
        http.url("/files/deep.html")
    );
    let work = Workdir::new(&cfg);
    std::fs::write(work.dir.path().join("deep.html"), &page).unwrap();
    let out = work
        .run(&[
            "extract",
            &work.dir.path().join("deep.html").to_string_lossy(),
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Caracas opens the port."),
        "{}",
        stdout(&out)
    );

    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let sources = work.sources().await;
    assert!(
        sources.iter().all(|s| s["last_error"].is_null()),
        "{sources:?}"
    );
    // The item alerts; the page's first version is its baseline, read without error.
    assert_eq!(http.webhook_received().len(), 1);
    let page = sources.iter().find(|s| s["name"] == "Deep page").unwrap();
    assert_eq!(page["status"], "ok: first version", "{page}");
}

/// A feed whose article pages trickle: one poll fetches at most `max_pages_per_poll` of them,
/// one at a time to their host, and the feed's slot is free for other sources meanwhile
/// (with `concurrency = 1`, another feed keeps being polled every second).
#[tokio::test(flavor = "multi_thread")]
async fn slow_article_pages_are_capped_and_hold_no_slot() {
    let http = HttpServer::start().await;
    let other = HttpServer::start_on("127.0.0.2").await;
    let items: String = (0..300)
        .map(|i| {
            format!(
                "<item><title>Caracas {i}</title><guid>s{i}</guid><link>{}?i={i}</link>\
                 <description>Caracas.</description></item>",
                http.url("/trickle")
            )
        })
        .collect();
    http.set_file("hostile.xml", feed(&items), "application/rss+xml");
    let plain =
        "<item><title>Quiet</title><guid>q1</guid><description>Nothing.</description></item>";
    other.set_file("plain.xml", feed(plain), "application/rss+xml");
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n\
         [fetch]\ntimeout = \"3s\"\nconcurrency = 1\nper_host = 1\nhost_delay = \"1ms\"\nmax_pages_per_poll = 4\n\
         [[feed]]\nname = \"Slow pages\"\nurl = \"{}\"\nfull_text = true\ninterval = \"1h\"\n\
         [[feed]]\nname = \"Other\"\nurl = \"{}\"\ninterval = \"1s\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/hostile.xml"),
        other.url("/files/plain.xml"),
    );
    let work = Workdir::new(&cfg);
    let daemon = work.spawn_daemon();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    signal(&daemon, "TERM");
    assert!(daemon.wait_with_output().await.unwrap().status.success());

    assert_eq!(http.hits("/files/hostile.xml"), 1);
    let pages = http.hits("/trickle");
    assert!(
        (1..=4).contains(&pages),
        "{pages} pages fetched in one poll"
    );
    let others = other.hits("/files/plain.xml");
    assert!(
        others >= 2,
        "the other feed was polled {others} times meanwhile"
    );
    let sources = work.sources().await;
    let slow = sources.iter().find(|s| s["name"] == "Slow pages").unwrap();
    let status = slow["status"].as_str().unwrap_or_default();
    assert!(status.contains("pages for the next poll"), "{slow}");
}

/// A feed may carry U+0000 (raw, or escaped as `\u0000` in JSON). PostgreSQL refuses it
/// in any text column, so an item carrying one failed every poll of its source there; on
/// either store the item is now kept, and alerts, without it.
#[tokio::test(flavor = "multi_thread")]
async fn nul_characters_in_a_feed_reach_neither_store() {
    let http = HttpServer::start().await;
    let feed = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "N",
        "items": [{"id": "n\u00001", "url": "https://example.org/n\u00001",
                   "title": "Caracas\u0000 talks", "content_html": "<p>In Caracas\u0000 today.</p>"}]}"#;
    http.set_file("hostile.xml", feed.into(), "application/feed+json");
    let pg = common::postgres::PgCluster::start();
    let stores = [
        "path = \"fw.db\"".to_string(),
        format!("url = \"{}\"", pg.database("fw")),
    ];
    for (n, store) in stores.iter().enumerate() {
        let work = Workdir::new(&hostile_config(&http).replace("path = \"fw.db\"", store));
        let out = work.run(&["once"]).await;
        assert!(out.status.success(), "{store}: {}", stderr(&out));
        let out = work.run(&["sources", "--json"]).await;
        let sources: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            sources[0]["last_error"],
            serde_json::Value::Null,
            "{store}: {sources}"
        );
        let got = http.webhook_received();
        assert_eq!(got.len(), n + 1, "{store}: one alert");
        assert_eq!(got[n].json()["title"], "Caracas talks", "{store}");
    }
}
