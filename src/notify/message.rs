//! The heading every channel gives a message: one alert's subject, or a digest's count
//! and watches.

use crate::model::{Alert, Message};
use crate::text::single_line;

/// `[feedwatch] venezuela: Title`, or for a digest `[feedwatch] 3 alerts: venezuela, oil`.
pub(crate) fn header(msg: &Message<'_>) -> String {
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

/// `[feedwatch] <watch>: <title>` (`<watch>, <watch>` for an article several watches
/// matched), safe as a header value.
pub(crate) fn subject(alert: &Alert) -> String {
    let title = if alert.title.trim().is_empty() {
        "(untitled)"
    } else {
        &alert.title
    };
    single_line(&format!("[feedwatch] {}: {}", alert.watch_label(), title))
}
