//! Usage sums in process memory.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{
    MAX_USAGE_ROWS, UsageCounts, UsageKey, UsageQuery, UsageRow, UsageStore, too_many_rows,
};
use crate::error::Result;

/// A [`UsageStore`] in a map, gone with the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use sp_core::usage::{MemoryUsageStore, UsageCounts, UsageKey, UsageQuery, UsageStore};
///
/// let store = MemoryUsageStore::default();
/// let key = UsageKey::today(sp_core::TenantId::default(), "k1", "smollm2");
/// store.add(&[(key.clone(), UsageCounts::call(12, 3, 0))]).await?;
/// store.add(&[(key, UsageCounts::call(8, 1, 0))]).await?;
/// let rows = store.rows(&UsageQuery::default()).await?;
/// assert_eq!((rows[0].counts.requests, rows[0].counts.tokens()), (2, 24));
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryUsageStore {
    rows: std::sync::Mutex<HashMap<UsageKey, UsageCounts>>,
}

#[async_trait]
impl UsageStore for MemoryUsageStore {
    async fn add(&self, batch: &[(UsageKey, UsageCounts)]) -> Result<()> {
        let mut rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, counts) in batch {
            rows.entry(key.clone()).or_default().add(counts);
        }
        Ok(())
    }

    async fn prune(&self, before: chrono::NaiveDate) -> Result<u64> {
        let mut rows = self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let was = rows.len();
        rows.retain(|key, _| key.day >= before);
        Ok((was - rows.len()) as u64)
    }

    async fn rows(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        let groups = query.groups();
        let mut sums: HashMap<UsageRowKey, UsageCounts> = HashMap::new();
        for (key, counts) in self
            .rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(key, _)| query.matches(key))
        {
            let row = UsageRow::grouped(key, groups, UsageCounts::default());
            sums.entry(UsageRowKey(row)).or_default().add(counts);
        }
        if sums.len() > MAX_USAGE_ROWS {
            return Err(too_many_rows());
        }
        let mut rows: Vec<UsageRow> = sums
            .into_iter()
            .map(|(UsageRowKey(row), counts)| UsageRow { counts, ..row })
            .collect();
        UsageRow::sort(&mut rows);
        Ok(rows)
    }
}

/// A grouped row's columns (its counts zero) as a map key.
#[derive(PartialEq, Eq)]
struct UsageRowKey(UsageRow);

impl std::hash::Hash for UsageRowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (&self.0.tenant, &self.0.key_id, &self.0.model, self.0.day).hash(state);
    }
}
