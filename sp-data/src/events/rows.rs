//! Event rows as both backends return them (ids, times and JSON decoded natively by the column
//! types of [`crate::sql`]), and the select of a query.

use sp_core::events::{Event, EventQuery};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Page, PageRequest, Result};
use sqlx::{Encode, QueryBuilder, Type};

use crate::sql::{DbId, DbTime};

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    id: DbId,
    namespace: String,
    stream: String,
    offset: i64,
    event_type: String,
    source: String,
    subject: Option<String>,
    time: DbTime,
    correlation_id: Option<String>,
    schema_version: i32,
    data: serde_json::Value,
    /// The size of `data` as text (selected by queries only, to bound their pages).
    #[sqlx(default)]
    data_bytes: i64,
}

impl EventRow {
    /// The size of its `data` as text, as the database measured it (0 where not selected).
    pub(crate) fn data_bytes(&self) -> usize {
        usize::try_from(self.data_bytes).unwrap_or(0)
    }

    pub(crate) fn into_event(self) -> Result<Event> {
        Ok(Event {
            specversion: "1.0".into(),
            id: self.id.0,
            source: self.source,
            event_type: self.event_type,
            subject: self.subject,
            time: self.time.0,
            datacontenttype: "application/json".into(),
            namespace: Namespace::new(self.namespace)?,
            stream: self.stream,
            offset: u64::try_from(self.offset).map_err(Error::internal)?,
            correlationid: self.correlation_id,
            schemaversion: u32::try_from(self.schema_version).map_err(Error::internal)?,
            data: self.data,
        })
    }
}

/// A page of `limit` from up to `limit + 1` rows, continued after the last kept row's order key (its
/// offset within a stream, its append sequence otherwise).
pub(crate) fn page_of(rows: Vec<EventRow>, query: &EventQuery, limit: u32) -> Result<Page<Event>> {
    let by_offset = query.stream.is_some();
    let keyed: Vec<(i64, Event)> = rows
        .into_iter()
        .map(|row| {
            let key = if by_offset { row.offset } else { row.seq };
            Ok((key, row.into_event()?))
        })
        .collect::<Result<_>>()?;
    let page = Page::from_rows(keyed, limit, |(key, _)| *key)?;
    Ok(Page {
        items: page.items.into_iter().map(|(_, event)| event).collect(),
        next_cursor: page.next_cursor,
    })
}

/// The columns of [`EventRow`], as every select over `events` names them.
pub(crate) const COLUMNS: &str = "seq, id, namespace, stream, \"offset\" AS \"offset\", \
     type AS event_type, source, subject, time, correlation_id, schema_version, data";

/// `SELECT … FROM events` narrowed by `query`, ordered by the page's key, limited to one row
/// past the page (written once; sqlx's builder numbers the placeholders for each driver).
pub(crate) fn select_events<DB>(query: &EventQuery, page: &PageRequest) -> Result<QueryBuilder<DB>>
where
    DB: sqlx::Database,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
    for<'a> DbTime: Encode<'a, DB> + Type<DB>,
{
    let mut select = QueryBuilder::new(format!(
        "SELECT {COLUMNS}, CAST(LENGTH(CAST(data AS TEXT)) AS BIGINT) AS data_bytes \
         FROM events WHERE namespace = "
    ));
    select.push_bind(query.namespace.as_str().to_owned());
    for (condition, value) in [
        (" AND stream = ", &query.stream),
        (" AND type = ", &query.event_type),
        (" AND subject = ", &query.subject),
        (" AND correlation_id = ", &query.correlationid),
    ] {
        if let Some(value) = value {
            select.push(condition).push_bind(value.clone());
        }
    }
    if let Some(since) = query.since {
        select.push(" AND time >= ").push_bind(DbTime(since));
    }
    if let Some(until) = query.until {
        select.push(" AND time < ").push_bind(DbTime(until));
    }
    if let Some(from) = query.from_offset {
        select
            .push(" AND \"offset\" >= ")
            .push_bind(i64::try_from(from).unwrap_or(i64::MAX));
    }
    let order = if query.stream.is_some() {
        "\"offset\""
    } else {
        "seq"
    };
    if let Some(cursor) = &page.cursor {
        let after: i64 = cursor.decode()?;
        select.push(format!(" AND {order} > ")).push_bind(after);
    }
    select
        .push(format!(" ORDER BY {order} LIMIT "))
        .push_bind(i64::from(page.limit) + 1);
    Ok(select)
}

/// A dead letter with its event (the event's columns as in [`EventRow`]).
#[derive(sqlx::FromRow)]
pub(crate) struct DeadLetterRow {
    dl_id: DbId,
    group_name: String,
    reason: String,
    attempts: i32,
    dead_at: DbTime,
    redriven_at: Option<DbTime>,
    resolved_at: Option<DbTime>,
    #[sqlx(flatten)]
    event: EventRow,
}

impl DeadLetterRow {
    pub(crate) fn into_letter(self) -> Result<sp_core::events::DeadLetter> {
        Ok(sp_core::events::DeadLetter {
            id: self.dl_id.0,
            group: self.group_name,
            event: self.event.into_event()?,
            reason: self.reason,
            attempts: u32::try_from(self.attempts).map_err(Error::internal)?,
            dead_at: self.dead_at.0,
            redriven_at: self.redriven_at.map(|at| at.0),
            resolved_at: self.resolved_at.map(|at| at.0),
        })
    }
}

/// A page of dead letters, newest first, continued after the last one's id.
pub(crate) fn letters_page(
    rows: Vec<DeadLetterRow>,
    page: &PageRequest,
) -> Result<Page<sp_core::events::DeadLetter>> {
    let letters = rows
        .into_iter()
        .map(DeadLetterRow::into_letter)
        .collect::<Result<Vec<_>>>()?;
    Page::from_rows(letters, page.limit, |l| l.id.to_string())
}

/// The group named, or `SP-EVT-004`.
pub(crate) fn group_unknown(name: &str) -> Error {
    Error::GroupUnknown {
        group: name.to_owned(),
    }
}
