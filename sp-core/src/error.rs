//! The error type shared by every layer.

use crate::codes::ErrorCode;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Declares [`Error`] with each variant's [`ErrorCode`] beside it (`Variant {…} => Code`), so
/// `code()` is generated from the same table and no variant can lack a code.
macro_rules! platform_errors {
    (
        $(#[$enum_meta:meta])*
        pub enum Error {
            $( $(#[$meta:meta])* $variant:ident $fields:tt => $code:ident, )*
        }
    ) => {
        $(#[$enum_meta])*
        pub enum Error {
            $( $(#[$meta])* $variant $fields, )*
        }

        impl Error {
            /// The stable code of this error.
            pub fn code(&self) -> ErrorCode {
                match self {
                    $( Error::$variant { .. } => ErrorCode::$code, )*
                }
            }
        }
    };
}

platform_errors! {
/// An error from any Story Portal layer. Each variant maps to one stable [`ErrorCode`].
///
/// ```
/// use sp_core::{Error, ErrorCode};
///
/// let err = Error::invalid_input("limit", "must be between 1 and 1000");
/// assert_eq!(err.code(), ErrorCode::InvalidInput);
/// assert_eq!(err.to_string(), "invalid limit: must be between 1 and 1000");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request field or argument has an invalid value.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// The offending field, as the caller named it.
        field: String,
        /// Why the value was refused.
        reason: String,
    } => InvalidInput,
    /// A pagination cursor could not be decoded.
    #[error("invalid cursor: {0}")]
    InvalidCursor(String) => InvalidCursor,
    /// The configuration is invalid.
    #[error("invalid configuration at `{key}`: {reason}")]
    Config {
        /// The configuration key, dotted (`server.listen`).
        key: String,
        /// Why the value was refused, and where it came from.
        reason: String,
    } => InvalidConfig,
    /// A backup that cannot be restored.
    #[error("invalid backup {path}: {reason}")]
    BackupInvalid {
        /// The backup folder.
        path: String,
        /// What is wrong with it.
        reason: String,
    } => BackupInvalid,
    /// An `sp export` file that cannot be imported, or a target that cannot take it.
    #[error("cannot import {path}: {reason}")]
    ImportInvalid {
        /// The file, with the line at fault when one is (`FILE:LINE`).
        path: String,
        /// What is wrong.
        reason: String,
    } => ImportInvalid,
    /// A database statistic an operator asked for is not collected by this database.
    #[error("statistics unavailable: {reason}")]
    StatsUnavailable {
        /// What is missing and how to enable it.
        reason: String,
    } => StatsUnavailable,
    /// The database's applied migrations differ from this build's.
    #[error("the {backend} database's migrations differ from this build's: {detail}")]
    MigrationDrift {
        /// `sqlite` or `postgres`.
        backend: String,
        /// Which migrations, and how they differ.
        detail: String,
    } => MigrationDrift,
    /// A resource does not exist or is not visible.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// What kind of resource.
        kind: Resource,
        /// The identifier that was looked up.
        id: String,
    } => NotFound,
    /// The request conflicts with the resource's current state.
    #[error("conflict: {0}")]
    Conflict(String) => Conflict,
    /// A backend is unreachable or not ready.
    #[error("{backend} unavailable: {reason}")]
    Unavailable {
        /// The backend's name (`postgres`, `redis`, `sqlite`, `model`).
        backend: String,
        /// What failed.
        reason: String,
        /// The driver's own error, for `source()` chains and downcasting.
        #[source]
        source: Option<BoxError>,
    } => Unavailable,
    /// The prompt plus the tokens to generate do not fit the model's context window.
    #[error(
        "context length exceeded: {prompt_tokens} prompt tokens + {max_tokens} to generate > {context_size} (the context window)"
    )]
    ContextLengthExceeded {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Tokens asked for.
        max_tokens: usize,
        /// The window available to one request.
        context_size: usize,
    } => ContextLengthExceeded,
    /// The engine's queue is full; retry later.
    #[error("overloaded: {waiting} requests already wait for a slot; retry later")]
    Overloaded {
        /// Queue capacity that was reached.
        waiting: usize,
    } => Overloaded,
    /// A model file could not be loaded.
    #[error("cannot load model {path}: {reason}")]
    ModelLoad {
        /// The file.
        path: String,
        /// Missing, unreadable, not GGUF, corrupt, …
        reason: String,
    } => ModelLoad,
    /// The model runtime failed while generating.
    #[error("inference failed: {0}")]
    Inference(String) => Inference,
    /// A constraint the decoder cannot enforce.
    #[error("{field} cannot be enforced: {reason}")]
    ConstraintUnsupported {
        /// The request field that carries it (`response_format`, `tools[0].function.parameters`).
        field: String,
        /// The unsupported construct, as the decoder names it.
        reason: String,
    } => ConstraintUnsupported,
    /// A constrained reply that fails its independent check.
    #[error("constrained output failed its check: {reason}")]
    ConstraintViolated {
        /// What the validator found.
        reason: String,
    } => ConstraintViolated,
    /// A request names a model the catalogue does not hold.
    #[error("model `{name}` not found; the catalogue holds: {}", available.join(", "))]
    ModelNotFound {
        /// The name asked for.
        name: String,
        /// Every model's name.
        available: Vec<String>,
    } => ModelNotFound,
    /// A model does not fit the memory budget, even after unloading every idle model that
    /// may be unloaded. Nothing was loaded (never an out-of-memory kill).
    #[error(
        "model `{model}` needs ~{needed_mib} MiB and does not fit the memory budget ({budget_mib} MiB, {resident_mib} MiB resident){}",
        if *busy_in_the_way { "; models busy now may make room when they finish" } else { "; pinned models or the budget itself stand in the way" }
    )]
    ModelMemory {
        /// The model that was to load.
        model: String,
        /// Its estimated resident size.
        needed_mib: u64,
        /// `model.memory_budget_mib`.
        budget_mib: u64,
        /// What loaded models take now.
        resident_mib: u64,
        /// True when busy models are what stands in the way (retrying soon may succeed).
        busy_in_the_way: bool,
        /// Seconds for `Retry-After`.
        retry_after_secs: u64,
    } => ModelMemory,
    /// A model could not be fetched: the source is unreachable, answered an HTTP error, or
    /// broke off more often than retries could cover (what arrived is kept for the next pull).
    #[error("cannot pull {from}: {reason}")]
    ModelPull {
        /// The source, as given.
        from: String,
        /// What went wrong.
        reason: String,
    } => ModelPull,
    /// A pulled file's sha256 is not the one it must have; nothing was kept.
    #[error("{from}: sha256 {actual} is not the expected {expected}; the download was discarded")]
    ModelChecksum {
        /// The source, as given.
        from: String,
        /// The checksum it must have.
        expected: String,
        /// The checksum it has.
        actual: String,
    } => ModelChecksum,
    /// A document's content exceeds the configured limit.
    #[error("document too large: {bytes} bytes, the limit is {limit}")]
    DocumentTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit (`max_document_bytes`).
        limit: usize,
    } => DocumentTooLarge,
    /// A write would take a tenant's documents past its storage quota.
    #[error(
        "storage quota of tenant `{tenant}`: its documents take {used} {what} and this write adds {adding}, past its limit of {limit} (storage.max_{what}); purge documents or raise the quota"
    )]
    StorageQuotaExceeded {
        /// The tenant.
        tenant: String,
        /// `sections` or `bytes`.
        what: &'static str,
        /// What its documents take now.
        used: u64,
        /// What the write would add.
        adding: u64,
        /// The quota.
        limit: u64,
    } => StorageQuotaExceeded,
    /// A vector's length differs from the store's dimension.
    #[error("dimension mismatch: the store holds {expected}-dimensional vectors, got {got}")]
    DimensionMismatch {
        /// The store's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    } => DimensionMismatch,
    /// The knowledge store's vectors were made by another embedding model.
    #[error("the knowledge store's vectors were made by `{stored}`, not by `{got}`")]
    EmbedderMismatch {
        /// The model that made the stored vectors.
        stored: String,
        /// The model that was asked to add to them.
        got: String,
    } => EmbedderMismatch,
    /// A vector holds NaN or infinity.
    #[error("invalid vector: {0}")]
    InvalidVector(String) => InvalidVector,
    /// A message is over the size limit.
    #[error("message too large: {bytes} bytes, the limit is {limit}")]
    MessageTooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    } => MessageTooLarge,
    /// A tool result names a call the context never made.
    #[error("tool result for `{tool_call_id}`, but no earlier assistant message made that call")]
    ToolCallUnknown {
        /// The id the tool message named.
        tool_call_id: String,
    } => ToolCallUnknown,
    /// A memory block is over its limit.
    #[error("memory block `{name}` is {chars} characters, its limit is {limit}")]
    MemoryBlockTooLarge {
        /// The block.
        name: String,
        /// Its size.
        chars: usize,
        /// Its limit.
        limit: usize,
    } => MemoryBlockTooLarge,
    /// No valid credential.
    #[error("unauthorized: {0}")]
    Unauthorized(String) => Unauthorized,
    /// The credential lacks a scope.
    #[error("forbidden: this endpoint needs the `{scope}` scope")]
    Forbidden {
        /// The scope needed.
        scope: String,
    } => Forbidden,
    /// A rate limit is spent.
    #[error("rate limited: retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request is allowed again.
        retry_after_secs: u64,
    } => RateLimited,
    /// Tool arguments that fail the tool's input schema.
    #[error("arguments of tool `{tool}` do not match its schema: {}", violations.join("; "))]
    ToolArgumentsInvalid {
        /// The tool.
        tool: String,
        /// Each violation, with its JSON pointer.
        violations: Vec<String>,
    } => ToolArgumentsInvalid,
    /// No service offers the tool.
    #[error("no registered service offers tool `{tool}`")]
    ToolUnknown {
        /// The tool asked for.
        tool: String,
    } => ToolUnknown,
    /// No live healthy instance.
    #[error("service `{service}` has no live healthy instance")]
    ServiceUnhealthy {
        /// `name@version`.
        service: String,
    } => ServiceUnhealthy,
    /// The breaker is open.
    #[error(
        "service `{service}` is failing: its circuit breaker is open for {retry_after_secs} s more"
    )]
    CircuitOpen {
        /// `name@version`.
        service: String,
        /// Seconds until a probe is let through.
        retry_after_secs: u64,
    } => CircuitOpen,
    /// No answer in time.
    #[error("service `{service}` did not answer within {timeout_ms} ms")]
    UpstreamTimeout {
        /// `name@version`.
        service: String,
        /// The timeout.
        timeout_ms: u64,
    } => UpstreamTimeout,
    /// The upstream failed.
    #[error("service `{service}` failed{}: {reason}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default())]
    UpstreamError {
        /// `name@version`.
        service: String,
        /// Its HTTP status, when it answered.
        status: Option<u16>,
        /// What went wrong (its error body, shortened, or the connection error).
        reason: String,
    } => UpstreamError,
    /// An event's data is over the limit.
    #[error("event data is {size} bytes, over the limit of {limit} (events.max_data_bytes)")]
    EventTooLarge {
        /// Its serialized size.
        size: usize,
        /// The limit.
        limit: usize,
    } => EventTooLarge,
    /// A stream with no events.
    #[error("stream `{stream}` has no events")]
    StreamUnknown {
        /// The stream.
        stream: String,
    } => StreamUnknown,
    /// An offset past the stream's head.
    #[error("stream `{stream}` holds offsets 1 to {head}; {offset} does not exist")]
    OffsetOutOfRange {
        /// The stream.
        stream: String,
        /// The offset asked for.
        offset: u64,
        /// The stream's last offset.
        head: u64,
    } => OffsetOutOfRange,
    /// No such consumer group.
    #[error("consumer group `{group}` does not exist")]
    GroupUnknown {
        /// The group.
        group: String,
    } => GroupUnknown,
    /// Workflow steps in a cycle.
    #[error("the workflow's steps {} wait on a cycle", steps.join(", "))]
    WorkflowCycle {
        /// The steps that cannot run.
        steps: Vec<String>,
    } => WorkflowCycle,
    /// A step wired to nothing.
    #[error("workflow step `{step}`: {reason}")]
    WorkflowWiring {
        /// The step.
        step: String,
        /// What it reads or needs that is not there.
        reason: String,
    } => WorkflowWiring,
    /// A workflow step calls a tool nobody offers.
    #[error("workflow step `{step}` calls tool `{tool}`, which no registered service offers")]
    WorkflowToolUnknown {
        /// The step.
        step: String,
        /// The tool.
        tool: String,
    } => WorkflowToolUnknown,
    /// A run's stored definition no longer reads, so the run cannot go on.
    #[error("the stored definition of run {run} no longer reads: {reason}")]
    WorkflowUnreadable {
        /// The run.
        run: String,
        /// What is wrong with it.
        reason: String,
    } => WorkflowUnreadable,
    /// A step's inputs, filled in, would be larger than allowed.
    #[error("workflow step `{step}`: its inputs, filled in, exceed {limit} bytes")]
    WorkflowInputsTooLarge {
        /// The step.
        step: String,
        /// The limit (`workflows.max_rendered_bytes`).
        limit: usize,
    } => WorkflowInputsTooLarge,
    /// A step cut short by a stopped process more often than it may be resumed.
    #[error(
        "workflow step `{step}` was cut short by a stopped process {times} times; \
         the run is not resumed again"
    )]
    WorkflowInterrupted {
        /// The step.
        step: String,
        /// How often it was cut short.
        times: u32,
    } => WorkflowInterrupted,
    /// An agent's definition selects a tool nobody offers.
    #[error("agent tool selector `{selector}` matches no tool offered in the namespace")]
    AgentToolUnknown {
        /// The selector as written (`tool:name`, `tag:…`, `capability:…`, `builtin:…`).
        selector: String,
    } => AgentToolUnknown,
    /// An agent run used its steps without answering.
    #[error("the agent made {max_steps} model calls (max_steps) without a final answer")]
    AgentMaxSteps {
        /// The limit.
        max_steps: u32,
    } => AgentMaxSteps,
    /// An agent run's next model call could exceed its budget.
    #[error(
        "the next model call could use {needed} tokens, and the run has {left} of its \
         token_budget of {budget} left"
    )]
    AgentBudgetExceeded {
        /// The run's budget.
        budget: u64,
        /// What is left of it.
        left: u64,
        /// What the next call could use (its prompt plus its reply's limit).
        needed: u64,
    } => AgentBudgetExceeded,
    /// The model's reply was cut at `max_tokens`.
    #[error("the model's reply at step {step} reached max_tokens ({max_tokens}) before it was whole")]
    AgentReplyTruncated {
        /// The model call.
        step: u32,
        /// The agent's limit.
        max_tokens: u32,
    } => AgentReplyTruncated,
    /// An agent run's events do not fold to its recorded state.
    #[error("replay of agent run {run} does not match its record: {reason}")]
    AgentReplayMismatch {
        /// The run.
        run: String,
        /// Where the fold and the record part.
        reason: String,
    } => AgentReplayMismatch,
    /// A workflow's agent step ended with its agent run failed or cancelled.
    #[error("agent run {run} ended {status}: {reason}")]
    WorkflowAgentFailed {
        /// The agent run.
        run: String,
        /// `failed` or `cancelled`.
        status: String,
        /// The run's error code and message, when it has one.
        reason: String,
    } => WorkflowAgentFailed,
    /// An unexpected failure; details are logged, not shown to API callers.
    #[error("internal error: {message}")]
    Internal {
        /// What failed.
        message: String,
        /// The underlying error, for `source()` chains and downcasting.
        #[source]
        source: Option<BoxError>,
    } => Internal,
}
}

/// A cause an [`Error`] keeps: any error that can cross threads.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Unavailable`].
    pub fn unavailable(backend: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Unavailable {
            backend: backend.into(),
            reason: reason.to_string(),
            source: None,
        }
    }

    /// [`Error::Unavailable`] that keeps `cause` as its [`source`](std::error::Error::source).
    ///
    /// ```
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let err = sp_core::Error::unavailable_from("postgres", io);
    /// let cause = std::error::Error::source(&err).unwrap();
    /// assert!(cause.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn unavailable_from(
        backend: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Unavailable {
            backend: backend.into(),
            reason: cause.to_string(),
            source: Some(Box::new(cause)),
        }
    }

    /// Shorthand for [`Error::Internal`].
    pub fn internal(reason: impl std::fmt::Display) -> Self {
        Error::Internal {
            message: reason.to_string(),
            source: None,
        }
    }

    /// [`Error::Internal`] that says `context` and keeps `cause` as its source.
    pub fn internal_from(
        context: impl std::fmt::Display,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            message: format!("{context}: {cause}"),
            source: Some(Box::new(cause)),
        }
    }
}

#[path = "error_resource.rs"]
mod resource;
pub use resource::Resource;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
