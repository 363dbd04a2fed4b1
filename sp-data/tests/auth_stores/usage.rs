//! Usage sums on every backend: batches add up exactly (under 500 concurrent calls and two
//! meters writing at once), filters and grouping answer what they name, retention removes
//! the months before its cut-off.

use std::sync::Arc;

use chrono::NaiveDate;
use sp_core::TenantId;
use sp_core::usage::{UsageCounts, UsageGroup, UsageKey, UsageMeter, UsageQuery, UsageRow};

use super::{Stores, acme, cleanup, memory, postgres, sqlite};

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("date")
}

fn key(tenant: TenantId, key_id: &str, model: &str, d: u32) -> UsageKey {
    UsageKey {
        tenant,
        key_id: key_id.into(),
        model: model.into(),
        day: day(d),
    }
}

/// 500 calls recorded concurrently from two meters (two processes on one database), each
/// flushing while the others record: every call is in the sums, once.
async fn concurrent_calls_add_up_exactly(stores: &Stores) {
    let meters = [
        UsageMeter::new(stores.usage.clone()),
        UsageMeter::new(stores.usage.clone()),
    ];
    let calls = (0..500u64).map(|i| {
        let meter = Arc::clone(&meters[(i % 2) as usize]);
        async move {
            let who = key(
                acme(),
                &format!("k{}", i % 5),
                "smollm2",
                1 + (i % 3) as u32,
            );
            let mut counts = UsageCounts::call(i, 2, 1);
            counts.cached_tokens = 1;
            counts.errors = u64::from(i % 10 == 0);
            meter.record(who, counts);
            if i % 7 == 0 {
                meter.flush().await.expect("flush");
            }
        }
    });
    futures::future::join_all(calls).await;
    for meter in &meters {
        meter.flush().await.expect("last flush");
        assert_eq!(meter.pending_rows(), 0);
    }
    let total = stores
        .usage
        .rows(&UsageQuery {
            group_by: vec![UsageGroup::Tenant],
            ..UsageQuery::default()
        })
        .await
        .expect("rows");
    assert_eq!(total.len(), 1, "{total:?}");
    let expected = UsageCounts {
        requests: 500,
        prompt_tokens: (0..500).sum(),
        completion_tokens: 1000,
        embedding_tokens: 500,
        cached_tokens: 500,
        errors: 50,
    };
    assert_eq!(total[0].counts, expected);
    assert_eq!(total[0].tenant, Some(acme()));
    assert_eq!((total[0].key_id.as_deref(), total[0].day), (None, None));
    // As stored: 5 keys × 3 days (i % 5 and i % 3 meet every pair).
    let stored = stores
        .usage
        .rows(&UsageQuery::default())
        .await
        .expect("all");
    assert_eq!(stored.len(), 15);
    let requests: u64 = stored.iter().map(|r| r.counts.requests).sum();
    assert_eq!(requests, 500);
}

/// Filters narrow by tenant, key, model and day range; grouping sums what it does not name.
async fn filters_and_groups(stores: &Stores) {
    let other = TenantId::default();
    stores
        .usage
        .add(&[
            (key(acme(), "a1", "chat", 1), UsageCounts::call(10, 1, 0)),
            (key(acme(), "a1", "chat", 2), UsageCounts::call(20, 2, 0)),
            (key(acme(), "a2", "embed", 2), UsageCounts::call(0, 0, 30)),
            (
                key(other.clone(), "d1", "chat", 3),
                UsageCounts::call(40, 4, 0),
            ),
        ])
        .await
        .expect("add");
    let rows = |query: UsageQuery| {
        let store = stores.usage.clone();
        async move { store.rows(&query).await.expect("rows") }
    };
    let by_model = rows(UsageQuery {
        tenant: Some(acme()),
        group_by: vec![UsageGroup::Model],
        ..UsageQuery::default()
    })
    .await;
    let summed: Vec<(Option<&str>, u64)> = by_model
        .iter()
        .map(|r| (r.model.as_deref(), r.counts.tokens()))
        .collect();
    assert_eq!(summed, [(Some("chat"), 33), (Some("embed"), 30)]);
    let window = rows(UsageQuery {
        from: Some(day(2)),
        to: Some(day(2)),
        group_by: vec![UsageGroup::Day, UsageGroup::Key],
        ..UsageQuery::default()
    })
    .await;
    let keys: Vec<_> = window.iter().map(|r| r.key_id.as_deref()).collect();
    assert_eq!(keys, [Some("a1"), Some("a2")]);
    assert!(window.iter().all(|r| r.day == Some(day(2))));
    let one_key = rows(UsageQuery {
        key_id: Some("d1".into()),
        ..UsageQuery::default()
    })
    .await;
    assert_eq!(
        one_key,
        [UsageRow {
            tenant: Some(other),
            key_id: Some("d1".into()),
            model: Some("chat".into()),
            day: Some(day(3)),
            counts: UsageCounts::call(40, 4, 0),
        }]
    );
    let nothing = rows(UsageQuery {
        model: Some("absent".into()),
        ..UsageQuery::default()
    })
    .await;
    assert!(nothing.is_empty());
}

/// Retention at a month's first day removes the months before it, on every backend (where
/// PostgreSQL drops month partitions and the others delete rows, both agree at a month's
/// edge).
async fn retention_removes_the_months_before(stores: &Stores) {
    let on = |date: &str| {
        let mut who = key(acme(), "a1", "chat", 1);
        who.day = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
        (who, UsageCounts::call(1, 1, 0))
    };
    let days = ["2026-09-15", "2026-10-31", "2026-11-01", "2026-11-20"];
    let batch: Vec<_> = days.iter().map(|d| on(d)).collect();
    stores.usage.add(&batch).await.expect("add");
    let november = NaiveDate::from_ymd_opt(2026, 11, 1).expect("date");
    assert_eq!(stores.usage.prune(november).await.expect("prune"), 2);
    let by_day = UsageQuery {
        group_by: vec![UsageGroup::Day],
        ..UsageQuery::default()
    };
    let left: Vec<_> = stores
        .usage
        .rows(&by_day)
        .await
        .expect("rows")
        .iter()
        .filter_map(|r| r.day)
        .collect();
    assert_eq!(left, [november, day(20)]);
    assert_eq!(stores.usage.prune(november).await.expect("again"), 0);
}

#[tokio::test]
async fn sqlite_usage_retention() {
    retention_removes_the_months_before(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_usage_retention() {
    let stores = postgres().await;
    retention_removes_the_months_before(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_usage_retention() {
    retention_removes_the_months_before(&memory().await).await;
}

#[tokio::test]
async fn sqlite_usage_adds_up() {
    concurrent_calls_add_up_exactly(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_usage_adds_up() {
    let stores = postgres().await;
    concurrent_calls_add_up_exactly(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_usage_adds_up() {
    concurrent_calls_add_up_exactly(&memory().await).await;
}

#[tokio::test]
async fn sqlite_usage_filters_and_groups() {
    filters_and_groups(&sqlite().await).await;
}

#[tokio::test]
async fn postgres_usage_filters_and_groups() {
    let stores = postgres().await;
    filters_and_groups(&stores).await;
    cleanup(stores).await;
}

#[tokio::test]
async fn memory_usage_filters_and_groups() {
    filters_and_groups(&memory().await).await;
}
