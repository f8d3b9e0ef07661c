//! Group commit: polls that finish while another poll's commit runs wait for it, then go
//! to the store together, in one call of [`Items::commit_polls`](super::Items::commit_polls).
//! On either backend that is one transaction for all of them ([`together_else_alone`]),
//! where one each cost a commit (and on PostgreSQL a story lock and the round trips around
//! them). A lone poll commits at once: nothing waits for company.

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::{InsertReport, PollCommit, Store, StoreError};

/// At most this many polls share a commit (the first poll of a new feed brings its whole
/// backlog, so a bound on polls bounds the transaction).
pub(crate) const MAX_GROUP: usize = 32;

/// At most this many polls hold a place in the line to the store: a group being committed
/// and a group waiting for its turn.
pub(crate) const MAX_PLACES: usize = 2 * MAX_GROUP;

/// How both backends commit a group: the polls in one transaction (`together`), or, when
/// there is one poll or that transaction fails, each poll alone, so that a poll the store
/// refuses fails alone and the others are stored.
pub(super) fn together_else_alone<P>(
    polls: &[P],
    together: impl FnOnce(&[P]) -> Result<Vec<InsertReport>, StoreError>,
    alone: impl Fn(&P) -> Result<InsertReport, StoreError>,
) -> Vec<Result<InsertReport, StoreError>> {
    if polls.len() > 1 {
        match together(polls) {
            Ok(reports) => return reports.into_iter().map(Ok).collect(),
            Err(e) => tracing::debug!(
                polls = polls.len(), error = %e,
                "a group commit failed; committing each poll alone"
            ),
        }
    }
    polls.iter().map(alone).collect()
}

/// What a poll's commit answers.
type Answer = oneshot::Sender<Result<InsertReport, StoreError>>;

/// Polls waiting to be committed, the turn to commit them, and the places in their line.
pub(crate) struct Group {
    waiting: Mutex<Vec<(PollCommit, Answer)>>,
    turn: tokio::sync::Mutex<()>,
    places: Arc<Semaphore>,
}

impl Default for Group {
    fn default() -> Group {
        Group {
            waiting: Mutex::default(),
            turn: tokio::sync::Mutex::default(),
            places: Arc::new(Semaphore::new(MAX_PLACES)),
        }
    }
}

/// A poll's place in the line to the store, held until its commit ends (see
/// [`Store::place_in_line`]).
pub struct Place {
    _held: OwnedSemaphorePermit,
}

impl Store {
    /// A place in the line of polls to be committed, waited for while the line is full.
    /// A poll holds what it read until it is stored; it takes its place before it lets the
    /// next fetch start, so a store slower than the fetches slows the fetches down rather
    /// than gathering read polls in memory (a first cycle of 10,000 feeds on SQLite held
    /// 380 MB that way, thousands of polls waiting for their commit).
    pub async fn place_in_line(&self) -> Place {
        let places = self.group.places.clone();
        // The semaphore is never closed.
        Place {
            _held: places.acquire_owned().await.expect("the line is open"),
        }
    }

    /// Commits a successful poll (its items, their alerts and its outcome, in one
    /// transaction), with the polls that wait for the same turn. The first in line takes
    /// the turn and commits everyone waiting; the others find their answer when the turn
    /// comes to them. The commit runs to its end even if the caller goes away.
    pub async fn commit(&self, poll: PollCommit) -> Result<InsertReport, StoreError> {
        let (answer, mut answered) = oneshot::channel();
        self.group.waiting_list().push((poll, answer));
        loop {
            let turn = self.group.turn.lock().await;
            match answered.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::Task("the commit was dropped".into()));
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch: Vec<(PollCommit, Answer)> = {
                let mut waiting = self.group.waiting_list();
                let take = waiting.len().min(MAX_GROUP);
                waiting.drain(..take).collect()
            };
            if batch.is_empty() {
                // Ours is in a batch whose leader went away while it ran; it answers when done.
                drop(turn);
                return answered
                    .await
                    .unwrap_or_else(|_| Err(StoreError::Task("the commit was dropped".into())));
            }
            let store = self.clone();
            let run = tokio::task::spawn_blocking(move || {
                let (polls, answers): (Vec<PollCommit>, Vec<Answer>) = batch.into_iter().unzip();
                let results = store.backend.commit_polls(&polls);
                for (answer, result) in answers.into_iter().zip(results) {
                    // A caller that went away does not want the answer.
                    let _ = answer.send(result);
                }
            });
            if let Err(e) = run.await {
                return Err(StoreError::Task(e.to_string()));
            }
        }
    }
}

impl Group {
    fn waiting_list(&self) -> std::sync::MutexGuard<'_, Vec<(PollCommit, Answer)>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PollStatus, SourceType};
    use crate::store::{Discovery, Identity, NewItem, PollRecord, SourceSpec};

    /// The line to the store holds two groups of polls; the next poll waits for a place
    /// (and so holds its fetch slot) until a poll in the line is committed.
    #[tokio::test]
    async fn the_line_to_the_store_is_bounded() {
        use futures_util::FutureExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("fw.db")).unwrap();
        let mut line = Vec::new();
        for _ in 0..MAX_PLACES {
            let place = store.place_in_line().now_or_never();
            line.push(place.expect("a place while the line has room"));
        }
        assert!(store.place_in_line().now_or_never().is_none());
        line.pop();
        assert!(store.place_in_line().now_or_never().is_some());
    }

    /// Polls finishing at once, more than one group holds: each caller gets the report of
    /// its own poll, and every poll is stored.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn polls_finishing_at_once_each_get_their_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("fw.db")).unwrap();
        let polls = 3 * MAX_GROUP;
        let specs: Vec<SourceSpec> = (0..polls)
            .map(|n| SourceSpec {
                name: format!("s{n}"),
                kind: SourceType::Feed,
                url: format!("http://127.0.0.1:9/{n}.xml"),
                interval_ms: 60_000,
            })
            .collect();
        store.sync_sources(&specs, 0, 0).unwrap();
        let ids: Vec<i64> = store
            .active_sources()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        let commits = ids.iter().enumerate().map(|(n, &source_id)| {
            let store = store.clone();
            // Poll n brings n % 4 items.
            let new = (0..n % 4)
                .map(|k| NewItem {
                    id: Identity {
                        key: format!("{n}-{k}"),
                        raw_hash: "h".into(),
                        ..Default::default()
                    },
                    text: format!("item {k} of poll {n}"),
                    ..Default::default()
                })
                .collect();
            let record = PollRecord {
                at: 10,
                result: Ok(PollStatus::Ok("fine".into())),
                validators: None,
                discovered_url: Discovery::Keep,
                next_poll_at: 60_000,
                health: None,
            };
            tokio::spawn(async move {
                let poll = PollCommit {
                    source_id,
                    new,
                    changed: Vec::new(),
                    record,
                };
                (n, store.commit(poll).await)
            })
        });
        let answers = futures_util::future::join_all(commits).await;
        for answer in answers {
            let (n, report) = answer.unwrap();
            assert_eq!(report.unwrap().items, n % 4, "poll {n}");
        }
        let polled = store.active_sources().unwrap();
        assert!(polled.iter().all(|r| r.last_success_at == Some(10)));
        let mut stored = 0;
        store
            .each_article(0, &mut |_| {
                stored += 1;
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(stored, (0..polls).map(|n| n % 4).sum::<usize>());
    }
}
