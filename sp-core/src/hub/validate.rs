//! What the registry accepts: checked before anything is stored.

use semver::{Version, VersionReq};
use serde_json::Value;

use super::types::{Discovery, NewInstance, NewService, Protocol, ToolSpec};
use crate::error::{Error, Result};

/// Most tools one service version may declare.
pub const MAX_TOOLS: usize = 256;
/// Most tags (and, separately, capabilities) of a service.
pub const MAX_LABELS: usize = 32;
/// Longest heartbeat TTL, seconds.
pub const MAX_TTL_SECS: u32 = 86_400;
/// Longest per-tool timeout, milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

fn name_ok(name: &str, upper: bool) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'_'
                || b == b'-'
                || (upper && b.is_ascii_uppercase())
        })
}

/// A service name: 1-64 characters of `a-z 0-9 _ -`.
pub fn service_name(field: &str, name: &str) -> Result<()> {
    if name_ok(name, false) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("`{name}` must be 1-64 characters of a-z, 0-9, `_`, `-`"),
        ))
    }
}

/// A semantic version.
pub fn version(field: &str, raw: &str) -> Result<Version> {
    Version::parse(raw).map_err(|err| {
        Error::invalid_input(field, format!("`{raw}` is not a semantic version: {err}"))
    })
}

/// A semver requirement such as `^1.2` or `>=1, <2`.
pub fn version_req(field: &str, raw: &str) -> Result<VersionReq> {
    VersionReq::parse(raw).map_err(|err| {
        Error::invalid_input(field, format!("`{raw}` is not a version range: {err}"))
    })
}

/// An absolute `http://` or `https://` URL with a host.
pub fn http_url(field: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let valid = host.is_some_and(|h| !h.is_empty())
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(Error::invalid_input(
            field,
            format!("`{url}` is not an http:// or https:// URL"),
        ));
    }
    // Credentials in a URL would be shown to every registry key and written to logs (review
    // finding L8); the message does not repeat the URL for the same reason.
    if host.is_some_and(|h| h.contains('@')) {
        return Err(Error::invalid_input(
            field,
            "must not carry credentials (`user:password@`): the registry shows URLs to every \
             registry key",
        ));
    }
    Ok(())
}

fn path(field: &str, path: &str) -> Result<()> {
    if path.starts_with('/') && path.len() <= 1024 && !path.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("`{path}` must be a path starting with `/`"),
        ))
    }
}

fn labels(field: &str, values: &[String]) -> Result<()> {
    if values.len() > MAX_LABELS {
        return Err(Error::invalid_input(
            field,
            format!("at most {MAX_LABELS}, got {}", values.len()),
        ));
    }
    for value in values {
        if value.is_empty() || value.len() > 64 || value.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                field,
                format!("`{value}` must be 1-64 printable characters"),
            ));
        }
    }
    Ok(())
}

/// A JSON Schema the validator accepts (an object schema for inputs).
pub fn schema(field: &str, schema: &Value, must_be_object: bool) -> Result<()> {
    if !schema.is_object() {
        return Err(Error::invalid_input(field, "must be a JSON Schema object"));
    }
    if must_be_object
        && schema.get("type").is_some_and(|t| {
            t != "object" && t.as_array().is_none_or(|a| !a.contains(&"object".into()))
        })
    {
        return Err(Error::invalid_input(
            field,
            "tool arguments are a JSON object: the schema's `type` must be `object`",
        ));
    }
    jsonschema::validator_for(schema)
        .map(|_| ())
        .map_err(|err| Error::invalid_input(field, format!("not a valid JSON Schema: {err}")))
}

fn tool(at: usize, tool: &ToolSpec, protocol: Protocol) -> Result<()> {
    let field = |name: &str| format!("tools[{at}].{name}");
    if !name_ok(&tool.name, true) {
        return Err(Error::invalid_input(
            field("name"),
            format!(
                "`{}` must be 1-64 characters of a-z, A-Z, 0-9, `_`, `-`",
                tool.name
            ),
        ));
    }
    schema(&field("input_schema"), &tool.input_schema, true)?;
    if let Some(output) = &tool.output_schema {
        schema(&field("output_schema"), output, false)?;
    }
    match (&tool.path, protocol) {
        (Some(p), Protocol::Http) => path(&field("path"), p)?,
        (Some(remote), Protocol::Mcp) if remote.is_empty() || remote.len() > 256 => {
            return Err(Error::invalid_input(
                field("path"),
                "an MCP tool name is 1-256 bytes",
            ));
        }
        _ => {}
    }
    if let Some(ms) = tool.timeout_ms
        && !(1..=MAX_TIMEOUT_MS).contains(&ms)
    {
        return Err(Error::invalid_input(
            field("timeout_ms"),
            format!("must be 1..={MAX_TIMEOUT_MS}, got {ms}"),
        ));
    }
    Ok(())
}

/// Checks a registration: names, version, URL, labels, metadata and every tool's schemas.
///
/// ```
/// use serde_json::json;
/// let mut new: sp_core::hub::NewService = serde_json::from_value(json!({
///     "name": "search", "version": "2.0.0",
///     "tools": [{"name": "query", "input_schema": {"type": "object"}}]
/// })).unwrap();
/// assert!(sp_core::hub::validate_service(&new).is_ok());
/// new.version = "two".into();
/// assert!(sp_core::hub::validate_service(&new).is_err());
/// ```
pub fn validate_service(new: &NewService) -> Result<()> {
    service_name("name", &new.name)?;
    version("version", &new.version)?;
    if let Some(url) = &new.base_url {
        http_url("base_url", url)?;
    }
    if let Some(p) = &new.health_path {
        path("health_path", p)?;
    }
    if new.description.len() > 4096 {
        return Err(Error::invalid_input("description", "at most 4096 bytes"));
    }
    labels("tags", &new.tags)?;
    labels("capabilities", &new.capabilities)?;
    if new.canary_percent.is_some_and(|share| share > 100) {
        return Err(Error::invalid_input("canary_percent", "must be 0-100"));
    }
    if new.metadata.as_ref().is_some_and(|m| !m.is_object()) {
        return Err(Error::invalid_input("metadata", "must be a JSON object"));
    }
    if new.tools.len() > MAX_TOOLS {
        return Err(Error::invalid_input(
            "tools",
            format!("at most {MAX_TOOLS}, got {}", new.tools.len()),
        ));
    }
    for (at, spec) in new.tools.iter().enumerate() {
        tool(at, spec, new.protocol)?;
        if new.tools[..at].iter().any(|t| t.name == spec.name) {
            return Err(Error::invalid_input(
                format!("tools[{at}].name"),
                format!("`{}` is declared twice", spec.name),
            ));
        }
    }
    Ok(())
}

/// Checks a heartbeat.
pub fn validate_instance(new: &NewInstance) -> Result<()> {
    http_url("url", &new.url)?;
    if !(1..=MAX_TTL_SECS).contains(&new.ttl_secs) {
        return Err(Error::invalid_input(
            "ttl_secs",
            format!("must be 1..={MAX_TTL_SECS}, got {}", new.ttl_secs),
        ));
    }
    Ok(())
}

/// Checks a discovery query; returns its version requirement, parsed.
pub fn validate_discovery(query: &Discovery) -> Result<Option<VersionReq>> {
    if let Some(name) = &query.name {
        service_name("name", name)?;
    }
    query
        .version
        .as_deref()
        .map(|raw| version_req("version", raw))
        .transpose()
}
