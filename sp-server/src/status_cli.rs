//! `sp status`: a running server's health (each check with its latency, its version), its
//! models (state, estimated memory, requests holding them) and the inference queue, as a
//! table or as JSON (`--json`). Exit status 0 when it answers healthy, 1 otherwise.
//! `sp status --db` reads the configured PostgreSQL's `pg_stat_statements` instead.

use serde_json::{Value, json};
use sp_core::{Config, Result};

use crate::cli::ServerArgs;
use crate::models_cli::{CommandError, Reach, base_url, fetch, server_get};

/// What `sp status` prints, and whether the server is healthy.
pub struct Status {
    /// Lines for stdout.
    pub lines: Vec<String>,
    /// Every check up.
    pub healthy: bool,
}

/// Asks the server at `server` (or `config.server.listen`) how it is.
pub async fn status(
    config: &Config,
    server: &ServerArgs,
    json: bool,
) -> Result<Status, CommandError> {
    let reach = |err: Reach| match err {
        Reach::Down(message) => CommandError(message),
        Reach::Refused(err) => err,
    };
    let health = server_get(config, server, "/health").await.map_err(reach)?;
    // `degraded` (Redis down, limits per process) still serves: not a failure of `sp status`.
    let healthy = health["status"] == "healthy" || health["status"] == "degraded";
    // Without a model runtime or the inference scope these are absent: shown as such.
    let models = server_get(config, server, "/v1/models").await.ok();
    let queue = match fetch(config, server, reqwest::Method::GET, "/metrics").await {
        Ok((code, text)) if code.is_success() => Some(queue_of(&text)),
        _ => None,
    };
    let url = base_url(config, server);
    if json {
        let body = json!({"url": url, "health": health, "models": models.map(|m| m["data"].clone()),
            "queue": queue});
        let text =
            serde_json::to_string_pretty(&body).map_err(|err| CommandError(err.to_string()))?;
        return Ok(Status {
            lines: vec![text],
            healthy,
        });
    }
    let mut lines = vec![format!(
        "sp {} at {url}: {}",
        health["version"].as_str().unwrap_or("?"),
        health["status"].as_str().unwrap_or("?")
    )];
    lines.push(format!(
        "{:<12} {:<6} {:>9}  {}",
        "CHECK", "STATUS", "LATENCY", "ERROR"
    ));
    if let Some(checks) = health["checks"].as_object() {
        for (name, check) in checks {
            lines.push(format!(
                "{:<12} {:<6} {:>6} ms  {}",
                name,
                check["status"].as_str().unwrap_or("?"),
                check["latency_ms"].as_u64().unwrap_or(0),
                check["error"].as_str().unwrap_or("")
            ));
        }
    }
    match models.as_ref().and_then(|m| m["data"].as_array()) {
        Some(cards) => {
            lines.push(format!(
                "{:<24} {:<10} {:<9} {:>10} {:>7}",
                "MODEL", "KIND", "STATE", "MEMORY", "IN USE"
            ));
            for card in cards {
                let mib = card["memory"]["total"].as_u64().unwrap_or(0) >> 20;
                lines.push(format!(
                    "{:<24} {:<10} {:<9} {:>6} MiB {:>7}",
                    card["id"].as_str().unwrap_or("?"),
                    card["kind"].as_str().unwrap_or("?"),
                    card["state"].as_str().unwrap_or("?"),
                    mib,
                    card["in_use"].as_u64().unwrap_or(0)
                ));
            }
        }
        None => {
            lines.push("models: not listed (no model runtime, or the key lacks `inference`)".into())
        }
    }
    lines.push(match &queue {
        Some(q) if q["capacity"].is_null() => "queue: no chat model loaded".into(),
        Some(q) => format!(
            "queue: {} waiting, {} active, capacity {}",
            q["waiting"], q["active"], q["capacity"]
        ),
        None => "queue: unknown (/metrics needs an admin key when operations are protected)".into(),
    });
    Ok(Status { lines, healthy })
}

/// The inference queue's gauges from a Prometheus exposition.
fn queue_of(metrics: &str) -> Value {
    let gauge = |name: &str| {
        metrics
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|v| v as u64)
    };
    json!({"waiting": gauge("sp_inference_waiting"), "active": gauge("sp_inference_active"),
        "capacity": gauge("sp_inference_queue_capacity")})
}

/// `sp status --db`: the `limit` statements of the configured PostgreSQL database with the
/// most total execution time, as a table or JSON. `SP-OPS-003` on the embedded store or a
/// database without `pg_stat_statements`.
pub async fn database_status(config: &Config, limit: u32, json: bool) -> Result<Vec<String>> {
    let statements = sp_data::Backends::top_statements(config, limit).await?;
    if json {
        return Ok(vec![
            serde_json::to_string_pretty(&statements).map_err(sp_core::Error::internal)?,
        ]);
    }
    let mut lines = vec![format!(
        "{:>12} {:>9} {:>10} {:>9} {:>6}  QUERY",
        "TOTAL MS", "CALLS", "MEAN MS", "ROWS", "HIT %"
    )];
    for statement in &statements {
        let hit = statement
            .cache_hit_ratio
            .map_or_else(|| "-".to_owned(), |ratio| format!("{:.1}", ratio * 100.0));
        // One line per statement: the normalised text with its whitespace folded.
        let query = statement
            .query
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        lines.push(format!(
            "{:>12.1} {:>9} {:>10.3} {:>9} {:>6}  {}",
            statement.total_ms, statement.calls, statement.mean_ms, statement.rows, hit, query
        ));
    }
    if statements.is_empty() {
        lines.push("no statements recorded since the statistics were reset".into());
    }
    Ok(lines)
}
