//! `sp ingest`, `sp search` and `sp events tail` against a running server: a folder of
//! Markdown, text and HTML goes in with progress lines (no terminal here), a second run changes
//! nothing, an edited file is replaced, an unreadable one fails the run; search finds what was
//! ingested; the tail prints an event appended meanwhile; a bad key is refused with its code.

use super::process::{drain, run, sp, start};

const ADMIN: &str = "ingest-admin-key-8d3f1a6c2b9e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_is_ingested_once_searched_and_events_are_tailed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (_server, addr, log) = start(sp(&data).env("SP_AUTH__ADMIN_KEY", ADMIN));
    let _log = drain(log);
    let url = format!("http://{addr}");
    let client = |key: &str| {
        let mut cmd = sp(&data);
        cmd.env("SP_URL", &url).env("SP_API_KEY", key);
        cmd
    };

    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("nested")).expect("mkdir");
    std::fs::write(
        docs.join("tides.md"),
        "# Tides\n\nThe moon pulls the tides twice a day.\n",
    )
    .expect("write");
    std::fs::write(
        docs.join("nested/bread.txt"),
        "Bread rises when yeast eats sugar.\n",
    )
    .expect("write");
    std::fs::write(
        docs.join("owls.html"),
        "<html><head><title>Owls &amp; night</title></head><body><h1>Owls</h1>\
         <p>Owls hunt voles at night.</p><script>alert(1)</script></body></html>",
    )
    .expect("write");
    std::fs::write(docs.join("photo.png"), [0x89, b'P', b'N', b'G']).expect("write");
    let docs_arg = docs.to_string_lossy().into_owned();

    let (code, out, err) = run(&mut client(ADMIN), &["ingest", &docs_arg]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(
            "ingested 3 files: 3 created, 0 replaced, 0 unchanged, 0 failed (1 other files skipped)"
        ),
        "{out}"
    );
    // No terminal: progress comes as plain lines, the last one at the end.
    assert!(err.contains("ingest: 3/3 files"), "{err}");

    let (code, out, err) = run(&mut client(ADMIN), &["ingest", &docs_arg, "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("--json");
    assert_eq!(
        report["unchanged"], 3,
        "a second run changes nothing: {report}"
    );
    assert_eq!(report["created"], 0, "{report}");

    std::fs::write(
        docs.join("tides.md"),
        "# Tides\n\nThe sun pulls the tides too.\n",
    )
    .expect("edit");
    std::fs::write(docs.join("broken.txt"), [0xff, 0xfe, 0x00, 0x41]).expect("write");
    let (code, out, err) = run(&mut client(ADMIN), &["ingest", &docs_arg]);
    assert_eq!(code, Some(1), "a failed file fails the run: {out}{err}");
    assert!(out.contains("1 replaced, 2 unchanged, 1 failed"), "{out}");
    assert!(out.contains("broken.txt: not UTF-8 text"), "{out}");

    let (code, out, err) = run(
        &mut client(ADMIN),
        &["search", "owls hunting voles", "-k", "2"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(first.starts_with(" 1. "), "{out}");
    assert!(first.contains("Owls & night"), "the HTML title: {out}");
    assert!(!out.contains("alert"), "scripts are not text: {out}");

    // The tail prints an event appended while it follows.
    let mut tail = client(ADMIN)
        .args([
            "events", "tail", "--stream", "cli", "--limit", "1", "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn tail");
    let auth = format!("Bearer {ADMIN}");
    let mut appended = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let reply = sp_tests::http(
            &addr,
            "POST",
            "/v1/events",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            br#"{"stream": "cli", "type": "note.added", "data": {"n": 1}}"#,
        )
        .await
        .expect("append");
        assert!(reply.status < 300, "{}", reply.body);
        if tail.try_wait().expect("tail").is_some() {
            appended = true;
            break;
        }
    }
    if !appended {
        let _ = tail.kill();
    }
    let output = tail.wait_with_output().expect("tail output");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(appended, "the tail ended after one event: {printed}");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let event: serde_json::Value =
        serde_json::from_str(printed.lines().next().unwrap_or_default()).expect("event JSON");
    assert_eq!(event["type"], "note.added", "{event}");
    assert_eq!(event["stream"], "cli", "{event}");

    // A key the server does not know: exit 1 with the API's code; `--url` beats `SP_URL`.
    let (code, _, err) = run(
        &mut client("sp_000000000000_nope"),
        &["search", "owls", "--url", &url],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SP-AUTH-"), "{err}");
    let (code, _, err) = run(
        &mut client(ADMIN),
        &["search", "owls", "--url", "http://127.0.0.1:9"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("no server answers at http://127.0.0.1:9"),
        "{err}"
    );
}
