//! Between MCP's shapes and the hub's: tools, results, errors.

use std::sync::Arc;

use rmcp::ErrorData;
use rmcp::model::{CallToolResult, ContentBlock, ErrorCode, Tool, ToolAnnotations};
use serde_json::{Value, json};
use sp_core::Error;
use sp_core::hub::{ToolResponse, ToolSpec};

/// The status an MCP tool's own error (`isError`) reads as: final, never retried, and not a
/// failure of the service for its circuit breaker.
pub(crate) const TOOL_ERROR_STATUS: u16 = 422;

/// An MCP tool as the registry declares it. A name outside the hub's rule
/// (`a-z A-Z 0-9 _ -`, 1-64) is registered with the rest mapped to `_` and the original kept
/// in `path`, where calls take it from.
pub(crate) fn spec_of(tool: Tool) -> ToolSpec {
    let remote = tool.name.to_string();
    let mut name: String = remote
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        name.push('_');
    }
    ToolSpec {
        path: (name != remote).then_some(remote),
        name,
        description: tool.description.map(|d| d.into_owned()).unwrap_or_default(),
        input_schema: Value::Object((*tool.input_schema).clone()),
        output_schema: tool.output_schema.map(|s| Value::Object((*s).clone())),
        idempotent: tool.annotations.and_then(|a| a.idempotent_hint) == Some(true),
        timeout_ms: None,
    }
}

/// A registry tool as MCP lists it.
pub(crate) fn tool_of(spec: &ToolSpec) -> Tool {
    let object = |schema: &Value| match schema {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    let mut tool = Tool::new_with_raw(
        spec.name.clone(),
        Some(spec.description.clone().into()),
        Arc::new(object(&spec.input_schema)),
    )
    .with_annotations(ToolAnnotations::new().idempotent(spec.idempotent));
    if let Some(output) = &spec.output_schema {
        tool = tool.with_raw_output_schema(Arc::new(object(output)));
    }
    tool
}

/// What an MCP call result reads as for the hub: the structured content when there is some,
/// else the one text block (as JSON when it parses), else the content blocks themselves.
pub(crate) fn response_of(result: CallToolResult) -> ToolResponse {
    let body = match result.structured_content {
        Some(structured) => structured,
        None => match result.content.as_slice() {
            [] => Value::Null,
            [ContentBlock::Text(text)] => serde_json::from_str(&text.text)
                .unwrap_or_else(|_| Value::String(text.text.clone())),
            blocks => serde_json::to_value(blocks).unwrap_or(Value::Null),
        },
    };
    let status = if result.is_error == Some(true) {
        TOOL_ERROR_STATUS
    } else {
        200
    };
    ToolResponse { status, body }
}

/// A JSON-RPC error from an MCP server, as an HTTP-like answer: a refused call (bad
/// parameters, unknown tool or method) is final, anything else the service's failure.
pub(crate) fn response_of_error(error: ErrorData) -> ToolResponse {
    let status = match error.code {
        ErrorCode::INVALID_PARAMS | ErrorCode::INVALID_REQUEST => 400,
        ErrorCode::METHOD_NOT_FOUND | ErrorCode::RESOURCE_NOT_FOUND => 404,
        _ => 500,
    };
    ToolResponse {
        status,
        body: json!({"code": error.code.0, "message": error.message, "data": error.data}),
    }
}

/// The result an MCP client gets for a registry tool's answer.
pub(crate) fn result_of(output: Value) -> CallToolResult {
    match output {
        // MCP's structured content is an object; anything else travels as JSON text.
        Value::Object(_) => CallToolResult::structured(output),
        other => CallToolResult::success(vec![ContentBlock::text(other.to_string())]),
    }
}

/// How a failed registry call reaches an MCP client: a call it got wrong (unknown tool, bad
/// arguments) is a JSON-RPC error; a failure of the tool's service is a tool result with
/// `isError`, which a model can read and react to. Both carry the stable `SP-` code.
pub(crate) fn failure_of(err: Error) -> Result<CallToolResult, ErrorData> {
    let code = err.code();
    let data = json!({"code": code.as_str(), "message": err.to_string()});
    match code.http_status() {
        400 | 404 | 409 | 422 => Err(ErrorData::invalid_params(err.to_string(), Some(data))),
        _ => Ok(CallToolResult::structured_error(data)),
    }
}
