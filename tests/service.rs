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
    let first = work
        .command(&["run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
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
