//! Run with: `cargo run -p sp-examples --example chat_memory -- [MODEL.gguf]`
//!
//! A chat that remembers, on the embedded default (SQLite in `./chat-memory-data`, no
//! server): the conversation is stored as a context, a pinned memory block holds facts
//! about the user (`/remember TEXT` adds one), and the notes of `examples/data/notes` are
//! archival memory, searched for each question. When the conversation outgrows the window,
//! older turns are summarised by the model and the summary is kept. Run it again and the
//! conversation continues where it stopped.

use std::io::{BufRead as _, Write as _};

use story_portal::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = sp_examples::load_engine_from_args().await?;
    let config = Config {
        data_dir: "chat-memory-data".into(),
        ..Config::default()
    };
    // The model chats, counts tokens and embeds the notes (archival memory); contexts search
    // them for each question.
    let platform = Platform::builder(config)
        .model(engine.clone())
        .build()
        .await?;
    let kb = &platform.knowledge;
    let notes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/notes");
    for entry in std::fs::read_dir(&notes)? {
        let path = entry?.path();
        let title = path.file_stem().and_then(|s| s.to_str()).unwrap_or("note");
        let content = std::fs::read_to_string(&path)?;
        kb.ingest(NewDocument::new(title, content).with_external_id(title))
            .await?;
    }

    let contexts = &platform.contexts;
    let ns = Namespace::default();
    let id_file = std::path::Path::new("chat-memory-data/context-id");
    let context = match std::fs::read_to_string(id_file)
        .ok()
        .and_then(|s| s.trim().parse::<Id>().ok())
    {
        Some(id) => contexts.get(&ns, id).await?,
        None => {
            let created = contexts
                .create(
                    NewContext::default()
                        .with_system_prompt("You are a concise, friendly assistant."),
                )
                .await?;
            std::fs::write(id_file, created.id.to_string())?;
            created
        }
    };
    let scope = MemoryScope::Context(context.id);
    println!(
        "context {} ({} messages so far); `/remember TEXT` pins a fact; empty line quits",
        context.id, context.message_count
    );

    let window = engine.config().context_per_slot as usize;
    let stdin = std::io::stdin();
    loop {
        print!("> ");
        std::io::stdout().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let line = line.trim();
        if let Some(fact) = line.strip_prefix("/remember ") {
            let current = contexts.memory(&ns, &scope).await?;
            let mut facts = current
                .first()
                .map(|b| b.content.clone())
                .unwrap_or_default();
            facts.push_str(&format!("- {fact}\n"));
            contexts
                .set_memory(&ns, &scope, "facts", &facts, None)
                .await?;
            println!("pinned.");
            continue;
        }
        let sampling = Sampling::greedy(200);
        let turn = contexts
            .chat(
                &ns,
                context.id,
                NewMessage::new(Role::User, line),
                &sampling,
                window,
            )
            .await?;
        println!("{}", turn.reply.content);
        let usage = turn.completion.usage;
        println!(
            "[{} prompt tokens, {} from the prefix cache, {} passages{}]",
            usage.prompt_tokens,
            usage.cached_tokens,
            turn.prompt.retrieved.len(),
            if turn.prompt.summary_through.is_some() {
                ", older turns summarised"
            } else {
                ""
            }
        );
    }
    Ok(())
}
