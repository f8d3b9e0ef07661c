//! Living with feedwatch as a service: which store a command reads, and one daemon per store.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn read_only_commands_never_create_a_store() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    let db = work.dir.path().join("fw.db");
    for args in [
        &["sources"][..],
        &["alerts"],
        &["search", "Caracas"],
        &["alerts", "--retry", "all"],
    ] {
        let out = work.run(args).await;
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("no store at {}", db.display())),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!db.exists(), "{args:?} created a store");
    }
    assert!(work.run(&["once"]).await.status.success());
    assert!(work.run(&["sources"]).await.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_daemon_on_one_store_is_refused() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    let first = work.spawn_daemon();
    let pid = first.id().unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || http.hits("/files/feed.xml") > 0).await,
        "the first daemon polls"
    );
    for cmd in ["run", "once"] {
        let out = work.run(&[cmd]).await;
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!("process {pid}")) && err.contains("fw.db"),
            "{cmd}: {err}"
        );
    }
    assert_eq!(
        http.hits("/files/feed.xml"),
        1,
        "the refused ones polled nothing"
    );
    // Reading beside the daemon works.
    let out = work.run(&["sources"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    signal(&first, "TERM");
    assert!(first.wait_with_output().await.unwrap().status.success());
    assert!(
        work.run(&["once"]).await.status.success(),
        "free again once it stopped"
    );
}

fn dated_item(guid: &str, title: &str, date: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let date = date
        .map(|d| format!("<pubDate>{}</pubDate>", d.to_rfc2822()))
        .unwrap_or_default();
    format!(
        "<item><title>{title}</title><guid>{guid}</guid>{date}<description>News from Caracas.</description></item>"
    )
}

/// A new source's first poll alerts only on items published within `backlog` (24 hours by
/// default; undated items count as old); the rest are stored as known. Later polls alert on
/// every new item, whatever its date.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_feed_does_not_flood_with_its_backlog() {
    let http = HttpServer::start().await;
    let now = chrono::Utc::now();
    let month_ago = now - chrono::Duration::days(30);
    let items = [
        dated_item("recent", "Recent", Some(now - chrono::Duration::hours(2))),
        dated_item("old", "Old", Some(month_ago)),
        dated_item("undated", "Undated", None),
    ]
    .concat();
    let rss = |items: &str| {
        format!("<rss version=\"2.0\"><channel><title>W</title>{items}</channel></rss>")
            .into_bytes()
    };
    http.set_file("wire.xml", rss(&items), "application/rss+xml");
    http.set_file("other.xml", rss(&items), "application/rss+xml");
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n\
         [[feed]]\nname = \"Wire\"\nurl = \"{}\"\n\
         [[feed]]\nname = \"Everything\"\nurl = \"{}\"\nbacklog = \"all\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/wire.xml"),
        http.url("/files/other.xml"),
    );
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stdout(&out);
    let wire: Vec<&str> = lines.lines().filter(|l| l.contains("| Wire |")).collect();
    assert_eq!(wire.len(), 1, "{lines}");
    assert!(wire[0].contains("Recent"), "{lines}");
    let everything = lines
        .lines()
        .filter(|l| l.contains("| Everything |"))
        .count();
    // The three items are one story each across both feeds: the override only shows on
    // stories Wire did not alert.
    assert!(
        everything >= 2,
        "backlog = \"all\" alerts on every item: {lines}"
    );
    let sources = work.sources().await;
    let wire_row = sources.iter().find(|s| s["name"] == "Wire").unwrap();
    assert_eq!(
        wire_row["items"], 3,
        "old items are stored as known: {wire_row}"
    );

    // The second poll is not a first poll: a new item alerts whatever its date.
    let more = format!(
        "{items}{}",
        dated_item("late", "Late report", Some(month_ago))
    );
    http.set_file("wire.xml", rss(&more), "application/rss+xml");
    let out = work.run(&["once"]).await;
    assert!(stdout(&out).contains("Late report"), "{}", stdout(&out));
}

