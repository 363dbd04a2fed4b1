//! `sp models`: pull a local file into the models directory (a wrong checksum refused), list
//! and show it without a server, then list, load and unload on a running server that found it
//! there, and remove it.

use std::process::Output;

use crate::process::{drain, sp, start};

const ADMIN: &str = "cli-models-admin-key-0123456789";
const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn succeeds(output: &Output) -> String {
    let (stdout, stderr) = text(output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

#[test]
fn sp_models_pulls_lists_loads_unloads_and_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let smol = sp_tests::service_url("SP_TEST_MODEL");
    let models = |args: &[&str]| {
        sp(dir.path())
            .arg("models")
            .args(args)
            .output()
            .expect("run sp models")
    };

    let refused = models(&["pull", &smol, "--name", "mine", "--sha256", &"0".repeat(64)]);
    let (_, stderr) = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("SP-LLM-010"), "{stderr}");
    let stored = dir.path().join("models").join("mine.gguf");
    assert!(!stored.exists());

    let pulled = succeeds(&models(&["pull", &smol, "--name", "mine"]));
    assert!(
        pulled.contains(&format!(
            "pulled mine (chat, 98362432 bytes, sha256 {SMOLLM2_SHA256})"
        )),
        "{pulled}"
    );
    assert!(pulled.contains(&stored.display().to_string()), "{pulled}");
    assert!(stored.is_file());

    // No server answers there: the configuration and the directory are listed instead.
    let offline = models(&["list", "--server", "http://127.0.0.1:9"]);
    let (stdout, stderr) = text(&offline);
    assert!(offline.status.success(), "{stderr}");
    assert!(stderr.contains("no server answers"), "{stderr}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("mine "))
        .expect("a row for mine");
    assert!(row.contains("chat") && row.contains("unknown"), "{stdout}");
    let shown = succeeds(&models(&["show", "mine", "--server", "http://127.0.0.1:9"]));
    let card: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(card["architecture"], "llama");
    assert!(
        card["memory"]["total"].as_u64().unwrap_or(0) > 98_362_432,
        "{shown}"
    );

    let mut serve = sp(dir.path());
    serve
        .env("SP_MODEL__PATH", &smol)
        .env("SP_MODEL__SLOTS", "1")
        .env("SP_MODEL__CONTEXT_PER_SLOT", "512")
        .env("SP_AUTH__ADMIN_KEY", ADMIN);
    let (server, addr, log) = start(&mut serve);
    let log = drain(log);
    let url = format!("http://{addr}");
    let online = |args: &[&str]| models(&[args, &["--server", &url, "--api-key", ADMIN]].concat());

    let listed = succeeds(&online(&["list"]));
    let row = listed
        .lines()
        .find(|l| l.starts_with("mine "))
        .expect("mine is served");
    assert!(row.contains("unloaded"), "{listed}");
    let default = listed
        .lines()
        .find(|l| l.starts_with("SmolLM2-135M-Instruct.Q4_1 "))
        .expect("the default model");
    assert!(
        default.contains("loaded") && default.trim_end().ends_with("yes"),
        "{listed}"
    );

    assert_eq!(succeeds(&online(&["load", "mine"])).trim(), "mine loaded");
    let listed = succeeds(&online(&["list"]));
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("mine ") && l.contains(" loaded ")),
        "{listed}"
    );
    assert_eq!(
        succeeds(&online(&["unload", "mine"])).trim(),
        "mine unloaded"
    );
    let refused = online(&["unload", "SmolLM2-135M-Instruct.Q4_1"]);
    let (_, stderr) = text(&refused);
    assert!(
        !refused.status.success() && stderr.contains("SP-RES-002"),
        "{stderr}"
    );
    let unknown = online(&["load", "nothing-here"]);
    let (_, stderr) = text(&unknown);
    assert!(
        !unknown.status.success() && stderr.contains("SP-LLM-007"),
        "{stderr}"
    );
    drop(server);
    let log = log.join().expect("log");
    assert!(!log.contains("panicked"), "{log}");

    let removed = succeeds(&models(&["rm", "mine"]));
    assert!(
        removed.contains("removed mine (98362432 bytes)"),
        "{removed}"
    );
    assert!(!stored.exists());
    let again = models(&["rm", "mine"]);
    let (_, stderr) = text(&again);
    assert!(
        !again.status.success() && stderr.contains("SP-RES-001"),
        "{stderr}"
    );
}
