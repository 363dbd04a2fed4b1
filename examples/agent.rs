//! Run with: `cargo run -p sp-examples --example agent -- [MODEL.gguf]`
//!
//! A research assistant on the embedded default: it searches the notes of
//! `examples/data/notes` (the built-in `knowledge_search`), asks a tool of a service it starts
//! here (`glossary`, registered in the hub), remembers a fact in its memory block (the
//! built-in `memory_append`) and answers. Every step is recorded before it is acted on; the
//! run's events are printed at the end, then replayed from the record alone.
//!
//! The test model (SmolLM2-135M) is small: the agent's first step must call a tool and each
//! tool may be called once (`max_calls`), so even a small model goes through all three
//! before it answers. A larger model needs neither.

use serde_json::{Value, json};
use story_portal::agents::RunEvent;
use story_portal::prelude::*;

/// The glossary tool: a definition of the term it is given.
async fn glossary_service() -> Result<String, std::io::Error> {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "ok" }))
        .route(
            "/tools/define_term",
            axum::routing::post(|axum::Json(args): axum::Json<Value>| async move {
                let term = args["term"].as_str().unwrap_or("").to_owned();
                axum::Json(json!({"term": term,
                    "definition": "a collection of sections searched by keywords and meaning"}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = sp_examples::load_engine_from_args().await?;
    let data_dir = std::env::temp_dir().join(format!("sp-example-agent-{}", Id::new()));
    std::fs::create_dir_all(&data_dir)?;
    let mut config = Config {
        data_dir,
        ..Config::default()
    };
    // The glossary service listens on loopback, which the hub calls only when told.
    config.hub.allowed_networks = vec!["127.0.0.1".into()];
    let platform = Platform::builder(config).model(engine).build().await?;
    let notes = concat!(env!("CARGO_MANIFEST_DIR"), "/data/notes");
    for entry in std::fs::read_dir(notes)? {
        let path = entry?.path();
        let content = std::fs::read_to_string(&path)?;
        let title = path.file_stem().and_then(|s| s.to_str()).unwrap_or("note");
        platform
            .knowledge
            .ingest(NewDocument::new(title, content))
            .await?;
    }
    let service: NewService = serde_json::from_value(json!({
        "name": "glossary", "version": "1.0.0", "base_url": glossary_service().await?,
        "tools": [{"name": "define_term", "description": "The definition of a term.",
            "input_schema": {"type": "object", "required": ["term"],
                "properties": {"term": {"type": "string"}}}}]
    }))?;
    platform.hub.register(service).await?;

    let agents = &platform.agents;
    let researcher: NewAgent = serde_json::from_value(json!({
        "name": "researcher",
        "instructions": "You research questions: search the notes, look terms up, remember \
                         what the user should not forget, then answer in one sentence.",
        "tools": [{"builtin": "knowledge_search"}, {"tool": "define_term"},
                  {"builtin": "memory_append"}],
        "memory_blocks": ["facts"],
        "tool_choice": "required",
        "max_calls": {"knowledge_search": 1, "define_term": 1, "memory_append": 1},
        "max_steps": 5,
        "max_tokens": 96
    }))?;
    agents.define(&researcher).await?;
    let question = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "What is a knowledge store, and how do I search it?".to_owned());
    let ns = Namespace::default();
    let run = agents
        .start(
            &ns,
            "researcher",
            NewAgentRun {
                input: question.clone(),
                ..Default::default()
            },
        )
        .await?;
    let done = agents
        .wait(&ns, run.id, std::time::Duration::from_secs(300))
        .await?;
    println!("question: {question}\n");
    for recorded in agents.events(&ns, run.id, 0, 1000).await? {
        match &recorded.event {
            RunEvent::ModelOutput {
                step,
                text,
                tool_calls,
                ..
            } => {
                for call in tool_calls {
                    println!("step {step}: calls {}({})", call.name, call.arguments);
                }
                if tool_calls.is_empty() {
                    println!("step {step}: answers {text:?}");
                }
            }
            RunEvent::ToolResult { output, error, .. } => match (output, error) {
                (Some(output), _) => println!("        result {}", shorten(&output.to_string())),
                (_, Some(error)) => println!("        error {}: {}", error.code, error.message),
                _ => {}
            },
            _ => {}
        }
    }
    println!(
        "\nrun {} {:?} in {} steps",
        done.id, done.status, done.steps
    );
    if let Some(error) = &done.error {
        println!("error {}: {}", error.code, error.message);
    }
    let memory = platform
        .contexts
        .memory(&ns, &MemoryScope::Agent("researcher".into()))
        .await?;
    for block in memory {
        println!("memory block `{}`: {:?}", block.name, block.content);
    }
    let replay = agents.replay(&ns, run.id).await?;
    println!(
        "replayed {} events from the record alone: {:?}, matches: {}",
        replay.events, replay.status, replay.matches
    );
    Ok(())
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(120) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
