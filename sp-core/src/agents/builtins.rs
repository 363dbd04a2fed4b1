//! The built-in tools: knowledge search, core memory edits (Letta's memory blocks),
//! archival memory and the facts the run's context learned. To the model they are ordinary tools — a schema, validated arguments, a
//! JSON result or a coded error.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::chat::ToolDefinition;
use crate::context::{Contexts, MemoryScope};
use crate::error::{Error, Result};
use crate::facts::Facts;
use crate::knowledge::{KnowledgeBase, Namespace, NewDocument, SearchMode, SearchQuery};

/// The built-in tools' names.
pub const BUILTIN_TOOLS: [&str; 7] = [
    "knowledge_search",
    "conversation_search",
    "fact_search",
    "memory_append",
    "memory_replace",
    "archival_insert",
    "archival_search",
];

/// The metadata key marking an archival passage, with the agent's name as its value.
const ARCHIVAL_KEY: &str = "sp_archival_agent";

/// The definition of built-in `name` (`None` for an unknown name).
pub fn builtin_definition(name: &str) -> Option<ToolDefinition> {
    let (description, parameters) = match name {
        "knowledge_search" => (
            "Search the knowledge store (keywords and meaning). Returns passages with titles.",
            json!({"type": "object", "required": ["query"], "additionalProperties": false,
                "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "k": {"type": "integer", "minimum": 1, "maximum": 20}}}),
        ),
        "conversation_search" => (
            "Search this conversation's earlier messages for words. Returns matching messages.",
            json!({"type": "object", "required": ["query"], "additionalProperties": false,
                "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "k": {"type": "integer", "minimum": 1, "maximum": 20}}}),
        ),
        "fact_search" => (
            "Search the facts learned in this conversation (about the user and what they named). \
             Returns the current ones that match.",
            json!({"type": "object", "required": ["query"], "additionalProperties": false,
                "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "k": {"type": "integer", "minimum": 1, "maximum": 20}}}),
        ),
        "memory_append" => (
            "Append a line to one of your memory blocks (shown to you on every step).",
            json!({"type": "object", "required": ["block", "text"], "additionalProperties": false,
                "properties": {"block": {"type": "string", "minLength": 1, "maxLength": 64},
                    "text": {"type": "string", "minLength": 1, "maxLength": 2000}}}),
        ),
        "memory_replace" => (
            "Replace text in one of your memory blocks.",
            json!({"type": "object", "required": ["block", "old", "new"],
                "additionalProperties": false,
                "properties": {"block": {"type": "string", "minLength": 1, "maxLength": 64},
                    "old": {"type": "string", "minLength": 1, "maxLength": 2000},
                    "new": {"type": "string", "maxLength": 2000}}}),
        ),
        "archival_insert" => (
            "Store a passage in your long-term archival memory.",
            json!({"type": "object", "required": ["text"], "additionalProperties": false,
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 8000}}}),
        ),
        "archival_search" => (
            "Search your long-term archival memory.",
            json!({"type": "object", "required": ["query"], "additionalProperties": false,
                "properties": {"query": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "k": {"type": "integer", "minimum": 1, "maximum": 20}}}),
        ),
        _ => return None,
    };
    Some(ToolDefinition::new(name, parameters).with_description(description))
}

/// What the built-ins work on; a built-in whose service is absent is refused when the
/// agent is defined.
#[derive(Clone, Default)]
pub struct Builtins {
    /// Knowledge search and archival memory.
    pub knowledge: Option<Arc<KnowledgeBase>>,
    /// Memory blocks.
    pub contexts: Option<Arc<Contexts>>,
    /// The facts contexts learn.
    pub facts: Option<Arc<Facts>>,
}

#[derive(Deserialize)]
struct Search {
    query: String,
    k: Option<usize>,
}

#[derive(Deserialize)]
struct Append {
    block: String,
    text: String,
}

#[derive(Deserialize)]
struct Replace {
    block: String,
    old: String,
    new: String,
}

#[derive(Deserialize)]
struct Insert {
    text: String,
}

impl Builtins {
    /// Whether built-in `name` can run here (it exists, and what it needs is present).
    pub fn offers(&self, name: &str) -> bool {
        match name {
            "knowledge_search" | "archival_insert" | "archival_search" => self.knowledge.is_some(),
            "memory_append" | "memory_replace" | "conversation_search" => self.contexts.is_some(),
            "fact_search" => self.facts.is_some(),
            _ => false,
        }
    }

    /// Runs built-in `name` for `agent` in `namespace` with `arguments` already checked
    /// against its schema.
    pub async fn call(
        &self,
        namespace: &Namespace,
        agent: &str,
        context: Option<crate::Id>,
        name: &str,
        arguments: Value,
    ) -> Result<Value> {
        let parse = |err: serde_json::Error| Error::invalid_input("arguments", err.to_string());
        match name {
            "knowledge_search" => {
                let args: Search = serde_json::from_value(arguments).map_err(parse)?;
                self.search(namespace, args, None).await
            }
            "archival_search" => {
                let args: Search = serde_json::from_value(arguments).map_err(parse)?;
                self.search(namespace, args, Some(json!({ARCHIVAL_KEY: agent})))
                    .await
            }
            "conversation_search" => {
                let args: Search = serde_json::from_value(arguments).map_err(parse)?;
                let context = context.ok_or_else(|| {
                    Error::invalid_input("conversation_search", "this run has no context")
                })?;
                self.search_conversation(namespace, context, args).await
            }
            "fact_search" => {
                let args: Search = serde_json::from_value(arguments).map_err(parse)?;
                let context = context.ok_or_else(|| {
                    Error::invalid_input("fact_search", "this run has no context")
                })?;
                let facts = self
                    .facts
                    .as_ref()
                    .ok_or_else(|| Error::unavailable("facts", "no fact store here"))?;
                let hits = facts
                    .search(namespace, context, &args.query, args.k.unwrap_or(5))
                    .await?;
                let found: Vec<Value> = hits
                    .iter()
                    .map(|hit| {
                        let fact = &hit.fact;
                        json!({"subject": fact.subject, "attribute": fact.attribute,
                            "value": fact.value, "since": fact.valid_from})
                    })
                    .collect();
                Ok(json!({"count": found.len(), "facts": found}))
            }
            "archival_insert" => {
                let args: Insert = serde_json::from_value(arguments).map_err(parse)?;
                let knowledge = self.knowledge()?;
                let document = NewDocument {
                    namespace: namespace.clone(),
                    metadata: json!({ARCHIVAL_KEY: agent}),
                    ..NewDocument::new(format!("archival memory of {agent}"), args.text)
                };
                let ingested = knowledge.ingest(document).await?;
                Ok(json!({"stored": true, "id": ingested.document.id}))
            }
            "memory_append" | "memory_replace" => {
                let contexts = self
                    .contexts
                    .as_ref()
                    .ok_or_else(|| Error::unavailable("contexts", "no context store here"))?;
                let scope = MemoryScope::Agent(agent.to_owned());
                let blocks = contexts.memory(namespace, &scope).await?;
                let (block, content) = if name == "memory_append" {
                    let args: Append = serde_json::from_value(arguments).map_err(parse)?;
                    let old = blocks.iter().find(|b| b.name == args.block);
                    let content = match old.map(|b| b.content.as_str()) {
                        Some("") | None => args.text,
                        Some(old) => format!("{old}\n{}", args.text),
                    };
                    (args.block, content)
                } else {
                    let args: Replace = serde_json::from_value(arguments).map_err(parse)?;
                    let old = blocks
                        .iter()
                        .find(|b| b.name == args.block)
                        .map(|b| b.content.clone())
                        .unwrap_or_default();
                    if !old.contains(&args.old) {
                        return Err(Error::invalid_input(
                            "old",
                            format!("block `{}` does not contain that text", args.block),
                        ));
                    }
                    (args.block.clone(), old.replacen(&args.old, &args.new, 1))
                };
                let limit = blocks
                    .iter()
                    .find(|b| b.name == block)
                    .map(|b| b.limit_chars);
                let stored = contexts
                    .set_memory(namespace, &scope, &block, &content, limit)
                    .await?;
                Ok(json!({"block": stored.name, "content": stored.content}))
            }
            _ => Err(Error::AgentToolUnknown {
                selector: format!("builtin:{name}"),
            }),
        }
    }

    fn knowledge(&self) -> Result<&Arc<KnowledgeBase>> {
        self.knowledge
            .as_ref()
            .ok_or_else(|| Error::unavailable("knowledge", "no knowledge store here"))
    }

    async fn search(
        &self,
        namespace: &Namespace,
        args: Search,
        filter: Option<Value>,
    ) -> Result<Value> {
        let query = SearchQuery {
            namespace: namespace.clone(),
            k: args.k.unwrap_or(5).clamp(1, 20),
            mode: SearchMode::Hybrid,
            filter,
            ..SearchQuery::new(args.query)
        };
        let hits = self.knowledge()?.search(&query).await?;
        let hits: Vec<Value> = hits
            .into_iter()
            .map(|hit| json!({"title": hit.title, "text": hit.section.text, "score": hit.score}))
            .collect();
        Ok(json!({"count": hits.len(), "hits": hits}))
    }

    /// The context's turns that hold the most of the query's words (case-insensitive), best
    /// first, newest first among equals.
    async fn search_conversation(
        &self,
        namespace: &Namespace,
        context: crate::Id,
        args: Search,
    ) -> Result<Value> {
        let contexts = self
            .contexts
            .as_ref()
            .ok_or_else(|| Error::unavailable("contexts", "no context store here"))?;
        let words: Vec<String> = args
            .query
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let mut scored = Vec::new();
        let mut after = 0;
        loop {
            let page = contexts.messages(namespace, context, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for message in page {
                let text = message.content.to_lowercase();
                let hits = words.iter().filter(|w| text.contains(w.as_str())).count();
                if hits > 0 {
                    scored.push((hits, message.seq, message.role, message.content));
                }
            }
        }
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        scored.truncate(args.k.unwrap_or(5).clamp(1, 20));
        let hits: Vec<Value> = scored
            .into_iter()
            .map(|(_, seq, role, content)| json!({"seq": seq, "role": role, "content": content}))
            .collect();
        Ok(json!({"count": hits.len(), "messages": hits}))
    }
}
