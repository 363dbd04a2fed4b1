//! One context-store suite, run against every backend: embedded SQLite, the PostgreSQL of
//! the services script (real, each test in a fresh schema), and the in-process store.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: a panic is the failure report

use std::sync::Arc;

use serde_json::json;
use sp_core::chat::Role;
use sp_core::context::{
    Budget, ContextStore, Contexts, MemoryContextStore, MemoryScope, NewContext, NewMessage,
    ToolCall,
};
use sp_core::facts::{FactStore, Facts, MemoryFactStore};
use sp_core::knowledge::{Namespace, SimpleTokenizer};
use sp_core::{Error, Id, PageRequest};
use sp_tests::TestDatabase;

#[path = "contexts/facts.rs"]
mod facts;
#[path = "contexts/responses.rs"]
mod responses;

struct Fixture {
    contexts: Arc<Contexts>,
    facts: Arc<Facts>,
    /// The database the store is on (none for the in-process store).
    db: Option<TestDatabase>,
}

impl Fixture {
    async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await)
    }

    async fn postgres() -> Self {
        Self::on(TestDatabase::postgres("ctx_test").await)
    }

    async fn memory() -> Self {
        let facts = Arc::new(MemoryFactStore::default());
        Self::with(Arc::new(MemoryContextStore::default()), facts, None)
    }

    fn on(db: TestDatabase) -> Self {
        Self::with(
            db.database.context_store(),
            db.database.fact_store(),
            Some(db),
        )
    }

    fn with(
        store: Arc<dyn ContextStore>,
        facts: Arc<dyn FactStore>,
        db: Option<TestDatabase>,
    ) -> Self {
        let contexts = Arc::new(Contexts::new(store, Arc::new(SimpleTokenizer)));
        Fixture {
            facts: Arc::new(Facts::new(facts, contexts.clone())),
            contexts,
            db,
        }
    }

    async fn cleanup(self) {
        if let Some(db) = self.db {
            db.cleanup().await;
        }
    }
}

fn ns(name: &str) -> Namespace {
    Namespace::new(name).expect("namespace")
}

fn user(text: &str) -> NewMessage {
    NewMessage::new(Role::User, text)
}

async fn create_get_list_delete(f: &Fixture) {
    let c = &f.contexts;
    let a = ns("tenant-a");
    let mut ids = Vec::new();
    for i in 0..5 {
        let ctx = c
            .create(NewContext {
                title: Some(format!("chat {i}")),
                metadata: Some(json!({"i": i})),
                ..NewContext::default().with_namespace(a.clone())
            })
            .await
            .expect("create");
        ids.push(ctx.id);
    }
    let got = c.get(&a, ids[2]).await.expect("get");
    assert_eq!(got.title.as_deref(), Some("chat 2"));
    assert_eq!(got.metadata, json!({"i": 2}));
    // Another namespace sees nothing.
    let err = c.get(&ns("tenant-b"), ids[2]).await.unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            kind: sp_core::Resource::Context,
            ..
        }
    ));
    // Newest first, two pages of 3 and 2.
    let first = c
        .list(&a, &PageRequest::new(Some(3), None).unwrap())
        .await
        .unwrap();
    let ids_desc: Vec<Id> = ids.iter().rev().copied().collect();
    assert_eq!(
        first.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        ids_desc[..3]
    );
    let cursor = first.next_cursor.expect("more");
    let second = c
        .list(
            &a,
            &PageRequest::new(Some(3), Some(cursor.as_str().to_owned())).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|x| x.id).collect::<Vec<_>>(),
        ids_desc[3..]
    );
    assert!(second.next_cursor.is_none());
    c.append(&a, ids[0], user("hello")).await.unwrap();
    c.set_memory(&a, &MemoryScope::Context(ids[0]), "facts", "x", None)
        .await
        .unwrap();
    c.delete(&a, ids[0]).await.expect("delete");
    assert!(c.get(&a, ids[0]).await.is_err());
    assert!(c.delete(&a, ids[0]).await.is_err());
    assert!(c.messages(&a, ids[0], 0, 10).await.is_err());
}

async fn appends_are_ordered_and_counted(f: &Fixture) {
    let c = &f.contexts;
    let ctx = c.create(NewContext::default()).await.unwrap();
    let ns = &ctx.namespace;
    for i in 0..7 {
        let role = if i % 2 == 0 {
            Role::User
        } else {
            Role::Assistant
        };
        let m = c
            .append(ns, ctx.id, NewMessage::new(role, format!("message {i}")))
            .await
            .unwrap();
        assert_eq!(m.seq, i + 1);
        assert!(m.token_count > 5, "content plus template overhead");
    }
    assert_eq!(c.get(ns, ctx.id).await.unwrap().message_count, 7);
    let page = c.messages(ns, ctx.id, 3, 2).await.unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!(page[0].content, "message 3");
    assert_eq!((page[0].role, page[1].role), (Role::Assistant, Role::User));
}

