//! Checks on events and queries before anything is stored or read.

use super::config::EventsConfig;
use super::types::{EventQuery, NewEvent};
use crate::error::{Error, Result};

/// Checks a stream name: 1-128 characters of `a-z A-Z 0-9 . _ - : /`.
pub fn stream_name(field: &str, stream: &str) -> Result<()> {
    let ok = (1..=128).contains(&stream.len())
        && stream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:/".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!(
                "`{stream}` must be 1-128 characters of a-z, A-Z, 0-9, `.`, `_`, `-`, `:`, `/`"
            ),
        ))
    }
}

fn text(field: &str, value: &str, max: usize, spaces: bool) -> Result<()> {
    if value.is_empty() || value.len() > max {
        return Err(Error::invalid_input(
            field,
            format!("must be 1-{max} bytes"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() || (!spaces && c.is_whitespace()))
    {
        return Err(Error::invalid_input(
            field,
            if spaces {
                "must not hold control characters"
            } else {
                "must not hold spaces or control characters"
            },
        ));
    }
    Ok(())
}

/// Checks an event to append.
///
/// The streams the platform records its own actions in; callers may read them, not write.
pub const PLATFORM_STREAMS: [&str; 6] = [
    "documents",
    "contexts",
    "keys",
    "tenants",
    "tools",
    "workflows",
];

/// The `source` of the platform's own events.
pub const PLATFORM_SOURCE: &str = "sp";

/// Refuses an event a caller appends that would pass for the platform's own: the `sp`
/// source, or a platform stream (review finding M5: an `events` key could forge
/// `key.revoked` in `keys`, indistinguishable from a real one).
///
/// ```
/// use sp_core::events::{NewEvent, refuse_platform_forgery};
/// let mut forged = NewEvent::new("keys", "key.revoked", serde_json::json!({}));
/// assert!(refuse_platform_forgery(&forged).is_err());
/// forged.stream = "orders".into();
/// assert!(refuse_platform_forgery(&forged).is_ok());
/// ```
pub fn refuse_platform_forgery(event: &NewEvent) -> Result<()> {
    if event.source == PLATFORM_SOURCE {
        return Err(Error::invalid_input(
            "source",
            format!("`{PLATFORM_SOURCE}` is reserved for the platform's own events"),
        ));
    }
    if PLATFORM_STREAMS.contains(&event.stream.as_str()) {
        return Err(Error::invalid_input(
            "stream",
            format!(
                "`{}` is where the platform records its own actions; append to another stream",
                event.stream
            ),
        ));
    }
    Ok(())
}

/// ```
/// use sp_core::events::{EventsConfig, NewEvent, validate_event};
/// let config = EventsConfig::default();
/// let ok = NewEvent::new("orders", "order.placed", serde_json::json!({"id": 1}));
/// assert!(validate_event(&ok, &config).is_ok());
/// let untyped = NewEvent::new("orders", "", serde_json::json!({}));
/// assert!(validate_event(&untyped, &config).is_err());
/// ```
pub fn validate_event(event: &NewEvent, config: &EventsConfig) -> Result<()> {
    stream_name("stream", &event.stream)?;
    for (field, text) in [
        ("type", Some(&event.event_type)),
        ("source", Some(&event.source)),
        ("subject", event.subject.as_ref()),
        ("correlationid", event.correlationid.as_ref()),
    ] {
        if let Some(text) = text {
            crate::nul::refuse_nul(field, text)?;
        }
    }
    crate::nul::refuse_nul_in("data", &event.data)?;
    text("type", &event.event_type, 256, false)?;
    text("source", &event.source, 1024, false)?;
    if let Some(subject) = &event.subject {
        text("subject", subject, 1024, true)?;
    }
    if let Some(id) = &event.correlationid {
        text("correlationid", id, 256, false)?;
    }
    if event.schemaversion == 0 {
        return Err(Error::invalid_input("schemaversion", "starts at 1"));
    }
    let size = serde_json::to_vec(&event.data)
        .map_err(Error::internal)?
        .len();
    if size > config.max_data_bytes {
        return Err(Error::EventTooLarge {
            size,
            limit: config.max_data_bytes,
        });
    }
    Ok(())
}

/// Checks a query: names, the time range, and that an offset comes with its stream.
pub fn validate_query(query: &EventQuery) -> Result<()> {
    if let Some(stream) = &query.stream {
        stream_name("stream", stream)?;
    }
    if query.from_offset.is_some() && query.stream.is_none() {
        return Err(Error::invalid_input(
            "from_offset",
            "offsets are per stream: name the `stream`",
        ));
    }
    if query.from_offset == Some(0) {
        return Err(Error::invalid_input("from_offset", "offsets start at 1"));
    }
    if let (Some(since), Some(until)) = (query.since, query.until)
        && since >= until
    {
        return Err(Error::invalid_input("until", "must be after `since`"));
    }
    Ok(())
}
