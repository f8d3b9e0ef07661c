//! What each CLI command does, over the library; `main.rs` parses arguments and maps the
//! errors returned here to exit codes. stdout carries only what a command reports.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;

use crate::app::{self, Runtime};
use crate::config::{Config, format_duration};
use crate::fetch::{FetchOutcome, Fetcher};
use crate::model::Validators;
use crate::model::{Alert, AlertKind, PollStatus};
use crate::pipeline;
use crate::time::{Zone, iso};
use crate::{clean, scheduler};

mod cluster;
mod preview;

pub use cluster::cluster;
pub use preview::preview;

/// `--watch NAME` must name a configured watch: a usage error listing them otherwise.
fn known_watch(config: &Config, name: &str) -> Result<(), UsageError> {
    if config.watches.iter().any(|w| w.spec.name == name) {
        return Ok(());
    }
    let names: Vec<&str> = config
        .watches
        .iter()
        .map(|w| w.spec.name.as_str())
        .collect();
    Err(UsageError(format!(
        "no watch \"{name}\" in {}; the watches are: {}",
        config.file.display(),
        if names.is_empty() {
            "(none)".to_string()
        } else {
            names.join(", ")
        }
    )))
}

/// A mistake in how feedwatch was called: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `run`: the daemon in the foreground until SIGTERM or SIGINT; SIGHUP reloads.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (_held, store) = app::hold_store(&config)?;
    let rt = Runtime::build(&config, store)?;
    scheduler::run(config.file.clone(), rt).await
}

/// `once`: polls every source once, delivers what is due, prunes, and exits.
pub async fn once(config: Config) -> anyhow::Result<()> {
    let (_held, store) = app::hold_store(&config)?;
    let rt = Arc::new(Runtime::build(&config, store)?);
    let polls = scheduler::poll_all(&rt).await?;
    let mut tally = crate::pipeline::CycleTally::default();
    for (_, report) in &polls {
        tally.add(report);
    }
    let delivery = rt.deliver_due().await?;
    rt.prune().await?;
    tracing::info!(
        sources = polls.len(),
        ok = tally.ok,
        failed = tally.failing,
        causes = %tally.causes_text(),
        new_items = tally.new_items,
        alerts = tally.alerts,
        delivered = delivery.delivered,
        retrying = delivery.retrying,
        delivery_failed = delivery.failed,
        "poll cycle done"
    );
    Ok(())
}

/// `check`: validates the config and prints what it defines.
pub fn check(config: &Config) -> anyhow::Result<()> {
    // Building the runtime parts proves more than parsing: the matcher compiles, the
    // notifiers can be constructed.
    let fetcher = Fetcher::new(&app::fetch_options(config))?;
    let watchlist = app::watchlist(config)?;
    app::notifiers(config, &fetcher)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: ok", config.file.display())?;
    match &config.store.postgres {
        None => writeln!(out, "store: {}", config.store_path().display())?,
        Some(pg) => writeln!(
            out,
            "store: PostgreSQL {} as node {}",
            crate::text::without_password(&pg.url),
            pg.node.as_deref().unwrap_or("(this host's name)")
        )?,
    }
    for s in config.sources.iter().cloned() {
        writeln!(
            out,
            "{} \"{}\": {} every {}",
            s.source_type(),
            s.name,
            s.url,
            format_duration(s.interval)
        )?;
    }
    for w in watchlist.matcher.watches() {
        let to = watchlist
            .routes
            .get(&w.name)
            .map(|r| r.join(", "))
            .unwrap_or_default();
        let query = w
            .query
            .as_deref()
            .map(|q| format!(", query {q}"))
            .unwrap_or_default();
        writeln!(
            out,
            "watch \"{}\": {} term(s){query}, {} exclusion(s) -> {}",
            w.name,
            w.terms.len(),
            w.exclude.len(),
            if to.is_empty() { "(no notifiers)" } else { &to }
        )?;
    }
    for n in &config.notifiers {
        writeln!(out, "notifier \"{}\": {}", n.name, n.channel.kind())?;
    }
    for (notifier, var) in app::missing_secrets(config) {
        tracing::warn!(notifier = %notifier, env = %var, "environment variable named in the config is not set; deliveries that need it will wait");
    }
    if let Some(var) = &config.http.token_env
        && !crate::notify::Secret::from_env(var).is_set()
    {
        tracing::warn!(env = %var, "[http] token_env names a variable that is not set; the status page will refuse every request");
    }
    for notifier in app::unused_notifiers(config) {
        tracing::warn!(notifier = %notifier, "no watch routes to this notifier; it sends no alert (health alerts aside)");
    }
    Ok(())
}

