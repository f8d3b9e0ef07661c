use std::path::Path;

use std::time::Duration;

use super::*;
use crate::model::PgSslMode;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("test.toml"))
}

fn err(text: &str) -> String {
    parse(text)
        .expect_err("config should be rejected")
        .to_string()
}

const FEED: &str = "[[feed]]\nname = \"a\"\nurl = \"https://example.org/rss\"\n";

#[test]
fn empty_config_gets_defaults() {
    let c = parse("").unwrap();
    assert_eq!(c.fetch.concurrency, 16);
    assert_eq!(c.fetch.max_body, 10 << 20);
    assert_eq!(c.delivery.retry_initial, Duration::from_secs(10));
    assert!(c.sources.is_empty());
}

#[test]
fn host_delay_may_be_zero() {
    let c = parse("[fetch]\nhost_delay = \"0s\"\n").unwrap();
    assert_eq!(c.fetch.host_delay, Duration::ZERO);
}

#[test]
fn errors_name_file_line_and_column() {
    let cases = [
        // (config, expected "file:line:col: message" fragments)
        (
            "[fetch]\ntimeout = \"30s\"\ntimout = \"1m\"\n",
            "test.toml:3:1: unknown field `timout`",
        ),
        (
            "[fetch]\ntimeout = \"30 parsecs\"\n",
            "test.toml:2:11: invalid duration",
        ),
        (
            "[fetch]\nmax_body = \"10 lightyears\"\n",
            "test.toml:2:12: invalid size",
        ),
        (
            &format!("{FEED}[[feed]]\nname = \"a\"\nurl = \"https://e.org/x\"\n"),
            "test.toml:5:8: duplicate source name \"a\"",
        ),
        (
            "[[watch]]\nname = \"w\\u0000\"\nterms = [\"x\"]\n",
            "test.toml:2:8: watch name must be one line without control characters",
        ),
        (
            "[[feed]]\nname = \"a\"\nurl = \"not a url\"\n",
            "test.toml:3:7: invalid URL",
        ),
        (
            "[[feed]]\nname = \"a\"\nurl = \"ftp://e.org/x\"\n",
            "test.toml:3:7: invalid URL \"ftp://e.org/x\": must be http",
        ),
        (
            &format!("{FEED}[[watch]]\nname = \"w\"\nterms = [\"x\"]\nnotify = [\"nope\"]\n"),
            "test.toml:7:11: watch \"w\" notifies \"nope\", but no [[notifier]] has that name",
        ),
        (
            "[[watch]]\nname = \"w\"\nterms = []\n",
            "test.toml:2:8: watch \"w\" has neither `terms` nor `query`",
        ),
        (
            "[[watch]]\nname = \"w\"\nquery = 'Maduro AND (talks OR'\n",
            "test.toml:3:30: watch \"w\": query at character 21: the query ends",
        ),
        (
            "[[watch]]\nname = \"w\"\nterms = [\"x\"]\nsources = [\"nope\"]\n",
            "test.toml:4:12: watch \"w\" names source \"nope\"",
        ),
        (
            "[[watch]]\nname = \"w\"\nterms = [\"--\"]\n",
            "test.toml:3:10: \"--\" has no letters",
        ),
        (
            "[[notifier]]\nname = \"n\"\ntype = \"pager\"\n",
            "test.toml:3:8: unknown variant `pager`",
        ),
        (
            "[[notifier]]\nname = \"n\"\ntype = \"webhook\"\n",
            "notifier \"n\" of type webhook needs `url`",
        ),
        (
            "[[notifier]]\nname = \"n\"\ntype = \"console\"\nurl = \"https://e.org\"\n",
            "test.toml:4:7: key `url` does not apply to notifier \"n\" of type console",
        ),
        (
            "[[notifier]]\nname = \"n\"\ntype = \"email\"\nsmtp = \"imap://x\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]\n",
            "test.toml:4:8: invalid smtp URL",
        ),
        (
            "[[page]]\nname = \"p\"\nurl = \"https://e.org\"\nselect = \"main[[\"\n",
            "test.toml:4:10: invalid CSS selector",
        ),
        (
            "[fetch]\nconcurrency = 0\n",
            "concurrency must be at least 1",
        ),
        (
            "[[feed]]\nname = \"a\"\nurl = \"https://e.org\"\ninterval = \"0s\"\n",
            "test.toml:4:12: duration must be greater than zero",
        ),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(
            got.contains(want),
            "config:\n{text}\nwant: {want}\ngot:  {got}"
        );
        assert!(!got.contains('\n'), "one line: {got}");
    }
}

