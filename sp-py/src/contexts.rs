//! `Contexts`: conversations with stored messages, memory blocks, prompt assembly within a
//! token budget (compacting older turns through the model) and chat turns with memory.

use std::future::Future;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Value, json};
use sp_core::Id;
use sp_core::chat::Role;
use sp_core::context::{
    AssembledPrompt, Budget, ChatTurn, Context, Contexts as CoreContexts, MemoryBlock, MemoryScope,
    Message, NewContext, NewMessage,
};
use sp_core::facts::{FactEdit, Facts, NewFact};
use sp_core::knowledge::{Namespace, SimpleTokenizer};
use sp_core::{ChatModel, Result, Tokenizer};

use crate::convert::{awaitable, block, block_json, to_json};
use crate::errors::{invalid, to_py};
use crate::facts;
use crate::knowledge::KnowledgeStore;
use crate::model::Model;
use crate::stores;

fn context_id(raw: &str) -> PyResult<Id> {
    Id::parse_field("context_id", raw).map_err(to_py)
}

fn role(name: &str) -> PyResult<Role> {
    serde_json::from_value(Value::String(name.to_owned())).map_err(|_| {
        invalid(
            "role",
            format!("`{name}` is not system, user, assistant or tool"),
        )
    })
}

fn scope(context_id: Option<&str>, agent: Option<String>) -> PyResult<MemoryScope> {
    match (context_id, agent) {
        (Some(id), None) => Ok(MemoryScope::Context(self::context_id(id)?)),
        (None, Some(agent)) => Ok(MemoryScope::Agent(agent)),
        _ => Err(invalid("scope", "give exactly one of context_id and agent")),
    }
}

fn prompt_json(prompt: &AssembledPrompt) -> Value {
    json!({
        "messages": prompt.messages,
        "prompt_tokens": prompt.prompt_tokens,
        "retrieved": prompt.retrieved.iter().map(|h| json!({
            "title": h.title, "text": h.section.text, "score": h.score,
            "document_id": h.document_id,
        })).collect::<Vec<_>>(),
        "summary_through": prompt.summary_through,
        "compaction_usage": prompt.compaction,
        "summarised_tokens": prompt.summarised_tokens,
    })
}

fn turn_json(turn: &ChatTurn) -> Value {
    json!({
        "reply": turn.reply,
        "text": turn.completion.text,
        "finish_reason": turn.completion.finish_reason,
        "usage": turn.completion.usage,
        "prompt": prompt_json(&turn.prompt),
    })
}

/// Conversations and agent memory over the embedded store or PostgreSQL.
#[pyclass(module = "story_portal._story_portal", frozen)]
pub struct Contexts {
    engine: Arc<CoreContexts>,
    facts: Arc<Facts>,
    namespace: Namespace,
    /// The model's context window per sequence, for chat turns.
    window: usize,
}

/// The work of each call, shared by its blocking and awaitable forms.
impl Contexts {
    pub(crate) fn from_parts(
        engine: Arc<CoreContexts>,
        facts: Arc<Facts>,
        namespace: Namespace,
        window: usize,
    ) -> Self {
        Contexts {
            engine,
            facts,
            namespace,
            window,
        }
    }

    fn creating(
        &self,
        title: Option<String>,
        system_prompt: Option<String>,
        agent: Option<String>,
        metadata: Option<&Bound<'_, PyAny>>,
        extract_facts: bool,
    ) -> PyResult<impl Future<Output = Result<Context>> + Send + 'static> {
        let new = NewContext {
            namespace: self.namespace.clone(),
            agent,
            title,
            system_prompt,
            metadata: metadata.map(|m| to_json("metadata", m)).transpose()?,
            extract_facts,
        };
        let engine = self.engine.clone();
        Ok(async move { engine.create(new).await })
    }

    fn appending(
        &self,
        context_id: &str,
        role: &str,
        content: String,
    ) -> PyResult<impl Future<Output = Result<Message>> + Send + 'static> {
        let id = self::context_id(context_id)?;
        let message = NewMessage::new(self::role(role)?, content);
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move { engine.append(&namespace, id, message).await })
    }

    fn reading(
        &self,
        context_id: &str,
        after: u64,
        limit: u32,
    ) -> PyResult<impl Future<Output = Result<Vec<Message>>> + Send + 'static> {
        let id = self::context_id(context_id)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move { engine.messages(&namespace, id, after, limit).await })
    }

    fn remembering(
        &self,
        name: String,
        content: String,
        context_id: Option<&str>,
        agent: Option<String>,
        limit_chars: Option<u32>,
    ) -> PyResult<impl Future<Output = Result<MemoryBlock>> + Send + 'static> {
        let scope = self::scope(context_id, agent)?;
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move {
            engine
                .set_memory(&namespace, &scope, &name, &content, limit_chars)
                .await
        })
    }

    fn assembling(
        &self,
        context_id: &str,
        context_window: usize,
        reply_tokens: usize,
    ) -> PyResult<impl Future<Output = Result<Value>> + Send + 'static> {
        let id = self::context_id(context_id)?;
        let budget = Budget {
            context_window,
            reply_tokens,
            retrieval_tokens: context_window / 4,
        };
        let (engine, namespace) = (self.engine.clone(), self.namespace.clone());
        Ok(async move {
            let prompt = engine.assemble(&namespace, id, &budget).await?;
            Ok(prompt_json(&prompt))
        })
    }

    fn chatting(
        &self,
        context_id: &str,
        content: String,
        sampling: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<impl Future<Output = Result<Value>> + Send + 'static> {
        let id = self::context_id(context_id)?;
        let sampling = crate::model::sampling(sampling)?;
        let (engine, namespace, window) =
            (self.engine.clone(), self.namespace.clone(), self.window);
        Ok(async move {
            let user = NewMessage::new(Role::User, content);
            let turn = engine.chat(&namespace, id, user, &sampling, window).await?;
            Ok(turn_json(&turn))
        })
    }
}

