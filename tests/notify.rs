//! Delivery features end to end: webhook formats, templates checked at load, the hourly cap
//! rolling into a digest, dead letters re-sent with `alerts --retry`, source health alerts.

mod common;

use std::time::Duration;

use common::*;
use feedwatch::time::Clock;

fn three_matching_items() -> Vec<u8> {
    let items: String = (1..=3)
        .map(|i| format!("<item><title>Caracas report {i}</title><guid>cr-{i}</guid><description>News from Caracas, part {i}.</description></item>"))
        .collect();
    format!("<rss version=\"2.0\"><channel><title>Andes</title>{items}</channel></rss>")
        .into_bytes()
}

fn webhook_config(http: &HttpServer, feed: &str, notifier_extra: &str, extra: &str) -> String {
    format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[delivery]\nretry_initial = \"1s\"\n\
         [[feed]]\nname = \"Andes\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"{}\"\n{notifier_extra}\n{extra}",
        http.url(feed),
        http.url("/hook")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_formats_and_custom_bodies() {
    let http = HttpServer::start().await;
    http.set_file("andes.xml", three_matching_items(), "application/rss+xml");
    for (extra, check) in [
        ("format = \"slack\"", "text"),
        ("format = \"discord\"", "embeds"),
        ("format = \"ntfy\"", "topic"),
        (
            "body_template = '{\"headline\": {{ alert.title|tojson }}, \"n\": {{ count }}}'",
            "headline",
        ),
    ] {
        http.state.webhook.lock().unwrap().clear();
        let work = Workdir::new(&webhook_config(
            &http,
            "/files/andes.xml",
            &format!("{extra}\nheaders = {{ \"X-Team\" = \"desk-${{FW_TEST_SECRET}}\" }}"),
            "",
        ));
        let out = work.run(&["once"]).await;
        assert!(out.status.success(), "{extra}: {}", stderr(&out));
        let got = http.webhook_received();
        assert_eq!(got.len(), 3, "{extra}");
        let body = got[0].json();
        assert!(body.get(check).is_some(), "{extra}: {body}");
        assert_eq!(
            got[0].header("x-team").as_deref(),
            Some(format!("desk-{WEBHOOK_SECRET}").as_str())
        );
        if check == "topic" {
            assert_eq!(
                body["topic"], "hook",
                "ntfy's topic is the URL's last segment"
            );
        }
        if check == "headline" {
            assert_eq!(body["headline"], "Caracas report 1");
        }
    }
}

#[tokio::test]
async fn template_and_rule_errors_are_config_errors() {
    let http = HttpServer::start().await;
    let cases = [
        (
            "body_template = '{{ alert.headline }}'",
            "body_template: template error in `body`",
        ),
        ("digest = \"weekly\"", "invalid digest"),
        ("quiet_hours = \"night\"", "invalid quiet_hours"),
        ("timezone = \"Mars/Olympus\"", "unknown time zone"),
        ("format = \"telegram\"", "needs `chat_id`"),
        ("max_per_hour = 0", "at least 1"),
    ];
    for (extra, want) in cases {
        let work = Workdir::new(&webhook_config(&http, "/files/andes.xml", extra, ""));
        let out = work.run(&["check"]).await;
        assert_eq!(out.status.code(), Some(2), "{extra}");
        let err = stderr(&out);
        assert!(
            err.contains(want) && err.contains("feedwatch.toml:"),
            "{extra}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hourly_cap_rolls_the_rest_into_a_digest() {
    let http = HttpServer::start().await;
    http.set_file("andes.xml", three_matching_items(), "application/rss+xml");
    let work = Workdir::new(&webhook_config(
        &http,
        "/files/andes.xml",
        "max_per_hour = 2",
        "",
    ));
    assert!(work.run(&["once"]).await.status.success());
    let got = http.webhook_received();
    assert_eq!(got.len(), 2, "two messages in the hour");
    assert_eq!(got[0].json()["title"], "Caracas report 1");
    let digest = got[1].json();
    assert_eq!(digest["kind"], "digest");
    let titles: Vec<&str> = digest["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Caracas report 2", "Caracas report 3"]);
    assert_eq!(
        got[1].header("idempotency-key").unwrap(),
        digest["id"].as_str().unwrap()
    );
    let alerts = work.alerts().await;
    assert!(
        alerts.iter().all(|a| a["state"] == "delivered"),
        "nothing dropped"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_and_sent_again() {
    let http = HttpServer::start().await;
    http.set_file("andes.xml", three_matching_items(), "application/rss+xml");
    let broken = webhook_config(&http, "/files/andes.xml", "", "")
        .replace(&http.url("/hook"), &http.url("/status/410"));
    let work = Workdir::new(&broken);
    assert!(work.run(&["once"]).await.status.success());
    let out = work.run(&["alerts", "--failed", "--json"]).await;
    let failed = lines_json(&out.stdout);
    assert_eq!(failed.len(), 3);
    assert!(
        failed
            .iter()
            .all(|a| a["state"] == "failed"
                && a["last_error"].as_str().unwrap().contains("HTTP 410"))
    );

    work.write_config(&webhook_config(&http, "/files/andes.xml", "", ""));
    let out = work
        .run(&["alerts", "--retry", failed[0]["id"].as_str().unwrap()])
        .await;
    assert_eq!(stdout(&out).trim(), "1 deliveries queued again");
    assert!(work.run(&["once"]).await.status.success());
    assert_eq!(http.webhook_received().len(), 1);
    assert_eq!(
        stdout(&work.run(&["alerts", "--retry", "all"]).await).trim(),
        "2 deliveries queued again"
    );
    assert!(work.run(&["once"]).await.status.success());
    assert_eq!(http.webhook_received().len(), 3);
    assert!(lines_json(&work.run(&["alerts", "--failed", "--json"]).await.stdout).is_empty());
    assert_eq!(
        work.run(&["alerts", "--retry", "nope"]).await.status.code(),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_down_for_long_alerts_once_and_again_when_it_is_back() {
    let http = HttpServer::start().await;
    let health = "[health]\nalert_after = \"1s\"\n";
    let down = webhook_config(&http, "/status/503", "", health);
    let work = Workdir::new(&down);
    let clock = Clock::manual(feedwatch::time::now_ms());
    work.once_at(&clock).await;
    assert!(
        http.webhook_received().is_empty(),
        "one failure is not an outage"
    );
    clock.advance(Duration::from_millis(1100));
    for _ in 0..3 {
        work.once_at(&clock).await;
    }
    let got = http.webhook_received();
    assert_eq!(got.len(), 1, "one source_down, not one per failed poll");
    assert_eq!(got[0].json()["kind"], "source_down");
    assert!(
        got[0].json()["snippet"]
            .as_str()
            .unwrap()
            .contains("HTTP 503")
    );

    http.set_file(
        "andes.xml",
        b"<rss version=\"2.0\"><channel><title>Andes</title></channel></rss>".to_vec(),
        "application/rss+xml",
    );
    work.write_config(&webhook_config(&http, "/files/andes.xml", "", health));
    assert!(work.run(&["once"]).await.status.success());
    let got = http.webhook_received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["kind"], "source_up");
    assert_eq!(got[1].json()["source"], "Andes");
}

/// Values from the environment (a bot token in the URL path, a secret in a header) and URL
/// userinfo never show in logs, stored errors, `alerts --json` or `test-notify`, whether the
/// receiver is down or answers 404.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_in_webhook_urls_never_show() {
    let http = HttpServer::start().await;
    http.set_file("andes.xml", three_matching_items(), "application/rss+xml");
    let closed = free_port();
    for (url, what) in [
        (
            format!("http://127.0.0.1:{closed}/bot${{FW_TOKEN}}/send"),
            "refused",
        ),
        (http.url("/status/404") + "?token=${FW_TOKEN}", "404"),
        (
            format!("http://bob:pw9Xq@127.0.0.1:{closed}/hook"),
            "userinfo",
        ),
    ] {
        let notifier = "headers = { X-Key = \"${FW_TOKEN}\" }\n";
        let cfg = webhook_config(&http, "/files/andes.xml", notifier, "")
            .replace(&http.url("/hook"), &url);
        let work = Workdir::new(&cfg);
        let once = work
            .command(&["once"])
            .env("FW_TOKEN", "t0k")
            .output()
            .await
            .unwrap();
        let test = work
            .command(&["test-notify", "hook"])
            .env("FW_TOKEN", "t0k")
            .output()
            .await
            .unwrap();
        let alerts = work.run(&["alerts", "--json"]).await;
        for (name, text) in [
            ("once stderr", stderr(&once)),
            ("test-notify", format!("{}{}", stdout(&test), stderr(&test))),
            ("alerts --json", stdout(&alerts)),
        ] {
            assert!(
                !text.contains("t0k"),
                "{what}: {name} shows the token: {text}"
            );
            assert!(
                !text.contains("pw9Xq") && !text.contains("bob"),
                "{what}: {name}: {text}"
            );
        }
        assert!(
            stdout(&alerts).contains("last_error"),
            "{}",
            stdout(&alerts)
        );
    }
}
