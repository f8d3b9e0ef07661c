//! Email notifier: lettre's async SMTP transport (`smtp://`, `smtps://`, `smtp+starttls://`),
//! one `multipart/alternative` message per alert.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Message_, Tokio1Executor};

use super::message::Message;
use super::template::Templates;
use super::{DeliveryError, Secret, render};

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: plain text (a local relay).
    None,
    /// `smtps://`: TLS from the first byte (port 465).
    Tls,
    /// `smtp+starttls://`: upgrade with STARTTLS, required (port 587).
    StartTls,
}

/// A parsed `smtp…://[user@]host[:port]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    pub security: Security,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
}

impl SmtpTarget {
    pub fn parse(s: &str) -> Result<SmtpTarget, String> {
        let bad = |why: &str| format!("invalid smtp URL \"{s}\": {why}");
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (Security::None, 25),
            "smtps" => (Security::Tls, 465),
            "smtp+starttls" => (Security::StartTls, 587),
            _ => return Err(bad("use smtp://, smtps:// or smtp+starttls://")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let user = (!url.username().is_empty()).then(|| {
            // The user is often an address itself (alerts@example.org@smtp.example.org).
            percent_decode(url.username())
        });
        Ok(SmtpTarget {
            security,
            host: host.trim_matches(['[', ']']).to_string(),
            port: url.port().unwrap_or(default_port),
            user,
        })
    }
}

/// Decodes `%XX` escapes only: a URL's userinfo is not form data, so `+` stays a plus
/// (`alerts+feeds@example.org` is one address).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// Checked at send time so a missing secret delays alerts instead of losing them.
    password: Option<Secret>,
    templates: Option<Templates>,
}

impl EmailNotifier {
    pub fn new(
        target: &SmtpTarget,
        password: Option<Secret>,
        from: &str,
        to: &[String],
        timeout: Duration,
        templates: Option<Templates>,
    ) -> Result<EmailNotifier, String> {
        let tls = || TlsParameters::new(target.host.clone()).map_err(|e| e.to_string());
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(target.host.clone())
                .port(target.port)
                .timeout(Some(timeout));
        builder = match target.security {
            Security::None => builder.tls(Tls::None),
            Security::Tls => builder.tls(Tls::Wrapper(tls()?)),
            Security::StartTls => builder.tls(Tls::Required(tls()?)),
        };
        if let (Some(user), Some(pw)) = (&target.user, password.as_ref().and_then(|p| p.get().ok()))
        {
            builder = builder.credentials(Credentials::new(user.clone(), pw.to_string()));
        }
        Ok(EmailNotifier {
            transport: builder.build(),
            from: from
                .parse()
                .map_err(|e| format!("invalid from address: {e}"))?,
            to: to
                .iter()
                .map(|t| {
                    t.parse()
                        .map_err(|e| format!("invalid to address \"{t}\": {e}"))
                })
                .collect::<Result<_, String>>()?,
            password,
            templates,
        })
    }

    pub async fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        if let Some(p) = &self.password {
            p.get()?;
        }
        let message = build_message(msg, &self.from, &self.to, self.templates.as_ref())
            .map_err(DeliveryError::permanent)?;
        match self.transport.send(message).await {
            Ok(resp) => Ok(format!(
                "SMTP {} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => {
                let message = format!("SMTP: {}", crate::text::error_chain(&e));
                // A reply code decides (4xx transient, 5xx final); without one (timeouts,
                // connection errors) it is worth a retry.
                let transient = e
                    .status()
                    .is_none_or(|code| crate::retry::smtp_code_is_transient(code.into()));
                Err(if transient {
                    DeliveryError::transient(message)
                } else {
                    DeliveryError::permanent(message)
                })
            }
        }
    }
}

/// `X-Feedwatch-Alert: <id>`: receivers and filters can drop repeats by it.
#[derive(Clone)]
struct AlertIdHeader(String);

impl Header for AlertIdHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Feedwatch-Alert")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AlertIdHeader(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The email for one message: subject `[feedwatch] <watch>: <title>` (or the digest's),
/// plain text and HTML, each from its template when one is configured.
pub fn build_message(
    msg: &Message<'_>,
    from: &Mailbox,
    to: &[Mailbox],
    templates: Option<&Templates>,
) -> Result<Message_, String> {
    let pick = |name: &str, default: &dyn Fn() -> String| -> Result<String, String> {
        match templates.filter(|t| t.has(name)) {
            Some(t) => t.render(name, msg),
            None => Ok(default()),
        }
    };
    let subject = pick("subject", &|| super::message::header(msg))?;
    let text = pick("text", &|| {
        msg.alerts
            .iter()
            .map(render::text_body)
            .collect::<Vec<_>>()
            .join("\n----\n\n")
    })?;
    let html = pick("html", &|| render::html_document(msg))?;
    let id = crate::text::single_line(msg.id).replace(' ', "");
    let mut builder = Message_::builder()
        .from(from.clone())
        .subject(crate::text::single_line(&subject))
        .message_id(Some(format!("<{id}@feedwatch>")))
        .header(AlertIdHeader(id));
    for rcpt in to {
        builder = builder.to(rcpt.clone());
    }
    builder
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("cannot build the message: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls() {
        let t =
            SmtpTarget::parse("smtp+starttls://alerts@example.org@smtp.example.org:587").unwrap();
        assert_eq!(t.security, Security::StartTls);
        assert_eq!(t.host, "smtp.example.org");
        assert_eq!(t.port, 587);
        assert_eq!(t.user.as_deref(), Some("alerts@example.org"));
        let t = SmtpTarget::parse("smtps://mail.example.org").unwrap();
        assert_eq!((t.security, t.port, t.user), (Security::Tls, 465, None));
        assert_eq!(
            SmtpTarget::parse("smtp://127.0.0.1:2525").unwrap().port,
            2525
        );
        assert!(SmtpTarget::parse("http://example.org").is_err());
        assert!(SmtpTarget::parse("smtp://").is_err());
    }

    #[test]
    fn smtp_user_keeps_plus_and_decodes_escapes() {
        let t = SmtpTarget::parse("smtp://alerts+feeds@example.org@127.0.0.1:25").unwrap();
        assert_eq!(t.user.as_deref(), Some("alerts+feeds@example.org"));
        let t = SmtpTarget::parse("smtp://a%20b%40example.org@127.0.0.1:25").unwrap();
        assert_eq!(t.user.as_deref(), Some("a b@example.org"));
    }
}
