//! One suite, both backends: every scenario here runs on a SQLite file and on a throwaway
//! PostgreSQL cluster (`common/postgres.rs`), and must come out the same. Dedupe, stories,
//! alerts once per story, the outbox, dead letters, retention, the status page's reads,
//! migrations; then what only several nodes on PostgreSQL can do: leases shared without
//! overlap, taken over when they expire, and one sender per notifier.

mod common;

use std::sync::Arc;

use common::postgres::PgCluster;
use feedwatch::dedupe::short_hash;
use feedwatch::model::{Alert, AlertKind, PollStatus, SourceType};
use feedwatch::store::{
    ChangedItem, DeliveryState, Discovery, HealthChange, Identity, NewAlert, NewItem, PgTarget,
    PollCommit, PollRecord, PostgresStore, Seen, SourceFilter, SourceSpec, Store,
};

/// What keeps a store alive: its folder, or its cluster.
type Keep = Box<dyn std::any::Any>;

fn sqlite() -> (Store, Keep) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).unwrap();
    (store, Box::new(dir))
}

fn pg_target(url: &str, node: &str) -> PgTarget {
    PgTarget {
        url: url.to_string(),
        tls: Default::default(),
        password: None,
        node: node.to_string(),
    }
}

fn postgres() -> (Store, Keep) {
    let (pg, store) = pg_store();
    (store, Box::new(pg))
}

/// A throwaway cluster with database `fw`, and node `n1`'s store on it.
fn pg_store() -> (PgCluster, Store) {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let store = Store::new(PostgresStore::connect(&pg_target(&url, "n1")).unwrap());
    (pg, store)
}

/// `scenario` as a test on each backend.
macro_rules! both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $scenario() { let (s, _keep) = super::sqlite(); super::$scenario(&s); })*
        }
        mod postgres {
            $(#[test] fn $scenario() { let (s, _keep) = super::postgres(); super::$scenario(&s); })*
        }
    };
}

both!(
    dedupe_by_every_identity,
    stories_alert_once_per_watch,
    one_poll_carrying_a_story_twice_alerts_once,
    an_edit_and_a_new_copy_in_one_poll_alert_once,
    polls_committed_together_keep_their_own_reports,
    outbox_lifecycle_and_dead_letters,
    retention_keeps_tombstones_and_pending_alerts,
    sources_sync_claim_and_record,
    status_page_reads,
);

fn alert(id: &str, watch: &str) -> Alert {
    Alert {
        id: id.into(),
        kind: AlertKind::New,
        watch: watch.into(),
        watches: vec![watch.into()],
        source: "s".into(),
        title: "t".into(),
        url: None,
        published: None,
        matched: vec![format!("term-{watch}")],
        snippet: "x".into(),
    }
}

fn spec(name: &str, url: &str) -> SourceSpec {
    SourceSpec {
        name: name.into(),
        kind: SourceType::Feed,
        url: url.into(),
        interval_ms: 60_000,
    }
}

/// The ids of the store's active sources, in order.
fn source_ids(store: &Store) -> Vec<i64> {
    store
        .active_sources()
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect()
}

/// When each active source last polled well, in order.
fn last_successes(store: &Store) -> Vec<Option<i64>> {
    store
        .active_sources()
        .unwrap()
        .iter()
        .map(|r| r.last_success_at)
        .collect()
}

/// The ids of the alerts in the outbox, newest first.
fn alert_ids(store: &Store) -> Vec<String> {
    store
        .recent_alerts(0, None)
        .unwrap()
        .into_iter()
        .map(|a| a.alert.id)
        .collect()
}

/// The store's one source "s", and its row.
fn one_source(store: &Store) -> i64 {
    store
        .sync_sources(&[spec("s", "http://e.org/f")], 0, 0)
        .unwrap();
    store.active_sources().unwrap()[0].id
}

fn identity(key: &str, hash: &str) -> Identity {
    Identity {
        key: key.into(),
        raw_hash: hash.into(),
        ..Default::default()
    }
}

fn item(key: &str, text: &str, fingerprint: Option<u64>, alerts: &[(&str, &str)]) -> NewItem {
    NewItem {
        id: identity(key, key),
        title: format!("title {key}"),
        text: text.into(),
        fingerprint,
        alerts: alerts
            .iter()
            .map(|(watch, notifier)| NewAlert {
                alert: alert(&format!("{key}-{watch}"), watch),
                notifier: notifier.to_string(),
            })
            .collect(),
        ..Default::default()
    }
}

fn ok(at: i64, next: i64) -> PollRecord {
    PollRecord {
        at,
        result: Ok(PollStatus::Ok("1 items".into())),
        validators: None,
        discovered_url: Discovery::Keep,
        next_poll_at: next,
        health: None,
    }
}

