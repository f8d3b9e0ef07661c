//! TLS to PostgreSQL as the URL's `sslmode` says, read as libpq (`psql`) reads it, against a
//! throwaway server that accepts TLS connections only: its certificate is signed by a test
//! authority, for `localhost`. `prefer` (the default) and `require` connect without checking
//! it, as Debian's server with its self-signed certificate needs; `verify-ca` checks the
//! authority, `verify-full` the authority and the host name; `disable` is refused by the
//! server; the server's socket, named as the URL's host, takes no TLS whatever the mode. Each
//! case opens the store as the daemon does, from a config file.

mod common;

use std::path::Path;

use common::postgres::PgCluster;
use feedwatch::config::Config;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A certificate authority: its certificate in PEM, and what signs with it.
struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn authority(name: &str) -> Authority {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Authority { cert, key }
}

/// A server that takes TLS connections only, its certificate for `localhost` signed by
/// `ca`; the authority's certificate and another authority's are in `ca.pem` and
/// `other-ca.pem` beside it.
fn tls_server(dir: &Path, ca: &Authority) -> PgCluster {
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca.cert, &ca.key)
        .unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
    // The server refuses a key others may read.
    std::fs::set_permissions(
        dir.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        dir.join("hba.conf"),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n\
         hostnossl all all all reject\n",
    )
    .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert.pem()).unwrap();
    std::fs::write(dir.join("other-ca.pem"), authority("other").cert.pem()).unwrap();
    let d = dir.display();
    // The cluster's own folder: its server runs as another user when the tests are root,
    // and is given the folder with the files in it.
    PgCluster::start_in(
        dir,
        &format!(
            "-c ssl=on -c ssl_cert_file={d}/server.crt -c ssl_key_file={d}/server.key \
             -c hba_file={d}/hba.conf"
        ),
    )
}

/// Opens the store as the daemon does, from a config whose `[store] url` is `url` (in
/// `dir`, so a relative `sslrootcert` is read from there): the error, if any.
fn open(dir: &Path, url: &str) -> Result<(), String> {
    feedwatch::init_tls();
    let text = format!("[store]\nurl = \"{url}\"\nnode = \"tls\"\n");
    let config = Config::parse(&text, &dir.join("feedwatch.toml")).map_err(|e| e.to_string())?;
    feedwatch::app::open_store(&config)
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

#[test]
fn sslmode_is_read_as_libpq_reads_it() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let ca = authority("feedwatch test authority");
    let pg = tls_server(dir, &ca);
    pg.sql("postgres", "CREATE DATABASE fw");
    let port = pg.port;
    let at = |host: &str, query: &str| format!("postgres://feedwatch@{host}:{port}/fw{query}");

    // Encrypted, the certificate unchecked: what psql does with the same URLs. Only TLS
    // connections are let in, so each of these used it.
    for query in ["", "?sslmode=prefer", "?sslmode=require", "?sslmode=allow"] {
        let url = at("127.0.0.1", query);
        assert_eq!(open(dir, &url), Ok(()), "{url}");
    }
    // Checked against the test authority: its signature, and the name where asked.
    for (host, query) in [
        ("127.0.0.1", "?sslmode=verify-ca&sslrootcert=ca.pem"),
        ("localhost", "?sslmode=verify-full&sslrootcert=ca.pem"),
        // As in libpq, a root certificate makes `require` check the signature.
        ("127.0.0.1", "?sslmode=require&sslrootcert=ca.pem"),
    ] {
        let url = at(host, query);
        assert_eq!(open(dir, &url), Ok(()), "{url}");
    }
    // Refused, each with its reason.
    let refused = |host: &str, query: &str, why: &str| {
        let url = at(host, query);
        let e = open(dir, &url).expect_err(&url);
        assert!(
            e.contains("cannot open the PostgreSQL store") && e.contains(why),
            "{url}: {e}"
        );
    };
    // The server wants TLS.
    refused("127.0.0.1", "?sslmode=disable", "no encryption");
    // The certificate names localhost, not the address connected to.
    refused(
        "127.0.0.1",
        "?sslmode=verify-full&sslrootcert=ca.pem",
        "certificate",
    );
    // The system's roots do not hold the test authority (libpq 16's `sslrootcert=system`
    // names them, and makes verify-full the mode).
    refused("localhost", "?sslmode=verify-full", "certificate");
    refused("localhost", "?sslrootcert=system", "certificate");
    // Another authority signed nothing here.
    refused(
        "127.0.0.1",
        "?sslmode=verify-ca&sslrootcert=other-ca.pem",
        "certificate",
    );
    refused(
        "127.0.0.1",
        "?sslmode=verify-ca&sslrootcert=missing.pem",
        "sslrootcert",
    );
    // The server's socket folder as the host, percent-encoded: the server's rule for local
    // connections lets it in, and no TLS is asked there whatever `sslmode` says (the server
    // speaks none on its socket; libpq ignores `sslmode` there).
    let socket = dir.display().to_string().replace('/', "%2F");
    for query in ["", "?sslmode=require", "?sslmode=verify-full"] {
        let url = format!("postgres://feedwatch@{socket}:{port}/fw{query}");
        assert_eq!(open(dir, &url), Ok(()), "{url}");
    }
}
