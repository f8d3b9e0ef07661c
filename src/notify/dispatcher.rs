//! The dispatcher drains the outbox: each notifier in its own task, so one that is down never
//! delays another; rows in order of creation; transient failures retried with exponential
//! backoff and jitter; an alert marked delivered only after the receiver accepted it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use super::schedule::Plan;
use super::{Message, NamedNotifier};
use crate::dedupe::short_hash;
use crate::model::Alert;
use crate::retry::Backoff;
use crate::store::{DeliveryState, OutboxRow, Store, StoreError};
use crate::time::{Clock, ms};

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// Attempts continue for about this long (counted in attempts, so quiet hours and
    /// digests do not eat into it); then the alert is a dead letter.
    pub give_up_after: Duration,
}

impl RetryPolicy {
    /// Doubling from `initial`, capped at `max`, ±20% so a recovered receiver is not hit by
    /// every sender at once.
    fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.initial,
            cap: self.max,
            jitter: 0.2,
        }
    }

    /// Delay before attempt `attempts + 1`; a longer `Retry-After` from the receiver wins,
    /// up to `max`.
    pub(crate) fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        self.backoff().delay(attempts, retry_after, self.max)
    }

    fn base_delay(&self, attempts: u32) -> Duration {
        self.backoff().base(attempts)
    }

    /// Attempts whose delays add up to `give_up_after`: after that many, a dead letter.
    pub(crate) fn max_attempts(&self) -> u32 {
        let mut total = Duration::ZERO;
        let mut n = 1;
        while total < self.give_up_after && n < 10_000 {
            total += self.base_delay(n);
            n += 1;
        }
        n
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PassReport {
    pub delivered: usize,
    pub retrying: usize,
    pub failed: usize,
    /// The notifier sends nothing before this time (digest, cap, quiet hours, backoff).
    pub wait_until: Option<i64>,
    /// The notifier is paused: the receiver refused its credentials.
    pub paused: bool,
    /// Another node holds the notifier's lease: it sends the notifier's messages.
    pub leased_elsewhere: bool,
}

/// Rows taken per query; a pass keeps going until none are due.
const BATCH: usize = 100;
/// Most alerts in one digest message; more make several.
const MAX_DIGEST: usize = 100;
/// Upper bound on how long an idle notifier task sleeps before looking again.
const IDLE_POLL: Duration = Duration::from_secs(60);
/// How often a paused notifier looks whether `alerts --retry` resumed it.
const PAUSED_POLL: Duration = Duration::from_secs(5);
const HOUR_MS: i64 = 3_600_000;

#[derive(Clone)]
pub(crate) struct Dispatcher {
    store: Store,
    notifiers: Arc<Vec<NamedNotifier>>,
    policy: RetryPolicy,
    metrics: Arc<crate::metrics::Metrics>,
    clock: Clock,
    /// How long this node keeps a notifier to itself after saying so (see
    /// [`crate::store::Outbox::lease_notifier`]).
    lease: Duration,
    /// Longest sleep of an idle notifier task: new alerts wake it, but on a shared store
    /// other nodes store alerts too, and nothing wakes it for theirs.
    idle: Duration,
}

/// How long a notifier's lease is used before it is renewed (it lasts two fetch timeouts
/// more than this, so at least that much of it is left whenever a message is sent).
const RENEW_AFTER: Duration = Duration::from_secs(10);

/// How often a node waiting for another node's notifier lease looks again.
const LEASED_ELSEWHERE_POLL: Duration = Duration::from_secs(5);
/// How often `once` looks again at a notifier another node holds while it has due alerts.
const ONCE_LEASE_POLL: Duration = Duration::from_millis(500);

impl Dispatcher {
    pub(crate) fn new(
        store: Store,
        notifiers: Arc<Vec<NamedNotifier>>,
        policy: RetryPolicy,
        metrics: Arc<crate::metrics::Metrics>,
        clock: Clock,
    ) -> Self {
        Dispatcher {
            store,
            notifiers,
            policy,
            metrics,
            clock,
            lease: Duration::from_secs(70),
            idle: IDLE_POLL,
        }
    }

    /// The same on a store shared with other nodes: holding each notifier's lease for
    /// `lease` at a time, and looking for their alerts every few seconds.
    pub(crate) fn shared(self, lease: Duration) -> Self {
        Dispatcher {
            lease,
            idle: LEASED_ELSEWHERE_POLL,
            ..self
        }
    }

    /// Whether this node sends notifier `name`'s messages now (another node may hold it).
    /// The lease this pass holds is renewed from `renew_at` on ([`RENEW_AFTER`] after it
    /// was taken), not with a round trip before each message.
    async fn hold(&self, name: &str, now: i64, renew_at: &mut i64) -> Result<bool, StoreError> {
        if !self.store.is_shared() || now < *renew_at {
            return Ok(true);
        }
        let (name, lease) = (name.to_string(), ms(self.lease));
        let held = self
            .store
            .blocking(move |s| s.lease_notifier(&name, now, lease))
            .await?;
        *renew_at = if held {
            now + ms(RENEW_AFTER)
        } else {
            i64::MIN
        };
        Ok(held)
    }

    /// Delivers every alert due now, all notifiers concurrently (for `once`), then gives
    /// back the notifier leases it took, so that another node sends at once.
    pub(crate) async fn deliver_due(&self) -> Result<PassReport, StoreError> {
        self.resume_paused().await?;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.notifiers.len() {
            let this = self.clone();
            tasks.spawn(async move { this.deliver_due_of(i).await });
        }
        let mut total = PassReport::default();
        while let Some(joined) = tasks.join_next().await {
            let r = joined.map_err(|e| StoreError::Task(e.to_string()))??;
            total.delivered += r.delivered;
            total.retrying += r.retrying;
            total.failed += r.failed;
        }
        self.store.blocking(|s| s.release_notifiers()).await?;
        Ok(total)
    }

    /// One notifier's pass for `once`. While another node holds the notifier and alerts are
    /// due, it waits: a node in its pass sends them too, a node that ends its pass gives the
    /// lease back, and an expired lease is taken. After a lease's length of waiting, the
    /// holder (a daemon that keeps renewing it) is left to send them.
    async fn deliver_due_of(&self, i: usize) -> Result<PassReport, StoreError> {
        let deadline = tokio::time::Instant::now() + self.lease;
        loop {
            let report = self.pass(i, &CancellationToken::new()).await?;
            if !report.leased_elsewhere || !self.has_due(i).await? {
                return Ok(report);
            }
            if tokio::time::Instant::now() >= deadline {
                warn!(notifier = %self.notifiers[i].name, "another node holds this notifier and has not sent its due alerts; they wait for it");
                return Ok(report);
            }
            tokio::time::sleep(ONCE_LEASE_POLL).await;
        }
    }

    /// Whether notifier `i` has alerts due now.
    async fn has_due(&self, i: usize) -> Result<bool, StoreError> {
        let (name, now) = (self.notifiers[i].name.clone(), self.clock.now());
        let due = self
            .store
            .blocking(move |s| s.due_alerts(&name, now, 1))
            .await?;
        Ok(!due.is_empty())
    }

    /// A new dispatcher (a start, a reload, `once`) gives paused notifiers another chance:
    /// the credentials may have been fixed.
    async fn resume_paused(&self) -> Result<(), StoreError> {
        for p in self.store.blocking(|s| s.resume_notifiers()).await? {
            info!(notifier = %p.notifier, paused_since = %crate::time::iso(p.since), reason = %p.reason, "notifier resumed");
        }
        Ok(())
    }

    /// Runs one task per notifier until `shutdown`; `wake` is bumped when new alerts are stored.
    pub(crate) async fn run(self, wake: watch::Receiver<u64>, shutdown: CancellationToken) {
        if let Err(e) = self.resume_paused().await {
            warn!(error = %e, "cannot resume paused notifiers");
        }
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..self.notifiers.len() {
            let this = self.clone();
            let mut wake = wake.clone();
            let shutdown = shutdown.clone();
            tasks.spawn(async move {
                let name = this.notifiers[i].name.clone();
                while !shutdown.is_cancelled() {
                    let wait_until = match this.pass(i, &shutdown).await {
                        Ok(r) if r.paused => Some(this.clock.now() + ms(PAUSED_POLL)),
                        Ok(r) => r.wait_until,
                        Err(e) => {
                            warn!(notifier = %name, error = %e, "outbox pass failed; retrying shortly");
                            Some(this.clock.now() + 5_000)
                        }
                    };
                    let next = match wait_until {
                        Some(at) => Some(at),
                        None => {
                            let n = name.clone();
                            this.store.blocking(move |s| s.next_attempt_at(&n)).await.ok().flatten()
                        }
                    };
                    let sleep = next.map_or(this.idle, |at| Duration::from_millis((at - this.clock.now()).clamp(0, ms(this.idle)) as u64));
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        // New alerts cannot jump a wait decided by the send rules or a backoff.
                        _ = wake.changed(), if wait_until.is_none() => {}
                        _ = tokio::time::sleep(sleep) => {}
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Delivers what notifier `i` may send now, oldest first, as its send rules decide.
    /// Stops at the first transient failure: the receiver is likely down, and the rows
    /// behind it wait with it, keeping their order.
    async fn pass(&self, i: usize, shutdown: &CancellationToken) -> Result<PassReport, StoreError> {
        let notifier = &self.notifiers[i];
        let mut report = PassReport::default();
        let name = notifier.name.clone();
        if self
            .store
            .blocking(move |s| s.notifier_pause(&name))
            .await?
            .is_some()
        {
            report.paused = true;
            return Ok(report);
        }
        let mut renew_at = i64::MIN;
        loop {
            let name = notifier.name.clone();
            let now = self.clock.now();
            if !self.hold(&name, now, &mut renew_at).await? {
                report.wait_until = Some(now + ms(LEASED_ELSEWHERE_POLL));
                report.leased_elsewhere = true;
                return Ok(report);
            }
            let rows = self
                .store
                .blocking(move |s| s.due_alerts(&name, now, BATCH))
                .await?;
            let Some(oldest) = rows.first().map(|r| r.created_at) else {
                return Ok(report);
            };
            let sent = if notifier.policy.max_per_hour.is_some() {
                let name = notifier.name.clone();
                self.store
                    .blocking(move |s| s.messages_since(&name, now - HOUR_MS))
                    .await?
            } else {
                Vec::new()
            };
            let messages: Vec<Vec<OutboxRow>> =
                match notifier.policy.plan(now, rows.len(), oldest, &sent) {
                    Plan::WaitUntil(at) => {
                        report.wait_until = Some(at);
                        return Ok(report);
                    }
                    Plan::Each(k) => rows.into_iter().take(k).map(|r| vec![r]).collect(),
                    Plan::Digest => vec![rows.into_iter().take(MAX_DIGEST).collect()],
                };
            for rows in messages {
                let alerts: Vec<Alert> = rows.iter().map(|r| r.alert.clone()).collect();
                let id = if alerts.len() == 1 {
                    alerts[0].id.clone()
                } else {
                    short_hash(&alerts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>())
                };
                let msg = Message {
                    id: &id,
                    alerts: &alerts,
                };
                // Looked at before each message: a lease never runs out while one is sent.
                let now = self.clock.now();
                if !self.hold(&notifier.name, now, &mut renew_at).await? {
                    report.wait_until = Some(now + ms(LEASED_ELSEWHERE_POLL));
                    report.leased_elsewhere = true;
                    return Ok(report);
                }
                let sent = tokio::select! {
                    _ = shutdown.cancelled() => return Ok(report),
                    r = notifier.notifier.send(&msg) => r,
                };
                match self.record(notifier, &id, &rows, sent).await? {
                    Outcome::Delivered => report.delivered += rows.len(),
                    Outcome::Failed => report.failed += rows.len(),
                    Outcome::Retry(at) => {
                        report.retrying += rows.len();
                        report.wait_until = Some(at);
                        return Ok(report);
                    }
                    Outcome::Paused => {
                        report.retrying += rows.len();
                        report.paused = true;
                        return Ok(report);
                    }
                }
            }
        }
    }

    async fn record(
        &self,
        notifier: &NamedNotifier,
        id: &str,
        rows: &[OutboxRow],
        sent: Result<String, super::DeliveryError>,
    ) -> Result<Outcome, StoreError> {
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
        let now = self.clock.now();
        let batch = id.to_string();
        let alerts = rows.len();
        match sent {
            Ok(answer) => {
                info!(alert_id = %id, notifier = %notifier.name, alerts, attempts, answer = %answer, "delivered");
                self.metrics.delivery(&notifier.name, "delivered");
                self.store
                    .blocking(move |s| s.mark_delivered(&seqs, &batch, now))
                    .await?;
                Ok(Outcome::Delivered)
            }
            Err(e) if e.credentials => {
                self.pause(notifier, id, &seqs, &e).await?;
                Ok(Outcome::Paused)
            }
            Err(e) => {
                let next = if !e.transient {
                    Err(DeliveryState::Failed)
                } else if attempts >= self.policy.max_attempts() {
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
                self.metrics.delivery(
                    &notifier.name,
                    if next.is_ok() { "retry" } else { "failed" },
                );
                let message = e.message.clone();
                self.store
                    .blocking(move |s| s.mark_attempt_failed(&seqs, &message, next))
                    .await?;
                Ok(match next {
                    Ok(at) => Outcome::Retry(at),
                    Err(_) => Outcome::Failed,
                })
            }
        }
    }

    /// The receiver refused the credentials: the message stays first in the queue, and the
    /// notifier sends nothing until a restart, a reload or `alerts --retry` resumes it.
    async fn pause(
        &self,
        notifier: &NamedNotifier,
        id: &str,
        seqs: &[i64],
        e: &super::DeliveryError,
    ) -> Result<(), StoreError> {
        let fix = match notifier.notifier.kind() {
            "email" => "check its `user` and the password in `password_env`",
            _ => "check the token in its `url` or `headers`",
        };
        error!(alert_id = %id, notifier = %notifier.name, error = %e,
               "the receiver refused this notifier's credentials: {fix}; its alerts wait, in order, \
                until `systemctl reload feedwatch` or `feedwatch alerts --retry all`");
        self.metrics.delivery(&notifier.name, "paused");
        let (name, message, seqs, now) = (
            notifier.name.clone(),
            e.message.clone(),
            seqs.to_vec(),
            self.clock.now(),
        );
        self.store
            .blocking(move |s| {
                s.mark_attempt_failed(&seqs, &message, Ok(now))?;
                s.pause_notifier(&name, &message, now)
            })
            .await
    }
}

enum Outcome {
    Delivered,
    Failed,
    Retry(i64),
    Paused,
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
        // 10s, 20s, ... up to 30m, then 30m each: about 55 attempts span 24 hours.
        assert!((50..60).contains(&p.max_attempts()), "{}", p.max_attempts());
    }
}
