//! Webhook notifier: one JSON `POST` per alert with an `Idempotency-Key`, signed with
//! HMAC-SHA256 when a secret is configured.

use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use sha2::Sha256;
use url::Url;

use super::{DeliveryError, Secret};
use crate::model::Alert;

pub struct WebhookNotifier {
    client: reqwest::Client,
    url: Url,
    secret: Option<Secret>,
}

/// `sha256=<hex HMAC-SHA256 of the body>`, the `X-Feedwatch-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl WebhookNotifier {
    pub fn new(client: reqwest::Client, url: Url, secret: Option<Secret>) -> Self {
        WebhookNotifier {
            client,
            url,
            secret,
        }
    }

    pub async fn send(&self, alert: &Alert) -> Result<String, DeliveryError> {
        let body =
            serde_json::to_vec(alert).map_err(|e| DeliveryError::permanent(e.to_string()))?;
        let mut req = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &alert.id);
        if let Some(secret) = &self.secret {
            req = req.header("X-Feedwatch-Signature", signature(secret.get()?, &body));
        }
        let resp = req.body(body).send().await.map_err(|e| {
            DeliveryError::transient(format!(
                "POST {}: {}",
                self.url,
                crate::fetch::error_chain(&e)
            ))
        })?;
        let status = resp.status();
        let retry_after = crate::fetch::retry_after(resp.headers());
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
        let transient = matches!(status.as_u16(), 408 | 429) || status.is_server_error();
        Err(DeliveryError {
            message: format!("POST {}: {answer}", self.url),
            transient,
            retry_after,
        })
    }
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
    super::render::single_line(&text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
