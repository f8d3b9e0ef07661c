//! `once` end to end: a local feed, a watch for "Venezuela", and alerts by console, real
//! SMTP and a real webhook receiver; exactly one alert, and none on the next run.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use hmac::{Hmac, Mac};
use mail_parser::MimeHeaders;

const MADURO: &str = "Maduro Signals Talks With United States";

#[tokio::test(flavor = "multi_thread")]
async fn once_alerts_exactly_once_by_console_email_and_webhook() {
    let http = HttpServer::start().await;
    let smtp = SmtpServer::start("127.0.0.1:0").await;
    let work = Workdir::new(&config(
        &http,
        smtp.addr.port(),
        &["console", "email", "webhook"],
        "",
    ));

    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let console: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(console.len(), 1, "one console line: {console:?}");
    assert!(
        console[0].contains(MADURO) && console[0].starts_with("venezuela | Clash Report"),
        "{}",
        console[0]
    );

    // Webhook: the documented body, an idempotency key, a valid signature.
    let hooks = http.webhook_received();
    assert_eq!(hooks.len(), 1);
    let body = hooks[0].json();
    assert_eq!(body["kind"], "new");
    assert_eq!(body["watch"], "venezuela");
    assert_eq!(body["source"], "Clash Report");
    assert_eq!(body["title"], MADURO);
    assert_eq!(
        body["url"],
        "https://clashreport.com/world/articles/maduro-signals-talks-with-united-states-1234"
    );
    assert_eq!(body["published"], "2026-01-02T14:05:00Z");
    let matched: Vec<&str> = body["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(matched, ["Venezuela", "Nicolas Maduro"]);
    assert!(body["snippet"].as_str().unwrap().contains("Nicolás Maduro"));
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(
        hooks[0].header("idempotency-key").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        hooks[0].header("content-type").as_deref(),
        Some("application/json")
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(&hooks[0].body);
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hooks[0].header("x-feedwatch-signature"), Some(want));

    // Email, through real SMTP.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(
        mail.subject(),
        Some(format!("[feedwatch] venezuela: {MADURO}").as_str())
    );
    assert_eq!(
        mail.header_raw("X-Feedwatch-Alert").map(str::trim),
        Some(id.as_str())
    );
    assert!(
        mail.content_type()
            .is_some_and(|ct| ct.subtype() == Some("alternative"))
    );
    let text = mail.body_text(0).unwrap();
    assert!(text.contains(MADURO) && text.contains("clashreport.com/world/articles/maduro"));
    let html = mail.body_html(0).unwrap();
    assert!(html.contains("<mark>Nicolás Maduro</mark>"), "{html}");

    // The store agrees: one alert per notifier, all delivered.
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 3);
    assert!(
        alerts
            .iter()
            .all(|a| a["state"] == "delivered" && a["id"] == id.as_str())
    );

    // Again: the feed is unchanged (304) and nothing is new.
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(http.webhook_received().len(), 1);
    assert_eq!(smtp.messages().len(), 1);
    let inm = http.state.if_none_match.lock().unwrap().clone();
    assert_eq!(inm.len(), 2);
    assert!(
        inm[0].is_none() && inm[1].is_some(),
        "second poll is conditional: {inm:?}"
    );
    assert_eq!(http.state.not_modified.load(Ordering::SeqCst), 1);

    let sources = work.sources().await;
    assert_eq!(sources[0]["status"], "not modified");
    assert_eq!(sources[0]["items"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_feed_alerts_only_its_new_item() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["webhook"], ""));
    assert!(work.run(&["once"]).await.status.success());
    assert_eq!(http.webhook_received().len(), 1);

    let feed = String::from_utf8(fixture("feed.xml")).unwrap().replacen(
        "<item>",
        "<item><title>Caracas Airport Reopens</title><link>https://clashreport.com/a-1300</link>\
         <guid>clashreport-1300</guid><description>Flights resumed in Caracas on Monday.</description></item><item>",
        1,
    );
    http.set_file("feed.xml", feed.into_bytes(), "application/rss+xml");
    assert!(work.run(&["once"]).await.status.success());
    let hooks = http.webhook_received();
    let titles: Vec<String> = hooks
        .iter()
        .map(|h| h.json()["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, [MADURO, "Caracas Airport Reopens"]);
}

/// An article that several watches match sends one message per notifier, listing the
/// watches routed to that notifier, and the union of their terms.
#[tokio::test(flavor = "multi_thread")]
async fn an_article_matching_several_watches_sends_one_message_per_notifier() {
    let http = HttpServer::start().await;
    let smtp = SmtpServer::start("127.0.0.1:0").await;
    let extra = "\n[[watch]]\nname = \"oil\"\nterms = [\"oil\"]\n\
                 [[watch]]\nname = \"caribbean\"\nterms = [\"Caribbean\"]\nnotify = [\"webhook\"]\n";
    let work = Workdir::new(&config(
        &http,
        smtp.addr.port(),
        &["console", "email", "webhook"],
        extra,
    ));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let console: Vec<String> = stdout(&out)
        .lines()
        .filter(|l| l.contains(MADURO))
        .map(str::to_string)
        .collect();
    assert_eq!(console.len(), 1, "one console line: {console:?}");
    assert!(
        console[0].starts_with("venezuela, oil | Clash Report"),
        "{}",
        console[0]
    );

    let mails: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.subject().is_some_and(|s| s.contains(MADURO)))
        .collect();
    assert_eq!(mails.len(), 1);
    assert_eq!(
        mails[0].subject(),
        Some(format!("[feedwatch] venezuela, oil: {MADURO}").as_str())
    );
    assert!(
        mails[0]
            .body_text(0)
            .unwrap()
            .contains("Watches:   venezuela, oil (matched: ")
    );

    let hooks: Vec<serde_json::Value> = http
        .webhook_received()
        .iter()
        .map(|h| h.json())
        .filter(|b| b["title"] == MADURO)
        .collect();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let body = &hooks[0];
    assert_eq!(body["watch"], "venezuela", "the first watch, as before");
    assert_eq!(
        body["watches"],
        serde_json::json!(["venezuela", "oil", "caribbean"])
    );
    let matched: Vec<&str> = body["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(matched, ["Venezuela", "Nicolas Maduro", "oil", "Caribbean"]);

    // The store lists the message under each of its watches.
    for watch in ["venezuela", "oil", "caribbean"] {
        let out = work.run(&["alerts", "--json", "--watch", watch]).await;
        let rows = lines_json(&out.stdout);
        assert!(
            rows.iter().any(|r| r["title"] == MADURO),
            "{watch}: {rows:?}"
        );
    }
    // Nothing again on the next poll.
    let out = work.run(&["once"]).await;
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
}

/// Titles with markup (Atom `type="html"` and `"xhtml"`, CDATA and escaped HTML in RSS,
/// scripts and event attributes) reach alerts as plain text.
#[tokio::test(flavor = "multi_thread")]
async fn titles_with_markup_reach_alerts_as_plain_text() {
    let http = HttpServer::start().await;
    http.set_file(
        "t.atom",
        fixture("markup-titles.atom"),
        "application/atom+xml",
    );
    http.set_file("t.rss", fixture("markup-titles.rss"), "application/rss+xml");
    let work = Workdir::new(&format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n\
         [[feed]]\nname = \"Atom\"\nurl = \"{}\"\n[[feed]]\nname = \"RSS\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n",
        http.url("/files/t.atom"),
        http.url("/files/t.rss"),
        http.url("/hook")
    ));
    assert!(work.run(&["once"]).await.status.success());
    let mut titles: Vec<String> = http
        .webhook_received()
        .iter()
        .map(|h| h.json()["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Caracas rises",
            "Caracas today & tomorrow",
            "Fish & Chips in Caracas",
            "History of the blink tag in Caracas"
        ]
    );
}

/// A notifier's `timezone` applies to the times in its messages.
#[tokio::test(flavor = "multi_thread")]
async fn email_times_follow_the_notifiers_time_zone() {
    let http = HttpServer::start().await;
    let smtp = SmtpServer::start("127.0.0.1:0").await;
    let cfg = config(
        &http,
        smtp.addr.port(),
        &["email"],
        "timezone = \"Asia/Tokyo\"\n",
    );
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let mails = smtp.messages();
    let text = mails[0].body_text(0).unwrap();
    // Published 2026-01-02T14:05:00Z is 23:05 in Tokyo.
    assert!(
        text.contains("Published: 2026-01-02 23:05 JST (+09:00)"),
        "{text}"
    );
}