/// `check --online`: fetches each source once and says what it serves, read as a poll
/// reads it. Exits 1 when any source cannot be read.
pub async fn check_online(config: &Config) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(&app::fetch_options(config))?;
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for source in &config.sources {
        let verdict = match pipeline::probe(&fetcher, source).await {
            Ok(found) => format!("ok: {found}"),
            Err(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
        };
        writeln!(
            out,
            "{} \"{}\": {verdict}",
            source.source_type(),
            source.name
        )?;
    }
    if failed > 0 {
        anyhow::bail!("{failed} source(s) cannot be read");
    }
    Ok(())
}

/// Reads SOURCE: an http(s) URL is fetched, anything else is a file path.
pub(super) async fn read_source(
    source: &str,
    fetcher: &Fetcher,
) -> anyhow::Result<(Vec<u8>, Option<String>, url::Url)> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let url = url::Url::parse(source)
            .map_err(|e| UsageError(format!("invalid URL {source}: {e}")))?;
        match fetcher.fetch(&url, &Validators::default()).await? {
            FetchOutcome::Fetched(f) => Ok((f.body, f.content_type, f.final_url)),
            FetchOutcome::NotModified { .. } => anyhow::bail!("{source}: unexpected 304"),
        }
    } else {
        let path = std::fs::canonicalize(source)
            .map_err(|e| UsageError(format!("cannot read {source}: {e}")))?;
        let body = std::fs::read(&path).with_context(|| format!("cannot read {source}"))?;
        let url = url::Url::from_file_path(&path)
            .map_err(|_| UsageError(format!("bad path {source}")))?;
        Ok((body, None, url))
    }
}

/// `extract SOURCE`: the clean main text of one HTML page (a URL or a file).
pub async fn extract(source: &str, json: bool, config: Option<&Config>) -> anyhow::Result<()> {
    let opts = config
        .map(app::fetch_options)
        .unwrap_or_else(|| app::fetch_options(&Config::defaults()));
    let (body, content_type, url) = read_source(source, &Fetcher::new(&opts)?).await?;
    let html = crate::fetch::decode_html(&body, content_type.as_deref());
    let article = tokio::task::spawn_blocking(move || clean::extract_article(&html)).await?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(
            out,
            "{}",
            json!({
                "url": article.canonical_url.clone().unwrap_or_else(|| url.to_string()),
                "title": article.title, "byline": article.byline, "published": article.published, "text": article.text,
            })
        )?;
    } else {
        writeln!(out, "{}", article.text)?;
    }
    Ok(())
}

