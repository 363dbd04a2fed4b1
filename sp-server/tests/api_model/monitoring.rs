//! The shipped monitoring (deploy/prometheus, deploy/grafana) against the real server: every
//! metric an alert or a dashboard panel names is in a live `/metrics` scrape of a server
//! that has served a model request and refused one, and `promtool` accepts the rules and
//! passes their unit tests (`SP_PROMTOOL`: scripts/promtool.sh unpacks it from Debian's
//! `prometheus` package).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ADMIN, Api};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// The `sp_…` metric names in `text`.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("sp_") {
        let before = rest[..at].chars().last();
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// The metric names of a Prometheus text exposition.
fn exported(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

fn dashboard_queries() -> String {
    let text =
        std::fs::read_to_string(deploy().join("grafana/sp-dashboard.json")).expect("dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard JSON");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("\n")
}

fn promtool(args: &[&str]) {
    let dir = deploy().join("prometheus");
    let output = Command::new(sp_tests::service_url("SP_PROMTOOL"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("promtool runs");
    assert!(
        output.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn alerts_and_dashboard_name_only_metrics_the_server_exports() {
    let _gate = sp_tests::model_gate().await;
    let api = Api::start(Some(sp_tests::service_url("SP_TEST_MODEL")), |_| {}).await;
    let chat = json!({"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2});
    let reply = api
        .call(
            Method::POST,
            "/v1/chat/completions",
            Some(ADMIN),
            Some(chat),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let missing = api
        .call(
            Method::GET,
            &format!("/v1/documents/{}", sp_core::Id::new()),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
    let scrape = api.call(Method::GET, "/metrics", Some(ADMIN), None).await;
    assert_eq!(scrape.status, StatusCode::OK);
    let exported = exported(&scrape.text);
    assert!(
        scrape.text.contains("sp_ready 1"),
        "ready, as the probe says: {}",
        scrape.text
    );
    assert!(
        scrape
            .text
            .contains(r#"sp_http_errors_total{route="/v1/documents/{id}",code="SP-RES-001"} 1"#),
        "errors by code: {}",
        scrape.text
    );

    let alerts = std::fs::read_to_string(deploy().join("prometheus/sp-alerts.yml")).expect("rules");
    for (file, text) in [
        ("sp-alerts.yml", alerts),
        ("sp-dashboard.json", dashboard_queries()),
    ] {
        let named = names_in(&text);
        assert!(named.len() >= 5, "{file}: {named:?}");
        let unknown: Vec<&String> = named.iter().filter(|n| !exported.contains(*n)).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics /metrics lacks: {unknown:?}"
        );
    }

    promtool(&["check", "rules", "sp-alerts.yml"]);
    promtool(&["test", "rules", "sp-alerts.test.yml"]);
    promtool(&["check", "config", "prometheus.yml"]);
}
