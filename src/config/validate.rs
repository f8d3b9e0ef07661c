//! From the file's tables to typed settings: what serde cannot check (unique names, routes to
//! known notifiers, URLs, selectors, terms and queries) is checked here, once, and each
//! value is parsed into its type. Each error carries the span it is about.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::checks::{Invalid, at, http_url, routes, unique};
use super::schema::{
    ConfigFile, FeedConfig, FetchConfig, HttpConfig, PageConfig, StoreConfig, WatchConfig,
};
use super::{
    Config, DeliverySettings, FetchSettings, HealthSettings, HttpSettings, NotifierSettings,
    PostgresSettings, StoreSettings, WatchSettings, notifier,
};
use crate::matcher::WatchSpec;
use crate::model::{Source, SourceKind};

pub(super) fn validate(file: ConfigFile, path: &Path) -> Result<Config, Invalid> {
    let fetch = fetch(&file.fetch)?;
    let backlog = match &file.alerts.backlog {
        Some(b) => parse_backlog(b)?,
        None => Some(DEFAULT_BACKLOG),
    };
    let sources = sources(&file.feeds, &file.pages, backlog)?;
    let notifiers = notifiers(&file.notifiers)?;
    let http = http(&file.http)?;
    let names: Vec<String> = notifiers.iter().map(|n| n.name.clone()).collect();
    let health = HealthSettings {
        alert_after: file.health.alert_after.0,
        notify: routes(file.health.notify.as_ref(), &names, "[health]")?,
    };
    let watches = watches(&file.watches, &sources, &names)?;
    Ok(Config {
        file: path.to_path_buf(),
        hash: String::new(),
        store: store(&file.store, path.parent().unwrap_or(Path::new(".")))?,
        fetch,
        delivery: DeliverySettings {
            retry_initial: file.delivery.retry_initial.0,
            retry_max: file.delivery.retry_max.0,
            give_up_after: file.delivery.give_up_after.0,
        },
        health,
        http,
        sources,
        watches,
        notifiers,
    })
}

fn fetch(f: &FetchConfig) -> Result<FetchSettings, Invalid> {
    let problem = if f.concurrency == 0 {
        Some("[fetch] concurrency must be at least 1")
    } else if f.per_host == 0 {
        Some("[fetch] per_host must be at least 1")
    } else if f.max_pages_per_poll == 0 {
        Some("[fetch] max_pages_per_poll must be at least 1")
    } else if f.max_body.0 == 0 {
        Some("[fetch] max_body must be greater than zero")
    } else {
        None
    };
    if let Some(msg) = problem {
        return Err((None, msg.to_string()));
    }
    header_value(&f.user_agent, "user_agent")?;
    Ok(FetchSettings {
        timeout: f.timeout.0,
        connect_timeout: f.connect_timeout.0,
        max_body: f.max_body.0,
        concurrency: f.concurrency,
        per_host: f.per_host,
        max_hint: f.max_hint.0,
        max_backoff: f.max_backoff.0,
        host_delay: f.host_delay.0,
        max_redirects: f.max_redirects,
        max_pages_per_poll: f.max_pages_per_poll,
        user_agent: f.user_agent.get_ref().clone(),
        allow_private: f.allow_private,
    })
}

/// How old an item on a source's first poll may be and still alert, by default.
const DEFAULT_BACKLOG: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `backlog = "24h"`, or `"all"` (`None`: every item of a first poll alerts).
fn parse_backlog(b: &Spanned<String>) -> Result<Option<std::time::Duration>, Invalid> {
    if b.get_ref().trim().eq_ignore_ascii_case("all") {
        return Ok(None);
    }
    crate::units::parse_duration(b.get_ref())
        .map(Some)
        .map_err(|e| at(b, format!("backlog: {e}, or \"all\"")))
}

/// Feeds, then pages, in file order; names are unique across both.
fn sources(
    feeds: &[FeedConfig],
    pages: &[PageConfig],
    backlog: Option<std::time::Duration>,
) -> Result<Vec<Source>, Invalid> {
    let own = |b: &Option<Spanned<String>>| b.as_ref().map_or(Ok(backlog), parse_backlog);
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(feeds.len() + pages.len());
    for feed in feeds {
        unique(&mut names, &feed.name, "source")?;
        out.push(Source {
            name: feed.name.get_ref().clone(),
            url: http_url(&feed.url)?,
            interval: feed.interval.0,
            tags: feed.tags.clone(),
            backlog: own(&feed.backlog)?,
            kind: SourceKind::Feed {
                full_text: feed.full_text,
            },
        });
    }
    for page in pages {
        unique(&mut names, &page.name, "source")?;
        let url = http_url(&page.url)?;
        if let Some(select) = &page.select {
            scraper::Selector::parse(select.get_ref()).map_err(|e| {
                at(
                    select,
                    format!("invalid CSS selector \"{}\": {e}", select.get_ref()),
                )
            })?;
        }
        out.push(Source {
            name: page.name.get_ref().clone(),
            url,
            interval: page.interval.0,
            tags: page.tags.clone(),
            backlog: own(&page.backlog)?,
            kind: SourceKind::Page {
                mode: page.mode,
                select: page.select.as_ref().map(|s| s.get_ref().clone()),
            },
        });
    }
    Ok(out)
}

fn notifiers(tables: &[super::schema::NotifierConfig]) -> Result<Vec<NotifierSettings>, Invalid> {
    let mut names = HashSet::new();
    tables
        .iter()
        .map(|n| {
            unique(&mut names, &n.name, "notifier")?;
            notifier::settings(n)
        })
        .collect()
}