#[test]
fn relative_store_path_is_taken_from_the_config_folder() {
    let c = Config::parse(
        "[store]\npath = \"data/fw.db\"\n",
        Path::new("/etc/feedwatch/feedwatch.toml"),
    )
    .unwrap();
    if std::env::var_os("STATE_DIRECTORY").is_none() {
        assert_eq!(c.store_path(), Path::new("/etc/feedwatch/data/fw.db"));
    }
}

/// Every key of the schema, as the example config must show them.
const SCHEMA_KEYS: &[&str] = &[
    "[store]",
    "path",
    "url",
    "password_env",
    "node",
    "keep",
    "[fetch]",
    "timeout",
    "connect_timeout",
    "max_body",
    "concurrency",
    "per_host",
    "host_delay",
    "max_hint",
    "max_backoff",
    "max_redirects",
    "max_pages_per_poll",
    "user_agent",
    "allow_private",
    "[delivery]",
    "retry_initial",
    "retry_max",
    "give_up_after",
    "[[feed]]",
    "name",
    "url",
    "interval",
    "full_text",
    "[[page]]",
    "mode",
    "select",
    "[[watch]]",
    "terms",
    "query",
    "exclude",
    "sources",
    "tags",
    "notify",
    "[[notifier]]",
    "type",
    "smtp",
    "password_env",
    "insecure_auth",
    "from",
    "to",
    "secret_env",
    "format",
    "chat_id",
    "headers",
    "body_template",
    "subject_template",
    "text_template",
    "html_template",
    "digest",
    "max_per_hour",
    "quiet_hours",
    "timezone",
    "[health]",
    "[alerts]",
    "backlog",
    "[http]",
    "listen",
    "token_env",
    "alert_after",
];

#[test]
fn example_config_is_valid_and_mentions_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedwatch.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let config = Config::parse(&text, &path).unwrap();
    for key in SCHEMA_KEYS {
        let present = if key.starts_with('[') {
            text.lines().any(|l| l.trim() == *key)
        } else {
            // Shown set, or shown commented out (a key whose example value would change
            // what the example does, like `[http] token_env`).
            text.lines().any(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("# ").unwrap_or(l);
                l.starts_with(&format!("{key} ="))
            })
        };
        assert!(present, "config/feedwatch.toml does not show `{key}`");
    }
    for kind in ["email", "webhook", "console"] {
        assert!(
            config.notifiers.iter().any(|n| n.channel.kind() == kind),
            "{kind} notifier missing"
        );
    }
    assert!(
        config
            .sources
            .iter()
            .any(|s| matches!(s.kind, crate::model::SourceKind::Page { .. }))
    );
}

#[test]
fn durations_and_sizes_are_bounded() {
    let e = err(&format!("{FEED}interval = \"200000000000d\"\n"));
    assert!(
        e.starts_with("test.toml:4:12:") && e.contains("longer than 100 years"),
        "{e}"
    );
    let e = err("[fetch]\ntimeout = \"18446744073709551615s18446744073709551615s\"\n");
    assert!(
        e.contains("test.toml:2:11:") && e.contains("longer than 100 years"),
        "{e}"
    );
    let e = err("[fetch]\nmax_body = \"100000000GiB\"\n");
    assert!(
        e.contains("test.toml:2:12:") && e.contains("larger than 1TiB"),
        "{e}"
    );
}

