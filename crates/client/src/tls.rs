//! Trusting a server's certificate: the system's roots always, plus [`Roots`] a caller adds (a
//! private CA, or a test's self-signed certificate). `https://` and `wss://` base URLs use them.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::{ClientError, Result};

/// Certificates trusted besides the system's.
#[derive(Debug, Clone, Default)]
pub struct Roots {
    certificates: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// The certificates of a PEM bundle; none in it is an error.
    pub fn from_pem(pem: &[u8]) -> Result<Roots> {
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| ClientError::Tls(format!("cannot read the PEM certificates: {e}")))?;
        if certificates.is_empty() {
            return Err(ClientError::Tls("no certificate in the PEM data".into()));
        }
        Ok(Roots { certificates })
    }

    pub(crate) fn reqwest_certificates(&self) -> Result<Vec<reqwest::Certificate>> {
        self.certificates
            .iter()
            .map(|c| reqwest::Certificate::from_der(c.as_ref()).map_err(ClientError::Http))
            .collect()
    }

    /// A rustls client configuration trusting the system's roots and these.
    pub(crate) fn rustls_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let mut store = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for certificate in native.certs {
            // A system certificate rustls cannot parse is skipped, as browsers do.
            let _ = store.add(certificate);
        }
        for certificate in &self.certificates {
            store
                .add(certificate.clone())
                .map_err(|e| ClientError::Tls(format!("cannot trust the certificate: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(store)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}
