//! The `fact_search` built-in: a run that continues a context finds what that context learned.

use super::tests::{Scripted, run_to_end_in, setup};
use super::*;
use crate::ErrorCode;
use crate::context::NewContext;
use crate::facts::NewFact;
use crate::knowledge::Namespace;

#[tokio::test]
async fn a_run_finds_the_facts_its_context_learned() {
    let model = Scripted::new(vec![
        Err(("fact_search", r#"{"query": "city"}"#)),
        Ok("You live in Bergen."),
    ]);
    let s = setup(model, Default::default(), None);
    let ns = Namespace::default();
    let context = s
        .contexts
        .create(NewContext::default())
        .await
        .expect("context");
    for (attribute, value) in [("city", "Oslo"), ("city", "Bergen"), ("pet", "a cat")] {
        let fact = NewFact::new("user", attribute, value);
        s.facts.add(&ns, context.id, fact).await.expect("fact");
    }
    let agent = NewAgent {
        tools: vec![ToolSelector::Builtin("fact_search".into())],
        ..NewAgent::new("recaller", "Answer from what you know.")
    };
    let done = run_to_end_in(&s, &agent, "Where do I live?", Some(context.id)).await;
    assert_eq!(
        done.output.as_deref(),
        Some("You live in Bergen."),
        "{done:?}"
    );
    let seen = s.model.seen.lock().expect("seen").clone();
    assert!(seen[0].contains("Bergen"), "the current fact: {seen:?}");
    assert!(
        !seen[0].contains("Oslo"),
        "not the superseded one: {seen:?}"
    );

    // Without a context the tool's coded error goes back to the model.
    let model = Scripted::new(vec![
        Err(("fact_search", r#"{"query": "city"}"#)),
        Ok("I cannot tell."),
    ]);
    let s = setup(model, Default::default(), None);
    let done = run_to_end_in(&s, &agent, "Where do I live?", None).await;
    assert_eq!(done.output.as_deref(), Some("I cannot tell."));
    let seen = s.model.seen.lock().expect("seen").clone();
    assert!(
        seen[0].contains(ErrorCode::InvalidInput.as_str()),
        "{seen:?}"
    );
}

#[tokio::test]
async fn an_agent_that_learns_queues_its_turns_once() {
    use crate::context::{Contexts, MemoryContextStore};
    use crate::events::{EventLog, EventQuery, EventsConfig, MemoryEventStore};
    use crate::knowledge::SimpleTokenizer;
    use std::sync::Arc;

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
    let model = Scripted::new(vec![Ok("Noted.")]);
    let s = setup(model, Default::default(), Some(contexts));
    let ns = Namespace::default();
    let learner = NewAgent {
        extract_facts: true,
        ..NewAgent::new("learner", "Be brief.")
    };
    let quiet = NewAgent::new("quiet", "Be brief.");
    let plain = s
        .contexts
        .create(NewContext::default())
        .await
        .expect("context");
    let learning = s
        .contexts
        .create(NewContext::default().with_fact_extraction())
        .await
        .expect("context");
    run_to_end_in(&s, &quiet, "I live in Oslo.", Some(plain.id)).await;
    run_to_end_in(&s, &learner, "I live in Oslo.", Some(plain.id)).await;
    run_to_end_in(&s, &learner, "I live in Oslo.", Some(learning.id)).await;
    let turns = log
        .query(
            &EventQuery {
                namespace: ns,
                stream: Some(crate::facts::MEMORY_STREAM.into()),
                ..Default::default()
            },
            &Default::default(),
        )
        .await
        .expect("events");
    let queued: Vec<(String, u64)> = turns
        .items
        .iter()
        .map(|e| {
            (
                e.data["context_id"].as_str().unwrap_or("").to_owned(),
                e.data["through"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        queued,
        [(plain.id.to_string(), 4), (learning.id.to_string(), 2)],
        "the learner's turns, each once; not the quiet agent's"
    );
}