#[test]
fn header_values_are_one_line() {
    let e = err("[fetch]\nuser_agent = \"a\\r\\nX-Evil: 1\"\n");
    assert!(
        e.starts_with("test.toml:2:14:") && e.contains("user_agent must be one line"),
        "{e}"
    );
    let hook = |headers: &str| {
        format!(
            "[[notifier]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"https://e.org/x\"\nheaders = {headers}\n"
        )
    };
    let e = err(&hook("{ X-A = \"1\\nX-B: 2\" }"));
    assert!(
        e.starts_with("test.toml:5:11:") && e.contains("one line"),
        "{e}"
    );
    let e = err(&hook("{ Authorization = \"Bearer ${TOKEN\" }"));
    assert!(e.contains("unclosed `${`"), "{e}");
    let e = err(
        "[[notifier]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"https://e.org/bot${TOKEN/x\"\n",
    );
    assert!(
        e.starts_with("test.toml:4:7:") && e.contains("unclosed `${`"),
        "{e}"
    );
    parse(&hook("{ Authorization = \"Bearer ${TOKEN}\" }")).unwrap();
}

#[test]
fn a_password_is_not_sent_in_the_clear_to_another_host() {
    let email = |smtp: &str, extra: &str| {
        format!(
            "[[notifier]]\nname = \"m\"\ntype = \"email\"\nsmtp = \"{smtp}\"\npassword_env = \"PW\"\n\
             from = \"a@example.org\"\nto = [\"b@example.org\"]\n{extra}"
        )
    };
    let e = err(&email("smtp://u@mail.example.org:25", ""));
    assert!(
        e.starts_with("test.toml:5:16:") && e.contains("in the clear to mail.example.org"),
        "{e}"
    );
    parse(&email(
        "smtp://u@mail.example.org:25",
        "insecure_auth = true\n",
    ))
    .unwrap();
    parse(&email("smtp://u@127.0.0.1:2525", "")).unwrap();
    parse(&email("smtp+starttls://u@mail.example.org", "")).unwrap();
    parse(&email("smtps://u@mail.example.org", "")).unwrap();
}

#[test]
fn a_status_page_beyond_loopback_needs_a_token() {
    let e = err("[http]\nlisten = \"0.0.0.0:9188\"\n");
    assert!(
        e.contains("test.toml:2:10") && e.contains("set [http] token_env"),
        "{e}"
    );
    let c = parse("[http]\nlisten = \"0.0.0.0:9188\"\ntoken_env = \"FW_TOKEN\"\n").unwrap();
    assert_eq!(c.http.token_env.as_deref(), Some("FW_TOKEN"));
    let c = parse("[http]\nlisten = \"[::1]:9188\"\n").unwrap();
    assert!(c.http.listen.is_some() && c.http.token_env.is_none());
}

