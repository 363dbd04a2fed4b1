//! `/v1/agents` and `/v1/agent-runs`: define agents, start runs (streamed or not), watch,
//! cancel, approve or reject their calls, replay and fork them. Like workflows, an agent does
//! only what its starter may: the `events` scope, `inference` for its model, and the scope of
//! each tool it selects (`registry` for hub tools, `documents:read` / `documents:write` for
//! knowledge and archival memory, `contexts` for memory blocks).

mod definitions;
mod runs;

pub(crate) use runs::charge_key;

use std::sync::Arc;

use sp_core::agents::{Agents, NewAgent, ToolSelector};
use sp_core::auth::Scope;
use sp_core::knowledge::Namespace;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::middleware::auth::Caller;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(definitions::define, definitions::list))
        .routes(routes!(definitions::fetch, definitions::remove))
        .routes(routes!(runs::start))
        .routes(routes!(runs::list))
        .routes(routes!(runs::fetch))
        .routes(routes!(runs::events))
        .routes(routes!(runs::cancel))
        .routes(routes!(runs::approve))
        .routes(routes!(runs::reject))
        .routes(routes!(runs::replay))
        .routes(routes!(runs::fork))
}

pub(crate) async fn engine(state: &AppState) -> Result<Arc<Agents>, ApiError> {
    Ok(state.platform().await?.agents.clone())
}

/// The scopes a caller needs to define or run `agent` in `namespace`: `events`,
/// `inference` and the model, and each selected tool's own scope.
pub(crate) async fn require_for(
    agents: &Agents,
    caller: &Caller,
    namespace: &Namespace,
    agent: &NewAgent,
) -> Result<(), ApiError> {
    caller.require(Scope::Events)?;
    caller.require(Scope::Inference)?;
    if let Some(model) = &agent.model {
        caller.0.may_use_model(model)?;
    }
    for selector in &agent.tools {
        match selector {
            ToolSelector::Builtin(name) => caller.require(match name.as_str() {
                "knowledge_search" | "archival_search" => Scope::DocumentsRead,
                "archival_insert" => Scope::DocumentsWrite,
                _ => Scope::Contexts,
            })?,
            _ => caller.require(Scope::Registry)?,
        }
    }
    let builtins = sp_core::agents::BUILTIN_TOOLS;
    for tool in agents.tools(namespace, agent).await?.definitions {
        if !builtins.contains(&tool.name.as_str()) {
            caller.0.may_call_tool(&tool.name)?;
        }
    }
    Ok(())
}
