//! The registry of stable error codes.
//!
//! Every error the platform returns carries one of these codes. A code never changes meaning
//! once released; new failure kinds get new codes. `docs/errors.md` is generated from this
//! table and a test fails when the two drift apart.

use std::fmt;
use std::str::FromStr;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident => ($code:literal, $status:literal, $meaning:literal), )*) => {
        /// A stable, documented error code such as `SP-REQ-001`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every registered code, in registry order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it appears on the wire, e.g. `"SP-REQ-001"`.
            pub const fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status an API answers with for this code.
            pub const fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// One sentence on what the code means and what to do about it.
            pub const fn meaning(self) -> &'static str {
                match self { $(ErrorCode::$variant => $meaning,)* }
            }
        }
    };
}

error_codes! {
    /// A bug or an unexpected failure inside the platform.
    Internal => ("SP-GEN-001", 500, "Unexpected internal failure; the request id locates it in the logs."),
    /// A backend (database, cache, model) cannot be reached or is not ready.
    Unavailable => ("SP-GEN-002", 503, "A backend the request needs is unavailable; retry later."),
    /// No route matches the request path.
    RouteNotFound => ("SP-REQ-001", 404, "No endpoint exists at this path."),
    /// The path exists but not for this HTTP method.
    MethodNotAllowed => ("SP-REQ-002", 405, "The endpoint exists but does not accept this HTTP method."),
    /// The request body is larger than the configured limit.
    PayloadTooLarge => ("SP-REQ-003", 413, "The request body exceeds the server's size limit (server.max_body_bytes)."),
    /// The request body is not valid JSON or does not match the expected shape.
    MalformedJson => ("SP-REQ-004", 400, "The request body is not valid JSON or does not match the expected shape."),
    /// The request's `Content-Type` is not one the endpoint accepts.
    UnsupportedMediaType => ("SP-REQ-005", 415, "The request's Content-Type is not accepted; send application/json."),
    /// The request is malformed in a way no more specific code covers.
    BadRequest => ("SP-REQ-006", 400, "The request is malformed."),
    /// A field of the request has an invalid value.
    InvalidInput => ("SP-VAL-001", 400, "A field has an invalid value; the message names the field."),
    /// A pagination cursor could not be decoded.
    InvalidCursor => ("SP-VAL-002", 400, "The pagination cursor is not one this server issued; restart listing without it."),
    /// The requested resource does not exist (or is not visible in this namespace).
    NotFound => ("SP-RES-001", 404, "The resource does not exist or is not visible to the caller."),
    /// The request conflicts with the current state of a resource.
    Conflict => ("SP-RES-002", 409, "The request conflicts with the resource's current state."),
    /// Prompt plus requested tokens exceed the model's context window.
    ContextLengthExceeded => ("SP-LLM-001", 400, "The prompt plus max_tokens exceed the model's context window; shorten the prompt or lower max_tokens."),
    /// The inference queue is full.
    Overloaded => ("SP-LLM-002", 503, "The inference engine's queue is full; retry after a short wait."),
    /// A model file is missing, unreadable or not a valid GGUF model.
    ModelLoad => ("SP-LLM-003", 422, "The model file is missing, unreadable or not a valid GGUF model."),
    /// The model runtime failed during generation.
    Inference => ("SP-LLM-004", 500, "The model runtime failed while generating; the request id locates the details."),
    /// A schema, grammar or regex uses something the constrained decoder cannot enforce.
    ConstraintUnsupported => ("SP-LLM-005", 400, "The response_format schema, regex or grammar (or a tool's parameters) uses a construct the constrained decoder cannot enforce; the message names it. Nothing was generated: simplify the schema."),
    /// A finished constrained reply failed the independent check.
    ConstraintViolated => ("SP-LLM-006", 500, "A constrained reply failed the independent check of its format (a bug: the decoder enforces it); the reply is withheld rather than returned invalid."),
    /// The request names a model the catalogue does not hold.
    ModelNotFound => ("SP-LLM-007", 404, "No model of that name or alias is in the catalogue; the message lists the names there are (GET /v1/models)."),
    /// A model does not fit the memory budget.
    ModelMemory => ("SP-LLM-008", 503, "The model does not fit model.memory_budget_mib even after unloading idle models; nothing was loaded. Retry after Retry-After, unload a model, or raise the budget."),
    /// A model source could not be fetched.
    ModelPull => ("SP-LLM-009", 502, "The model could not be fetched: its source is unreachable, answered an HTTP error, or broke off more often than retries covered. What arrived is kept: pulling the same source again resumes it."),
    /// A pulled model's checksum differs from the expected one.
    ModelChecksum => ("SP-LLM-010", 422, "The pulled file's sha256 is not the one given (or the one the package index lists); the download was discarded and nothing was added."),
    /// A document is larger than the configured limit.
    DocumentTooLarge => ("SP-KB-001", 413, "The document exceeds the knowledge store's size limit (max_document_bytes); split it."),
    /// A write would take a tenant's documents past its storage quota.
    StorageQuotaExceeded => ("SP-KB-004", 403, "The write would take the tenant's documents past its storage quota (sections or bytes, soft-deleted documents included); nothing was stored. Purge documents or raise the quota."),
    /// A vector's length differs from the store's dimension.
    DimensionMismatch => ("SP-KB-002", 400, "The vector's dimension differs from the store's, which is fixed when the store is created."),
    /// The knowledge store's vectors were made by another embedding model.
    EmbedderMismatch => ("SP-KB-005", 409, "The knowledge store's vectors were made by another embedding model; vectors of two models cannot be compared. Serve with the model that made them, or re-embed the store into this one with `sp reindex`."),
    /// A vector holds NaN or infinity.
    InvalidVector => ("SP-KB-003", 400, "The vector holds NaN or infinity."),
    /// A message (or system prompt) is larger than the configured limit.
    MessageTooLarge => ("SP-CTX-001", 413, "The message exceeds the context's size limit (contexts.max_message_bytes)."),
    /// A tool message answers a tool call no earlier assistant message made.
    ToolCallUnknown => ("SP-CTX-002", 400, "The tool result names a tool_call_id that no earlier assistant message of the context made."),
    /// A pinned memory block is over its size limit.
    MemoryBlockTooLarge => ("SP-CTX-003", 413, "The memory block's content exceeds its limit_chars; shorten it or raise the limit."),
    /// No valid credential: missing, malformed, unknown, revoked or expired.
    Unauthorized => ("SP-AUTH-001", 401, "Send a valid API key (Authorization: Bearer or X-API-Key) or access token; revoked and expired ones are refused."),
    /// The credential lacks the scope the endpoint needs.
    Forbidden => ("SP-AUTH-002", 403, "The credential is valid but lacks the scope this endpoint needs; the message names it."),
    /// The credential's rate limit is spent.
    RateLimited => ("SP-AUTH-003", 429, "The key's rate limit is spent; retry after the Retry-After header's seconds."),
    /// A tool's arguments do not match its input schema.
    ToolArgumentsInvalid => ("SP-HUB-001", 400, "The tool's arguments do not match its input JSON Schema; the message lists each violation. Nothing was called."),
    /// No registered service offers the tool.
    ToolUnknown => ("SP-HUB-002", 404, "No registered service (in this namespace, version range) offers a tool of this name."),
    /// The tool's service has no live, healthy instance.
    ServiceUnhealthy => ("SP-HUB-003", 503, "The tool's service has no live instance that passes its health checks; retry later."),
    /// The service's circuit breaker is open.
    CircuitOpen => ("SP-HUB-004", 503, "The service failed repeatedly and its circuit breaker is open; retry after the Retry-After header's seconds."),
    /// The upstream call did not answer in time.
    UpstreamTimeout => ("SP-HUB-005", 504, "The service did not answer within the tool's timeout."),
    /// The upstream call failed.
    UpstreamError => ("SP-HUB-006", 502, "The service answered with an error or could not be reached; the message carries its status."),
    /// An event's data is over the size limit.
    EventTooLarge => ("SP-EVT-001", 413, "The event's data exceeds events.max_data_bytes; store large payloads elsewhere and reference them."),
    /// A stream that never had an event.
    StreamUnknown => ("SP-EVT-002", 404, "No event was ever appended to this stream (in this namespace)."),
    /// A replay from an offset the stream does not have.
    OffsetOutOfRange => ("SP-EVT-003", 400, "The stream has no such offset: offsets run from 1 to its head; replay from one of them or head + 1."),
    /// A consumer group that does not exist.
    GroupUnknown => ("SP-EVT-004", 404, "No consumer group of this name exists in the namespace; create it first."),
    /// A workflow's steps wait on each other in a circle.
    WorkflowCycle => ("SP-WF-001", 400, "The workflow's steps depend on each other in a cycle; the message names the steps that cannot run."),
    /// A step reads or waits for something no step of the workflow provides.
    WorkflowWiring => ("SP-WF-002", 400, "A step reads or needs a step that does not exist (or is not a condition, for `when`), or a path its output lacks; the message names the step."),
    /// A workflow step calls a tool that no registered service offers.
    WorkflowToolUnknown => ("SP-WF-003", 400, "A workflow step calls a tool that no registered service (in the namespace, of the named service) offers; register it first. Nothing was stored or run."),
    /// A run's stored definition no longer reads; the run was ended as failed.
    WorkflowUnreadable => ("SP-WF-004", 500, "The run's stored definition no longer reads (written by another version, or altered outside Story Portal); the run was ended as failed instead of being retried. Start a new run."),
    /// A step's inputs, filled in, are larger than the engine allows.
    WorkflowInputsTooLarge => ("SP-WF-005", 400, "A step's inputs, with their `{{…}}` references filled in, exceed `workflows.max_rendered_bytes`; the step failed without being performed. Reference smaller values, or fewer."),
    /// A step was cut short by a stopped process too often to be made again.
    WorkflowInterrupted => ("SP-WF-006", 500, "A step's attempt was cut short by a stopped process more than `workflows.max_step_resumes` times; the run was ended as failed rather than resumed again, since the step may be what stopped the process. Start a new run once the cause is found."),
    /// An agent's definition names a tool nobody offers.
    AgentToolUnknown => ("SP-AGT-001", 400, "The agent's definition selects a tool (by name, tag or capability) that no registered service in the namespace offers, or a built-in tool that does not exist; register it first. Nothing was stored."),
    /// An agent run took `max_steps` model calls without a final answer.
    AgentMaxSteps => ("SP-AGT-002", 422, "The agent run made `max_steps` model calls without reaching a final answer and was ended as failed; raise `max_steps` or make the task smaller."),
    /// An agent run's next model call would exceed its token budget.
    AgentBudgetExceeded => ("SP-AGT-003", 422, "The agent run's next model call could exceed the run's `token_budget` (tokens used so far, plus the prompt, plus the reply's limit); the run ended as failed before that call."),
    /// The model's reply was cut at `max_tokens` before it was whole.
    AgentReplyTruncated => ("SP-AGT-005", 422, "The model's reply reached the agent's `max_tokens` before it was whole (an answer or a tool call cut short); the run ended failed instead of acting on a partial reply. Raise `max_tokens`."),
    /// An agent run's events do not fold to the state recorded for it.
    AgentReplayMismatch => ("SP-AGT-004", 500, "Replaying the agent run's events did not reach the state recorded for it (events altered or lost outside Story Portal); the message says where they part."),
    /// A workflow's agent step ran an agent whose run failed or was cancelled.
    WorkflowAgentFailed => ("SP-WF-007", 502, "A workflow step of kind `agent` started an agent run that ended failed or cancelled; the message names the run and its own error code (read it at /v1/agent-runs/{id})."),
    /// The configuration (file, environment or flags) is invalid.
    InvalidConfig => ("SP-CFG-001", 500, "The configuration is invalid; the message names the key and its source."),
    /// A backup that cannot be restored: not a backup, of another format version,
    /// truncated or corrupt.
    BackupInvalid => ("SP-OPS-001", 422, "The backup cannot be restored: it is not an `sp backup` folder, it is of another format version, or its database is truncated or corrupt (its checksum, integrity check or row counts disagree with its manifest). Nothing was restored; take or pick another backup."),
    /// An export that cannot be imported, or a target store that already holds data.
    ImportInvalid => ("SP-OPS-002", 422, "The export cannot be imported: a line is not JSON, names an unknown table or column, holds a value of the wrong type, or the file is of another format version or ends before its closing line (truncated) — the error names the file and line; or the target store already holds data (import into an empty, migrated store). Nothing was imported."),
    /// `sp status --db` on a database that does not collect `pg_stat_statements`.
    StatsUnavailable => ("SP-OPS-003", 503, "The database does not collect the statistics asked for: `sp status --db` reads PostgreSQL's `pg_stat_statements`, which needs `shared_preload_libraries = 'pg_stat_statements'` (a restart) and `CREATE EXTENSION pg_stat_statements` in the database, and the embedded store has none. Nothing was changed."),
    /// The database's applied migrations are not this build's (changed after they were
    /// applied, or newer than it).
    MigrationDrift => ("SP-CFG-002", 500, "The database's applied migrations differ from this build's: one was changed after it was applied (checksum drift) or the database has migrations this build lacks (a newer `sp` wrote it). Nothing was migrated and the server does not start; `sp migrate status` lists them — run the build that matches the database, or restore a backup."),
}

