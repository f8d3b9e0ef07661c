//! The due-queue loop: claims due sources from the store, polls them under a global and a
//! per-host bound, wakes the dispatcher when alerts are stored, reloads on SIGHUP and stops
//! cleanly on SIGTERM/SIGINT. All schedule state is in the store, so a restart resumes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

mod first_cycle;
mod heartbeat;

use crate::app::Runtime;
use crate::config::Config;
use crate::model::Source;
use crate::pipeline::{PollReport, poll_source};
use crate::store::{SourceRow, Store};
use crate::time::ms;
use first_cycle::FirstCycle;

/// Longest the loop sleeps between looks at the store (and between watchdog pings).
const TICK: Duration = Duration::from_secs(30);
/// How often retention runs in the daemon.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long in-flight polls may finish after SIGTERM before they are cut short.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

type PollTask = (i64, String, PollReport);

/// Starts one poll. It holds a slot of the global bound (`global`, or one it waits for)
/// until its source's own document is read; per-host bounds apply to each request inside.
fn spawn_poll(
    tasks: &mut JoinSet<PollTask>,
    rt: &Arc<Runtime>,
    source: Source,
    row: SourceRow,
    global: Option<OwnedSemaphorePermit>,
    global_sem: Arc<Semaphore>,
) -> tokio::task::Id {
    let rt = rt.clone();
    let handle = tasks.spawn(async move {
        let slot = match global {
            Some(p) => p,
            None => global_sem
                .acquire_owned()
                .await
                .expect("semaphore never closed"),
        };
        let report = poll_source(&rt.ctx, &source, &row, slot).await;
        (row.id, source.name, report)
    });
    handle.id()
}

