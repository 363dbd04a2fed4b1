//! Run with: `cargo run -p sp-examples --example workflow -- [QUESTION]`
//!
//! A workflow on the embedded default, nothing to install: it searches the notes in
//! `examples/data/notes`, decides whether anything was found, and reports the best passage
//! to a tool — a small HTTP service started here and registered in the service hub. The run
//! is persisted step by step in SQLite; its events are printed at the end.

use std::sync::Arc;

use serde_json::{Value, json};
use sp_core::events::{EventLog, EventQuery, EventsConfig};
use sp_core::hub::{Hub, HubConfig, NewService};
use sp_core::knowledge::{
    HashEmbedder, KnowledgeBase, KnowledgeConfig, NewDocument, SimpleTokenizer,
};
use sp_core::workflows::{NewRun, NewWorkflow, PlatformActions, Workflows, WorkflowsConfig};
use sp_data::SqliteStore;

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
    let data_dir = tempfile_dir()?;
    let db = SqliteStore::open(&data_dir).await?;

    let knowledge = Arc::new(KnowledgeBase::new(
        Arc::new(sp_data::SqliteDocumentStore::open(&db, 384).await?),
        Arc::new(HashEmbedder::new(384)),
        Arc::new(SimpleTokenizer),
        KnowledgeConfig::default(),
    )?);
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

    let hub = Arc::new(Hub::new(
        Arc::new(sp_data::SqliteRegistryStore::new(&db)),
        Arc::new(sp_data::HttpTransport::new()?),
        HubConfig::default(),
    ));
    let service: NewService = serde_json::from_value(json!({
        "name": "reports", "version": "1.0.0", "base_url": report_service().await?,
        "tools": [{"name": "report", "input_schema": {"type": "object"}}]
    }))?;
    hub.register(service).await?;

    let events = Arc::new(EventLog::new(
        Arc::new(sp_data::SqliteEventStore::new(&db)),
        EventsConfig::default(),
    ));
    let actions = Arc::new(PlatformActions::new(hub, knowledge, None));
    let engine = Arc::new(Workflows::new(
        Arc::new(sp_data::SqliteWorkflowStore::new(&db)),
        events.clone(),
        actions,
        WorkflowsConfig::default(),
    ));
    engine.clone().spawn_recovery();

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
    for event in events.query(&history, &Default::default()).await?.items {
        println!("  {} {}", event.event_type, event.data);
    }
    Ok(())
}

/// A fresh directory under the system's temporary one.
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("sp-example-workflow-{}", sp_core::Id::new()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
