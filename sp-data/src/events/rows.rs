//! Event rows as both backends select them (PostgreSQL casts the id and data to text and the
//! time to microseconds), and the WHERE clause of a query.

use sp_core::events::{Event, EventQuery};
use sp_core::knowledge::Namespace;
use sp_core::{Error, Page, PageRequest, Result, Timestamp};

use crate::error::stored_time;

#[derive(sqlx::FromRow)]
pub(crate) struct EventRow {
    seq: i64,
    id: String,
    namespace: String,
    stream: String,
    offset: i64,
    event_type: String,
    source: String,
    subject: Option<String>,
    time: i64,
    correlation_id: Option<String>,
    schema_version: i64,
    data: String,
}

impl EventRow {
    pub(crate) fn into_event(self) -> Result<Event> {
        Ok(Event {
            specversion: "1.0".into(),
            id: self
                .id
                .parse()
                .map_err(|_| Error::internal(format!("corrupt event id `{}`", self.id)))?,
            source: self.source,
            event_type: self.event_type,
            subject: self.subject,
            time: stored_time(self.time)?,
            datacontenttype: "application/json".into(),
            namespace: Namespace::new(self.namespace)?,
            stream: self.stream,
            offset: u64::try_from(self.offset).map_err(Error::internal)?,
            correlationid: self.correlation_id,
            schemaversion: u32::try_from(self.schema_version).map_err(Error::internal)?,
            data: serde_json::from_str(&self.data)
                .map_err(|err| Error::internal(format!("corrupt event data: {err}")))?,
        })
    }
}

/// A page from up to `limit + 1` rows, continued after the last kept row's order key (its
/// offset within a stream, its append sequence otherwise).
pub(crate) fn page_of(
    rows: Vec<EventRow>,
    query: &EventQuery,
    page: &PageRequest,
) -> Result<Page<Event>> {
    let by_offset = query.stream.is_some();
    let keyed: Vec<(i64, Event)> = rows
        .into_iter()
        .map(|row| {
            let key = if by_offset { row.offset } else { row.seq };
            Ok((key, row.into_event()?))
        })
        .collect::<Result<_>>()?;
    let page = Page::from_rows(keyed, page.limit, |(key, _)| *key)?;
    Ok(Page {
        items: page.items.into_iter().map(|(_, event)| event).collect(),
        next_cursor: page.next_cursor,
    })
}

/// A value a query binds.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Time(Timestamp),
}

/// The WHERE clause, ORDER BY and LIMIT of a query over `events`, and its binds in order;
/// `placeholder(n)` writes the n-th bind (from 1).
pub(crate) fn select_tail(
    query: &EventQuery,
    page: &PageRequest,
    placeholder: impl Fn(usize) -> String,
) -> Result<(String, Vec<Bind>)> {
    let mut binds = vec![Bind::Text(query.namespace.as_str().to_owned())];
    let mut sql = format!("WHERE namespace = {}", placeholder(1));
    let narrow = |sql: &mut String, binds: &mut Vec<Bind>, condition: &str, bind: Bind| {
        binds.push(bind);
        sql.push_str(&format!(" AND {condition} {}", placeholder(binds.len())));
    };
    let text = |s: &Option<String>| s.clone().map(Bind::Text);
    for (condition, bind) in [
        ("stream =", text(&query.stream)),
        ("type =", text(&query.event_type)),
        ("subject =", text(&query.subject)),
        ("correlation_id =", text(&query.correlationid)),
        ("time >=", query.since.map(Bind::Time)),
        ("time <", query.until.map(Bind::Time)),
        (
            "\"offset\" >=",
            query
                .from_offset
                .map(|o| Bind::Int(i64::try_from(o).unwrap_or(i64::MAX))),
        ),
    ] {
        if let Some(bind) = bind {
            narrow(&mut sql, &mut binds, condition, bind);
        }
    }
    let order = if query.stream.is_some() {
        "\"offset\""
    } else {
        "seq"
    };
    if let Some(cursor) = &page.cursor {
        let after: i64 = cursor.decode()?;
        narrow(
            &mut sql,
            &mut binds,
            &format!("{order} >"),
            Bind::Int(after),
        );
    }
    binds.push(Bind::Int(i64::from(page.limit) + 1));
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {}",
        placeholder(binds.len())
    ));
    Ok((sql, binds))
}

/// A dead letter with its event (the event's columns as in [`EventRow`]).
#[derive(sqlx::FromRow)]
pub(crate) struct DeadLetterRow {
    dl_id: String,
    group_name: String,
    reason: String,
    attempts: i64,
    dead_at: i64,
    redriven_at: Option<i64>,
    resolved_at: Option<i64>,
    #[sqlx(flatten)]
    event: EventRow,
}

impl DeadLetterRow {
    pub(crate) fn into_letter(self) -> Result<sp_core::events::DeadLetter> {
        Ok(sp_core::events::DeadLetter {
            id: self
                .dl_id
                .parse()
                .map_err(|_| Error::internal(format!("corrupt dead letter id `{}`", self.dl_id)))?,
            group: self.group_name,
            event: self.event.into_event()?,
            reason: self.reason,
            attempts: u32::try_from(self.attempts).map_err(Error::internal)?,
            dead_at: stored_time(self.dead_at)?,
            redriven_at: self.redriven_at.map(stored_time).transpose()?,
            resolved_at: self.resolved_at.map(stored_time).transpose()?,
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
