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
