//! Anthropic's Messages request as its clients send it, read strictly into our chat types:
//! `system`, `messages` of content blocks (`text`, `tool_use`, `tool_result`), `tools`,
//! `tool_choice`, sampling. A block or field we cannot honour is refused, never ignored.

use serde::Deserialize;
use serde_json::{Map, Value};
use sp_core::chat::{
    ChatMessage, ChatOptions, ResponseFormat, Sampling, ToolChoice, ToolDefinition, Tools,
};
use sp_core::{Error, Result};

use super::blocks::{assistant_turn, text_of, user_turn};

/// `POST /v1/messages` (and, without the sampling fields, `/v1/messages/count_tokens`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct MessagesRequest {
    /// The model's id (see `/v1/models`).
    pub model: String,
    /// The conversation: `{"role": "user" | "assistant", "content": string | [blocks]}`.
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    /// Instructions: a string or `[{"type": "text", "text"}]`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub system: Option<Value>,
    /// Required, as Anthropic requires it: the most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Texts that end the reply when generated (`stop_reason: "stop_sequence"`).
    #[serde(default)]
    pub stop_sequences: Option<Vec<String>>,
    /// 0-1 (Anthropic's range).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Top-k sampling.
    #[serde(default)]
    pub top_k: Option<u32>,
    /// Server-sent events (`message_start` … `message_stop`).
    #[serde(default)]
    pub stream: bool,
    /// `[{"name", "description", "input_schema"}]`: calls are decoded under `input_schema`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
    /// `{"type": "auto" | "any" | "tool" | "none", "name"?, "disable_parallel_tool_use"?}`,
    /// enforced by the grammar.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    /// `{"format": {"type": "json_schema", "schema"}}`: the reply is decoded under the schema
    /// (Anthropic's structured outputs; the client's `messages.parse`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub output_config: Option<Value>,
    /// Other fields: `metadata` and `cache_control` pass (the first changes nothing about the
    /// answer; every prompt's prefix is cached here already); anything else is refused.
    #[serde(flatten)]
    #[schema(ignore)]
    pub other: Map<String, Value>,
}

impl MessagesRequest {
    /// The conversation as chat messages: the system prompt first, a user turn's
    /// `tool_result` blocks as tool messages (before its text), an assistant turn's
    /// `tool_use` blocks as its calls.
    pub fn chat_messages(&self) -> Result<Vec<ChatMessage>> {
        if let Some(field) = self
            .other
            .keys()
            .find(|f| !matches!(f.as_str(), "metadata" | "cache_control"))
        {
            return Err(Error::invalid_input(field.clone(), "is not supported"));
        }
        if self.messages.is_empty() {
            return Err(Error::invalid_input("messages", "must not be empty"));
        }
        let mut out = Vec::with_capacity(self.messages.len() + 1);
        if let Some(system) = &self.system {
            out.push(ChatMessage::system(text_of("system", system)?));
        }
        for (i, message) in self.messages.iter().enumerate() {
            let field = format!("messages[{i}]");
            let object = message
                .as_object()
                .ok_or_else(|| Error::invalid_input(field.clone(), "must be an object"))?;
            for key in object.keys() {
                if key != "role" && key != "content" {
                    return Err(Error::invalid_input(
                        format!("{field}.{key}"),
                        "is not supported",
                    ));
                }
            }
            let content = object.get("content").unwrap_or(&Value::Null);
            match object.get("role").and_then(Value::as_str) {
                Some("user") => user_turn(&field, content, &mut out)?,
                Some("assistant") => out.push(assistant_turn(&field, content)?),
                _ => {
                    return Err(Error::invalid_input(
                        format!("{field}.role"),
                        "must be \"user\" or \"assistant\"",
                    ));
                }
            }
        }
        Ok(out)
    }

