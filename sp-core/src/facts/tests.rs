//! Facts over the in-process stores: supersession, merging, history, search, extraction from
//! turns through the event log, and dead-lettering when the model fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;

use super::*;
use crate::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, Role, Sampling, StreamEvent, Usage,
};
use crate::context::{Contexts, MemoryContextStore, NewContext, NewMessage};
use crate::events::{EventLog, EventsConfig, MemoryEventStore};
use crate::knowledge::{Namespace, SimpleTokenizer};
use crate::model::ChatModel;
use crate::{Error, Result, Timestamp};

/// Answers every extraction with `answer`, or fails when it is `None`; counts calls and keeps
/// the last prompt.
struct Extractor {
    answer: Option<&'static str>,
    calls: AtomicUsize,
    last_prompt: std::sync::Mutex<String>,
}

impl Extractor {
    fn new(answer: Option<&'static str>) -> Arc<Self> {
        Arc::new(Extractor {
            answer,
            calls: AtomicUsize::new(0),
            last_prompt: Default::default(),
        })
    }
}

#[async_trait]
impl ChatModel for Extractor {
    async fn chat(&self, _: &[ChatMessage], _: &Sampling) -> Result<Completion> {
        Err(Error::internal("extraction is constrained"))
    }

    async fn chat_stream(
        &self,
        _: &[ChatMessage],
        _: &Sampling,
    ) -> Result<BoxStream<'static, Result<StreamEvent>>> {
        Err(Error::internal("not streamed"))
    }

    async fn chat_with(
        &self,
        messages: &[ChatMessage],
        _: &Sampling,
        options: &ChatOptions,
    ) -> Result<Completion> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(
            options.response_format.is_json(),
            "extraction is schema-constrained"
        );
        *self.last_prompt.lock().expect("prompt") = messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let usage = Usage::default();
        match self.answer {
            Some(text) => Ok(Completion::new(text, FinishReason::Stop, usage)),
            None => Err(Error::unavailable("model", "unloaded")),
        }
    }
}

struct World {
    contexts: Arc<Contexts>,
    facts: Arc<Facts>,
    log: Arc<EventLog>,
}

fn world(model: Option<Arc<Extractor>>) -> World {
    let log = Arc::new(EventLog::new(
        Arc::new(MemoryEventStore::default()),
        EventsConfig::default(),
    ));
    let contexts = Arc::new(
        Contexts::new(
            Arc::new(MemoryContextStore::default()),
            Arc::new(SimpleTokenizer),
        )
        .with_events(log.clone())
        .with_fact_extraction(),
    );
    let mut facts =
        Facts::new(Arc::new(MemoryFactStore::default()), contexts.clone()).with_events(log.clone());
    if let Some(model) = model {
        facts = facts.with_model(model);
    }
    World {
        contexts,
        facts: Arc::new(facts),
        log,
    }
}

#[tokio::test]
async fn a_contradiction_supersedes_and_history_is_kept() {
    let w = world(None);
    let ctx = w.contexts.create(NewContext::default()).await.unwrap();
    let ns = &ctx.namespace;
    let oslo = w
        .facts
        .add(ns, ctx.id, NewFact::new("user", "city", "Oslo"))
        .await
        .unwrap();
    assert!(matches!(oslo, Recorded::Added { .. }));
    let between = Timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let again = w
        .facts
        .add(
            ns,
            ctx.id,
            NewFact::new("User", "City", "oslo.").with_confidence(0.5),
        )
        .await
        .unwrap();
    let Recorded::Merged { fact } = &again else {
        panic!("a repeat merges: {again:?}")
    };
    assert_eq!(
        (fact.id, fact.mentions, fact.confidence),
        (oslo.fact().id, 2, 1.0)
    );
    let moved = w
        .facts
        .add(ns, ctx.id, NewFact::new("I", "city", "Bergen"))
        .await
        .unwrap();
    let Recorded::Superseded { fact, previous } = &moved else {
        panic!("{moved:?}")
    };
    assert_eq!(previous.id, oslo.fact().id);
    assert_eq!(previous.superseded_by, Some(fact.id));
    assert_eq!(previous.valid_to, Some(fact.valid_from));

    let current = w
        .facts
        .list(ns, ctx.id, FactView::Current, 10)
        .await
        .unwrap();
    assert_eq!(
        current.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(),
        ["Bergen"]
    );
    let then = w
        .facts
        .list(ns, ctx.id, FactView::AsOf(between), 10)
        .await
        .unwrap();
    assert_eq!(
        then.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(),
        ["Oslo"]
    );
    let all = w
        .facts
        .list(ns, ctx.id, FactView::History, 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "the superseded fact is history, not gone");

    // Another namespace sees nothing of it.
    let other = Namespace::new("other").unwrap();
    assert!(
        w.facts
            .list(&other, ctx.id, FactView::Current, 10)
            .await
            .is_err()
    );
    assert!(w.facts.get(&other, ctx.id, fact.id).await.is_err());
}

