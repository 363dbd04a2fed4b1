//! [`Contexts`]: validation, token counting, assembly with retrieval and compaction, and
//! chat turns over any [`ContextStore`].

use std::sync::Arc;

use serde_json::json;

use super::assemble::render_message;
use super::assemble::{AssembledPrompt, AssemblyInput, Budget, Plan, count_message, plan};
use super::compaction::summarise;
use super::store::{ContextStore, PreparedMessage};
use super::types::{
    Context, ContextLimits, MemoryBlock, MemoryScope, Message, MessageKind, NewContext, NewMessage,
    validate_memory,
};
use crate::Id;
use crate::chat::{Completion, Role, Sampling};
use crate::error::{Error, Result};
use crate::events::{EventLog, Origin, Recorder, platform_event};
use crate::knowledge::{KnowledgeBase, Namespace, SearchMode, SearchQuery};
use crate::model::{ChatModel, Tokenizer};
use crate::page::{Page, PageRequest};

/// How contexts are assembled and compacted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContextConfig {
    /// Size limits.
    pub limits: ContextLimits,
    /// Passages retrieved from archival memory per user turn (0: none).
    pub retrieval_k: usize,
    /// Share of the prompt budget retrieved passages may take.
    pub retrieval_share: f64,
    /// Most tokens a compaction summary may take.
    pub summary_tokens: usize,
}

impl Default for ContextConfig {
    fn default() -> Self {
        ContextConfig {
            limits: ContextLimits::default(),
            retrieval_k: 4,
            retrieval_share: 0.25,
            summary_tokens: 256,
        }
    }
}

/// One chat turn: the stored reply, what the model returned, the prompt it saw.
#[derive(Debug, Clone)]
pub struct ChatTurn {
    /// The assistant message, as stored.
    pub reply: Message,
    /// Generation details (usage, finish reason).
    pub completion: Completion,
    /// The assembled prompt.
    pub prompt: AssembledPrompt,
}

/// Agent contexts over a [`ContextStore`]: every message counted with the model's
/// tokenizer, prompts assembled within a token budget, older turns compacted by the model,
/// archival memory (a [`KnowledgeBase`]) searched per user turn.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::chat::Role;
/// use sp_core::context::{Budget, Contexts, MemoryContextStore, NewContext, NewMessage};
/// use sp_core::knowledge::SimpleTokenizer;
///
/// let contexts = Contexts::new(Arc::new(MemoryContextStore::default()), Arc::new(SimpleTokenizer));
/// let ctx = contexts.create(NewContext::default().with_system_prompt("Be brief.")).await?;
/// contexts.append(&ctx.namespace, ctx.id, NewMessage::new(Role::User, "hello")).await?;
/// let budget = Budget { context_window: 512, reply_tokens: 64, retrieval_tokens: 0 };
/// let prompt = contexts.assemble(&ctx.namespace, ctx.id, &budget).await?;
/// assert_eq!(prompt.messages.len(), 2);
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Contexts {
    pub(super) store: Arc<dyn ContextStore>,
    pub(super) tokenizer: Arc<dyn Tokenizer>,
    pub(super) model: Option<Arc<dyn ChatModel>>,
    knowledge: Option<Arc<KnowledgeBase>>,
    pub(super) config: ContextConfig,
    pub(super) events: Recorder,
    /// Whether answers in contexts that learn are queued for fact extraction.
    pub(super) learns: bool,
}

impl std::fmt::Debug for Contexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contexts")
            .field("config", &self.config)
            .field("model", &self.model.is_some())
            .field("knowledge", &self.knowledge.is_some())
            .finish_non_exhaustive()
    }
}

/// Compactions one assembly may run before giving up (each folds at least one turn).
pub(super) const MAX_COMPACTIONS: usize = 4;

impl Contexts {
    /// Contexts over `store`, counting with `tokenizer`; no model (no compaction, no chat)
    /// and no archival memory until added.
    pub fn new(store: Arc<dyn ContextStore>, tokenizer: Arc<dyn Tokenizer>) -> Self {
        Contexts {
            store,
            tokenizer,
            model: None,
            knowledge: None,
            config: ContextConfig::default(),
            events: Recorder::default(),
            learns: false,
        }
    }

