//! The pages: each handler reads one bounded page from the store and renders a template.

use std::collections::HashMap;
use std::ops::ControlFlow;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::value::Serde;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Failure, Web, svg};
use crate::matcher::{Matcher, Scope, WatchSpec, parse_query, split_at_terms};
use crate::store::{DeliveryRow, DeliveryState, SourceFilter, SourceHealth};
use crate::time::iso;

/// Rows per page of sources and of deliveries.
const PAGE: usize = 100;
/// Search results shown at most.
const SEARCH_RESULTS: usize = 50;
const DAY_MS: i64 = 86_400_000;

impl Web {
    fn page(&self, name: &str, title: &str, nav: &str, ctx: Value) -> Result<Response, Failure> {
        let ctx = context! { title => title, nav => nav, csrf => self.access.csrf(), ..ctx };
        let html = self.views.render(name, ctx).map_err(Failure)?;
        Ok(Html(html).into_response())
    }
}

/// `2026-01-02 14:05 UTC`, or an empty string.
fn when(ms: Option<i64>) -> String {
    ms.map(|t| {
        let s = iso(t);
        format!("{} {} UTC", &s[..10], &s[11..16])
    })
    .unwrap_or_default()
}

/// `GET /`: sources up, failing and down; alerts in the last 24 hours per watch; the
/// outbox; the last polls.
pub(super) async fn overview(State(web): State<Web>) -> Result<Response, Failure> {
    let now = web.clock.now();
    let (o, per_watch) = web
        .read(move |w| {
            Ok((
                w.store.overview(now)?,
                w.store.alerts_per_watch(now - DAY_MS)?,
            ))
        })
        .await?;
    let per_watch: Vec<Value> = per_watch
        .into_iter()
        .map(|(watch, n)| context! { watch, n })
        .collect();
    web.page(
        "overview.html",
        "Overview",
        "overview",
        context! {
            o => Serde(&o),
            last_poll => when(o.last_poll_at),
            per_watch,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct SourcesQuery {
    filter: Option<String>,
    page: Option<usize>,
}

#[derive(Serialize)]
struct SourceView {
    name: String,
    kind: &'static str,
    url: String,
    state: String,
    failing: bool,
    error: Option<String>,
    last_success: String,
    failures: u32,
    next_poll: String,
    items: i64,
    strip: Value,
}

/// `GET /sources?filter=failing&page=2`.
pub(super) async fn sources(
    State(web): State<Web>,
    Query(q): Query<SourcesQuery>,
) -> Result<Response, Failure> {
    let filter = match q.filter.as_deref() {
        Some("failing") => SourceFilter::Failing,
        _ => SourceFilter::All,
    };
    let page = q.page.unwrap_or(1).max(1);
    let (total, rows, strips) = web
        .read(move |w| {
            let (total, rows) = w.store.source_page(filter, (page - 1) * PAGE, PAGE)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            Ok((total, rows, w.store.poll_strips(&ids)?))
        })
        .await?;
    let views: Vec<SourceView> = rows
        .into_iter()
        .map(|s| source_view(&s, strips.get(&s.id).map_or(&[][..], Vec::as_slice)))
        .collect();
    let pages = (total as usize).div_ceil(PAGE).max(1);
    web.page(
        "sources.html",
        "Sources",
        "sources",
        context! {
            sources => Serde(views), total, page, pages,
            failing_only => filter == SourceFilter::Failing,
        },
    )
}

fn source_view(s: &SourceHealth, marks: &[crate::store::PollMark]) -> SourceView {
    let failing = s.active && s.consecutive_failures > 0;
    let state = match (&s.status, s.active) {
        (_, false) => "removed".to_string(),
        (None, _) => "never polled".to_string(),
        _ if failing => format!("failing ({} in a row)", s.consecutive_failures),
        (Some(st), _) => st.text(),
    };
    SourceView {
        name: s.name.clone(),
        kind: match s.kind {
            crate::model::SourceType::Feed => "feed",
            crate::model::SourceType::Page => "page",
        },
        url: s.url.clone(),
        state,
        failing,
        error: s.last_error.clone().filter(|_| failing),
        last_success: when(s.last_success_at),
        failures: s.consecutive_failures,
        next_poll: when(Some(s.next_poll_at)),
        items: s.items,
        strip: Value::from_safe_string(svg::poll_strip(marks)),
    }
}

#[derive(Deserialize)]
pub(super) struct AlertsQuery {
    watch: Option<String>,
    since: Option<String>,
    state: Option<String>,
    before: Option<i64>,
    done: Option<usize>,
}

#[derive(Serialize)]
struct StoryView {
    title: String,
    url: Option<String>,
    watches: String,
    snippet: Vec<Piece>,
    sources: Vec<String>,
    deliveries: Vec<DeliveryView>,
}

#[derive(Serialize)]
struct DeliveryView {
    id: String,
    notifier: String,
    state: &'static str,
    attempts: u32,
    created: String,
    delivered: String,
    last_error: Option<String>,
    retryable: bool,
}

/// A piece of a snippet: a matched term is marked.
#[derive(Serialize)]
struct Piece {
    text: String,
    mark: bool,
}

/// The `since` choices: (value, label, milliseconds back).
const SINCE: &[(&str, &str, i64)] = &[
    ("24h", "last 24 hours", DAY_MS),
    ("7d", "last 7 days", 7 * DAY_MS),
    ("30d", "last 30 days", 30 * DAY_MS),
    ("all", "all", i64::MAX),
];

/// `GET /alerts?watch=W&since=7d&state=failed&before=SEQ`: deliveries newest first, grouped
/// by story.
pub(super) async fn alerts(
    State(web): State<Web>,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, Failure> {
    let since_key = SINCE
        .iter()
        .find(|s| Some(s.0) == q.since.as_deref())
        .unwrap_or(&SINCE[1]);
    let now = web.clock.now();
    let since = now.saturating_sub(since_key.2);
    let failed_only = q.state.as_deref() == Some("failed");
    let states = if failed_only {
        vec![DeliveryState::Failed, DeliveryState::Dead]
    } else {
        Vec::new()
    };
    let watch = q.watch.clone().filter(|w| !w.is_empty());
    let (before, w2) = (q.before, watch.clone());
    let rows = web
        .read(move |w| {
            Ok(w.store
                .delivery_page(since, w2.as_deref(), &states, before, PAGE)?)
        })
        .await?;
    let next = (rows.len() == PAGE)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let stories = group_stories(rows);
    let watches: Vec<String> = web
        .catalog()
        .watchlist
        .matcher
        .watches()
        .map(|w| w.name.clone())
        .collect();
    web.page(
        "alerts.html",
        "Alerts",
        "alerts",
        context! {
            stories => Serde(stories), watches, next, failed_only,
            watch => watch.unwrap_or_default(),
            since => since_key.0,
            since_choices => SINCE.iter().map(|s| context! { value => s.0, label => s.1 }).collect::<Vec<_>>(),
            done => q.done,
        },
    )
}

/// Consecutive deliveries of one story (or item) make one entry, in the order given.
fn group_stories(rows: Vec<DeliveryRow>) -> Vec<StoryView> {
    let mut stories: Vec<StoryView> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    for row in rows {
        let a = &row.status.alert;
        let delivery = DeliveryView {
            id: a.id.clone(),
            notifier: row.status.notifier.clone(),
            state: row.status.state.as_str(),
            attempts: row.status.attempts,
            created: when(Some(row.status.created_at)),
            delivered: when(row.status.delivered_at),
            last_error: row
                .status
                .last_error
                .clone()
                .filter(|_| row.status.state != DeliveryState::Delivered),
            retryable: matches!(
                row.status.state,
                DeliveryState::Failed | DeliveryState::Dead
            ),
        };
        if groups.last() == Some(&row.group)
            && let Some(story) = stories.last_mut()
        {
            story.deliveries.push(delivery);
            continue;
        }
        groups.push(row.group.clone());
        stories.push(StoryView {
            title: if a.title.trim().is_empty() {
                "(untitled)".into()
            } else {
                a.title.clone()
            },
            url: a.url.clone(),
            watches: a.watch_label(),
            snippet: pieces(&a.snippet, &a.matched),
            sources: row.status.sources.clone(),
            deliveries: vec![delivery],
        });
    }
    stories
}

/// The snippet cut at its matched terms, for `<mark>`.
fn pieces(snippet: &str, terms: &[String]) -> Vec<Piece> {
    split_at_terms(snippet, terms)
        .into_iter()
        .map(|(text, mark)| Piece {
            text: text.to_string(),
            mark,
        })
        .collect()
}

#[derive(Deserialize)]
pub(super) struct RetryForm {
    csrf: String,
    id: String,
}

/// `POST /alerts/retry`: a failed or dead delivery goes back to the queue.
pub(super) async fn retry(
    State(web): State<Web>,
    Form(form): Form<RetryForm>,
) -> Result<Response, Failure> {
    if !web.access.csrf_ok(&form.csrf) {
        return Ok((
            StatusCode::FORBIDDEN,
            "the form is out of date (the daemon restarted?): reload the page and try again\n",
        )
            .into_response());
    }
    let now = web.clock.now();
    let n = web
        .read(move |w| Ok(w.store.retry_failed(Some(&form.id), now)?))
        .await?;
    web.wake_dispatcher();
    Ok(Redirect::to(&format!("/alerts?state=failed&done={n}")).into_response())
}

#[derive(Deserialize)]
pub(super) struct WatchesQuery {
    q: Option<String>,
    since: Option<String>,
}

#[derive(Serialize)]
struct WatchView {
    name: String,
    terms: Vec<String>,
    query: Option<String>,
    exclude: Vec<String>,
    limits: String,
    notify: Vec<String>,
    total: i64,
    chart: Value,
}

#[derive(Serialize)]
struct FoundView {
    title: String,
    url: Option<String>,
    source: String,
    date: String,
    snippet: Vec<Piece>,
    would_alert: Vec<String>,
}

/// `GET /watches?q=QUERY&since=30d`: each watch, its alerts per day over 30 days, and a
/// search over stored articles.
pub(super) async fn watches(
    State(web): State<Web>,
    Query(q): Query<WatchesQuery>,
) -> Result<Response, Failure> {
    let now = web.clock.now();
    let catalog = web.catalog();
    let per_day = web
        .read(move |w| Ok(w.store.alerts_per_day(now - 29 * DAY_MS - now % DAY_MS)?))
        .await?;
    let today = now / DAY_MS;
    let views: Vec<WatchView> = catalog
        .watchlist
        .matcher
        .watches()
        .map(|spec| {
            let days: Vec<(i64, i64)> = per_day
                .iter()
                .filter(|(w, _, _)| *w == spec.name)
                .map(|(_, d, n)| (*d, *n))
                .collect();
            watch_view(spec, &days, today, catalog.watchlist.routes.get(&spec.name))
        })
        .collect();
    let since_key = SINCE
        .iter()
        .find(|s| Some(s.0) == q.since.as_deref())
        .unwrap_or(&SINCE[2]);
    let query = q.q.clone().filter(|s| !s.trim().is_empty());
    let (found, error) = match query.clone() {
        None => (Vec::new(), None),
        Some(text) => match parse_query(&text) {
            Err(e) => (Vec::new(), Some(format!("query {e}"))),
            Ok(_) => {
                let since = now.saturating_sub(since_key.2);
                let found = web.read(move |w| search(w, &catalog, &text, since)).await?;
                (found, None)
            }
        },
    };
    web.page(
        "watches.html",
        "Watches",
        "watches",
        context! {
            watches => Serde(views), found => Serde(found), error,
            q => query.unwrap_or_default(),
            since => since_key.0,
            since_choices => SINCE.iter().map(|s| context! { value => s.0, label => s.1 }).collect::<Vec<_>>(),
        },
    )
}

fn watch_view(
    spec: &WatchSpec,
    days: &[(i64, i64)],
    today: i64,
    notify: Option<&Vec<String>>,
) -> WatchView {
    let mut limits = Vec::new();
    if !spec.sources.is_empty() {
        limits.push(format!("sources: {}", spec.sources.join(", ")));
    }
    if !spec.tags.is_empty() {
        limits.push(format!("tags: {}", spec.tags.join(", ")));
    }
    WatchView {
        name: spec.name.clone(),
        terms: spec.terms.clone(),
        query: spec.query.clone(),
        exclude: spec.exclude.clone(),
        limits: limits.join("; "),
        notify: notify.cloned().unwrap_or_default(),
        total: days.iter().map(|d| d.1).sum(),
        chart: Value::from_safe_string(svg::day_chart(days, today, 30)),
    }
}

/// The `search` command's engine over stored articles, newest first, with the watches each
/// found article would have alerted.
fn search(
    web: &Web,
    catalog: &super::Catalog,
    query: &str,
    since: i64,
) -> anyhow::Result<Vec<FoundView>> {
    let matcher = Matcher::new(vec![WatchSpec {
        name: "search".into(),
        query: Some(query.to_string()),
        ..Default::default()
    }])?;
    let mut found = Vec::new();
    let empty: HashMap<String, Vec<String>> = HashMap::new();
    crate::pipeline::search_stored(&web.store, &matcher, &empty, since, |a, hit| {
        let scope = Scope {
            source: &a.source,
            tags: catalog.tags.get(&a.source).map_or(&[][..], Vec::as_slice),
        };
        let would_alert = catalog
            .watchlist
            .matcher
            .match_article(scope, &a.title, &a.text)
            .into_iter()
            .map(|h| h.watch)
            .collect();
        found.push(FoundView {
            title: a.title,
            url: a.url,
            source: a.source,
            date: when(Some(a.published_at.unwrap_or(a.fetched_at))),
            snippet: pieces(&hit.snippet, &hit.terms),
            would_alert,
        });
        if found.len() >= SEARCH_RESULTS {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok(found)
}
