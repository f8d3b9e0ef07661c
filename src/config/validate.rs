//! Checks that serde cannot express: unique names, routes to known notifiers, URLs,
//! selectors, and the keys each notifier type needs. Each error carries the span it is about.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::{Config, NotifierConfig, NotifierKind};

pub(super) type Invalid = (Option<Range<usize>>, String);

pub(super) fn validate(config: &Config) -> Result<(), Invalid> {
    check_fetch(config)?;
    let mut source_names = HashSet::new();
    for feed in &config.feeds {
        unique(&mut source_names, &feed.name, "source")?;
        check_http_url(&feed.url)?;
    }
    for page in &config.pages {
        unique(&mut source_names, &page.name, "source")?;
        check_http_url(&page.url)?;
        if let Some(select) = &page.select {
            scraper::Selector::parse(select.get_ref()).map_err(|e| {
                at(
                    select,
                    format!("invalid CSS selector \"{}\": {e}", select.get_ref()),
                )
            })?;
        }
    }

    let mut notifier_names = HashSet::new();
    for notifier in &config.notifiers {
        unique(&mut notifier_names, &notifier.name, "notifier")?;
        check_notifier(notifier)?;
    }

    if let Some(listen) = &config.http.listen
        && listen.get_ref().parse::<std::net::SocketAddr>().is_err()
    {
        return Err(at(
            listen,
            format!(
                "[http] listen \"{}\" is not an address:port such as 127.0.0.1:9188",
                listen.get_ref()
            ),
        ));
    }
    for route in config.health.notify.iter().flatten() {
        if !notifier_names.contains(route.get_ref().as_str()) {
            return Err(at(
                route,
                format!(
                    "[health] notifies \"{}\", but no [[notifier]] has that name",
                    route.get_ref()
                ),
            ));
        }
    }

    let mut watch_names = HashSet::new();
    for watch in &config.watches {
        unique(&mut watch_names, &watch.name, "watch")?;
        if watch.terms.is_empty() && watch.query.is_none() {
            return Err(at(
                &watch.name,
                format!(
                    "watch \"{}\" has neither `terms` nor `query`",
                    watch.name.get_ref()
                ),
            ));
        }
        for term in watch.terms.iter().chain(&watch.exclude) {
            crate::matcher::check_term(term.get_ref()).map_err(|e| at(term, e))?;
        }
        if let Some(q) = &watch.query {
            check_query(watch.name.get_ref(), q)?;
        }
        for s in &watch.sources {
            if !source_names.contains(s.get_ref().as_str()) {
                return Err(at(
                    s,
                    format!(
                        "watch \"{}\" names source \"{}\", but no [[feed]] or [[page]] has that name",
                        watch.name.get_ref(),
                        s.get_ref()
                    ),
                ));
            }
        }
        for route in watch.notify.iter().flatten() {
            if !notifier_names.contains(route.get_ref().as_str()) {
                return Err(at(
                    route,
                    format!(
                        "watch \"{}\" notifies \"{}\", but no [[notifier]] has that name",
                        watch.name.get_ref(),
                        route.get_ref()
                    ),
                ));
            }
        }
    }
    Ok(())
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

fn check_fetch(config: &Config) -> Result<(), Invalid> {
    let f = &config.fetch;
    let problem = if f.concurrency == 0 {
        Some("[fetch] concurrency must be at least 1")
    } else if f.per_host == 0 {
        Some("[fetch] per_host must be at least 1")
    } else if f.max_body.0 == 0 {
        Some("[fetch] max_body must be greater than zero")
    } else {
        None
    };
    match problem {
        Some(msg) => Err((None, msg.to_string())),
        None => Ok(()),
    }
}

fn at<T>(spanned: &Spanned<T>, message: String) -> Invalid {
    (Some(spanned.span()), message)
}

fn unique<'a>(
    seen: &mut HashSet<&'a str>,
    name: &'a Spanned<String>,
    what: &str,
) -> Result<(), Invalid> {
    let n = name.get_ref().as_str();
    if n.trim().is_empty() {
        return Err(at(name, format!("{what} name must not be empty")));
    }
    if !seen.insert(n) {
        return Err(at(name, format!("duplicate {what} name \"{n}\"")));
    }
    Ok(())
}

fn check_http_url(url: &Spanned<String>) -> Result<(), Invalid> {
    let parsed = url::Url::parse(url.get_ref())
        .map_err(|e| at(url, format!("invalid URL \"{}\": {e}", url.get_ref())))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(at(
            url,
            format!(
                "invalid URL \"{}\": must be http:// or https://",
                url.get_ref()
            ),
        ));
    }
    Ok(())
}

