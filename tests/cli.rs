//! The CLI contract: exit codes, one-line errors, `check`, `preview --json`, `extract`.

mod common;

use common::*;

#[tokio::test]
async fn config_errors_exit_2_with_file_line_and_column() {
    let work = Workdir::new("[fetch]\ntimeout = \"30s\"\nconcurency = 4\n");
    for cmd in ["check", "once", "run"] {
        let out = work.run(&[cmd]).await;
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        let err = stderr(&out);
        let want = format!(
            "error: {}:3:1: unknown field `concurency`",
            work.config().display()
        );
        assert!(err.starts_with(&want), "{cmd}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(stdout(&out).is_empty());
    }
}

#[tokio::test]
async fn missing_config_and_bad_usage_exit_2() {
    let work = Workdir::new("");
    let out = work
        .command(&["check"])
        .arg("--config")
        .arg("/nonexistent/feedwatch.toml")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: /nonexistent/feedwatch.toml: cannot read config"),
        "{}",
        stderr(&out)
    );
    assert_eq!(work.run(&["frobnicate"]).await.status.code(), Some(2));
    assert_eq!(
        work.run(&["test-notify", "nobody"]).await.status.code(),
        Some(2)
    );
}

#[tokio::test]
async fn example_config_passes_check() {
    let work = Workdir::new("");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/feedwatch.toml");
    let out = work
        .command(&["check"])
        .arg("--config")
        .arg(example)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("watch \"venezuela\"") && text.contains("notifier \"console\""),
        "{text}"
    );
}

#[tokio::test]
async fn preview_json_prints_one_object_per_item() {
    let work =
        Workdir::new("[[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n");
    let feed = format!("{FIXTURES}/feed.xml");
    let out = work.run(&["preview", &feed, "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let items = lines_json(&out.stdout);
    assert_eq!(items.len(), 3);
    for item in &items {
        for key in ["source", "title", "url", "published", "text", "matches"] {
            assert!(item.get(key).is_some(), "{key} missing in {item}");
        }
    }
    assert_eq!(items[0]["matches"][0]["watch"], "venezuela");
    assert_eq!(
        items[0]["matches"][0]["terms"],
        serde_json::json!(["Venezuela"])
    );
    assert!(items[1]["matches"].as_array().unwrap().is_empty());
    assert!(!items[0]["text"].as_str().unwrap().contains("Advertisement"));

    // An HTML page is one item whose text is its clean main text.
    let page = format!("{FIXTURES}/article.html");
    let out = work.run(&["preview", &page, "--json"]).await;
    let items = lines_json(&out.stdout);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["title"], "Maduro Signals Talks With United States");
    assert_eq!(
        items[0]["url"],
        "https://clashreport.com/world/articles/maduro-signals-talks-with-united-states-1234"
    );
}

#[tokio::test]
async fn extract_keeps_the_article_and_drops_the_noise() {
    let work = Workdir::new("");
    let out = work
        .run(&["extract", &format!("{FIXTURES}/article.html")])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let expected = String::from_utf8(fixture("expected.txt")).unwrap();
    for para in expected
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        assert!(text.contains(para), "missing paragraph: {para}");
    }
    let noise = String::from_utf8(fixture("noise.txt")).unwrap();
    for line in noise.lines().map(str::trim).filter(|l| !l.is_empty()) {
        assert!(!text.contains(line), "noise in text: {line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_notify_reports_the_receivers_answer() {
    let http = HttpServer::start().await;
    let smtp = SmtpServer::start("127.0.0.1:0").await;
    let work = Workdir::new(&config(&http, smtp.addr.port(), &["email", "webhook"], ""));
    let out = work.run(&["test-notify", "webhook"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("delivered (HTTP 200"),
        "{}",
        stderr(&out)
    );
    assert_eq!(http.webhook_received()[0].json()["kind"], "test");
    let out = work.run(&["test-notify", "email"]).await;
    assert!(
        stderr(&out).contains("delivered (SMTP 250"),
        "{}",
        stderr(&out)
    );
    assert_eq!(smtp.messages().len(), 1);

    smtp.stop();
    let down = Workdir::new(&config(&http, free_port(), &["email"], ""));
    let out = down.run(&["test-notify", "email"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: email notifier \"email\": SMTP"),
        "{}",
        stderr(&out)
    );
}
