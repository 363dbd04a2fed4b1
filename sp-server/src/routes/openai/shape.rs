//! The fields that shape a chat reply: `tools`, `tool_choice`, `parallel_tool_calls`,
//! `response_format`, and the `grammar` / `regex` extensions. Each is read strictly: a shape
//! we cannot enforce is refused, never ignored.

use serde::Deserialize;
use serde_json::Value;
use sp_core::chat::{ChatOptions, ResponseFormat, openai};
use sp_core::{Error, Result};

/// The shaping fields of a chat request.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ShapeFields {
    /// Functions the model may call: `[{"type": "function", "function": {"name",
    /// "description", "parameters", "strict"}}]`. Calls are decoded under each function's
    /// `parameters` schema, so their arguments always validate.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Value>,
    /// `"auto"` (default with tools), `"none"`, `"required"` or
    /// `{"type": "function", "function": {"name": …}}`; `required` and a named function are
    /// enforced by the grammar.
    #[schema(value_type = Option<Object>)]
    pub tool_choice: Option<Value>,
    /// More than one call per reply (default true).
    pub parallel_tool_calls: Option<bool>,
    /// `{"type": "text"}`, `{"type": "json_object"}` or `{"type": "json_schema",
    /// "json_schema": {"name", "schema", "strict"}}`; enforced while decoding. A schema with
    /// a keyword the decoder cannot enforce is `SP-LLM-005`.
    #[schema(value_type = Option<Object>)]
    pub response_format: Option<Value>,
    /// Extension: a GBNF grammar (llama.cpp's), or llguidance Lark after `%llguidance`.
    pub grammar: Option<String>,
    /// Extension: a regular expression the whole reply must match.
    pub regex: Option<String>,
}

impl ShapeFields {
    /// The options these fields ask for.
    pub fn options(&self) -> Result<ChatOptions> {
        let mut options = openai::options(
            self.tools.as_ref(),
            self.tool_choice.as_ref(),
            self.parallel_tool_calls,
            self.response_format.as_ref(),
        )?;
        for (field, extension) in [("grammar", &self.grammar), ("regex", &self.regex)] {
            let Some(text) = extension else { continue };
            if !options.response_format.is_text() {
                return Err(Error::invalid_input(
                    field,
                    "cannot be combined with a response_format or the other extension",
                ));
            }
            options.response_format = if field == "grammar" {
                ResponseFormat::Grammar {
                    grammar: text.clone(),
                }
            } else {
                ResponseFormat::Regex {
                    pattern: text.clone(),
                }
            };
        }
        options.validate()?;
        Ok(options)
    }
}
