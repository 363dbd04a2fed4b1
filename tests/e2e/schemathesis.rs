//! `schemathesis` (property-based API testing, written by others) over the whole OpenAPI
//! document of a running server with its model: examples, boundary values, random and
//! stateful sequences of calls, as an admin — and not one answer is a 5xx.

use sp_core::Config;

const ADMIN: &str = "schemathesis-admin-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_in_the_whole_api() {
    let _gate = sp_tests::model_gate().await;
    let python = std::path::PathBuf::from(sp_tests::service_url("SP_TEST_PYTHON"));
    let schemathesis = python.with_file_name("schemathesis");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config {
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    config.auth.admin_key = Some(ADMIN.into());
    config.model.path = Some(sp_tests::service_url("SP_TEST_MODEL").into());
    config.model.slots = 2;
    // A short window keeps the generations schemathesis asks for short.
    config.model.context_per_slot = 256;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let state = sp_server::AppState::open(config).await.expect("state");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(sp_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let output = tokio::process::Command::new(&schemathesis)
        // Its example database and reports stay out of the repository.
        .current_dir(dir.path())
        .args([
            "run",
            &format!("http://{addr}/openapi.json"),
            "--header",
            &format!("Authorization: Bearer {ADMIN}"),
            "--header",
            &format!("X-API-Key: {ADMIN}"),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "20",
            "--workers",
            "2",
            // One seed: a failure here reproduces with the same command.
            "--seed",
            "1",
            "--no-color",
        ])
        .output()
        .await
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found server errors:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    // "Selected: 71/71": every operation of the document, none left out.
    let selected = report
        .lines()
        .find_map(|line| line.trim().strip_prefix("Selected: "))
        .and_then(|counts| counts.split_once('/'))
        .map(|(chosen, all)| (chosen.trim().to_owned(), all.trim().to_owned()));
    assert!(
        selected.as_ref().is_some_and(|(chosen, all)| chosen == all),
        "the whole document: {selected:?}\n{report}"
    );
    let _ = stop.send(());
    let _ = server.await;
}
