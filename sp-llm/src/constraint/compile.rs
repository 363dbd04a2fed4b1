//! Turning a response format or a grammar into a [`Constraint`] for one model, refusing (with
//! the construct named) what cannot be enforced.

use std::sync::Arc;

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llguidance::api::TopLevelGrammar;
use llguidance::{Matcher, ParserFactory};
use serde_json::{Value, json};
use sp_core::chat::ResponseFormat;
use sp_core::{Error, Result};

use super::Constraint;

/// Prefix that marks a `grammar` as llguidance's Lark dialect rather than GBNF.
pub(crate) const LARK_PREFIX: &str = "%llguidance";

/// Compiles constraints for one model's vocabulary. Building it walks the vocabulary once
/// (tens of milliseconds for 49k tokens); compiling a schema then takes about a millisecond.
pub(crate) struct Compiler {
    factory: ParserFactory,
    model: Arc<LlamaModel>,
}

impl Compiler {
    pub(crate) fn new(model: Arc<LlamaModel>) -> Result<Self> {
        let env = LlamaSampler::llguidance_tok_env(&model);
        let mut factory = ParserFactory::new_simple(&env)
            .map_err(|err| Error::internal(format!("llguidance: {err}")))?;
        factory.quiet();
        Ok(Compiler { factory, model })
    }

    /// The constraint of `format`, or `None` for free text.
    pub(crate) fn response_format(&self, format: &ResponseFormat) -> Result<Option<Constraint>> {
        let field = "response_format";
        match format {
            ResponseFormat::Text => Ok(None),
            ResponseFormat::JsonObject => self
                .guidance(json_grammar(json!({"type": "object"})), field)
                .map(Some),
            ResponseFormat::JsonSchema { schema, .. } => self
                .guidance(
                    json_grammar(schema.clone()),
                    "response_format.json_schema.schema",
                )
                .map(Some),
            ResponseFormat::Regex { pattern } => self
                .guidance(TopLevelGrammar::from_regex(pattern), "regex")
                .map(Some),
            ResponseFormat::Grammar { grammar } => self.grammar(grammar).map(Some),
        }
    }

    /// A GBNF grammar (llama.cpp's sampler, root rule `root`), or Lark after `%llguidance`.
    fn grammar(&self, text: &str) -> Result<Constraint> {
        if let Some(lark) = text.trim_start().strip_prefix(LARK_PREFIX) {
            return self.guidance(TopLevelGrammar::from_lark(lark.to_owned()), "grammar");
        }
        if !text.contains("root") {
            return Err(Error::ConstraintUnsupported {
                field: "grammar".into(),
                reason: "a GBNF grammar needs a `root` rule".into(),
            });
        }
        LlamaSampler::grammar(&self.model, text, "root")
            .map(|sampler| Constraint::Gbnf(Box::new(sampler)))
            .map_err(|err| Error::ConstraintUnsupported {
                field: "grammar".into(),
                reason: format!("llama.cpp does not parse it as GBNF ({err})"),
            })
    }

    /// Compiles an llguidance grammar; `field` names where it came from in the error.
    pub(crate) fn guidance(&self, grammar: TopLevelGrammar, field: &str) -> Result<Constraint> {
        let parser =
            self.factory
                .create_parser(grammar)
                .map_err(|err| Error::ConstraintUnsupported {
                    field: field.to_owned(),
                    reason: err.to_string(),
                })?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(err) = matcher.get_error() {
            return Err(Error::ConstraintUnsupported {
                field: field.to_owned(),
                reason: err,
            });
        }
        Ok(Constraint::Guidance(Box::new(matcher)))
    }

    /// Compiles a Lark grammar built here (tool-call syntaxes).
    pub(crate) fn lark(&self, lark: String, field: &str) -> Result<Constraint> {
        self.guidance(TopLevelGrammar::from_lark(lark), field)
    }
}

/// JSON under `schema`, written compactly with single spaces after `,` and `:` as models
/// saw JSON in training (and as Python's `json.dumps` writes it). Whitespace is not left
/// free: a small model given the choice can emit newlines until `max_tokens`.
pub(crate) fn json_grammar(schema: Value) -> TopLevelGrammar {
    TopLevelGrammar::from_json_schema(with_layout(schema))
}

/// `schema` with llguidance's layout options (`x-guidance`) added.
pub(crate) fn with_layout(mut schema: Value) -> Value {
    if let Value::Object(map) = &mut schema {
        map.entry("x-guidance").or_insert(json!({
            "whitespace_flexible": false,
            "item_separator": ", ",
            "key_separator": ": ",
        }));
    }
    schema
}