fn dedupe_by_every_identity(store: &Store) {
    let src = one_source(store);
    let stored = NewItem {
        id: Identity {
            key: "guid:1".into(),
            guid: Some("1".into()),
            url: Some("http://e.org/a".into()),
            title_date: Some("t|2026-12-01".into()),
            raw_hash: "h1".into(),
        },
        title: "t".into(),
        text: "old text".into(),
        ..Default::default()
    };
    let r = store.commit_poll(src, 10, &[stored], &[]).unwrap();
    assert_eq!(r.items, 1);
    let probe =
        |key: &str, guid: Option<&str>, url: Option<&str>, td: Option<&str>, h: &str| Identity {
            key: key.into(),
            guid: guid.map(Into::into),
            url: url.map(Into::into),
            title_date: td.map(Into::into),
            raw_hash: h.into(),
        };
    let seen = store
        .classify(
            src,
            &[
                probe("guid:1", None, None, None, "h1"),
                probe("url:x", None, Some("http://e.org/a"), None, "h1"),
                probe("hash:y", None, None, Some("t|2026-12-01"), "h1"),
                probe("guid:1", None, None, None, "h2"),
                probe("guid:9", Some("9"), Some("http://e.org/b"), None, "h1"),
            ],
        )
        .unwrap();
    let changed = Seen::Changed {
        item_id: match &seen[3] {
            Seen::Changed { item_id, .. } => *item_id,
            other => panic!("{other:?}"),
        },
        old_text: "old text".into(),
    };
    assert_eq!(
        seen,
        [
            Seen::Unchanged,
            Seen::Unchanged,
            Seen::Unchanged,
            changed,
            Seen::New
        ]
    );
    // The same key again stores nothing and alerts nothing.
    let again = item("guid:1", "other", None, &[("w", "n")]);
    let r = store.commit_poll(src, 20, &[again], &[]).unwrap();
    assert_eq!((r.items, r.alerts), (0, 0));
}

/// Copies of one story alert each watch once; several watches of one item make one row per
/// notifier.
fn stories_alert_once_per_watch(store: &Store) {
    store
        .sync_sources(
            &[spec("a", "http://a.org/f"), spec("b", "http://b.org/f")],
            0,
            0,
        )
        .unwrap();
    let rows = store.active_sources().unwrap();
    let (a, b) = (rows[0].id, rows[1].id);
    let text = "the same long story text, carried by two outlets word for word ".repeat(4);
    store
        .commit_poll(
            a,
            10,
            &[item("k1", &text, Some(42), &[("w1", "n"), ("w1", "m")])],
            &[],
        )
        .unwrap();
    // The copy from another source joins the story: w1 stays quiet, w2 alerts once per
    // notifier.
    let r = store
        .commit_poll(
            b,
            20,
            &[item(
                "k2",
                &text,
                Some(42 ^ 0b101),
                &[("w1", "n"), ("w2", "n"), ("w2", "m")],
            )],
            &[],
        )
        .unwrap();
    assert_eq!((r.items, r.alerts, r.repeats), (1, 2, 1));
    let r = store
        .commit_poll(
            a,
            30,
            &[item("k3", "short", None, &[("w1", "n"), ("w2", "n")])],
            &[],
        )
        .unwrap();
    assert_eq!(r.alerts, 1);

    let rows = store.recent_alerts(0, None).unwrap();
    let seen: Vec<(String, &str, Vec<&str>)> = rows
        .iter()
        .map(|a| {
            (
                a.alert.id.clone(),
                a.notifier.as_str(),
                a.alert.watch_names(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (short_hash(&["k3-w1", "k3-w2"]), "n", vec!["w1", "w2"]),
            ("k2-w2".into(), "m", vec!["w2"]),
            ("k2-w2".into(), "n", vec!["w2"]),
            ("k1-w1".into(), "m", vec!["w1"]),
            ("k1-w1".into(), "n", vec!["w1"]),
        ]
    );
    assert_eq!(rows[0].alert.matched, ["term-w1", "term-w2"]);
    // Every source that carried the story, first first.
    assert_eq!(rows[1].sources, ["a", "b"]);
    assert_eq!(store.recent_alerts(0, Some("w2")).unwrap().len(), 3);
    assert_eq!(
        store.alerts_per_watch(0).unwrap(),
        [("w1".to_string(), 2), ("w2".to_string(), 2)]
    );
}

/// A feed listing one article twice (two keys), and a key twice: one story, one alert, one
/// item per key.
fn one_poll_carrying_a_story_twice_alerts_once(store: &Store) {
    let src = one_source(store);
    let text = "a story an outlet lists twice under two addresses, word for word, again ".repeat(3);
    let r = store
        .commit_poll(
            src,
            10,
            &[
                item("k1", &text, Some(1000), &[("w", "n")]),
                item("k2", &text, Some(1003), &[("w", "n")]),
                item("k2", "another text entirely", None, &[("w", "n")]),
                item("k3", "unrelated words", Some(u64::MAX), &[]),
            ],
            &[],
        )
        .unwrap();
    assert_eq!((r.items, r.alerts, r.repeats), (3, 1, 1));
    let alerts = store.recent_alerts(0, None).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert.id, "k1-w");
    // A later copy joins the story the batch made.
    let r = store
        .commit_poll(
            src,
            20,
            &[item("k4", &text, Some(1001), &[("w", "n")])],
            &[],
        )
        .unwrap();
    assert_eq!((r.items, r.alerts, r.repeats), (1, 0, 1));
}

/// One poll edits an item so that it now matches, and brings a new copy of the same story
/// that matches too: the watch alerts once (for the new copy, planned first).
fn an_edit_and_a_new_copy_in_one_poll_alert_once(store: &Store) {
    let src = one_source(store);
    let text =
        "an article that an outlet edits while a second address carries it, again ".repeat(3);
    store
        .commit_poll(src, 10, &[item("k1", &text, Some(77), &[])], &[])
        .unwrap();
    let Seen::Changed { item_id, .. } =
        store.classify(src, &[identity("k1", "edited")]).unwrap()[0]
    else {
        panic!("k1's raw content changed");
    };
    let edit = ChangedItem {
        item_id,
        raw_hash: "edited".into(),
        material: Some((text.clone(), Some(77))),
        alerts: item("k1", "", None, &[("w", "n")]).alerts,
    };
    let r = store
        .commit_poll(
            src,
            20,
            &[item("k2", &text, Some(77 ^ 0b11), &[("w", "n")])],
            &[edit],
        )
        .unwrap();
    assert_eq!((r.items, r.updated, r.alerts, r.repeats), (1, 1, 1, 1));
    let alerts = store.recent_alerts(0, None).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].alert.id, "k2-w");
}

