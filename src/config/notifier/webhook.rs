//! A `webhook` notifier's table: the URL (which may name `${VAR}`s), its format and headers.

use serde::Deserialize;

use crate::config::checks::{Invalid, at, env_name, http_url};
use crate::config::schema::NotifierConfig;

/// The keys that only a webhook notifier takes.
pub(super) const KEYS: &[&str] = &[
    "url",
    "secret_env",
    "format",
    "chat_id",
    "headers",
    "body_template",
];

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    /// The alert itself as JSON (the body README documents).
    Json,
    /// A Slack incoming webhook.
    Slack,
    /// A Discord webhook (embeds).
    Discord,
    /// An ntfy topic.
    Ntfy,
    /// A Telegram bot's `sendMessage`.
    Telegram,
}

/// Where and how a webhook notifier posts.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// With its `${VAR}` placeholders, filled at send time (a Telegram token lives in the URL).
    pub url: String,
    /// The variable that holds the HMAC signing secret.
    pub secret_env: Option<String>,
    /// The body's shape.
    pub format: WebhookFormat,
    /// What the format needs besides the URL: ntfy's topic, Telegram's chat id.
    pub extra: Option<String>,
    /// Extra request headers; values may name `${VAR}`s.
    pub headers: Vec<(String, String)>,
}

impl WebhookSettings {
    /// Every environment variable this webhook reads: the `${VAR}`s of its URL and header
    /// values, and its signing secret.
    pub fn env_vars(&self) -> Vec<String> {
        let templates = std::iter::once(&self.url).chain(self.headers.iter().map(|(_, v)| v));
        templates
            .flat_map(|t| crate::text::placeholder_names(t))
            .chain(self.secret_env.clone())
            .collect()
    }
}

/// Checks a webhook notifier's table and types its values.
pub(super) fn settings(
    n: &NotifierConfig,
    missing: impl Fn(&str) -> Invalid,
) -> Result<WebhookSettings, Invalid> {
    let url = n.url.as_ref().ok_or_else(|| missing("url"))?;
    // `${VAR}` placeholders are filled at send time; the rest must be a URL now.
    let filled = crate::text::expand_placeholders(
        url.get_ref(),
        |_| Ok("x".into()),
        || {
            at(
                url,
                format!("unclosed `${{` in \"{}\"; write ${{VAR}}", url.get_ref()),
            )
        },
    )?;
    http_url(&toml::Spanned::new(url.span(), filled))?;
    let format = n.format.as_ref().map(|f| *f.get_ref()).unwrap_or_default();
    let extra = match format {
        // ntfy: the topic is the URL's last path segment.
        WebhookFormat::Ntfy => url
            .get_ref()
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .map(str::to_string),
        WebhookFormat::Telegram => Some(
            n.chat_id
                .as_ref()
                .ok_or_else(|| missing("chat_id"))?
                .get_ref()
                .clone(),
        ),
        _ => None,
    };
    let mut headers = Vec::new();
    if let Some(table) = &n.headers {
        for (name, value) in table.get_ref() {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(at(
                    table,
                    format!("\"{name}\" is not a valid HTTP header name"),
                ));
            }
            // `${VAR}`s are filled at send time; the text around them must already be a
            // header value, and every `${` must close.
            let filled = crate::text::expand_placeholders(
                value,
                |_| Ok("x".into()),
                || {
                    at(
                        table,
                        format!("unclosed `${{` in header \"{name}\"; write ${{VAR}}"),
                    )
                },
            )?;
            if reqwest::header::HeaderValue::from_str(&filled).is_err() {
                return Err(at(
                    table,
                    format!("header \"{name}\" must be one line without control characters"),
                ));
            }
            headers.push((name.clone(), value.clone()));
        }
    }
    Ok(WebhookSettings {
        url: url.get_ref().clone(),
        secret_env: n.secret_env.as_ref().map(env_name).transpose()?,
        format,
        extra,
        headers,
    })
}