async fn concurrent_writers_get_one_order(f: &Fixture) {
    let c = &f.contexts;
    let ctx = c.create(NewContext::default()).await.unwrap();
    // Two tasks on a multi-threaded runtime: the appends really race.
    let write = |writer: &'static str| {
        let (c, ns) = (Arc::clone(c), ctx.namespace.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                c.append(&ns, ctx.id, user(&format!("{writer} {i}")))
                    .await
                    .expect("append");
            }
        })
    };
    let (a, b) = (write("a"), write("b"));
    a.await.expect("writer a");
    b.await.expect("writer b");
    let all = c.messages(&ctx.namespace, ctx.id, 0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|m| m.seq).collect::<Vec<_>>(),
        (1..=40).collect::<Vec<_>>()
    );
    for writer in ["a", "b"] {
        let own: Vec<String> = all
            .iter()
            .filter(|m| m.content.starts_with(writer))
            .map(|m| m.content.clone())
            .collect();
        let expected: Vec<String> = (0..20).map(|i| format!("{writer} {i}")).collect();
        assert_eq!(own, expected);
    }
    assert_eq!(
        c.get(&ctx.namespace, ctx.id).await.unwrap().message_count,
        40
    );
}

async fn fork_copies_up_to_a_message(f: &Fixture) {
    let c = &f.contexts;
    let ctx = c
        .create(NewContext::default().with_system_prompt("Be kind."))
        .await
        .unwrap();
    let ns = &ctx.namespace;
    let mut appended = Vec::new();
    for i in 0..4 {
        appended.push(
            c.append(ns, ctx.id, user(&format!("turn {i}")))
                .await
                .unwrap(),
        );
    }
    c.set_memory(ns, &MemoryScope::Context(ctx.id), "persona", "calm", None)
        .await
        .unwrap();
    let fork = c.fork(ns, ctx.id, appended[1].id).await.expect("fork");
    assert_eq!(fork.message_count, 2);
    assert_eq!(fork.system_prompt.as_deref(), Some("Be kind."));
    let fp = fork.forked_from.expect("fork point");
    assert_eq!((fp.context_id, fp.message_id), (ctx.id, appended[1].id));
    let copied = c.messages(ns, fork.id, 0, 10).await.unwrap();
    assert_eq!(
        copied
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["turn 0", "turn 1"]
    );
    assert!(copied.iter().all(|m| m.context_id == fork.id));
    // The fork goes its own way; the source is untouched.
    assert_eq!(c.append(ns, fork.id, user("branch")).await.unwrap().seq, 3);
    assert_eq!(c.get(ns, ctx.id).await.unwrap().message_count, 4);
    let memory = c.memory(ns, &MemoryScope::Context(fork.id)).await.unwrap();
    assert_eq!(memory[0].content, "calm");
    // A fork at a message that does not exist creates nothing.
    let before = c
        .list(ns, &PageRequest::default())
        .await
        .unwrap()
        .items
        .len();
    let err = c.fork(ns, ctx.id, Id::new()).await.unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            kind: sp_core::Resource::Message,
            ..
        }
    ));
    assert_eq!(
        c.list(ns, &PageRequest::default())
            .await
            .unwrap()
            .items
            .len(),
        before
    );
}

async fn memory_blocks_are_scoped_and_bounded(f: &Fixture) {
    let c = &f.contexts;
    let one = c
        .create(NewContext::default().with_agent("helper"))
        .await
        .unwrap();
    let two = c
        .create(NewContext::default().with_agent("helper"))
        .await
        .unwrap();
    let ns = &one.namespace;
    let agent = MemoryScope::Agent("helper".into());
    c.set_memory(ns, &agent, "user", "Name: Ada.", Some(40))
        .await
        .unwrap();
    c.set_memory(
        ns,
        &MemoryScope::Context(one.id),
        "task",
        "Plan a trip.",
        None,
    )
    .await
    .unwrap();
    // Editing replaces the content; an over-limit edit is refused and keeps the old one.
    c.set_memory(ns, &agent, "user", "Name: Ada. Likes tea.", Some(40))
        .await
        .unwrap();
    let err = c
        .set_memory(ns, &agent, "user", &"x".repeat(41), Some(40))
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "SP-CTX-003");
    let blocks = c.memory(ns, &agent).await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].content, "Name: Ada. Likes tea.");
    assert_eq!(blocks[0].limit_chars, 40);
    // Both contexts of the agent see its block; only `one` sees its own.
    let budget = Budget {
        context_window: 2048,
        reply_tokens: 64,
        retrieval_tokens: 0,
    };
    for (ctx, sees_task) in [(&one, true), (&two, false)] {
        c.append(ns, ctx.id, user("hi")).await.unwrap();
        let prompt = c.assemble(ns, ctx.id, &budget).await.unwrap();
        let system = &prompt.messages[0].content;
        assert!(system.contains("Likes tea."));
        assert_eq!(system.contains("Plan a trip."), sees_task);
    }
    c.delete_memory(ns, &agent, "user").await.unwrap();
    assert!(c.memory(ns, &agent).await.unwrap().is_empty());
    assert!(c.delete_memory(ns, &agent, "user").await.is_err());
    let err = c
        .set_memory(ns, &MemoryScope::Context(Id::new()), "x", "y", None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            kind: sp_core::Resource::Context,
            ..
        }
    ));
}

