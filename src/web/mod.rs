//! The daemon's HTTP side on `[http] listen`, served by axum: the status page (`/`
//! overview, `/sources`, `/alerts`, `/watches`), `/metrics` (Prometheus) and `/healthz`.
//! Pages render from the store only and only read, except "send again" on a failed or dead
//! delivery: a POST carrying a CSRF token. Everything shown is escaped, and a Content
//! Security Policy forbids any script, so a hostile feed title stays text. With
//! `[http] token_env` every page asks for that token (a bearer header, or a login form that
//! sets a cookie); without it the server answers only requests addressed to a loopback
//! name, so a web page elsewhere cannot read it through DNS rebinding.

mod auth;
mod pages;
mod svg;
mod view;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::metrics::Metrics;
use crate::pipeline::Watchlist;
use crate::store::Store;
use crate::time::Clock;

pub(crate) use auth::Access;

/// What the pages know of the config: the watches (and their routes) and each source's
/// tags. Replaced when the daemon reloads.
pub(crate) struct Catalog {
    pub(crate) watchlist: Arc<Watchlist>,
    pub(crate) tags: HashMap<String, Vec<String>>,
}

/// Everything a request handler reads.
#[derive(Clone)]
pub(crate) struct Web {
    pub(crate) store: Store,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) catalog: Arc<RwLock<Arc<Catalog>>>,
    /// `/healthz` fails when the scheduler has not ticked for this long.
    pub(crate) stale_after: Duration,
    pub(crate) access: Arc<Access>,
    pub(crate) clock: Clock,
    views: Arc<view::Views>,
    /// Bumped when "send again" requeues a delivery: the running dispatcher's cue.
    wake: Option<Arc<tokio::sync::watch::Sender<u64>>>,
}

impl Web {
    pub(crate) fn new(
        store: Store,
        metrics: Arc<Metrics>,
        catalog: Catalog,
        stale_after: Duration,
        access: Access,
        clock: Clock,
    ) -> Web {
        Web {
            store,
            metrics,
            catalog: Arc::new(RwLock::new(Arc::new(catalog))),
            stale_after,
            access: Arc::new(access),
            clock,
            views: Arc::new(view::Views::new()),
            wake: None,
        }
    }

    /// Wakes the daemon's dispatcher through `wake` when a delivery is requeued.
    pub(crate) fn waking(self, wake: Arc<tokio::sync::watch::Sender<u64>>) -> Web {
        Web {
            wake: Some(wake),
            ..self
        }
    }

    /// Tells the dispatcher that deliveries are due.
    fn wake_dispatcher(&self) {
        if let Some(w) = &self.wake {
            w.send_modify(|n| *n += 1);
        }
    }

    /// The catalog as it is now.
    fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs store reads off the async workers.
    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Web) -> anyhow::Result<R> + Send + 'static,
    ) -> Result<R, Failure> {
        let web = self.clone();
        match tokio::task::spawn_blocking(move || f(&web)).await {
            Ok(r) => r.map_err(Failure),
            Err(e) => Err(Failure(anyhow::anyhow!("{e}"))),
        }
    }
}

/// The routes, with access control and the security headers on every answer.
pub(crate) fn router(web: Web) -> Router {
    let pages = Router::new()
        .route("/", get(pages::overview))
        .route("/sources", get(pages::sources))
        .route("/alerts", get(pages::alerts))
        .route("/alerts/retry", post(pages::retry))
        .route("/watches", get(pages::watches))
        .route("/metrics", get(metrics))
        .route("/style.css", get(stylesheet))
        .route_layer(axum::middleware::from_fn_with_state(
            web.clone(),
            auth::require,
        ));
    Router::new()
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/healthz", get(healthz))
        .merge(pages)
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

/// Serves the router on `addr` until `shutdown`.
pub(crate) async fn serve(addr: SocketAddr, web: Web, shutdown: CancellationToken) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!(%addr, error = %e, "cannot listen for the status page, /metrics and /healthz");
            return;
        }
    };
    info!(%addr, "serving the status page, /metrics and /healthz");
    let app = router(web);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = served {
        warn!(error = %e, "the status page's server stopped");
    }
}

/// No script runs, nothing loads from elsewhere, no page is framed or cached.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn metrics(State(web): State<Web>) -> Result<Response, Failure> {
    let body = web.read(|w| Ok(w.metrics.render(&w.store))).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn healthz(State(web): State<Web>) -> Response {
    let now = web.clock.now();
    let checked = web
        .read(move |w| {
            Ok(crate::metrics::health(
                &w.metrics,
                &w.store,
                w.stale_after,
                now,
            ))
        })
        .await;
    let (status, text) = match checked {
        Ok(Ok(msg)) => (StatusCode::OK, msg),
        Ok(Err(msg)) => (StatusCode::SERVICE_UNAVAILABLE, msg),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.0.to_string()),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text + "\n",
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

/// A request that failed on our side: logged, and answered 500 without detail.
#[derive(Debug)]
pub(crate) struct Failure(anyhow::Error);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        warn!(error = %format!("{:#}", self.0), "status page request failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "internal error; see the daemon's log\n",
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests;