/// A value sent as an HTTP header: one line of visible characters (a CR or LF would let it
/// write headers of its own).
pub(super) fn header_value(value: &Spanned<String>, key: &str) -> Result<(), Invalid> {
    reqwest::header::HeaderValue::from_str(value.get_ref())
        .map(|_| ())
        .map_err(|_| {
            at(
                value,
                format!("{key} must be one line without control characters"),
            )
        })
}

/// `[store]`; `base` is the config file's folder, for a relative `sslrootcert`.
fn store(store: &StoreConfig, base: &Path) -> Result<StoreSettings, Invalid> {
    let path = store
        .path
        .as_ref()
        .map_or_else(|| PathBuf::from("feedwatch.db"), |p| p.get_ref().clone());
    let Some(url) = &store.url else {
        if let Some(key) = store.password_env.as_ref().or(store.node.as_ref()) {
            return Err(at(
                key,
                "[store] password_env and node are for PostgreSQL: set [store] url too".into(),
            ));
        }
        return Ok(StoreSettings {
            path,
            postgres: None,
            keep: store.keep.0,
        });
    };
    if let Some(p) = &store.path {
        return Err(at(
            p,
            "[store] path (SQLite) and url (PostgreSQL) are both set: keep the one to use".into(),
        ));
    }
    let text = url.get_ref();
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err(at(
            url,
            format!(
                "[store] url \"{text}\" is not a postgres:// URL (postgres://user@host:5432/dbname)"
            ),
        ));
    }
    let (address, tls) = super::postgres::split_tls(text, base)
        .map_err(|e| at(url, format!("[store] url does not parse: {e}")))?;
    if let Err(e) = address.parse::<tokio_postgres::Config>() {
        let e = crate::text::error_chain(&e);
        return Err(at(url, format!("[store] url does not parse: {e}")));
    }
    let node = store.node.as_ref().map(|n| n.get_ref().trim().to_string());
    if let (Some(n), Some(name)) = (&store.node, &node)
        && (name.is_empty() || name.len() > 200)
    {
        return Err(at(
            n,
            "[store] node must be a name of 1 to 200 characters".into(),
        ));
    }
    Ok(StoreSettings {
        path,
        postgres: Some(PostgresSettings {
            url: address,
            tls,
            password_env: store.password_env.as_ref().map(|v| v.get_ref().clone()),
            node,
        }),
        keep: store.keep.0,
    })
}

fn http(http: &HttpConfig) -> Result<HttpSettings, Invalid> {
    let token_env = http.token_env.as_ref().map(|v| v.get_ref().clone());
    let Some(listen) = &http.listen else {
        return Ok(HttpSettings {
            listen: None,
            token_env,
        });
    };
    let addr: std::net::SocketAddr = listen.get_ref().parse().map_err(|_| {
        at(
            listen,
            format!(
                "[http] listen \"{}\" is not an address:port such as 127.0.0.1:9188",
                listen.get_ref()
            ),
        )
    })?;
    if !addr.ip().is_loopback() && token_env.is_none() {
        return Err(at(
            listen,
            format!(
                "[http] listen \"{addr}\" is reachable from other machines: set [http] token_env \
                 to a variable holding a token the status page will ask for, or listen on 127.0.0.1"
            ),
        ));
    }
    Ok(HttpSettings {
        listen: Some(addr),
        token_env,
    })
}

fn watches(
    tables: &[WatchConfig],
    sources: &[Source],
    notifiers: &[String],
) -> Result<Vec<WatchSettings>, Invalid> {
    let mut names = HashSet::new();
    tables
        .iter()
        .map(|w| {
            unique(&mut names, &w.name, "watch")?;
            watch(w, sources, notifiers)
        })
        .collect()
}

fn watch(
    w: &WatchConfig,
    sources: &[Source],
    notifiers: &[String],
) -> Result<WatchSettings, Invalid> {
    let name = w.name.get_ref();
    if w.terms.is_empty() && w.query.is_none() {
        return Err(at(
            &w.name,
            format!("watch \"{name}\" has neither `terms` nor `query`"),
        ));
    }
    for term in w.terms.iter().chain(&w.exclude) {
        crate::matcher::check_term(term.get_ref()).map_err(|e| at(term, e))?;
    }
    if let Some(q) = &w.query {
        check_query(name, q)?;
    }
    for s in &w.sources {
        if !sources.iter().any(|known| known.name == *s.get_ref()) {
            return Err(at(
                s,
                format!(
                    "watch \"{name}\" names source \"{}\", but no [[feed]] or [[page]] has that name",
                    s.get_ref()
                ),
            ));
        }
    }
    let values = |list: &[Spanned<String>]| list.iter().map(|t| t.get_ref().clone()).collect();
    Ok(WatchSettings {
        spec: WatchSpec {
            name: name.clone(),
            terms: values(&w.terms),
            exclude: values(&w.exclude),
            query: w.query.as_ref().map(|q| q.get_ref().clone()),
            sources: values(&w.sources),
            tags: w.tags.clone(),
        },
        notify: routes(w.notify.as_ref(), notifiers, &format!("watch \"{name}\""))?,
    })
}

/// A query error is reported at its own character when the string has no escapes
/// (its span in the file is the text plus two delimiters), else at the string's start.
fn check_query(watch: &str, q: &Spanned<String>) -> Result<(), Invalid> {
    let Err(e) = crate::matcher::parse_query(q.get_ref()) else {
        return Ok(());
    };
    let span = q.span();
    let text = q.get_ref();
    let start = if span.len() == text.len() + 2 {
        span.start
            + 1
            + text
                .char_indices()
                .nth(e.pos)
                .map_or(text.len(), |(i, _)| i)
    } else {
        span.start
    };
    Err((Some(start..start), format!("watch \"{watch}\": query {e}")))
}
