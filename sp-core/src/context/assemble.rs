//! Token-budgeted, prefix-stable prompt assembly (backend-free, no I/O).
//!
//! Layout of every assembled prompt:
//!
//! 1. one system message: the context's system prompt, its pinned memory blocks (by scope,
//!    then name), and the summary of compacted turns;
//! 2. every turn after what the summary covers, oldest first, as stored;
//! 3. the tail: the latest user turn, with the passages retrieved for it placed before its
//!    text.
//!
//! Only the tail depends on the current turn, so from one turn to the next the prompt grows
//! by appending and the inference engine's prefix cache covers everything before the tail.
//! The prefix changes only when memory is edited or a compaction folds turns into the summary.

use crate::chat::{ChatMessage, Role};
use crate::error::{Error, Result};
use crate::knowledge::SearchHit;
use crate::model::Tokenizer;

use super::types::{MemoryBlock, Message, MessageKind};

/// Renders a stored message as the model sees it; tool calls become a JSON line each, so
/// any chat template can carry them.
pub fn render_message(message: &Message) -> ChatMessage {
    ChatMessage::new(message.role, render_content(&message.content, message))
}

fn render_content(content: &str, message: &Message) -> String {
    if message.tool_calls.is_empty() {
        return content.to_owned();
    }
    let mut out = content.to_owned();
    for call in &message.tool_calls {
        if !out.is_empty() {
            out.push('\n');
        }
        let line = serde_json::json!({"tool_call": {"id": call.id, "name": call.name, "arguments": call.arguments}});
        out.push_str(&line.to_string());
    }
    out
}

/// Tokens `message` takes in a prompt: its rendered text plus the template's wrapping.
pub fn count_message(tokenizer: &dyn Tokenizer, message: &ChatMessage) -> Result<usize> {
    Ok(tokenizer.count_tokens(&message.content)? + tokenizer.message_overhead(message.role))
}

/// What goes into one assembly.
#[derive(Debug, Clone, Copy)]
pub struct AssemblyInput<'a> {
    /// The context's system prompt.
    pub system_prompt: Option<&'a str>,
    /// Pinned memory blocks, in the order they are shown.
    pub memory: &'a [MemoryBlock],
    /// The latest summary (if any) then the turns after it, in `seq` order.
    pub live: &'a [Message],
    /// Passages retrieved for the latest user turn, best first.
    pub retrieved: &'a [SearchHit],
}

/// Budget of one assembly, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The model's context window (per sequence).
    pub context_window: usize,
    /// Tokens kept free for the reply (the request's max_tokens).
    pub reply_tokens: usize,
    /// Most tokens retrieved passages may take.
    pub retrieval_tokens: usize,
}

impl Budget {
    /// Tokens the prompt may take.
    pub fn prompt_tokens(&self) -> usize {
        self.context_window.saturating_sub(self.reply_tokens)
    }
}

/// An assembled prompt, ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct AssembledPrompt {
    /// The messages, system first.
    pub messages: Vec<ChatMessage>,
    /// Exact prompt size in tokens (messages plus the reply opener).
    pub prompt_tokens: usize,
    /// How many leading messages depend only on stored state: the next turn's assembly
    /// starts with exactly these (unless memory changes or a compaction runs).
    pub stable_messages: usize,
    /// The passages placed in the tail.
    pub retrieved: Vec<SearchHit>,
    /// The `seq` the summary covers through, when one is in the prompt.
    pub summary_through: Option<u64>,
    /// What compacting older turns for this prompt cost in model calls (zero when none ran):
    /// a server charges it to the turn with the reply.
    pub compaction: crate::chat::Usage,
    /// Tokens of the turns this assembly folded into the summary (zero when none were): what
    /// the model no longer sees word for word, reported so that compaction is never silent.
    pub summarised_tokens: u64,
}

/// What the planner decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// It fits.
    Fits(AssembledPrompt),
    /// Over budget: fold `fold` (turns, oldest first, positions in `live`) into the summary.
    Compact {
        /// Positions in `AssemblyInput::live` to fold, a prefix of the turns.
        fold: std::ops::Range<usize>,
    },
}

/// Share of the prompt budget a compaction aims for, so it runs rarely rather than every
/// turn once the window is full.
const COMPACTION_TARGET: f64 = 0.5;