/// Polls committed together (as the daemon does when polls finish at once): copies of one
/// story in two of them alert once, one key in two sources is two items, and each poll gets
/// its own report and outcome.
fn polls_committed_together_keep_their_own_reports(store: &Store) {
    let specs = [
        spec("a", "http://a.org/f"),
        spec("b", "http://b.org/f"),
        spec("c", "http://c.org/f"),
    ];
    store.sync_sources(&specs, 0, 0).unwrap();
    let ids = source_ids(store);
    let text = "one wire story that two outlets publish within the same minute, again ".repeat(3);
    let poll = |source_id: i64, new: Vec<NewItem>, at: i64| PollCommit {
        source_id,
        new,
        changed: Vec::new(),
        record: ok(at, at + 60_000),
    };
    let polls = [
        poll(ids[0], vec![item("k1", &text, Some(42), &[("w", "n")])], 10),
        poll(
            ids[1],
            vec![
                item("k2", &text, Some(42 ^ 0b1), &[("w", "n")]),
                item("k3", "other words", None, &[("w", "m")]),
            ],
            20,
        ),
        // A key another source's item has too: a different item.
        poll(ids[2], vec![item("k1", "words of its own", None, &[])], 30),
    ];
    let results = store.commit_polls(&polls);
    let reports: Vec<(usize, usize, usize)> = results
        .into_iter()
        .map(|r| r.unwrap())
        .map(|r| (r.items, r.alerts, r.repeats))
        .collect();
    assert_eq!(reports, [(1, 1, 0), (2, 1, 1), (1, 0, 0)]);
    let alerts = alert_ids(store);
    assert_eq!(alerts, ["k3-w", "k1-w"]);
    let polled = last_successes(store);
    assert_eq!(polled, [Some(10), Some(20), Some(30)]);
    assert_eq!(store.next_poll_at().unwrap(), Some(60_010));
}

fn outbox_lifecycle_and_dead_letters(store: &Store) {
    let src = one_source(store);
    let items = [
        item("k1", "x", None, &[("w", "n")]),
        item("k2", "x", None, &[("w", "n")]),
        item("k3", "x", None, &[("w", "n")]),
    ];
    store.commit_poll(src, 10, &items, &[]).unwrap();
    let due = store.due_alerts("n", 10, 10).unwrap();
    let ids: Vec<&str> = due.iter().map(|r| r.alert.id.as_str()).collect();
    assert_eq!(ids, ["k1-w", "k2-w", "k3-w"]);
    assert!(store.lease_notifier("n", 10, 60_000).unwrap());
    store
        .mark_attempt_failed(&[due[0].seq], "HTTP 500", Ok(100))
        .unwrap();
    store.mark_delivered(&[due[1].seq], "b1", 30).unwrap();
    store
        .mark_attempt_failed(&[due[2].seq], "HTTP 410", Err(DeliveryState::Dead))
        .unwrap();
    assert_eq!(store.messages_since("n", 0).unwrap(), [30]);
    assert!(store.due_alerts("n", 50, 10).unwrap().is_empty());
    assert_eq!(store.next_attempt_at("n").unwrap(), Some(100));
    assert_eq!(store.due_alerts("n", 100, 10).unwrap()[0].attempts, 1);
    let states: Vec<(String, DeliveryState, Option<String>)> = store
        .recent_alerts(0, Some("w"))
        .unwrap()
        .into_iter()
        .map(|a| (a.alert.id, a.state, a.last_error))
        .collect();
    assert_eq!(
        states,
        [
            ("k3-w".into(), DeliveryState::Dead, Some("HTTP 410".into())),
            ("k2-w".into(), DeliveryState::Delivered, None),
            (
                "k1-w".into(),
                DeliveryState::Pending,
                Some("HTTP 500".into())
            ),
        ]
    );
    let dead = store
        .delivery_page(0, None, &[DeliveryState::Dead], None, 10)
        .unwrap();
    assert_eq!(dead.len(), 1);
    // A dead letter goes back to the queue with a fresh count.
    assert_eq!(store.retry_failed(Some("k3-w"), 200).unwrap(), 1);
    let due = store.due_alerts("n", 200, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[1].attempts, 0);
    // A paused notifier is listed until resumed.
    store.pause_notifier("n", "535 bad login", 300).unwrap();
    assert_eq!(
        store.notifier_pause("n").unwrap().unwrap().reason,
        "535 bad login"
    );
    assert_eq!(store.resume_notifiers().unwrap().len(), 1);
    assert!(store.paused_notifiers().unwrap().is_empty());
    let gauges = store.gauges().unwrap();
    assert_eq!(
        gauges.alerts,
        [("delivered".to_string(), 1), ("pending".to_string(), 2)]
    );
    // A digest's alerts are marked together, as one message.
    let due: Vec<i64> = store
        .due_alerts("n", 400, 10)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(due.len(), 2);
    store.mark_delivered(&due, "b2", 400).unwrap();
    assert!(store.due_alerts("n", 400, 10).unwrap().is_empty());
    assert_eq!(store.messages_since("n", 0).unwrap(), [30, 400]);
}

