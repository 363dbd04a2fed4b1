//! An in-process [`ContextStore`]: for tests, examples and short-lived agents. Nothing
//! survives the process; `sp-data` has the durable backends.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::Mutex;

use super::store::{ContextStore, PreparedMessage};
use super::types::{Context, ForkPoint, MemoryBlock, MemoryScope, Message, NewContext};
use crate::chat::Role;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::page::{Page, PageRequest};
use crate::{Id, Timestamp};

#[derive(Default)]
struct State {
    contexts: BTreeMap<Id, Context>,
    messages: HashMap<Id, Vec<Message>>,
    memory: BTreeMap<(Namespace, MemoryScope, String), MemoryBlock>,
}

/// Contexts held in memory behind one lock.
#[derive(Default)]
pub struct MemoryContextStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryContextStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryContextStore").finish_non_exhaustive()
    }
}

fn context_not_found(id: Id) -> Error {
    Error::NotFound {
        kind: crate::Resource::Context,
        id: id.to_string(),
    }
}

impl State {
    fn context(&self, namespace: &Namespace, id: Id) -> Result<&Context> {
        self.contexts
            .get(&id)
            .filter(|c| &c.namespace == namespace)
            .ok_or_else(|| context_not_found(id))
    }
}

#[async_trait]
impl ContextStore for MemoryContextStore {
    async fn create(&self, new: NewContext) -> Result<Context> {
        let now = Timestamp::now();
        let context = Context {
            id: Id::new(),
            namespace: new.namespace,
            agent: new.agent,
            title: new.title,
            system_prompt: new.system_prompt,
            metadata: new.metadata.unwrap_or_else(|| json!({})),
            extract_facts: new.extract_facts,
            forked_from: None,
            message_count: 0,
            created_at: now,
            updated_at: now,
        };
        let mut state = self.state.lock().await;
        state.contexts.insert(context.id, context.clone());
        state.messages.insert(context.id, Vec::new());
        Ok(context)
    }

    async fn get(&self, namespace: &Namespace, id: Id) -> Result<Context> {
        self.state.lock().await.context(namespace, id).cloned()
    }

    async fn list(&self, namespace: &Namespace, page: &PageRequest) -> Result<Page<Context>> {
        let after: Option<Id> = page.cursor.as_ref().map(|c| c.decode()).transpose()?;
        let state = self.state.lock().await;
        let rows: Vec<Context> = state
            .contexts
            .values()
            .rev()
            .filter(|c| &c.namespace == namespace && after.is_none_or(|a| c.id < a))
            .take(page.limit as usize + 1)
            .cloned()
            .collect();
        Page::from_rows(rows, page.limit, |c| c.id)
    }

    async fn delete(&self, namespace: &Namespace, id: Id) -> Result<()> {
        let mut state = self.state.lock().await;
        state.context(namespace, id)?;
        state.contexts.remove(&id);
        state.messages.remove(&id);
        state
            .memory
            .retain(|(_, scope, _), _| scope != &MemoryScope::Context(id));
        Ok(())
    }

    async fn fork(&self, namespace: &Namespace, id: Id, at: Id) -> Result<Context> {
        let mut state = self.state.lock().await;
        let source = state.context(namespace, id)?.clone();
        let messages = &state.messages[&id];
        let end = messages
            .iter()
            .position(|m| m.id == at)
            .ok_or_else(|| Error::NotFound {
                kind: crate::Resource::Message,
                id: at.to_string(),
            })?;
        let now = Timestamp::now();
        let fork_id = Id::new();
        let copied: Vec<Message> = messages[..=end]
            .iter()
            .map(|m| Message {
                id: Id::new(),
                context_id: fork_id,
                ..m.clone()
            })
            .collect();
        let context = Context {
            id: fork_id,
            forked_from: Some(ForkPoint {
                context_id: id,
                message_id: at,
            }),
            message_count: copied.len() as u64,
            created_at: now,
            updated_at: now,
            ..source
        };
        let blocks: Vec<MemoryBlock> = state
            .memory
            .values()
            .filter(|b| b.scope == MemoryScope::Context(id))
            .cloned()
            .collect();
        for block in blocks {
            let block = MemoryBlock {
                scope: MemoryScope::Context(fork_id),
                ..block
            };
            state.memory.insert(
                (namespace.clone(), block.scope.clone(), block.name.clone()),
                block,
            );
        }
        state.contexts.insert(fork_id, context.clone());
        state.messages.insert(fork_id, copied);
        Ok(context)
    }

