//! Stored, chained model responses (OpenAI's Responses API): a response's conversation is a
//! context, so `previous_response_id` continues it across restarts on any context store, under
//! the same tenancy, with a prompt whose prefix is the previous turn's (the KV cache serves
//! it). The server shapes the wire format; this module keeps the chain.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use serde_json::json;
//! use sp_core::chat::{ChatMessage, Completion, FinishReason, Usage};
//! use sp_core::context::{Contexts, MemoryContextStore};
//! use sp_core::knowledge::{Namespace, SimpleTokenizer};
//! use sp_core::responses::Responses;
//!
//! let contexts = Arc::new(Contexts::new(Arc::new(MemoryContextStore::default()), Arc::new(SimpleTokenizer)));
//! let responses = Responses::new(contexts);
//! let ns = Namespace::default();
//! let first = responses.begin(&ns, None, true, vec![ChatMessage::user("Hi, I am Ada.")]).await?;
//! let reply = Completion::new("Hello Ada!", FinishReason::Stop, Usage::default());
//! let stored = first.finish(&reply, json!({"object": "response"})).await?;
//! let id = stored["id"].as_str().unwrap().to_owned();
//!
//! let second = responses.begin(&ns, Some(&id), true, vec![ChatMessage::user("Who am I?")]).await?;
//! assert_eq!(second.prompt(None).len(), 3); // the first turn, its reply, the new input
//! # Ok::<(), sp_core::Error>(())
//! # }).unwrap();
//! ```

mod chain;
mod object;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::chat::{ChatMessage, Completion, Role};
use crate::context::{Contexts, NewMessage};
use crate::error::Result;
use crate::knowledge::Namespace;
pub use chain::Place as ResponsePlace;
use chain::{Chain, RESPONSE_ID_KEY, RESPONSE_KEY};
pub use object::{Settings, call_item, message_id, object};

/// Response chains over a context store.
#[derive(Clone)]
pub struct Responses {
    contexts: Arc<Contexts>,
}

impl Responses {
    /// Chains kept in `contexts`.
    pub fn new(contexts: Arc<Contexts>) -> Self {
        Responses { contexts }
    }

    /// A stored response's body (with its `id`); `SP-RES-001` when `namespace` has none.
    pub async fn get(&self, namespace: &Namespace, id: &str) -> Result<Value> {
        chain::stored(&self.contexts, namespace, id)
            .await
            .map(|(_, body)| body)
    }

    /// Deletes a stored response: its input and its reply leave its chain (a chain's only
    /// response takes its context with it). Only the newest response of a chain can go —
    /// `SP-RES-002` when later responses were built on it (delete those first, or branch from
    /// an earlier one); `SP-RES-001` when `namespace` has none of that id.
    pub async fn delete(&self, namespace: &Namespace, id: &str) -> Result<()> {
        let place = chain::Place::parse(id)?;
        let (message, _) = chain::stored(&self.contexts, namespace, id).await?;
        let context = self.contexts.get(namespace, place.context).await?;
        if context.message_count > message.seq {
            return Err(crate::Error::Conflict(format!(
                "response {id} was continued by later turns of its chain: delete those first"
            )));
        }
        if place.after == 0 {
            return self.contexts.delete(namespace, place.context).await;
        }
        self.contexts
            .store()
            .truncate(namespace, place.context, place.after)
            .await
    }

    /// Whether the context `id` names exists in `namespace` (a response may still be running
    /// there); `SP-RES-001` otherwise.
    pub async fn check_place(&self, namespace: &Namespace, id: &str) -> Result<()> {
        let place = chain::Place::parse(id)?;
        self.contexts
            .get(namespace, place.context)
            .await
            .map(|_| ())
            .map_err(|_| crate::Error::NotFound {
                kind: crate::Resource::Response,
                id: id.to_owned(),
            })
    }

    /// A new response to `input`, after the conversation of `previous` when given (forked
    /// there when that chain has gone on since), kept unless `store` is false. Its id is known
    /// at once; nothing is stored until [`PendingResponse::finish`].
    pub async fn begin(
        &self,
        namespace: &Namespace,
        previous: Option<&str>,
        store: bool,
        input: Vec<ChatMessage>,
    ) -> Result<PendingResponse> {
        let chain = chain::begin(&self.contexts, namespace, previous, store).await?;
        let id = match &chain.place {
            Some(place) => place.id(),
            None => format!("resp_{}", crate::Id::new().as_uuid().simple()),
        };
        Ok(PendingResponse {
            contexts: self.contexts.clone(),
            namespace: namespace.clone(),
            chain,
            input,
            id,
            store,
        })
    }
}

/// A response being made: its id, its prompt, and what storing it needs once its reply is
/// known.
pub struct PendingResponse {
    contexts: Arc<Contexts>,
    namespace: Namespace,
    chain: Chain,
    input: Vec<ChatMessage>,
    id: String,
    store: bool,
}

impl PendingResponse {
    /// Its id (stored ones can be fetched and continued by it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether it will be kept.
    pub fn store(&self) -> bool {
        self.store
    }

    /// The prompt: `instructions` as the system message (this response's own, not carried
    /// along the chain), the chain's conversation, then the input.
    pub fn prompt(&self, instructions: Option<&str>) -> Vec<ChatMessage> {
        let mut messages = Vec::with_capacity(self.chain.history.len() + self.input.len() + 1);
        if let Some(instructions) = instructions {
            messages.push(ChatMessage::new(Role::System, instructions));
        }
        messages.extend(self.chain.history.iter().cloned());
        messages.extend(self.input.iter().cloned());
        messages
    }

    /// Stores the input and `done` with `body` (the wire object the response is read back
    /// as), unless `store` is false; `body` with its `id`.
    pub async fn finish(self, done: &Completion, mut body: Value) -> Result<Value> {
        body["id"] = self.id.clone().into();
        let Some(place) = self.chain.place.filter(|_| self.store) else {
            return Ok(body);
        };
        for message in &self.input {
            let stored = NewMessage {
                tool_calls: chain::stored_calls(&message.tool_calls),
                tool_call_id: message.tool_call_id.clone(),
                ..NewMessage::new(message.role, message.content.clone())
            };
            self.contexts
                .append(&self.namespace, place.context, stored)
                .await?;
        }
        let mut kept = body.clone();
        if let Some(object) = kept.as_object_mut() {
            object.remove("id");
        }
        let reply = NewMessage {
            tool_calls: chain::stored_calls(&done.tool_calls),
            metadata: Some(json!({ RESPONSE_KEY: kept, RESPONSE_ID_KEY: self.id })),
            ..NewMessage::new(Role::Assistant, done.text.clone())
        };
        self.contexts
            .append(&self.namespace, place.context, reply)
            .await?;
        Ok(body)
    }

    /// The response failed or was cancelled: a context made for it (new or forked) goes
    /// again, and nothing of it is stored.
    pub async fn abandon(self) {
        if let (true, Some(place)) = (self.chain.created, self.chain.place)
            && let Err(err) = self.contexts.delete(&self.namespace, place.context).await
        {
            tracing::warn!(%err, "an abandoned response's context was not removed");
        }
    }
}