fn retention_keeps_tombstones_and_pending_alerts(store: &Store) {
    let src = one_source(store);
    let text = "a story long enough to be fingerprinted and kept in a story ".repeat(3);
    store
        .commit_poll(
            src,
            1_000,
            &[
                item("old1", &text, Some(7), &[("w", "n")]),
                item("old2", "x", None, &[("w", "n")]),
            ],
            &[],
        )
        .unwrap();
    let due = store.due_alerts("n", 1_000, 10).unwrap();
    store.mark_delivered(&[due[0].seq], "b", 1_000).unwrap();
    for at in 0..60 {
        store.record_poll(src, &ok(2_000 + at, 10_000)).unwrap();
    }
    let report = store.prune(100_000, 50_000).unwrap();
    assert_eq!((report.items, report.alerts, report.stories), (2, 1, 1));
    // A pruned item is known for good: not new again, not changed.
    assert_eq!(
        store
            .classify(src, &[identity("old1", "other"), identity("new", "h")])
            .unwrap(),
        [Seen::Unchanged, Seen::New]
    );
    // The pending alert stays.
    assert_eq!(store.due_alerts("n", 100_000, 10).unwrap().len(), 1);
    // Polls are kept 50 per source.
    let strips = store.poll_strips(&[src]).unwrap();
    assert_eq!(strips[&src].len(), 50);
    assert_eq!(strips[&src].last().unwrap().at, 2_059);
    // Pruned twice: nothing more.
    assert_eq!(store.prune(100_000, 50_000).unwrap(), Default::default());
}

fn sources_sync_claim_and_record(store: &Store) {
    store
        .sync_sources(
            &[spec("a", "http://a.org/f"), spec("b", "http://b.org/f")],
            0,
            0,
        )
        .unwrap();
    let claimed = store.claim_due(0, 10, 5_000).unwrap();
    assert_eq!(claimed.len(), 2);
    // Leased: not due again until the lease ends, then due again.
    assert!(store.claim_due(4_999, 10, 5_000).unwrap().is_empty());
    assert_eq!(store.next_poll_at().unwrap(), Some(5_000));
    let (a, b) = (claimed[0].id, claimed[1].id);
    let down = HealthChange {
        alert: Alert {
            kind: AlertKind::New,
            ..alert("down-a", "source_down")
        },
        notifiers: vec!["n".into()],
        down: true,
    };
    let failed = PollRecord {
        result: Err("HTTP 500".into()),
        health: Some(down.clone()),
        ..ok(100, 60_100)
    };
    store.record_poll(a, &failed).unwrap();
    // The same health alert raised again (a retried write) is one row.
    store.record_poll(a, &failed).unwrap();
    let with_validators = PollRecord {
        validators: Some(feedwatch::model::Validators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        }),
        discovered_url: Discovery::Set("http://b.org/feed.xml".into()),
        ..ok(200, 60_200)
    };
    store.record_poll(b, &with_validators).unwrap();
    // Polled since a time: by when each poll ended.
    let polled_since = |since: i64| {
        let mut polled = store.polled_since(since).unwrap();
        polled.sort();
        polled
    };
    assert_eq!(polled_since(100), [(a, "a".into()), (b, "b".into())]);
    assert_eq!(polled_since(101), [(b, "b".to_string())]);
    assert!(polled_since(201).is_empty());
    let health = store.source_health().unwrap();
    assert_eq!(health[0].consecutive_failures, 2);
    assert_eq!(health[0].last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(health[1].status, Some(PollStatus::Ok("1 items".into())));
    assert_eq!(store.due_alerts("n", 1_000, 10).unwrap().len(), 1);
    let row = &store.active_sources().unwrap()[1];
    assert_eq!(row.validators.etag.as_deref(), Some("\"v1\""));
    assert_eq!(row.discovered_url.as_deref(), Some("http://b.org/feed.xml"));
    assert_eq!(store.active_sources().unwrap()[0].failing_since, Some(100));
    assert!(store.active_sources().unwrap()[0].down_alerted);
    // A changed URL drops the validators; a source no longer listed becomes inactive.
    store
        .sync_sources(&[spec("b", "http://b.org/other")], 300, 0)
        .unwrap();
    let rows = store.active_sources().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].validators.etag.clone()), (b, None));
    assert!(!store.source_health().unwrap()[1].active);
    // Of the sources still listed.
    assert_eq!(polled_since(0), [(b, "b".to_string())]);
    // A released claim is due at once.
    let claimed = store.claim_due(300, 10, 5_000).unwrap();
    assert_eq!(claimed.len(), 1);
    store.release(&[b], 400).unwrap();
    assert_eq!(store.claim_due(400, 10, 5_000).unwrap().len(), 1);
    // A source listed again, unchanged, is active again with what it knew.
    store
        .sync_sources(
            &[spec("a", "http://a.org/f"), spec("b", "http://b.org/other")],
            400,
            0,
        )
        .unwrap();
    let rows = store.active_sources().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].id, rows[0].failing_since), (a, Some(100)));
    // Outcomes written as one batch.
    store.record_polls(&[(b, ok(500, 9_000))]).unwrap();
    assert_eq!(store.next_poll_at().unwrap(), Some(9_000));
}

