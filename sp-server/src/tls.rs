//! Native TLS: the certificate and key named by `server.tls_cert_path` / `server.tls_key_path`,
//! loaded once at start into a rustls configuration (ring provider, TLS 1.2 and 1.3, HTTP/1.1).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sp_core::Error;
use sp_core::config::ServerConfig;

fn config_error(key: &str, reason: String) -> Error {
    Error::Config {
        key: key.into(),
        reason,
    }
}

/// The rustls server configuration `server` asks for, or `None` for plain HTTP. Unreadable or
/// malformed files, and a key that does not match the certificate, are `SP-CFG-001` naming the
/// key, so `sp serve` stops at start instead of failing every handshake.
///
/// ```
/// let server = sp_core::config::ServerConfig::default();
/// assert!(sp_server::tls::load(&server).unwrap().is_none());
///
/// let mut server = sp_core::config::ServerConfig::default();
/// server.tls_cert_path = Some("/nonexistent/cert.pem".into());
/// server.tls_key_path = Some("/nonexistent/key.pem".into());
/// let err = sp_server::tls::load(&server).unwrap_err();
/// assert!(err.to_string().contains("server.tls_cert_path"), "{err}");
/// ```
pub fn load(server: &ServerConfig) -> sp_core::Result<Option<Arc<rustls::ServerConfig>>> {
    let (cert_path, key_path) = match (&server.tls_cert_path, &server.tls_key_path) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        _ => {
            return Err(config_error(
                "server.tls_key_path",
                "TLS needs both server.tls_cert_path and server.tls_key_path".into(),
            ));
        }
    };
    let chain = read_chain(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| {
        config_error(
            "server.tls_key_path",
            format!(
                "{}: no readable PEM private key ({err})",
                key_path.display()
            ),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| config_error("server.tls_cert_path", err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| {
            config_error(
                "server.tls_key_path",
                format!(
                    "{} does not fit the certificate {}: {err}",
                    key_path.display(),
                    cert_path.display()
                ),
            )
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

fn read_chain(path: &Path) -> sp_core::Result<Vec<CertificateDer<'static>>> {
    let unreadable = |err: &dyn std::fmt::Display| {
        config_error("server.tls_cert_path", format!("{}: {err}", path.display()))
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|err| unreadable(&err))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| unreadable(&err))?;
    if chain.is_empty() {
        return Err(unreadable(&"no PEM certificate in the file"));
    }
    Ok(chain)
}
