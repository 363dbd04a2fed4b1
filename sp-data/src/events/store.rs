//! The event log's reads, written once for both backends and stamped for each event store by
//! [`event_store!`]; appends differ (PostgreSQL notifies other processes) and stay with each.

use async_trait::async_trait;
use sp_core::events::{Event, EventQuery, EventStore, NewEvent, PageBytes};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Page, PageRequest, Result, Timestamp};

use super::rows::{EventRow, page_of, select_events};
use crate::sql::Dialect;

/// Stamps [`EventStore`] for one event store and its driver; `append` goes to the store's own
/// `append_events`.
macro_rules! event_store {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl EventStore for $store {
            async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>> {
                self.append_events(events).await
            }

            async fn query(&self, query: &EventQuery, page: &PageRequest) -> Result<Page<Event>> {
                use futures::TryStreamExt as _;
                let mut select = select_events::<$db>(query, page)?;
                let mut fetched = select.build_query_as::<EventRow>().fetch(self.pool());
                // Rows are decoded as they come and reading stops once the page's data is
                // full (review finding H7), not after every row is in memory.
                let mut bytes = PageBytes::default();
                let mut rows = Vec::new();
                while let Some(row) = fetched.try_next().await.map_err(<$db as Dialect>::error)? {
                    let more = bytes.take(row.data_bytes());
                    rows.push(row);
                    if !more {
                        break;
                    }
                }
                page_of(rows, query, bytes.limit(page.limit))
            }

            async fn head(&self, namespace: &Namespace, stream: &str) -> Result<Option<u64>> {
                let head: Option<i64> = sqlx::query_scalar(
                    "SELECT head FROM event_streams WHERE namespace = $1 AND stream = $2",
                )
                .bind(namespace.as_str())
                .bind(stream)
                .fetch_optional(self.pool())
                .await
                .map_err(<$db as Dialect>::error)?;
                head.map(|h| u64::try_from(h).map_err(Error::internal))
                    .transpose()
            }

            async fn prune(&self, before: Timestamp) -> Result<u64> {
                self.prune_events(before).await
            }
        }
    };
}

event_store!(super::SqliteEventStore, sqlx::Sqlite);
#[cfg(feature = "postgres")]
event_store!(super::PgEventStore, sqlx::Postgres);
