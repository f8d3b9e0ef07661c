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
    let mut tls = PgTls::default();
    let (mut mode_given, mut system_roots) = (false, false);
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value)
            .decode_utf8()
            .map_err(|_| format!("{key} is not UTF-8 once decoded"))?;
        match key {
            "sslmode" => {
                tls.mode = PgSslMode::parse(&value).ok_or_else(|| {
                    format!(
                        "sslmode \"{value}\" is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    )
                })?;
                mode_given = true;
            }
            "sslrootcert" if value.is_empty() => {
                return Err("sslrootcert is empty: name a PEM file of certificates".into());
            }
            // libpq 16's word for the system's roots.
            "sslrootcert" if value == "system" => (tls.root_cert, system_roots) = (None, true),
            "sslrootcert" => {
                (tls.root_cert, system_roots) = (Some(base.join(value.as_ref())), false)
            }
            _ => rest.push(pair),
        }
    }
    if system_roots {
        // As libpq: the system's roots make verify-full the default, and refuse a weaker mode.
        if !mode_given {
            tls.mode = PgSslMode::VerifyFull;
        } else if tls.mode != PgSslMode::VerifyFull {
            return Err("sslrootcert=system needs sslmode=verify-full".into());
        }
    }
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