/// Runs a watch query over stored articles, so a watch can be tried on past news.
pub fn search(
    config: &Config,
    query: Option<&str>,
    watch: Option<&str>,
    since: Option<Duration>,
    json: bool,
    zone: Zone,
) -> anyhow::Result<()> {
    let spec = match (query, watch) {
        (_, Some(w)) => {
            known_watch(config, w)?;
            let found = config.watches.iter().find(|s| s.spec.name == w);
            found.map(|s| s.spec.clone()).unwrap_or_default()
        }
        (Some(q), None) => {
            crate::matcher::parse_query(q).map_err(|e| UsageError(format!("query {e}")))?;
            crate::matcher::WatchSpec {
                name: "search".into(),
                query: Some(q.to_string()),
                ..Default::default()
            }
        }
        (None, None) => {
            return Err(UsageError("search needs a QUERY or --watch NAME".into()).into());
        }
    };
    let matcher = crate::matcher::Matcher::new(vec![spec])?;
    let tags = app::source_tags(config);
    let store = app::open_existing_store(config)?;
    let since = since.map_or(0, |d| crate::time::now_ms() - crate::time::ms(d));
    let mut out = std::io::stdout().lock();
    let mut result = Ok(());
    let mut found = 0usize;
    pipeline::search_stored(&store, &matcher, &tags, since, |a, hit| {
        let when = a.published_at.unwrap_or(a.fetched_at);
        let line = if json {
            json!({"source": a.source, "title": a.title, "url": a.url, "published": iso(when), "matched": hit.terms, "snippet": hit.snippet}).to_string()
        } else {
            format!(
                "{}\t{}\t{}\t{}\n\t{}",
                zone.show(when),
                a.source,
                a.title,
                a.url.as_deref().unwrap_or(""),
                hit.snippet
            )
        };
        found += 1;
        result = writeln!(out, "{line}");
        if result.is_ok() {
            std::ops::ControlFlow::Continue(())
        } else {
            std::ops::ControlFlow::Break(())
        }
    })?;
    if found == 0 {
        eprintln!("note: no stored article matches");
    }
    Ok(result?)
}

/// `sources`: each source's health, from the store.
pub fn sources(config: &Config, json: bool, zone: Zone) -> anyhow::Result<()> {
    let store = app::open_existing_store(config)?;
    let rows = store.source_health()?;
    if rows.is_empty() {
        eprintln!("note: the store has no sources; the config lists none, or none was polled yet");
    }
    let mut out = std::io::stdout().lock();
    for s in rows {
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&json!({
                    "name": s.name, "kind": s.kind, "url": s.url, "active": s.active,
                    "last_poll": s.last_poll_at.map(iso), "last_success": s.last_success_at.map(iso),
                    "status": s.status, "last_error": s.last_error, "consecutive_failures": s.consecutive_failures,
                    "next_poll": iso(s.next_poll_at), "items": s.items,
                }))?
            )?;
        } else {
            let state = match (&s.status, s.active) {
                (_, false) => "removed".to_string(),
                (None, _) => "never polled".to_string(),
                (Some(PollStatus::Error), _) => format!("FAILING x{}", s.consecutive_failures),
                (Some(st), _) => st.text(),
            };
            writeln!(
                out,
                "{}\t{}\t{}\tlast poll {}\tnext {}\t{} items",
                s.name,
                s.kind,
                state,
                s.last_poll_at
                    .map(|t| zone.show(t))
                    .unwrap_or_else(|| "-".into()),
                zone.show(s.next_poll_at),
                s.items
            )?;
            if let Some(e) = &s.last_error {
                writeln!(out, "\terror: {e}")?;
            }
        }
    }
    if let Some(note) = cluster::config_mismatch(&store, config)? {
        eprintln!("{note}");
    }
    Ok(())
}

