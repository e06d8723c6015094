//! TLS for https:// and wss:// servers: rustls with the Mozilla roots, or, when
//! `SSL_CERT_FILE` names a PEM file, the certificates in it instead (a private CA, a
//! corporate proxy), as OpenSSL-based tools read that variable.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::CliError;

/// The variable naming a PEM file of trusted certificates.
pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";

/// The certificates of `$SSL_CERT_FILE`, or `None` to trust the public roots.
pub fn custom_roots() -> Result<Option<Vec<CertificateDer<'static>>>, CliError> {
    let Some(path) = std::env::var_os(CERT_FILE_VAR).filter(|p| !p.is_empty()) else { return Ok(None) };
    let shown = path.to_string_lossy().into_owned();
    let bad = |reason: String| CliError::CertFile { path: shown.clone(), reason };
    let certs = CertificateDer::pem_file_iter(&path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("it holds no PEM certificate".to_owned()));
    }
    Ok(Some(certs))
}

/// A rustls client configuration trusting `roots`.
pub fn client_config(roots: Vec<CertificateDer<'static>>) -> Result<Arc<ClientConfig>, CliError> {
    let mut store = RootCertStore::empty();
    for cert in roots {
        store.add(cert).map_err(|e| CliError::CertFile { path: CERT_FILE_VAR.to_owned(), reason: e.to_string() })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| CliError::CertFile { path: CERT_FILE_VAR.to_owned(), reason: e.to_string() })?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
