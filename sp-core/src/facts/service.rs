//! [`Facts`]: the facts of contexts — recorded by hand or extracted from turns by the model,
//! listed as of any time, searched, corrected and forgotten.

use std::sync::Arc;

use super::extract;
use super::rank::rank;
use super::store::FactStore;
use super::types::{Fact, FactEdit, FactHit, FactView, NewFact, Recorded};
use crate::chat::{Role, Sampling};
use crate::context::{Contexts, Message, MessageKind};
use crate::error::{Error, Result};
use crate::events::EventLog;
use crate::knowledge::Namespace;
use crate::model::{ChatModel, Embedder};
use crate::{Id, Timestamp};

/// Most facts a listing returns.
pub const MAX_LISTED: u32 = 1000;
/// Most current facts a search ranks (the newest).
pub const MAX_SEARCHED: u32 = 2000;
/// Tries to record one observation while other writers race for the same fact.
const RECORD_ATTEMPTS: u32 = 8;
/// Tokens the extractor may answer with.
const EXTRACTION_TOKENS: u32 = 384;
/// Messages read back from a turn's last one to find what the user said in it.
const TURN_WINDOW: u64 = 8;

/// The facts contexts learn (see `docs/contexts.md`, "Memory that learns").
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::sync::Arc;
/// use sp_core::context::{Contexts, MemoryContextStore, NewContext};
/// use sp_core::facts::{Facts, FactView, MemoryFactStore, NewFact, Recorded};
/// use sp_core::knowledge::SimpleTokenizer;
///
/// let contexts = Arc::new(Contexts::new(Arc::new(MemoryContextStore::default()), Arc::new(SimpleTokenizer)));
/// let facts = Facts::new(Arc::new(MemoryFactStore::default()), contexts.clone());
/// let ctx = contexts.create(NewContext::default()).await?;
/// facts.add(&ctx.namespace, ctx.id, NewFact::new("user", "city", "Oslo")).await?;
/// let moved = facts.add(&ctx.namespace, ctx.id, NewFact::new("I", "City", "Bergen")).await?;
/// assert!(matches!(moved, Recorded::Superseded { .. }));
/// let current = facts.list(&ctx.namespace, ctx.id, FactView::Current, 10).await?;
/// assert_eq!(current[0].value, "Bergen");
/// # Ok::<(), sp_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Facts {
    store: Arc<dyn FactStore>,
    pub(super) contexts: Arc<Contexts>,
    model: Option<Arc<dyn ChatModel>>,
    embedder: Option<Arc<dyn Embedder>>,
    pub(super) events: Option<Arc<EventLog>>,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts")
            .field("model", &self.model.is_some())
            .field("embedder", &self.embedder.is_some())
            .finish_non_exhaustive()
    }
}

impl Facts {
    /// Facts in `store` about the contexts of `contexts`; no model (no extraction) and no
    /// embedder (keyword search only) until added.
    pub fn new(store: Arc<dyn FactStore>, contexts: Arc<Contexts>) -> Self {
        Facts {
            store,
            contexts,
            model: None,
            embedder: None,
            events: None,
        }
    }