fn check_notifier(n: &NotifierConfig) -> Result<(), Invalid> {
    let name = n.name.get_ref();
    let kind = *n.kind.get_ref();
    let span = |o: Option<std::ops::Range<usize>>| o;
    // Keys that belong to another notifier type are mistakes, not silently ignored.
    let email_keys = [
        ("smtp", span(n.smtp.as_ref().map(|s| s.span()))),
        ("password_env", n.password_env.as_ref().map(|s| s.span())),
        ("from", n.from.as_ref().map(|s| s.span())),
        ("to", n.to.as_ref().map(|s| s.span())),
        (
            "subject_template",
            n.subject_template.as_ref().map(|s| s.span()),
        ),
        ("text_template", n.text_template.as_ref().map(|s| s.span())),
        ("html_template", n.html_template.as_ref().map(|s| s.span())),
    ];
    let webhook_keys = [
        ("url", n.url.as_ref().map(|s| s.span())),
        ("secret_env", n.secret_env.as_ref().map(|s| s.span())),
        ("format", n.format.as_ref().map(|s| s.span())),
        ("chat_id", n.chat_id.as_ref().map(|s| s.span())),
        ("headers", n.headers.as_ref().map(|s| s.span())),
        ("body_template", n.body_template.as_ref().map(|s| s.span())),
    ];
    let foreign: Vec<_> = match kind {
        NotifierKind::Email => webhook_keys.to_vec(),
        NotifierKind::Webhook => email_keys.to_vec(),
        NotifierKind::Console => email_keys.iter().chain(&webhook_keys).cloned().collect(),
    };
    if let Some((key, Some(span))) = foreign.into_iter().find(|(_, s)| s.is_some()) {
        return Err((
            Some(span),
            format!(
                "key `{key}` does not apply to notifier \"{name}\" of type {}",
                kind.as_str()
            ),
        ));
    }
    let missing = |key: &str| {
        (
            Some(n.kind.span()),
            format!(
                "notifier \"{name}\" of type {} needs `{key}`",
                kind.as_str()
            ),
        )
    };
    match kind {
        NotifierKind::Email => {
            let smtp = n.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
            crate::notify::email::SmtpTarget::parse(smtp.get_ref()).map_err(|e| at(smtp, e))?;
            let from = n.from.as_ref().ok_or_else(|| missing("from"))?;
            check_mailbox(from.get_ref()).map_err(|e| at(from, e))?;
            let to = n.to.as_ref().ok_or_else(|| missing("to"))?;
            if to.get_ref().is_empty() {
                return Err(at(
                    to,
                    format!("notifier \"{name}\" has no recipients in `to`"),
                ));
            }
            for addr in to.get_ref() {
                check_mailbox(addr).map_err(|e| at(to, e))?;
            }
            if let Some(env) = &n.password_env {
                check_env_name(env)?;
            }
        }
        NotifierKind::Webhook => {
            let url = n.url.as_ref().ok_or_else(|| missing("url"))?;
            // `${VAR}` placeholders are filled at send time; the rest must be a URL now.
            if crate::text::placeholders(url.get_ref()).is_err() {
                return Err(at(
                    url,
                    format!("unclosed `${{` in \"{}\"; write ${{VAR}}", url.get_ref()),
                ));
            }
            let filled = Spanned::new(url.span(), placeholder_free(url.get_ref()));
            check_http_url(&filled)?;
            if let Some(env) = &n.secret_env {
                check_env_name(env)?;
            }
            let format = n.format.as_ref().map(|f| *f.get_ref()).unwrap_or_default();
            if format == crate::notify::format::WebhookFormat::Telegram && n.chat_id.is_none() {
                return Err(missing("chat_id"));
            }
            for (header, _) in n.headers.iter().flat_map(|h| h.get_ref()) {
                if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                    let h = n.headers.as_ref().expect("iterating it");
                    return Err(at(
                        h,
                        format!("\"{header}\" is not a valid HTTP header name"),
                    ));
                }
            }
        }
        NotifierKind::Console => {}
    }
    for (key, t) in [
        ("subject_template", &n.subject_template),
        ("text_template", &n.text_template),
        ("html_template", &n.html_template),
        ("body_template", &n.body_template),
    ] {
        if let Some(t) = t {
            crate::notify::template::Templates::new(vec![(
                template_name(key),
                t.get_ref().clone(),
            )])
            .map_err(|e| at(t, format!("notifier \"{name}\" {key}: {e}")))?;
        }
    }
    if let Some(d) = &n.digest {
        crate::notify::schedule::parse_digest(d.get_ref()).map_err(|e| at(d, e))?;
    }
    if let Some(q) = &n.quiet_hours {
        crate::notify::schedule::parse_quiet(q.get_ref()).map_err(|e| at(q, e))?;
    }
    if let Some(m) = &n.max_per_hour
        && *m.get_ref() == 0
    {
        return Err(at(m, "max_per_hour must be at least 1".into()));
    }
    if let Some(tz) = &n.timezone {
        tz.get_ref().parse::<chrono_tz::Tz>().map_err(|_| {
            at(
                tz,
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as \"Europe/Madrid\"",
                    tz.get_ref()
                ),
            )
        })?;
    }
    Ok(())
}

/// The template slot a config key fills.
pub(crate) fn template_name(key: &str) -> &'static str {
    match key {
        "subject_template" => "subject",
        "text_template" => "text",
        "html_template" => "html",
        _ => "body",
    }
}

/// The URL with each `${VAR}` replaced by a harmless stand-in, for validation.
fn placeholder_free(url: &str) -> String {
    crate::text::expand_placeholders(url, |_| Ok::<_, ()>("x".into()), || ())
        .unwrap_or_else(|()| url.to_string())
}

fn check_mailbox(addr: &str) -> Result<(), String> {
    addr.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|e| format!("invalid email address \"{addr}\": {e}"))
}

fn check_env_name(env: &Spanned<String>) -> Result<(), Invalid> {
    let ok = !env.get_ref().is_empty()
        && env
            .get_ref()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(at(
            env,
            format!("\"{}\" is not an environment variable name", env.get_ref()),
        ))
    }
}
