//! What an application names most, in one import: `use story_portal::prelude::*;`.
//!
//! The platform and its configuration, the request and record types of each service, the
//! model traits, and (with their features) the model engine and the server.

pub use crate::{
    ChatModel, Config, ConfigSources, Embedder, Error, ErrorCode, Id, Namespace, Page, PageRequest,
    Platform, PlatformBuilder, Result, Timestamp, Tokenizer,
};
pub use sp_core::agents::{
    Agent, AgentRun, AgentRunStatus, Agents, NewAgent, NewAgentRun, ToolSelector,
};
pub use sp_core::chat::{ChatMessage, Role, Sampling, StreamEvent};
pub use sp_core::context::{Context, Contexts, MemoryScope, Message, NewContext, NewMessage};
pub use sp_core::events::{Event, EventLog, EventQuery, NewEvent};
pub use sp_core::hub::{Discovery, Hub, NewService, Service};
pub use sp_core::knowledge::{
    Document, KnowledgeBase, NewDocument, SearchHit, SearchMode, SearchQuery,
};
pub use sp_core::workflows::{NewRun, NewWorkflow, Run, Workflow, Workflows};
pub use sp_data::{Backends, Database};

#[cfg(feature = "llm")]
pub use sp_llm::{EmbeddingModel, Engine, EngineConfig};

#[cfg(feature = "server")]
pub use sp_server::{ApiError, AppState};
