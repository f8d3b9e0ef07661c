//! Email notifier: lettre's async SMTP transport (`smtp://`, `smtps://`, `smtp+starttls://`),
//! one `multipart/alternative` message per alert.

use std::time::Duration;

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Message_, Tokio1Executor};

use super::{DeliveryError, Secret, render};
use crate::config::{EmailSettings, Security};
use crate::model::Message;
use crate::template::Templates;

pub struct EmailNotifier {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// Checked at send time so a missing secret delays alerts instead of losing them.
    password: Option<Secret>,
    templates: Option<Templates>,
    /// The notifier's time zone, for the times its messages show.
    tz: Option<chrono_tz::Tz>,
}

impl EmailNotifier {
    /// A transport for `settings`; connections open at send time.
    pub fn new(
        settings: &EmailSettings,
        password: Option<Secret>,
        timeout: Duration,
        templates: Option<Templates>,
        tz: Option<chrono_tz::Tz>,
    ) -> Result<EmailNotifier, String> {
        let target = &settings.smtp;
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
            from: settings.from.clone(),
            to: settings.to.clone(),
            password,
            templates,
            tz,
        })
    }

    fn password_var(&self) -> &str {
        self.password.as_ref().map_or("", |p| p.var())
    }

    /// Sends one message: one `multipart/alternative` email to every recipient.
    pub async fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        if let Some(p) = &self.password {
            p.get()?;
        }
        let message = build_message(msg, &self.from, &self.to, self.templates.as_ref(), self.tz)
            .map_err(DeliveryError::permanent)?;
        match self.transport.send(message).await {
            Ok(resp) => Ok(format!(
                "SMTP {} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => {
                let mut message = format!("SMTP: {}", crate::text::error_chain(&e));
                // The password never shows, whatever the server or the library echo.
                if let Some(pw) = self.password.as_ref().and_then(|p| p.get().ok())
                    && !pw.is_empty()
                {
                    message = message.replace(pw, &format!("${{{}}}", self.password_var()));
                }
                // A reply code decides (4xx transient, 5xx final); without one (timeouts,
                // connection errors) it is worth a retry.
                let code = e.status().map(u16::from);
                if code.is_some_and(crate::retry::smtp_code_refuses_credentials) {
                    return Err(DeliveryError::credentials(message));
                }
                let transient = code.is_none_or(crate::retry::smtp_code_is_transient);
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
pub(crate) fn build_message(
    msg: &Message<'_>,
    from: &Mailbox,
    to: &[Mailbox],
    templates: Option<&Templates>,
    tz: Option<chrono_tz::Tz>,
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
            .map(|a| render::text_body(a, tz))
            .collect::<Vec<_>>()
            .join("\n----\n\n")
    })?;
    let html = pick("html", &|| render::html_document(msg, tz))?;
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
