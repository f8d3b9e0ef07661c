//! Real local servers for integration tests: an HTTP server (feeds, pages, misbehaving
//! endpoints, a webhook receiver), an SMTP server speaking real SMTP (mailin), and a runner
//! for the `feedwatch` binary. Nothing here touches the internet.
#![allow(dead_code)]

pub(crate) mod postgres;
pub(crate) mod webdriver;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

pub(crate) const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

pub(crate) const WEBHOOK_SECRET: &str = "s3cret";

/// A config for these servers: one feed, the "venezuela" watch, and the given notifiers
/// (`console`, `email` on `smtp_port`, `webhook`), with short timeouts and retries.
pub(crate) fn config(http: &HttpServer, smtp_port: u16, notifiers: &[&str], extra: &str) -> String {
    let mut c = format!(
        r#"
[store]
path = "fw.db"

[fetch]
timeout = "3s"
connect_timeout = "2s"
max_body = "1MiB"
host_delay = "1ms"

[delivery]
retry_initial = "1s"
retry_max = "2s"

# The fixtures' items are dated early 2026: these tests alert on a first poll's backlog.
[alerts]
backlog = "all"

[[feed]]
name = "Clash Report"
url = "{}"

[[watch]]
name = "venezuela"
terms = ["Venezuela", "Nicolas Maduro", "Caracas"]
"#,
        http.url("/files/feed.xml")
    );
    for n in notifiers {
        c.push_str(&match *n {
            "console" => "\n[[notifier]]\nname = \"console\"\ntype = \"console\"\n".to_string(),
            "email" => format!(
                "\n[[notifier]]\nname = \"email\"\ntype = \"email\"\nsmtp = \"smtp://127.0.0.1:{smtp_port}\"\n\
                 from = \"feedwatch <alerts@example.org>\"\nto = [\"analyst@example.org\"]\n"
            ),
            "webhook" => format!(
                "\n[[notifier]]\nname = \"webhook\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret_env = \"FW_TEST_SECRET\"\n",
                http.url("/hook")
            ),
            other => panic!("unknown notifier {other}"),
        });
    }
    c.push_str(extra);
    c
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(FIXTURES).join(name)).unwrap()
}

/// A request the webhook receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

#[derive(Default)]
pub(crate) struct HttpState {
    /// Path → body served with an ETag; swapped by tests to change a feed.
    pub files: Mutex<HashMap<String, (Vec<u8>, &'static str)>>,
    /// Path → (requests, If-None-Match values seen, 304s sent).
    pub hits: Mutex<HashMap<String, usize>>,
    pub if_none_match: Mutex<Vec<Option<String>>>,
    pub not_modified: AtomicUsize,
    pub webhook: Mutex<Vec<Received>>,
    /// The webhook answers 500 this many times before it accepts.
    pub webhook_failures: AtomicUsize,
    pub webhook_attempts: AtomicUsize,
    /// The webhook takes this long to answer (a slow receiver).
    pub webhook_delay_ms: AtomicUsize,
    /// `/gen`: every request adds two items to the generated feed, until frozen.
    pub generated: AtomicUsize,
    pub generator_frozen: std::sync::atomic::AtomicBool,
}

pub(crate) struct HttpServer {
    pub addr: SocketAddr,
    pub state: Arc<HttpState>,
}

impl HttpServer {
    pub(crate) async fn start() -> HttpServer {
        Self::start_on("127.0.0.1").await
    }