    /// The model that extracts facts from turns.
    pub fn with_model(mut self, model: Arc<dyn ChatModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// The embedder facts are searched by.
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// The log whose `memory` streams carry the turns to extract from (see
    /// [`deliver`](Self::deliver)).
    pub fn with_events(mut self, log: Arc<EventLog>) -> Self {
        self.events = Some(log);
        self
    }

    async fn vector(&self, fact: &NewFact) -> Result<Option<Vec<f32>>> {
        let Some(embedder) = &self.embedder else {
            return Ok(None);
        };
        let text = format!("{} {} {}", fact.subject, fact.attribute, fact.value);
        Ok(embedder.embed(&[text]).await?.pop())
    }

    /// Records an observation in a context: merged, superseding or added (see
    /// [`Recorded`]). `SP-RES-001` when the context is not the namespace's.
    pub async fn add(
        &self,
        namespace: &Namespace,
        context_id: Id,
        fact: NewFact,
    ) -> Result<Recorded> {
        self.contexts.get(namespace, context_id).await?;
        self.record(namespace, context_id, fact).await
    }

    async fn record(
        &self,
        namespace: &Namespace,
        context_id: Id,
        fact: NewFact,
    ) -> Result<Recorded> {
        let key = fact.validate()?;
        let vector = self.vector(&fact).await?;
        // Writers that record the same subject and attribute at once race for the one current
        // fact (the store refuses all but one with `Conflict`): each loser records again
        // against what the winner left, and is merged or supersedes in turn.
        let mut attempt = 1;
        loop {
            let result = self
                .store
                .record(
                    namespace,
                    context_id,
                    &fact,
                    &key,
                    vector.clone(),
                    Timestamp::now(),
                )
                .await;
            match result {
                Err(Error::Conflict(_)) if attempt < RECORD_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }

    /// Facts of a context in `view`, newest first, at most `limit` (≤ [`MAX_LISTED`]).
    pub async fn list(
        &self,
        namespace: &Namespace,
        context_id: Id,
        view: FactView,
        limit: u32,
    ) -> Result<Vec<Fact>> {
        self.contexts.get(namespace, context_id).await?;
        self.store
            .list(namespace, context_id, view, limit.min(MAX_LISTED))
            .await
    }

    /// The current facts that best match `query` (keywords and, with an embedder, meaning),
    /// weighted by recency.
    pub async fn search(
        &self,
        namespace: &Namespace,
        context_id: Id,
        query: &str,
        limit: usize,
    ) -> Result<Vec<FactHit>> {
        crate::nul::refuse_nul("q", query)?;
        if query.trim().is_empty() {
            return Err(Error::invalid_input("q", "must not be empty"));
        }
        self.contexts.get(namespace, context_id).await?;
        let facts = self
            .store
            .indexed(namespace, context_id, MAX_SEARCHED)
            .await?;
        let query_vector = match &self.embedder {
            Some(embedder) => embedder.embed(&[query.to_owned()]).await?.pop(),
            None => None,
        };
        Ok(rank(
            facts,
            query,
            query_vector.as_deref(),
            Timestamp::now(),
            limit,
        ))
    }

    /// A fact of a context; `SP-RES-001` when it belongs to no context of that id.
    pub async fn get(&self, namespace: &Namespace, context_id: Id, id: Id) -> Result<Fact> {
        // Through the context: facts go with it (the in-process store keeps no link to it).
        self.contexts.get(namespace, context_id).await?;
        let fact = self.store.get(namespace, id).await?;
        if fact.context_id != context_id {
            return Err(super::memory_store::fact_not_found(id));
        }
        Ok(fact)
    }

    /// Corrects a fact in place.
    pub async fn edit(
        &self,
        namespace: &Namespace,
        context_id: Id,
        id: Id,
        edit: &FactEdit,
    ) -> Result<Fact> {
        let fact = self.get(namespace, context_id, id).await?;
        let (edited, key) = edit.apply(&fact)?;
        let vector = self.vector(&edited).await?;
        self.store.edit(namespace, id, &edited, &key, vector).await
    }

    /// Forgets a fact.
    pub async fn delete(&self, namespace: &Namespace, context_id: Id, id: Id) -> Result<()> {
        self.get(namespace, context_id, id).await?;
        self.store.delete(namespace, id).await
    }

    /// Extracts facts from the turn ending at message `through` of a context — what the user
    /// said since the assistant last answered — with one schema-constrained model call, and
    /// records each. A context deleted since is nothing to do.
    pub async fn extract(
        &self,
        namespace: &Namespace,
        context_id: Id,
        through: u64,
    ) -> Result<Vec<Recorded>> {
        let model = self
            .model
            .clone()
            .ok_or_else(|| Error::unavailable("model", "no model is loaded to extract facts"))?;
        let after = through.saturating_sub(TURN_WINDOW);
        let messages = match self
            .contexts
            .messages(namespace, context_id, after, TURN_WINDOW as u32)
            .await
        {
            Ok(messages) => messages,
            Err(Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(err) => return Err(err),
        };
        let Some((said, source)) = user_words(&messages, through) else {
            return Ok(Vec::new());
        };
        let known = self
            .store
            .list(
                namespace,
                context_id,
                FactView::Current,
                extract::KNOWN_FACTS_SHOWN as u32,
            )
            .await?;
        let Some(options) = extract::options(&said) else {
            return Ok(Vec::new());
        };
        let answer = model
            .chat_with(
                &extract::prompt(&known, &said),
                &Sampling::greedy(EXTRACTION_TOKENS).in_scope(namespace.tenant()),
                &options,
            )
            .await?;
        let mut recorded = Vec::new();
        for fact in extract::parse(&answer.text)? {
            let fact = fact.from_message(source);
            recorded.push(self.record(namespace, context_id, fact).await?);
        }
        Ok(recorded)
    }
}

/// What the user said in the turn ending at `through`: their messages after the assistant's
/// previous answer, joined, and the last one's id.
fn user_words(messages: &[Message], through: u64) -> Option<(String, Id)> {
    let turn: Vec<&Message> = messages
        .iter()
        .filter(|m| m.seq <= through && m.kind == MessageKind::Turn)
        .collect();
    let mut said = Vec::new();
    let mut source = None;
    for message in turn.iter().rev() {
        match message.role {
            Role::User => {
                source.get_or_insert(message.id);
                said.push(message.content.as_str());
            }
            // The assistant's previous answer ends the turn; its answer to this one (`through`)
            // and the tool calls in between are not the user's words.
            Role::Assistant if message.seq != through && message.tool_calls.is_empty() => break,
            _ => {}
        }
    }
    said.reverse();
    let said = said.join("\n");
    source
        .filter(|_| !said.trim().is_empty())
        .map(|id| (said, id))
}
