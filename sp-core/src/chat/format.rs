//! What shape a reply must take: free text, any JSON object, JSON under a schema, a regular
//! expression or a grammar. Every shape but free text is enforced token by token while
//! decoding; a shape the decoder cannot enforce is refused before anything is generated.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// Largest schema, regex or grammar text a request may carry.
pub const MAX_CONSTRAINT_BYTES: usize = 64 * 1024;

/// The shape of the reply.
///
/// ```
/// use sp_core::chat::ResponseFormat;
///
/// let schema = serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}});
/// let format = ResponseFormat::JsonSchema { name: "place".into(), schema, strict: true };
/// format.validate().unwrap();
/// assert!(ResponseFormat::JsonSchema { name: "x".into(), schema: serde_json::json!(3), strict: true }
///     .validate()
///     .is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (the default).
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON that validates against `schema`.
    JsonSchema {
        /// The schema's name (OpenAI's `json_schema.name`).
        name: String,
        /// The JSON Schema.
        schema: Value,
        /// OpenAI's `strict`; the schema is enforced either way.
        strict: bool,
    },
    /// Text that matches this regular expression whole (extension).
    Regex {
        /// The pattern (Rust `regex` syntax, anchored at both ends).
        pattern: String,
    },
    /// Text in this grammar (extension): GBNF as llama.cpp writes it, or llguidance's Lark.
    Grammar {
        /// The grammar's text.
        grammar: String,
    },
}

impl ResponseFormat {
    /// True for free text.
    pub fn is_text(&self) -> bool {
        matches!(self, ResponseFormat::Text)
    }

    /// True when the reply is JSON (and is checked as such when it ends).
    pub fn is_json(&self) -> bool {
        matches!(
            self,
            ResponseFormat::JsonObject | ResponseFormat::JsonSchema { .. }
        )
    }

    /// Refuses what is malformed before the decoder sees it (what it cannot enforce is refused
    /// by the decoder, naming the construct).
    pub fn validate(&self) -> Result<()> {
        match self {
            ResponseFormat::Text | ResponseFormat::JsonObject => Ok(()),
            ResponseFormat::JsonSchema { name, schema, .. } => {
                if name.is_empty()
                    || name.len() > 64
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(Error::invalid_input(
                        "response_format.json_schema.name",
                        format!("`{name}` must match [A-Za-z0-9_-]{{1,64}}"),
                    ));
                }
                if !schema.is_object() {
                    return Err(Error::invalid_input(
                        "response_format.json_schema.schema",
                        "must be a JSON Schema object",
                    ));
                }
                if schema.to_string().len() > MAX_CONSTRAINT_BYTES {
                    return Err(Error::invalid_input(
                        "response_format.json_schema.schema",
                        format!("is over {MAX_CONSTRAINT_BYTES} bytes"),
                    ));
                }
                jsonschema::validator_for(schema).map_err(|err| {
                    Error::invalid_input(
                        "response_format.json_schema.schema",
                        format!("is not a valid JSON Schema: {err}"),
                    )
                })?;
                Ok(())
            }
            ResponseFormat::Regex { pattern: text } | ResponseFormat::Grammar { grammar: text } => {
                let field = if matches!(self, ResponseFormat::Regex { .. }) {
                    "regex"
                } else {
                    "grammar"
                };
                if text.trim().is_empty() {
                    return Err(Error::invalid_input(field, "must not be empty"));
                }
                if text.len() > MAX_CONSTRAINT_BYTES {
                    return Err(Error::invalid_input(
                        field,
                        format!("is over {MAX_CONSTRAINT_BYTES} bytes"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Checks a finished reply against the format with an independent validator (not the
    /// decoder that produced it): the last line of failing closed.
    pub fn check_output(&self, text: &str) -> Result<()> {
        let invalid = |reason: String| Error::ConstraintViolated { reason };
        match self {
            ResponseFormat::JsonObject => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(_)) => Ok(()),
                Ok(_) => Err(invalid("the reply is JSON but not an object".into())),
                Err(err) => Err(invalid(format!("the reply is not JSON: {err}"))),
            },
            ResponseFormat::JsonSchema { schema, .. } => {
                let value: Value = serde_json::from_str(text)
                    .map_err(|err| invalid(format!("the reply is not JSON: {err}")))?;
                schema_violations(schema, &value)
                    .map_err(|why| invalid(format!("the reply does not match the schema: {why}")))
            }
            ResponseFormat::Text
            | ResponseFormat::Regex { .. }
            | ResponseFormat::Grammar { .. } => Ok(()),
        }
    }
}

/// Checks `value` against `schema` with the `jsonschema` crate; the error lists every
/// violation with where it is.
///
/// ```
/// use serde_json::json;
///
/// let schema = json!({"type": "object", "required": ["n"]});
/// assert!(sp_core::chat::schema_violations(&schema, &json!({"n": 1})).is_ok());
/// assert!(sp_core::chat::schema_violations(&schema, &json!({})).unwrap_err().contains("n"));
/// ```
pub fn schema_violations(schema: &Value, value: &Value) -> std::result::Result<(), String> {
    let validator = jsonschema::validator_for(schema)
        .map_err(|err| format!("the schema does not compile: {err}"))?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn malformed_formats_are_refused() {
        let bad = [
            ResponseFormat::JsonSchema {
                name: String::new(),
                schema: json!({}),
                strict: true,
            },
            ResponseFormat::JsonSchema {
                name: "a".into(),
                schema: json!("object"),
                strict: true,
            },
            ResponseFormat::JsonSchema {
                name: "a".into(),
                schema: json!({"type": 5}),
                strict: true,
            },
            ResponseFormat::Regex {
                pattern: " ".into(),
            },
            ResponseFormat::Grammar {
                grammar: "x".repeat(MAX_CONSTRAINT_BYTES + 1),
            },
        ];
        for format in bad {
            let err = format.validate().expect_err("refused");
            assert_eq!(err.code(), crate::ErrorCode::InvalidInput, "{format:?}");
        }
    }

    #[test]
    fn outputs_are_checked_independently() {
        let format = ResponseFormat::JsonSchema {
            name: "a".into(),
            schema: json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}),
            strict: true,
        };
        format.check_output(r#"{"n": 3}"#).expect("valid");
        for bad in [r#"{"n": "3"}"#, "{}", "{\"n\": 3", "prose"] {
            let err = format.check_output(bad).expect_err(bad);
            assert_eq!(err.code(), crate::ErrorCode::ConstraintViolated);
        }
        ResponseFormat::JsonObject
            .check_output("{}")
            .expect("an object");
        assert!(ResponseFormat::JsonObject.check_output("[1]").is_err());
    }
}
