//! Agent contexts (sessions) and memory, and token-budgeted, prefix-stable prompt assembly.
//!
//! A [`Context`] holds ordered [`Message`]s (system / user / assistant / tool, with tool
//! calls and results), pinned [`MemoryBlock`]s (per context or per agent), and draws archival
//! memory from the knowledge store of its namespace. [`Contexts`] assembles the prompt for
//! the next reply within a token budget, counted with the model's [`Tokenizer`](crate::Tokenizer):
//! when the turns no longer fit, the oldest are summarised through the
//! [`ChatModel`](crate::ChatModel) and the summary is stored as a message — nothing is
//! dropped silently. See `docs/contexts.md` for the algorithm.
//!
//! `sp-data` implements [`ContextStore`] on SQLite (embedded) and PostgreSQL;
//! [`MemoryContextStore`] keeps everything in the process.

mod assemble;
mod chat_stream;
mod compaction;
mod contexts;
mod learning;
mod memory_store;
mod recent;
mod store;
mod types;
pub use assemble::{
    AssembledPrompt, AssemblyInput, Budget, DEFAULT_SYSTEM_PROMPT, Plan, count_message, plan,
    render_message, system_message,
};
pub use chat_stream::{StreamedTurn, TurnEvent};
pub use contexts::{ChatTurn, ContextConfig, Contexts};
pub use memory_store::MemoryContextStore;
pub use recent::RecentTurns;
pub use store::{ContextStore, PreparedMessage};
pub use types::{
    Context, ContextLimits, ForkPoint, MemoryBlock, MemoryScope, Message, MessageKind, NewContext,
    NewMessage, ToolCall, validate_memory,
};

mod live;
pub use live::live_view;