#[pymethods]
impl Contexts {
    /// Opens contexts at `location` (a directory or a `postgres://` URL, as
    /// `KnowledgeStore.open`). With `model`, messages are counted in its tokens and `chat`
    /// answers; with `knowledge`, assembly adds passages relevant to the last user turn.
    #[staticmethod]
    #[pyo3(signature = (location, *, model=None, knowledge=None, namespace=None, schema=None))]
    fn open(
        py: Python<'_>,
        location: String,
        model: Option<PyRef<'_, Model>>,
        knowledge: Option<PyRef<'_, KnowledgeStore>>,
        namespace: Option<String>,
        schema: Option<String>,
    ) -> PyResult<Self> {
        let namespace = stores::namespace(namespace)?;
        let (store, fact_store) = block(py, async move {
            let database = stores::open(location, schema).await?;
            Ok((database.context_store(), database.fact_store()))
        })?;
        let tokenizer: Arc<dyn Tokenizer> = match &model {
            Some(model) => Arc::new(model.engine.clone()),
            None => Arc::new(SimpleTokenizer),
        };
        let mut engine = CoreContexts::new(store, tokenizer);
        let mut window = 0;
        if let Some(model) = &model {
            window = model.engine.config().context_per_slot as usize;
            engine = engine.with_model(Arc::new(model.engine.clone()) as Arc<dyn ChatModel>);
        }
        if let Some(knowledge) = &knowledge {
            engine = engine.with_knowledge(knowledge.base.clone());
        }
        let engine = Arc::new(engine);
        let mut facts = Facts::new(fact_store, engine.clone());
        if let Some(knowledge) = &knowledge {
            facts = facts.with_embedder(knowledge.base.embedder().clone());
        }
        Ok(Contexts {
            facts: Arc::new(facts),
            engine,
            namespace,
            window,
        })
    }

