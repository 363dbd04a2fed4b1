//! Consumer groups: in-order, at-least-once delivery, the dead-letter queue and redrive.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

use std::sync::{Arc, Mutex};

use serde_json::json;
use sp_core::events::{EventLog, GroupStart, NewEvent, NewGroup};
use sp_core::knowledge::Namespace;
use sp_core::{ErrorCode, PageRequest};

use crate::Fixture;

fn group(name: &str, stream: &str, start: GroupStart) -> NewGroup {
    NewGroup {
        namespace: Namespace::default(),
        name: name.into(),
        stream: stream.into(),
        start,
    }
}

async fn jobs(log: &EventLog, count: u64) {
    for n in 1..=count {
        log.append(NewEvent::new("jobs", "job.queued", json!({"n": n})))
            .await
            .unwrap();
    }
}

pub async fn deliver_at_least_once_and_dead_letter(f: &Fixture) {
    let ns = Namespace::default();
    // The process's counters (shared by every test here, so they grow at least by ours).
    let before = sp_core::events::counters();
    jobs(&f.log, 5).await;
    let created = f
        .log
        .create_group(group("mailer", "jobs", GroupStart::Beginning))
        .await
        .unwrap();
    assert_eq!(created.committed, 0);
    let taken = f
        .log
        .create_group(group("mailer", "jobs", GroupStart::Beginning))
        .await
        .unwrap_err();
    assert_eq!(taken.code(), ErrorCode::Conflict);
    let nowhere = f
        .log
        .create_group(group("lost", "nothing", GroupStart::Beginning))
        .await
        .unwrap_err();
    assert_eq!(nowhere.code(), ErrorCode::StreamUnknown);
    let unknown = f.log.group(&ns, "nobody").await.unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::GroupUnknown);

    // The handler always fails on job 3: three tries (max_attempts), then the DLQ.
    let calls = Arc::new(Mutex::new(Vec::new()));
    let handler = |fail_on: Option<u64>| {
        let calls = calls.clone();
        move |event: Arc<sp_core::events::Event>| {
            let calls = calls.clone();
            async move {
                let n = event.data["n"].as_u64().unwrap();
                calls.lock().unwrap().push(n);
                if Some(n) == fail_on {
                    Err(format!("job {n} failed"))
                } else {
                    Ok(())
                }
            }
        }
    };
    let round = f
        .log
        .deliver(&ns, "mailer", 100, handler(Some(3)))
        .await
        .unwrap();
    assert_eq!(
        (round.delivered, round.dead_lettered, round.committed),
        (4, 1, 5)
    );
    let after = sp_core::events::counters();
    assert!(
        after.appended >= before.appended + 5,
        "{before:?} → {after:?}"
    );
    assert!(
        after.committed >= before.committed + 4,
        "{before:?} → {after:?}"
    );
    assert!(
        after.dead_lettered > before.dead_lettered,
        "{before:?} → {after:?}"
    );
    assert_eq!(
        *calls.lock().unwrap(),
        [1, 2, 3, 3, 3, 4, 5],
        "in order, retried"
    );

    let letters = f
        .log
        .dead_letters(&ns, Some("mailer"), &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(letters.items.len(), 1);
    let letter = &letters.items[0];
    assert_eq!((letter.event.offset, letter.attempts), (3, 3));
    assert_eq!(letter.reason, "job 3 failed");
    assert_eq!(letter.redriven_at, None);
    assert_eq!(f.log.dead_letter(&ns, letter.id).await.unwrap(), *letter);

    // Nothing new: a round delivers nothing. Redriven, the letter goes first, once.
    calls.lock().unwrap().clear();
    let idle = f
        .log
        .deliver(&ns, "mailer", 100, handler(None))
        .await
        .unwrap();
    assert_eq!((idle.delivered, idle.redelivered), (0, 0));
    f.log.redrive(&ns, letter.id).await.unwrap();
    jobs(&f.log, 1).await;
    let again = f
        .log
        .deliver(&ns, "mailer", 100, handler(None))
        .await
        .unwrap();
    assert_eq!(
        (again.redelivered, again.delivered, again.committed),
        (1, 1, 6)
    );
    assert_eq!(
        *calls.lock().unwrap(),
        [3, 1],
        "the redriven job first, then the new one"
    );
    let settled = f.log.dead_letter(&ns, letter.id).await.unwrap();
    assert!(settled.resolved_at.is_some());
    let quiet = f
        .log
        .deliver(&ns, "mailer", 100, handler(None))
        .await
        .unwrap();
    assert_eq!(
        quiet.redelivered, 0,
        "a delivered letter is not redelivered"
    );

    // A group started at the end sees only what comes after.
    let late = f
        .log
        .create_group(group("late", "jobs", GroupStart::End))
        .await
        .unwrap();
    assert_eq!(late.committed, 6);
    assert!(f.log.pending(&ns, "late", 10).await.unwrap().is_empty());
}

pub async fn attempts_survive_a_restart(f: &Fixture) {
    let ns = Namespace::default();
    jobs(&f.log, 2).await;
    f.log
        .create_group(group("poller", "jobs", GroupStart::Beginning))
        .await
        .unwrap();
    let next = f.log.pending(&ns, "poller", 1).await.unwrap();
    assert_eq!(next[0].offset, 1);
    assert!(
        f.log
            .reject(&ns, "poller", 1, "down")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.log
            .reject(&ns, "poller", 1, "down")
            .await
            .unwrap()
            .is_none()
    );
    let out_of_turn = f.log.reject(&ns, "poller", 2, "x").await.unwrap_err();
    assert_eq!(out_of_turn.code(), ErrorCode::Conflict);
    let wrong_ack = f.log.acknowledge(&ns, "poller", 2).await.unwrap_err();
    assert_eq!(wrong_ack.code(), ErrorCode::Conflict);

    // A new log over the same store (a restarted process) keeps counting: 3rd strike.
    let restarted = EventLog::new(f.log.store().clone(), f.log.config().clone());
    let letter = restarted
        .reject(&ns, "poller", 1, "still down")
        .await
        .unwrap()
        .expect("dead-lettered on the third attempt");
    assert_eq!((letter.attempts, letter.reason.as_str()), (3, "still down"));
    let group = restarted.acknowledge(&ns, "poller", 2).await.unwrap();
    assert_eq!(group.committed, 2);
}
