//! Delivery of alerts: the notifiers (email, webhook, console), the message text they
//! share, and the dispatcher that drains the outbox.

pub(crate) mod console;
pub(crate) mod dispatcher;
pub(crate) mod email;
pub(crate) mod format;
pub(crate) mod message;
pub(crate) mod render;
pub(crate) mod schedule;
pub(crate) mod webhook;

use std::time::Duration;

pub(crate) use crate::model::Message;

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    /// Connection refused, timeout, HTTP 408/429/5xx, SMTP 4xx: retried with backoff.
    pub transient: bool,
    /// A receiver's `Retry-After`, honoured when longer than our own backoff.
    pub retry_after: Option<Duration>,
    /// The receiver refused our credentials (SMTP 535, HTTP 401): every alert would meet
    /// the same answer, so the notifier pauses instead of failing them one by one.
    pub credentials: bool,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            transient: true,
            retry_after: None,
            credentials: false,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            transient: false,
            retry_after: None,
            credentials: false,
        }
    }

    /// The receiver refused the notifier's credentials.
    pub fn credentials(message: impl Into<String>) -> Self {
        DeliveryError {
            credentials: true,
            ..DeliveryError::permanent(message)
        }
    }
}

/// One way of delivering alerts.
pub enum Notifier {
    Email(email::EmailNotifier),
    Webhook(webhook::WebhookNotifier),
    Console(console::ConsoleNotifier),
}

/// A configured notifier, its name (the name routes watches to it) and its sending rules.
pub struct NamedNotifier {
    pub name: String,
    pub notifier: Notifier,
    pub policy: crate::config::SendRules,
}

impl Notifier {
    /// Delivers one message; on success returns the receiver's answer (SMTP reply, HTTP status).
    pub async fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        match self {
            Notifier::Email(n) => n.send(msg).await,
            Notifier::Webhook(n) => n.send(msg).await,
            Notifier::Console(n) => n.send(msg),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Notifier::Email(_) => "email",
            Notifier::Webhook(_) => "webhook",
            Notifier::Console(_) => "console",
        }
    }
}

/// A secret named in the config by its environment variable, read once at start.
#[derive(Clone)]
pub struct Secret {
    var: String,
    value: Option<String>,
}

impl Secret {
    pub fn from_env(var: &str) -> Secret {
        Secret {
            var: var.to_string(),
            value: std::env::var(var).ok().filter(|v| !v.is_empty()),
        }
    }

    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }

    pub fn var(&self) -> &str {
        &self.var
    }

    /// The value, or a transient error: setting the variable and restarting fixes it,
    /// and the alert must wait for that rather than be lost.
    pub fn get(&self) -> Result<&str, DeliveryError> {
        self.value.as_deref().ok_or_else(|| {
            DeliveryError::transient(format!("environment variable {} is not set", self.var))
        })
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "Secret({}, {})",
            self.var,
            if self.is_set() { "set" } else { "unset" }
        )
    }
}
