//! Facts (`sp_core::facts`) on every backend: supersession with history, merging, views as of
//! an instant, writers racing for one fact, corrections, forgetting, tenant isolation, and
//! facts going with their context.

use std::time::Duration;

use sp_core::context::NewContext;
use sp_core::facts::{FactEdit, FactView, NewFact, Recorded};
use sp_core::{Error, Timestamp};

use super::{Fixture, ns};

pub async fn facts_supersede_merge_and_keep_history(f: &Fixture) {
    let ns = ns("learner");
    let ctx = f
        .contexts
        .create(
            NewContext::default()
                .with_namespace(ns.clone())
                .with_fact_extraction(),
        )
        .await
        .unwrap();
    assert!(ctx.extract_facts, "the setting is stored");
    assert!(
        f.contexts
            .store()
            .extracting_namespaces()
            .await
            .unwrap()
            .contains(&ns)
    );
    let oslo = f
        .facts
        .add(
            &ns,
            ctx.id,
            NewFact::new("user", "city", "Oslo").with_confidence(0.6),
        )
        .await
        .unwrap();
    assert!(matches!(oslo, Recorded::Added { .. }));
    let merged = f
        .facts
        .add(
            &ns,
            ctx.id,
            NewFact::new("I", "City", "oslo").with_confidence(0.8),
        )
        .await
        .unwrap();
    let Recorded::Merged { fact } = &merged else {
        panic!("{merged:?}")
    };
    assert_eq!(
        (fact.id, fact.mentions, fact.confidence),
        (oslo.fact().id, 2, 0.8)
    );
    assert_eq!(fact.value, "Oslo", "a merge keeps the first wording");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let before_move = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let moved = f
        .facts
        .add(&ns, ctx.id, NewFact::new("user", "city", "Bergen"))
        .await
        .unwrap();
    let Recorded::Superseded {
        fact: bergen,
        previous,
    } = &moved
    else {
        panic!("{moved:?}")
    };
    assert_eq!(previous.id, oslo.fact().id);
    assert_eq!(previous.superseded_by, Some(bergen.id));

    let values = |facts: Vec<sp_core::facts::Fact>| -> Vec<String> {
        facts.into_iter().map(|f| f.value).collect()
    };
    let current = f
        .facts
        .list(&ns, ctx.id, FactView::Current, 10)
        .await
        .unwrap();
    assert_eq!(values(current), ["Bergen"]);
    let then = f
        .facts
        .list(&ns, ctx.id, FactView::AsOf(before_move), 10)
        .await
        .unwrap();
    assert_eq!(values(then), ["Oslo"]);
    let history = f
        .facts
        .list(&ns, ctx.id, FactView::History, 10)
        .await
        .unwrap();
    assert_eq!(values(history.clone()), ["Bergen", "Oslo"]);
    let stored_oslo = f.facts.get(&ns, ctx.id, oslo.fact().id).await.unwrap();
    assert_eq!(stored_oslo, history[1], "read back as recorded");
    assert_eq!(stored_oslo.valid_to, Some(bergen.valid_from));

    // Another tenant sees none of it, and cannot add to the context.
    let other = super::ns("intruder");
    assert!(
        f.facts
            .list(&other, ctx.id, FactView::Current, 10)
            .await
            .is_err()
    );
    assert!(f.facts.get(&other, ctx.id, bergen.id).await.is_err());
    assert!(
        f.facts
            .add(&other, ctx.id, NewFact::new("user", "city", "Rome"))
            .await
            .is_err()
    );
    assert_eq!(
        f.facts
            .list(&ns, ctx.id, FactView::History, 10)
            .await
            .unwrap()
            .len(),
        2
    );

    // Search finds the current fact.
    let hits = f.facts.search(&ns, ctx.id, "city", 5).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].fact.id, bergen.id);

    // The facts go with their context.
    f.contexts.delete(&ns, ctx.id).await.unwrap();
    assert!(
        f.facts
            .list(&ns, ctx.id, FactView::History, 10)
            .await
            .is_err()
    );
    assert!(f.facts.get(&ns, ctx.id, bergen.id).await.is_err());
}

pub async fn racing_writers_leave_one_current_fact(f: &Fixture) {
    let ns = ns("racers");
    let ctx = f
        .contexts
        .create(NewContext::default().with_namespace(ns.clone()))
        .await
        .unwrap();
    let mut writers = Vec::new();
    for i in 0..6 {
        let (facts, ns) = (f.facts.clone(), ns.clone());
        writers.push(tokio::spawn(async move {
            facts
                .add(
                    &ns,
                    ctx.id,
                    NewFact::new("user", "mood", format!("mood {i}")),
                )
                .await
        }));
    }
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let current = f
        .facts
        .list(&ns, ctx.id, FactView::Current, 10)
        .await
        .unwrap();
    assert_eq!(
        current.len(),
        1,
        "one current fact per subject and attribute"
    );
    let history = f
        .facts
        .list(&ns, ctx.id, FactView::History, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 6, "every observation kept");
    let open: Vec<_> = history
        .iter()
        .filter(|f| f.superseded_by.is_none())
        .collect();
    assert_eq!(open.len(), 1, "each replaced fact names its successor");
}

pub async fn facts_are_corrected_and_forgotten_by_hand(f: &Fixture) {
    let ns = ns("editor");
    let ctx = f
        .contexts
        .create(NewContext::default().with_namespace(ns.clone()))
        .await
        .unwrap();
    f.facts
        .add(&ns, ctx.id, NewFact::new("user", "city", "Bergen"))
        .await
        .unwrap();
    let pet = f
        .facts
        .add(&ns, ctx.id, NewFact::new("user", "pet", "a cat"))
        .await
        .unwrap();
    let id = pet.fact().id;
    let fix = FactEdit {
        value: Some("a dog".into()),
        confidence: Some(0.7),
        ..FactEdit::default()
    };
    let edited = f.facts.edit(&ns, ctx.id, id, &fix).await.unwrap();
    assert_eq!(
        (edited.value.as_str(), edited.confidence, edited.mentions),
        ("a dog", 0.7, 1)
    );
    assert_eq!(f.facts.get(&ns, ctx.id, id).await.unwrap(), edited);
    // The edited fact is matched by its new value.
    let again = f
        .facts
        .add(&ns, ctx.id, NewFact::new("user", "pet", "A dog"))
        .await
        .unwrap();
    assert!(matches!(again, Recorded::Merged { .. }));
    assert_eq!(
        again.fact().confidence,
        1.0,
        "the higher confidence of the two"
    );

    let clash = FactEdit {
        attribute: Some("city".into()),
        ..FactEdit::default()
    };
    let refused = f.facts.edit(&ns, ctx.id, id, &clash).await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
    let empty = f.facts.edit(&ns, ctx.id, id, &FactEdit::default()).await;
    assert!(
        matches!(empty, Err(Error::InvalidInput { .. })),
        "{empty:?}"
    );
    let bad = FactEdit {
        confidence: Some(2.0),
        ..FactEdit::default()
    };
    assert!(f.facts.edit(&ns, ctx.id, id, &bad).await.is_err());
    let now = f.facts.get(&ns, ctx.id, id).await.unwrap();
    assert_eq!(now, *again.fact(), "refused edits changed nothing");

    f.facts.delete(&ns, ctx.id, id).await.unwrap();
    assert!(matches!(
        f.facts.get(&ns, ctx.id, id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        f.facts.delete(&ns, ctx.id, id).await.is_err(),
        "gone already"
    );
    let left = f
        .facts
        .list(&ns, ctx.id, FactView::History, 10)
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
}