/// Empty answers say so on stderr; an unknown `--watch` is a usage error listing the
/// watches; a reader that leaves early (`| head`) ends the command quietly.
#[tokio::test(flavor = "multi_thread")]
async fn empty_answers_unknown_watches_and_closed_pipes() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    assert!(work.run(&["once"]).await.status.success());

    let out = work.run(&["alerts", "--watch", "nope"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the watches are: venezuela"),
        "{}",
        stderr(&out)
    );

    let out = work.run(&["alerts", "--failed"]).await;
    assert!(out.status.success());
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("note: no failed alerts"),
        "{}",
        stderr(&out)
    );

    let out = work.run(&["search", "Zanzibar"]).await;
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("note: no stored article matches"),
        "{}",
        stderr(&out)
    );

    // `sources` writes more than a closed pipe takes.
    let mut child = work
        .command(&["search", "Venezuela OR Maduro OR Caracas OR the"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Broken pipe"), "{}", stderr(&out));
}

/// `search --watch NAME` runs a configured watch (terms, exclusions) over stored articles,
/// newest first: what would this watch have sent me?
#[tokio::test(flavor = "multi_thread")]
async fn search_runs_a_configured_watch_newest_first() {
    let http = HttpServer::start().await;
    let now = chrono::Utc::now();
    let items = [
        dated_item(
            "a",
            "Older Caracas news",
            Some(now - chrono::Duration::days(3)),
        ),
        dated_item(
            "b",
            "Newest Caracas news",
            Some(now - chrono::Duration::hours(1)),
        ),
        dated_item(
            "c",
            "Middle Caracas news",
            Some(now - chrono::Duration::days(1)),
        ),
    ]
    .concat()
        + "<item><title>Caracas baseball</title><guid>d</guid><description>Caracas won at baseball.</description></item>";
    http.set_file(
        "wire.xml",
        format!("<rss version=\"2.0\"><channel><title>W</title>{items}</channel></rss>")
            .into_bytes(),
        "application/rss+xml",
    );
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[[feed]]\nname = \"Wire\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\nexclude = [\"baseball\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/wire.xml")
    );
    let work = Workdir::new(&cfg);
    assert!(work.run(&["once"]).await.status.success());
    let out = work.run(&["search", "--watch", "caracas", "--json"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let titles: Vec<String> = lines_json(&out.stdout)
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        [
            "Newest Caracas news",
            "Middle Caracas news",
            "Older Caracas news"
        ],
        "the watch's exclusion applies, newest first"
    );
    let out = work.run(&["search", "--watch", "nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the watches are: caracas"),
        "{}",
        stderr(&out)
    );
}

/// `check` warns about a notifier no watch uses and about every unset secret variable, used
/// notifier or not (a `${VAR}` in a webhook URL included), and still passes.
#[tokio::test(flavor = "multi_thread")]
async fn check_warns_about_unused_notifiers_and_unset_secrets() {
    let cfg = "[[feed]]\nname = \"F\"\nurl = \"https://example.org/rss\"\n\
               [[watch]]\nname = \"w\"\nterms = [\"x\"]\nnotify = [\"used\"]\n\
               [[notifier]]\nname = \"used\"\ntype = \"console\"\n\
               [[notifier]]\nname = \"spare\"\ntype = \"webhook\"\n\
               url = \"https://api.telegram.org/bot${FW_UNSET_TOKEN}/sendMessage\"\n\
               format = \"telegram\"\nchat_id = \"1\"\nsecret_env = \"FW_UNSET_SECRET\"\n";
    let work = Workdir::new(cfg);
    let out = work.run(&["check"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("notifier=spare") && err.contains("no watch routes"),
        "{err}"
    );
    assert!(
        err.contains("FW_UNSET_TOKEN") && err.contains("FW_UNSET_SECRET"),
        "{err}"
    );
    assert!(!err.contains("notifier=used no watch"), "{err}");
}

/// Every command's help gives an example; the search help shows the query syntax, and its
/// example queries are valid.
#[tokio::test(flavor = "multi_thread")]
async fn help_gives_examples_and_the_query_syntax() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    for cmd in [
        "run",
        "once",
        "check",
        "preview",
        "extract",
        "sources",
        "alerts",
        "test-notify",
        "search",
    ] {
        let out = work.run(&[cmd, "--help"]).await;
        assert!(out.status.success(), "{cmd}");
        assert!(
            stdout(&out).contains("Example"),
            "{cmd} --help: {}",
            stdout(&out)
        );
    }
    let help = stdout(&work.run(&["search", "--help"]).await);
    assert!(
        help.contains("Query syntax") && help.contains("NEAR/5"),
        "{help}"
    );
    assert!(work.run(&["once"]).await.status.success());
    for q in [
        "\"Nicolas Maduro\" AND NOT baseball",
        "title:(Caracas OR Maracaibo) oil*",
    ] {
        let out = work.run(&["search", q]).await;
        assert!(out.status.success(), "{q}: {}", stderr(&out));
    }
}