/// `sslmode` and `sslrootcert` are read as libpq reads them and taken out of the URL that
/// tokio-postgres reads (it knows three of the six modes and no root certificate); the URL's
/// other parameters stay, and a relative root certificate is taken from the config's folder.
#[test]
fn postgres_tls_is_read_as_libpq_reads_it() {
    let pg = |url: &str| {
        let text = format!("[store]\nurl = \"{url}\"\n");
        Config::parse(&text, Path::new("/etc/feedwatch/feedwatch.toml"))
            .unwrap()
            .store
            .postgres
            .unwrap()
    };
    let p = pg("postgres://fw@db/fw");
    assert_eq!(
        (p.url.as_str(), &p.tls),
        ("postgres://fw@db/fw", &PgTls::default())
    );
    assert_eq!(p.tls.mode, PgSslMode::Prefer);
    let p = pg(
        "postgres://fw@db/fw?application_name=n1&sslmode=verify-full&sslrootcert=ca%20files/db.pem",
    );
    assert_eq!(p.url, "postgres://fw@db/fw?application_name=n1");
    assert_eq!(p.tls.mode, PgSslMode::VerifyFull);
    assert_eq!(
        p.tls.root_cert.as_deref(),
        Some(Path::new("/etc/feedwatch/ca files/db.pem"))
    );
    let p = pg("postgresql://fw@db/fw?sslrootcert=/srv/ca.pem&sslmode=verify-ca");
    assert_eq!(p.url, "postgresql://fw@db/fw");
    assert_eq!(
        (p.tls.mode, p.tls.root_cert.as_deref()),
        (PgSslMode::VerifyCa, Some(Path::new("/srv/ca.pem")))
    );
    for (mode, read) in [
        ("disable", PgSslMode::Disable),
        ("allow", PgSslMode::Allow),
        ("require", PgSslMode::Require),
    ] {
        assert_eq!(
            pg(&format!("postgres://db/fw?sslmode={mode}")).tls.mode,
            read
        );
    }
    assert!(
        err("[store]\nurl = \"postgres://db/fw?sslrootcert=\"\n").contains("sslrootcert is empty")
    );
    // libpq 16's `system`: the system's roots, and verify-full unless a weaker mode is
    // asked, which is refused.
    let p = pg("postgres://db/fw?sslrootcert=system");
    assert_eq!((p.tls.mode, p.tls.root_cert), (PgSslMode::VerifyFull, None));
    let p = pg("postgres://db/fw?sslmode=verify-full&sslrootcert=system");
    assert_eq!((p.tls.mode, p.tls.root_cert), (PgSslMode::VerifyFull, None));
    assert!(
        err("[store]\nurl = \"postgres://db/fw?sslrootcert=system&sslmode=require\"\n")
            .contains("sslrootcert=system needs sslmode=verify-full")
    );
}

#[test]
fn store_is_sqlite_or_postgres_never_both() {
    let c = parse("").unwrap();
    assert!(c.store.postgres.is_none());
    let c = parse(
        "[store]\nurl = \"postgres://fw@db:5432/fw?sslmode=require\"\npassword_env = \"PW\"\nnode = \"a\"\n",
    )
    .unwrap();
    let pg = c.store.postgres.unwrap();
    assert_eq!(
        (
            pg.url.as_str(),
            pg.tls.mode,
            pg.password_env.as_deref(),
            pg.node.as_deref()
        ),
        (
            "postgres://fw@db:5432/fw",
            PgSslMode::Require,
            Some("PW"),
            Some("a")
        )
    );
    let e = err("[store]\npath = \"x.db\"\nurl = \"postgres://fw@db/fw\"\n");
    assert!(e.contains("test.toml:2:8") && e.contains("both set"), "{e}");
    let e = err("[store]\nurl = \"mysql://db/fw\"\n");
    assert!(e.contains("not a postgres:// URL"), "{e}");
    let e = err("[store]\nurl = \"postgres://db/fw?sslmode=sometimes\"\n");
    assert!(e.contains("does not parse"), "{e}");
    let e = err("[store]\nurl = \"postgres://db/fw?sslmode=verify-ca\"\n");
    assert!(e.contains("verify-ca needs sslrootcert"), "{e}");
    let e = err("[store]\nurl = \"postgres://db/fw?sslcert=x.pem\"\n");
    assert!(e.contains("does not parse") && e.contains("sslcert"), "{e}");
    let e = err("[store]\nnode = \"a\"\n");
    assert!(e.contains("set [store] url too"), "{e}");
    // Nodes compare a hash of the settings but [store], where each names itself.
    let hash = |t: &str| parse(t).unwrap().hash;
    let feed = "[[feed]]\nname = \"a\"\nurl = \"http://e.org/f\"\n";
    assert_eq!(
        hash(feed),
        hash(&format!("# a comment\n{feed}[store]\npath = \"b.db\"\n"))
    );
    assert_ne!(hash(feed), hash(""));
}