fn status_page_reads(store: &Store) {
    store
        .sync_sources(
            &[
                spec("a", "http://a.org/f"),
                spec("b", "http://b.org/f"),
                spec("c", "http://c.org/f"),
            ],
            0,
            0,
        )
        .unwrap();
    let rows = store.active_sources().unwrap();
    store
        .record_poll(
            rows[0].id,
            &PollRecord {
                result: Err("refused".into()),
                ..ok(3_600_000, 1)
            },
        )
        .unwrap();
    store
        .commit_and_record(
            rows[1].id,
            &[item("k1", "x", None, &[("w", "n")])],
            &[],
            &ok(3_600_000, 2),
        )
        .unwrap();
    let o = store.overview(3_600_001).unwrap();
    assert_eq!(
        (o.sources, o.up, o.failing, o.never_polled, o.pending),
        (3, 1, 1, 1, 1)
    );
    assert_eq!(o.polls_last_hour, [1, 0, 1]);
    let (total, page) = store.source_page(SourceFilter::Failing, 0, 10).unwrap();
    assert_eq!((total, page[0].name.as_str()), (1, "a"));
    let (total, page) = store.source_page(SourceFilter::All, 1, 1).unwrap();
    assert_eq!((total, page[0].name.as_str(), page[0].items), (3, "b", 1));
    let strips = store.poll_strips(&[rows[0].id, rows[2].id]).unwrap();
    assert_eq!(strips[&rows[0].id][0].result, "error");
    assert!(strips[&rows[2].id].is_empty());
    assert_eq!(store.alerts_per_day(0).unwrap(), [("w".to_string(), 0, 1)]);
    let mut found = Vec::new();
    store
        .each_article(0, &mut |a| {
            found.push((a.source, a.title));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(found, [("b".to_string(), "title k1".to_string())]);
    assert_eq!(store.latest_text(rows[1].id).unwrap().as_deref(), Some("x"));
    store.check_writable().unwrap();
    store.refresh_statistics().unwrap();
}

/// Nodes on one database: claims never overlap, every due source is claimed once.
#[test]
fn postgres_nodes_never_claim_one_source_twice() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let specs: Vec<SourceSpec> = (0..300)
        .map(|i| spec(&format!("s{i:03}"), &format!("http://e.org/{i}")))
        .collect();
    let nodes: Vec<Store> = (0..3)
        .map(|n| {
            let store =
                Store::new(PostgresStore::connect(&pg_target(&url, &format!("n{n}"))).unwrap());
            store.sync_sources(&specs, 0, 0).unwrap();
            store
        })
        .collect();
    let claims: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .iter()
            .map(|store| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let got = store.claim_due(1_000, 7, 60_000).unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = claims.concat();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(
        (n, all.len()),
        (300, 300),
        "a source claimed twice or missed"
    );
    assert!(
        claims.iter().all(|c| !c.is_empty()),
        "every node took a share"
    );
    let cluster = nodes[0].nodes(1_000).unwrap();
    assert_eq!(cluster.len(), 3);
    assert_eq!(cluster.iter().map(|n| n.leases).sum::<i64>(), 300);
    // `once` on another node leaves leased sources to their node.
    assert!(nodes[1].claim_all(2_000, 60_000).unwrap().is_empty());
    // A dead node's leases run out and another node takes its sources.
    assert!(nodes[1].claim_due(60_999, 500, 60_000).unwrap().is_empty());
    assert_eq!(nodes[1].claim_due(61_000, 500, 60_000).unwrap().len(), 300);
}

/// One node at a time sends a notifier's messages; another takes over when the lease ends,
/// or at once when its holder gives its leases back (it stopped sending).
#[test]
fn postgres_notifier_lease_is_held_by_one_node() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let a = PostgresStore::connect(&pg_target(&url, "a")).unwrap();
    let b = PostgresStore::connect(&pg_target(&url, "b")).unwrap();
    let (a, b) = (Store::new(a), Store::new(b));
    assert!(a.lease_notifier("mail", 0, 1_000).unwrap());
    assert!(!b.lease_notifier("mail", 500, 1_000).unwrap());
    assert!(
        a.lease_notifier("mail", 900, 1_000).unwrap(),
        "renewed by its holder"
    );
    assert!(!b.lease_notifier("mail", 1_899, 1_000).unwrap());
    assert!(
        b.lease_notifier("mail", 1_901, 1_000).unwrap(),
        "taken once expired"
    );
    assert!(!a.lease_notifier("mail", 1_950, 1_000).unwrap());
    assert!(
        a.lease_notifier("hook", 1_950, 1_000).unwrap(),
        "per notifier"
    );
    // A node gives back only its own leases.
    a.release_notifiers().unwrap();
    assert!(!a.lease_notifier("mail", 2_000, 1_000).unwrap());
    assert!(
        b.lease_notifier("hook", 2_000, 1_000).unwrap(),
        "given back"
    );
    b.release_notifiers().unwrap();
    assert!(
        a.lease_notifier("mail", 2_001, 1_000).unwrap(),
        "given back"
    );
}

/// Each node lists its own sources: one node's sync leaves the other's sources active, and a
/// node only claims what it lists.
#[test]
fn postgres_each_node_polls_what_its_config_lists() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let a = Store::new(PostgresStore::connect(&pg_target(&url, "a")).unwrap());
    let b = Store::new(PostgresStore::connect(&pg_target(&url, "b")).unwrap());
    a.sync_sources(
        &[
            spec("shared", "http://e.org/s"),
            spec("only-a", "http://e.org/a"),
        ],
        0,
        0,
    )
    .unwrap();
    b.sync_sources(&[spec("shared", "http://e.org/s")], 0, 0)
        .unwrap();
    assert_eq!(
        a.source_health()
            .unwrap()
            .iter()
            .filter(|h| h.active)
            .count(),
        2
    );
    let names = |s: &Store| -> Vec<String> {
        s.claim_due(10, 10, 1)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names(&b), ["shared"]);
    assert_eq!(names(&a), ["only-a"]);
    assert_eq!(b.nodes(10).unwrap().len(), 2);
}

