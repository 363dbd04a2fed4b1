//! A context chat turn, streamed: the reply is stored once the model has finished it.

use std::sync::Arc;

use futures::stream::{BoxStream, StreamExt as _};

use super::assemble::AssembledPrompt;
use super::contexts::Contexts;
use super::types::{Message, NewMessage};
use crate::Id;
use crate::chat::{FinishReason, Role, Sampling, StreamEvent};
use crate::error::Result;
use crate::knowledge::Namespace;

/// What a streamed turn yields.
// `Done` comes once per turn, after many small deltas; boxing it would cost every caller a
// dereference for no saving that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum TurnEvent {
    /// More reply text.
    Delta(String),
    /// The reply is complete and stored.
    Done {
        /// The stored assistant message.
        reply: Message,
        /// Why generation ended.
        finish_reason: FinishReason,
        /// Token accounting.
        usage: crate::chat::Usage,
    },
}

/// A streamed turn: its prompt, and the events.
pub struct StreamedTurn {
    /// The assembled prompt the model answers.
    pub prompt: AssembledPrompt,
    /// Deltas, then `Done` once the reply is stored. Dropping it cancels generation; the
    /// user message stays stored, no reply is.
    pub events: BoxStream<'static, Result<TurnEvent>>,
}

impl std::fmt::Debug for StreamedTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedTurn")
            .field("prompt", &self.prompt)
            .finish_non_exhaustive()
    }
}

impl Contexts {
    /// [`chat`](Contexts::chat), streamed: checks and stores the user turn, then streams the
    /// reply and stores it when the model finishes.
    pub async fn chat_stream(
        self: &Arc<Self>,
        namespace: &Namespace,
        id: Id,
        user: NewMessage,
        sampling: &Sampling,
        context_window: usize,
    ) -> Result<StreamedTurn> {
        let (model, prompt) = self
            .begin_turn(namespace, id, user, sampling, context_window)
            .await?;
        let sampling = &sampling.clone().in_scope(namespace.tenant()).owned_by(id);
        let inner = model.chat_stream(&prompt.messages, sampling).await?;
        let contexts = Arc::clone(self);
        let namespace = namespace.clone();
        let events = futures::stream::unfold(
            (inner, String::new(), false),
            move |(mut inner, mut text, done)| {
                let contexts = Arc::clone(&contexts);
                let namespace = namespace.clone();
                async move {
                    if done {
                        return None;
                    }
                    // Log-probabilities and tool calls are not asked for here: skip them.
                    let event = loop {
                        match inner.next().await? {
                            Ok(StreamEvent::Delta { text: delta }) => {
                                text.push_str(&delta);
                                break Ok(TurnEvent::Delta(delta));
                            }
                            Ok(StreamEvent::Done {
                                finish_reason,
                                usage,
                            }) => {
                                let stored = contexts
                                    .append(
                                        &namespace,
                                        id,
                                        NewMessage::new(Role::Assistant, text.clone()),
                                    )
                                    .await;
                                let event = stored.map(|reply| TurnEvent::Done {
                                    reply,
                                    finish_reason,
                                    usage,
                                });
                                return Some((event, (inner, text, true)));
                            }
                            Ok(StreamEvent::Logprobs { .. } | StreamEvent::ToolCalls { .. }) => {}
                            Err(err) => return Some((Err(err), (inner, text, true))),
                        }
                    };
                    Some((event, (inner, text, false)))
                }
            },
        )
        .boxed();
        Ok(StreamedTurn { prompt, events })
    }
}