    async fn append(
        &self,
        namespace: &Namespace,
        id: Id,
        prepared: PreparedMessage,
    ) -> Result<Message> {
        let mut state = self.state.lock().await;
        state.context(namespace, id)?;
        let messages = &state.messages[&id];
        if let Some(call) = &prepared.message.tool_call_id {
            let made = messages
                .iter()
                .any(|m| m.role == Role::Assistant && m.tool_calls.iter().any(|c| &c.id == call));
            if !made {
                return Err(Error::ToolCallUnknown {
                    tool_call_id: call.clone(),
                });
            }
        }
        let message = prepared.into_message(id, messages.len() as u64 + 1);
        let now = message.created_at;
        if let Some(messages) = state.messages.get_mut(&id) {
            messages.push(message.clone());
        }
        if let Some(context) = state.contexts.get_mut(&id) {
            context.message_count += 1;
            context.updated_at = now;
        }
        Ok(message)
    }

    async fn messages(
        &self,
        namespace: &Namespace,
        id: Id,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let state = self.state.lock().await;
        state.context(namespace, id)?;
        Ok(state.messages[&id]
            .iter()
            .filter(|m| m.seq > after)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn live_messages(&self, namespace: &Namespace, id: Id) -> Result<Vec<Message>> {
        let state = self.state.lock().await;
        state.context(namespace, id)?;
        Ok(super::live_view(&state.messages[&id]))
    }

    async fn put_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
        content: &str,
        limit_chars: u32,
    ) -> Result<MemoryBlock> {
        let mut state = self.state.lock().await;
        if let MemoryScope::Context(id) = scope {
            state.context(namespace, *id)?;
        }
        let block = MemoryBlock {
            scope: scope.clone(),
            name: name.to_owned(),
            content: content.to_owned(),
            limit_chars,
            updated_at: Timestamp::now(),
        };
        state.memory.insert(
            (namespace.clone(), scope.clone(), name.to_owned()),
            block.clone(),
        );
        Ok(block)
    }

    async fn memory(&self, namespace: &Namespace, scope: &MemoryScope) -> Result<Vec<MemoryBlock>> {
        let state = self.state.lock().await;
        if let MemoryScope::Context(id) = scope {
            state.context(namespace, *id)?;
        }
        Ok(state
            .memory
            .iter()
            .filter(|((ns, s, _), _)| ns == namespace && s == scope)
            .map(|(_, b)| b.clone())
            .collect())
    }

    async fn delete_memory(
        &self,
        namespace: &Namespace,
        scope: &MemoryScope,
        name: &str,
    ) -> Result<()> {
        let mut state = self.state.lock().await;
        state
            .memory
            .remove(&(namespace.clone(), scope.clone(), name.to_owned()))
            .map(|_| ())
            .ok_or_else(|| Error::NotFound {
                kind: crate::Resource::MemoryBlock,
                id: name.to_owned(),
            })
    }

    async fn extracting_namespaces(&self) -> Result<Vec<Namespace>> {
        let state = self.state.lock().await;
        let namespaces: std::collections::BTreeSet<Namespace> = state
            .contexts
            .values()
            .filter(|c| c.extract_facts)
            .map(|c| c.namespace.clone())
            .collect();
        Ok(namespaces.into_iter().collect())
    }

    async fn truncate(&self, namespace: &Namespace, id: Id, keep: u64) -> Result<()> {
        let mut state = self.state.lock().await;
        state.context(namespace, id)?;
        if let Some(messages) = state.messages.get_mut(&id) {
            messages.retain(|m| m.seq <= keep);
        }
        if let Some(context) = state.contexts.get_mut(&id)
            && context.message_count > keep
        {
            context.message_count = keep;
            context.updated_at = Timestamp::now();
        }
        Ok(())
    }
}
