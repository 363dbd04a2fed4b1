//! A store killed (SIGKILL) while ingesting, with snapshots saved along the way: reopened,
//! every acknowledged document is there and found, as a rebuild from SQLite finds it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sp_core::knowledge::{NewDocument, SearchMode, SearchQuery};

use crate::{answers, doc_text, open, snapshot_dir, wait_ready};

const CHILD_DIR: &str = "SP_SNAPSHOT_CHILD_DIR";

#[tokio::test]
#[ignore = "the child process of killed_mid_ingest_loses_no_acknowledged_document, run by it"]
async fn child_ingests_until_killed() {
    let dir =
        std::env::var(CHILD_DIR).expect("run by killed_mid_ingest_loses_no_acknowledged_document");
    // Saves every 50 sections: the kill lands among saves and commits.
    let opened = open(std::path::Path::new(&dir), false, 50).await;
    let mut out = std::io::stdout();
    for i in 0.. {
        opened
            .kb
            .ingest(NewDocument::new(format!("Doc {i}"), doc_text(i)))
            .await
            .expect("ingest");
        writeln!(out, "acked {i}").expect("stdout");
        out.flush().expect("stdout");
    }
}

#[tokio::test]
async fn killed_mid_ingest_loses_no_acknowledged_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "knowledge_snapshot::crash::child_ingests_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Option<usize> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        if let Some(n) = line.strip_prefix("acked ") {
            acked = Some(n.parse().expect("number"));
        }
        let saved = snapshot_dir(dir.path()).join("manifest.json").exists();
        if saved && acked.is_some_and(|n| n >= 400) {
            break;
        }
    }
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let acked = acked.expect("the child acknowledged documents");
    assert!(
        acked >= 400,
        "only {acked} acknowledged before the deadline"
    );

    let reopened = open(dir.path(), false, 1_000_000).await;
    wait_ready(&reopened.store).await;
    for i in 0..=acked {
        let query = SearchQuery {
            mode: SearchMode::Vector,
            k: 1,
            ..SearchQuery::new(doc_text(i))
        };
        let hits = reopened.kb.search(&query).await.expect("search");
        assert_eq!(
            hits.first().map(|h| h.title.as_str()),
            Some(format!("Doc {i}").as_str())
        );
    }
    let queries: Vec<String> = (0..=acked).step_by(37).map(doc_text).collect();
    reopened.store.save_index().await.expect("save");
    drop(reopened);
    let exact_from_snapshot = answers(&open(dir.path(), true, 1_000_000).await.kb, &queries).await;
    std::fs::remove_dir_all(snapshot_dir(dir.path())).expect("remove snapshot");
    let rebuilt = answers(&open(dir.path(), true, 1_000_000).await.kb, &queries).await;
    assert_eq!(exact_from_snapshot, rebuilt);
}