impl ErrorCode {
    /// Renders the registry as the Markdown table kept in `docs/errors.md`.
    ///
    /// ```
    /// let table = sp_core::ErrorCode::markdown_table();
    /// assert!(table.contains("| `SP-REQ-001` | 404 |"));
    /// ```
    pub fn markdown_table() -> String {
        let mut out = String::from("| code | HTTP | meaning |\n|---|---|---|\n");
        for code in Self::ALL {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                code.as_str(),
                code.http_status(),
                code.meaning()
            ));
        }
        out
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned when a string is not a registered error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code `{0}`")]
pub struct UnknownErrorCode(pub String);

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            let parts: Vec<&str> = s.split('-').collect();
            assert_eq!(parts.len(), 3, "{s} is not SP-AREA-NNN");
            assert_eq!(parts[0], "SP");
            assert!(parts[1].chars().all(|c| c.is_ascii_uppercase()), "{s}");
            assert!(
                parts[2].len() == 3 && parts[2].chars().all(|c| c.is_ascii_digit()),
                "{s}"
            );
            assert!((400..600).contains(&code.http_status()), "{s}");
            assert!(
                code.meaning().ends_with('.'),
                "{s} meaning is not a sentence"
            );
        }
    }

    #[test]
    fn codes_round_trip_through_strings() {
        for code in ErrorCode::ALL {
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
        }
        assert_eq!(
            "SP-NOPE-999".parse::<ErrorCode>(),
            Err(UnknownErrorCode("SP-NOPE-999".into()))
        );
    }

    /// `docs/errors.md` must list exactly the registry. Regenerate it with
    /// `SP_UPDATE_DOCS=1 cargo test -p sp-core codes`.
    #[test]
    fn errors_doc_matches_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/errors.md");
        let expected = errors_doc();
        if std::env::var_os("SP_UPDATE_DOCS").is_some() {
            std::fs::write(path, &expected).expect("write docs/errors.md");
        }
        let actual = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/errors.md is out of date; run SP_UPDATE_DOCS=1 cargo test -p sp-core codes"
        );
    }

    fn errors_doc() -> String {
        format!(
            "# Error codes\n\n\
             <!-- Generated from sp-core/src/codes.rs by `SP_UPDATE_DOCS=1 cargo test -p sp-core codes`; \
             a test fails when this file and the registry differ. -->\n\n\
             Every error the platform returns carries a stable code. Over HTTP it arrives in one \
             envelope, whatever the endpoint:\n\n\
             ```json\n{{\"error\":{{\"code\":\"SP-REQ-001\",\"message\":\"no route for GET /nope\",\"request_id\":\"…\"}}}}\n```\n\n\
             In Rust, `sp_core::Error::code()` returns it; in Python, the exception's `.code`.\n\
             A code never changes meaning once released; new failure kinds get new codes.\n\n{}",
            ErrorCode::markdown_table()
        )
    }
}
