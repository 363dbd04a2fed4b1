//! OpenAI's Responses request, read strictly: `input` as a string or items (messages,
//! `function_call`, `function_call_output`), `instructions`, `tools` (see `tools`), `tool_choice`,
//! `text.format`, sampling. What we do not do is refused with a coded 400, never ignored.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use sp_core::chat::{ChatMessage, ChatOptions, Role, Sampling, ToolCall, openai};
use sp_core::{Error, Result};

/// `POST /v1/responses`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ResponseRequest {
    /// The model's id (see `/v1/models`); may be omitted.
    #[serde(default)]
    pub model: Option<String>,
    /// A string (one user message) or a list of items.
    #[schema(value_type = Object)]
    pub input: Value,
    /// A system message for this response only (not carried to the next in a chain).
    #[serde(default)]
    pub instructions: Option<String>,
    /// Continue the conversation of that response (its chain is kept in a context).
    #[serde(default)]
    pub previous_response_id: Option<String>,
    /// Keep the response (retrievable, continuable): default true.
    #[serde(default)]
    pub store: Option<bool>,
    /// Function tools `[{"type": "function", "name", "description", "parameters", "strict"}]`,
    /// answered by the client; or (our extension, not both kinds at once) tools the server
    /// runs as an agent run: `{"type": "hub", "name" | "tag" | "capability", "max_calls"?}`
    /// and `{"type": "builtin", "name", "max_calls"?}`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// `"auto"`, `"none"`, `"required"` or `{"type": "function", "name"}`; enforced.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    /// More than one call per reply (default true).
    #[serde(default)]
    pub parallel_tool_calls: Option<bool>,
    /// `{"format": {"type": "text" | "json_object" | "json_schema", …}}`; enforced.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub text: Option<Value>,
    /// The most tokens to generate (absent: the room left in the window).
    #[serde(default)]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature (0-2).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Server-sent events as the reply is generated.
    #[serde(default)]
    pub stream: bool,
    /// Answer at once (`status: "queued"`) and generate afterwards: poll with
    /// `GET /v1/responses/{id}`, stop with `POST /v1/responses/{id}/cancel`. Needs `store`.
    #[serde(default)]
    pub background: bool,
    /// Up to 16 string pairs, stored with the response.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Other fields: `user`, `truncation: "disabled"`, `stream_options` and `service_tier: "auto"` pass (they change nothing); anything
    /// else is refused.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

impl ResponseRequest {
    /// Refuses what this server does not do.
    pub fn check(&self) -> Result<()> {
        for (field, value) in &self.other {
            let harmless = match field.as_str() {
                "user" => true,
                "truncation" => value.as_str() == Some("disabled"),
                // Its one option (obfuscation padding) changes nothing we send.
                "stream_options" => true,
                "service_tier" => matches!(value.as_str(), Some("auto" | "default")),
                _ => value.is_null(),
            };
            if !harmless {
                return Err(Error::invalid_input(field.clone(), "is not supported"));
            }
        }
        if self.background && self.store == Some(false) {
            return Err(Error::invalid_input(
                "background",
                "needs store (a background response is kept to be polled)",
            ));
        }
        if self.background && self.stream {
            return Err(Error::invalid_input(
                "background",
                "cannot be streamed here; poll it instead",
            ));
        }
        if let Some(metadata) = &self.metadata
            && !metadata.is_object()
            && !metadata.is_null()
        {
            return Err(Error::invalid_input("metadata", "must be an object"));
        }
        Ok(())
    }

