//! Run with: `cargo run -p sp-examples --example workflow -- [QUESTION]`
//!
//! A workflow on the embedded default, nothing to install: it searches the notes in
//! `examples/data/notes`, decides whether anything was found, and reports the best passage
//! to a tool — a small HTTP service started here and registered in the service hub. The run
//! is persisted step by step in SQLite; its events are printed at the end.

use serde_json::{Value, json};
use story_portal::prelude::*;

/// The tool the workflow reports to: prints what it gets and says it was delivered.
async fn report_service() -> Result<String, std::io::Error> {
    let app = axum::Router::new().route(
        "/tools/report",
        axum::routing::post(|axum::Json(args): axum::Json<Value>| async move {
            println!("report tool got: {args}");
            axum::Json(json!({"delivered": true}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let question = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "how do I filter search results".to_owned());
    let mut config = Config {
        data_dir: tempfile_dir()?,
        ..Config::default()
    };
    // The report tool below listens on this host's loopback, which the hub refuses to call
    // unless told: it reaches public addresses only by default.
    config.hub.allowed_networks = vec!["127.0.0.1".into()];
    // Knowledge, the hub, the event log and workflows, wired on one embedded database.
    let platform = Platform::builder(config).build().await?;
    let knowledge = &platform.knowledge;
    let notes = concat!(env!("CARGO_MANIFEST_DIR"), "/data/notes");
    for entry in std::fs::read_dir(notes)? {
        let path = entry?.path();
        let content = std::fs::read_to_string(&path)?;
        let title = content
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .unwrap_or("note");
        knowledge
            .ingest(NewDocument::new(title, content.clone()))
            .await?;
    }

    let service: NewService = serde_json::from_value(json!({
        "name": "reports", "version": "1.0.0", "base_url": report_service().await?,
        "tools": [{"name": "report", "input_schema": {"type": "object"}}]
    }))?;
    platform.hub.register(service).await?;

    let engine = &platform.workflows;

    let definition: NewWorkflow = serde_json::from_value(json!({
        "name": "answer-and-report",
        "steps": [
            {"id": "find", "kind": "search", "query": "{{input.question}}", "k": 2},
            {"id": "nothing", "kind": "condition", "value": "{{steps.find.output.count}}", "equals": 0},
            {"id": "found", "kind": "condition", "value": "{{steps.nothing.output}}", "equals": false},
            {"id": "report", "kind": "tool", "tool": "report", "when": "found", "retries": 2,
             "arguments": {"question": "{{input.question}}",
                           "best": "{{steps.find.output.hits.0.title}}: {{steps.find.output.hits.0.text}}"}}
        ]
    }))?;
    engine.define(&definition).await?;
    let namespace = Default::default();
    let run = engine
        .start(
            &namespace,
            "answer-and-report",
            NewRun {
                input: json!({"question": question}),
                ..Default::default()
            },
        )
        .await?;
    let done = engine
        .wait(&namespace, run.id, std::time::Duration::from_secs(30))
        .await?;
    println!("\nrun {} {:?}", done.id, done.status);
    for step in &done.steps {
        println!(
            "  {:<8} {:?} after {} attempt(s)",
            step.id, step.status, step.attempts
        );
    }
    let history = EventQuery {
        correlationid: Some(done.correlation_id.clone()),
        ..Default::default()
    };
    println!("\nevents:");
    for event in platform
        .events
        .query(&history, &Default::default())
        .await?
        .items
    {
        println!("  {} {}", event.event_type, event.data);
    }
    Ok(())
}

/// A fresh directory under the system's temporary one.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sp-example-workflow-{}", Id::new()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
