//! Console notifier: one line per alert on stdout (the journal, under systemd).

use std::io::Write;

use super::{DeliveryError, Message};

pub struct ConsoleNotifier;

impl ConsoleNotifier {
    pub fn send(&self, msg: &Message<'_>) -> Result<String, DeliveryError> {
        let mut out = std::io::stdout().lock();
        let lines: String = msg
            .alerts
            .iter()
            .map(|a| super::render::one_line(a) + "\n")
            .collect();
        out.write_all(lines.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| DeliveryError::transient(format!("cannot write to stdout: {e}")))?;
        Ok("printed".into())
    }
}
