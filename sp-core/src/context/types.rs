//! Contexts (agent sessions), their messages and pinned memory blocks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::chat::Role;
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// A conversation an agent keeps: its messages, its pinned memory, its system prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Context {
    /// Identifier (UUIDv7).
    pub id: Id,
    /// Tenant; archival memory is searched in the same namespace.
    pub namespace: Namespace,
    /// The agent this context belongs to, whose agent-wide memory blocks it sees.
    pub agent: Option<String>,
    /// Free-form title.
    pub title: Option<String>,
    /// Instructions placed first in every assembled prompt.
    pub system_prompt: Option<String>,
    /// Caller metadata (a JSON object).
    pub metadata: Value,
    /// Whether facts are extracted from its turns (`memory.extract`; see [`crate::facts`]).
    #[serde(default)]
    pub extract_facts: bool,
    /// The context and message this one was forked from.
    pub forked_from: Option<ForkPoint>,
    /// Messages appended so far (summaries included).
    pub message_count: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last append or change.
    pub updated_at: Timestamp,
}

/// Where a fork started: the source context and the last message copied from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForkPoint {
    /// The source context.
    pub context_id: Id,
    /// The last message copied.
    pub message_id: Id,
}

/// A context to create.
///
/// ```
/// use sp_core::context::NewContext;
///
/// let new = NewContext::default().with_system_prompt("You are terse.").with_agent("helper");
/// assert_eq!(new.agent.as_deref(), Some("helper"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewContext {
    /// Tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// The owning agent, if any.
    #[serde(default)]
    pub agent: Option<String>,
    /// Free-form title.
    #[serde(default)]
    pub title: Option<String>,
    /// Instructions placed first in every prompt.
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Caller metadata; must be a JSON object (or absent).
    #[serde(default)]
    pub metadata: Option<Value>,
    /// Extract facts from its turns (default off).
    #[serde(default)]
    pub extract_facts: bool,
}

impl NewContext {
    /// Sets the system prompt.
    pub fn with_system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// Sets the owning agent.
    pub fn with_agent(mut self, agent: impl Into<String>) -> Self {
        self.agent = Some(agent.into());
        self
    }

    /// Extracts facts from its turns (see [`crate::facts`]).
    pub fn with_fact_extraction(mut self) -> Self {
        self.extract_facts = true;
        self
    }

    /// Sets the namespace.
    pub fn with_namespace(mut self, namespace: Namespace) -> Self {
        self.namespace = namespace;
        self
    }

    /// Checks the fields a store cannot: metadata shape, agent name, prompt size.
    pub fn validate(&self, limits: &ContextLimits) -> Result<()> {
        if let Some(metadata) = &self.metadata
            && !metadata.is_object()
        {
            return Err(Error::invalid_input("metadata", "must be a JSON object"));
        }
        if let Some(metadata) = &self.metadata {
            crate::nul::refuse_nul_in("metadata", metadata)?;
        }
        for (field, text) in [
            ("title", &self.title),
            ("system_prompt", &self.system_prompt),
        ] {
            if let Some(text) = text {
                crate::nul::refuse_nul(field, text)?;
            }
        }
        if let Some(agent) = &self.agent {
            validate_name("agent", agent)?;
        }
        if let Some(prompt) = &self.system_prompt
            && prompt.len() > limits.max_message_bytes
        {
            return Err(Error::MessageTooLarge {
                bytes: prompt.len(),
                limit: limits.max_message_bytes,
            });
        }
        Ok(())
    }
}

/// A call an assistant message asks for (the OpenAI tool-call shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCall {
    /// Identifier the tool result refers back to.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// Arguments (JSON).
    pub arguments: Value,
}

/// What a message is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// A turn of the conversation.
    #[default]
    Turn,
    /// A summary written by compaction; it stands for every turn up to `covers_through`.
    Summary,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Identifier (UUIDv7).
    pub id: Id,
    /// The context it belongs to.
    pub context_id: Id,
    /// Position in the context: 1, 2, 3, … with no gaps, in append order.
    pub seq: u64,
    /// Author.
    pub role: Role,
    /// Turn or summary.
    pub kind: MessageKind,
    /// Text.
    pub content: String,
    /// Tool calls an assistant message makes.
    pub tool_calls: Vec<ToolCall>,
    /// For a tool message: the call it answers.
    pub tool_call_id: Option<String>,
    /// For a summary: the last `seq` it covers.
    pub covers_through: Option<u64>,
    /// Caller metadata (a JSON object).
    pub metadata: Value,
    /// Tokens of the message as rendered for the model (counted at append).
    pub token_count: u32,
    /// Append time.
    pub created_at: Timestamp,
}

