//! Console notifier: one line per alert on stdout (the journal, under systemd).

use std::io::Write;

use super::DeliveryError;
use crate::model::Alert;

pub struct ConsoleNotifier;

impl ConsoleNotifier {
    pub fn send(&self, alert: &Alert) -> Result<String, DeliveryError> {
        let line = super::render::one_line(alert);
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}")
            .and_then(|_| out.flush())
            .map_err(|e| DeliveryError::transient(format!("cannot write to stdout: {e}")))?;
        Ok("printed".into())
    }
}