/// A node that starts or reloads with the config the database holds writes no source's row
/// (each write is a new version of the row and of its index entries), and a changed source
/// is written alone.
#[test]
fn postgres_an_unchanged_config_rewrites_no_source() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let specs: Vec<SourceSpec> = (0..50)
        .map(|i| spec(&format!("s{i}"), &format!("http://e.org/{i}")))
        .collect();
    let nodes: Vec<Store> = ["a", "b"]
        .iter()
        .map(|n| Store::new(PostgresStore::connect(&pg_target(&url, n)).unwrap()))
        .collect();
    for n in &nodes {
        n.sync_sources(&specs, 0, 0).unwrap();
    }
    let versions = || {
        pg.sql(
            "fw",
            "SELECT string_agg(xmin::text, ',' ORDER BY id) FROM sources",
        )
    };
    let listed = || {
        pg.sql(
            "fw",
            "SELECT string_agg(xmin::text, ',' ORDER BY node, source_id) FROM node_sources",
        )
    };
    let (before, listed_before) = (versions(), listed());
    for n in &nodes {
        n.sync_sources(&specs, 10, 0).unwrap();
    }
    assert_eq!(versions(), before);
    assert_eq!(listed(), listed_before);
    let mut changed = specs.clone();
    changed[7].url = "http://e.org/moved".into();
    nodes[0].sync_sources(&changed, 20, 0).unwrap();
    let after = versions();
    let moved: Vec<usize> = before
        .split(',')
        .zip(after.split(','))
        .enumerate()
        .filter_map(|(i, (x, y))| (x != y).then_some(i))
        .collect();
    assert_eq!(moved, [7]);
    assert_eq!(nodes[0].active_sources().unwrap().len(), 50);
}

/// Two nodes storing copies of one story at once, from two threads each (as a node's poll
/// workers do): every commit succeeds and the story alerts its watch once.
#[test]
fn postgres_copies_stored_at_once_on_two_nodes_alert_once() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let nodes: Vec<Store> = ["a", "b"]
        .iter()
        .map(|n| Store::new(PostgresStore::connect(&pg_target(&url, n)).unwrap()))
        .collect();
    let specs: Vec<SourceSpec> = (0..20)
        .map(|i| spec(&format!("s{i}"), &format!("http://e.org/{i}")))
        .collect();
    for n in &nodes {
        n.sync_sources(&specs, 0, 0).unwrap();
    }
    let ids = source_ids(&nodes[0]);
    let text =
        "one wire story that twenty outlets carry word for word, every one of them ".repeat(3);
    let ids = Arc::new(ids);
    std::thread::scope(|scope| {
        for n in 0..4 {
            let (ids, text, store) = (ids.clone(), text.clone(), &nodes[n % 2]);
            scope.spawn(move || {
                for (i, &src) in ids.iter().enumerate().filter(|(i, _)| i % 4 == n) {
                    // Three copies a poll: each looks its story up in the node's index.
                    let copies: Vec<NewItem> = (0..3)
                        .map(|c| {
                            item(
                                &format!("k{i}-{c}"),
                                &text,
                                Some(99 ^ (i as u64) ^ (c << 8)),
                                &[("w", "n")],
                            )
                        })
                        .collect();
                    store.commit_poll(src, 10, &copies, &[]).unwrap();
                }
            });
        }
    });
    let alerts = nodes[0].recent_alerts(0, None).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].sources.len(), 20);
}

