//! Every table an export carries, in an order that satisfies their foreign keys, with each
//! column's kind — the same on both backends (a test holds this list to both live schemas).
//! Left out, as derived data the stores rebuild: `kb_sections`' surrogate key and PostgreSQL's
//! `tsv` and `namespace` copies, SQLite's full-text table and vector-index journal; and the
//! replicas' heartbeats, which describe running processes, not data.

/// How a column's value is typed, on both backends and in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// UUID (TEXT in SQLite): a string in the export.
    Id,
    /// TIMESTAMPTZ (INTEGER µs in SQLite): integer microseconds since the epoch.
    Time,
    /// JSONB (TEXT in SQLite): the JSON value, keys sorted.
    Json,
    /// TEXT: a string.
    Text,
    /// INTEGER / BIGINT: an integer.
    Int,
    /// REAL (f32): a number.
    Real,
    /// BOOLEAN: true or false.
    Bool,
    /// pgvector `vector` (little-endian f32 BLOB in SQLite): an array of numbers.
    Vector,
    /// BYTEA / BLOB: base64.
    Bytes,
}

/// One exported table.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// The columns that order its rows the same way on both backends (its primary key).
    pub(crate) key: &'static [&'static str],
    pub(crate) columns: &'static [(&'static str, Kind)],
}

impl Table {
    pub(crate) fn kind_of(&self, column: &str) -> Option<Kind> {
        self.columns
            .iter()
            .find(|(name, _)| *name == column)
            .map(|(_, kind)| *kind)
    }
}

use Kind::{Bool, Bytes, Id, Int, Json, Real, Text, Time, Vector};

/// Tables of a fresh store that migrations seed and an import replaces (every other table must
/// be empty in an import's target).
pub(crate) const SEEDED: &[&str] = &["tenants", "tenant_storage", "kb_settings"];

