//! What a run shows the model, within the model's window: the context's turns budgeted (and
//! compacted through the context's summary) when the run starts, and each step's prompt
//! fitted by eliding the oldest tool results — never cut, and refused when it cannot fit.

use super::definition::Agent;
use super::engine::{Agents, HISTORY_MESSAGES};
use crate::Id;
use crate::chat::{ChatMessage, ChatOptions, Role, Usage};
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::model::Tokenizer;

/// The share of the room left after the run's fixed parts that a context's earlier turns
/// may take; the rest is the run's own steps (calls and results).
const HISTORY_SHARE: usize = 2;

/// A context's turns as a run starting now sees them.
pub(super) struct History {
    /// The context's summary, appended to the run's system prompt.
    pub(super) summary: Option<String>,
    pub(super) turns: Vec<ChatMessage>,
    /// What compacting the context for this run cost.
    pub(super) compaction: Usage,
    /// Tokens of the turns compaction folded for this run.
    pub(super) summarised_tokens: u64,
}

impl Agents {
    /// The turns of `context` a run of `agent` starting with `system` and `input` is shown:
    /// within half the room its model's window leaves after the system prompt, the input, the
    /// tool schemas and the reply, older turns compacted into the context's summary; the
    /// latest [`HISTORY_MESSAGES`] when the model does not say its window.
    pub(super) async fn history(
        &self,
        namespace: &Namespace,
        context: Id,
        agent: &Agent,
        system: &str,
        input: &str,
    ) -> Result<History> {
        let contexts = self
            .toolbox
            .contexts()
            .ok_or_else(|| Error::unavailable("contexts", "no context store here"))?;
        let definition = &agent.definition;
        let (model, tokenizer) = self.models.chat_model(definition.model.as_deref()).await?;
        let Some(window) = model.context_window() else {
            let recent = contexts
                .recent_turns(namespace, context, usize::MAX / 4)
                .await?;
            let keep = recent.turns.len().saturating_sub(HISTORY_MESSAGES as usize);
            return Ok(History {
                summary: recent.summary,
                turns: recent.turns[keep..].to_vec(),
                compaction: recent.compaction,
                summarised_tokens: recent.summarised_tokens,
            });
        };
        let tools = self.toolbox.resolve(namespace, definition).await?;
        let fixed = [ChatMessage::system(system), ChatMessage::user(input)];
        let options = ChatOptions {
            tools: crate::chat::Tools {
                definitions: tools.definitions,
                ..Default::default()
            },
            ..Default::default()
        };
        let taken = prompt_tokens(tokenizer.as_deref(), &fixed, &options)?
            + u64::from(definition.max_tokens);
        let room = (window as u64).saturating_sub(taken) as usize / HISTORY_SHARE;
        let recent = contexts.recent_turns(namespace, context, room).await?;
        Ok(History {
            summary: recent.summary,
            turns: recent.turns,
            compaction: recent.compaction,
            summarised_tokens: recent.summarised_tokens,
        })
    }
}

/// `messages` fitted into `window` with `reply` tokens kept for the answer: while they do
/// not fit, the oldest tool result still shown is replaced by a note saying it was elided
/// (the model sees that it is gone, and the call that made it). Returns the ids of the elided
/// results; `SP-LLM-001` when even with every earlier result elided the prompt does not fit.
pub(super) fn fit_window(
    messages: &mut [ChatMessage],
    options: &ChatOptions,
    tokenizer: Option<&dyn Tokenizer>,
    window: usize,
    reply: u32,
) -> Result<Vec<String>> {
    let mut elided = Vec::new();
    let allowed = (window as u64).saturating_sub(u64::from(reply));
    let mut used = prompt_tokens(tokenizer, messages, options)?;
    // The results the model is about to read (after its latest reply) are never elided: it
    // would only ask for them again.
    let latest = messages
        .iter()
        .rposition(|m| m.role == Role::Assistant)
        .unwrap_or(messages.len());
    let mut next = 0;
    while used > allowed {
        let Some(at) = messages[next..latest]
            .iter()
            .position(|m| m.role == Role::Tool)
            .map(|i| i + next)
        else {
            return Err(Error::ContextLengthExceeded {
                prompt_tokens: used as usize,
                max_tokens: reply as usize,
                context_size: window,
            });
        };
        let call_id = messages[at].tool_call_id.clone().unwrap_or_default();
        let before = message_tokens(tokenizer, &messages[at])?;
        messages[at].content = format!("[result of {call_id} elided to fit the context window]");
        let after = message_tokens(tokenizer, &messages[at])?;
        used = used.saturating_sub(before) + after;
        elided.push(call_id);
        next = at + 1;
    }
    Ok(elided)
}

/// The prompt's tokens as budgets count them: every message's text and calls with the
/// tokenizer's per-message overhead, the reply opener, plus the tool schemas; without a
/// tokenizer, one token per 3 bytes (more than any real tokenizer's average: budgets err on
/// the safe side).
pub(super) fn prompt_tokens(
    tokenizer: Option<&dyn Tokenizer>,
    messages: &[ChatMessage],
    options: &ChatOptions,
) -> Result<u64> {
    let tools = serde_json::to_string(&options.tools.definitions).unwrap_or_default();
    let mut total = 0u64;
    for message in messages {
        total += message_tokens(tokenizer, message)?;
    }
    total += match tokenizer {
        Some(t) => (t.count_tokens(&tools)? + t.reply_overhead()) as u64,
        None => tools.len().div_ceil(3) as u64 + 4,
    };
    Ok(total)
}

pub(super) fn message_tokens(
    tokenizer: Option<&dyn Tokenizer>,
    message: &ChatMessage,
) -> Result<u64> {
    let calls = if message.tool_calls.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&message.tool_calls).unwrap_or_default()
    };
    Ok(match tokenizer {
        Some(t) => {
            (t.count_tokens(&message.content)?
                + t.count_tokens(&calls)?
                + t.message_overhead(message.role)) as u64
        }
        None => (message.content.len() + calls.len()).div_ceil(3) as u64 + 4,
    })
}
