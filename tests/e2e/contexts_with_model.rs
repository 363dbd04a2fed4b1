//! Contexts with the real model: prompts counted exactly as the model counts them, the
//! prefix cache hit turn after turn, and compaction written by the model — on the embedded
//! backend and on PostgreSQL.

use std::sync::Arc;

use sp_core::chat::{Role, Sampling};
use sp_core::context::{
    Budget, ContextStore, Contexts, MemoryScope, MessageKind, NewContext, NewMessage,
};
use sp_llm::{Engine, EngineConfig};

fn engine() -> Engine {
    let config = EngineConfig::new(sp_tests::service_url("SP_TEST_MODEL"))
        .with_slots(1)
        .with_context_per_slot(1024);
    Engine::load(config).expect("model")
}

fn greedy(max_tokens: u32) -> Sampling {
    Sampling {
        temperature: 0.0,
        max_tokens,
        ..Sampling::default()
    }
}

async fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn ContextStore> {
    let db = sp_data::SqliteStore::open(dir.path())
        .await
        .expect("sqlite");
    Arc::new(sp_data::SqliteContextStore::new(&db))
}

async fn postgres_store() -> (Arc<dyn ContextStore>, sp_data::PgStore, String) {
    let config = sp_core::config::DatabaseConfig {
        url: Some(sp_tests::service_url("DATABASE_URL")),
        schema: format!("ctx_e2e_{}", sp_core::Id::new().as_uuid().simple()),
        ..Default::default()
    };
    let pg = sp_data::PgStore::connect_lazy(&config).expect("pool");
    pg.migrate().await.expect("migrate");
    let store = Arc::new(sp_data::PgContextStore::new(&pg));
    (store, pg, config.schema)
}

#[tokio::test]
async fn prompts_are_counted_exactly_and_the_prefix_cache_hits() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let dir = tempfile::tempdir().expect("tempdir");
    let contexts = Contexts::new(sqlite_store(&dir).await, Arc::new(engine.clone()))
        .with_model(Arc::new(engine.clone()));
    let ctx = contexts
        .create(NewContext::default().with_system_prompt("You answer in one short sentence."))
        .await
        .expect("create");
    let ns = &ctx.namespace;
    contexts
        .set_memory(
            ns,
            &MemoryScope::Context(ctx.id),
            "user",
            "The user is called Ada.",
            None,
        )
        .await
        .expect("memory");
    let mut previous_prefix = 0;
    for (turn, question) in [
        "What is the capital of France?",
        "And of Italy?",
        "And of Spain?",
    ]
    .into_iter()
    .enumerate()
    {
        let done = contexts
            .chat(
                ns,
                ctx.id,
                NewMessage::new(Role::User, question),
                &greedy(16),
                1024,
            )
            .await
            .expect("chat");
        // Counted exactly: the sum of stored counts is the model's own count of the prompt.
        let rendered = engine.render_chat(&done.prompt.messages).expect("render");
        let actual = engine.tokenize_prompt(&rendered).len();
        assert_eq!(done.prompt.prompt_tokens, actual, "turn {turn}");
        assert_eq!(done.completion.usage.prompt_tokens as usize, actual);
        // From the second turn on, everything before the previous tail was cached.
        if turn > 0 {
            assert!(
                done.completion.usage.cached_tokens as usize >= previous_prefix,
                "turn {turn}: cached {} < stable prefix {previous_prefix}",
                done.completion.usage.cached_tokens
            );
        }
        let stable = &done.prompt.messages[..done.prompt.stable_messages];
        previous_prefix = engine
            .tokenize_prompt(&engine.render_chat(stable).expect("render"))
            .len()
            .saturating_sub(sp_core::Tokenizer::reply_overhead(&engine));
        assert_eq!(done.reply.role, Role::Assistant);
        assert!(!done.reply.content.is_empty());
    }
    let stored = contexts
        .messages(ns, ctx.id, 0, 100)
        .await
        .expect("messages");
    assert_eq!(stored.len(), 6, "three user turns and three replies");
}

async fn compaction_keeps_every_turn(store: Arc<dyn ContextStore>, engine: &Engine) {
    let contexts =
        Contexts::new(store, Arc::new(engine.clone())).with_model(Arc::new(engine.clone()));
    let ctx = contexts
        .create(NewContext::default().with_system_prompt("You are a ship's log keeper."))
        .await
        .expect("create");
    let ns = &ctx.namespace;
    for day in 1..=24 {
        let (role, text) = if day % 2 == 1 {
            (
                Role::User,
                format!("Day {day}: we sailed {day}0 miles north and saw {day} dolphins."),
            )
        } else {
            (
                Role::Assistant,
                format!(
                    "Logged day {}: {}0 miles, {} dolphins.",
                    day - 1,
                    day - 1,
                    day - 1
                ),
            )
        };
        contexts
            .append(ns, ctx.id, NewMessage::new(role, text))
            .await
            .expect("append");
    }
    // 24 turns of ~25 tokens do not fit 384 tokens less the reply: the oldest are folded
    // into a summary the model writes.
    let turn = contexts
        .chat(
            ns,
            ctx.id,
            NewMessage::new(Role::User, "How far did we sail?"),
            &greedy(24),
            384,
        )
        .await
        .expect("chat with compaction");
    assert!(
        turn.prompt.prompt_tokens + 24 <= 384,
        "{}",
        turn.prompt.prompt_tokens
    );
    let through = turn
        .prompt
        .summary_through
        .expect("a summary is in the prompt");
    assert!(
        turn.prompt.messages[0]
            .content
            .contains("<conversation_summary>")
    );
    let all = contexts
        .messages(ns, ctx.id, 0, 100)
        .await
        .expect("messages");
    // Nothing dropped: 24 turns, the new question, the summary, the reply.
    assert_eq!(all.len(), 27);
    let summary = all
        .iter()
        .find(|m| m.kind == MessageKind::Summary)
        .expect("stored");
    assert_eq!(summary.covers_through, Some(through));
    assert!(!summary.content.trim().is_empty());
    // The next assembly starts from the stored summary; nothing is summarised again.
    let budget = Budget {
        context_window: 384,
        reply_tokens: 24,
        retrieval_tokens: 0,
    };
    let again = contexts
        .assemble(ns, ctx.id, &budget)
        .await
        .expect("assemble");
    assert_eq!(again.summary_through, Some(through));
    let summaries = contexts
        .messages(ns, ctx.id, 0, 100)
        .await
        .expect("messages")
        .iter()
        .filter(|m| m.kind == MessageKind::Summary)
        .count();
    assert_eq!(summaries, 1);
}

#[tokio::test]
async fn compaction_with_the_real_model_on_every_backend() {
    let _gate = sp_tests::model_gate().await;
    let engine = engine();
    let dir = tempfile::tempdir().expect("tempdir");
    compaction_keeps_every_turn(sqlite_store(&dir).await, &engine).await;
    let (store, pg, schema) = postgres_store().await;
    compaction_keeps_every_turn(store, &engine).await;
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(pg.pool())
        .await;
}