/// In foreign-key order: a row's parents are always written before it.
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "tenants",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("name", Text),
            ("created_at", Time),
            ("rate_limit", Text),
            ("token_limits", Text),
            ("max_sections", Int),
            ("max_bytes", Int),
        ],
    },
    Table {
        name: "tenant_storage",
        key: &["tenant"],
        columns: &[("tenant", Text), ("sections", Int), ("bytes", Int)],
    },
    Table {
        name: "auth_keys",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("name", Text),
            ("scopes", Json),
            ("rate_limit", Text),
            ("token_limit", Text),
            ("token_hash", Text),
            ("created_at", Time),
            ("expires_at", Time),
            ("revoked_at", Time),
            ("tenant", Text),
            ("models", Json),
            ("tools", Json),
            ("previous_hash", Text),
            ("previous_until", Time),
            ("rotated_at", Time),
        ],
    },
    Table {
        name: "auth_refresh",
        key: &["id"],
        columns: &[
            ("id", Text),
            ("key_id", Text),
            ("family", Text),
            ("scopes", Json),
            ("token_hash", Text),
            ("created_at", Time),
            ("expires_at", Time),
            ("used_at", Time),
            ("revoked_at", Time),
        ],
    },
    Table {
        name: "audit_log",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("at", Time),
            ("key_id", Text),
            ("method", Text),
            ("route", Text),
            ("path", Text),
            ("status", Int),
            ("request_id", Text),
            ("duration_ms", Int),
            ("tenant", Text),
        ],
    },
    Table {
        name: "usage_daily",
        key: &["tenant", "key_id", "model", "day"],
        columns: &[
            ("tenant", Text),
            ("key_id", Text),
            ("model", Text),
            ("day", Text),
            ("requests", Int),
            ("prompt_tokens", Int),
            ("completion_tokens", Int),
            ("embedding_tokens", Int),
            ("cached_tokens", Int),
            ("errors", Int),
        ],
    },
    Table {
        name: "kb_settings",
        key: &["id"],
        columns: &[("id", Int), ("dimensions", Int), ("embedder", Text)],
    },
    Table {
        name: "kb_namespaces",
        key: &["name"],
        columns: &[("name", Text), ("created_at", Time)],
    },
    Table {
        name: "kb_documents",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("external_id", Text),
            ("title", Text),
            ("source_uri", Text),
            ("metadata", Json),
            ("content", Text),
            ("content_hash", Text),
            ("section_count", Int),
            ("created_at", Time),
            ("updated_at", Time),
            ("deleted_at", Time),
            ("stored_bytes", Int),
        ],
    },
    Table {
        name: "kb_sections",
        key: &["document_id", "ordinal"],
        columns: &[
            ("document_id", Id),
            ("ordinal", Int),
            ("heading_path", Json),
            ("text", Text),
            ("token_count", Int),
            ("embedding", Vector),
        ],
    },
    Table {
        name: "ctx_contexts",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("agent", Text),
            ("title", Text),
            ("system_prompt", Text),
            ("metadata", Json),
            ("forked_from_context", Id),
            ("forked_from_message", Id),
            ("message_count", Int),
            ("created_at", Time),
            ("updated_at", Time),
            ("extract_facts", Bool),
        ],
    },
    Table {
        name: "ctx_messages",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("context_id", Id),
            ("seq", Int),
            ("role", Text),
            ("kind", Text),
            ("content", Text),
            ("tool_calls", Json),
            ("tool_call_id", Text),
            ("covers_through", Int),
            ("metadata", Json),
            ("token_count", Int),
            ("created_at", Time),
        ],
    },
    Table {
        name: "ctx_tool_calls",
        key: &["context_id", "call_id"],
        columns: &[("context_id", Id), ("call_id", Text)],
    },
    Table {
        name: "ctx_memory",
        key: &["namespace", "scope_kind", "scope_id", "name"],
        columns: &[
            ("namespace", Text),
            ("scope_kind", Text),
            ("scope_id", Text),
            ("name", Text),
            ("content", Text),
            ("limit_chars", Int),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "ctx_facts",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("context_id", Id),
            ("subject", Text),
            ("attribute", Text),
            ("value", Text),
            ("subject_key", Text),
            ("attribute_key", Text),
            ("value_key", Text),
            ("confidence", Real),
            ("mentions", Int),
            ("source_message", Id),
            ("vector", Bytes),
            ("valid_from", Time),
            ("valid_to", Time),
            ("superseded_by", Id),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "event_streams",
        key: &["namespace", "stream"],
        columns: &[("namespace", Text), ("stream", Text), ("head", Int)],
    },
    Table {
        name: "events",
        key: &["seq"],
        columns: &[
            ("seq", Int),
            ("id", Id),
            ("namespace", Text),
            ("stream", Text),
            ("offset", Int),
            ("type", Text),
            ("source", Text),
            ("subject", Text),
            ("time", Time),
            ("correlation_id", Text),
            ("schema_version", Int),
            ("data", Json),
        ],
    },
    Table {
        name: "event_groups",
        key: &["namespace", "name"],
        columns: &[
            ("namespace", Text),
            ("name", Text),
            ("stream", Text),
            ("committed", Int),
            ("created_at", Time),
        ],
    },
    Table {
        name: "event_attempts",
        key: &["namespace", "group_name", "offset"],
        columns: &[
            ("namespace", Text),
            ("group_name", Text),
            ("offset", Int),
            ("attempts", Int),
            ("last_error", Text),
        ],
    },
    Table {
        name: "event_dead_letters",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("group_name", Text),
            ("event_id", Id),
            ("reason", Text),
            ("attempts", Int),
            ("dead_at", Time),
            ("redriven_at", Time),
            ("resolved_at", Time),
        ],
    },
    Table {
        name: "hub_services",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("name", Text),
            ("version", Text),
            ("description", Text),
            ("base_url", Text),
            ("health_path", Text),
            ("tags", Json),
            ("capabilities", Json),
            ("metadata", Json),
            ("tools", Json),
            ("created_at", Time),
            ("updated_at", Time),
            ("protocol", Text),
            ("canary_percent", Int),
        ],
    },
    Table {
        name: "hub_instances",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("service_id", Id),
            ("url", Text),
            ("ttl_secs", Int),
            ("expires_at", Time),
            ("health", Text),
            ("registered_at", Time),
        ],
    },
    Table {
        name: "hub_labels",
        key: &["service_id", "kind", "value"],
        columns: &[
            ("service_id", Id),
            ("namespace", Text),
            ("kind", Text),
            ("value", Text),
        ],
    },
    Table {
        name: "workflows",
        key: &["namespace", "name"],
        columns: &[
            ("namespace", Text),
            ("name", Text),
            ("description", Text),
            ("version", Int),
            ("steps", Json),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "workflow_runs",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("workflow", Text),
            ("version", Int),
            ("definition", Json),
            ("input", Json),
            ("status", Text),
            ("output", Json),
            ("error", Json),
            ("correlation_id", Text),
            ("owner", Text),
            ("lease_until", Time),
            ("created_at", Time),
            ("updated_at", Time),
            ("finished_at", Time),
        ],
    },
    Table {
        name: "workflow_steps",
        key: &["run_id", "step_id"],
        columns: &[
            ("run_id", Id),
            ("step_id", Text),
            ("ordinal", Int),
            ("status", Text),
            ("attempts", Int),
            ("output", Json),
            ("error", Json),
            ("started_at", Time),
            ("finished_at", Time),
            ("interruptions", Int),
        ],
    },
    Table {
        name: "agents",
        key: &["namespace", "name"],
        columns: &[
            ("namespace", Text),
            ("name", Text),
            ("version", Int),
            ("definition", Json),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "agent_runs",
        key: &["id"],
        columns: &[
            ("id", Id),
            ("namespace", Text),
            ("agent", Text),
            ("version", Int),
            ("status", Text),
            ("input", Text),
            ("output", Text),
            ("error", Json),
            ("steps", Int),
            ("prompt_tokens", Int),
            ("completion_tokens", Int),
            ("cached_tokens", Int),
            ("correlation_id", Text),
            ("events", Int),
            ("owner", Text),
            ("lease_until", Time),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    Table {
        name: "agent_run_events",
        key: &["run_id", "seq"],
        columns: &[("run_id", Id), ("seq", Int), ("at", Time), ("event", Json)],
    },
];

/// The table called `name`, and its place in [`TABLES`].
pub(crate) fn table(name: &str) -> Option<(usize, &'static Table)> {
    TABLES.iter().enumerate().find(|(_, t)| t.name == name)
}