    /// The model that answers chat turns and writes compaction summaries.
    pub fn with_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// Archival memory, searched (hybrid) in the context's namespace for each user turn.
    pub fn with_knowledge(mut self, knowledge: Arc<KnowledgeBase>) -> Self {
        self.knowledge = Some(knowledge);
        self
    }

    /// The same contexts without retrieval: for a caller that may not read the knowledge
    /// base (no `documents:read`), whose turns must not carry document text into the prompt
    /// (review finding M5). Cheap: the parts are shared.
    pub fn without_retrieval(&self) -> Contexts {
        Contexts {
            knowledge: None,
            ..self.clone()
        }
    }

    /// Records `context.created` in `log` (stream `contexts`), whichever entry point created
    /// the context.
    pub fn with_events(mut self, log: Arc<EventLog>) -> Self {
        self.events = Recorder::new(log);
        self
    }

    /// Queues each answer in a context created with `extract_facts` for fact extraction: a
    /// `memory.turn` event on the namespace's `memory` stream (see [`crate::facts`]), which
    /// the log given to [`with_events`](Self::with_events) records.
    pub fn with_fact_extraction(mut self) -> Self {
        self.learns = true;
        self
    }

    /// Replaces the configuration.
    pub fn with_config(mut self, config: ContextConfig) -> Self {
        self.config = config;
        self
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<dyn ContextStore> {
        &self.store
    }

    /// Creates a context.
    pub async fn create(&self, new: NewContext) -> Result<Context> {
        self.create_as(new, &Origin::default()).await
    }

    /// [`create`](Self::create) on behalf of `origin`, which its event carries.
    pub async fn create_as(&self, new: NewContext, origin: &Origin) -> Result<Context> {
        new.validate(&self.config.limits)?;
        let context = self.store.create(new).await?;
        self.events
            .record(|| {
                let subject = format!("contexts/{}", context.id);
                let data = json!({"id": context.id});
                let ns = &context.namespace;
                platform_event(ns, "contexts", "context.created", subject, origin, data)
            })
            .await;
        Ok(context)
    }

    /// A context.
    pub async fn get(&self, namespace: &Namespace, id: Id) -> Result<Context> {
        self.store.get(namespace, id).await
    }

    /// Contexts of a namespace, newest first.
    pub async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Context>> {
        self.store.list(namespace, page).await
    }

    /// Deletes a context, its messages and its memory.
    pub async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        self.store.delete(namespace, id).await?;
        // Its KV state on disk goes with it (turns are cached as the context's own).
        if let Some(model) = &self.model {
            model.forget_cached(namespace.tenant().as_str(), &id.to_string());
        }
        Ok(())
    }

    /// Forks a context at one of its messages.
    pub async fn fork(&self, namespace: &Namespace, id: Id, at: Id) -> Result<Context> {
        self.store.fork(namespace, id, at).await
    }

    /// Validates, counts and appends a message.
    pub async fn append(
        &self,
        namespace: &Namespace,
        id: Id,
        message: NewMessage,
    ) -> Result<Message> {
        message.validate(&self.config.limits)?;
        let token_count = self.count(&message)?;
        let stored = self
            .store
            .append(
                namespace,
                id,
                PreparedMessage {
                    message,
                    token_count,
                    covers_through: None,
                },
            )
            .await?;
        if self.learns && stored.role == Role::Assistant && stored.tool_calls.is_empty() {
            self.queue_for_learning(namespace, &stored).await;
        }
        Ok(stored)
    }

    fn count(&self, message: &NewMessage) -> Result<u32> {
        // Counted exactly as assembly will render it.
        let rendered = render_message(&unsaved(Id::from_uuid(uuid::Uuid::nil()), 0, message, 0));
        Ok(count_message(self.tokenizer.as_ref(), &rendered)? as u32)
    }

    /// Messages after `after`, in order.
    pub async fn messages(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.store.messages(namespace, id, after, limit).await
    }

