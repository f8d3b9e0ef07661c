//! Webhook notifier: one `POST` per message (an alert, or a digest) with an
//! `Idempotency-Key`, in the configured format or template, signed with HMAC-SHA256 when a
//! secret is configured, with optional extra headers whose values may name environment
//! variables (`${TOKEN}`).

use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use sha2::Sha256;
use url::Url;

use super::format::webhook_body;
use super::{DeliveryError, Secret};
use crate::config::{WebhookFormat, WebhookSettings};
use crate::model::Message;
use crate::template::Templates;

pub struct WebhookNotifier {
    client: reqwest::Client,
    /// With `${VAR}` placeholders still in it (a Telegram token lives in the URL).
    url: String,
    format: WebhookFormat,
    /// ntfy topic or Telegram chat id.
    extra: Option<String>,
    headers: Vec<(String, String)>,
    templates: Option<Templates>,
    secret: Option<Secret>,
}

/// `sha256=<hex HMAC-SHA256 of the body>`, the `X-Feedwatch-Signature` value.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Replaces `${VAR}` with the variable's value; a missing variable is a transient error
/// (set it and restart: the alert waits).
pub(crate) fn expand_env(s: &str) -> Result<String, DeliveryError> {
    crate::text::expand_placeholders(
        s,
        |var| Secret::from_env(var).get().map(str::to_string),
        || DeliveryError::permanent(format!("unclosed ${{ in \"{s}\"")),
    )
}

impl WebhookNotifier {
    /// A notifier posting through `client` as `settings` say.
    pub fn new(
        client: reqwest::Client,
        settings: &WebhookSettings,
        templates: Option<Templates>,
        secret: Option<Secret>,
    ) -> Self {
        WebhookNotifier {
            client,
            url: settings.url.clone(),
            format: settings.format,
            extra: settings.extra.clone(),
            headers: settings.headers.clone(),
            templates,
            secret,
        }
    }

    pub async fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        let (body, content_type) = match self.templates.as_ref().filter(|t| t.has("body")) {
            Some(t) => (
                t.render("body", msg)
                    .map_err(DeliveryError::permanent)?
                    .into_bytes(),
                "application/json",
            ),
            None => {
                let value = webhook_body(self.format, msg, self.extra.as_deref());
                (
                    serde_json::to_vec(&value)
                        .map_err(|e| DeliveryError::permanent(e.to_string()))?,
                    "application/json",
                )
            }
        };
        let mut url: Url = expand_env(&self.url)?
            .parse()
            .map_err(|e| DeliveryError::permanent(format!("invalid webhook URL: {e}")))?;
        if self.format == WebhookFormat::Ntfy {
            // ntfy takes JSON with the topic at its root URL.
            url.set_path("/");
        }
        let shown = redact(&url);
        let mut req = self
            .client
            .post(url)
            .header(CONTENT_TYPE, content_type)
            .header("Idempotency-Key", msg.id);
        for (name, value) in &self.headers {
            req = req.header(name.as_str(), expand_env(value)?);
        }
        if let Some(secret) = &self.secret {
            req = req.header("X-Feedwatch-Signature", signature(secret.get()?, &body));
        }
        let resp = req.body(body).send().await.map_err(|e| {
            DeliveryError::transient(format!(
                "POST {shown}: {}",
                crate::text::error_chain(&e).replace(&self.url, &shown)
            ))
        })?;
        let status = resp.status();
        let retry_after = crate::retry::retry_after(resp.headers());
        // Only a short excerpt of the answer is kept: enough to tell what the receiver said.
        let excerpt = read_excerpt(resp).await;
        let answer = format!(
            "HTTP {}{}",
            status.as_u16(),
            if excerpt.is_empty() {
                String::new()
            } else {
                format!(": {excerpt}")
            }
        );
        if status.is_success() {
            return Ok(answer);
        }
        let transient = crate::retry::http_status_is_transient(status.as_u16());
        Err(DeliveryError {
            message: format!("POST {shown}: {answer}"),
            transient,
            retry_after,
        })
    }
}

/// The URL without secrets for logs and errors: path segments that look like tokens hidden.
fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let path: Vec<String> = url
        .path_segments()
        .map(|s| {
            s.map(|seg| {
                if seg.len() > 20 || seg.contains(':') {
                    "REDACTED".to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect()
        })
        .unwrap_or_default();
    shown.set_path(&path.join("/"));
    shown.set_query(None);
    shown.to_string()
}

async fn read_excerpt(mut resp: reqwest::Response) -> String {
    const MAX: usize = 200;
    let mut buf = Vec::new();
    while buf.len() < MAX {
        match resp.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&buf[..buf.len().min(MAX)]);
    crate::text::single_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn env_expansion_and_redaction() {
        // SAFETY of the test: PATH is always set in the test environment.
        let path = std::env::var("PATH").unwrap();
        assert_eq!(expand_env("a${PATH}b").unwrap(), format!("a{path}b"));
        assert!(
            expand_env("${FEEDWATCH_SURELY_UNSET_VAR}")
                .unwrap_err()
                .transient
        );
        let url: Url =
            "https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ/sendMessage?x=1"
                .parse()
                .unwrap();
        assert_eq!(
            redact(&url),
            "https://api.telegram.org/REDACTED/sendMessage"
        );
    }
}
