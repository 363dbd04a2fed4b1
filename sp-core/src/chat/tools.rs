//! Tools a model may call, the calls it makes, and how a request chooses among them (the
//! OpenAI shapes, without the wire's nesting).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Most tools one request may declare.
pub const MAX_TOOLS: usize = 128;

/// A function the model may call.
///
/// ```
/// use sp_core::chat::ToolDefinition;
///
/// let tool = ToolDefinition::new(
///     "get_weather",
///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
/// )
/// .with_description("Current weather of a city.");
/// tool.validate("tools[0]").unwrap();
/// assert!(ToolDefinition::new("bad name!", serde_json::json!({})).validate("tools[0]").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolDefinition {
    /// `[A-Za-z0-9_-]{1,64}`, unique within a request.
    pub name: String,
    /// What the tool does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema). Calls are decoded under it, so their
    /// arguments always validate.
    #[serde(default = "empty_object_schema")]
    pub parameters: Value,
    /// OpenAI's `strict`. Arguments are always constrained to `parameters`; the flag is kept
    /// so that a request renders (and echoes) as it came.
    #[serde(default)]
    pub strict: bool,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

impl ToolDefinition {
    /// A tool with these parameters and no description.
    pub fn new(name: impl Into<String>, parameters: Value) -> Self {
        ToolDefinition {
            name: name.into(),
            description: None,
            parameters,
            strict: false,
        }
    }

    /// The same tool with a description.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Refuses a bad name or a `parameters` that is not an object schema; `field` names the
    /// tool in the error (`tools[2]`).
    pub fn validate(&self, field: &str) -> Result<()> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Error::invalid_input(
                format!("{field}.function.name"),
                format!("`{}` must match [A-Za-z0-9_-]{{1,64}}", self.name),
            ));
        }
        let Value::Object(schema) = &self.parameters else {
            return Err(Error::invalid_input(
                format!("{field}.function.parameters"),
                "must be a JSON Schema object",
            ));
        };
        if let Some(kind) = schema.get("type")
            && kind != "object"
        {
            return Err(Error::invalid_input(
                format!("{field}.function.parameters"),
                format!("must describe an object (type \"object\"), got type {kind}"),
            ));
        }
        jsonschema::validator_for(&self.parameters).map_err(|err| {
            Error::invalid_input(
                format!("{field}.function.parameters"),
                format!("is not a valid JSON Schema: {err}"),
            )
        })?;
        Ok(())
    }
}

/// One call the model made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ToolCall {
    /// `call_…`: what the tool's result message refers back to (`tool_call_id`).
    pub id: String,
    /// The declared tool's name.
    pub name: String,
    /// The arguments as a JSON text (OpenAI's `function.arguments`), checked against the
    /// tool's parameters.
    pub arguments: String,
}

impl ToolCall {
    /// A call with a fresh id.
    pub fn new(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        ToolCall {
            id: format!(
                "call_{}",
                &crate::Id::new().as_uuid().simple().to_string()[..24]
            ),
            name: name.into(),
            arguments: arguments.into(),
        }
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// Never call a tool: the tools are not offered to the model at all.
    None,
    /// The model decides: an answer or calls.
    #[default]
    Auto,
    /// At least one call, enforced by the grammar.
    Required,
    /// Exactly this tool, enforced by the grammar.
    Function(String),
}

/// What the tools of a request are and how they may be used.
///
/// ```
/// use sp_core::chat::{ToolChoice, ToolDefinition, Tools};
///
/// let tools = Tools {
///     definitions: vec![ToolDefinition::new("now", serde_json::json!({"type": "object"}))],
///     choice: ToolChoice::Function("later".into()),
///     parallel: true,
/// };
/// let err = tools.validate().unwrap_err();
/// assert!(err.to_string().contains("tool_choice"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tools {
    /// The tools offered.
    pub definitions: Vec<ToolDefinition>,
    /// How they may be used.
    pub choice: ToolChoice,
    /// More than one call in one reply (OpenAI's `parallel_tool_calls`, default true).
    pub parallel: bool,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            definitions: Vec::new(),
            choice: ToolChoice::Auto,
            parallel: true,
        }
    }
}

impl Tools {
    /// True when the model may (or must) call something.
    pub fn active(&self) -> bool {
        !self.definitions.is_empty() && self.choice != ToolChoice::None
    }

    /// The tool named `name`.
    pub fn find(&self, name: &str) -> Option<&ToolDefinition> {
        self.definitions.iter().find(|t| t.name == name)
    }

    /// Refuses bad tools, duplicate names, and a choice that names no declared tool or
    /// requires a call with no tools.
    pub fn validate(&self) -> Result<()> {
        if self.definitions.len() > MAX_TOOLS {
            return Err(Error::invalid_input(
                "tools",
                format!("at most {MAX_TOOLS} tools, got {}", self.definitions.len()),
            ));
        }
        for (i, tool) in self.definitions.iter().enumerate() {
            tool.validate(&format!("tools[{i}]"))?;
            if self.definitions[..i].iter().any(|t| t.name == tool.name) {
                return Err(Error::invalid_input(
                    format!("tools[{i}].function.name"),
                    format!("`{}` is declared twice", tool.name),
                ));
            }
        }
        match &self.choice {
            ToolChoice::Function(name) if self.find(name).is_none() => Err(Error::invalid_input(
                "tool_choice",
                format!("names `{name}`, which is not among the declared tools"),
            )),
            ToolChoice::Required if self.definitions.is_empty() => Err(Error::invalid_input(
                "tool_choice",
                "`required` needs at least one tool in `tools`",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition::new(name, json!({"type": "object", "properties": {}}))
    }

    #[test]
    fn bad_tools_are_refused_naming_the_field() {
        let cases = [
            (tool(""), "tools[0].function.name"),
            (tool(&"x".repeat(65)), "tools[0].function.name"),
            (ToolDefinition::new("a", json!([1])), "parameters"),
            (
                ToolDefinition::new("a", json!({"type": "string"})),
                "parameters",
            ),
            (
                ToolDefinition::new("a", json!({"type": "object", "minProperties": "x"})),
                "parameters",
            ),
        ];
        for (tool, field) in cases {
            let err = tool.validate("tools[0]").expect_err(field);
            assert!(err.to_string().contains(field), "{err}");
        }
    }

    #[test]
    fn choices_must_name_declared_tools() {
        let mut tools = Tools {
            definitions: vec![tool("a"), tool("a")],
            ..Tools::default()
        };
        assert!(tools.validate().unwrap_err().to_string().contains("twice"));
        tools.definitions.pop();
        tools.validate().expect("one tool, auto");
        tools.choice = ToolChoice::Function("b".into());
        assert!(tools.validate().is_err());
        tools.choice = ToolChoice::Function("a".into());
        tools.validate().expect("named and declared");
        let none = Tools {
            choice: ToolChoice::Required,
            ..Tools::default()
        };
        assert!(none.validate().is_err(), "required with no tools");
    }

    #[test]
    fn call_ids_are_fresh() {
        let (a, b) = (ToolCall::new("f", "{}"), ToolCall::new("f", "{}"));
        assert_ne!(a.id, b.id);
        assert!(a.id.starts_with("call_"));
    }
}
