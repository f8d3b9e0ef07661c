//! `[[notifier]]` tables: each kind checks its own keys (`email`, `webhook`), and every kind
//! shares templates and sending rules (`rules`). One flat table serves every kind, so a key
//! that belongs to another kind is reported at its own line and column.

mod email;
mod rules;
mod webhook;

use crate::config::checks::{Invalid, at};
use crate::config::schema::{NotifierConfig, NotifierKind};
use crate::template::Templates;

pub use email::{EmailSettings, Security, SmtpTarget};
pub use rules::{Digest, QuietHours, SendRules, parse_digest, parse_quiet};
pub use webhook::{WebhookFormat, WebhookSettings};

/// A configured notifier.
#[derive(Debug)]
pub struct NotifierSettings {
    /// The name watches route to.
    pub name: String,
    /// How it delivers.
    pub channel: Channel,
    /// When it may send.
    pub rules: SendRules,
    /// Compiled and trial-rendered user templates, if the table gives any.
    pub templates: Option<Templates>,
}

/// How a notifier delivers.
#[derive(Debug, Clone)]
pub enum Channel {
    /// By SMTP.
    Email(EmailSettings),
    /// By HTTP POST.
    Webhook(WebhookSettings),
    /// One line per alert on stdout.
    Console,
}

impl Channel {
    /// `email`, `webhook` or `console`, as the config writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Email(_) => "email",
            Channel::Webhook(_) => "webhook",
            Channel::Console => "console",
        }
    }
}

/// Checks a notifier table and types its values.
pub(super) fn settings(n: &NotifierConfig) -> Result<NotifierSettings, Invalid> {
    let name = n.name.get_ref();
    let kind = *n.kind.get_ref();
    foreign_keys(n, kind)?;
    let missing = |key: &str| {
        (
            Some(n.kind.span()),
            format!(
                "notifier \"{name}\" of type {} needs `{key}`",
                kind.as_str()
            ),
        )
    };
    let channel = match kind {
        NotifierKind::Email => Channel::Email(email::settings(n, missing)?),
        NotifierKind::Webhook => Channel::Webhook(webhook::settings(n, missing)?),
        NotifierKind::Console => Channel::Console,
    };
    Ok(NotifierSettings {
        name: name.clone(),
        channel,
        templates: templates(n)?,
        rules: rules::send_rules(n)?,
    })
}

/// Keys that belong to another notifier kind are mistakes, not silently ignored.
fn foreign_keys(n: &NotifierConfig, kind: NotifierKind) -> Result<(), Invalid> {
    let own: &[&str] = match kind {
        NotifierKind::Email => email::KEYS,
        NotifierKind::Webhook => webhook::KEYS,
        NotifierKind::Console => &[],
    };
    let given = [
        ("smtp", n.smtp.as_ref().map(|s| s.span())),
        ("password_env", n.password_env.as_ref().map(|s| s.span())),
        ("insecure_auth", n.insecure_auth.as_ref().map(|s| s.span())),
        ("from", n.from.as_ref().map(|s| s.span())),
        ("to", n.to.as_ref().map(|s| s.span())),
        (
            "subject_template",
            n.subject_template.as_ref().map(|s| s.span()),
        ),
        ("text_template", n.text_template.as_ref().map(|s| s.span())),
        ("html_template", n.html_template.as_ref().map(|s| s.span())),
        ("url", n.url.as_ref().map(|s| s.span())),
        ("secret_env", n.secret_env.as_ref().map(|s| s.span())),
        ("format", n.format.as_ref().map(|s| s.span())),
        ("chat_id", n.chat_id.as_ref().map(|s| s.span())),
        ("headers", n.headers.as_ref().map(|s| s.span())),
        ("body_template", n.body_template.as_ref().map(|s| s.span())),
    ];
    let foreign = given
        .into_iter()
        .find(|(key, span)| span.is_some() && !own.contains(key));
    match foreign {
        Some((key, Some(span))) => Err((
            Some(span),
            format!(
                "key `{key}` does not apply to notifier \"{}\" of type {}",
                n.name.get_ref(),
                kind.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// The user templates of a table, compiled and trial-rendered (a typo is a config error
/// at its own line, not a lost alert).
fn templates(n: &NotifierConfig) -> Result<Option<Templates>, Invalid> {
    let slots = [
        ("subject", &n.subject_template, "subject_template"),
        ("text", &n.text_template, "text_template"),
        ("html", &n.html_template, "html_template"),
        ("body", &n.body_template, "body_template"),
    ];
    let mut templates = None;
    for (slot, template, key) in slots {
        if let Some(t) = template {
            templates
                .get_or_insert_with(Templates::new)
                .add(slot, t.get_ref().clone())
                .map_err(|e| at(t, format!("notifier \"{}\" {key}: {e}", n.name.get_ref())))?;
        }
    }
    Ok(templates)
}
