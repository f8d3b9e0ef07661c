//! Misbehaving sources: each becomes an error on its own row, visible in `sources`, while
//! every other source keeps working.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_is_an_error_on_its_source_and_others_keep_working() {
    let http = HttpServer::start().await;
    // quick-xml panics on a second XML declaration naming another encoding.
    http.set_file(
        "panic.xml",
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><?xml version=\"1.0\" encoding=\"UTF-16\"?><rss version=\"2.0\"><channel><title>t</title></channel></rss>".to_vec(),
        "application/rss+xml",
    );
    // UTF-16BE with a BOM: read, not an error.
    let xml = String::from_utf8(fixture("feed.xml"))
        .unwrap()
        .replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let mut utf16 = vec![0xFE, 0xFF];
    utf16.extend(xml.encode_utf16().flat_map(|c| c.to_be_bytes()));
    http.set_file("utf16.xml", utf16, "application/rss+xml");

    let bad = [
        ("Missing", "/status/404", "HTTP 404"),
        ("Broken server", "/status/500", "HTTP 500"),
        ("Homepage", "/html", "expected a feed, got an HTML page"),
        ("Endless", "/endless", "exceeds the 1048576-byte limit"),
        ("Trickle", "/trickle", "timed out"),
        ("Parser panic", "/files/panic.xml", "crashed"),
        ("Gzip bomb", "/gzipbomb", "exceeds the 1048576-byte limit"),
        ("Empty", "/files/empty.xml", "not a feed"),
        ("Redirect loop", "/loop", "too many redirects"),
    ];
    let mut extra = String::new();
    for (name, path, _) in bad {
        extra.push_str(&format!(
            "\n[[feed]]\nname = \"{name}\"\nurl = \"{}\"\n",
            http.url(path)
        ));
    }
    extra.push_str(&format!(
        "\n[[feed]]\nname = \"UTF-16\"\nurl = \"{}\"\n",
        http.url("/files/utf16.xml")
    ));
    extra.push_str(
        "\n[[feed]]\nname = \"No such host\"\nurl = \"http://feedwatch-test.invalid/feed.xml\"\n",
    );
    http.set_file("empty.xml", Vec::new(), "application/rss+xml");
    let refused = format!("http://127.0.0.1:{}/feed.xml", free_port());
    extra.push_str(&format!(
        "\n[[feed]]\nname = \"Refused\"\nurl = \"{refused}\"\n"
    ));
    // TLS spoken to a plain HTTP server: the handshake fails.
    let tls = http.url("/files/feed.xml").replace("http://", "https://");
    extra.push_str(&format!(
        "\n[[feed]]\nname = \"Bad TLS\"\nurl = \"{tls}\"\n"
    ));
    // 100,000 nested elements in an item: read without blowing a stack.
    let deep = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><title>Deep</title><guid>d</guid><description>{}deep{}</description></item></channel></rss>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    http.set_file("deep.xml", deep.into_bytes(), "application/rss+xml");
    extra.push_str(&format!(
        "\n[[feed]]\nname = \"Deep\"\nurl = \"{}\"\n",
        http.url("/files/deep.xml")
    ));
    let work = Workdir::new(&config(&http, 0, &["console"], &extra));

    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().count(),
        1,
        "one alert: the UTF-16 copy of the good feed carries the same story:\n{}",
        stdout(&out)
    );

    let sources = work.sources().await;
    let by_name = |n: &str| {
        sources
            .iter()
            .find(|s| s["name"] == n)
            .unwrap_or_else(|| panic!("{n} missing"))
            .clone()
    };
    for (name, _, error) in bad {
        let s = by_name(name);
        assert_eq!(s["status"], "error", "{s}");
        assert_eq!(s["consecutive_failures"], 1, "{s}");
        assert!(
            s["last_error"].as_str().unwrap().contains(error),
            "{name}: want {error:?} in {s}"
        );
    }
    for good in ["Clash Report", "UTF-16"] {
        let s = by_name(good);
        assert_eq!(s["status"], "ok: 3 items", "{s}");
        assert_eq!(s["items"], 3);
        assert!(s["last_error"].is_null());
    }
    assert_eq!(by_name("Deep")["status"], "ok: 1 items");
    for name in ["Refused", "Bad TLS"] {
        let s = by_name(name);
        assert!(
            s["last_error"]
                .as_str()
                .unwrap()
                .starts_with("cannot connect to"),
            "{s}"
        );
    }
    let dns = by_name("No such host");
    assert!(
        dns["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot connect to http://feedwatch-test.invalid/"),
        "{dns}"
    );
    let text = stdout(&work.run(&["sources"]).await);
    assert!(
        text.contains("FAILING x1") && text.contains("error: HTTP 404"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_page_that_advertises_its_feed_is_polled_through_the_feed() {
    let http = HttpServer::start().await;
    let page = format!(
        "<!DOCTYPE html><html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\"></head><body>Home</body></html>",
        "/files/feed.xml"
    );
    http.set_file("home.html", page.into_bytes(), "text/html");
    let cfg = config(&http, 0, &["console"], "")
        .replace(&http.url("/files/feed.xml"), &http.url("/files/home.html"));
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Maduro Signals Talks With United States"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("advertises a feed"),
        "{}",
        stderr(&out)
    );
    // From now on the feed itself is polled (conditionally), not the page.
    assert!(work.run(&["once"]).await.status.success());
    assert_eq!(http.hits("/files/home.html"), 1);
    assert_eq!(http.hits("/files/feed.xml"), 2);
    assert_eq!(
        http.state
            .not_modified
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let out = work.run(&["preview", &http.url("/files/home.html")]).await;
    assert!(
        stderr(&out).contains(&format!(
            "advertises a feed: {}",
            http.url("/files/feed.xml")
        )),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_online_says_what_each_source_serves() {
    let http = HttpServer::start().await;
    http.set_file("home.html", b"<html><head><link rel=\"alternate\" type=\"application/atom+xml\" href=\"/files/syndicated.atom\"></head></html>".to_vec(), "text/html");
    let extra = format!(
        "\n[[feed]]\nname = \"Home\"\nurl = \"{}\"\n\n[[feed]]\nname = \"Gone\"\nurl = \"{}\"\n",
        http.url("/files/home.html"),
        http.url("/status/410")
    );
    let work = Workdir::new(&config(&http, 0, &["console"], &extra));
    let out = work.run(&["check", "--online"]).await;
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("feed \"Clash Report\": ok: a feed with 3 items"),
        "{text}"
    );
    assert!(
        text.contains("feed \"Home\": ok: an HTML page advertising the feed"),
        "{text}"
    );
    assert!(text.contains("feed \"Gone\": FAILED: HTTP 410"), "{text}");
    assert!(stderr(&out).contains("error: 1 source(s) cannot be read"));
}
