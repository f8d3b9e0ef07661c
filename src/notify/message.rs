//! One delivery: a single alert or a digest of several, and the heading every channel
//! gives it.

use crate::model::Alert;
use crate::text::single_line;

/// One delivery: a single alert, or a digest of several.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The alert id, or for a digest an id derived from its alerts' ids (idempotency key).
    pub id: &'a str,
    pub alerts: &'a [Alert],
}

impl Message<'_> {
    pub fn is_digest(&self) -> bool {
        self.alerts.len() > 1
    }

    pub fn first(&self) -> &Alert {
        &self.alerts[0]
    }

    /// The watches of the message, each once, in order.
    pub fn watches(&self) -> Vec<&str> {
        let mut w: Vec<&str> = Vec::new();
        for a in self.alerts {
            if !w.contains(&a.watch.as_str()) {
                w.push(&a.watch);
            }
        }
        w
    }
}

/// `[feedwatch] venezuela: Title`, or for a digest `[feedwatch] 3 alerts: venezuela, oil`.
pub fn header(msg: &Message<'_>) -> String {
    if msg.is_digest() {
        format!(
            "[feedwatch] {} alerts: {}",
            msg.alerts.len(),
            msg.watches().join(", ")
        )
    } else {
        subject(msg.first())
    }
}

/// `[feedwatch] <watch>: <title>`, safe as a header value.
pub fn subject(alert: &Alert) -> String {
    let title = if alert.title.trim().is_empty() {
        "(untitled)"
    } else {
        &alert.title
    };
    single_line(&format!("[feedwatch] {}: {}", alert.watch, title))
}