    /// A server on another loopback address (`127.0.0.2`: "the internal side").
    pub(crate) async fn start_on(ip: &str) -> HttpServer {
        let state = Arc::new(HttpState::default());
        for (name, ct) in [
            ("feed.xml", "application/rss+xml"),
            ("syndicated.atom", "application/atom+xml"),
            ("article.html", "text/html; charset=utf-8"),
        ] {
            state
                .files
                .lock()
                .unwrap()
                .insert(name.to_string(), (fixture(name), ct));
        }
        let app = Router::new()
            .route("/files/{name}", get(serve_file))
            .route("/status/{code}", get(status).post(status))
            .route(
                "/html",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<!DOCTYPE html><html><body><p>Not a feed</p></body></html>",
                    )
                }),
            )
            .route("/endless", get(endless))
            .route("/trickle", get(trickle))
            .route("/hook", post(webhook))
            .route("/gen", get(generated_feed))
            .route("/gzipbomb", get(gzip_bomb))
            .route(
                "/loop",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .route("/busy/{secs}", get(busy))
            .route("/redirect/{*to}", get(redirect))
            // ntfy publishes JSON to the server's root.
            .route("/", post(webhook))
            .with_state(state.clone());
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HttpServer { addr, state }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn set_file(&self, name: &str, body: Vec<u8>, content_type: &'static str) {
        self.state
            .files
            .lock()
            .unwrap()
            .insert(name.to_string(), (body, content_type));
    }

    pub(crate) fn webhook_received(&self) -> Vec<Received> {
        self.state.webhook.lock().unwrap().clone()
    }
}

fn count(state: &HttpState, path: String) {
    *state.hits.lock().unwrap().entry(path).or_default() += 1;
}

async fn serve_file(
    State(state): State<Arc<HttpState>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    count(&state, format!("/files/{name}"));
    let Some((body, ct)) = state.files.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!(
        "\"{:x}\"",
        body.iter()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)))
    );
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .map(|v| v.to_str().unwrap().to_string());
    state.if_none_match.lock().unwrap().push(inm.clone());
    if inm.as_deref() == Some(etag.as_str()) {
        state.not_modified.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    (
        [(header::CONTENT_TYPE, ct.to_string()), (header::ETAG, etag)],
        body,
    )
        .into_response()
}

async fn status(State(state): State<Arc<HttpState>>, UrlPath(code): UrlPath<u16>) -> StatusCode {
    count(&state, format!("/status/{code}"));
    StatusCode::from_u16(code).unwrap()
}

/// A body that never ends.
async fn endless(State(state): State<Arc<HttpState>>) -> Response {
    count(&state, "/endless".into());
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One byte every 200 ms, forever.
async fn trickle(State(state): State<Arc<HttpState>>) -> Response {
    count(&state, "/trickle".into());
    let stream = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((Ok::<_, std::io::Error>(Bytes::from_static(b"<")), ()))
    });
    (
        [(header::CONTENT_TYPE, "application/rss+xml")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// 429 Too Many Requests with `Retry-After: secs`.
async fn busy(State(state): State<Arc<HttpState>>, UrlPath(secs): UrlPath<u64>) -> Response {
    count(&state, format!("/busy/{secs}"));
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, secs.to_string())],
    )
        .into_response()
}

/// `302 Location: http://<to>` (`/redirect/127.0.0.2:8002/files/feed.xml`).
async fn redirect(State(state): State<Arc<HttpState>>, UrlPath(to): UrlPath<String>) -> Response {
    count(&state, "/redirect".into());
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("http://{to}"))],
    )
        .into_response()
}

/// 64 MiB of zeros, gzipped to about 64 KiB, served as a feed.
async fn gzip_bomb(State(state): State<Arc<HttpState>>) -> Response {
    use std::io::Write;
    count(&state, "/gzipbomb".into());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let body = gz.finish().unwrap();
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        body,
    )
        .into_response()
}

/// A feed that grows by two matching items on every request (the last 30 are shown).
async fn generated_feed(State(state): State<Arc<HttpState>>) -> Response {
    count(&state, "/gen".into());
    let n = if state.generator_frozen.load(Ordering::SeqCst) {
        state.generated.load(Ordering::SeqCst)
    } else {
        state.generated.fetch_add(2, Ordering::SeqCst) + 2
    };
    let items: String = (n.saturating_sub(30)..n)
        .rev()
        .map(|i| format!("<item><title>Caracas bulletin {i}</title><guid>gen-{i}</guid><description>Bulletin {i} from Caracas.</description></item>"))
        .collect();
    let body =
        format!("<rss version=\"2.0\"><channel><title>Generator</title>{items}</channel></rss>");
    ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
}