    /// The tools and how they may be used.
    pub fn options(&self) -> Result<ChatOptions> {
        let mut definitions = Vec::new();
        for (i, tool) in self.tools.iter().flatten().enumerate() {
            let field = format!("tools[{i}]");
            let object = tool
                .as_object()
                .ok_or_else(|| Error::invalid_input(field.clone(), "must be an object"))?;
            for (key, value) in object {
                let known = match key.as_str() {
                    "name" | "description" | "input_schema" | "cache_control" => true,
                    // Anthropic's client sends `"type": "custom"` for a client tool.
                    "type" => value.as_str() == Some("custom"),
                    _ => false,
                };
                if !known {
                    return Err(Error::invalid_input(
                        format!("{field}.{key}"),
                        "is not supported (only custom tools: name, description, input_schema)",
                    ));
                }
            }
            let name = object.get("name").and_then(Value::as_str).ok_or_else(|| {
                Error::invalid_input(format!("{field}.name"), "a tool needs a name")
            })?;
            let schema = object.get("input_schema").cloned().ok_or_else(|| {
                Error::invalid_input(format!("{field}.input_schema"), "a tool needs one")
            })?;
            let mut definition = ToolDefinition::new(name, schema);
            definition.description = object
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned);
            definition.validate(&field)?;
            definitions.push(definition);
        }
        let (choice, parallel) = match &self.tool_choice {
            None => (ToolChoice::Auto, true),
            Some(choice) => tool_choice(choice)?,
        };
        if definitions.is_empty() && !matches!(choice, ToolChoice::Auto | ToolChoice::None) {
            return Err(Error::invalid_input(
                "tool_choice",
                "asks for a tool but no tools are given",
            ));
        }
        let options = ChatOptions {
            tools: Tools {
                definitions,
                choice,
                parallel,
            },
            response_format: self.response_format()?,
        };
        options.validate()?;
        Ok(options)
    }

    /// `output_config.format` as a response format (free text without one).
    fn response_format(&self) -> Result<ResponseFormat> {
        let Some(config) = self.output_config.as_ref().filter(|c| !c.is_null()) else {
            return Ok(ResponseFormat::Text);
        };
        let object = config
            .as_object()
            .ok_or_else(|| Error::invalid_input("output_config", "must be an object"))?;
        let mut format = ResponseFormat::Text;
        for (key, value) in object {
            match (key.as_str(), value) {
                (_, Value::Null) => {}
                ("format", Value::Object(spec)) => {
                    if spec.get("type").and_then(Value::as_str) != Some("json_schema") {
                        return Err(Error::invalid_input(
                            "output_config.format.type",
                            "must be \"json_schema\"",
                        ));
                    }
                    let schema = spec.get("schema").cloned().ok_or_else(|| {
                        Error::invalid_input("output_config.format.schema", "is required")
                    })?;
                    format = ResponseFormat::JsonSchema {
                        name: "output".into(),
                        schema,
                        strict: true,
                    };
                }
                _ => {
                    return Err(Error::invalid_input(
                        format!("output_config.{key}"),
                        "is not supported (only format)",
                    ));
                }
            }
        }
        Ok(format)
    }

    /// The sampling this request asks for.
    pub fn sampling(&self) -> Result<Sampling> {
        let max_tokens = self.max_tokens.ok_or_else(|| {
            Error::invalid_input("max_tokens", "is required (as Anthropic's API requires it)")
        })?;
        if max_tokens == 0 {
            return Err(Error::invalid_input("max_tokens", "must be at least 1"));
        }
        if let Some(t) = self.temperature
            && !(0.0..=1.0).contains(&t)
        {
            return Err(Error::invalid_input("temperature", "must be 0-1"));
        }
        let defaults = Sampling::default();
        let sampling = Sampling {
            // Anthropic's default temperature is 1.0.
            temperature: self.temperature.unwrap_or(1.0),
            top_p: self.top_p.unwrap_or(defaults.top_p),
            top_k: self.top_k.unwrap_or(defaults.top_k),
            max_tokens,
            stop: self.stop_sequences.clone().unwrap_or_default(),
            ..defaults
        };
        sampling.validate()?;
        Ok(sampling)
    }
}

fn tool_choice(choice: &Value) -> Result<(ToolChoice, bool)> {
    let object = choice
        .as_object()
        .ok_or_else(|| Error::invalid_input("tool_choice", "must be an object"))?;
    let mut parallel = true;
    for (key, value) in object {
        match key.as_str() {
            "type" | "name" => {}
            "disable_parallel_tool_use" => parallel = value.as_bool() != Some(true),
            _ => {
                return Err(Error::invalid_input(
                    format!("tool_choice.{key}"),
                    "is not supported",
                ));
            }
        }
    }
    let choice = match object.get("type").and_then(Value::as_str) {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => {
            let name = object.get("name").and_then(Value::as_str).ok_or_else(|| {
                Error::invalid_input("tool_choice.name", "type \"tool\" needs the tool's name")
            })?;
            ToolChoice::Function(name.to_owned())
        }
        _ => {
            return Err(Error::invalid_input(
                "tool_choice.type",
                "must be auto, any, tool or none",
            ));
        }
    };
    Ok((choice, parallel))
}