/// `alerts`: recent alerts and the state of each delivery.
pub fn alerts(
    config: &Config,
    json: bool,
    zone: Zone,
    since: Option<Duration>,
    watch: Option<&str>,
    failed_only: bool,
) -> anyhow::Result<()> {
    if let Some(w) = watch {
        known_watch(config, w)?;
    }
    let store = app::open_existing_store(config)?;
    let since = since.map_or(0, |d| crate::time::now_ms() - crate::time::ms(d));
    let mut rows = store.recent_alerts(since, watch)?;
    for p in store.paused_notifiers()? {
        eprintln!(
            "note: notifier \"{}\" is paused since {}: {}; fix its credentials, then `feedwatch alerts --retry all` or reload the daemon",
            p.notifier,
            zone.show(p.since),
            p.reason
        );
    }
    if failed_only {
        rows.retain(|a| {
            matches!(
                a.state,
                crate::store::DeliveryState::Failed | crate::store::DeliveryState::Dead
            )
        });
    }
    if rows.is_empty() {
        eprintln!(
            "note: no {}alerts{}{}",
            if failed_only { "failed " } else { "" },
            watch
                .map(|w| format!(" for watch \"{w}\""))
                .unwrap_or_default(),
            if since > 0 { " in that time" } else { "" }
        );
    }
    let mut out = std::io::stdout().lock();
    for a in rows {
        if json {
            let mut v = serde_json::to_value(&a)?;
            v["created_at"] = json!(iso(a.created_at));
            v["delivered_at"] = json!(a.delivered_at.map(iso));
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{}\t{}\t{}\t{} ({} attempt(s))\t{}\t{}",
                zone.show(a.created_at),
                a.alert.watch_label(),
                a.notifier,
                a.state.as_str(),
                a.attempts,
                a.alert.title,
                a.alert.url.as_deref().unwrap_or("")
            )?;
            if let Some(e) = a
                .last_error
                .as_deref()
                .filter(|_| a.state != crate::store::DeliveryState::Delivered)
            {
                writeln!(out, "\tlast error: {e}")?;
            }
            if a.sources.len() > 1 {
                writeln!(out, "\tcarried by: {}", a.sources.join(", "))?;
            }
        }
    }
    Ok(())
}

/// Puts failed and dead deliveries back in the queue (`alerts --retry ID|all`) and resumes
/// notifiers paused on refused credentials; the running daemon (or the next `once`)
/// delivers them.
pub fn retry_alerts(config: &Config, id: &str, zone: Zone) -> anyhow::Result<()> {
    let store = app::open_existing_store(config)?;
    let id = (id != "all").then_some(id);
    let resumed = store.resume_notifiers()?;
    let n = store.retry_failed(id, crate::time::now_ms())?;
    let mut out = std::io::stdout().lock();
    for p in &resumed {
        writeln!(
            out,
            "notifier \"{}\" resumed (paused since {}: {})",
            p.notifier,
            zone.show(p.since),
            p.reason
        )?;
    }
    if n == 0
        && resumed.is_empty()
        && let Some(id) = id
    {
        return Err(UsageError(format!("no failed delivery of an alert with id {id}")).into());
    }
    writeln!(out, "{n} deliveries queued again")?;
    Ok(())
}

/// `test-notify NAME`: sends a test alert through one notifier and reports the outcome.
pub async fn test_notify(config: &Config, name: &str) -> anyhow::Result<()> {
    let fetcher = Fetcher::new(&app::fetch_options(config))?;
    let notifiers = app::notifiers(config, &fetcher)?;
    let n = notifiers.iter().find(|n| n.name == name).ok_or_else(|| {
        UsageError(format!(
            "no notifier named \"{name}\" in {}",
            config.file.display()
        ))
    })?;
    let alert = Alert {
        id: format!(
            "test-{}",
            crate::dedupe::short_hash(&[name, &crate::time::now_ms().to_string()])
        ),
        kind: AlertKind::Test,
        watch: "test".into(),
        watches: vec!["test".into()],
        source: "feedwatch".into(),
        title: "feedwatch test alert".into(),
        url: None,
        published: Some(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        matched: vec!["test".into()],
        snippet: "This is a test alert sent by `feedwatch test-notify`.".into(),
    };
    let answer = n
        .notifier
        .send(&crate::notify::Message {
            id: &alert.id,
            alerts: std::slice::from_ref(&alert),
        })
        .await
        .map_err(|e| anyhow::anyhow!("{} notifier \"{name}\": {e}", n.notifier.kind()))?;
    // Console output already went to stdout; report on stderr so it is not mistaken for an alert.
    eprintln!(
        "{} notifier \"{name}\": delivered ({answer})",
        n.notifier.kind()
    );
    Ok(())
}
