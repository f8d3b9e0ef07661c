//! The `feedwatch` command: parses arguments, calls into the library, maps errors to exit
//! codes (0 success, 1 runtime failure, 2 usage or configuration error).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use feedwatch::commands::{self, UsageError};
use feedwatch::config::{Config, ConfigError, parse_duration};
use feedwatch::time::Zone;

#[derive(Parser)]
#[command(
    name = "feedwatch",
    version,
    about = "Watch news feeds and web pages for topics; alert once per new match"
)]
struct Cli {
    /// Config file [default: $FEEDWATCH_CONFIG, then ./config/feedwatch.toml]
    #[arg(long, global = true, env = "FEEDWATCH_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines on stderr: plain text (journald-friendly) or JSON for log shippers
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Show times in tables in UTC instead of the local time zone (TZ)
    #[arg(long, global = true)]
    utc: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config
    #[command(after_help = "Example: feedwatch --config /etc/feedwatch/feedwatch.toml run")]
    Run,
    /// Poll every source once, deliver due alerts, exit
    #[command(after_help = "Example: feedwatch --config config/feedwatch.toml once")]
    Once,
    /// Validate the config and print what it defines
    #[command(after_help = "Example: feedwatch check --online")]
    Check {
        /// Also fetch every source once and say what it serves (a feed, a page advertising one)
        #[arg(long)]
        online: bool,
    },
    /// Fetch (URL) or read (file) SOURCE, clean and match it, without storing or alerting
    #[command(
        after_help = "Examples: feedwatch preview https://example.org/rss.xml --json\n          feedwatch preview --explain \"Clash Report\""
    )]
    Preview {
        /// A configured source's name or URL (its tags and full_text apply), another
        /// http(s) URL, or a file path (a feed or an HTML page)
        source: String,
        /// One JSON object per item
        #[arg(long)]
        json: bool,
        /// Per item and watch: the matched terms, "excluded by", or "no term", and where a
        /// term sat only in text cleaning removed (navigation, related links, ads, comments)
        #[arg(long)]
        explain: bool,
    },
    /// Print the clean main text of one HTML page (URL or file)
    #[command(after_help = "Example: feedwatch extract https://example.org/news/article.html")]
    Extract {
        /// An http(s) URL, or a file path
        source: String,
        /// One JSON object: url, title, byline, published, text
        #[arg(long)]
        json: bool,
    },
    /// Each source's health: last poll, status, failures, next poll, items
    #[command(after_help = "Example: feedwatch sources --json")]
    Sources {
        /// One JSON object per source
        #[arg(long)]
        json: bool,
    },
    /// The daemons sharing a PostgreSQL store: each node, its heartbeat, leases and config
    #[command(after_help = "Example: feedwatch cluster --json")]
    Cluster {
        /// One JSON object per node
        #[arg(long)]
        json: bool,
    },
    /// Recent alerts and their delivery state
    #[command(
        after_help = "Examples: feedwatch alerts --since 24h --watch venezuela\n          feedwatch alerts --failed\n          feedwatch alerts --retry all"
    )]
    Alerts {
        /// One JSON object per delivery
        #[arg(long)]
        json: bool,
        /// Only alerts created within this long (e.g. 24h, 7d)
        #[arg(long, value_parser = parse_duration)]
        since: Option<Duration>,
        /// Only alerts of this watch
        #[arg(long)]
        watch: Option<String>,
        /// Only deliveries that failed for good or gave up (dead letters)
        #[arg(long)]
        failed: bool,
        /// Queue failed deliveries again: one alert id, or `all`
        #[arg(long, value_name = "ID|all")]
        retry: Option<String>,
    },
    /// Send a test alert through one notifier and report the outcome
    #[command(after_help = "Example: feedwatch test-notify ops-hook")]
    TestNotify {
        /// The notifier's name in the config
        name: String,
    },
    /// Feeds from and to other readers
    #[command(subcommand)]
    Opml(OpmlCommand),
    /// Stored articles that a query, or a configured watch, matches; newest first
    ///
    /// Examples: `feedwatch search '"Nicolas Maduro" AND NOT baseball' --since 30d`,
    /// `feedwatch search --watch venezuela` (what would this watch have sent me?)
    #[command(after_long_help = QUERY_SYNTAX)]
    Search {
        /// A query: words, "phrases", prefix*, /regex/, AND, OR, NOT, NEAR/5, title:, text:
        #[arg(required_unless_present = "watch")]
        query: Option<String>,
        /// Run this configured watch instead (its terms, query, exclusions and sources)
        #[arg(long, conflicts_with = "query")]
        watch: Option<String>,
        /// Only articles stored within this long (e.g. 30d)
        #[arg(long, value_parser = parse_duration)]
        since: Option<Duration>,
        /// One JSON object per article
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum OpmlCommand {
    /// Print `[[feed]]` blocks for the feeds of an OPML file, to add to the config
    #[command(after_help = "Example: feedwatch opml import subscriptions.opml >> feedwatch.toml")]
    Import {
        /// An OPML file exported by another reader
        file: PathBuf,
    },
    /// Print the configured feeds as OPML 2.0
    #[command(after_help = "Example: feedwatch opml export > feeds.opml")]
    Export,
}

/// The query language, shown by `feedwatch search --help` (watches' `query` uses it too).
const QUERY_SYNTAX: &str = "Query syntax (the `query` of a watch is the same):
  word             a whole word, case- and accent-insensitive (Caracas matches caracas)
  \"two words\"      a phrase
  pref*            words that start with pref
  /regex/          a regular expression
  a b, a AND b     both
  a OR b           either
  NOT a            not a
  a NEAR/5 b       a within 5 words of b (words, phrases or (x OR y) on each side)
  title:a, text:a  only in the title, only in the article text
  ( ... )          grouping; NOT binds tightest, then NEAR, AND, OR

Examples:
  feedwatch search '\"Nicolas Maduro\" AND NOT baseball' --since 30d
  feedwatch search 'title:(Caracas OR Maracaibo) oil*'
  feedwatch search --watch venezuela --json";

/// Threads for CPU work and SQLite calls (also blocking DNS lookups).
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = Cli::parse();
    init_logging(
        matches!(cli.command, Command::Run | Command::Once),
        cli.log_format,
    );
    // A panic is logged as one line; parser panics are caught and become source errors.
    std::panic::set_hook(Box::new(
        |info| tracing::error!(panic = %info, "internal error"),
    ));
    feedwatch::init_tls();

    // Parsing, cleaning and the store run on the blocking pool; a few threads keep every core
    // busy, where tokio's default (up to 512) would give each its stack and malloc arena.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    let result = runtime.block_on(dispatch(cli));
    // Work still running on the blocking pool (a long extraction at SIGTERM) is not waited
    // for: the process exits well within systemd's TimeoutStopSec.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// glibc gives threads that allocate at once heaps of their own ("arenas", up to 8 per
/// core), each keeping its freed memory and fragments. Four serve the blocking pool as fast
/// (a cold 1,000-feed poll cycle took the same CPU) with a fifth less peak memory and 2 MB
/// less between polls.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a malloc parameter, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("config/feedwatch.toml"));
    let load = || Config::load(&path);
    let zone = if cli.utc { Zone::Utc } else { Zone::Local };
    match cli.command {
        Command::Run => commands::run(load()?).await,
        Command::Once => commands::once(load()?).await,
        Command::Check { online } => {
            let config = load()?;
            commands::check(&config)?;
            if online {
                commands::check_online(&config).await?;
            }
            Ok(())
        }
        Command::Preview {
            source,
            json,
            explain,
        } => commands::preview(&load()?, &source, json, explain).await,
        Command::Extract { source, json } => {
            // The config only tunes fetching here; a missing default config is fine.
            let config = match load() {
                Ok(c) => Some(c),
                Err(_) if cli.config.is_none() && !path.exists() => None,
                Err(e) => return Err(e.into()),
            };
            commands::extract(&source, json, config.as_ref()).await
        }
        Command::Sources { json } => commands::sources(&load()?, json, zone),
        Command::Cluster { json } => commands::cluster(&load()?, json, zone),
        Command::Alerts {
            json,
            since,
            watch,
            failed,
            retry,
        } => match retry {
            Some(id) => commands::retry_alerts(&load()?, &id, zone),
            None => commands::alerts(&load()?, json, zone, since, watch.as_deref(), failed),
        },
        Command::TestNotify { name } => commands::test_notify(&load()?, &name).await,
        Command::Opml(OpmlCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| UsageError(format!("cannot read {}: {e}", file.display())))?;
            print!("{}", feedwatch::opml::import(&text).map_err(UsageError)?);
            Ok(())
        }
        Command::Opml(OpmlCommand::Export) => {
            print!("{}", feedwatch::opml::export(&load()?.sources));
            Ok(())
        }
        Command::Search {
            query,
            watch,
            since,
            json,
        } => commands::search(
            &load()?,
            query.as_deref(),
            watch.as_deref(),
            since,
            json,
            zone,
        ),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    // `feedwatch sources | head`: the reader left; that is not an error to report.
    let broken_pipe = e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if broken_pipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
    let usage =
        e.downcast_ref::<ConfigError>().is_some() || e.downcast_ref::<UsageError>().is_some();
    ExitCode::from(if usage { 2 } else { 1 })
}

fn init_logging(daemon: bool, format: LogFormat) {
    // The pool's own warnings when a database restart closes its connections ("Connection
    // error: db error", with the server's words left out) say nothing that the failed
    // operations do not say better in their own lines.
    let default = if daemon {
        "info,deadpool.postgres=error"
    } else {
        "warn,deadpool.postgres=error"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FEEDWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