/// Network failures are logged with their URL once and a hint naming the cause; the first
/// cycle after start ends with one line counting sources ok and failing, by cause. (A DNS
/// failure would ask the machine's resolver, off this machine perhaps: the unit tests of
/// `fetch` classify its message instead.)
#[tokio::test(flavor = "multi_thread")]
async fn network_failures_carry_a_hint_and_the_first_cycle_a_summary() {
    let http = HttpServer::start().await;
    let closed = format!("http://127.0.0.1:{}/feed.xml", free_port());
    let missing = http.url("/status/404");
    let work = Workdir::new(&config(
        &http,
        0,
        &["console"],
        &format!(
            "\n[[feed]]\nname = \"closed\"\nurl = \"{closed}\"\n\
             [[feed]]\nname = \"missing\"\nurl = \"{missing}\"\n"
        ),
    ));
    let log_path = work.dir.path().join("daemon.log");
    let mut daemon = work
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        wait_for(Duration::from_secs(30), || read()
            .contains("first poll cycle since start done"))
        .await,
        "{}",
        read()
    );
    daemon.kill().await.unwrap();
    let log = read();
    let line = |needle: &str| {
        log.lines()
            .find(|l| l.contains("poll failed") && l.contains(needle))
            .unwrap_or_else(|| panic!("no failure line for {needle}: {log}"))
            .to_string()
    };
    let refused = line(&closed);
    assert_eq!(
        refused.matches(&closed).count(),
        1,
        "the URL once: {refused}"
    );
    assert!(
        refused.trim_end().ends_with('"') && refused.contains("hint=\"refused: "),
        "{refused}"
    );
    assert_eq!(line(&missing).matches(&missing).count(), 1);
    let summary = log
        .lines()
        .find(|l| l.contains("first poll cycle since start done"))
        .unwrap();
    for field in [
        "sources=3",
        "ok=1",
        "failing=2",
        "causes=http 4xx 1, refused 1",
    ] {
        assert!(summary.contains(field), "{field}: {summary}");
    }
    assert_eq!(log.matches("first poll cycle since start done").count(), 1);
}

/// Tables show times in the local zone (TZ) with its offset; `--utc` shows UTC. JSON stays
/// RFC 3339 UTC.
#[tokio::test(flavor = "multi_thread")]
async fn tables_show_local_time_and_utc_on_request() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    assert!(work.run(&["once"]).await.status.success());
    for args in [&["sources"][..], &["alerts"], &["search", "Maduro"]] {
        let local = work
            .command(args)
            .env("TZ", "IST-5:30")
            .output()
            .await
            .unwrap();
        let local = stdout(&local);
        assert!(local.contains(" +05:30\t"), "{args:?}: {local}");
        let mut with_utc = args.to_vec();
        with_utc.push("--utc");
        let utc = work
            .command(&with_utc)
            .env("TZ", "IST-5:30")
            .output()
            .await
            .unwrap();
        let utc = stdout(&utc);
        assert!(
            utc.contains("Z\t") && !utc.contains("+05:30"),
            "{args:?}: {utc}"
        );
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let json = work
            .command(&with_json)
            .env("TZ", "IST-5:30")
            .output()
            .await
            .unwrap();
        assert!(!stdout(&json).contains("+05:30"), "{args:?}");
    }
}