async fn webhook(
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    state.webhook_attempts.fetch_add(1, Ordering::SeqCst);
    let fail = state
        .webhook_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    // Taken in before the (slow) answer: a sender that dies meanwhile never learns it was
    // delivered, as with a real receiver.
    state
        .webhook
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let delay = state.webhook_delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    StatusCode::OK
}

/// A real SMTP server (mailin's state machine over tokio), keeping every message it accepts.
pub(crate) struct SmtpServer {
    pub addr: SocketAddr,
    pub messages: Arc<Mutex<Vec<Vec<u8>>>>,
    /// With [`SmtpServer::start_with_login`]: the password it accepts (settable).
    pub password: Arc<Mutex<String>>,
    /// Logins tried (AUTH PLAIN and LOGIN).
    pub logins: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Mailbox {
    current: Vec<u8>,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
    password: Arc<Mutex<String>>,
    logins: Arc<AtomicUsize>,
}

impl Mailbox {
    fn login(&self, password: &str) -> mailin::Response {
        self.logins.fetch_add(1, Ordering::SeqCst);
        if *self.password.lock().unwrap() == password {
            mailin::response::AUTH_OK
        } else {
            mailin::response::INVALID_CREDENTIALS
        }
    }
}

impl mailin::Handler for Mailbox {
    fn auth_plain(&mut self, _: &str, _: &str, password: &str) -> mailin::Response {
        self.login(password)
    }
    fn auth_login(&mut self, _: &str, password: &str) -> mailin::Response {
        self.login(password)
    }
    fn data_start(&mut self, _: &str, _: &str, _: bool, _: &[String]) -> mailin::Response {
        self.current.clear();
        mailin::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }
    fn data_end(&mut self) -> mailin::Response {
        self.messages
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin::response::OK
    }
}

impl SmtpServer {
    /// Listens on `addr` (`127.0.0.1:0` for any free port).
    pub(crate) async fn start(addr: &str) -> SmtpServer {
        Self::listen(addr, None).await
    }

    /// Listens on `addr` and requires a login (AUTH PLAIN or LOGIN, over plain text: the
    /// tests run on loopback) with `password`.
    pub(crate) async fn start_with_login(addr: &str, password: &str) -> SmtpServer {
        Self::listen(addr, Some(password)).await
    }

    async fn listen(addr: &str, password: Option<&str>) -> SmtpServer {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let mbox = Mailbox {
            current: Vec::new(),
            messages: messages.clone(),
            password: Arc::new(Mutex::new(password.unwrap_or_default().to_string())),
            logins: Arc::default(),
        };
        let (stored_password, logins) = (mbox.password.clone(), mbox.logins.clone());
        let mut builder = mailin::SessionBuilder::new("feedwatch-test");
        if password.is_some() {
            builder
                .enable_auth(mailin::AuthMechanism::Plain)
                .enable_auth(mailin::AuthMechanism::Login)
                .insecure_enable_plaintext_auth();
        }
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    return;
                };
                let mbox = mbox.clone();
                let mut session = builder.build(peer.ip(), mbox);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut out = Vec::new();
                    session.greeting().write_to(&mut out).unwrap();
                    if write.write_all(&out).await.is_err() {
                        return;
                    }
                    let mut reader = BufReader::new(read);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        if reader.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let resp = session.process(&line);
                        let mut out = Vec::new();
                        match resp.action {
                            mailin::Action::NoReply => continue,
                            _ => resp.write_to(&mut out).unwrap(),
                        }
                        if write.write_all(&out).await.is_err()
                            || resp.action == mailin::Action::Close
                        {
                            return;
                        }
                    }
                });
            }
        });
        SmtpServer {
            addr,
            messages,
            password: stored_password,
            logins,
            task,
        }
    }

    pub(crate) fn stop(&self) {
        self.task.abort();
    }

    pub(crate) fn messages(&self) -> Vec<mail_parser::Message<'static>> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .map(|raw| {
                mail_parser::MessageParser::default()
                    .parse(raw)
                    .unwrap()
                    .into_owned()
            })
            .collect()
    }
}

