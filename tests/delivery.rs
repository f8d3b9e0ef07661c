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

/// An SMTP server that refuses the login (535) pauses the notifier after one try instead of
/// failing every queued alert one login at a time; one log line says what to fix, and
/// `alerts --retry` resumes it in the running daemon.
#[tokio::test(flavor = "multi_thread")]
async fn refused_smtp_credentials_pause_the_notifier_until_retry() {
    let http = HttpServer::start().await;
    let items: String = (1..=3)
        .map(|i| format!("<item><title>Caracas report {i}</title><guid>cr-{i}</guid><description>News from Caracas, part {i}.</description></item>"))
        .collect();
    let feed = format!("<rss version=\"2.0\"><channel><title>Andes</title>{items}</channel></rss>");
    http.set_file("feed.xml", feed.into_bytes(), "application/rss+xml");
    let smtp = SmtpServer::start_with_login("127.0.0.1:0", "not-what-feedwatch-has").await;
    let work = Workdir::new(&format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n\
         [[feed]]\nname = \"Andes\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"mail\"\ntype = \"email\"\nsmtp = \"smtp://alerts@127.0.0.1:{}\"\n\
         password_env = \"FW_TEST_SECRET\"\nfrom = \"feedwatch <alerts@example.org>\"\nto = [\"desk@example.org\"]\n",
        http.url("/files/feed.xml"),
        smtp.addr.port()
    ));

    let out = work.run(&["once"]).await;
    let log = stderr(&out);
    assert_eq!(
        smtp.logins.load(Ordering::SeqCst),
        1,
        "one login, not one per alert"
    );
    assert_eq!(
        log.matches("refused this notifier's credentials").count(),
        1,
        "{log}"
    );
    assert!(
        log.contains("password_env") && log.contains("alerts --retry all"),
        "{log}"
    );
    let out = work.run(&["alerts"]).await;
    assert!(
        stderr(&out).contains("notifier \"mail\" is paused"),
        "{}",
        stderr(&out)
    );
    let alerts = work.alerts().await;
    assert_eq!(alerts.len(), 3);
    assert!(alerts.iter().all(|a| a["state"] == "pending"), "{alerts:?}");

    // A (re)start tries once more, and pauses again.
    let mut daemon = work.spawn_daemon();
    assert!(
        wait_for(Duration::from_secs(20), || smtp
            .logins
            .load(Ordering::SeqCst)
            == 2)
        .await
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        smtp.logins.load(Ordering::SeqCst),
        2,
        "paused: no login per alert"
    );
    assert!(smtp.messages().is_empty());

    // The account is fixed; `alerts --retry all` resumes the running daemon's notifier.
    *smtp.password.lock().unwrap() = WEBHOOK_SECRET.to_string();
    let out = work.run(&["alerts", "--retry", "all"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("notifier \"mail\" resumed"),
        "{}",
        stdout(&out)
    );
    assert!(
        wait_for(Duration::from_secs(20), || smtp.messages().len() == 3).await,
        "{} delivered",
        smtp.messages().len()
    );
    // The daemon records a delivery once the server has accepted the message: the last
    // record may come a moment after the receiver has it.
    wait_for_async(Duration::from_secs(20), || async {
        work.alerts()
            .await
            .iter()
            .all(|a| a["state"] == "delivered")
    })
    .await;
    daemon.kill().await.unwrap();
    let alerts = work.alerts().await;
    assert!(
        alerts.iter().all(|a| a["state"] == "delivered"),
        "{alerts:?}"
    );
}

/// A webhook answering 401 (a revoked token) pauses its notifier the same way: the alert
/// stays pending rather than failing for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_401_pauses_the_notifier_and_keeps_the_alert() {
    let http = HttpServer::start().await;
    let mut cfg = config(&http, 0, &["webhook"], "");
    cfg = cfg.replace(&http.url("/hook"), &http.url("/status/401"));
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("check the token"), "{}", stderr(&out));
    let alerts = work.alerts().await;
    assert_eq!(alerts[0]["state"], "pending");
    assert!(
        alerts[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("HTTP 401")
    );
    let out = work.run(&["alerts"]).await;
    assert!(
        stderr(&out).contains("notifier \"webhook\" is paused"),
        "{}",
        stderr(&out)
    );
}