/// Plans an assembly: the prompt when it fits, otherwise which turns to compact.
///
/// `summary_tokens` is the most a new summary may take (it is reserved when planning a
/// compaction). Fails with `context_length_exceeded` when even the system message, memory
/// and the latest turn alone do not fit.
pub fn plan(
    input: &AssemblyInput<'_>,
    budget: &Budget,
    summary_tokens: usize,
    tokenizer: &dyn Tokenizer,
) -> Result<Plan> {
    let (summary, turns) = split_summary(input.live);
    let system = system_message(
        input.system_prompt,
        input.memory,
        summary.map(|s| s.content.as_str()),
    );
    let fixed = count_message(tokenizer, &system)? + tokenizer.reply_overhead();
    let tail_at = turns
        .last()
        .filter(|m| m.role == Role::User)
        .map(|_| turns.len() - 1);
    let history_end = tail_at.unwrap_or(turns.len());
    let turn_tokens: Vec<usize> = turns.iter().map(|m| m.token_count as usize).collect();
    let tail_tokens = tail_at.map_or(0, |i| turn_tokens[i]);
    let allowed = budget.prompt_tokens();
    let minimum = fixed + tail_tokens;
    if minimum > allowed {
        return Err(Error::ContextLengthExceeded {
            prompt_tokens: minimum,
            max_tokens: budget.reply_tokens,
            context_size: budget.context_window,
        });
    }
    let history_tokens: usize = turn_tokens[..history_end].iter().sum();
    if minimum + history_tokens > allowed {
        let target = ((allowed as f64) * COMPACTION_TARGET) as usize;
        let offset = input.live.len() - turns.len();
        let fold = fold_until(turns, &turn_tokens, history_end, |kept| {
            minimum + summary_tokens + kept <= target
        });
        if fold == 0 {
            return Err(Error::ContextLengthExceeded {
                prompt_tokens: minimum + history_tokens,
                max_tokens: budget.reply_tokens,
                context_size: budget.context_window,
            });
        }
        return Ok(Plan::Compact {
            fold: offset..offset + fold,
        });
    }

    let mut messages = Vec::with_capacity(turns.len() + 1);
    messages.push(system);
    messages.extend(turns[..history_end].iter().map(render_message));
    let stable_messages = messages.len();
    let mut prompt_tokens = minimum + history_tokens;
    let mut retrieved = Vec::new();
    if let Some(i) = tail_at {
        let room = (allowed - prompt_tokens).min(budget.retrieval_tokens);
        let mut passages = fit_passages(input.retrieved, room, tokenizer)?;
        let plain = render_message(&turns[i]);
        let mut tail = plain.clone();
        // The block is counted as written into the tail; should joining it shift the
        // tokenisation past the budget, the weakest passage goes.
        while !passages.is_empty() {
            tail.content = format!("{}\n\n{}", passages_block(&passages), plain.content);
            let with = prompt_tokens - turn_tokens[i] + count_message(tokenizer, &tail)?;
            if with <= allowed {
                prompt_tokens = with;
                break;
            }
            passages.pop();
            tail = plain.clone();
        }
        retrieved = passages;
        messages.push(tail);
    }
    Ok(Plan::Fits(AssembledPrompt {
        messages,
        prompt_tokens,
        stable_messages,
        retrieved,
        summary_through: summary.and_then(|s| s.covers_through),
        compaction: crate::chat::Usage::default(),
        summarised_tokens: 0,
    }))
}

/// The latest summary (first of `live` when it is one) and the turns after it.
fn split_summary(live: &[Message]) -> (Option<&Message>, &[Message]) {
    match live.first() {
        Some(first) if first.kind == MessageKind::Summary => (Some(first), &live[1..]),
        _ => (None, live),
    }
}

/// How many leading turns to fold so that the rest satisfies `fits`; never separates a tool
/// result from the call before it, never folds the tail (`history_end` onwards).
fn fold_until(
    turns: &[Message],
    tokens: &[usize],
    history_end: usize,
    fits: impl Fn(usize) -> bool,
) -> usize {
    let mut kept: usize = tokens[..history_end].iter().sum();
    let mut fold = 0;
    while fold < history_end && !fits(kept) {
        kept -= tokens[fold];
        fold += 1;
        while fold < history_end && turns[fold].role == Role::Tool {
            kept -= tokens[fold];
            fold += 1;
        }
    }
    fold
}

/// The first message: instructions, memory, summary.
pub fn system_message(
    system_prompt: Option<&str>,
    memory: &[MemoryBlock],
    summary: Option<&str>,
) -> ChatMessage {
    let mut text = system_prompt.unwrap_or(DEFAULT_SYSTEM_PROMPT).to_owned();
    for block in memory {
        text.push_str(&format!(
            "\n\n<memory name=\"{}\">\n{}\n</memory>",
            block.name, block.content
        ));
    }
    if let Some(summary) = summary {
        text.push_str("\n\n<conversation_summary>\n");
        text.push_str(summary);
        text.push_str("\n</conversation_summary>");
    }
    ChatMessage::system(text)
}

/// Used when a context has no system prompt: every prompt starts with a system message, so
/// templates that would inject their own default never do, and counts stay exact.
pub const DEFAULT_SYSTEM_PROMPT: &str = "You are a helpful assistant.";

fn passages_block(passages: &[SearchHit]) -> String {
    let mut text = String::from("Relevant passages:");
    for (i, hit) in passages.iter().enumerate() {
        text.push_str(&format!(
            "\n[{}] {}: {}",
            i + 1,
            hit.title,
            hit.section.text
        ));
    }
    text
}

/// The best passages whose block fits in `room` tokens.
fn fit_passages(
    hits: &[SearchHit],
    room: usize,
    tokenizer: &dyn Tokenizer,
) -> Result<Vec<SearchHit>> {
    let mut chosen: Vec<SearchHit> = Vec::new();
    for hit in hits {
        chosen.push(hit.clone());
        // Numbering and the blank line before the user's text included.
        if tokenizer.count_tokens(&passages_block(&chosen))? + 2 > room {
            chosen.pop();
            break;
        }
    }
    Ok(chosen)
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
