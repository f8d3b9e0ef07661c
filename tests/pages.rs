//! Page sources end to end: `mode = "content"` alerts only on added article text (never on
//! rotating ads, counters, timestamps or "most read" boxes), and `mode = "links"` fetches
//! and matches only new article links, never navigation or footer links.

mod common;

use common::*;

fn page_config(http: &HttpServer, page: &str) -> String {
    format!(
        r#"
[store]
path = "fw.db"

[fetch]
timeout = "3s"
connect_timeout = "2s"
host_delay = "1ms"
allow_private = true       # the linked articles are on 127.0.0.1 too

[[watch]]
name = "venezuela"
terms = ["Venezuela", "Caracas"]

[[notifier]]
name = "webhook"
type = "webhook"
url = "{}"

{page}
"#,
        http.url("/hook")
    )
}

fn watched_page(ad: &str, most_read: &str, views: u32, updated: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"<html><head><title>Election live page</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<main><article><h1>Election live page</h1>
<p class="timestamp">Updated {updated}</p>
<p>Polls opened at seven in the morning across the country, and officials reported long queues in the capital.</p>
<div class="ad-slot">Advertisement: {ad}</div>
<p>Turnout by noon was higher than at the last election, the electoral commission said in its first update of the day.</p>
{extra}
<div class="views">{views} views</div>
</article></main>
<aside class="most-read"><h3>Most read</h3><ul><li><a href="/x">{most_read}</a></li></ul></aside>
<footer>Copyright 2026</footer></body></html>"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn content_pages_alert_on_added_text_only() {
    let http = HttpServer::start().await;
    let page = format!(
        "[[page]]\nname = \"Live\"\nurl = \"{}\"\nmode = \"content\"\n",
        http.url("/files/live.html")
    );
    let work = Workdir::new(&page_config(&http, &page));
    let set = |body: Vec<u8>| http.set_file("live.html", body, "text/html; charset=utf-8");

    set(watched_page(
        "Hotel deals",
        "Sports results",
        1_200,
        "10:01",
        "",
    ));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        http.webhook_received().is_empty(),
        "the first version is a baseline"
    );

    // Only noise moved, and the ad and the most-read box now name the watched terms.
    set(watched_page(
        "Cheap flights to Caracas",
        "Venezuela: what we know",
        1_377,
        "10:07",
        "",
    ));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        http.webhook_received().is_empty(),
        "noise changes raised {:?}",
        http.webhook_received()
            .iter()
            .map(|r| r.json())
            .collect::<Vec<_>>()
    );

    // The article gains a paragraph that matches.
    let added = "Observers from Venezuela said voting was orderly in most districts.";
    set(watched_page(
        "Cheap flights to Caracas",
        "Venezuela: what we know",
        1_502,
        "10:15",
        &format!("<p>{added}</p>"),
    ));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hooks = http.webhook_received();
    assert_eq!(hooks.len(), 1, "one alert for the added text");
    let alert = hooks[0].json();
    assert_eq!(alert["kind"], "changed");
    assert_eq!(alert["source"], "Live");
    let snippet = alert["snippet"].as_str().unwrap();
    assert!(snippet.contains("Observers from Venezuela"), "{snippet}");
    assert!(!snippet.contains("Polls opened"), "old text in {snippet}");

    // Nothing new: nothing more.
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(http.webhook_received().len(), 1);
}

fn listing(articles: &[&str], nav: &str) -> Vec<u8> {
    let links: String = articles
        .iter()
        .map(|a| format!("<li><a href=\"/files/{a}.html\">Story {a}</a></li>"))
        .collect();
    format!(
        r#"<html><body><header><nav><a href="/files/{nav}.html">Venezuela special</a></nav></header>
<main><h1>Latest news</h1><ul>{links}</ul></main>
<footer><a href="/files/about.html">About us in Caracas</a></footer></body></html>"#
    )
    .into_bytes()
}

fn article(text: &str) -> Vec<u8> {
    format!(
        "<html><head><title>Story</title></head><body><article><h1>Story</h1>\
         <p>{text}</p><p>A second paragraph gives the page enough text to be an article, with \
         more detail on who said what and when it happened.</p></article></body></html>"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn link_pages_fetch_only_new_article_links() {
    let http = HttpServer::start().await;
    let page = format!(
        "[[page]]\nname = \"Newsroom\"\nurl = \"{}\"\nmode = \"links\"\n",
        http.url("/files/news.html")
    );
    let work = Workdir::new(&page_config(&http, &page));
    for (name, text) in [
        ("a1", "An older story about farming."),
        ("a2", "An older story about Venezuela."),
        (
            "a3",
            "Talks on Venezuela resume in Caracas next week, officials said.",
        ),
        ("a4", "A new story about the weather."),
        ("nav1", "The Venezuela special page."),
        ("nav2", "Another Venezuela special page."),
        ("about", "We are based in Caracas."),
    ] {
        http.set_file(&format!("{name}.html"), article(text), "text/html");
    }
    let set = |body: Vec<u8>| http.set_file("news.html", body, "text/html");

    set(listing(&["a1", "a2"], "nav1"));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        http.webhook_received().is_empty(),
        "links already there are learnt"
    );
    assert_eq!(
        http.hits("/files/a2.html"),
        0,
        "known links are not fetched"
    );

    set(listing(&["a3", "a4", "a1", "a2"], "nav2"));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let hooks = http.webhook_received();
    assert_eq!(hooks.len(), 1, "{:?}", stdout(&out));
    let alert = hooks[0].json();
    assert_eq!(alert["kind"], "new");
    assert_eq!(alert["source"], "Newsroom");
    assert!(alert["url"].as_str().unwrap().ends_with("/files/a3.html"));
    assert_eq!(http.hits("/files/a3.html"), 1);
    assert_eq!(http.hits("/files/a4.html"), 1);
    for chrome in ["/files/nav1.html", "/files/nav2.html", "/files/about.html"] {
        assert_eq!(
            http.hits(chrome),
            0,
            "{chrome} is navigation, not an article"
        );
    }
}