/// Polls every active source once (for `once`), within the same bounds as the daemon; on a
/// shared store, not those another node is polling right now.
pub async fn poll_all(rt: &Arc<Runtime>) -> anyhow::Result<Vec<(String, PollReport)>> {
    let (now, lease) = (rt.ctx.clock.now(), ms(rt.lease));
    let rows = rt
        .ctx
        .store
        .blocking(move |s| s.claim_all(now, lease))
        .await?;
    let global = Arc::new(Semaphore::new(rt.concurrency));
    let mut tasks = JoinSet::new();
    let mut out = Vec::new();
    for row in rows {
        if let Some(source) = rt.sources.get(&row.name).cloned() {
            // A task starts only with its permit, and finished ones are collected as we go:
            // ten thousand polls' task state would otherwise all be held at once.
            while let Some(done) = tasks.try_join_next() {
                let (_, name, report) = done?;
                out.push((name, report));
            }
            let permit = global
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore never closed");
            spawn_poll(&mut tasks, rt, source, row, Some(permit), global.clone());
        }
    }
    while let Some(done) = tasks.join_next().await {
        let (_, name, report) = done?;
        out.push((name, report));
    }
    rt.ctx.store.blocking(|s| s.flush_records()).await?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(config_path: PathBuf, rt: Runtime) -> anyhow::Result<()> {
    let mut signals = Signals::new()?;
    let mut daemon = Daemon::start(config_path, rt);
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    info!(
        sources = daemon.rt.sources.len(),
        notifiers = daemon.rt.notifiers.len(),
        "feedwatch running"
    );
    loop {
        daemon.housekeeping().await;
        // A store that cannot take the claim (a full disk, a database restarting) is
        // asked again at the next turn; the daemon keeps serving and sending meanwhile.
        if let Err(e) = daemon.claim_and_spawn().await {
            warn!(error = %format!("{e:#}"), "cannot claim due sources; will try again");
        }
        let sleep = daemon.sleep_time().await;
        let global = daemon.global.clone();
        let busy = global.available_permits() == 0;
        tokio::select! {
            _ = signals.term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = signals.int.recv() => { info!("SIGINT: stopping"); break; }
            _ = daemon.name_lost.cancelled() => {
                let node = daemon.store.node().to_string();
                daemon.stop().await?;
                anyhow::bail!("another feedwatch daemon runs as node \"{node}\" on this database");
            }
            _ = signals.hup.recv() => daemon.reload().await,
            Some(done) = daemon.tasks.join_next_with_id(), if !daemon.tasks.is_empty() => {
                daemon.poll_done(done).await;
            }
            // A poll gave its slot back before ending (it went on to article pages).
            _ = global.acquire(), if busy => {}
            _ = tokio::time::sleep(sleep) => {}
        }
    }
    daemon.stop().await
}

/// What the status page shows of the config: the watches and each source's tags.
fn catalog_of(rt: &Runtime) -> crate::web::Catalog {
    crate::web::Catalog {
        watchlist: rt.ctx.watchlist.clone(),
        tags: rt
            .sources
            .values()
            .map(|s| (s.name.clone(), s.tags.clone()))
            .collect(),
    }
}

/// The signals the daemon answers: SIGHUP reloads, SIGTERM and SIGINT stop.
struct Signals {
    hup: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// The running daemon: its runtime, the polls in flight and the dispatcher task.
struct Daemon {
    config_path: PathBuf,
    rt: Arc<Runtime>,
    store: Store,
    shutdown: CancellationToken,
    /// Bumped when polls store alerts: the dispatcher's cue.
    wake: Arc<watch::Sender<u64>>,
    dispatcher: tokio::task::JoinHandle<()>,
    dispatcher_stop: CancellationToken,
    global: Arc<Semaphore>,
    tasks: JoinSet<PollTask>,
    /// Source id of each running poll, by task, so a poll that panicked is accounted for too.
    in_flight: HashMap<tokio::task::Id, i64>,
    /// Sources claimed ahead of a free slot, oldest first, with when they were claimed.
    queued: std::collections::VecDeque<(SourceRow, tokio::time::Instant)>,
    /// Longest sleep between looks at the store (and between watchdog pings).
    tick: Duration,
    /// Set when a claim found fewer due sources than it asked for: until then (the next
    /// source due, at most a tick away) the store is not asked again, however many polls
    /// end meanwhile. On a busy cycle's tail every ending poll asked it twice (a claim and
    /// the next due time), thousands of round trips that found nothing.
    idle_until: Option<tokio::time::Instant>,
    next_prune: tokio::time::Instant,
    /// Until every source has been polled once since the start (one summary line then).
    first_cycle: Option<FirstCycle>,
    /// The status page's view of the config, replaced on reload.
    catalog: Option<Arc<std::sync::RwLock<Arc<crate::web::Catalog>>>>,
    /// The config's hash for the heartbeat (shared stores), replaced on reload.
    config_hash: watch::Sender<String>,
    /// Cancelled when another daemon took this node's name (shared stores): the daemon stops.
    name_lost: CancellationToken,
}

impl Daemon {
    /// Starts the dispatcher and, if configured, the metrics endpoint.
    fn start(config_path: PathBuf, rt: Runtime) -> Daemon {
        let rt = Arc::new(rt);
        let shutdown = CancellationToken::new();
        let (wake, wake_rx) = watch::channel(0u64);
        let wake = Arc::new(wake);
        let dispatcher_stop = shutdown.child_token();
        let dispatcher = tokio::spawn(rt.dispatcher().run(wake_rx, dispatcher_stop.clone()));
        let mut tick = sd_notify::watchdog_enabled().map_or(TICK, |w| (w / 2).min(TICK));
        if rt.ctx.store.is_shared() {
            // Other nodes release sources and hand back those of silent nodes: look often.
            tick = tick.min(Duration::from_millis(crate::store::HEARTBEAT_MS as u64));
        }
        let (config_hash, hash_rx) = watch::channel(rt.config_hash.clone());
        let name_lost = CancellationToken::new();
        if rt.ctx.store.is_shared() {
            tokio::spawn(heartbeat::run(
                rt.ctx.store.clone(),
                rt.ctx.clock.clone(),
                hash_rx,
                shutdown.clone(),
                name_lost.clone(),
            ));
        }
        let catalog = rt.listen.map(|addr| {
            let web = crate::web::Web::new(
                rt.ctx.store.clone(),
                rt.ctx.metrics.clone(),
                catalog_of(&rt),
                tick * 3,
                crate::web::Access::from_env(rt.token_env.as_deref()),
                rt.ctx.clock.clone(),
            )
            .waking(wake.clone());
            let catalog = web.catalog.clone();
            tokio::spawn(crate::web::serve(addr, web, shutdown.clone()));
            catalog
        });
        Daemon {
            config_path,
            store: rt.ctx.store.clone(),
            global: Arc::new(Semaphore::new(rt.concurrency)),
            shutdown,
            wake,
            dispatcher,
            dispatcher_stop,
            tasks: JoinSet::new(),
            in_flight: HashMap::new(),
            queued: Default::default(),
            first_cycle: Some(FirstCycle::new(
                rt.sources.keys().cloned(),
                rt.ctx.clock.now(),
            )),
            catalog,
            config_hash,
            name_lost,
            rt,
            tick,
            idle_until: None,
            next_prune: tokio::time::Instant::now(),
        }
    }

    fn now(&self) -> i64 {
        self.rt.ctx.clock.now()
    }

    /// The watchdog ping, the liveness clock, retention when due, and deferred outcomes.
    async fn housekeeping(&mut self) {
        notify_systemd(&[sd_notify::NotifyState::Watchdog]);
        self.rt
            .ctx
            .metrics
            .last_tick
            .store(self.now(), std::sync::atomic::Ordering::Relaxed);
        if tokio::time::Instant::now() >= self.next_prune {
            if let Err(e) = self.rt.prune().await {
                warn!(error = %format!("{e:#}"), "pruning failed; will try again");
            }
            self.next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
        }
        if self.store.deferred_due(self.now()) {
            flush_records(&self.store).await;
        }
    }

    /// Starts polls for the free slots from the queue of claimed sources, claiming when the
    /// queue holds fewer than that: as many again as the daemon runs at once besides. On a
    /// busy cycle the store is asked once per slot-full of polls instead of after every few
    /// (each ask is a round trip and a plan on PostgreSQL).
    async fn claim_and_spawn(&mut self) -> anyhow::Result<()> {
        self.release_stale().await?;
        let free = self.global.available_permits();
        if free == 0 {
            return Ok(());
        }
        if self.queued.len() < free && self.idle_left().is_none() {
            let want = free + self.rt.concurrency - self.queued.len();
            let (lease, now) = (ms(self.rt.lease), self.now());
            let rows = self
                .store
                .blocking(move |s| s.claim_due(now, want, lease))
                .await?;
            if rows.len() < want {
                let wait = self.until_next_due().await;
                self.idle_until = Some(tokio::time::Instant::now() + wait);
                self.count_polled_elsewhere().await;
            }
            let at = tokio::time::Instant::now();
            self.queued.extend(rows.into_iter().map(|row| (row, at)));
        }
        let running: std::collections::HashSet<i64> = self.in_flight.values().copied().collect();
        let mut started = 0;
        while started < free
            && let Some((row, _)) = self.queued.pop_front()
        {
            let Some(source) = self.rt.sources.get(&row.name).cloned() else {
                continue;
            };
            // A source whose poll still runs (past its lease) is not polled twice at once.
            if running.contains(&row.id) {
                continue;
            }
            let permit = self.global.clone().try_acquire_owned().ok();
            let source_id = row.id;
            let task = spawn_poll(
                &mut self.tasks,
                &self.rt,
                source,
                row,
                permit,
                self.global.clone(),
            );
            self.in_flight.insert(task, source_id);
            started += 1;
        }
        Ok(())
    }

    /// Gives back the queued sources that waited for a slot for a quarter of their lease
    /// (every slot held by slow polls): the rest of the lease must cover their own poll.
    /// They are claimed again, by this node or another, at once.
    async fn release_stale(&mut self) -> anyhow::Result<()> {
        let limit = self.rt.lease / 4;
        // Oldest first: the stale ones are at the front.
        let mut stale = Vec::new();
        while let Some((row, _)) = self.queued.front().filter(|(_, at)| at.elapsed() > limit) {
            stale.push(row.id);
            self.queued.pop_front();
        }
        if stale.is_empty() {
            return Ok(());
        }
        let now = self.now();
        self.store.blocking(move |s| s.release(&stale, now)).await?;
        // Due now.
        self.idle_until = None;
        Ok(())
    }

    /// How long until the next source is due, when the last claim found all that was due
    /// and that time has not come yet.
    fn idle_left(&self) -> Option<Duration> {
        self.idle_until
            .map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
            .filter(|left| !left.is_zero())
    }

    /// Until the next source is due, at most a tick; a tick when every slot is busy, and no
    /// time when a slot freed while claiming and sources wait in the queue for one.
    async fn sleep_time(&self) -> Duration {
        if self.global.available_permits() == 0 {
            return self.tick;
        }
        if !self.queued.is_empty() {
            // Asking the store here was a round trip after most claims of a busy cycle
            // (1.5 per claim; 0.7 ms of the server's CPU each on two nodes).
            return Duration::ZERO;
        }
        if let Some(left) = self.idle_left() {
            return left;
        }
        self.until_next_due().await
    }

    /// Until the next source is due by the store, at most a tick.
    async fn until_next_due(&self) -> Duration {
        match self.store.blocking(|s| s.next_poll_at()).await {
            Ok(Some(at)) => Duration::from_millis((at - self.now()).clamp(0, ms(self.tick)) as u64),
            _ => self.tick,
        }
    }

    /// SIGHUP: a new runtime from the config file, or the running one kept if it is invalid.
    async fn reload(&mut self) {
        notify_systemd(&[sd_notify::NotifyState::Reloading]);
        match reload(&self.config_path, &self.rt) {
            Ok(new_rt) => {
                self.rt = Arc::new(new_rt);
                // New sources may be due.
                self.idle_until = None;
                self.global = Arc::new(Semaphore::new(self.rt.concurrency));
                self.dispatcher_stop.cancel();
                let old = std::mem::replace(&mut self.dispatcher, tokio::spawn(async {}));
                let _ = old.await;
                self.dispatcher_stop = self.shutdown.child_token();
                self.dispatcher = tokio::spawn(
                    self.rt
                        .dispatcher()
                        .run(self.wake.subscribe(), self.dispatcher_stop.clone()),
                );
                self.config_hash.send_replace(self.rt.config_hash.clone());
                if let Some(catalog) = &self.catalog {
                    *catalog.write().unwrap_or_else(|p| p.into_inner()) =
                        Arc::new(catalog_of(&self.rt));
                }
                if let Some(cycle) = &mut self.first_cycle {
                    cycle.retain(|name| self.rt.sources.contains_key(name));
                }
                self.end_first_cycle_if_done();
                info!(sources = self.rt.sources.len(), "configuration reloaded");
            }
            Err(e) => {
                error!(error = %format!("{e:#}"), "reload refused; keeping the running configuration")
            }
        }
        notify_systemd(&[sd_notify::NotifyState::Ready]);
    }

    /// A poll ended: wake the dispatcher if it stored alerts; when polls drain, write what
    /// waits and give memory back.
    async fn poll_done(
        &mut self,
        done: Result<(tokio::task::Id, PollTask), tokio::task::JoinError>,
    ) {
        match done {
            Ok((task, (_, name, report))) => {
                self.in_flight.remove(&task);
                // The source is due again nine tenths of its interval from now at the
                // soonest (a failure's backoff has a tenth of jitter): looked at by then.
                if let (Some(at), Some(source)) = (&mut self.idle_until, self.rt.sources.get(&name))
                {
                    *at = (*at).min(tokio::time::Instant::now() + source.interval / 2);
                }
                if let Some(cycle) = &mut self.first_cycle {
                    cycle.polled(&name, &report);
                }
                self.end_first_cycle_if_done();
                if report.alerts > 0 {
                    self.wake.send_modify(|n| *n += 1);
                }
                if self.in_flight.is_empty() {
                    flush_records(&self.store).await;
                    release_free_memory(&self.store).await;
                }
            }
            Err(e) => {
                // Its lease runs out and the source is polled again then.
                let source_id = self.in_flight.remove(&e.id());
                error!(error = %e, ?source_id, "a poll task failed");
            }
        }
    }

    /// Once every source has been polled since the start: the summary line, and statistics
    /// for the tables the cycle filled.
    fn end_first_cycle_if_done(&mut self) {
        if !self.first_cycle.as_ref().is_some_and(FirstCycle::is_done) {
            return;
        }
        if let Some(cycle) = self.first_cycle.take() {
            cycle.log_summary();
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            if let Err(e) = store.blocking(|s| s.refresh_statistics()).await {
                warn!(error = %e, "cannot refresh the store's statistics");
            }
        });
    }

    /// On a shared store, once this node has claimed all it found due: counts the sources
    /// of its first cycle that other nodes polled since it started. Without this a node
    /// of a cluster, which polls only its share, never ended its first cycle.
    async fn count_polled_elsewhere(&mut self) {
        if !self.store.is_shared() {
            return;
        }
        let now = tokio::time::Instant::now();
        let Some(since) = self.first_cycle.as_mut().and_then(|c| c.ask_since(now)) else {
            return;
        };
        match self.store.blocking(move |s| s.polled_since(since)).await {
            Ok(polled) => {
                let running: std::collections::HashSet<i64> =
                    self.in_flight.values().copied().collect();
                if let Some(cycle) = &mut self.first_cycle {
                    cycle.polled_elsewhere(&polled, &running);
                }
                self.end_first_cycle_if_done();
            }
            Err(e) => warn!(error = %e, "cannot read which sources other nodes polled"),
        }
    }

    /// Lets running polls finish briefly (each commits or rolls back its own transaction),
    /// cuts the rest short and makes their sources due first next time.
    async fn stop(mut self) -> anyhow::Result<()> {
        notify_systemd(&[sd_notify::NotifyState::Stopping]);
        self.shutdown.cancel();
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while let Some(done) = self.tasks.join_next_with_id().await {
                let task = match &done {
                    Ok((task, _)) => *task,
                    Err(e) => e.id(),
                };
                self.in_flight.remove(&task);
            }
        })
        .await;
        self.tasks.abort_all();
        flush_records(&self.store).await;
        if !self.in_flight.is_empty() {
            warn!(
                count = self.in_flight.len(),
                "polls cut short by shutdown; they run first next time"
            );
        }
        // Cut short or never started: the sources go back to whichever node polls next.
        let now = self.now();
        let ids: Vec<i64> = (self.in_flight.into_values())
            .chain(self.queued.into_iter().map(|(row, _)| row.id))
            .collect();
        if !ids.is_empty() {
            self.store.blocking(move |s| s.release(&ids, now)).await?;
        }
        // Once the dispatcher has stopped, its notifiers go to another node at once, not
        // when their leases run out. (One still sending keeps its leases, so that no other
        // node sends the same message meanwhile.)
        let stopped = tokio::time::timeout(SHUTDOWN_GRACE, self.dispatcher).await;
        if stopped.is_ok()
            && let Err(e) = self.store.blocking(|s| s.release_notifiers()).await
        {
            warn!(error = %e, "cannot give back the notifiers' leases; other nodes take them when they run out");
        }
        info!("stopped");
        Ok(())
    }
}

