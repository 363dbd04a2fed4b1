//! `sp serve --tls-cert --tls-key`: HTTPS only, verified by a rustls client that trusts the
//! test CA; bad certificate files stop the start with `SP-CFG-001` naming the key.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::process::{sp, start};
use crate::run_expecting_config_error;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn client() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixture("tls-ca.pem")).expect("ca") {
        roots.add(cert.expect("ca cert")).expect("add ca");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One HTTP/1.1 request over TLS; the whole response as text.
async fn https_get(addr: &str, path: &str) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = client().connect(name, tcp).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    // A server that closes without close_notify is still a complete HTTP/1.1 response here.
    let _ = tls.read_to_end(&mut response).await;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

#[tokio::test]
async fn serve_speaks_https_with_the_configured_certificate_and_only_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    // start() adds `serve --listen`; the files come through the environment here and through
    // the flags in the test below.
    let mut cmd = sp(dir.path());
    cmd.env("SP_SERVER__TLS_CERT_PATH", fixture("tls-cert.pem"))
        .env("SP_SERVER__TLS_KEY_PATH", fixture("tls-key.pem"));
    let (_server, addr, _log) = start(&mut cmd);

    let response = https_get(&addr, "/health/live").await.expect("https");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""status":"alive""#), "{response}");

    // Plain HTTP on the same port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    plain
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(
        !String::from_utf8_lossy(&answer).contains("HTTP/1.1 200"),
        "plaintext must not be served"
    );

    // A client that does not trust the certificate's issuer refuses the handshake.
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("tcp");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let untrusting = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let refused = tokio_rustls::TlsConnector::from(Arc::new(untrusting))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await;
    assert!(refused.is_err(), "an unknown issuer fails the handshake");
}

/// Review finding L10 over TLS: connections past `server.max_connections` are closed before
/// their handshake, and one that never completes its handshake is closed after
/// `server.tls_handshake_timeout_secs`, giving its place back.
#[tokio::test]
async fn silent_connections_are_capped_and_time_out_their_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = sp(dir.path());
    cmd.env("SP_SERVER__TLS_CERT_PATH", fixture("tls-cert.pem"))
        .env("SP_SERVER__TLS_KEY_PATH", fixture("tls-key.pem"))
        .env("SP_SERVER__MAX_CONNECTIONS", "2")
        .env("SP_SERVER__TLS_HANDSHAKE_TIMEOUT_SECS", "1");
    let (_server, addr, _log) = start(&mut cmd);
    let started = std::time::Instant::now();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(&addr).await.expect("tcp"));
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let refused = https_get(&addr, "/health/live").await;
    assert!(
        refused.as_ref().map_or(true, |r| !r.contains("200")),
        "past the cap: {refused:?}"
    );
    // The silent ones are closed by the handshake deadline...
    let mut eof = [0_u8; 1];
    for stream in &mut silent {
        let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut eof))
            .await
            .expect("closed within the handshake timeout");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
    assert!(started.elapsed() >= std::time::Duration::from_millis(900));
    // ...and their places admit the next client.
    let response = https_get(&addr, "/health/live").await.expect("https");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

#[test]
fn bad_tls_files_stop_the_start_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = run_expecting_config_error(
        sp(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(dir.path().join("nope.pem"))
            .arg("--tls-key")
            .arg(fixture("tls-key.pem")),
    );
    assert!(missing.contains("server.tls_cert_path"), "{missing}");

    let mismatched = run_expecting_config_error(
        sp(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(fixture("tls-cert.pem"))
            .arg("--tls-key")
            .arg(fixture("tls-other-key.pem")),
    );
    assert!(mismatched.contains("server.tls_key_path"), "{mismatched}");

    let half = run_expecting_config_error(
        sp(dir.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("SP_SERVER__TLS_CERT_PATH", fixture("tls-cert.pem")),
    );
    assert!(half.contains("server.tls_key_path"), "{half}");
}
