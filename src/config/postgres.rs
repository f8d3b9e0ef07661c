//! `[store] url` for PostgreSQL: its TLS parameters read as libpq (and so `psql`) reads
//! them, the rest left to tokio-postgres, which knows only three of libpq's six `sslmode`s
//! and no `sslrootcert`.

use std::path::Path;

use percent_encoding::percent_decode_str;

use crate::model::{PgSslMode, PgTls};

/// Splits a `postgres://` URL into the URL tokio-postgres reads (without `sslmode` and
/// `sslrootcert`) and its TLS settings. A relative `sslrootcert` is taken from `base`, the
/// config file's folder.
pub(super) fn split_tls(url: &str, base: &Path) -> Result<(String, PgTls), String> {
    let (address, query) = match url.split_once('?') {
        Some((address, query)) => (address, query),
        None => (url, ""),
    };
    let (mut mode, mut root) = (None, None);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("{key} is not UTF-8 once decoded"))?;
        match key {
            "sslmode" => {
                mode = Some(PgSslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "sslmode \"{value}\" is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    )
                })?);
            }
            "sslrootcert" => root = Some(value),
            _ => rest.push(pair),
        }
    }
    let tls = match root.as_deref() {
        Some("") => return Err("sslrootcert is empty: name a PEM file of certificates".into()),
        // libpq 16's word for the system's roots: verify-full unless a mode is given, and
        // no weaker mode.
        Some("system") => match mode.unwrap_or(PgSslMode::VerifyFull) {
            PgSslMode::VerifyFull => PgTls {
                mode: PgSslMode::VerifyFull,
                root_cert: None,
            },
            _ => return Err("sslrootcert=system needs sslmode=verify-full".into()),
        },
        root => PgTls {
            mode: mode.unwrap_or_default(),
            root_cert: root.map(|r| base.join(r)),
        },
    };
    if tls.mode == PgSslMode::VerifyCa && tls.root_cert.is_none() {
        return Err(
            "sslmode=verify-ca needs sslrootcert=<PEM file of the authority's certificates> \
             (verify-full checks against the system's roots without one)"
                .into(),
        );
    }
    let url = if rest.is_empty() {
        address.to_string()
    } else {
        format!("{address}?{}", rest.join("&"))
    };
    Ok((url, tls))
}
