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

/// The certificates to trust instead of the public roots.
pub struct CustomRoots {
    /// The file they came from, for messages.
    path: String,
    certs: Vec<CertificateDer<'static>>,
}

impl CustomRoots {
    /// The certificates of `$SSL_CERT_FILE`, or `None` to trust the public roots.
    pub fn from_env() -> Result<Option<Self>, CliError> {
        let Some(path) = std::env::var_os(CERT_FILE_VAR).filter(|p| !p.is_empty()) else { return Ok(None) };
        let roots = Self { path: path.to_string_lossy().into_owned(), certs: Vec::new() };
        let certs = CertificateDer::pem_file_iter(&path)
            .map_err(|e| roots.error(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| roots.error(e))?;
        if certs.is_empty() {
            return Err(roots.error("it holds no PEM certificate"));
        }
        Ok(Some(Self { certs, ..roots }))
    }

    /// The certificates, in DER.
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// A rustls client configuration trusting these certificates alone.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, CliError> {
        let mut store = RootCertStore::empty();
        for cert in &self.certs {
            store.add(cert.clone()).map_err(|e| self.error(e))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.error(e))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    fn error(&self, reason: impl std::fmt::Display) -> CliError {
        CliError::CertFile { path: self.path.clone(), reason: reason.to_string() }
    }
}
