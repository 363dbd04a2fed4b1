//! Helpers for Story Portal's tests: the services the test script started, a minimal HTTP
//! client, and the project's scripts.

mod clustered;
mod database;
mod own_postgres;
mod own_redis_cluster;

pub use clustered::{Clustered, Rng, normalise};
pub use database::TestDatabase;
pub use own_postgres::OwnPostgres;
pub use own_redis_cluster::OwnRedisCluster;

use std::path::PathBuf;
use std::process::Command;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A service URL the test script exports. A missing one fails the test loudly: a storage test
/// that silently skips its backend proves nothing.
pub fn service_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{var} is not set: run the suite with scripts/test.sh, or export the variables \
             printed by `scripts/services.sh up`"
        ),
    }
}

/// A query and four documents, only the first of which it is about, with no word in common
/// ("feline" for cat, "rug" for mat): a trained embedder (MiniLM) ranks "Cat" first; a
/// keyword match or a model never trained for retrieval does not reliably.
pub const PARAPHRASE_QUERY: &str = "feline resting on a rug";

/// The documents of [`PARAPHRASE_QUERY`] as (title, content).
pub const PARAPHRASE_DOCUMENTS: [(&str, &str); 4] = [
    ("Cat", "The cat sat on the mat."),
    ("Revenue", "Quarterly revenue grew by eight percent."),
    ("Harbour", "The harbour took in supplies and the wind held."),
    (
        "Engine",
        "Replace the spark plugs every thirty thousand miles.",
    ),
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Runs `scripts/NAME args…` and returns its stdout, trimmed; panics with its stderr on failure.
pub fn script(name: &str, args: &[&str]) -> String {
    let path = repo_root().join("scripts").join(name);
    let output = Command::new("bash")
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A response read by [`http`].
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`), enough for tests that
/// must go through a real socket. `headers` are extra `(name, value)` pairs.
pub async fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<HttpResponse> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("no header end"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        let (Some(chunk), Some(after)) = (tail.get(..size), tail.get(size..)) else {
            break;
        };
        if size == 0 {
            break;
        }
        out.push_str(chunk);
        rest = after.trim_start_matches("\r\n");
    }
    out
}

static MODEL_GATE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Serialises the tests of one binary that run a model. llama.cpp's worker threads spin while
/// they wait for each other; a dozen engines decoding at once on two cores slowed the suite
/// 35-fold (211 s instead of 6 s), so model tests take turns.
pub async fn model_gate() -> tokio::sync::MutexGuard<'static, ()> {
    MODEL_GATE.lock().await
}

/// Serves `app` on a free loopback port for the rest of the test; its base URL
/// (`http://127.0.0.1:PORT`). What the tests' stand-in services (tool services, an OTLP
/// receiver) run on.
pub async fn serve_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}
