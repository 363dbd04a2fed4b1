//! A context's latest turns within a token budget, for a caller that assembles its own
//! prompt around them (an agent run continuing the context): older turns are compacted into
//! the context's summary through the model, as chat turns do, never dropped.

use super::assemble::{AssemblyInput, Budget, Plan, plan};
use super::contexts::{Contexts, MAX_COMPACTIONS};
use crate::Id;
use crate::chat::{ChatMessage, Role, Usage};
use crate::error::{Error, Result};
use crate::knowledge::Namespace;

/// What [`Contexts::recent_turns`] returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecentTurns {
    /// The summary of the turns before `turns`, when the context has one.
    pub summary: Option<String>,
    /// User and assistant turns with text, oldest first (tool traffic is left out).
    pub turns: Vec<ChatMessage>,
    /// What compacting cost in model calls (zero when none ran).
    pub compaction: Usage,
    /// Tokens of the turns folded into the summary now (zero when none were).
    pub summarised_tokens: u64,
}

impl Contexts {
    /// The context's summary and latest turns, taking at most `tokens` together (counted as
    /// stored, with each message's template overhead). Older turns that do not fit are folded
    /// into the summary through the model, and the summary is stored; without a model, a
    /// context that does not fit is refused with `SP-LLM-001`. `SP-RES-001` for a context the
    /// namespace does not have.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use sp_core::chat::Role;
    /// use sp_core::context::{Contexts, MemoryContextStore, NewContext, NewMessage};
    /// use sp_core::knowledge::SimpleTokenizer;
    ///
    /// let contexts = Contexts::new(Arc::new(MemoryContextStore::default()), Arc::new(SimpleTokenizer));
    /// let ctx = contexts.create(NewContext::default()).await?;
    /// contexts.append(&ctx.namespace, ctx.id, NewMessage::new(Role::User, "hello")).await?;
    /// contexts.append(&ctx.namespace, ctx.id, NewMessage::new(Role::Assistant, "hi")).await?;
    /// let recent = contexts.recent_turns(&ctx.namespace, ctx.id, 100).await?;
    /// assert_eq!((recent.summary, recent.turns.len()), (None, 2));
    /// # Ok::<(), sp_core::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recent_turns(
        &self,
        namespace: &Namespace,
        id: Id,
        tokens: usize,
    ) -> Result<RecentTurns> {
        self.store.get(namespace, id).await?;
        let budget = Budget {
            context_window: tokens,
            reply_tokens: 0,
            retrieval_tokens: 0,
        };
        let summary_tokens = self.config.summary_tokens.min(tokens / 4);
        // The summariser reads the folded turns in batches of its own window, not of `tokens`.
        let summariser = Budget {
            context_window: self
                .model
                .as_ref()
                .and_then(|model| model.context_window())
                .unwrap_or(tokens),
            ..budget
        };
        let mut compaction = Usage::default();
        let mut summarised_tokens = 0;
        for _ in 0..=MAX_COMPACTIONS {
            let live = self.store.live_messages(namespace, id).await?;
            let input = AssemblyInput {
                // Empty instructions: the caller brings its own, and the system message then
                // carries the summary alone.
                system_prompt: Some(""),
                memory: &[],
                live: &live,
                retrieved: &[],
            };
            match plan(&input, &budget, summary_tokens, self.tokenizer.as_ref())? {
                Plan::Fits(_) => {
                    let (summary, turns) = match live.first() {
                        Some(first) if first.kind == super::MessageKind::Summary => {
                            (Some(first.content.clone()), &live[1..])
                        }
                        _ => (None, &live[..]),
                    };
                    let turns = turns
                        .iter()
                        .filter(|m| {
                            matches!(m.role, Role::User | Role::Assistant) && !m.content.is_empty()
                        })
                        .map(|m| ChatMessage::new(m.role, m.content.clone()))
                        .collect();
                    return Ok(RecentTurns {
                        summary,
                        turns,
                        compaction,
                        summarised_tokens,
                    });
                }
                Plan::Compact { fold } => {
                    summarised_tokens += super::contexts::folded_tokens(&live[fold.clone()]);
                    compaction += self
                        .compact(namespace, id, &live, fold, &summariser, summary_tokens)
                        .await?;
                }
            }
        }
        Err(Error::internal("compaction did not converge"))
    }
}