/// `preview --explain` says per item and watch why it does or does not alert, and where a
/// term sat only in text cleaning removed; a `full_text` feed is previewed with its pages
/// fetched and extracted, as the daemon reads it.
#[tokio::test(flavor = "multi_thread")]
async fn preview_explains_each_watch_and_reads_full_text_pages() {
    let http = HttpServer::start().await;
    http.set_file("article.html", fixture("article.html"), "text/html");
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>Clash</title><item><title>Maduro Signals Talks</title>\
         <link>{}</link><guid>m-1</guid><description>Maduro spoke on Friday.</description></item>\
         </channel></rss>",
        http.url("/files/article.html")
    );
    http.set_file("full.xml", feed.into_bytes(), "application/rss+xml");
    let work = Workdir::new(&format!(
        "[store]\npath = \"fw.db\"\n\
         [[feed]]\nname = \"Clash\"\nurl = \"{}\"\nfull_text = true\n\
         [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\"]\n\
         [[watch]]\nname = \"carrier\"\nterms = [\"carrier group\"]\n\
         [[watch]]\nname = \"oil\"\nterms = [\"oil\"]\nexclude = [\"Chevron\"]\n\
         [[watch]]\nname = \"sports\"\nterms = [\"baseball\"]\n\
         [[watch]]\nname = \"elsewhere\"\nterms = [\"Venezuela\"]\ntags = [\"intl\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/full.xml")
    ));

    // Without --explain: the page's text (the feed's description does not name Venezuela).
    let out = work.run(&["preview", "Clash"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("(from the item's page)"), "{text}");
    assert!(text.contains("MATCH venezuela [Venezuela]"), "{text}");
    assert!(!text.contains("no    "), "{text}");

    let out = work.run(&["preview", "--explain", "Clash"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "MATCH venezuela [Venezuela]",
        "no    carrier: no term in the article text",
        "[carrier group] only in text cleaning removed, in <aside class=\"most-read\">",
        "no    oil: excluded by `Chevron`",
        "no    sports: no term in the article text",
        "no    elsewhere: not for this source",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let sports = text
        .lines()
        .skip_while(|l| !l.contains("no    sports"))
        .nth(1);
    assert!(
        sports.is_none_or(|l| !l.contains("only in text cleaning removed")),
        "{text}"
    );

    let out = work.run(&["preview", "--explain", "--json", "Clash"]).await;
    let item = &lines_json(&out.stdout)[0];
    assert_eq!(item["full_text"], true);
    let carrier = &item["explain"][1];
    assert_eq!(carrier["verdict"], "no term");
    assert_eq!(
        carrier["removed"][0]["where"],
        "<aside class=\"most-read\">"
    );
    assert_eq!(item["explain"][2]["excluded_by"], "Chevron");
}

/// `systemctl reload` runs the unit's `ExecReload=` lines in order and stops at the first
/// that fails: the unit checks the config before it signals the daemon, and that check
/// fails on a broken config (the running daemon is never sent SIGHUP then).
#[tokio::test(flavor = "multi_thread")]
async fn reload_checks_the_config_before_signalling() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedwatch.service"),
    )
    .unwrap();
    let reloads: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.strip_prefix("ExecReload="))
        .collect();
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    assert!(reloads[0].ends_with(" check") && reloads[1].contains("kill -HUP $MAINPID"));
    // The check line, run on a broken config as systemd would run it.
    let work = Workdir::new("[[feed]]\nname = \"x\"\nurl = \"not a url\"\n");
    let args: Vec<&str> = reloads[0].split_whitespace().skip(3).collect();
    assert_eq!(args, ["check"]);
    let out = work.run(&args).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("feedwatch.toml:3:7: invalid URL"),
        "{}",
        stderr(&out)
    );
}
