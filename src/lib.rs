//! feedwatch watches news feeds and web pages for the topics a person cares about and
//! alerts them, once, when something new matches.
//!
//! The pipeline (see `pipeline::poll_source`): fetch → parse → dedupe/store → clean →
//! match → outbox; the dispatcher (`notify::dispatcher`) delivers the outbox.

pub mod app;
pub mod clean;
pub mod commands;
pub mod config;
pub mod dedupe;
pub mod fetch;
pub mod matcher;
pub(crate) mod metrics;
pub mod model;
pub(crate) mod notify;
pub mod opml;
pub mod parse;
pub(crate) mod pipeline;
pub(crate) mod retry;
pub mod scheduler;
pub mod store;
pub(crate) mod template;
pub(crate) mod text;
pub mod time;
pub(crate) mod units;
pub(crate) mod web;

/// Installs ring as rustls's crypto provider (reqwest is built without one); idempotent.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