    /// A new context (a dict: id, title, agent, system_prompt, metadata, created_at, …).
    /// With `extract_facts`, the facts the user states are learned after each turn (see
    /// `facts`).
    #[pyo3(signature = (*, title=None, system_prompt=None, agent=None, metadata=None, extract_facts=false))]
    fn create<'py>(
        &self,
        py: Python<'py>,
        title: Option<String>,
        system_prompt: Option<String>,
        agent: Option<String>,
        metadata: Option<&Bound<'py, PyAny>>,
        extract_facts: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let creating = self.creating(title, system_prompt, agent, metadata, extract_facts)?;
        block_json(py, creating)
    }

    /// `create` as an awaitable.
    #[pyo3(signature = (*, title=None, system_prompt=None, agent=None, metadata=None, extract_facts=false))]
    fn acreate<'py>(
        &self,
        py: Python<'py>,
        title: Option<String>,
        system_prompt: Option<String>,
        agent: Option<String>,
        metadata: Option<&Bound<'py, PyAny>>,
        extract_facts: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let creating = self.creating(title, system_prompt, agent, metadata, extract_facts)?;
        awaitable(py, creating)
    }

    /// Appends a message (`role`: system, user, assistant or tool); returns it as stored.
    fn append<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        role: &str,
        content: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.appending(context_id, role, content)?)
    }

    /// `append` as an awaitable.
    fn aappend<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        role: &str,
        content: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.appending(context_id, role, content)?)
    }

    /// The context's messages after sequence number `after`, oldest first.
    #[pyo3(signature = (context_id, *, after=0, limit=1000))]
    fn messages<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        after: u64,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.reading(context_id, after, limit)?)
    }

    /// `messages` as an awaitable.
    #[pyo3(signature = (context_id, *, after=0, limit=1000))]
    fn amessages<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        after: u64,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.reading(context_id, after, limit)?)
    }

    /// Writes a memory block of a context (`context_id=`) or of an agent (`agent=`): always
    /// in the system prompt of their chats.
    #[pyo3(signature = (name, content, *, context_id=None, agent=None, limit_chars=None))]
    fn remember<'py>(
        &self,
        py: Python<'py>,
        name: String,
        content: String,
        context_id: Option<&str>,
        agent: Option<String>,
        limit_chars: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(
            py,
            self.remembering(name, content, context_id, agent, limit_chars)?,
        )
    }

    /// `remember` as an awaitable.
    #[pyo3(signature = (name, content, *, context_id=None, agent=None, limit_chars=None))]
    fn aremember<'py>(
        &self,
        py: Python<'py>,
        name: String,
        content: String,
        context_id: Option<&str>,
        agent: Option<String>,
        limit_chars: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.remembering(name, content, context_id, agent, limit_chars)?,
        )
    }

    /// The prompt for the context's next reply within `context_window` tokens, leaving
    /// `reply_tokens` for the answer: `{"messages", "prompt_tokens", "retrieved",
    /// "summary_through"}`.
    #[pyo3(signature = (context_id, *, context_window, reply_tokens=256))]
    fn assemble<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        context_window: usize,
        reply_tokens: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(
            py,
            self.assembling(context_id, context_window, reply_tokens)?,
        )
    }

    /// `assemble` as an awaitable.
    #[pyo3(signature = (context_id, *, context_window, reply_tokens=256))]
    fn aassemble<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        context_window: usize,
        reply_tokens: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(
            py,
            self.assembling(context_id, context_window, reply_tokens)?,
        )
    }

    /// One turn: stores `content` as the user's message, answers with the model from the
    /// assembled prompt (memory, retrieved passages, compacted history) and stores the reply.
    /// Returns `{"text", "finish_reason", "usage", "reply", "prompt"}`.
    #[pyo3(signature = (context_id, content, **sampling))]
    fn chat<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        content: String,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        block_json(py, self.chatting(context_id, content, sampling)?)
    }

    /// `chat` as an awaitable.
    #[pyo3(signature = (context_id, content, **sampling))]
    fn achat<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        content: String,
        sampling: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        awaitable(py, self.chatting(context_id, content, sampling)?)
    }

    /// The facts the context has learned (dicts: subject, attribute, value, confidence,
    /// mentions, source_message, valid_from, valid_to, superseded_by): those current now, those
    /// that held `as_of` an RFC 3339 time, or the whole `history`; newest first.
    #[pyo3(signature = (context_id, *, as_of=None, history=false, limit=100))]
    fn facts<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        as_of: Option<&str>,
        history: bool,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (facts, ns) = (&self.facts, &self.namespace);
        block_json(
            py,
            facts::listing(facts, ns, context_id, as_of, history, limit)?,
        )
    }

    /// `facts` as an awaitable.
    #[pyo3(signature = (context_id, *, as_of=None, history=false, limit=100))]
    fn afacts<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        as_of: Option<&str>,
        history: bool,
        limit: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (facts, ns) = (&self.facts, &self.namespace);
        awaitable(
            py,
            facts::listing(facts, ns, context_id, as_of, history, limit)?,
        )
    }

    /// Records a fact by hand: `{"outcome": "added" | "merged" | "superseded", "fact", …}`.
    #[pyo3(signature = (context_id, subject, attribute, value, *, confidence=1.0))]
    fn add_fact<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        subject: String,
        attribute: String,
        value: String,
        confidence: f32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fact = NewFact::new(subject, attribute, value).with_confidence(confidence);
        block_json(
            py,
            facts::adding(&self.facts, &self.namespace, context_id, fact)?,
        )
    }

    /// The current facts that best match `query`: `[{"fact", "score"}]`, best first.
    #[pyo3(signature = (context_id, query, *, limit=10))]
    fn search_facts<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        query: String,
        limit: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (facts, ns) = (&self.facts, &self.namespace);
        block_json(py, facts::searching(facts, ns, context_id, query, limit)?)
    }

    /// Corrects a fact in place; returns it.
    #[pyo3(signature = (context_id, fact_id, *, subject=None, attribute=None, value=None, confidence=None))]
    #[allow(clippy::too_many_arguments)] // the fields a caller may correct, by keyword
    fn edit_fact<'py>(
        &self,
        py: Python<'py>,
        context_id: &str,
        fact_id: &str,
        subject: Option<String>,
        attribute: Option<String>,
        value: Option<String>,
        confidence: Option<f32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let edit = FactEdit {
            subject,
            attribute,
            value,
            confidence,
        };
        let (facts, ns) = (&self.facts, &self.namespace);
        block_json(py, facts::editing(facts, ns, context_id, fact_id, edit)?)
    }

    /// Forgets a fact for good.
    fn forget_fact(&self, py: Python<'_>, context_id: &str, fact_id: &str) -> PyResult<()> {
        let (facts, ns) = (&self.facts, &self.namespace);
        block(py, facts::forgetting(facts, ns, context_id, fact_id)?)
    }
}
