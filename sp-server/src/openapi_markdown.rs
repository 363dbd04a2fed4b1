//! The OpenAPI document rendered as Markdown for the docs site (`docs/api.md`): every
//! operation by tag with its scope, parameters, body and responses, then every schema with
//! its fields. Generated from [`crate::openapi`], so it cannot drift from the routes; a test
//! fails when the checked-in file differs (`SP_UPDATE_DOCS=1 cargo test -p sp-server --lib
//! openapi_markdown` rewrites it).

use std::fmt::Write as _;

use serde_json::Value;

/// `docs/api.md`: the reference of the HTTP API.
///
/// ```
/// let page = sp_server::openapi_markdown::reference();
/// assert!(page.contains("### `POST /v1/search`"));
/// assert!(page.contains("#### `SearchQuery`"));
/// ```
pub fn reference() -> String {
    let spec = serde_json::to_value(crate::openapi()).unwrap_or_default();
    let mut out = String::new();
    let _ = writeln!(out, "# HTTP API reference\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the server's OpenAPI document by `SP_UPDATE_DOCS=1 cargo test -p \
         sp-server --lib openapi_markdown`; a test fails when this file and the routes differ. \
         The same document is served at `/openapi.json` (Swagger UI at `/docs`) and printed by \
         `sp openapi`. -->\n"
    );
    if let Some(text) = spec["info"]["description"].as_str() {
        let _ = writeln!(out, "{}\n", text);
    }
    let _ = writeln!(out, "Version {}.\n", text_of(&spec["info"]["version"]));
    for tag in spec["tags"].as_array().into_iter().flatten() {
        let name = text_of(&tag["name"]);
        let _ = writeln!(out, "## {name}\n");
        if let Some(text) = tag["description"].as_str() {
            let _ = writeln!(out, "{text}.\n");
        }
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let tagged = operation["tags"]
                    .as_array()
                    .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(&name)));
                if tagged {
                    operation_section(&mut out, method, path, operation);
                }
            }
        }
    }
    let _ = writeln!(out, "## Schemas\n");
    for (name, schema) in spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        schema_section(&mut out, name, schema);
    }
    out
}

fn text_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Text for one table cell: no line breaks, no pipes.
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn operation_section(out: &mut String, method: &str, path: &str, operation: &Value) {
    let _ = writeln!(out, "### `{} {path}`\n", method.to_ascii_uppercase());
    if let Some(summary) = operation["summary"].as_str() {
        let _ = writeln!(out, "{}\n", summary.replace('\n', " "));
    }
    if let Some(text) = operation["description"].as_str() {
        let _ = writeln!(out, "{}\n", text.replace('\n', " "));
    }
    let scopes: Vec<String> = operation["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.as_object())
        .flat_map(|requirement| requirement.values())
        .flat_map(|scopes| scopes.as_array().cloned().unwrap_or_default())
        .filter_map(|scope| scope.as_str().map(str::to_owned))
        .collect();
    let mut scopes = scopes;
    scopes.dedup();
    let access = if scopes.is_empty() {
        "open (no credential)".to_owned()
    } else {
        format!("scope `{}`", scopes.join("`, `"))
    };
    let _ = writeln!(out, "Access: {access}.\n");
    if let Some(parameters) = operation["parameters"].as_array() {
        let _ = writeln!(
            out,
            "| parameter | in | type | required | meaning |\n|---|---|---|---|---|"
        );
        for parameter in parameters {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                text_of(&parameter["name"]),
                text_of(&parameter["in"]),
                type_of(&parameter["schema"]),
                if parameter["required"].as_bool() == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                cell(parameter["description"].as_str().unwrap_or_default())
            );
        }
        out.push('\n');
    }
    if let Some(content) = operation["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = writeln!(out, "Body (`{media}`): {}\n", type_of(&body["schema"]));
        }
    }
    if let Some(responses) = operation["responses"].as_object() {
        let _ = writeln!(out, "| status | meaning | body |\n|---|---|---|");
        for (status, response) in responses {
            let body = response["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map(|media| type_of(&media["schema"]))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {status} | {} | {body} |",
                cell(response["description"].as_str().unwrap_or_default())
            );
        }
        out.push('\n');
    }
}

fn schema_section(out: &mut String, name: &str, schema: &Value) {
    let _ = writeln!(out, "#### `{name}`\n");
    if let Some(text) = schema["description"].as_str() {
        let _ = writeln!(out, "{}\n", text.replace('\n', " "));
    }
    match schema["properties"].as_object() {
        Some(properties) => {
            let required: Vec<&str> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let _ = writeln!(
                out,
                "| field | type | required | meaning |\n|---|---|---|---|"
            );
            for (field, property) in properties {
                let _ = writeln!(
                    out,
                    "| `{field}` | {} | {} | {} |",
                    type_of(property),
                    if required.contains(&field.as_str()) {
                        "yes"
                    } else {
                        "no"
                    },
                    cell(property["description"].as_str().unwrap_or_default())
                );
            }
            out.push('\n');
        }
        None => {
            let _ = writeln!(out, "Type: {}\n", type_of(schema));
        }
    }
}

/// A schema as a short type: a link to a named schema, `array of …`, one of several, an
/// enumeration, or the JSON type.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("[`{name}`](#{})", name.to_ascii_lowercase());
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(choices) = schema[combinator].as_array() {
            let parts: Vec<String> = choices.iter().map(type_of).collect();
            let joiner = if combinator == "allOf" {
                " and "
            } else {
                " or "
            };
            return parts.join(joiner);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| {
                format!(
                    "`{}`",
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                )
            })
            .collect();
        return values.join(", ");
    }
    match &schema["type"] {
        Value::String(kind) if kind == "array" => format!("array of {}", type_of(&schema["items"])),
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .map(|kind| {
                if kind == "array" {
                    format!("array of {}", type_of(&schema["items"]))
                } else {
                    kind.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    /// `docs/api.md` must be the current routes' reference.
    #[test]
    fn api_reference_matches_the_routes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md");
        let expected = super::reference();
        if std::env::var_os("SP_UPDATE_DOCS").is_some() {
            std::fs::write(path, &expected).expect("write docs/api.md");
        }
        let spec = serde_json::to_value(crate::openapi()).expect("spec");
        let operations: usize = spec["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, item)| item.as_object().map_or(0, |methods| methods.len()))
            .sum();
        assert_eq!(
            expected.matches("\n### `").count(),
            operations,
            "every operation has its section (each under one of the document's tags)"
        );
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/api.md is out of date; run SP_UPDATE_DOCS=1 cargo test -p sp-server --lib openapi_markdown"
        );
    }

    #[test]
    fn types_render_references_arrays_and_choices() {
        use serde_json::json;
        assert_eq!(
            super::type_of(&json!({"$ref": "#/components/schemas/Doc"})),
            "[`Doc`](#doc)"
        );
        assert_eq!(
            super::type_of(&json!({"type": "array", "items": {"type": "string"}})),
            "array of string"
        );
        assert_eq!(
            super::type_of(&json!({"oneOf": [{"$ref": "#/x/A"}, {"type": "null"}]})),
            "[`A`](#a) or null"
        );
        assert_eq!(super::type_of(&json!({"enum": ["a", "b"]})), "`a`, `b`");
        assert_eq!(super::type_of(&json!({})), "any");
    }
}