    /// Creates or edits a memory block; `limit_chars` defaults to the configured one.
    pub async fn set_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
        content: &str,
        limit_chars: Option<u32>,
    ) -> Result<MemoryBlock> {
        let limit = validate_memory(name, content, limit_chars, &self.config.limits)?;
        self.store
            .put_memory(namespace, scope, name, content, limit)
            .await
    }

    /// Memory blocks of a scope.
    pub async fn memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
    ) -> Result<Vec<MemoryBlock>> {
        self.store.memory(namespace, scope).await
    }

    /// Removes a memory block.
    pub async fn delete_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
    ) -> Result<()> {
        self.store.delete_memory(namespace, scope, name).await
    }

    /// The prompt for the context's next reply, within `budget`: compacts older turns
    /// through the model when they no longer fit (the summary is stored as a message).
    pub async fn assemble(
        &self,
        namespace: &Namespace,
        id: Id,
        budget: &Budget,
    ) -> Result<AssembledPrompt> {
        self.assemble_with(namespace, id, budget, None).await
    }

    /// [`assemble`](Self::assemble) as if `pending` were already appended: a turn is checked
    /// against the budget before anything is stored.
    async fn assemble_with(
        &self,
        namespace: &Namespace,
        id: Id,
        budget: &Budget,
        pending: Option<&NewMessage>,
    ) -> Result<AssembledPrompt> {
        let context = self.store.get(namespace, id).await?;
        let mut memory = match &context.agent {
            Some(agent) => {
                self.store
                    .memory(namespace, &MemoryScope::Agent(agent.clone()))
                    .await?
            }
            None => Vec::new(),
        };
        memory.extend(
            self.store
                .memory(namespace, &MemoryScope::Context(id))
                .await?,
        );
        let load = || async {
            let mut live = self.store.live_messages(namespace, id).await?;
            if let Some(pending) = pending {
                let token_count = self.count(pending)?;
                live.push(unsaved(id, context.message_count + 1, pending, token_count));
            }
            Ok::<_, Error>(live)
        };
        let mut live = load().await?;
        // Retrieval searches for the turn's first words (a query is bounded; a turn is not).
        let asked = live
            .last()
            .filter(|last| last.role == Role::User)
            .map(|last| SearchQuery::clip(&last.content))
            .filter(|text| !text.is_empty());
        let retrieved = match (&self.knowledge, asked) {
            (Some(kb), Some(asked)) if self.config.retrieval_k > 0 => {
                let query = SearchQuery {
                    namespace: namespace.clone(),
                    k: self.config.retrieval_k,
                    mode: SearchMode::Hybrid,
                    ..SearchQuery::new(asked)
                };
                match kb.search(&query).await {
                    Ok(hits) => hits,
                    // No archival memory in this namespace yet: nothing to retrieve.
                    Err(Error::NotFound {
                        kind: crate::Resource::Namespace,
                        ..
                    }) => Vec::new(),
                    Err(err) => return Err(err),
                }
            }
            _ => Vec::new(),
        };
        let budget = Budget {
            retrieval_tokens: budget
                .retrieval_tokens
                .min((budget.prompt_tokens() as f64 * self.config.retrieval_share) as usize),
            ..*budget
        };
        // A summary may take at most a quarter of the prompt, so it never crowds out the turns.
        let summary_tokens = self.config.summary_tokens.min(budget.prompt_tokens() / 4);
        let mut compaction = crate::chat::Usage::default();
        let mut summarised_tokens = 0;
        for _ in 0..=MAX_COMPACTIONS {
            let input = AssemblyInput {
                system_prompt: context.system_prompt.as_deref(),
                memory: &memory,
                live: &live,
                retrieved: &retrieved,
            };
            match plan(&input, &budget, summary_tokens, self.tokenizer.as_ref())? {
                Plan::Fits(prompt) => {
                    return Ok(AssembledPrompt {
                        compaction,
                        summarised_tokens,
                        ..prompt
                    });
                }
                Plan::Compact { fold } => {
                    summarised_tokens += folded_tokens(&live[fold.clone()]);
                    compaction += self
                        .compact(namespace, id, &live, fold, &budget, summary_tokens)
                        .await?;
                    live = load().await?;
                }
            }
        }
        Err(Error::internal("compaction did not converge"))
    }

    pub(super) async fn compact(
        &self,
        namespace: &Namespace,
        id: Id,
        live: &[Message],
        fold: std::ops::Range<usize>,
        budget: &Budget,
        summary_tokens: usize,
    ) -> Result<crate::chat::Usage> {
        let Some(model) = &self.model else {
            let kept: usize = live.iter().map(|m| m.token_count as usize).sum();
            return Err(Error::ContextLengthExceeded {
                prompt_tokens: kept,
                max_tokens: budget.reply_tokens,
                context_size: budget.context_window,
            });
        };
        let previous = live
            .first()
            .filter(|m| m.kind == MessageKind::Summary)
            .map(|m| m.content.as_str());
        let folded = &live[fold];
        let (summary, used) = summarise(
            model.as_ref(),
            &Sampling::default()
                .in_scope(namespace.tenant())
                .owned_by(id),
            self.tokenizer.as_ref(),
            previous,
            folded,
            budget.context_window,
            summary_tokens,
        )
        .await?;
        let covers_through = folded.last().map_or(0, |m| m.seq);
        let message = NewMessage {
            metadata: Some(json!({"compaction": {"folded_messages": folded.len()}})),
            ..NewMessage::new(Role::System, summary)
        };
        let token_count = self.count(&message)?;
        tracing::info!(context = %id, folded = folded.len(), covers_through, "context compacted");
        self.store
            .append(
                namespace,
                id,
                PreparedMessage {
                    message,
                    token_count,
                    covers_through: Some(covers_through),
                },
            )
            .await?;
        Ok(used)
    }

    /// Checks a turn, assembles its prompt (as if `user` were appended) and appends `user`:
    /// what a turn does before the model runs. A refused turn stores nothing.
    pub(super) async fn begin_turn(
        &self,
        namespace: &Namespace,
        id: Id,
        user: NewMessage,
        sampling: &Sampling,
        context_window: usize,
    ) -> Result<(Arc<dyn ChatModel>, AssembledPrompt)> {
        let model = self
            .model
            .clone()
            .ok_or_else(|| Error::unavailable("model", "no model is loaded for context chat"))?;
        sampling.validate()?;
        if user.role != Role::User {
            return Err(Error::invalid_input(
                "role",
                "a chat turn starts with a user message",
            ));
        }
        user.validate(&self.config.limits)?;
        let budget = Budget {
            context_window,
            reply_tokens: sampling.max_tokens as usize,
            retrieval_tokens: usize::MAX,
        };
        // The turn must fit before it is stored: a refused turn leaves the context as it was.
        let prompt = self
            .assemble_with(namespace, id, &budget, Some(&user))
            .await?;
        self.append(namespace, id, user).await?;
        Ok((model, prompt))
    }

    /// A whole turn: appends `user`, assembles within `context_window` leaving
    /// `sampling.max_tokens` for the reply, generates, appends the reply.
    pub async fn chat(
        &self,
        namespace: &Namespace,
        id: Id,
        user: NewMessage,
        sampling: &Sampling,
        context_window: usize,
    ) -> Result<ChatTurn> {
        let (model, prompt) = self
            .begin_turn(namespace, id, user, sampling, context_window)
            .await?;
        // The prompt's cached state is the tenant's own (see `Sampling::cache_scope`), its
        // files the context's (deleted with it).
        let sampling = &sampling.clone().in_scope(namespace.tenant()).owned_by(id);
        let completion = model.chat(&prompt.messages, sampling).await?;
        let reply = self
            .append(
                namespace,
                id,
                NewMessage::new(Role::Assistant, completion.text.clone()),
            )
            .await?;
        Ok(ChatTurn {
            reply,
            completion,
            prompt,
        })
    }
}

/// `message` as it will be stored, before it is.
fn unsaved(context_id: Id, seq: u64, message: &NewMessage, token_count: u32) -> Message {
    PreparedMessage {
        message: message.clone(),
        token_count,
        covers_through: None,
    }
    .into_message(context_id, seq)
}

/// Tokens of `messages` as stored.
pub(super) fn folded_tokens(messages: &[Message]) -> u64 {
    messages.iter().map(|m| u64::from(m.token_count)).sum()
}