/// A message to append.
///
/// ```
/// use sp_core::chat::Role;
/// use sp_core::context::NewMessage;
///
/// let m = NewMessage::new(Role::User, "hello");
/// assert_eq!(m.role, Role::User);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMessage {
    /// Author.
    pub role: Role,
    /// Text.
    #[serde(default)]
    pub content: String,
    /// Tool calls (assistant messages only).
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
    /// The call a tool message answers (tool messages only, required there).
    #[serde(default)]
    pub tool_call_id: Option<String>,
    /// Caller metadata; must be a JSON object (or absent).
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl NewMessage {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        NewMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            metadata: None,
        }
    }

    /// A tool result answering `call_id`.
    pub fn tool_result(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        NewMessage {
            tool_call_id: Some(call_id.into()),
            ..Self::new(Role::Tool, content)
        }
    }

    /// Adds tool calls (for an assistant message).
    pub fn with_tool_calls(mut self, calls: Vec<ToolCall>) -> Self {
        self.tool_calls = calls;
        self
    }

    /// Checks what can be checked without the context: size, the role's fields, metadata.
    /// Whether a tool result's call exists is checked by the store, atomically with the append.
    pub fn validate(&self, limits: &ContextLimits) -> Result<()> {
        let bytes = self.content.len()
            + self
                .tool_calls
                .iter()
                .map(|c| c.id.len() + c.name.len() + c.arguments.to_string().len())
                .sum::<usize>();
        if bytes > limits.max_message_bytes {
            return Err(Error::MessageTooLarge {
                bytes,
                limit: limits.max_message_bytes,
            });
        }
        crate::nul::refuse_nul("content", &self.content)?;
        for call in &self.tool_calls {
            crate::nul::refuse_nul("tool_calls", &call.id)?;
            crate::nul::refuse_nul("tool_calls", &call.name)?;
            crate::nul::refuse_nul_in("tool_calls", &call.arguments)?;
        }
        if let Some(metadata) = &self.metadata {
            crate::nul::refuse_nul_in("metadata", metadata)?;
        }
        if let Some(metadata) = &self.metadata
            && !metadata.is_object()
        {
            return Err(Error::invalid_input("metadata", "must be a JSON object"));
        }
        match self.role {
            Role::Tool if self.tool_call_id.as_deref().is_none_or(str::is_empty) => {
                Err(Error::invalid_input(
                    "tool_call_id",
                    "a tool message must name the call it answers",
                ))
            }
            Role::Tool => Ok(()),
            _ if self.tool_call_id.is_some() => Err(Error::invalid_input(
                "tool_call_id",
                "only tool messages answer a tool call",
            )),
            Role::Assistant => {
                let mut seen = std::collections::HashSet::new();
                for call in &self.tool_calls {
                    if call.id.is_empty() || call.name.is_empty() {
                        return Err(Error::invalid_input(
                            "tool_calls",
                            "every call needs an id and a name",
                        ));
                    }
                    if !seen.insert(call.id.as_str()) {
                        return Err(Error::invalid_input(
                            "tool_calls",
                            format!("call id `{}` appears twice", call.id),
                        ));
                    }
                }
                Ok(())
            }
            _ if !self.tool_calls.is_empty() => Err(Error::invalid_input(
                "tool_calls",
                "only assistant messages make tool calls",
            )),
            _ if self.content.is_empty() => {
                Err(Error::invalid_input("content", "must not be empty"))
            }
            _ => Ok(()),
        }
    }
}

/// Whose memory a block is: one context's, or every context of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "scope", content = "id", rename_all = "lowercase")]
pub enum MemoryScope {
    /// Seen by one context.
    Context(Id),
    /// Seen by every context of the agent.
    Agent(String),
}

