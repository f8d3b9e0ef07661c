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
    /// Every variable the URL, headers and secret name (their values never show).
    env_vars: Vec<String>,
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
            env_vars: settings.env_vars(),
            templates,
            secret,
        }
    }

    /// Posts one message; what it returns or fails with never shows a value that came from
    /// the environment, nor the URL's userinfo.
    pub async fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        let secrets = self.secrets();
        match self.post(msg).await {
            Ok(answer) => Ok(redact(&answer, &secrets)),
            Err(mut e) => {
                e.message = redact(&e.message, &secrets);
                Err(e)
            }
        }
    }

    /// Every value this notifier takes from the environment, with how it is shown instead,
    /// and the userinfo of its URL.
    fn secrets(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .env_vars
            .iter()
            .filter_map(|var| {
                let value = Secret::from_env(var).get().ok()?.to_string();
                Some((value, format!("${{{var}}}")))
            })
            .collect();
        if let Ok(url) = expand_env(&self.url).unwrap_or_default().parse::<Url>() {
            if let Some(pw) = url.password().filter(|p| !p.is_empty()) {
                out.push((pw.to_string(), "REDACTED".into()));
            }
            if !url.username().is_empty() {
                out.push((url.username().to_string(), "REDACTED".into()));
            }
        }
        // Longest first, so a value that contains another is hidden whole.
        out.sort_by_key(|(v, _)| std::cmp::Reverse(v.len()));
        out
    }

    async fn post(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
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
        let shown = url.to_string();
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
            DeliveryError::transient(format!("POST {shown}: {}", crate::text::error_chain(&e)))
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
        let message = format!("POST {shown}: {answer}");
        if crate::retry::http_status_refuses_credentials(status.as_u16()) {
            return Err(DeliveryError::credentials(message));
        }
        Err(DeliveryError {
            message,
            transient: crate::retry::http_status_is_transient(status.as_u16()),
            retry_after,
            credentials: false,
        })
    }
}

/// `text` with every secret value replaced by how it is shown (`${TOKEN}`), percent-encoded
/// forms included (a token in a URL path or query may be written either way).
fn redact(text: &str, secrets: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (value, shown) in secrets.iter().filter(|(v, _)| !v.is_empty()) {
        out = out.replace(value.as_str(), shown);
        let encoded =
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        if encoded != *value {
            out = out.replace(&encoded, shown);
        }
    }
    out
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
        let secrets = [
            ("12:AB/c d".to_string(), "${TOKEN}".to_string()),
            ("s3".to_string(), "${S}".to_string()),
        ];
        assert_eq!(
            redact(
                "POST https://t.org/bot12:AB/c d/x and 12%3AAB%2Fc%20d, s3",
                &secrets
            ),
            "POST https://t.org/bot${TOKEN}/x and ${TOKEN}, ${S}"
        );
    }
}
