//! Where a stored response lives: an assistant message of a context that holds its chain.
//! A response id names the context, where in it the response begins and a nonce
//! (`resp_<context><after><nonce>`), so a chain needs no table of its own — it is a context, on
//! whichever backend contexts are, under tenancy like them — and the id is known before the
//! reply is generated (a stream announces it first).

use crate::chat::{ChatMessage, Role, ToolCall};
use crate::context::{Contexts, Message, MessageKind, NewContext};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::knowledge::Namespace;
use serde_json::Value;

/// The metadata keys of a response's message: its body and its id.
pub const RESPONSE_KEY: &str = "response";
/// (The id's key.)
pub const RESPONSE_ID_KEY: &str = "response_id";

/// How many messages after its start a response's own message is looked for (its input
/// items, then it; more only when other turns were appended to the chain meanwhile).
const LOOK_AHEAD: u32 = 1000;

/// A response's place: its chain's context, the `seq` its input follows, and a nonce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// The context that holds the chain.
    pub context: Id,
    /// The `seq` of the message its input follows (0 for a new chain).
    pub after: u64,
    /// Tells apart responses that begin at the same place.
    pub nonce: u32,
}

impl Place {
    /// A new place after message `after` of `context`.
    pub fn new(context: Id, after: u64) -> Place {
        Place {
            context,
            after,
            nonce: Id::new().as_uuid().as_u128() as u32,
        }
    }

    /// `resp_` + the context's 32 hex digits + `after`'s 16 + the nonce's 8.
    pub fn id(&self) -> String {
        format!(
            "resp_{}{:016x}{:08x}",
            self.context.as_uuid().simple(),
            self.after,
            self.nonce
        )
    }

    /// The place an id names; `SP-RES-001` (as a missing response) for one that is not ours.
    pub fn parse(id: &str) -> Result<Place> {
        let missing = || not_found(id);
        let hex = id.strip_prefix("resp_").ok_or_else(missing)?;
        if hex.len() != 56 || !hex.is_ascii() {
            return Err(missing());
        }
        let context = uuid::Uuid::parse_str(&hex[..32]).map_err(|_| missing())?;
        let after = u64::from_str_radix(&hex[32..48], 16).map_err(|_| missing())?;
        let nonce = u32::from_str_radix(&hex[48..], 16).map_err(|_| missing())?;
        Ok(Place {
            context: Id::from_uuid(context),
            after,
            nonce,
        })
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        kind: crate::Resource::Response,
        id: id.to_owned(),
    }
}

/// The stored response `id`: its message and its body; `SP-RES-001` when there is none.
pub async fn stored(
    contexts: &Contexts,
    namespace: &Namespace,
    id: &str,
) -> Result<(Message, Value)> {
    let place = Place::parse(id)?;
    let found = contexts
        .messages(namespace, place.context, place.after, LOOK_AHEAD)
        .await
        .map_err(|err| match err {
            Error::NotFound { .. } => not_found(id),
            other => other,
        })?;
    let message = found
        .into_iter()
        .find(|m| m.metadata.get(RESPONSE_ID_KEY).and_then(Value::as_str) == Some(id))
        .ok_or_else(|| not_found(id))?;
    let mut body = message
        .metadata
        .get(RESPONSE_KEY)
        .cloned()
        .filter(Value::is_object)
        .ok_or_else(|| not_found(id))?;
    body["id"] = id.into();
    Ok((message, body))
}

/// Where a new response goes, and the conversation it continues.
pub struct Chain {
    /// Where it will be stored (`None` with `store: false`).
    pub place: Option<Place>,
    /// The conversation before its input.
    pub history: Vec<ChatMessage>,
    /// The context was made for it, new or forked (removed again if it fails).
    pub created: bool,
}

/// The chain of a new response: `previous`'s context (forked there when it has gone on since
/// — a second branch from the same response), a new context, or none with `store: false`.
pub async fn begin(
    contexts: &Contexts,
    namespace: &Namespace,
    previous: Option<&str>,
    store: bool,
) -> Result<Chain> {
    let Some(previous) = previous else {
        if !store {
            return Ok(Chain {
                place: None,
                history: Vec::new(),
                created: false,
            });
        }
        let new = NewContext {
            namespace: namespace.clone(),
            title: Some("responses".into()),
            ..NewContext::default()
        };
        let context = contexts.create(new).await?;
        return Ok(Chain {
            place: Some(Place::new(context.id, 0)),
            history: Vec::new(),
            created: true,
        });
    };
    let (message, _) = stored(contexts, namespace, previous).await?;
    let history = history(contexts, namespace, message.context_id, message.seq).await?;
    if !store {
        return Ok(Chain {
            place: None,
            history,
            created: false,
        });
    }
    let known = contexts.get(namespace, message.context_id).await?;
    let (context, created) = if known.message_count == message.seq {
        (message.context_id, false)
    } else {
        let fork = contexts
            .fork(namespace, message.context_id, message.id)
            .await?;
        (fork.id, true)
    };
    Ok(Chain {
        place: Some(Place::new(context, message.seq)),
        history,
        created,
    })
}

/// Calls as a context stores them (arguments as JSON).
pub fn stored_calls(calls: &[ToolCall]) -> Vec<crate::context::ToolCall> {
    calls
        .iter()
        .map(|call| crate::context::ToolCall {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: serde_json::from_str(&call.arguments)
                .unwrap_or_else(|_| Value::String(call.arguments.clone())),
        })
        .collect()
}

/// The conversation of `context` through message `seq`, as chat messages (summaries as
/// system text, so a compacted chain is still whole).
async fn history(
    contexts: &Contexts,
    namespace: &Namespace,
    context: Id,
    seq: u64,
) -> Result<Vec<ChatMessage>> {
    let mut messages = Vec::new();
    let mut after = 0;
    while after < seq {
        let page = contexts.messages(namespace, context, after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for message in page.into_iter().filter(|m| m.seq <= seq) {
            let mut chat = match message.kind {
                MessageKind::Summary => ChatMessage::new(Role::System, message.content),
                _ => ChatMessage::new(message.role, message.content),
            };
            chat.tool_calls = message
                .tool_calls
                .into_iter()
                .map(|call| ToolCall {
                    id: call.id,
                    name: call.name,
                    arguments: match call.arguments {
                        Value::String(text) => text,
                        other => other.to_string(),
                    },
                })
                .collect();
            chat.tool_call_id = message.tool_call_id;
            messages.push(chat);
        }
    }
    Ok(messages)
}
