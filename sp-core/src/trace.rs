//! W3C Trace Context: the `traceparent` a request arrives with (or a new trace), held for the
//! request's task so that calls it makes to other services carry the same trace id with this
//! hop as their parent — tool calls through the hub send it, and the request's log lines
//! carry the trace id.

use std::future::Future;

/// One hop of a trace: the trace id, this span's id, and whether the trace is sampled.
///
/// ```
/// use sp_core::trace::TraceContext;
///
/// let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let incoming = TraceContext::parse(header).unwrap();
/// assert_eq!(incoming.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// let ours = incoming.child();
/// assert_eq!(ours.trace_id_hex(), incoming.trace_id_hex(), "the same trace");
/// assert_ne!(ours.header(), header, "a new span");
/// assert!(ours.header().ends_with("-01"), "sampling kept");
/// assert!(TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // Without randomness an id of zeros would be invalid; a time-based fallback keeps ids
    // distinct enough for correlation.
    if getrandom::fill(&mut bytes).is_err() || bytes.iter().all(|b| *b == 0) {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos())
            .to_le_bytes();
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = nanos[i % nanos.len()] | 1;
        }
    }
    bytes
}

fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TraceContext {
    /// A new trace (sampled), for a request that came without one.
    pub fn new_trace() -> Self {
        TraceContext {
            trace_id: random(),
            span_id: random(),
            flags: 1,
        }
    }

    /// Reads a `traceparent` header: `VERSION-TRACEID-PARENTID-FLAGS`, lower-case hex, ids
    /// not all zeros, version `ff` refused; a later version's extra fields are ignored, as
    /// the specification asks. `None` when malformed (the caller starts a new trace).
    pub fn parse(header: &str) -> Option<Self> {
        let mut parts = header.trim().split('-');
        let version = hex::<1>(parts.next()?)?;
        let trace_id = hex::<16>(parts.next()?)?;
        let span_id = hex::<8>(parts.next()?)?;
        let flags = hex::<1>(parts.next()?)?;
        if version[0] == 0xff
            || (version[0] == 0 && parts.next().is_some())
            || trace_id.iter().all(|b| *b == 0)
            || span_id.iter().all(|b| *b == 0)
        {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags: flags[0],
        })
    }

    /// The next hop: the same trace and sampling, a new span id.
    pub fn child(&self) -> Self {
        TraceContext {
            span_id: random(),
            ..*self
        }
    }

    /// The `traceparent` header of this hop (version `00`).
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            to_hex(&self.trace_id),
            to_hex(&self.span_id),
            self.flags & 1
        )
    }

    /// The trace id, 32 hex digits (what log lines carry).
    pub fn trace_id_hex(&self) -> String {
        to_hex(&self.trace_id)
    }

    /// A hop from its parts (what a tracing library reports for its current span); `None`
    /// when an id is all zeros, which W3C calls invalid.
    ///
    /// ```
    /// use sp_core::trace::TraceContext;
    ///
    /// let hop = TraceContext::from_ids([7; 16], [9; 8], true).unwrap();
    /// assert_eq!((hop.trace_id(), hop.span_id(), hop.sampled()), ([7; 16], [9; 8], true));
    /// assert!(TraceContext::from_ids([0; 16], [9; 8], true).is_none());
    /// ```
    pub fn from_ids(trace_id: [u8; 16], span_id: [u8; 8], sampled: bool) -> Option<Self> {
        if trace_id.iter().all(|b| *b == 0) || span_id.iter().all(|b| *b == 0) {
            return None;
        }
        Some(TraceContext {
            trace_id,
            span_id,
            flags: u8::from(sampled),
        })
    }

    /// The trace id's bytes.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// This hop's span id's bytes.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// Whether the trace is sampled (the `01` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

tokio::task_local! {
    static CURRENT: TraceContext;
}

/// Runs `work` with `context` as the current hop (see [`current`]).
pub async fn scope<F: Future>(context: TraceContext, work: F) -> F::Output {
    CURRENT.scope(context, work).await
}

/// The hop of the request this task serves, if it runs inside [`scope`]. Work a request hands
/// to another task (a background run) starts no trace of its own and has none.
pub fn current() -> Option<TraceContext> {
    CURRENT.try_with(|context| *context).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_headers_are_refused() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(TraceContext::parse(good).is_some());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(TraceContext::parse(bad).is_none(), "{bad:?}");
        }
        // A later version may add fields.
        assert!(TraceContext::parse(&format!("01-{}-x", &good[3..])).is_some());
    }

    #[test]
    fn a_new_trace_is_valid_and_round_trips() {
        let trace = TraceContext::new_trace();
        assert_eq!(TraceContext::parse(&trace.header()), Some(trace));
    }

    #[tokio::test]
    async fn the_current_hop_is_seen_inside_its_scope_only() {
        let trace = TraceContext::new_trace();
        assert_eq!(current(), None);
        let seen = scope(trace, async { current() }).await;
        assert_eq!(seen, Some(trace));
    }
}
