//! The SSRF guard: a listed source may be on a private address, but links found in its
//! content are not followed there, unless `[fetch] allow_private = true`.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn content_links_to_local_addresses_are_not_fetched() {
    let http = HttpServer::start().await;
    let article = http.url("/files/article.html");
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>Local</title><item><title>Maduro Signals Talks</title>\
         <link>{article}</link><guid>l1</guid><description>Short summary about Caracas.</description></item></channel></rss>"
    );
    http.set_file("local.xml", feed.into_bytes(), "application/rss+xml");
    let cfg = |allow: bool| {
        format!(
            "[store]\npath = \"fw.db\"\n[fetch]\nallow_private = {allow}\n\
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
        0,
        "its item's page is not fetched"
    );
    assert!(
        stderr(&out).contains("is a private or local address"),
        "{}",
        stderr(&out)
    );
    // The alert still comes, from the feed's own text.
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("matched: Caracas"));

    let open = Workdir::new(&cfg(true));
    let out = open.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        http.hits("/files/article.html"),
        1,
        "allow_private lifts the guard"
    );
    assert!(
        stdout(&out).contains("Chevron"),
        "the full text was used: {}",
        stdout(&out)
    );
}