async fn bad_input_leaves_the_context_as_it_was(f: &Fixture) {
    let c = &f.contexts;
    let ctx = c.create(NewContext::default()).await.unwrap();
    let ns = &ctx.namespace;
    c.append(ns, ctx.id, user("what is 2+2?")).await.unwrap();
    let oversized = user(&"x".repeat(300 * 1024));
    assert_eq!(
        c.append(ns, ctx.id, oversized)
            .await
            .unwrap_err()
            .code()
            .as_str(),
        "SP-CTX-001"
    );
    // U+0000: a coded 400 on every backend, not PostgreSQL's 500 (review finding L12).
    let nul = c.append(ns, ctx.id, user("a\u{0}b")).await.unwrap_err();
    assert_eq!(nul.code(), sp_core::ErrorCode::InvalidInput, "{nul}");
    let orphan = NewMessage::tool_result("call-9", "4");
    assert_eq!(
        c.append(ns, ctx.id, orphan)
            .await
            .unwrap_err()
            .code()
            .as_str(),
        "SP-CTX-002"
    );
    assert!(
        serde_json::from_value::<NewMessage>(json!({"role": "wizard", "content": "x"})).is_err()
    );
    let err = c.append(ns, Id::new(), user("hi")).await.unwrap_err();
    assert!(matches!(
        err,
        Error::NotFound {
            kind: sp_core::Resource::Context,
            ..
        }
    ));
    let budget = Budget {
        context_window: 8,
        reply_tokens: 0,
        retrieval_tokens: 0,
    };
    let err = c.assemble(ns, ctx.id, &budget).await.unwrap_err();
    assert_eq!(err.code().as_str(), "SP-LLM-001");
    let after = c.messages(ns, ctx.id, 0, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(c.get(ns, ctx.id).await.unwrap().message_count, 1);
    // The call made, its result is accepted.
    let call = ToolCall {
        id: "call-9".into(),
        name: "add".into(),
        arguments: json!({"a": 2, "b": 2}),
    };
    let asks = NewMessage::new(Role::Assistant, "").with_tool_calls(vec![call.clone()]);
    c.append(ns, ctx.id, asks).await.unwrap();
    let answer = c
        .append(ns, ctx.id, NewMessage::tool_result("call-9", "4"))
        .await
        .unwrap();
    assert_eq!(answer.seq, 3);
    let stored = c.messages(ns, ctx.id, 1, 1).await.unwrap();
    assert_eq!(stored[0].tool_calls, vec![call]);
}

macro_rules! suite {
    ($backend:ident) => {
        mod $backend {
            use super::*;

            async fn run(case: for<'a> fn(&'a Fixture) -> futures::future::BoxFuture<'a, ()>) {
                let fixture = Fixture::$backend().await;
                case(&fixture).await;
                fixture.cleanup().await;
            }

            #[tokio::test]
            async fn create_get_list_delete() {
                run(|f| Box::pin(super::create_get_list_delete(f))).await;
            }
            #[tokio::test]
            async fn appends_are_ordered_and_counted() {
                run(|f| Box::pin(super::appends_are_ordered_and_counted(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn concurrent_writers_get_one_order() {
                run(|f| Box::pin(super::concurrent_writers_get_one_order(f))).await;
            }
            #[tokio::test]
            async fn fork_copies_up_to_a_message() {
                run(|f| Box::pin(super::fork_copies_up_to_a_message(f))).await;
            }
            #[tokio::test]
            async fn memory_blocks_are_scoped_and_bounded() {
                run(|f| Box::pin(super::memory_blocks_are_scoped_and_bounded(f))).await;
            }
            #[tokio::test]
            async fn response_chains_continue_branch_and_abandon() {
                run(|f| Box::pin(super::responses::response_chains_continue_branch_and_abandon(f)))
                    .await;
            }
            #[tokio::test]
            async fn responses_are_deleted_newest_first() {
                run(|f| Box::pin(super::responses::responses_are_deleted_newest_first(f))).await;
            }
            #[tokio::test]
            async fn facts_supersede_merge_and_keep_history() {
                run(|f| Box::pin(super::facts::facts_supersede_merge_and_keep_history(f))).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_writers_leave_one_current_fact() {
                run(|f| Box::pin(super::facts::racing_writers_leave_one_current_fact(f))).await;
            }
            #[tokio::test]
            async fn facts_are_corrected_and_forgotten_by_hand() {
                run(|f| Box::pin(super::facts::facts_are_corrected_and_forgotten_by_hand(f))).await;
            }
            #[tokio::test]
            async fn bad_input_leaves_the_context_as_it_was() {
                run(|f| Box::pin(super::bad_input_leaves_the_context_as_it_was(f))).await;
            }
        }
    };
}

suite!(sqlite);
suite!(postgres);
suite!(memory);