    /// The input items as chat messages.
    pub fn messages(&self) -> Result<Vec<ChatMessage>> {
        match &self.input {
            Value::String(text) if !text.is_empty() => Ok(vec![ChatMessage::user(text.clone())]),
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, item)| item_message(&format!("input[{i}]"), item))
                .collect(),
            _ => Err(Error::invalid_input(
                "input",
                "must be a non-empty string or a non-empty list of items",
            )),
        }
    }

    /// Tools, tool choice and the text format, as chat options.
    pub fn options(&self) -> Result<ChatOptions> {
        let (functions, server) = super::tools::split(self.tools.as_deref())?;
        let tools = functions.map(Value::Array);
        if !server.is_empty() {
            // The server's tools take their choice as an agent's (see `agent_run`); the
            // options keep only the text format.
            let format = self.format()?;
            let options = openai::options(None, None, None, format.as_ref())?;
            options.validate()?;
            return Ok(options);
        }
        let choice = match &self.tool_choice {
            Some(Value::Object(choice)) if choice.get("type") == Some(&json!("function")) => {
                Some(json!({"type": "function", "function": {"name": choice.get("name")}}))
            }
            other => other.clone(),
        };
        let format = self.format()?;
        let options = openai::options(
            tools.as_ref(),
            choice.as_ref(),
            self.parallel_tool_calls,
            format.as_ref(),
        )?;
        options.validate()?;
        Ok(options)
    }

    /// `text.format` as chat's `response_format`.
    fn format(&self) -> Result<Option<Value>> {
        if let Some(text) = &self.text
            && let Some(key) = text
                .as_object()
                .and_then(|t| t.keys().find(|k| *k != "format"))
        {
            return Err(Error::invalid_input(
                format!("text.{key}"),
                "is not supported",
            ));
        }
        match self.text.as_ref().and_then(|t| t.get("format")) {
            None | Some(Value::Null) => Ok(None),
            Some(format) => Ok(Some(response_format(format)?)),
        }
    }

    /// The sampling asked for; `max_output_tokens` absent is the room left in the window.
    pub fn sampling(&self) -> Result<Sampling> {
        let defaults = Sampling::default();
        let sampling = Sampling {
            temperature: self.temperature.unwrap_or(1.0),
            top_p: self.top_p.unwrap_or(defaults.top_p),
            max_tokens: self.max_output_tokens.unwrap_or(Sampling::UNTIL_WINDOW),
            ..defaults
        };
        sampling.validate()?;
        Ok(sampling)
    }
}

/// `text.format` as chat's `response_format`: the schema's fields sit beside `type` here.
fn response_format(format: &Value) -> Result<Value> {
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let mut spec = format.as_object().cloned().unwrap_or_default();
            spec.remove("type");
            Ok(json!({"type": "json_schema", "json_schema": spec}))
        }
        Some("text" | "json_object") => Ok(format.clone()),
        _ => Err(Error::invalid_input(
            "text.format.type",
            "must be text, json_object or json_schema",
        )),
    }
}

/// One input item as a chat message.
fn item_message(at: &str, item: &Value) -> Result<ChatMessage> {
    let kind = item
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("message");
    let text = |key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::invalid_input(format!("{at}.{key}"), "must be a string"))
    };
    match kind {
        "message" => {
            let role = match item.get("role").and_then(Value::as_str) {
                Some("user") => Role::User,
                Some("assistant") => Role::Assistant,
                Some("system" | "developer") => Role::System,
                _ => {
                    return Err(Error::invalid_input(
                        format!("{at}.role"),
                        "must be user, assistant, system or developer",
                    ));
                }
            };
            Ok(ChatMessage::new(
                role,
                content_text(at, item.get("content"))?,
            ))
        }
        "function_call_output" => Ok(ChatMessage::tool_result(text("call_id")?, text("output")?)),
        "function_call" => {
            let mut message = ChatMessage::assistant("");
            message.tool_calls = vec![ToolCall {
                id: text("call_id")?,
                name: text("name")?,
                arguments: text("arguments")?,
            }];
            Ok(message)
        }
        other => Err(Error::invalid_input(
            format!("{at}.type"),
            format!(
                "\"{other}\" items are not supported (message, function_call, function_call_output)"
            ),
        )),
    }
}

/// A message's content: a string, or `input_text` / `output_text` parts joined.
fn content_text(at: &str, content: Option<&Value>) -> Result<String> {
    match content {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            let mut texts = Vec::new();
            for (j, part) in parts.iter().enumerate() {
                match part.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text") => texts.push(
                        part.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    other => {
                        return Err(Error::invalid_input(
                            format!("{at}.content[{j}].type"),
                            format!("{other:?} is not supported (input_text, output_text)"),
                        ));
                    }
                }
            }
            Ok(texts.join("\n\n"))
        }
        _ => Err(Error::invalid_input(
            format!("{at}.content"),
            "must be a string or a list of text parts",
        )),
    }
}

impl ResponseRequest {
    /// What the response object echoes of this request.
    pub fn settings(&self, model: &str, store: bool) -> sp_core::responses::Settings {
        let defaults = sp_core::responses::Settings::new(model);
        sp_core::responses::Settings {
            instructions: self.instructions.clone(),
            previous_response_id: self.previous_response_id.clone(),
            max_output_tokens: self.max_output_tokens,
            temperature: self.temperature.unwrap_or(defaults.temperature),
            top_p: self.top_p.unwrap_or(defaults.top_p),
            tools: self.tools.clone().unwrap_or_default(),
            tool_choice: self
                .tool_choice
                .clone()
                .unwrap_or(defaults.tool_choice.clone()),
            parallel_tool_calls: self.parallel_tool_calls.unwrap_or(true),
            text: self.text.clone().unwrap_or(defaults.text.clone()),
            store,
            metadata: self.metadata.clone().unwrap_or(defaults.metadata.clone()),
            ..defaults
        }
    }
}
