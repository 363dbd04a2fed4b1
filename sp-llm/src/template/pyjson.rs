//! JSON as Python's `json.dumps` writes it, which is what Hugging Face's `tojson` filter
//! produces: `", "` and `": "` between items (`","` and newlines when indented), keys in
//! their given order, non-ASCII kept. Templates print tool schemas and call arguments this
//! way, so a model sees the bytes it was trained on.

use serde_json::Value;

/// `value` as `json.dumps(value, ensure_ascii=False, indent=indent)` writes it.
pub(crate) fn dumps(value: &Value, indent: Option<usize>) -> String {
    let mut out = String::new();
    write(&mut out, value, indent, 0);
    out
}

fn write(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separate(out, i, indent, depth + 1);
                write(out, item, indent, depth + 1);
            }
            close(out, indent, depth);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                separate(out, i, indent, depth + 1);
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write(out, item, indent, depth + 1);
            }
            close(out, indent, depth);
            out.push('}');
        }
        // Scalars, `[]` and `{}`: serde_json writes strings with the same escapes as Python
        // (`\n`, `\"`, `\u001f`, non-ASCII as is).
        other => out.push_str(&other.to_string()),
    }
}

fn separate(out: &mut String, index: usize, indent: Option<usize>, depth: usize) {
    match indent {
        None if index > 0 => out.push_str(", "),
        None => {}
        Some(width) => {
            if index > 0 {
                out.push(',');
            }
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    }
}

fn close(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.push_str(&" ".repeat(width * depth));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::dumps;

    #[test]
    fn writes_like_python() {
        let value = json!({"b": [1, 2.5, "é\n"], "a": {}, "c": [], "d": null, "e": true});
        assert_eq!(
            dumps(&value, None),
            r#"{"b": [1, 2.5, "é\n"], "a": {}, "c": [], "d": null, "e": true}"#
        );
        assert_eq!(
            dumps(&json!({"k": [1, {"x": 2}]}), Some(2)),
            "{\n  \"k\": [\n    1,\n    {\n      \"x\": 2\n    }\n  ]\n}"
        );
    }
}
