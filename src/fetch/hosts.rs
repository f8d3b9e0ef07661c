//! Politeness per host: at most `per_host` requests at once to one host, and `host_delay`
//! between the starts of two. Applied to every request the fetcher makes, so a feed's
//! article pages wait like the feed itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The gates of every host seen, shared by clones of the fetcher.
#[derive(Clone)]
pub(crate) struct Hosts {
    gates: Arc<Mutex<HashMap<String, Arc<Gate>>>>,
    per_host: usize,
    delay: Duration,
}

/// One host's bounds: requests at once, and the earliest start of the next one.
struct Gate {
    slots: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

impl Hosts {
    pub(crate) fn new(per_host: usize, delay: Duration) -> Hosts {
        Hosts {
            gates: Arc::default(),
            per_host: per_host.max(1),
            delay,
        }
    }

    /// Waits for a slot on `host` and for its delay since the previous start; the request
    /// holds the permit until it ends.
    pub(crate) async fn enter(&self, host: &str) -> OwnedSemaphorePermit {
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|p| p.into_inner());
            gates
                .entry(host.to_ascii_lowercase())
                .or_insert_with(|| {
                    Arc::new(Gate {
                        slots: Arc::new(Semaphore::new(self.per_host)),
                        next_start: Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        let permit = gate
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let start = {
            let mut next = gate.next_start.lock().unwrap_or_else(|p| p.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + self.delay;
            start
        };
        tokio::time::sleep_until(start).await;
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_host_waits_its_delay_and_slots_others_do_not() {
        let hosts = Hosts::new(1, Duration::from_secs(2));
        let t0 = Instant::now();
        let a = hosts.enter("a.example").await;
        drop(a);
        let _b = hosts.enter("A.example").await;
        assert!(
            t0.elapsed() >= Duration::from_secs(2),
            "the delay applies per host"
        );
        let t1 = Instant::now();
        let _c = hosts.enter("b.example").await;
        assert!(
            t1.elapsed() < Duration::from_millis(1),
            "another host does not wait"
        );
        // a.example's one slot is held by _b: a third request waits for it.
        let waiting = tokio::time::timeout(Duration::from_secs(60), hosts.enter("a.example"));
        assert!(
            waiting.await.is_err(),
            "per_host = 1 holds the second request"
        );
    }
}