#[tokio::test]
async fn facts_are_searched_corrected_and_forgotten() {
    let w = world(None);
    let ctx = w.contexts.create(NewContext::default()).await.unwrap();
    let ns = &ctx.namespace;
    w.facts
        .add(ns, ctx.id, NewFact::new("user", "city", "Bergen"))
        .await
        .unwrap();
    let pet = w
        .facts
        .add(ns, ctx.id, NewFact::new("user", "pet", "a cat"))
        .await
        .unwrap();
    let hits = w.facts.search(ns, ctx.id, "pet cat", 5).await.unwrap();
    assert_eq!(hits[0].fact.id, pet.fact().id);
    assert!(w.facts.search(ns, ctx.id, " ", 5).await.is_err());

    let edit = FactEdit {
        value: Some("a dog".into()),
        ..FactEdit::default()
    };
    let edited = w
        .facts
        .edit(ns, ctx.id, pet.fact().id, &edit)
        .await
        .unwrap();
    assert_eq!((edited.id, edited.value.as_str()), (pet.fact().id, "a dog"));
    // An edit may not make two current facts of one subject and attribute.
    let clash = FactEdit {
        attribute: Some("city".into()),
        ..FactEdit::default()
    };
    assert!(matches!(
        w.facts.edit(ns, ctx.id, pet.fact().id, &clash).await,
        Err(Error::Conflict(_))
    ));
    w.facts.delete(ns, ctx.id, pet.fact().id).await.unwrap();
    assert!(w.facts.get(ns, ctx.id, pet.fact().id).await.is_err());
    assert_eq!(
        w.facts
            .list(ns, ctx.id, FactView::History, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn turn(w: &World, ctx: &crate::context::Context, said: &str) {
    let ns = &ctx.namespace;
    w.contexts
        .append(ns, ctx.id, NewMessage::new(Role::User, said))
        .await
        .unwrap();
    w.contexts
        .append(ns, ctx.id, NewMessage::new(Role::Assistant, "Noted."))
        .await
        .unwrap();
}

#[tokio::test]
async fn turns_of_a_learning_context_are_extracted_through_the_log() {
    let model = Extractor::new(Some(
        r#"{"facts":[{"subject":"user","attribute":"city","value":"Oslo","confidence":0.9}]}"#,
    ));
    let w = world(Some(model.clone()));
    let quiet = w.contexts.create(NewContext::default()).await.unwrap();
    turn(&w, &quiet, "I live in Oslo").await;
    let ns = quiet.namespace.clone();
    assert_eq!(
        w.facts.deliver(&ns).await.unwrap().delivered,
        0,
        "no memory stream yet"
    );

    let ctx = w
        .contexts
        .create(NewContext::default().with_fact_extraction())
        .await
        .unwrap();
    turn(&w, &ctx, "I live in Oslo").await;
    let round = w.facts.deliver(&ns).await.unwrap();
    assert_eq!(round.delivered, 1);
    assert_eq!(model.calls.load(Ordering::SeqCst), 1);
    assert!(model.last_prompt.lock().unwrap().contains("I live in Oslo"));
    let facts = w
        .facts
        .list(&ns, ctx.id, FactView::Current, 10)
        .await
        .unwrap();
    assert_eq!(facts.len(), 1);
    let user_message = w.contexts.messages(&ns, ctx.id, 0, 1).await.unwrap();
    assert_eq!(facts[0].source_message, Some(user_message[0].id));
    // The next turn's prompt shows what is known, so a change names the same attribute.
    turn(&w, &ctx, "Hello again").await;
    w.facts.deliver(&ns).await.unwrap();
    assert!(
        model
            .last_prompt
            .lock()
            .unwrap()
            .contains("user | city | Oslo")
    );
    let learned = w
        .log
        .query(
            &crate::events::EventQuery {
                namespace: ns.clone(),
                stream: Some(MEMORY_STREAM.into()),
                event_type: Some(LEARNED_EVENT.into()),
                ..Default::default()
            },
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(learned.items.len(), 2, "each extraction is on the record");
    assert_eq!(learned.items[1].data["merged"], 1);
}

#[tokio::test]
async fn a_failing_extraction_is_retried_then_dead_lettered() {
    let model = Extractor::new(None);
    let w = world(Some(model.clone()));
    let ctx = w
        .contexts
        .create(NewContext::default().with_fact_extraction())
        .await
        .unwrap();
    turn(&w, &ctx, "I live in Oslo").await;
    let ns = ctx.namespace.clone();
    let round = w.facts.deliver(&ns).await.unwrap();
    assert_eq!(round.dead_lettered, 1);
    let attempts = EventsConfig::default().max_attempts as usize;
    assert_eq!(
        model.calls.load(Ordering::SeqCst),
        attempts,
        "retried before giving up"
    );
    let letters = w
        .log
        .dead_letters(&ns, Some(EXTRACT_GROUP), &Default::default())
        .await
        .unwrap();
    assert_eq!(letters.items.len(), 1);
    assert!(
        letters.items[0].reason.contains("unloaded"),
        "{}",
        letters.items[0].reason
    );
    assert_eq!(letters.items[0].event.event_type, TURN_EVENT);

    // A malformed answer (the model cut off) fails the same way rather than losing the turn.
    let cut = Extractor::new(Some(r#"{"facts":[{"subject":"#));
    let w = world(Some(cut));
    let ctx = w
        .contexts
        .create(NewContext::default().with_fact_extraction())
        .await
        .unwrap();
    turn(&w, &ctx, "I live in Oslo").await;
    assert_eq!(
        w.facts.deliver(&ctx.namespace).await.unwrap().dead_lettered,
        1
    );
}

#[tokio::test]
async fn the_worker_extracts_without_being_asked() {
    let model = Extractor::new(Some(
        r#"{"facts":[{"subject":"user","attribute":"city","value":"Oslo","confidence":0.9}]}"#,
    ));
    let w = world(Some(model));
    let worker = w.facts.clone().spawn_worker();
    let ctx = w
        .contexts
        .create(NewContext::default().with_fact_extraction())
        .await
        .unwrap();
    turn(&w, &ctx, "I live in Oslo").await;
    let mut facts = Vec::new();
    for _ in 0..200 {
        facts = w
            .facts
            .list(&ctx.namespace, ctx.id, FactView::Current, 10)
            .await
            .unwrap();
        if !facts.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    worker.abort();
    assert_eq!(facts.len(), 1, "the worker took the turn off the live log");
}
