//! The store file itself: created readable by its owner only, and never silently replaced
//! when it is empty or foreign (a new empty store would alert on every item again).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_store_is_created_owner_only() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    let out = work.run(&["once"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    for name in ["fw.db", "fw.db-wal", "fw.db-shm"] {
        let path = work.dir.path().join(name);
        // The WAL files may be gone after a clean close; those that exist are checked.
        if let Ok(meta) = std::fs::metadata(&path) {
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        } else {
            assert_ne!(name, "fw.db", "the store exists");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_or_foreign_store_file_is_an_error_not_a_new_store() {
    let http = HttpServer::start().await;
    let work = Workdir::new(&config(&http, 0, &["console"], ""));
    let out = work.run(&["once"]).await;
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stdout(&out));
    let db = work.dir.path().join("fw.db");
    let _ = std::fs::remove_file(work.dir.path().join("fw.db-wal"));
    let _ = std::fs::remove_file(work.dir.path().join("fw.db-shm"));

    for (contents, says) in [
        (&b""[..], "the file is empty"),
        (
            &b"just some text, long enough to read a header\n"[..],
            "not a SQLite database",
        ),
    ] {
        std::fs::write(&db, contents).unwrap();
        let out = work.run(&["once"]).await;
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&*db.to_string_lossy()),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert_eq!(stdout(&out), "", "nothing alerts again");
        assert_eq!(
            std::fs::read(&db).unwrap(),
            contents,
            "the file is left as it was"
        );
    }

    std::fs::remove_file(&db).unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch("CREATE TABLE photos (id INTEGER)")
        .unwrap();
    drop(other);
    let out = work.run(&["once"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("another program"), "{}", stderr(&out));
}