/// Writes the poll outcomes the store holds back (see [`crate::store::Store::defer_record`]);
/// a failure only costs their sources an early poll.
async fn flush_records(store: &Store) {
    if let Err(e) = store.blocking(|s| s.flush_records()).await {
        warn!(error = %e, "cannot record poll outcomes; those sources are polled again early");
    }
}

/// Hands memory freed by a burst of polls back to the system, so the daemon stays small
/// between polls: SQLite's page cache (up to 2 MB, refilled from the file as needed), then
/// the free pages glibc keeps in its per-thread arenas.
async fn release_free_memory(store: &Store) {
    if let Err(e) = store.blocking(|s| s.release_memory()).await {
        warn!(error = %e, "cannot release the database cache");
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages of glibc's own heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A new runtime from the config file. A panic while building it (a bug, or a value no check
/// caught) refuses the reload instead of ending the daemon.
fn reload(path: &std::path::Path, old: &Runtime) -> anyhow::Result<Runtime> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build_from(path, old))).unwrap_or_else(
        |panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(anyhow::anyhow!(
                "building the new configuration failed: {what}"
            ))
        },
    )
}

fn build_from(path: &std::path::Path, old: &Runtime) -> anyhow::Result<Runtime> {
    let config = Config::load(path)?;
    Runtime::build_at(
        &config,
        old.ctx.store.clone(),
        old.ctx.metrics.clone(),
        old.ctx.clock.clone(),
    )
}

/// Tells systemd about our state; a no-op outside systemd.
fn notify_systemd(state: &[sd_notify::NotifyState]) {
    let mut states = state.to_vec();
    if state
        .iter()
        .any(|s| matches!(s, sd_notify::NotifyState::Reloading))
    {
        // Type=notify-reload wants the time the reload started.
        if let Ok(t) = sd_notify::NotifyState::monotonic_usec_now() {
            states.push(t);
        }
    }
    if let Err(e) = sd_notify::notify(&states) {
        warn!(error = %e, "cannot notify systemd");
    }
}
