//! Which messages of a context are live: those after the latest summary.

/// What assembly reads from a context's full history: the latest summary, then every turn
/// after what it covers (summaries excluded), in order.
///
/// ```
/// use sp_core::context::live_view;
use super::{Message, MessageKind};
/// assert!(live_view(&[]).is_empty());
/// ```
pub fn live_view(messages: &[Message]) -> Vec<Message> {
    let summary = messages
        .iter()
        .rev()
        .find(|m| m.kind == MessageKind::Summary);
    let covered = summary.and_then(|s| s.covers_through).unwrap_or(0);
    summary
        .into_iter()
        .chain(
            messages
                .iter()
                .filter(|m| m.kind == MessageKind::Turn && m.seq > covered),
        )
        .cloned()
        .collect()
}
