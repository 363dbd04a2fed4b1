//! Filling a step's inputs from the run's input and earlier steps' outputs.

use std::collections::HashMap;

use serde_json::Value;

use crate::error::{Error, Result};

fn resolve<'v>(
    step: &str,
    reference: &str,
    input: &'v Value,
    outputs: &'v HashMap<String, Value>,
) -> Result<&'v Value> {
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
    Ok(at)
}

pub(crate) use crate::nul::{NUL_REASON, holds_nul};

/// Counts the bytes written to it and refuses to go past a limit, so measuring a huge
/// value stops as soon as it is known to be too large.
struct Meter {
    left: usize,
}

impl std::io::Write for Meter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.left = self
            .left
            .checked_sub(bytes.len())
            .ok_or_else(|| std::io::Error::other("over the limit"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One rendering: what it reads and how many bytes it may still produce.
struct Render<'v> {
    step: &'v str,
    input: &'v Value,
    outputs: &'v HashMap<String, Value>,
    limit: usize,
    meter: Meter,
}

impl<'v> Render<'v> {
    fn too_large(&self) -> Error {
        Error::WorkflowInputsTooLarge {
            step: self.step.to_owned(),
            limit: self.limit,
        }
    }

    /// Takes `bytes` from what is left, or fails.
    fn spend(&mut self, bytes: usize) -> Result<()> {
        self.meter.left = self
            .meter
            .left
            .checked_sub(bytes)
            .ok_or_else(|| self.too_large())?;
        Ok(())
    }

    /// Takes a value's JSON size from what is left, measured without building it.
    fn spend_json(&mut self, value: &Value) -> Result<()> {
        serde_json::to_writer(&mut self.meter, value).map_err(|_| self.too_large())
    }

    fn reference(&self, reference: &str) -> Result<&'v Value> {
        resolve(self.step, reference, self.input, self.outputs)
    }

    fn value(&mut self, value: &Value) -> Result<Value> {
        Ok(match value {
            Value::String(text) => {
                let trimmed = text.trim();
                if trimmed.starts_with("{{")
                    && trimmed.ends_with("}}")
                    && trimmed.matches("{{").count() == 1
                {
                    let found = self.reference(trimmed[2..trimmed.len() - 2].trim())?;
                    self.spend_json(found)?;
                    return Ok(found.clone());
                }
                let mut out = String::new();
                let mut rest = text.as_str();
                while let Some(start) = rest.find("{{") {
                    let Some(end) = rest[start..].find("}}") else {
                        break;
                    };
                    self.spend(start)?;
                    out.push_str(&rest[..start]);
                    match self.reference(rest[start + 2..start + end].trim())? {
                        Value::String(s) => {
                            self.spend(s.len())?;
                            out.push_str(s);
                        }
                        other => {
                            self.spend_json(other)?;
                            out.push_str(&other.to_string());
                        }
                    }
                    rest = &rest[start + end + 2..];
                }
                self.spend(rest.len())?;
                out.push_str(rest);
                Value::String(out)
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.value(v)).collect::<Result<_>>()?)
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        self.spend(k.len())?;
                        Ok((k.clone(), self.value(v)?))
                    })
                    .collect::<Result<_>>()?,
            ),
            other => {
                self.spend_json(other)?;
                other.clone()
            }
        })
    }
}

/// `value` with every `{{reference}}` filled in: a string that is one reference becomes the
/// referenced value itself; references inside longer strings are written into them (strings
/// as they are, anything else as JSON). What is filled in may come to at most `limit` bytes
/// (each value counted as its JSON): past it, `SP-WF-005`, checked before each piece is
/// copied, so a definition that references a large value many times allocates nothing.
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
///     1024,
/// ).unwrap();
/// assert_eq!(wired, json!({"city": "Oslo", "n": 3, "say": "n is 3"}));
///
/// let bomb = json!("{{input.x}}".repeat(1000));
/// let err = sp_core::workflows::render("c", &bomb, &json!({"x": "A".repeat(1000)}), &outputs, 1024)
///     .unwrap_err();
/// assert_eq!(err.code().as_str(), "SP-WF-005");
/// ```
pub fn render(
    step: &str,
    value: &Value,
    input: &Value,
    outputs: &HashMap<String, Value>,
    limit: usize,
) -> Result<Value> {
    Render {
        step,
        input,
        outputs,
        limit,
        meter: Meter { left: limit },
    }
    .value(value)
}
