//! A Responses request's `tools`: OpenAI's function tools (answered by the client) and our
//! extension, tools the server runs — `{"type": "hub", "name" | "tag" | "capability": …}`
//! for registered hub tools and `{"type": "builtin", "name": …}` for a built-in, each by name
//! with an optional `max_calls`. Any other type is refused, naming `tools[i].type`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sp_core::agents::{MAX_STEPS_LIMIT, ToolSelector};
use sp_core::chat::ToolChoice;
use sp_core::{Error, Result};

/// The tools the server runs, as an agent's selectors and per-tool call limits.
#[derive(Debug, Default)]
pub struct ServerTools {
    /// What they select.
    pub selectors: Vec<ToolSelector>,
    /// The most calls of a tool (by name) in the response.
    pub max_calls: BTreeMap<String, u32>,
}

/// The request's tools: function tools in chat's nesting, and the server's tools.
pub fn split(tools: Option<&[Value]>) -> Result<(Option<Vec<Value>>, ServerTools)> {
    let Some(tools) = tools else {
        return Ok((None, ServerTools::default()));
    };
    let mut functions = Vec::new();
    let mut server = ServerTools::default();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools[{i}]");
        let object = tool
            .as_object()
            .ok_or_else(|| Error::invalid_input(at.clone(), "must be an object"))?;
        match object.get("type").and_then(Value::as_str) {
            // Responses' function tools are flat; chat's nest them under `function`.
            Some("function") => {
                let mut function = object.clone();
                function.remove("type");
                functions.push(json!({"type": "function", "function": function}));
            }
            Some(kind @ ("hub" | "builtin")) => server.add(&at, kind, object)?,
            _ => {
                return Err(Error::invalid_input(
                    format!("{at}.type"),
                    "must be function (answered by the client), hub or builtin (run by the server)",
                ));
            }
        }
    }
    if !functions.is_empty() && !server.selectors.is_empty() {
        return Err(Error::invalid_input(
            "tools",
            "function tools (answered by the client) and hub or builtin tools (run by the \
             server) cannot be offered in one response",
        ));
    }
    Ok((Some(functions), server))
}

impl ServerTools {
    /// Whether the request offers none.
    pub fn is_empty(&self) -> bool {
        self.selectors.is_empty()
    }

    fn add(&mut self, at: &str, kind: &str, object: &Map<String, Value>) -> Result<()> {
        let text = |key: &str| -> Result<Option<String>> {
            match object.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) if !text.is_empty() => Ok(Some(text.clone())),
                Some(_) => Err(Error::invalid_input(
                    format!("{at}.{key}"),
                    "must be a non-empty string",
                )),
            }
        };
        let allowed: &[&str] = match kind {
            "hub" => &["type", "name", "tag", "capability", "max_calls"],
            _ => &["type", "name", "max_calls"],
        };
        if let Some(key) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::invalid_input(
                format!("{at}.{key}"),
                format!("is not a field of {kind} tools ({})", allowed.join(", ")),
            ));
        }
        let (name, tag, capability) = (text("name")?, text("tag")?, text("capability")?);
        let selector = match (kind, name.clone(), tag, capability) {
            ("builtin", Some(name), ..) => ToolSelector::Builtin(name),
            ("hub", Some(name), None, None) => ToolSelector::Tool(name),
            ("hub", None, Some(tag), None) => ToolSelector::Tag(tag),
            ("hub", None, None, Some(capability)) => ToolSelector::Capability(capability),
            _ => {
                let wanted = if kind == "hub" {
                    "exactly one of name, tag or capability"
                } else {
                    "a name"
                };
                return Err(Error::invalid_input(at, format!("needs {wanted}")));
            }
        };
        if let Some(limit) = object.get("max_calls").filter(|v| !v.is_null()) {
            let limit = limit
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=MAX_STEPS_LIMIT).contains(n))
                .ok_or_else(|| {
                    Error::invalid_input(
                        format!("{at}.max_calls"),
                        format!("must be 1-{MAX_STEPS_LIMIT}"),
                    )
                })?;
            let name = name.ok_or_else(|| {
                Error::invalid_input(
                    format!("{at}.max_calls"),
                    "limits one tool: select it by name",
                )
            })?;
            self.max_calls.insert(name, limit);
        }
        self.selectors.push(selector);
        Ok(())
    }
}

/// `tool_choice` for tools the server runs: `auto`, `none`, `required`, or
/// `{"type": "function", "name"}` naming one of them (enforced on the first model call).
pub fn server_choice(choice: Option<&Value>) -> Result<ToolChoice> {
    match choice {
        None | Some(Value::Null) => Ok(ToolChoice::Auto),
        Some(Value::String(mode)) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            _ => Err(Error::invalid_input(
                "tool_choice",
                "must be auto, none, required or {\"type\": \"function\", \"name\"}",
            )),
        },
        Some(Value::Object(choice))
            if choice.get("type") == Some(&json!("function"))
                && choice.keys().all(|k| k == "type" || k == "name") =>
        {
            match choice.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => Ok(ToolChoice::Function(name.to_owned())),
                _ => Err(Error::invalid_input(
                    "tool_choice.name",
                    "must name one of the tools",
                )),
            }
        }
        Some(_) => Err(Error::invalid_input(
            "tool_choice",
            "must be auto, none, required or {\"type\": \"function\", \"name\"}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_tools_are_read_strictly() {
        let tools = [
            json!({"type": "hub", "name": "weather", "max_calls": 2}),
            json!({"type": "hub", "tag": "travel"}),
            json!({"type": "builtin", "name": "knowledge_search"}),
        ];
        let (functions, server) = split(Some(&tools)).expect("split");
        assert_eq!(functions, Some(Vec::new()));
        assert_eq!(
            server.selectors,
            [
                ToolSelector::Tool("weather".into()),
                ToolSelector::Tag("travel".into()),
                ToolSelector::Builtin("knowledge_search".into()),
            ]
        );
        assert_eq!(server.max_calls.get("weather"), Some(&2));
        for (tools, field) in [
            (json!([{"type": "hub"}]), "tools[0]"),
            (
                json!([{"type": "hub", "name": "a", "tag": "b"}]),
                "tools[0]",
            ),
            (
                json!([{"type": "hub", "tag": "b", "max_calls": 1}]),
                "tools[0].max_calls",
            ),
            (
                json!([{"type": "builtin", "name": "a", "max_calls": 0}]),
                "tools[0].max_calls",
            ),
            (
                json!([{"type": "builtin", "name": "a", "url": "x"}]),
                "tools[0].url",
            ),
            (json!([{"type": "mcp", "server_url": "x"}]), "tools[0].type"),
            (
                json!([{"type": "function", "name": "f"}, {"type": "builtin", "name": "a"}]),
                "tools",
            ),
        ] {
            let tools = tools.as_array().cloned().unwrap_or_default();
            let err = split(Some(&tools)).expect_err("refused");
            assert_eq!(err.code(), sp_core::ErrorCode::InvalidInput);
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }

    #[test]
    fn server_tool_choice_is_read_strictly() {
        assert_eq!(server_choice(None).ok(), Some(ToolChoice::Auto));
        assert_eq!(
            server_choice(Some(&json!({"type": "function", "name": "weather"}))).ok(),
            Some(ToolChoice::Function("weather".into()))
        );
        assert!(server_choice(Some(&json!("sometimes"))).is_err());
        assert!(server_choice(Some(&json!({"type": "mcp", "server_label": "x"}))).is_err());
    }
}
