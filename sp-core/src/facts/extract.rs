//! The extraction call: a prompt that shows the model what the context already knows and the
//! user's words, and a JSON schema the decoder enforces, so a small local model's answer is
//! always parseable — never silently lost to malformed output — and grounded: every value
//! (and every subject but `user`) is a span of the user's own words, which the schema lists,
//! so a model cannot make one up. The value comes first in each fact, and the attribute is
//! chosen knowing it.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};

use super::types::{Fact, FactKey, MAX_KEY_CHARS, NewFact};
use crate::chat::{ChatMessage, ChatOptions, ResponseFormat};
use crate::error::{Error, Result};

/// Most facts one turn may yield.
pub const MAX_FACTS_PER_TURN: usize = 3;
/// Most known facts shown to the extractor (the newest).
pub const KNOWN_FACTS_SHOWN: usize = 24;
/// Words of the user's message whose spans may be values.
const WORDS_READ: usize = 120;
/// Longest span (in words) a value may be.
const SPAN_WORDS: usize = 4;

const INSTRUCTIONS: &str = "You extract facts the user states. Each fact is a value taken \
from the user's words, an attribute (one lower-case noun such as city, job, name, pet, age) \
and a subject (\"user\" for the user). When a known fact changes, repeat its subject and \
attribute with the new value. Answer with JSON only. Example: the user says \"I work as a \
nurse in Paris.\" Answer: {\"facts\": [{\"value\": \"nurse\", \"attribute\": \"job\", \
\"subject\": \"user\", \"confidence\": 0.9}, {\"value\": \"Paris\", \"attribute\": \"city\", \
\"subject\": \"user\", \"confidence\": 0.9}]}";

/// The spans of up to four words of the user's message (its first 120 words, surrounding
/// punctuation dropped), in order, each once: what a value may be.
pub fn spans(said: &str) -> Vec<String> {
    let words: Vec<&str> = said
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .take(WORDS_READ)
        .collect();
    let mut seen = HashSet::new();
    let mut spans = Vec::new();
    for start in 0..words.len() {
        for end in start + 1..=(start + SPAN_WORDS).min(words.len()) {
            let span = words[start..end].join(" ");
            if seen.insert(span.clone()) {
                spans.push(span);
            }
        }
    }
    spans
}

/// The schema of the extractor's answer about `said`; `None` when it holds no word.
pub fn schema(said: &str) -> Option<Value> {
    let spans = spans(said);
    if spans.is_empty() {
        return None;
    }
    let mut subjects = vec![Value::from("user")];
    subjects.extend(spans.iter().map(|s| Value::from(s.as_str())));
    Some(json!({
        "type": "object",
        "properties": {
            "facts": {
                "type": "array",
                "maxItems": MAX_FACTS_PER_TURN,
                "items": {
                    "type": "object",
                    "properties": {
                        "value": {"enum": spans},
                        "attribute": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS / 2},
                        "subject": {"enum": subjects},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1}
                    },
                    "required": ["value", "attribute", "subject", "confidence"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["facts"],
        "additionalProperties": false
    }))
}

/// The options that make the model answer about `said` in [`schema`]; `None` when there is
/// nothing to extract from.
pub fn options(said: &str) -> Option<ChatOptions> {
    Some(ChatOptions {
        response_format: ResponseFormat::JsonSchema {
            name: "facts".into(),
            schema: schema(said)?,
            strict: true,
        },
        ..ChatOptions::default()
    })
}

/// The conversation the extractor sees: instructions, the facts known now, the user's words.
pub fn prompt(known: &[Fact], said: &str) -> Vec<ChatMessage> {
    let mut system = INSTRUCTIONS.to_owned();
    if !known.is_empty() {
        system.push_str("\n\nKnown facts (subject | attribute | value):");
        for fact in known.iter().take(KNOWN_FACTS_SHOWN) {
            system.push_str(&format!(
                "\n{} | {} | {}",
                fact.subject, fact.attribute, fact.value
            ));
        }
    }
    vec![
        ChatMessage::system(system),
        ChatMessage::user(format!("The user says: \"{said}\"")),
    ]
}

#[derive(Deserialize)]
struct Answer {
    facts: Vec<Observed>,
}

#[derive(Deserialize)]
struct Observed {
    subject: String,
    attribute: String,
    value: String,
    confidence: f32,
}

/// The observations in the extractor's answer, each validated; an answer that is not the
/// schema's shape is an error (the decoder enforces the schema, so this means the model was
/// cut off). Within one answer a value, and a subject's attribute, count once — the first
/// (small models repeat a value under every attribute of their example) — and a single
/// invalid fact is skipped with a warning rather than failing the rest.
pub fn parse(answer: &str) -> Result<Vec<NewFact>> {
    let answer: Answer = serde_json::from_str(answer).map_err(|err| {
        Error::internal(format!(
            "the extractor's answer is not the facts schema: {err}"
        ))
    })?;
    let (mut values, mut topics) = (HashSet::new(), HashSet::new());
    let mut facts = Vec::new();
    for observed in answer.facts.into_iter().take(MAX_FACTS_PER_TURN) {
        let fact = NewFact::new(observed.subject, observed.attribute, observed.value)
            .with_confidence(observed.confidence.clamp(0.0, 1.0));
        match fact.validate() {
            Ok(FactKey {
                subject,
                attribute,
                value,
            }) => {
                if values.insert(value) && topics.insert((subject, attribute)) {
                    facts.push(fact);
                }
            }
            Err(err) => tracing::warn!(%err, "an extracted fact is skipped"),
        }
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_lists_the_users_words_and_is_one_the_format_accepts() {
        let asked = options("I live in Oslo.").unwrap();
        assert!(asked.validate().is_ok());
        let found = spans("I live in Oslo.");
        assert!(found.contains(&"Oslo".to_owned()) && found.contains(&"live in Oslo".to_owned()));
        assert!(
            !found.iter().any(|s| s.contains('.')),
            "punctuation dropped: {found:?}"
        );
        assert!(options(" ?! ").is_none(), "no word, nothing to ask");
        let long: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        let long = spans(&long.join(" "));
        assert!(long.len() <= WORDS_READ * SPAN_WORDS, "{}", long.len());
        assert!(long.len() > WORDS_READ * (SPAN_WORDS - 1));
    }

    #[test]
    fn answers_parse_repeats_count_once_and_bad_facts_are_skipped() {
        let facts = parse(
            r#"{"facts":[{"value":"Oslo","attribute":"city","subject":"user","confidence":0.8},
                        {"value":"Oslo","attribute":"job","subject":"user","confidence":0.8},
                        {"value":"x","attribute":"","subject":"user","confidence":0.5}]}"#,
        )
        .unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(
            (facts[0].attribute.as_str(), facts[0].value.as_str()),
            ("city", "Oslo")
        );
        assert!(parse(r#"{"facts":[{"subject":"user""#).is_err(), "cut off");
    }

    #[test]
    fn the_prompt_shows_what_is_known() {
        let messages = prompt(&[], "I live in Oslo");
        assert_eq!(messages.len(), 2);
        assert!(messages[1].content.contains("I live in Oslo"));
    }
}
