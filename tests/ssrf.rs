//! The SSRF guard: a listed source may be on a private address, but links found in its
//! content are not followed there, unless `[fetch] allow_private = true`.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn content_links_to_local_addresses_are_not_fetched() {
    let http = HttpServer::start().await;
    let internal = HttpServer::start_on("127.0.0.2").await;
    // One item links to the feed's own host and port (its article page), one to another
    // internal host.
    let own = http.url("/files/article.html");
    let other = internal.url("/files/article.html");
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>Local</title>\
         <item><title>Maduro Signals Talks</title><link>{own}</link><guid>l1</guid>\
         <description>Short summary about Caracas.</description></item>\
         <item><title>Oil talks</title><link>{other}</link><guid>l2</guid>\
         <description>Another summary about Caracas.</description></item></channel></rss>"
    );
    http.set_file("local.xml", feed.into_bytes(), "application/rss+xml");
    let cfg = |allow: bool| {
        format!(
            "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[fetch]\nallow_private = {allow}\n\
             [[feed]]\nname = \"Intranet\"\nurl = \"{}\"\nfull_text = true\n\
             [[watch]]\nname = \"venezuela\"\nterms = [\"Caracas\", \"Chevron\"]\n\
             [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
            http.url("/files/local.xml")
        )
    };

    let guarded = Workdir::new(&cfg(false));
    let out = guarded.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        http.hits("/files/local.xml"),
        1,
        "the listed source itself is on 127.0.0.1 and allowed"
    );
    assert_eq!(
        http.hits("/files/article.html"),
        1,
        "its own article page, on the same host and port, is fetched like the feed"
    );
    assert_eq!(
        internal.hits("/files/article.html"),
        0,
        "a page on another internal host is not"
    );
    assert!(
        stderr(&out).contains("refused: private address"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        stderr(&out).matches("allow_private").count(),
        1,
        "one line per source names the setting: {}",
        stderr(&out)
    );
    // Both alert: one from its page's full text, one from the feed's own text.
    let lines = stdout(&out);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(
        lines.contains("matched: Caracas, Chevron") || lines.contains("matched: Chevron"),
        "{lines}"
    );

    let open = Workdir::new(&cfg(true));
    let out = open.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        internal.hits("/files/article.html"),
        1,
        "allow_private lifts the guard"
    );
}

/// A page that advertises its feed on another, internal host: the feed is content.
#[tokio::test(flavor = "multi_thread")]
async fn a_discovered_feed_on_another_host_is_guarded() {
    let http = HttpServer::start().await;
    let internal = HttpServer::start_on("127.0.0.2").await;
    let page = format!(
        "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\"></head></html>",
        internal.url("/files/feed.xml")
    );
    http.set_file("home.html", page.into_bytes(), "text/html");
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[[feed]]\nname = \"Home\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/home.html")
    );
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        internal.hits("/files/feed.xml"),
        0,
        "the internal feed is not fetched"
    );
    assert_eq!(stdout(&out), "", "nothing alerts");
    let sources = work.sources().await;
    let error = sources[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("refused: private address"), "{}", sources[0]);
}

/// A listed source that redirects to another, internal host: the target is content.
#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_off_the_listed_host_is_guarded() {
    let http = HttpServer::start().await;
    let internal = HttpServer::start_on("127.0.0.2").await;
    let target = format!("{}/files/feed.xml", internal.addr);
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[[feed]]\nname = \"Moved\"\nurl = \"{}\"\n\
         [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url(&format!("/redirect/{target}"))
    );
    let work = Workdir::new(&cfg);
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(http.hits("/redirect"), 1);
    assert_eq!(
        internal.hits("/files/feed.xml"),
        0,
        "the redirect is not followed inward"
    );
    let sources = work.sources().await;
    let error = sources[0]["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("refused: private address") && !error.contains("redirects"),
        "{}",
        sources[0]
    );

    // A redirect within the listed host is followed as before.
    let same = format!("{}/files/feed.xml", http.addr);
    let work = Workdir::new(&cfg.replace(&target, &same));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("matched"), "{}", stderr(&out));
}

/// A name the machine resolves to loopback, other than `localhost` (which the guard
/// refuses by name): the host name in /etc/hosts.
fn loopback_name() -> String {
    use std::net::ToSocketAddrs;
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let addrs: Vec<_> = (name.as_str(), 80).to_socket_addrs().unwrap().collect();
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
        "this test needs the host name {name} to resolve to loopback (/etc/hosts): {addrs:?}"
    );
    name
}

/// With `http_proxy` set, content links do not go through the proxy (which would resolve
/// the name itself, past the guard).
#[tokio::test(flavor = "multi_thread")]
async fn content_fetches_do_not_use_a_proxy() {
    let http = HttpServer::start().await;
    let proxy = HttpServer::start().await;
    let link = format!(
        "http://{}:{}/files/article.html",
        loopback_name(),
        http.addr.port()
    );
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>Local</title><item><title>Maduro Signals Talks</title>\
         <link>{link}</link><guid>l1</guid><description>Short summary about Caracas.</description></item></channel></rss>"
    );
    http.set_file("local.xml", feed.into_bytes(), "application/rss+xml");
    let cfg = format!(
        "[store]\npath = \"fw.db\"\n[alerts]\nbacklog = \"all\"\n[[feed]]\nname = \"Intranet\"\nurl = \"{}\"\nfull_text = true\n\
         [[watch]]\nname = \"venezuela\"\nterms = [\"Venezuela\", \"Caracas\"]\n\
         [[notifier]]\nname = \"console\"\ntype = \"console\"\n",
        http.url("/files/local.xml")
    );
    let work = Workdir::new(&cfg);
    let out = work
        .command(&["once"])
        .env("http_proxy", proxy.url(""))
        .env("HTTP_PROXY", proxy.url(""))
        .env("no_proxy", "127.0.0.1")
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let proxied: usize = proxy.state.hits.lock().unwrap().values().sum();
    assert_eq!(proxied, 0, "nothing went through the proxy");
    assert_eq!(
        http.hits("/files/article.html"),
        0,
        "the page is not fetched"
    );
    assert!(
        stderr(&out).contains("refused: private address"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("matched: Caracas"),
        "the feed's own text alerts"
    );
}
