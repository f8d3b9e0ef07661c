//! On a store shared with other daemons: say this node is alive every few seconds, take
//! over the leases of nodes gone silent, say so when the nodes run different configs, and
//! keep this node's name (taken again after a database restart; when another daemon took
//! it meanwhile, this one stops, as it would have been refused at its start).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::store::{HEARTBEAT_MS, SILENT_AFTER_MS, Store, StoreError};
use crate::time::Clock;

/// Beats until `shutdown`; `config_hash` follows reloads. Cancels `name_lost` and returns
/// when another daemon holds this node's name.
pub(super) async fn run(
    store: Store,
    clock: Clock,
    config_hash: watch::Receiver<String>,
    shutdown: CancellationToken,
    name_lost: CancellationToken,
) {
    // The configs last seen to differ from ours, so each difference is said once.
    let mut told: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let now = clock.now();
        let hash = config_hash.borrow().clone();
        let ours = hash.clone();
        match store.blocking(move |s| s.heartbeat(now, &hash)).await {
            Ok(beat) => {
                if beat.retaken {
                    info!(
                        node = %store.node(),
                        "holds this node's name again (the connection that held it had closed)"
                    );
                }
                if beat.taken > 0 {
                    info!(
                        sources = beat.taken,
                        "took over the leases of nodes silent for {} s",
                        SILENT_AFTER_MS / 1000
                    );
                }
                let others: BTreeMap<String, String> = beat
                    .peers
                    .into_iter()
                    .filter(|(_, hash)| !hash.is_empty() && *hash != ours)
                    .collect();
                if !others.is_empty() && others != told {
                    let list: Vec<String> =
                        others.iter().map(|(n, h)| format!("{n} ({h})")).collect();
                    warn!(
                        node = %store.node(),
                        config = %ours,
                        others = %list.join(", "),
                        "nodes run different config files; each polls the sources its own file lists \
                         and sends to the notifiers its own file names"
                    );
                }
                told = others;
            }
            Err(e @ StoreError::NodeTaken { .. }) => {
                error!(
                    error = %e,
                    "this node's name was taken by another daemon while the connection holding \
                     it was closed; stopping, so that one daemon polls and sends as this node"
                );
                name_lost.cancel();
                return;
            }
            Err(e) => warn!(error = %e, "cannot record this node's heartbeat"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(HEARTBEAT_MS as u64)) => {}
        }
    }
}
