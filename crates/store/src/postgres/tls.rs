//! TLS to PostgreSQL, from the URL's `sslmode` (and `sslrootcert`), with libpq's meanings:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | absent, `disable` | no | — |
//! | `prefer` | when the server offers it | no |
//! | `require` | yes | no; with `sslrootcert`, as `verify-ca` (as libpq does) |
//! | `verify-ca` | yes | signed by `sslrootcert` (or a system root); any host name |
//! | `verify-full` | yes | as `verify-ca`, and issued for the host connected to |
//!
//! Both parameters are taken out of the URL before `tokio-postgres` reads it (it knows neither
//! the `verify-*` modes nor `sslrootcert`). rustls with the ring provider.

use std::path::PathBuf;
use std::sync::Arc;

use confab_core::{Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to connect: the configuration `tokio-postgres` reads, and the TLS to use.
pub(crate) struct Target {
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tls: Tls,
}

#[derive(Clone)]
pub(crate) enum Tls {
    Off,
    Rustls(MakeRustlsConnect),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Reads `url` (a `postgres://` URL or `key=value` words).
pub(crate) fn target(url: &str) -> Result<Target> {
    let (rest, mode, root) = split(url)?;
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|e| Error::Internal(format!("invalid database URL: {e}")))?;
    let tls = match mode {
        Mode::Disable => {
            config.ssl_mode(SslMode::Disable);
            Tls::Off
        }
        Mode::Prefer => {
            config.ssl_mode(SslMode::Prefer);
            Tls::Rustls(connector(mode, root)?)
        }
        _ => {
            config.ssl_mode(SslMode::Require);
            Tls::Rustls(connector(mode, root)?)
        }
    };
    Ok(Target { config, tls })
}

/// Connects once (outside the pool), driving the connection on a task of its own.
pub(crate) async fn connect(
    config: &tokio_postgres::Config,
    tls: &Tls,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let map = |e: tokio_postgres::Error| Error::Unavailable(format!("database: {e}"));
    Ok(match tls {
        Tls::Off => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(map)?;
            (
                client,
                tokio::spawn(async move {
                    let _ = connection.await;
                }),
            )
        }
        Tls::Rustls(tls) => {
            let (client, connection) = config.connect(tls.clone()).await.map_err(map)?;
            (
                client,
                tokio::spawn(async move {
                    let _ = connection.await;
                }),
            )
        }
    })
}

/// The URL without `sslmode` and `sslrootcert`, and what they said.
fn split(url: &str) -> Result<(String, Mode, Option<PathBuf>)> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool> {
        match key {
            "sslmode" => {
                mode = Some(match value {
                    "disable" => Mode::Disable,
                    "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => {
                        return Err(Error::Internal(format!(
                            "invalid database URL: sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
                        )))
                    }
                });
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if let Some((base, query)) = url.split_once('?').filter(|_| url.contains("://")) {
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            if !take(key, &value)? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else if url.contains("://") {
        url.to_string()
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            if !take(key, value)? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    let mode = match (mode, &root) {
        (None, _) | (Some(Mode::Disable), _) => Mode::Disable,
        // libpq: `require` with a root certificate verifies like `verify-ca`.
        (Some(Mode::Require), Some(_)) => Mode::VerifyCa,
        (Some(mode), _) => mode,
    };
    Ok((rest, mode, root))
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn connector(mode: Mode, root: Option<PathBuf>) -> Result<MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let checked = match mode {
        Mode::VerifyCa | Mode::VerifyFull => {
            let mut store = rustls::RootCertStore::empty();
            match &root {
                Some(path) => {
                    let certificates = CertificateDer::pem_file_iter(path)
                        .and_then(|c| c.collect::<std::result::Result<Vec<_>, _>>())
                        .map_err(|e| Error::Internal(format!("sslrootcert {}: {e}", path.display())))?;
                    for certificate in certificates {
                        store
                            .add(certificate)
                            .map_err(|e| Error::Internal(format!("sslrootcert {}: {e}", path.display())))?;
                    }
                }
                None => {
                    for certificate in rustls_native_certs::load_native_certs().certs {
                        let _ = store.add(certificate);
                    }
                }
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| Error::Internal(format!("database TLS: {e}")))?;
            Some(verifier)
        }
        _ => None,
    };
    let verifier =
        Arc::new(Verifier { checked, names: mode == Mode::VerifyFull, provider: provider.clone() });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("database TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The server certificate check of a mode: none (`prefer`, `require`), the chain (`verify-ca`),
/// or the chain and the name (`verify-full`).
#[derive(Debug)]
struct Verifier {
    checked: Option<Arc<WebPkiServerVerifier>>,
    names: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(checked) = &self.checked else { return Ok(ServerCertVerified::assertion()) };
        match checked.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The chain was good (webpki checks it before the name); only the name was not.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.names => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_come_out_of_the_url() {
        let (rest, mode, root) =
            split("postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Fca.pem&x=1").unwrap();
        assert_eq!(
            (rest.as_str(), mode, root),
            ("postgres://u@h:5432/db?x=1", Mode::VerifyFull, Some("/ca.pem".into()))
        );
        let (rest, mode, _) = split("postgres://u@h/db?sslmode=require").unwrap();
        assert_eq!((rest.as_str(), mode), ("postgres://u@h/db", Mode::Require));
        let (_, mode, _) = split("postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem").unwrap();
        assert_eq!(mode, Mode::VerifyCa, "libpq: require with a root checks the chain");
        let (rest, mode, _) = split("host=h user=u sslmode=prefer dbname=d").unwrap();
        assert_eq!((rest.as_str(), mode), ("host=h user=u dbname=d", Mode::Prefer));
        assert_eq!(split("postgres://u@h/db").unwrap().1, Mode::Disable);
        assert!(split("postgres://u@h/db?sslmode=always").is_err());
    }
}
