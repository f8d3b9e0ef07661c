//! Outages: alerts wait in the outbox while a receiver is down, and arrive once it is back,
//! also across restarts of feedwatch.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use feedwatch::time::Clock;

#[tokio::test(flavor = "multi_thread")]
async fn webhook_500s_are_retried_with_backoff_until_accepted() {
    let http = HttpServer::start().await;
    http.state.webhook_failures.store(2, Ordering::SeqCst);
    let work = Workdir::new(&config(&http, 0, &["webhook"], ""));

    // Each retry waits its backoff (1 s, then 2 s): the clock moves instead of the test.
    let clock = Clock::manual(feedwatch::time::now_ms());
    work.once_at(&clock).await;
    assert!(http.webhook_received().is_empty());
    work.once_at(&clock).await;
    assert_eq!(
        http.state.webhook_attempts.load(Ordering::SeqCst),
        1,
        "not tried again before its backoff"
    );
    for _ in 0..2 {
        clock.advance(Duration::from_millis(2500));
        work.once_at(&clock).await;
    }
    assert_eq!(http.webhook_received().len(), 1);
    assert_eq!(http.state.webhook_attempts.load(Ordering::SeqCst), 3);
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["state"], "delivered");
    assert_eq!(alerts[0]["attempts"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_outage_keeps_the_alert_until_the_server_is_back_across_restarts() {
    let http = HttpServer::start().await;
    let port = free_port();
    let work = Workdir::new(&config(&http, port, &["email"], ""));

    // SMTP is down: the poll stores the alert, delivery fails and is kept.
    let clock = Clock::manual(feedwatch::time::now_ms());
    work.once_at(&clock).await;
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["state"], "pending");
    assert!(
        alerts[0]["last_error"].as_str().unwrap().contains("SMTP"),
        "{}",
        alerts[0]
    );

    // A restart while still down, once the retry is due: nothing lost, nothing duplicated.
    clock.advance(Duration::from_millis(2500));
    work.once_at(&clock).await;
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["state"], "pending");

    // The server comes back: the next run after the backoff delivers it, once.
    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}")).await;
    clock.advance(Duration::from_secs(3));
    work.once_at(&clock).await;
    let delivered = work.alerts().await[0]["state"] == "delivered";
    assert!(delivered, "{:?}", work.alerts().await);
    assert_eq!(smtp.messages().len(), 1);
    let attempts = work.alerts().await[0]["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "failed attempts are recorded: {attempts}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notifier_that_is_down_does_not_delay_another() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, free_port(), &["email", "webhook"], ""));
    let out = work.run(&["once"]).await;
    assert!(out.status.success());
    assert_eq!(http.webhook_received().len(), 1);
    let mut states: Vec<(String, String)> = work
        .alerts()
        .await
        .iter()
        .map(|a| {
            (
                a["notifier"].as_str().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("email".into(), "pending".into()),
            ("webhook".into(), "delivered".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_is_a_permanent_failure_shown_by_alerts() {
    let http = HttpServer::start().await;
    let mut cfg = config(&http, 0, &["webhook"], "");
    cfg = cfg.replace(&http.url("/hook"), &http.url("/status/404"));
    let work = Workdir::new(&cfg);
    assert!(work.run(&["once"]).await.status.success());
    let alerts = work.alerts().await;
    assert_eq!(alerts[0]["state"], "failed");
    assert!(
        alerts[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 404"),
        "{}",
        alerts[0]
    );
    assert_eq!(alerts[0]["attempts"], 1, "a 4xx is not retried");
    let out = work.run(&["alerts"]).await;
    assert!(stdout(&out).contains("failed"), "{}", stdout(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_delays_delivery_in_order_without_hammering_the_receiver() {
    let http = HttpServer::start().await;
    let items: String = (1..=3)
        .map(|i| format!("<item><title>Caracas report {i}</title><guid>cr-{i}</guid><description>Caracas {i}.</description></item>"))
        .collect();
    http.set_file(
        "andes.xml",
        format!("<rss version=\"2.0\"><channel><title>A</title>{items}</channel></rss>")
            .into_bytes(),
        "application/rss+xml",
    );
    http.state.webhook_failures.store(3, Ordering::SeqCst);
    let cfg = config(&http, 0, &["webhook"], "")
        .replace(&http.url("/files/feed.xml"), &http.url("/files/andes.xml"));
    let work = Workdir::new(&cfg);
    let clock = Clock::manual(feedwatch::time::now_ms());
    work.once_at(&clock).await;
    for _ in 0..3 {
        clock.advance(Duration::from_millis(2500));
        work.once_at(&clock).await;
    }
    assert_eq!(http.webhook_received().len(), 3, "not all alerts arrived");
    let titles: Vec<String> = http
        .webhook_received()
        .iter()
        .map(|h| h.json()["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        ["Caracas report 1", "Caracas report 2", "Caracas report 3"],
        "in order of creation"
    );
    // Three failures, each followed by a backoff that holds the whole queue: no burst of
    // attempts for the alerts behind the failing one.
    assert_eq!(http.state.webhook_attempts.load(Ordering::SeqCst), 6);
}