/// A database of the previous schema version keeps its data when a newer feedwatch opens it,
/// and a database newer than this build is refused.
#[test]
fn postgres_migrates_from_the_previous_version_and_refuses_a_newer_one() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    PostgresStore::migrate_for_tests(&pg_target(&url, "a"), 1).unwrap();
    pg.sql(
        "fw",
        "INSERT INTO sources (name, kind, url, interval_ms, next_poll_at) VALUES ('old', 'feed', 'http://e.org/f', 1000, 0);
         INSERT INTO items (source_id, key, title, text, fetched_at, raw_hash) VALUES (1, 'k', 't', 'x', 0, 'h');",
    );
    let store = Store::new(PostgresStore::connect(&pg_target(&url, "a")).unwrap());
    store
        .sync_sources(&[spec("old", "http://e.org/f")], 0, 0)
        .unwrap();
    let src = store.active_sources().unwrap()[0].id;
    assert_eq!(
        store.classify(src, &[identity("k", "h")]).unwrap(),
        [Seen::Unchanged]
    );
    drop(store);
    pg.sql("fw", "UPDATE feedwatch_schema SET version = 99");
    let err = PostgresStore::connect(&pg_target(&url, "a"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("schema version 99, newer than this feedwatch knows"),
        "{err}"
    );
}

/// Each node's connections name it to the server (`application_name`), unless the URL names
/// them itself.
#[test]
fn postgres_connections_carry_the_node_name() {
    let pg = PgCluster::start();
    let url = pg.database("fw");
    let named = |name: &str| {
        pg.sql(
            "postgres",
            &format!("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{name}'"),
        )
    };
    let a = PostgresStore::connect(&pg_target(&url, "a")).unwrap();
    assert_ne!(named("feedwatch a"), "0");
    let b =
        PostgresStore::connect(&pg_target(&format!("{url}?application_name=ours"), "b")).unwrap();
    assert_ne!(named("ours"), "0");
    assert_eq!(named("feedwatch b"), "0");
    drop((a, b));
}

/// A role that may not create tables in the database (since PostgreSQL 15, one that does not
/// own it) is refused with what it needs, and starts once it is granted it.
#[test]
fn postgres_a_role_that_cannot_create_tables_is_told_what_it_needs() {
    let pg = PgCluster::start();
    pg.database("fw");
    pg.sql("postgres", "CREATE ROLE fwuser LOGIN");
    let url = pg.url("fw").replace("feedwatch@", "fwuser@");
    // What PostgreSQL 15 does by default, done by hand for an older server.
    pg.sql("fw", "REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    let err = PostgresStore::connect(&pg_target(&url, "a"))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("permission denied for schema public")
            && err.contains("ALTER DATABASE <name> OWNER TO <role>"),
        "{err}"
    );
    pg.sql("fw", "GRANT CREATE ON SCHEMA public TO fwuser");
    PostgresStore::connect(&pg_target(&url, "a")).unwrap();
}

/// Statistics are taken of a table once it has grown, never while it is nearly empty: the
/// planner would read such a table whole, and every foreign-key check of a cycle filling it
/// would go on doing so (a cold cycle cost several times its CPU). Nor again before it has
/// grown by a tenth.
#[test]
fn postgres_statistics_wait_for_a_table_to_grow() {
    let (pg, store) = pg_store();
    let src = one_source(&store);
    let analyzed = |table: &str| {
        pg.sql(
            "fw",
            &format!("SELECT reltuples >= 0 FROM pg_class WHERE relname = '{table}'"),
        ) == "t"
    };
    store.refresh_statistics().unwrap();
    assert!(!analyzed("stories") && !analyzed("items"));
    let texts: Vec<String> = (0..1200).map(|n| format!("article number {n}")).collect();
    let new: Vec<NewItem> = texts
        .iter()
        .enumerate()
        .map(|(n, text)| item(&format!("k{n}"), text, Some(n as u64 * 0x9e37_79b9), &[]))
        .collect();
    store.commit_poll(src, 1, &new, &[]).unwrap();
    store.refresh_statistics().unwrap();
    assert!(analyzed("stories") && analyzed("items"));
    assert!(!analyzed("alerts"));
    // Taken again once the table has grown by a tenth, not before (another node's refresh
    // a moment ago does for this one).
    let counted = || {
        pg.sql(
            "fw",
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'items'",
        )
    };
    let more = |from: usize, n: usize| -> Vec<NewItem> {
        (from..from + n)
            .map(|n| item(&format!("k{n}"), "a few more words", None, &[]))
            .collect()
    };
    store.commit_poll(src, 2, &more(1200, 20), &[]).unwrap();
    store.refresh_statistics().unwrap();
    assert_eq!(counted().trim(), "1200");
    store.commit_poll(src, 3, &more(1220, 1200), &[]).unwrap();
    store.refresh_statistics().unwrap();
    assert_eq!(counted().trim(), "2420");
}

/// A pruned story leaves no id behind in its items (PostgreSQL keeps no foreign key from
/// items to stories: the prune clears them itself).
#[test]
fn postgres_pruned_stories_leave_no_ids_behind() {
    let (pg, store) = pg_store();
    let src = one_source(&store);
    let text = "a story long enough to be fingerprinted and kept in a story ".repeat(3);
    store
        .commit_poll(src, 1_000, &[item("old", &text, Some(7), &[])], &[])
        .unwrap();
    let linked = "SELECT COUNT(*) FROM items WHERE story_id IS NOT NULL";
    assert_eq!(pg.sql("fw", linked).trim(), "1");
    assert_eq!(store.prune(100_000, 50_000).unwrap().stories, 1);
    assert_eq!(pg.sql("fw", linked).trim(), "0");
}

