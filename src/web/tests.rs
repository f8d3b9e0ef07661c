//! Handler tests: the router over a real store, driven with tower's `oneshot`.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::model::{Alert, AlertKind, PollStatus, SourceType};
use crate::store::{DeliveryState, Discovery, Identity, NewAlert, NewItem, PollRecord, SourceSpec};

const HOSTILE: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> Caracas";

/// A store with two sources (one failing), one alert whose title is hostile markup and
/// whose delivery failed, and a config with two watches.
fn fixture(token_env: Option<&str>) -> (tempfile::TempDir, Web) {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::config::Config::parse(
        "[[feed]]\nname = \"Wire\"\nurl = \"http://127.0.0.1:9/wire.xml\"\n\
         [[feed]]\nname = \"Broken\"\nurl = \"http://127.0.0.1:9/broken.xml\"\n\
         [[watch]]\nname = \"caracas\"\nterms = [\"Caracas\"]\n\
         [[watch]]\nname = \"oil\"\nquery = 'oil AND NOT baseball'\n\
         [[notifier]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n",
        &dir.path().join("feedwatch.toml"),
    )
    .unwrap();
    let store = Store::open(&dir.path().join("fw.db")).unwrap();
    let spec = |name: &str| SourceSpec {
        name: name.into(),
        kind: SourceType::Feed,
        url: format!("http://127.0.0.1:9/{name}.xml"),
        interval_ms: 60_000,
    };
    store
        .sync_sources(&[spec("Wire"), spec("Broken")], 0, 0)
        .unwrap();
    let rows = store.active_sources().unwrap();
    let id = |name: &str| rows.iter().find(|r| r.name == name).unwrap().id;
    let now = crate::time::now_ms();
    let record = |result: Result<PollStatus, String>| PollRecord {
        at: now,
        result,
        validators: None,
        discovered_url: Discovery::Keep,
        next_poll_at: now + 60_000,
        health: None,
    };
    store
        .record_poll(id("Wire"), &record(Ok(PollStatus::Ok("1 items".into()))))
        .unwrap();
    store
        .record_poll(id("Broken"), &record(Err("HTTP 404 from <b>x</b>".into())))
        .unwrap();
    let alert = Alert {
        id: "a1".into(),
        kind: AlertKind::New,
        watch: "caracas".into(),
        watches: vec!["caracas".into()],
        source: "Wire".into(),
        title: HOSTILE.into(),
        url: Some("https://e.org/a".into()),
        published: None,
        matched: vec!["Caracas".into()],
        snippet: "Talks in Caracas resumed on Monday.".into(),
    };
    let item = NewItem {
        id: Identity {
            key: "k1".into(),
            raw_hash: "h".into(),
            ..Default::default()
        },
        title: HOSTILE.into(),
        text: "Talks in Caracas resumed on Monday, with oil on the table.".into(),
        alerts: vec![NewAlert {
            alert,
            notifier: "hook".into(),
        }],
        ..Default::default()
    };
    store.commit_poll(id("Wire"), now, &[item], &[]).unwrap();
    let seq = store.due_alerts("hook", now, 10).unwrap()[0].seq;
    store
        .mark_attempt_failed(&[seq], "HTTP 410", Err(DeliveryState::Failed))
        .unwrap();
    let watchlist = Watchlist {
        matcher: crate::matcher::Matcher::new(
            config.watches.iter().map(|w| w.spec.clone()).collect(),
        )
        .unwrap(),
        routes: config
            .watches
            .iter()
            .map(|w| (w.spec.name.clone(), w.notify.clone()))
            .collect(),
    };
    let web = Web::new(
        store,
        Arc::default(),
        Catalog {
            watchlist: Arc::new(watchlist),
            tags: HashMap::new(),
        },
        Duration::from_secs(90),
        Access::from_env(token_env),
        Clock::system(),
    );
    (dir, web)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(web: &Web, request: Request<Body>) -> Answer {
    let response = router(web.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "127.0.0.1:9188")
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn every_page_renders_escaped_under_a_policy_that_runs_no_script() {
    let (_dir, web) = fixture(None);
    for path in ["/", "/sources", "/alerts", "/watches", "/watches?q=Caracas"] {
        let a = send(&web, get(path)).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert!(!a.body.contains("<script>"), "{path}");
        assert!(!a.body.contains("<img"), "{path}");
        let csp = a.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{path}");
    }
    let alerts = send(&web, get("/alerts")).await.body;
    assert!(
        alerts.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
        "{alerts}"
    );
    // Query parameters come back escaped, if at all.
    let reflected = send(&web, get("/alerts?watch=%3Cscript%3Ex%3C/script%3E")).await;
    assert!(!reflected.body.contains("<script>x"), "{}", reflected.body);
    let css = send(&web, get("/style.css")).await;
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
}

#[tokio::test]
async fn pages_show_what_the_store_holds() {
    let (_dir, web) = fixture(None);
    let overview = send(&web, get("/")).await.body;
    assert!(overview.contains("id=\"failing-count\">1<"), "{overview}");
    assert!(
        overview.contains(">caracas</a></td><td class=\"num\">1<"),
        "{overview}"
    );

    let sources = send(&web, get("/sources")).await.body;
    assert!(sources.contains("failing (1 in a row)"), "{sources}");
    assert!(
        sources.contains("HTTP 404 from &lt;b&gt;x&lt;&#x2f;b&gt;"),
        "{sources}"
    );
    assert!(sources.contains("<rect class=\"err\"") && sources.contains("<rect class=\"ok\""));
    let failing = send(&web, get("/sources?filter=failing")).await.body;
    assert!(
        failing.contains("Broken") && !failing.contains(">Wire<"),
        "{failing}"
    );

    let alerts = send(&web, get("/alerts")).await.body;
    assert!(
        alerts.contains("Talks in <mark>Caracas</mark> resumed"),
        "{alerts}"
    );
    assert!(alerts.contains("carried by Wire") && alerts.contains("HTTP 410"));
    assert!(alerts.contains("Send again"));

    let watches = send(&web, get("/watches?q=oil&since=all")).await.body;
    assert!(watches.contains("would alert caracas, oil"), "{watches}");
    assert!(
        watches.contains("<code>oil AND NOT baseball</code>"),
        "{watches}"
    );
    let bad = send(&web, get("/watches?q=%28oil")).await.body;
    assert!(bad.contains("id=\"search-error\">query"), "{bad}");
}

#[tokio::test]
async fn send_again_needs_the_forms_token_and_requeues_the_delivery() {
    let (_dir, web) = fixture(None);
    let post = |body: String| {
        Request::post("/alerts/retry")
            .header(header::HOST, "localhost:9188")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let forged = send(&web, post("csrf=guess&id=a1".into())).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(
        web.store
            .due_alerts("hook", i64::MAX, 10)
            .unwrap()
            .is_empty()
    );
    let page = send(&web, get("/alerts")).await.body;
    assert!(page.contains(&format!("name=\"csrf\" value=\"{}\"", web.access.csrf())));
    let done = send(&web, post(format!("csrf={}&id=a1", web.access.csrf()))).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.headers[header::LOCATION],
        "/alerts?state=failed&done=1"
    );
    assert_eq!(web.store.due_alerts("hook", i64::MAX, 10).unwrap().len(), 1);
    let flash = send(&web, get("/alerts?state=failed&done=1")).await.body;
    assert!(flash.contains("1 delivery queued again"), "{flash}");
}

#[tokio::test]
async fn a_token_guards_every_page_but_healthz() {
    // SAFETY: a variable only this test reads.
    unsafe { std::env::set_var("FW_WEB_TEST_TOKEN", "tok-123") };
    let (_dir, web) = fixture(Some("FW_WEB_TEST_TOKEN"));
    let remote = |path: &str| {
        Request::get(path)
            .header(header::HOST, "feedwatch.example.org")
            .body(Body::empty())
            .unwrap()
    };
    let page = send(&web, remote("/sources")).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("action=\"/login\""), "{}", page.body);
    let metrics = send(&web, remote("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::UNAUTHORIZED);
    assert_eq!(metrics.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_ne!(
        send(&web, remote("/healthz")).await.status,
        StatusCode::UNAUTHORIZED
    );

    let mut bearer = remote("/metrics");
    bearer
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer tok-123".parse().unwrap());
    let scraped = send(&web, bearer).await;
    assert_eq!(scraped.status, StatusCode::OK);
    assert!(
        scraped.body.contains("feedwatch_sources 2"),
        "{}",
        scraped.body
    );

    let login = |token: &str| {
        Request::post("/login")
            .header(header::HOST, "feedwatch.example.org")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    assert_eq!(
        send(&web, login("wrong")).await.status,
        StatusCode::UNAUTHORIZED
    );
    let ok = send(&web, login("tok-123")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let cookie = ok.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(
        !cookie.contains("tok-123"),
        "the cookie is not the token itself"
    );
    let mut with_cookie = remote("/sources");
    with_cookie.headers_mut().insert(
        header::COOKIE,
        cookie.split(';').next().unwrap().parse().unwrap(),
    );
    assert_eq!(send(&web, with_cookie).await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_token_only_loopback_names_are_served() {
    let (_dir, web) = fixture(None);
    let rebound = Request::get("/alerts")
        .header(header::HOST, "attacker.example:9188")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&web, rebound).await.status, StatusCode::FORBIDDEN);
    assert_eq!(send(&web, get("/alerts")).await.status, StatusCode::OK);
}

#[test]
fn templates_compile() {
    let _ = view::Views::new();
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/web/style.css")
            .exists()
    );
}