/// A free local port with nothing listening on it (yet).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A temporary folder with a config file in it.
pub(crate) struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub(crate) fn new(config: &str) -> Workdir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feedwatch.toml"), config).unwrap();
        Workdir { dir }
    }

    pub(crate) fn config(&self) -> PathBuf {
        self.dir.path().join("feedwatch.toml")
    }

    pub(crate) fn write_config(&self, config: &str) {
        std::fs::write(self.config(), config).unwrap();
    }

    /// Runs `feedwatch --config <this config> ARGS` to completion (bounded by 60 s).
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        let child = self.command(args).kill_on_drop(true).output();
        tokio::time::timeout(Duration::from_secs(60), child)
            .await
            .expect("feedwatch did not finish in 60 s")
            .unwrap()
    }

    /// `feedwatch run` in the background, its output discarded; killed when dropped.
    pub(crate) fn spawn_daemon(&self) -> tokio::process::Child {
        self.command(&["run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    pub(crate) fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        cmd.arg("--config").arg(self.config()).args(args);
        cmd.env_remove("FEEDWATCH_CONFIG")
            .env_remove("STATE_DIRECTORY")
            .env("FEEDWATCH_LOG", "info");
        cmd.env("FW_TEST_SECRET", WEBHOOK_SECRET);
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    /// What `feedwatch once` does (poll every source, deliver what is due, prune), in this
    /// process on `clock`: a test moves the clock instead of waiting for time to pass. Each
    /// call builds its runtime anew, as a new process would.
    pub(crate) async fn once_at(&self, clock: &feedwatch::time::Clock) {
        feedwatch::init_tls();
        static SECRET: std::sync::Once = std::sync::Once::new();
        // SAFETY: set once, before any runtime of this process reads it, to the one value
        // `command` gives the binary.
        SECRET.call_once(|| unsafe { std::env::set_var("FW_TEST_SECRET", WEBHOOK_SECRET) });
        let config = feedwatch::config::Config::load(&self.config()).unwrap();
        let store = feedwatch::app::open_store(&config).unwrap();
        let rt = std::sync::Arc::new(
            feedwatch::app::Runtime::build_at(&config, store, Default::default(), clock.clone())
                .unwrap(),
        );
        feedwatch::scheduler::poll_all(&rt).await.unwrap();
        rt.deliver_due().await.unwrap();
        rt.prune().await.unwrap();
    }

    /// The store's sources due at `at`, by name: what a running daemon would claim then.
    pub(crate) fn due_at(&self, at: i64) -> Vec<String> {
        let config = feedwatch::config::Config::load(&self.config()).unwrap();
        let store = feedwatch::app::open_store(&config).unwrap();
        store
            .due_sources(at, 1000)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect()
    }

    /// `sources --json`, one object per source.
    pub(crate) async fn sources(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["sources", "--json"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines_json(&out.stdout)
    }

    pub(crate) async fn alerts(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["alerts", "--json"]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        lines_json(&out.stdout)
    }
}

pub(crate) fn lines_json(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits (up to `limit`) for `cond`, checking every 50 ms. Tests wait for outcomes,
/// they never assert on timings.
pub(crate) async fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// [`wait_for`] with a condition that has to await (an HTTP request, say).
pub(crate) async fn wait_for_async<F: std::future::Future<Output = bool>>(
    limit: Duration,
    mut cond: impl FnMut() -> F,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond().await
}

/// Sends a signal (`TERM`, `HUP`, ...) to a child process.
pub(crate) fn signal(child: &tokio::process::Child, sig: &str) {
    let pid = child.id().expect("child still running").to_string();
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}
