//! `backup_embedded` / `restore_embedded` on a store being written: a backup taken while four
//! writers ingest holds every document acknowledged before it began and restores to a store
//! that opens and answers; a backup of a quiet store restores to the same search answers; a
//! truncated, corrupt, foreign or newer backup is refused with its code and the target is
//! left as it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sp_core::ErrorCode;
use sp_core::knowledge::NewDocument;

use super::{answers, open};

async fn titles(data_dir: &std::path::Path) -> Vec<String> {
    let db = sp_data::SqliteStore::open(data_dir).await.expect("sqlite");
    let titles = sqlx::query_scalar("SELECT title FROM kb_documents ORDER BY title")
        .fetch_all(db.pool())
        .await
        .expect("titles");
    db.pool().close().await;
    titles
}

#[tokio::test]
async fn a_backup_under_four_writers_holds_every_acknowledged_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let kb = Arc::new(open(&data, false).await);
    for n in 0..20 {
        kb.ingest(NewDocument::new(
            format!("seed {n}"),
            "Cats sleep in the sun.",
        ))
        .await
        .expect("seed");
    }
    let started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (kb, started, stop) = (kb.clone(), started.clone(), stop.clone());
            tokio::spawn(async move {
                let mut before_backup = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let title = format!("writer {w} doc {n}");
                    let body = format!("Note {n} of writer {w}: dogs fetch sticks.");
                    kb.ingest(NewDocument::new(title.clone(), body))
                        .await
                        .expect("ingest");
                    // Acknowledged before the backup began: it must be in the backup.
                    if !started.load(Ordering::SeqCst) {
                        before_backup.push(title);
                    }
                    n += 1;
                    tokio::task::yield_now().await;
                }
                before_backup
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    started.store(true, Ordering::SeqCst);
    let online = dir.path().join("online");
    let manifest = sp_data::backup_embedded(&data, &online)
        .await
        .expect("backup");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::SeqCst);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert!(
        acknowledged.len() >= 4,
        "the writers wrote: {acknowledged:?}"
    );
    assert_eq!(
        sp_data::verify_backup(&online).await.expect("verify"),
        manifest
    );

    let restored = dir.path().join("restored");
    sp_data::restore_embedded(&online, &restored, false)
        .await
        .expect("restore");
    let held = titles(&restored).await;
    let missing: Vec<&String> = acknowledged.iter().filter(|t| !held.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not in the backup: {missing:?}"
    );
    assert_eq!(
        held.len() as u64,
        manifest.tables["kb_documents"],
        "the manifest counts what it holds"
    );
    // The restored store opens and answers.
    let back = open(&restored, false).await;
    assert!(!answers(&back).await[0].is_empty());

    // A backup of the store once quiet restores to the same answers.
    let quiet = dir.path().join("quiet");
    sp_data::backup_embedded(&data, &quiet)
        .await
        .expect("backup");
    let again = dir.path().join("again");
    sp_data::restore_embedded(&quiet, &again, false)
        .await
        .expect("restore");
    assert_eq!(
        answers(&open(&again, false).await).await,
        answers(&kb).await
    );
}

#[tokio::test]
async fn a_bad_backup_is_refused_and_the_target_left_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let kb = open(&data, false).await;
    kb.ingest(NewDocument::new("Cats", "Cats sleep in the sun."))
        .await
        .expect("ingest");
    drop(kb);
    let good = dir.path().join("good");
    sp_data::backup_embedded(&data, &good)
        .await
        .expect("backup");
    // The target: a store of its own, which a refused restore must leave as it was.
    let target = dir.path().join("target");
    let kb = open(&target, false).await;
    kb.ingest(NewDocument::new("Dogs", "Dogs fetch sticks."))
        .await
        .expect("ingest");
    drop(kb);
    let before = titles(&target).await;

    let copy = |name: &str| {
        let to = dir.path().join(name);
        std::fs::create_dir_all(&to).expect("mkdir");
        for file in ["sp.db", "manifest.json"] {
            std::fs::copy(good.join(file), to.join(file)).expect("copy");
        }
        to
    };
    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("sp.db")).expect("read");
    std::fs::write(truncated.join("sp.db"), &bytes[..bytes.len() / 2]).expect("truncate");
    let corrupt = copy("corrupt");
    let mut bytes = std::fs::read(corrupt.join("sp.db")).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(corrupt.join("sp.db"), &bytes).expect("corrupt");
    let other_version = copy("other-version");
    let manifest = std::fs::read_to_string(other_version.join("manifest.json")).expect("read");
    std::fs::write(
        other_version.join("manifest.json"),
        manifest.replace("\"version\": 1", "\"version\": 2"),
    )
    .expect("write");
    let not_a_backup = dir.path().join("not-a-backup");
    std::fs::create_dir_all(&not_a_backup).expect("mkdir");

    for (bad, says) in [
        (&truncated, "truncated"),
        (&corrupt, "corrupt"),
        (&other_version, "format version 2"),
        (&not_a_backup, "manifest.json"),
    ] {
        let err = sp_data::restore_embedded(bad, &target, true)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), ErrorCode::BackupInvalid, "{err}");
        assert!(err.to_string().contains(says), "{err}");
        let err = sp_data::verify_backup(bad).await.expect_err("refused");
        assert_eq!(err.code(), ErrorCode::BackupInvalid, "{err}");
        assert_eq!(titles(&target).await, before, "the target is untouched");
    }

    // A backup of a newer build (a migration this one lacks) is refused by the migrations.
    let newer_data = dir.path().join("newer-data");
    let db = sp_data::SqliteStore::open(&newer_data).await.expect("open");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer build', TRUE, X'01', 0)",
    )
    .execute(db.pool())
    .await
    .expect("a newer migration");
    db.pool().close().await;
    let newer = dir.path().join("newer");
    sp_data::backup_embedded(&newer_data, &newer)
        .await
        .expect("backup");
    let err = sp_data::restore_embedded(&newer, &target, true)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::MigrationDrift, "{err}");
    assert_eq!(titles(&target).await, before);

    // A store is replaced only when asked, never under a running server.
    let err = sp_data::restore_embedded(&good, &target, false)
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("--force"), "{err}");
    let serving = sp_data::ServeLock::acquire(&target).expect("lock");
    assert!(
        sp_data::restore_embedded(&good, &target, true)
            .await
            .is_err()
    );
    drop(serving);
    sp_data::restore_embedded(&good, &target, true)
        .await
        .expect("restore");
    assert_eq!(titles(&target).await, ["Cats"]);
    let leftovers: Vec<String> = std::fs::read_dir(&target)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A destination that exists, or that cannot be written, takes no backup.
    assert!(sp_data::backup_embedded(&data, &good).await.is_err());
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").expect("write");
    assert!(
        sp_data::backup_embedded(&data, &file.join("backup"))
            .await
            .is_err()
    );
    assert!(!file.with_file_name("backup.partial").exists());
}
