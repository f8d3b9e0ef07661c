//! The status page in a real browser: the daemon runs on a store filled by a real poll of
//! local feeds, headless Chromium (through chromedriver) loads each page, and the test
//! checks what a person would see, that a feed title's script never runs, and that "send
//! again" requeues a failed delivery. Screenshots go to `target/screenshots/`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::webdriver::Browser;
use common::*;

const MADURO: &str = "Maduro Signals Talks With United States";
const HOSTILE: &str = "<script>window.pwned=1;alert(1)</script><img src=x onerror=\"window.pwned=2;alert(2)\"> Caracas airport reopens";

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn screenshot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(format!("{name}.png"))
}

fn config(http: &HttpServer, port: u16, hook: &str) -> String {
    format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
         [[feed]]\nname = \"Clash Report\"\nurl = \"{}\"\n\
         [[feed]]\nname = \"Wire\"\nurl = \"{}\"\n\
         [[feed]]\nname = \"Gone\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n\
         [[watch]]\nname = \"oil\"\nterms = [\"oil\"]\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
        http.url("/files/feed.xml"),
        http.url("/files/wire.xml"),
        http.url("/status/404"),
        http.url(hook),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_in_a_real_browser() {
    feedwatch::init_tls();
    let http = HttpServer::start().await;
    let wire = format!(
        "<rss version=\"2.0\"><channel><title>Wire</title><item><title>{}</title><guid>w1</guid>\
         <description>Flights resumed in Caracas on Monday.</description></item></channel></rss>",
        // Escaped twice: after XML and HTML decoding the title still reads as markup, as
        // text about a tag would (markup itself is dropped from titles when polled).
        escape(&escape(HOSTILE))
    );
    http.set_file("wire.xml", wire.into_bytes(), "application/rss+xml");
    let port = free_port();
    // The first poll's deliveries are refused for good (410): failed, with "send again".
    let work = Workdir::new(&config(&http, port, "/status/410"));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    work.write_config(&config(&http, port, "/hook"));
    let mut daemon = work.spawn_daemon();
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        wait_for_async(Duration::from_secs(20), || {
            let url = format!("{base}/healthz");
            async move { reqwest::get(url).await.is_ok() }
        })
        .await,
        "the status page did not come up"
    );

    let browser = Browser::start().await;

    // Overview: the failing source counts.
    browser.goto(&format!("{base}/")).await;
    assert_eq!(browser.find("#failing-count").await.text().await, "1");
    let text = browser.page_text().await;
    assert!(text.contains("venezuela"), "{text}");
    browser.screenshot(&screenshot("overview")).await;

    // Sources: the failing one shows as failing, with its error, and a strip of polls.
    browser.goto(&format!("{base}/sources")).await;
    let failing = browser.find("tr.failing").await.text().await;
    assert!(
        failing.contains("Gone") && failing.contains("failing") && failing.contains("HTTP 404"),
        "{failing}"
    );
    assert!(!browser.find_all("svg.strip rect.ok").await.is_empty());
    browser.screenshot(&screenshot("sources")).await;

    // Alerts: the snippet with its terms marked; the hostile title as text, its script
    // never run.
    browser.goto(&format!("{base}/alerts")).await;
    let text = browser.page_text().await;
    assert!(text.contains(MADURO), "{text}");
    assert!(
        text.contains("<script>window.pwned=1"),
        "the title shows as text: {text}"
    );
    let mut marked = Vec::new();
    for m in browser.find_all("mark").await {
        marked.push(m.text().await);
    }
    assert!(marked.iter().any(|m| m == "Venezuela"), "{marked:?}");
    assert_eq!(
        browser
            .run_script("return typeof window.pwned === 'undefined';")
            .await,
        serde_json::json!(true),
        "a feed title's script ran"
    );
    assert!(!browser.dialog_open().await);
    assert!(
        browser.find_all("img").await.is_empty(),
        "no <img> from a title"
    );
    browser.screenshot(&screenshot("alerts")).await;

    // "Send again" moves a failed delivery back to the queue; the daemon delivers it.
    let buttons = browser.find_all("button.retry").await;
    assert_eq!(buttons.len(), 3, "three failed deliveries");
    buttons[0].click().await;
    let flash = browser.wait_find("#flash").await.text().await;
    assert_eq!(flash, "1 delivery queued again.");
    assert!(
        wait_for(Duration::from_secs(20), || http.webhook_received().len()
            == 1)
        .await
    );
    browser.goto(&format!("{base}/alerts?state=failed")).await;
    assert_eq!(browser.find_all("button.retry").await.len(), 2);

    // Watches: the search box finds a stored article and says which watches it alerts.
    browser.goto(&format!("{base}/watches")).await;
    let q = browser.find("input[name=q]").await;
    q.type_text("Maduro AND talks").await;
    browser.find("form.filters button").await.click().await;
    let results = browser.wait_find("#results").await.text().await;
    assert!(
        results.contains(MADURO) && results.contains("would alert venezuela, oil"),
        "{results}"
    );
    assert_eq!(
        browser
            .find("input[name=q]")
            .await
            .attribute("value")
            .await
            .as_deref(),
        Some("Maduro AND talks")
    );
    browser.screenshot(&screenshot("watches")).await;

    drop(browser);
    daemon.kill().await.unwrap();
}
