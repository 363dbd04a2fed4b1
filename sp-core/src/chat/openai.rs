//! Tools, tool choices and response formats in OpenAI's JSON shapes, read strictly: every
//! adapter (HTTP, Python) accepts the same shapes and refuses the same mistakes, naming the
//! field.

use serde_json::Value;

use super::{ChatOptions, ResponseFormat, ToolChoice, ToolDefinition, Tools};
use crate::error::{Error, Result};

/// Chat options from OpenAI's `tools`, `tool_choice`, `parallel_tool_calls` and
/// `response_format` (each may be absent or `null`).
///
/// ```
/// use serde_json::json;
/// use sp_core::chat::{ToolChoice, openai::options};
///
/// let tools = json!([{"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}]);
/// let forced = options(Some(&tools), Some(&json!("required")), None, None).unwrap();
/// assert_eq!(forced.tools.choice, ToolChoice::Required);
/// assert!(options(Some(&json!({"type": "function"})), None, None, None).is_err());
/// ```
pub fn options(
    tools: Option<&Value>,
    tool_choice: Option<&Value>,
    parallel_tool_calls: Option<bool>,
    response_format: Option<&Value>,
) -> Result<ChatOptions> {
    let format = match response_format {
        None | Some(Value::Null) => ResponseFormat::Text,
        Some(value) => self::response_format(value)?,
    };
    let definitions = match tools {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, t)| tool(t, i))
            .collect::<Result<_>>()?,
        Some(_) => return Err(Error::invalid_input("tools", "must be a list")),
    };
    let choice = match tool_choice {
        None | Some(Value::Null) => ToolChoice::Auto,
        Some(value) => self::tool_choice(value)?,
    };
    if definitions.is_empty() && !matches!(choice, ToolChoice::Auto | ToolChoice::None) {
        return Err(Error::invalid_input(
            "tool_choice",
            "asks for a tool call, but no tools are declared",
        ));
    }
    let options = ChatOptions {
        response_format: format,
        tools: Tools {
            definitions,
            choice,
            parallel: parallel_tool_calls.unwrap_or(true),
        },
    };
    options.validate()?;
    Ok(options)
}

/// One entry of `tools`.
fn tool(value: &Value, at: usize) -> Result<ToolDefinition> {
    let field = format!("tools[{at}]");
    let bad =
        |what: &str, why: &str| Error::invalid_input(format!("{field}{what}"), why.to_owned());
    if value.get("type").and_then(Value::as_str) != Some("function") {
        return Err(bad(".type", "only \"function\" tools are supported"));
    }
    let function = value
        .get("function")
        .filter(|f| f.is_object())
        .ok_or_else(|| bad(".function", "must be an object"))?;
    if let Some(key) = function.as_object().and_then(|f| {
        f.keys()
            .find(|k| !["name", "description", "parameters", "strict"].contains(&k.as_str()))
    }) {
        return Err(bad(&format!(".function.{key}"), "is not supported"));
    }
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(".function.name", "must be a string"))?;
    let mut tool = ToolDefinition::new(
        name,
        function
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
    );
    tool.description = match function.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad(".function.description", "must be a string")),
    };
    tool.strict = function
        .get("strict")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(tool)
}

/// `tool_choice`.
fn tool_choice(value: &Value) -> Result<ToolChoice> {
    match value {
        Value::String(s) => match s.as_str() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" => Ok(ToolChoice::Required),
            other => Err(Error::invalid_input(
                "tool_choice",
                format!("must be none, auto, required or a function, got `{other}`"),
            )),
        },
        Value::Object(choice) => {
            let name = choice
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| choice.get("type").and_then(Value::as_str) == Some("function"))
                .ok_or_else(|| {
                    Error::invalid_input(
                        "tool_choice",
                        "must be {\"type\": \"function\", \"function\": {\"name\": …}}",
                    )
                })?;
            Ok(ToolChoice::Function(name.to_owned()))
        }
        _ => Err(Error::invalid_input(
            "tool_choice",
            "must be a string or an object",
        )),
    }
}

/// `response_format`.
fn response_format(value: &Value) -> Result<ResponseFormat> {
    let kind = value.get("type").and_then(Value::as_str);
    match kind {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => {
            let spec = value
                .get("json_schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| {
                    Error::invalid_input("response_format.json_schema", "must be an object")
                })?;
            let name = spec.get("name").and_then(Value::as_str).ok_or_else(|| {
                Error::invalid_input("response_format.json_schema.name", "must be a string")
            })?;
            let schema = spec.get("schema").cloned().ok_or_else(|| {
                Error::invalid_input("response_format.json_schema.schema", "is required")
            })?;
            Ok(ResponseFormat::JsonSchema {
                name: name.to_owned(),
                schema,
                strict: spec.get("strict").and_then(Value::as_bool).unwrap_or(false),
            })
        }
        _ => Err(Error::invalid_input(
            "response_format.type",
            "must be text, json_object or json_schema",
        )),
    }
}
