//! Filling a step's inputs from the run's input and earlier steps' outputs.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Error, Result};

fn resolve(
    step: &str,
    reference: &str,
    input: &Value,
    outputs: &HashMap<String, Value>,
) -> Result<Value> {
    let missing = |what: String| Error::WorkflowWiring {
        step: step.to_owned(),
        reason: what,
    };
    let mut parts = reference.split('.');
    let (root, path): (&Value, Vec<&str>) = match parts.next() {
        Some("input") => (input, parts.collect()),
        Some("steps") => {
            let id = parts.next().unwrap_or_default();
            let _output = parts.next();
            let output = outputs
                .get(id)
                .ok_or_else(|| missing(format!("step `{id}` has no output (yet)")))?;
            (output, parts.collect())
        }
        _ => return Err(missing(format!("`{reference}` is not a reference"))),
    };
    let mut at = root;
    for key in &path {
        at = match at {
            Value::Object(map) => map.get(*key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(|| missing(format!("`{reference}`: nothing at `{key}`")))?;
    }
    Ok(at.clone())
}

/// `value` with every `{{reference}}` filled in: a string that is one reference becomes the
/// referenced value itself; references inside longer strings are written into them (strings
/// as they are, anything else as JSON).
///
/// ```
/// use std::collections::HashMap;
/// use serde_json::json;
/// let outputs = HashMap::from([("find".to_owned(), json!({"hits": [{"text": "Oslo"}]}))]);
/// let wired = sp_core::workflows::render(
///     "reply",
///     &json!({"city": "{{steps.find.output.hits.0.text}}", "n": "{{input.n}}",
///             "say": "n is {{input.n}}"}),
///     &json!({"n": 3}),
///     &outputs,
/// ).unwrap();
/// assert_eq!(wired, json!({"city": "Oslo", "n": 3, "say": "n is 3"}));
/// ```
pub fn render(
    step: &str,
    value: &Value,
    input: &Value,
    outputs: &HashMap<String, Value>,
) -> Result<Value> {
    Ok(match value {
        Value::String(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with("{{")
                && trimmed.ends_with("}}")
                && trimmed.matches("{{").count() == 1
            {
                return resolve(step, trimmed[2..trimmed.len() - 2].trim(), input, outputs);
            }
            let mut out = String::with_capacity(text.len());
            let mut rest = text.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(end) = rest[start..].find("}}") else {
                    break;
                };
                out.push_str(&rest[..start]);
                let found = resolve(step, rest[start + 2..start + end].trim(), input, outputs)?;
                match found {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&other.to_string()),
                }
                rest = &rest[start + end + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render(step, v, input, outputs))
                .collect::<Result<_>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), render(step, v, input, outputs)?)))
                .collect::<Result<_>>()?,
        ),
        other => other.clone(),
    })
}