impl MemoryScope {
    /// `("context", id)` or `("agent", name)`: how backends store the scope.
    pub fn parts(&self) -> (&'static str, String) {
        match self {
            MemoryScope::Context(id) => ("context", id.to_string()),
            MemoryScope::Agent(name) => ("agent", name.clone()),
        }
    }
}

/// A named piece of text pinned into every prompt of its scope (persona, facts about the
/// user, a task list), editable, bounded by its own limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryBlock {
    /// Whose block it is.
    pub scope: MemoryScope,
    /// Name, unique within the scope.
    pub name: String,
    /// Text.
    pub content: String,
    /// Most characters `content` may hold.
    pub limit_chars: u32,
    /// Last edit.
    pub updated_at: Timestamp,
}

/// Size limits for contexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextLimits {
    /// Largest message body (content plus tool calls), bytes.
    pub max_message_bytes: usize,
    /// Limit of a memory block created without one, characters.
    pub default_memory_chars: u32,
    /// Largest limit a memory block may ask for, characters.
    pub max_memory_chars: u32,
}

impl Default for ContextLimits {
    fn default() -> Self {
        ContextLimits {
            max_message_bytes: 256 * 1024,
            default_memory_chars: 2_000,
            max_memory_chars: 32_000,
        }
    }
}

/// Checks a memory block's name and content against its limit; returns the limit to store.
pub fn validate_memory(
    name: &str,
    content: &str,
    limit_chars: Option<u32>,
    limits: &ContextLimits,
) -> Result<u32> {
    validate_name("name", name)?;
    crate::nul::refuse_nul("content", content)?;
    let limit = limit_chars.unwrap_or(limits.default_memory_chars);
    if limit == 0 || limit > limits.max_memory_chars {
        return Err(Error::invalid_input(
            "limit_chars",
            format!("must be 1..={}", limits.max_memory_chars),
        ));
    }
    let chars = content.chars().count();
    if chars > limit as usize {
        return Err(Error::MemoryBlockTooLarge {
            name: name.to_owned(),
            chars,
            limit: limit as usize,
        });
    }
    Ok(limit)
}

fn validate_name(field: &str, name: &str) -> Result<()> {
    let valid = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("`{name}` must be 1-64 characters of A-Z, a-z, 0-9, `_`, `-`, `.`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_checked_by_role() {
        let limits = ContextLimits::default();
        assert!(NewMessage::new(Role::User, "hi").validate(&limits).is_ok());
        assert!(NewMessage::new(Role::User, "").validate(&limits).is_err());
        let orphan = NewMessage::new(Role::Tool, "42");
        assert_eq!(
            orphan.validate(&limits).unwrap_err().code().as_str(),
            "SP-VAL-001"
        );
        assert!(
            NewMessage::tool_result("c1", "42")
                .validate(&limits)
                .is_ok()
        );
        let calls = vec![ToolCall {
            id: "c1".into(),
            name: "add".into(),
            arguments: serde_json::json!({}),
        }];
        let user_calls = NewMessage::new(Role::User, "x").with_tool_calls(calls.clone());
        assert!(user_calls.validate(&limits).is_err());
        let twice = NewMessage::new(Role::Assistant, "")
            .with_tool_calls(vec![calls[0].clone(), calls[0].clone()]);
        assert!(twice.validate(&limits).is_err());
        let big = NewMessage::new(Role::User, "x".repeat(limits.max_message_bytes + 1));
        assert_eq!(
            big.validate(&limits).unwrap_err().code().as_str(),
            "SP-CTX-001"
        );
    }

    #[test]
    fn memory_blocks_respect_their_limit() {
        let limits = ContextLimits::default();
        assert_eq!(
            validate_memory("persona", "kind", Some(10), &limits).unwrap(),
            10
        );
        let err = validate_memory("persona", "x".repeat(11).as_str(), Some(10), &limits);
        assert_eq!(err.unwrap_err().code().as_str(), "SP-CTX-003");
        assert!(validate_memory("bad name", "x", None, &limits).is_err());
        assert!(validate_memory("p", "x", Some(limits.max_memory_chars + 1), &limits).is_err());
    }

    #[test]
    fn unknown_roles_do_not_deserialize() {
        let bad = serde_json::from_str::<NewMessage>(r#"{"role":"wizard","content":"x"}"#);
        assert!(bad.is_err());
    }
}
