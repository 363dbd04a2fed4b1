//! Compaction: older turns folded into a summary written by the model.

use crate::chat::{ChatMessage, Role, Sampling, Usage};
use crate::error::{Error, Result};
use crate::model::{ChatModel, Tokenizer};

use super::types::Message;

const INSTRUCTIONS: &str = "You maintain the running summary of a conversation. Rewrite the \
summary so it also covers the new turns. Keep names, facts, numbers, decisions and open \
tasks; drop greetings and repetition. Answer with the summary only.";

/// Folds `turns` into `previous` (the current summary, if any) through `model`, a batch at
/// a time so that no summarisation prompt exceeds `window` tokens. Returns the new summary
/// and what the model calls used (charged to the turn that needed the compaction). The calls'
/// cached state is `cached_as`'s: its scope and owner, nothing else of it.
pub(crate) async fn summarise(
    model: &dyn ChatModel,
    cached_as: &Sampling,
    tokenizer: &dyn Tokenizer,
    previous: Option<&str>,
    turns: &[Message],
    window: usize,
    summary_tokens: usize,
) -> Result<(String, Usage)> {
    let mut used = Usage::default();
    let fixed = tokenizer.count_tokens(INSTRUCTIONS)?
        + tokenizer.message_overhead(Role::System)
        + tokenizer.message_overhead(Role::User)
        + tokenizer.reply_overhead()
        + summary_tokens
        + 16;
    if window <= fixed + tokenizer.count_tokens(previous.unwrap_or_default())? {
        return Err(Error::ContextLengthExceeded {
            prompt_tokens: fixed,
            max_tokens: summary_tokens,
            context_size: window,
        });
    }
    let mut summary = previous.unwrap_or_default().to_owned();
    let mut batch = String::new();
    let mut batch_tokens = 0;
    for turn in turns {
        let line = format!("{}: {}\n", turn.role.as_str(), turn.content);
        let line_tokens = tokenizer.count_tokens(&line)?;
        let room = window.saturating_sub(fixed + tokenizer.count_tokens(&summary)?);
        if !batch.is_empty() && batch_tokens + line_tokens > room {
            summary = fold(
                model,
                cached_as,
                &summary,
                &batch,
                summary_tokens,
                &mut used,
            )
            .await?;
            batch.clear();
            batch_tokens = 0;
        }
        // A single turn larger than the room is cut to fit: the summary stands for it.
        let room = window.saturating_sub(fixed + tokenizer.count_tokens(&summary)?);
        if line_tokens > room {
            batch.push_str(&truncate_to_tokens(tokenizer, &line, room)?);
            batch_tokens = room;
        } else {
            batch.push_str(&line);
            batch_tokens += line_tokens;
        }
    }
    if !batch.is_empty() {
        summary = fold(
            model,
            cached_as,
            &summary,
            &batch,
            summary_tokens,
            &mut used,
        )
        .await?;
    }
    Ok((summary, used))
}

async fn fold(
    model: &dyn ChatModel,
    cached_as: &Sampling,
    summary: &str,
    batch: &str,
    summary_tokens: usize,
    used: &mut Usage,
) -> Result<String> {
    let user = if summary.is_empty() {
        format!("New turns:\n{batch}")
    } else {
        format!("Current summary:\n{summary}\n\nNew turns:\n{batch}")
    };
    let sampling = Sampling {
        temperature: 0.0,
        max_tokens: summary_tokens as u32,
        cache_scope: cached_as.cache_scope.clone(),
        cache_owner: cached_as.cache_owner.clone(),
        ..Sampling::default()
    };
    let completion = model
        .chat(
            &[ChatMessage::system(INSTRUCTIONS), ChatMessage::user(user)],
            &sampling,
        )
        .await?;
    *used += completion.usage;
    let text = completion.text.trim();
    // A model that says nothing must not erase what the summary held.
    Ok(if text.is_empty() {
        format!("{summary}\n{batch}").trim().to_owned()
    } else {
        text.to_owned()
    })
}

/// The longest prefix of `text` (on a character boundary) within `tokens` tokens.
fn truncate_to_tokens(tokenizer: &dyn Tokenizer, text: &str, tokens: usize) -> Result<String> {
    let (mut low, mut high) = (0, text.len());
    while low < high {
        let mid = (low + high).div_ceil(2);
        let cut = floor_char_boundary(text, mid);
        if tokenizer.count_tokens(&text[..cut])? <= tokens {
            low = mid.max(cut);
            if cut < mid {
                break;
            }
        } else {
            high = mid - 1;
        }
    }
    Ok(text[..floor_char_boundary(text, low)].to_owned())
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    (0..=at.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0)
}
