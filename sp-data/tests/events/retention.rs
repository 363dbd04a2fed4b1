//! Retention: old events go (with their dead letters), heads stay, consumer groups behind
//! the oldest retained event move on from it.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::Arc;

use serde_json::json;
use sp_core::events::{GroupStart, NewEvent, NewGroup};
use sp_core::knowledge::Namespace;
use sp_core::{ErrorCode, PageRequest, Timestamp};

use crate::Fixture;

fn days_from_now(days: i64) -> Timestamp {
    Timestamp::from_unix_micros(Timestamp::now().unix_micros() + days * 86_400_000_000).unwrap()
}

async fn jobs(f: &Fixture, from: u64, to: u64) {
    for n in from..=to {
        f.log
            .append(NewEvent::new("jobs", "job.queued", json!({"n": n})))
            .await
            .unwrap();
    }
}

fn group(name: &str) -> NewGroup {
    NewGroup {
        namespace: Namespace::default(),
        name: name.into(),
        stream: "jobs".into(),
        start: GroupStart::Beginning,
    }
}

pub async fn prune_keeps_heads_and_moves_groups_on(f: &Fixture) {
    let ns = Namespace::default();
    let store = f.log.store().clone();
    jobs(f, 1, 3).await;
    // A group that dead-letters job 2, and one that has not read anything.
    f.log.create_group(group("picky")).await.unwrap();
    f.log.create_group(group("behind")).await.unwrap();
    let picky = |event: Arc<sp_core::events::Event>| async move {
        match event.data["n"].as_u64() {
            Some(2) => Err("no".to_owned()),
            _ => Ok(()),
        }
    };
    let round = f.log.deliver(&ns, "picky", 10, picky).await.unwrap();
    assert_eq!((round.delivered, round.dead_lettered), (2, 1));
    let page = PageRequest::default();
    let letters = f.log.dead_letters(&ns, None, &page).await.unwrap();
    assert_eq!(letters.items.len(), 1);

    assert_eq!(
        store.prune(days_from_now(-1)).await.unwrap(),
        0,
        "all are recent"
    );
    // Every event of today is older than the day after tomorrow.
    assert_eq!(store.prune(days_from_now(2)).await.unwrap(), 3);
    let left = f
        .log
        .query(&Default::default(), &PageRequest::default())
        .await
        .unwrap();
    assert!(left.items.is_empty(), "{:?}", left.items);
    let letters = f.log.dead_letters(&ns, None, &page).await.unwrap();
    assert!(letters.items.is_empty(), "gone with their event");
    assert_eq!(
        store.head(&ns, "jobs").await.unwrap(),
        Some(3),
        "heads stay"
    );

    // Offsets go on from the head; the group behind starts at the oldest retained event.
    jobs(f, 4, 5).await;
    let pending = f.log.pending(&ns, "behind", 10).await.unwrap();
    let offsets: Vec<u64> = pending.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [4, 5]);
    let skipped = f.log.acknowledge(&ns, "behind", 5).await.unwrap_err();
    assert_eq!(skipped.code(), ErrorCode::Conflict);
    assert!(skipped.to_string().contains("4"), "{skipped}");
    let wrong = f.log.reject(&ns, "behind", 5, "no").await.unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::Conflict);
    assert_eq!(
        f.log.acknowledge(&ns, "behind", 4).await.unwrap().committed,
        4
    );
    let beyond = f.log.acknowledge(&ns, "behind", 6).await.unwrap_err();
    assert_eq!(beyond.code(), ErrorCode::Conflict, "past the head");
    let all = |event: Arc<sp_core::events::Event>| async move {
        let _ = event;
        Ok(())
    };
    let rest = f.log.deliver(&ns, "behind", 10, all).await.unwrap();
    assert_eq!((rest.delivered, rest.committed), (1, 5));
}
