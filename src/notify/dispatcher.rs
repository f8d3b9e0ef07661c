//! The dispatcher drains the outbox: each notifier in its own task, so one that is down never
//! delays another; rows in order of creation; transient failures retried with exponential
//! backoff and jitter; an alert marked delivered only after the receiver accepted it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::NamedNotifier;
use crate::store::{DeliveryState, OutboxRow, Store, StoreError, ms, now_ms};

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// After this long since the alert was created, a still-failing delivery is a dead letter.
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`: doubling from `initial`, capped at `max`, with
    /// ±20% jitter so a recovered receiver is not hit by every sender at once; a longer
    /// `Retry-After` from the receiver wins.
    pub fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let base = exp.min(self.max);
        let jittered = base.mul_f64(0.8 + 0.4 * fastrand::f64());
        retry_after.map_or(jittered, |ra| ra.min(self.max).max(jittered))
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Rows taken per query; a pass keeps going until none are due.
const BATCH: usize = 100;
/// Upper bound on how long an idle notifier task sleeps before looking again.
const IDLE_POLL: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    notifiers: Arc<Vec<NamedNotifier>>,
    policy: RetryPolicy,
}

impl Dispatcher {
    pub fn new(store: Store, notifiers: Arc<Vec<NamedNotifier>>, policy: RetryPolicy) -> Self {
        Dispatcher {
            store,
            notifiers,
            policy,
        }
    }

    /// Delivers every alert due now, all notifiers concurrently (for `once`).
    pub async fn deliver_due(&self) -> Result<PassReport, StoreError> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.notifiers.len() {
            let this = self.clone();
            tasks.spawn(async move { this.pass(i, &CancellationToken::new()).await });
        }
        let mut total = PassReport::default();
        while let Some(joined) = tasks.join_next().await {
            let r = joined.map_err(|e| StoreError::Task(e.to_string()))??;
            total.delivered += r.delivered;
            total.retrying += r.retrying;
            total.failed += r.failed;
        }
        Ok(total)
    }

    /// Runs one task per notifier until `shutdown`; `wake` is bumped when new alerts are stored.
    pub async fn run(self, wake: watch::Receiver<u64>, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.notifiers.len() {
            let this = self.clone();
            let mut wake = wake.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let name = this.notifiers[i].name.clone();
                while !shutdown.is_cancelled() {
                    if let Err(e) = this.pass(i, &shutdown).await {
                        warn!(notifier = %name, error = %e, "outbox pass failed; retrying shortly");
                    }
                    let n = name.clone();
                    let sleep = match this.store.blocking(move |s| s.next_attempt_at(&n)).await {
                        Ok(Some(at)) => {
                            Duration::from_millis((at - now_ms()).clamp(0, ms(IDLE_POLL)) as u64)
                        }
                        _ => IDLE_POLL,
                    };
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = wake.changed() => {}
                        _ = tokio::time::sleep(sleep) => {}
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Delivers the due rows of notifier `i`, oldest first. Stops at the first transient
    /// failure: the receiver is likely down, and the rows after it keep their order.
    async fn pass(&self, i: usize, shutdown: &CancellationToken) -> Result<PassReport, StoreError> {
        let notifier = &self.notifiers[i];
        let mut report = PassReport::default();
        loop {
            let name = notifier.name.clone();
            let rows = self
                .store
                .blocking(move |s| s.due_alerts(&name, now_ms(), BATCH))
                .await?;
            if rows.is_empty() {
                return Ok(report);
            }
            for row in rows {
                let sent = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(report),
                    r = notifier.notifier.send(&row.alert) => r,
                };
                match self.record(notifier, row, sent).await? {
                    DeliveryState::Delivered => report.delivered += 1,
                    DeliveryState::Pending => {
                        report.retrying += 1;
                        return Ok(report);
                    }
                    DeliveryState::Failed | DeliveryState::Dead => report.failed += 1,
                }
            }
        }
    }

    async fn record(
        &self,
        notifier: &NamedNotifier,
        row: OutboxRow,
        sent: Result<String, super::DeliveryError>,
    ) -> Result<DeliveryState, StoreError> {
        let attempts = row.attempts + 1;
        let now = now_ms();
        let (seq, id) = (row.seq, row.alert.id.clone());
        match sent {
            Ok(answer) => {
                info!(alert_id = %id, notifier = %notifier.name, attempts, answer = %answer, "alert delivered");
                self.store
                    .blocking(move |s| s.mark_delivered(seq, attempts, now))
                    .await?;
                Ok(DeliveryState::Delivered)
            }
            Err(e) => {
                let age = Duration::from_millis((now - row.created_at).max(0) as u64);
                let next = if !e.transient {
                    Err(DeliveryState::Failed)
                } else if age >= self.policy.give_up_after {
                    Err(DeliveryState::Dead)
                } else {
                    Ok(now + ms(self.policy.delay(attempts, e.retry_after)))
                };
                match next {
                    // The first failure of an outage is worth a WARN; its retries are not.
                    Ok(at) if attempts == 1 => {
                        warn!(alert_id = %id, notifier = %notifier.name, attempts, error = %e, retry_in_ms = at - now, "delivery failed; will retry")
                    }
                    Ok(at) => {
                        debug!(alert_id = %id, notifier = %notifier.name, attempts, error = %e, retry_in_ms = at - now, "delivery failed; will retry")
                    }
                    Err(state) => {
                        warn!(alert_id = %id, notifier = %notifier.name, attempts, error = %e, state = state.as_str(), "delivery failed for good")
                    }
                }
                let state = next.err().unwrap_or(DeliveryState::Pending);
                let message = e.message.clone();
                self.store
                    .blocking(move |s| s.mark_attempt_failed(seq, attempts, &message, next))
                    .await?;
                Ok(state)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let p = RetryPolicy {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(1800),
            give_up_after: Duration::from_secs(86_400),
        };
        let within = |d: Duration, base: u64| {
            let s = d.as_secs_f64();
            s >= base as f64 * 0.8 - 1e-9 && s <= base as f64 * 1.2 + 1e-9
        };
        for _ in 0..50 {
            assert!(within(p.delay(1, None), 10));
            assert!(within(p.delay(2, None), 20));
            assert!(within(p.delay(4, None), 80));
            assert!(within(p.delay(30, None), 1800));
            assert!(p.delay(1, Some(Duration::from_secs(600))) >= Duration::from_secs(600));
            assert!(p.delay(1, Some(Duration::from_secs(99_999))) <= Duration::from_secs(1800));
        }
    }
}
