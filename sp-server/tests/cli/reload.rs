//! SIGHUP to `sp serve` — or, with `server.watch_config`, the file changing — reads the
//! configuration file again and applies its reloadable settings without a restart: the TLS
//! certificate (a connection opened before keeps its own, new ones get the renewed one),
//! `auth.default_rate_limit`, `log.level` and the CORS origins; a file that no longer loads
//! is refused in the log and the running settings stay.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};

use crate::process::{create_key, drain, sp, start};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Accepts any certificate: the test compares what the server presents with the files.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(addr: &str) -> Tls {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake")
}

fn presented(tls: &Tls) -> Vec<u8> {
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.as_ref().to_vec())
        .expect("a certificate")
}

fn certificate(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(fixture(name))
        .expect("pem")
        .as_ref()
        .to_vec()
}

/// One keep-alive GET on an open connection; the status code.
async fn get(tls: &mut Tls, path: &str, key: Option<&str>) -> u16 {
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut reader = BufReader::new(&mut *tls);
    let mut status = String::new();
    reader.read_line(&mut status).await.expect("status line");
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await.expect("header");
        if header.trim().is_empty() {
            break;
        }
        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.expect("body");
    status
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

fn write_config(path: &Path, dir: &Path, level: &str, rate: &str) {
    let text = format!(
        "[log]\nlevel = \"{level}\"\n\n[auth]\ndefault_rate_limit = \"{rate}\"\n\n\
         [server]\ntls_cert_path = \"{}\"\ntls_key_path = \"{}\"\n",
        dir.join("cert.pem").display(),
        dir.join("key.pem").display()
    );
    std::fs::write(path, text).expect("write config");
}

fn hang_up(server: &crate::process::Server) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rotates_the_certificate_and_reloads_limits_and_log_level() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("tls-cert.pem"), dir.path().join("cert.pem")).expect("copy");
    std::fs::copy(fixture("tls-key.pem"), dir.path().join("key.pem")).expect("copy");
    let config = dir.path().join("sp.toml");
    write_config(&config, dir.path(), "info", "1000/min");
    let data = dir.path().join("data");
    let token = create_key(&mut sp(&data), "reloaded", "documents:read", &[]);

    let mut cmd = sp(&data);
    cmd.env("SP_CONFIG", &config);
    let (server, addr, log) = start(&mut cmd);
    let log = drain(log);

    let mut before = connect(&addr).await;
    assert_eq!(presented(&before), certificate("tls-cert.pem"));
    assert_eq!(get(&mut before, "/health/live", None).await, 200);
    for _ in 0..3 {
        assert_eq!(get(&mut before, "/v1/documents", Some(&token)).await, 200);
    }

    // The certificate renewed in place, a tighter default limit, a louder log.
    std::fs::copy(fixture("tls-rotated-cert.pem"), dir.path().join("cert.pem")).expect("copy");
    std::fs::copy(fixture("tls-rotated-key.pem"), dir.path().join("key.pem")).expect("copy");
    write_config(&config, dir.path(), "debug", "2/min");
    hang_up(&server);
    let rotated = certificate("tls-rotated-cert.pem");
    let mut after = None;
    for _ in 0..50 {
        let tls = connect(&addr).await;
        if presented(&tls) == rotated {
            after = Some(tls);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut after = after.expect("new connections get the renewed certificate");
    // The connection opened before keeps its certificate and goes on serving.
    assert_eq!(presented(&before), certificate("tls-cert.pem"));
    assert_eq!(get(&mut before, "/health/live", None).await, 200);

    // A fresh window under the new default: the key has spent 3 of 1000; 2/min now refuses
    // from the third request of its minute on (the window restarts with the new limit).
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(&mut after, "/v1/documents", Some(&token)).await);
    }
    assert!(statuses.contains(&429), "2/min is enforced: {statuses:?}");

    // A file that no longer loads: refused in the log, the running settings stay.
    std::fs::write(&config, "[log]\nlevel = \"[not a level\"\n").expect("break config");
    hang_up(&server);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut still = connect(&addr).await;
    assert_eq!(presented(&still), rotated);
    assert_eq!(get(&mut still, "/health/live", None).await, 200);

    drop(server);
    let log = log.join().expect("log");
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("log.level = debug"), "{log}");
    assert!(
        log.contains("\"level\":\"DEBUG\""),
        "debug lines after the reload: {log}"
    );
    assert!(log.contains("configuration not reloaded"), "{log}");
}

/// The `access-control-allow-origin` a preflight from `origin` gets, if any.
async fn preflight(client: &reqwest::Client, addr: &str, origin: &str) -> Option<String> {
    let response = client
        .request(
            reqwest::Method::OPTIONS,
            format!("http://{addr}/v1/documents"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("preflight");
    response
        .headers()
        .get("access-control-allow-origin")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_configuration_file_reloads_cors_origins_when_it_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("sp.toml");
    let write = |origins: &str| {
        let text = format!("[server]\nwatch_config = true\ncors_allowed_origins = [{origins}]\n");
        std::fs::write(&config, text).expect("write config");
    };
    write("");
    let mut cmd = sp(&dir.path().join("data"));
    cmd.env("SP_CONFIG", &config);
    let (server, addr, log) = start(&mut cmd);
    let log = drain(log);
    let client = crate::process::http_client();
    let app = "https://app.example";
    assert_eq!(preflight(&client, &addr, app).await, None, "no origins yet");

    // No signal: the file changing is enough.
    write("\"https://app.example\"");
    let mut allowed = None;
    for _ in 0..100 {
        allowed = preflight(&client, &addr, app).await;
        if allowed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(allowed.as_deref(), Some(app), "the new origin is allowed");
    assert_eq!(
        preflight(&client, &addr, "https://evil.example").await,
        None,
        "only the configured one"
    );

    // A change that does not load leaves the origins as they were.
    std::fs::write(&config, "[server]\nwatch_config = \"sometimes\"\n").expect("break config");
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    assert_eq!(preflight(&client, &addr, app).await.as_deref(), Some(app));

    drop(server);
    let log = log.join().expect("log");
    assert!(
        log.contains("sp.toml changed"),
        "the trigger is logged: {log}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains("configuration reloaded")
                && line.contains("server.cors_allowed_origins = [")
                && line.contains("https://app.example")),
        "{log}"
    );
    assert!(log.contains("configuration not reloaded"), "{log}");
}
