//! `cluster`: the daemons sharing a PostgreSQL store, as the store knows them.

use std::io::Write;

use serde_json::json;

use crate::app;
use crate::config::Config;
use crate::store::SILENT_AFTER_MS;
use crate::time::{Zone, iso};

/// Each node: alive or silent, its heartbeat, the sources it lists and leases, and whether
/// its config file is this one.
pub fn cluster(config: &Config, json: bool, zone: Zone) -> anyhow::Result<()> {
    let store = app::open_existing_store(config)?;
    if !store.is_shared() {
        println!(
            "the store is SQLite ({}): one daemon at a time, the holder of its lock file; \
             several nodes share a PostgreSQL store ([store] url)",
            config.store_path().display()
        );
        return Ok(());
    }
    let now = crate::time::now_ms();
    let nodes = store.nodes(now)?;
    if nodes.is_empty() {
        eprintln!("note: no node has run on this database yet");
    }
    let mut out = std::io::stdout().lock();
    for n in nodes {
        let alive = n.heartbeat_at >= now - SILENT_AFTER_MS;
        let same_config = n.config_hash == config.hash;
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&json!({
                    "node": n.node, "alive": alive, "heartbeat": iso(n.heartbeat_at),
                    "started": iso(n.started_at), "sources": n.sources, "leases": n.leases,
                    "config_hash": n.config_hash, "same_config": same_config,
                }))?
            )?;
            continue;
        }
        let state = if alive {
            "alive".to_string()
        } else {
            format!("SILENT for {} s", (now - n.heartbeat_at) / 1000)
        };
        let config_note = match (n.config_hash.is_empty(), same_config) {
            (true, _) => "config unknown".to_string(),
            (false, true) => format!("config {} (this file)", n.config_hash),
            (false, false) => format!(
                "config {} (DIFFERS from this file's {})",
                n.config_hash, config.hash
            ),
        };
        writeln!(
            out,
            "{}\t{state}\theartbeat {}\tstarted {}\t{} sources\t{} leased\t{config_note}",
            n.node,
            zone.show(n.heartbeat_at),
            zone.show(n.started_at),
            n.sources,
            n.leases,
        )?;
    }
    Ok(())
}

/// On a shared store, a line naming the live nodes whose config file is not this one.
pub(super) fn config_mismatch(
    store: &crate::store::Store,
    config: &Config,
) -> anyhow::Result<Option<String>> {
    if !store.is_shared() {
        return Ok(None);
    }
    let now = crate::time::now_ms();
    let differ: Vec<String> = store
        .nodes(now)?
        .into_iter()
        .filter(|n| n.heartbeat_at >= now - SILENT_AFTER_MS && n.config_hash != config.hash)
        .map(|n| format!("{} ({})", n.node, n.config_hash))
        .collect();
    Ok((!differ.is_empty()).then(|| {
        format!(
            "note: nodes running another config than this file ({}): {}; each polls the sources \
             its own file lists (see feedwatch cluster)",
            config.hash,
            differ.join(", ")
        )
    }))
}