/// A poll's commit waits for the story lock before it writes its source's row: a commit
/// that held the row while waiting would deadlock with the lock's holder waiting for that
/// row (as a node starting up writes every source). The commit here runs on a fresh
/// connection, where the lock's statements are not yet prepared.
#[test]
fn postgres_a_commit_waiting_for_the_story_lock_holds_no_source_row() {
    let (pg, store) = pg_store();
    let src = one_source(&store);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let holder = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&pg.url("fw"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({})",
                feedwatch::store::STORY_LOCK
            ))
            .await
            .unwrap();
        client
    });
    let text = "a story long enough to be fingerprinted and kept in a story ".repeat(3);
    let committing = std::thread::spawn(move || {
        store.commit_and_record(
            src,
            &[item("new", &text, Some(7), &[])],
            &[],
            &ok(1_000, 9_000),
        )
    });
    let waiting = "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while pg.sql("fw", waiting) != "1" {
        assert!(
            std::time::Instant::now() < deadline,
            "the commit never waited for the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    rt.block_on(async {
        holder
            .execute(
                "UPDATE sources SET interval_ms = interval_ms WHERE id = $1",
                &[&src],
            )
            .await
            .expect("the source's row is free while its commit waits for the lock");
        holder.batch_execute("COMMIT").await.unwrap();
    });
    let report = committing.join().unwrap().expect("the commit goes through");
    assert_eq!(report.items, 1);
}

/// A poll the server refuses, committed with others: the others are stored, it alone fails
/// with the server's words, and nothing of it is kept.
#[test]
fn postgres_a_poll_refused_in_a_group_commit_fails_alone() {
    let (pg, store) = pg_store();
    store
        .sync_sources(
            &[spec("a", "http://a.org/f"), spec("b", "http://b.org/f")],
            0,
            0,
        )
        .unwrap();
    let ids = source_ids(&store);
    // A rule of the database's own that one item breaks (as a value the server cannot
    // store would).
    pg.sql(
        "fw",
        "ALTER TABLE items ADD CONSTRAINT no_poison CHECK (title <> 'title poison')",
    );
    a_refused_poll_fails_alone(&store, &ids);
}

/// Commits a poll of `ids[0]` with one of `ids[1]` whose item's title is "title poison",
/// which the store has been made to refuse (its error naming `no_poison`): the first is
/// stored with its alert, the second fails alone and leaves nothing.
fn a_refused_poll_fails_alone(store: &Store, ids: &[i64]) {
    let poll = |source_id: i64, key: &str| PollCommit {
        source_id,
        new: vec![item(key, &format!("text of {key}"), None, &[("w", "n")])],
        changed: Vec::new(),
        record: ok(10, 60_010),
    };
    let results = store.commit_polls(&[poll(ids[0], "fine"), poll(ids[1], "poison")]);
    assert_eq!(results[0].as_ref().unwrap().alerts, 1);
    let err = results[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("no_poison"), "{err}");
    assert_eq!(alert_ids(store), ["fine-w"]);
    assert_eq!(last_successes(store), [Some(10), None]);
}

/// The same on SQLite, where a group of polls is one transaction too: a trigger refuses one
/// poll's item, the other poll is stored, and the refused one fails alone with SQLite's words.
#[test]
fn sqlite_a_poll_refused_in_a_group_commit_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Store::open(&path).unwrap();
    store
        .sync_sources(
            &[spec("a", "http://a.org/f"), spec("b", "http://b.org/f")],
            0,
            0,
        )
        .unwrap();
    let ids = source_ids(&store);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_poison BEFORE INSERT ON items WHEN NEW.title = 'title poison'
             BEGIN SELECT RAISE(ABORT, 'no_poison'); END;",
        )
        .unwrap();
    a_refused_poll_fails_alone(&store, &ids);
}

/// A notifier's due deliveries are read through the index of pending ones, however many
/// delivered rows retention keeps before them: read by the key, every batch walked past all
/// of those first (15 ms a batch with 50,000), and through `alerts_due` it sorted every due
/// row (8 ms with 8,000 waiting).
#[test]
fn postgres_due_deliveries_skip_the_delivered_ones() {
    let (pg, store) = pg_store();
    pg.sql(
        "fw",
        "INSERT INTO alerts (id, notifier, watch, payload, state, created_at, next_attempt_at)
         SELECT 'a' || g, 'hook', 'w', repeat('x', 600), CASE WHEN g <= 50000 THEN 'delivered' ELSE 'pending' END,
                g, g
         FROM generate_series(1, 60000) g;
         ANALYZE alerts",
    );
    let used = || -> i64 {
        pg.sql(
            "fw",
            "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'alerts_pending'",
        )
        .parse()
        .unwrap()
    };
    let before = used();
    // Past the server's first five plans of a prepared statement, made for their values.
    for _ in 0..8 {
        // The payloads (of an alert's size) are not alerts: the rows are read, then refused.
        assert!(store.due_alerts("hook", 100_000, 25).is_err());
    }
    // A session's counts are published when it ends (else when it idles for a while).
    drop(store);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while used() < before + 8 {
        assert!(
            std::time::Instant::now() < deadline,
            "due deliveries read through alerts_pending {} times of 8",
            used() - before
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
