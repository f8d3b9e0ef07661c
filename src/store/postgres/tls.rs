//! TLS to the server as the URL's `sslmode` says, read as libpq reads it, so that a URL that
//! works with `psql` works here: `prefer` (the default) and `require` encrypt without checking
//! the server's certificate (Debian's PostgreSQL serves a self-signed one out of the box);
//! `verify-ca` checks that an authority of `sslrootcert` signed it; `verify-full` also that it
//! names the host, against `sslrootcert` or else the system's roots. As in libpq, a mode that
//! uses TLS checks the certificate against `sslrootcert` whenever one is given.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};
use tokio_postgres::config::{Host, SslMode};

use crate::model::{PgSslMode, PgTls};

/// What tokio-postgres is told: whether TLS is off, wanted or required. Never on the
/// server's Unix socket, where it speaks no TLS: libpq ignores `sslmode` there.
pub(super) fn ssl_mode(mode: PgSslMode, hosts: &[Host]) -> SslMode {
    if !hosts.is_empty() && hosts.iter().all(|h| matches!(h, Host::Unix(_))) {
        return SslMode::Disable;
    }
    match mode {
        PgSslMode::Disable => SslMode::Disable,
        PgSslMode::Allow | PgSslMode::Prefer => SslMode::Prefer,
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
    }
}

/// The TLS client for `tls`: how much of the server's certificate it checks.
pub(super) fn client_config(tls: &PgTls) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let unchecked = || {
        Arc::new(AnyName {
            signed_by: None,
            provider: provider.clone(),
        })
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (&tls.root_cert, tls.mode) {
        // Never used; a root certificate named with it is not read.
        (_, PgSslMode::Disable) => unchecked(),
        (None, PgSslMode::VerifyFull) => {
            return <ClientConfig as rustls_platform_verifier::ConfigVerifierExt>::with_platform_verifier()
                .map_err(|e| e.to_string());
        }
        (None, PgSslMode::VerifyCa) => {
            return Err("sslmode=verify-ca needs sslrootcert".into());
        }
        (None, _) => unchecked(),
        (Some(file), mode) => {
            let signed = WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots(file)?),
                provider.clone(),
            )
            .build()
            .map_err(|e| e.to_string())?;
            if mode == PgSslMode::VerifyFull {
                signed
            } else {
                Arc::new(AnyName {
                    signed_by: Some(signed),
                    provider: provider.clone(),
                })
            }
        }
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// The certificates of a PEM file, as the authorities to trust.
fn roots(file: &Path) -> Result<RootCertStore, String> {
    let unreadable = |e: &dyn std::fmt::Display| format!("sslrootcert {}: {e}", file.display());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file).map_err(|e| unreadable(&e))? {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots.add(cert).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no certificate in it"));
    }
    Ok(roots)
}

/// Checks what libpq checks short of the host name: without a root certificate (`prefer`,
/// `require`), nothing of the certificate, so the connection is encrypted and the server
/// unauthenticated; with one (`verify-ca`, or `prefer` and `require` given one), that one of
/// its authorities signed the certificate, whatever host it names. The handshake's
/// signatures are checked against the certificate's key either way.
#[derive(Debug)]
struct AnyName {
    signed_by: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(signed_by) = &self.signed_by else {
            return Ok(ServerCertVerified::assertion());
        };
        // The chain is checked before the name: a wrong name means a trusted chain.
        match signed_by.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
