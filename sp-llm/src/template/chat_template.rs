//! [`ChatTemplate`]: a model's Jinja chat template, rendered with Python-compatible methods.

use super::pyjson;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, Serde, Value as JinjaValue};
use minijinja::{Environment, ErrorKind};
use serde_json::{Map, Value, json};
use sp_core::chat::{ChatMessage, ToolDefinition};
use sp_core::{Error, Result};

const TEMPLATE: &str = "chat";

/// A compiled chat template.
///
/// ```
/// use sp_core::chat::ChatMessage;
/// use sp_llm::ChatTemplate;
///
/// let template = ChatTemplate::new(
///     "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
///     "<s>",
///     "</s>",
/// )?;
/// let prompt = template.render(&[ChatMessage::user("Hi")], &[], true)?;
/// assert_eq!(prompt, "<|user|>Hi\n<|assistant|>");
/// # Ok::<(), sp_core::Error>(())
/// ```
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    /// Whether tool-call arguments reach the template as objects (most templates print them
    /// with `tojson`) or as the JSON text (templates that concatenate them as strings).
    arguments_as_objects: bool,
    knows_tools: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("knows_tools", &self.knows_tools)
            .field("arguments_as_objects", &self.arguments_as_objects)
            .finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` and checks that it renders a plain conversation.
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<Self> {
        let source = source.into();
        let knows_tools = source.contains("tools");
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|err| template_error("has a bad syntax configuration", &err))?,
        );
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("tojson", tojson);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(TEMPLATE, source)
            .map_err(|err| template_error("does not compile", &err))?;
        let mut template = ChatTemplate {
            env,
            bos_token: bos_token.into(),
            eos_token: eos_token.into(),
            arguments_as_objects: true,
            knows_tools,
        };
        let probe = [
            ChatMessage::system("s"),
            ChatMessage::user("u"),
            ChatMessage::assistant("a"),
            ChatMessage::user("u"),
        ];
        if template.render(&probe, &[], true).is_err() {
            // Templates such as Gemma's refuse a system message: probe without it.
            template.render(&probe[1..], &[], true)?;
        }
        template.arguments_as_objects = template.probe_object_arguments();
        Ok(template)
    }

    /// True when the template itself lays out tools (it mentions `tools`); otherwise tools are
    /// offered in a system block.
    pub fn knows_tools(&self) -> bool {
        self.knows_tools
    }

    /// Renders `messages` (and `tools`, when the template knows them); `add_generation_prompt`
    /// opens the assistant's reply.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolDefinition],
        add_generation_prompt: bool,
    ) -> Result<String> {
        self.render_with(messages, tools, add_generation_prompt, &Map::new())
    }

    /// As [`render`](Self::render), with extra variables some templates read
    /// (`date_string`, `enable_thinking`, …).
    pub fn render_with(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolDefinition],
        add_generation_prompt: bool,
        extra: &Map<String, Value>,
    ) -> Result<String> {
        let mut context = extra.clone();
        context.insert(
            "messages".into(),
            Value::Array(messages.iter().map(|m| self.message_value(m)).collect()),
        );
        if !tools.is_empty() {
            context.insert(
                "tools".into(),
                Value::Array(tools.iter().map(tool_value).collect()),
            );
        }
        context.insert("add_generation_prompt".into(), add_generation_prompt.into());
        context.insert("bos_token".into(), self.bos_token.clone().into());
        context.insert("eos_token".into(), self.eos_token.clone().into());
        let template = self
            .env
            .get_template(TEMPLATE)
            .map_err(|err| template_error("is missing", &err))?;
        template
            .render(JinjaValue::from(Serde(&context)))
            .map_err(|err| template_error("failed to render", &err))
    }

    fn message_value(&self, message: &ChatMessage) -> Value {
        let mut value = Map::new();
        value.insert("role".into(), message.role.as_str().into());
        let content = if message.content.is_empty() && !message.tool_calls.is_empty() {
            Value::Null
        } else {
            message.content.clone().into()
        };
        value.insert("content".into(), content);
        if !message.tool_calls.is_empty() {
            let calls = message
                .tool_calls
                .iter()
                .map(|call| {
                    let arguments = if self.arguments_as_objects {
                        serde_json::from_str::<Value>(&call.arguments)
                            .unwrap_or_else(|_| call.arguments.clone().into())
                    } else {
                        call.arguments.clone().into()
                    };
                    json!({"id": call.id, "type": "function",
                        "function": {"name": call.name, "arguments": arguments}})
                })
                .collect();
            value.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(id) = &message.tool_call_id {
            value.insert("tool_call_id".into(), id.clone().into());
        }
        Value::Object(value)
    }

    /// Whether a call's arguments render when passed as an object (llama.cpp's minja asks
    /// the same question): templates that glue them into a string fail on an object.
    fn probe_object_arguments(&self) -> bool {
        let call = sp_core::chat::ToolCall {
            id: "call00001".into(),
            name: "probe".into(),
            arguments: r#"{"key": "value"}"#.into(),
        };
        let messages = [
            ChatMessage::user("u"),
            ChatMessage::tool_calls(vec![call]),
            ChatMessage::tool_result("call00001", "r"),
        ];
        self.render(&messages, &[], true).is_ok()
    }
}

fn tool_value(tool: &ToolDefinition) -> Value {
    let mut function = Map::new();
    function.insert("name".into(), tool.name.clone().into());
    if let Some(description) = &tool.description {
        function.insert("description".into(), description.clone().into());
    }
    function.insert("parameters".into(), tool.parameters.clone());
    json!({"type": "function", "function": function})
}

fn template_error(what: &str, err: &minijinja::Error) -> Error {
    let mut reason = format!("the model's chat template {what}: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        reason.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Error::invalid_input("messages", reason)
}

/// Hugging Face's `tojson`: Python's `json.dumps(…, ensure_ascii=False)`.
fn tojson(value: JinjaValue, kwargs: Kwargs) -> std::result::Result<String, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    // Accepted for compatibility; the output never escapes non-ASCII and keeps key order.
    let _: Option<JinjaValue> = kwargs.get("ensure_ascii")?;
    let _: Option<JinjaValue> = kwargs.get("sort_keys")?;
    let _: Option<JinjaValue> = kwargs.get("separators")?;
    let json = serde_json::to_value(&value).map_err(|err| {
        minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {err}"))
    })?;
    Ok(pyjson::dumps(&json, indent))
}

fn raise_exception(message: String) -> std::result::Result<String, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

fn strftime_now(format: String) -> String {
    chrono::Local::now().format(&format).to_string()
}

/// `value` as Python's `json.dumps` writes it (how templates print JSON, and how the
/// envelope's grammar lays calls out).
pub(crate) fn python_json(value: &Value) -> String {
    pyjson::dumps(value, None)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
