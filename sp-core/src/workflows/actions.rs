//! What a step does, against the platform: tools through the hub, the model, the knowledge
//! store. The engine renders a step's inputs first; actions receive final values.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::charge::ModelStepCharger;
use super::types::{Action, Step};
use crate::chat::{ChatMessage, Sampling};
use crate::error::{Error, Result};
use crate::hub::{Discovery, Hub, ToolInvocation};
use crate::knowledge::{KnowledgeBase, Namespace, SearchMode, SearchQuery};
use crate::model::ChatModel;

/// Performs workflow steps. [`PlatformActions`] is the platform's; an embedding application
/// may supply its own (to add kinds of work, or to run steps elsewhere).
#[async_trait]
pub trait StepActions: Send + Sync {
    /// Whether `step` can run here: refuses a tool no registered service offers
    /// (`SP-WF-003`) or a model step with no model loaded, before anything is stored or run.
    async fn check(&self, namespace: &Namespace, step: &Step) -> Result<()>;

    /// Performs a `tool`, `model` or `search` action whose inputs are already wired, and
    /// returns its output. `correlation_id` travels with tool calls as their request id.
    async fn perform(
        &self,
        namespace: &Namespace,
        action: &Action,
        correlation_id: &str,
    ) -> Result<Value>;
}

/// Steps run against the hub, the knowledge base and the loaded model (if any).
///
/// Outputs: a tool step's output is the tool's JSON answer; a model step's is
/// `{"text", "finish_reason", "usage"}`; a search step's is `{"count", "hits": [{"title",
/// "text", "score", "document_id", "heading"}]}`.
///
/// ```no_run
/// # fn demo(hub: std::sync::Arc<sp_core::hub::Hub>,
/// #         knowledge: std::sync::Arc<sp_core::knowledge::KnowledgeBase>) {
/// let actions = sp_core::workflows::PlatformActions::new(hub, knowledge, None);
/// # let _ = actions; }
/// ```
pub struct PlatformActions {
    hub: Arc<Hub>,
    knowledge: Arc<KnowledgeBase>,
    model: Option<Arc<dyn ChatModel>>,
    charger: Option<Arc<dyn ModelStepCharger>>,
    agents: Option<Arc<crate::agents::Agents>>,
}

impl PlatformActions {
    /// Actions over these services; model steps are refused when `model` is `None`.
    pub fn new(
        hub: Arc<Hub>,
        knowledge: Arc<KnowledgeBase>,
        model: Option<Arc<dyn ChatModel>>,
    ) -> Self {
        PlatformActions {
            hub,
            knowledge,
            model,
            charger: None,
            agents: None,
        }
    }

    /// Runs agent steps on `agents` (without, they are refused when defined).
    pub fn with_agents(mut self, agents: Arc<crate::agents::Agents>) -> Self {
        self.agents = Some(agents);
        self
    }

    /// Charges every model step through `charger` before and after it runs (the platform
    /// charges the run's tenant: [`TenantCharger`](super::TenantCharger)).
    pub fn with_charger(mut self, charger: Arc<dyn ModelStepCharger>) -> Self {
        self.charger = Some(charger);
        self
    }
}

#[async_trait]
impl StepActions for PlatformActions {
    async fn check(&self, namespace: &Namespace, step: &Step) -> Result<()> {
        match &step.action {
            Action::Tool { tool, service, .. } => {
                let query = Discovery {
                    namespace: namespace.clone(),
                    name: service.clone(),
                    tool: Some(tool.clone()),
                    ..Discovery::default()
                };
                if self.hub.tools(&query).await?.is_empty() {
                    return Err(Error::WorkflowToolUnknown {
                        step: step.id.clone(),
                        tool: tool.clone(),
                    });
                }
                Ok(())
            }
            Action::Agent { agent, .. } => {
                let agents = self.agents.as_ref().ok_or_else(|| Error::WorkflowWiring {
                    step: step.id.clone(),
                    reason: "agent steps need the agent runtime, which this engine lacks".into(),
                })?;
                match agents.agent(namespace, agent).await {
                    Ok(_) => Ok(()),
                    Err(err) if err.code() == crate::ErrorCode::NotFound => {
                        Err(Error::WorkflowWiring {
                            step: step.id.clone(),
                            reason: format!("runs agent `{agent}`, which is not defined"),
                        })
                    }
                    Err(err) => Err(err),
                }
            }
            Action::Model { .. } if self.model.is_none() => Err(Error::unavailable(
                "model",
                format!("step `{}` asks the model, and none is loaded", step.id),
            )),
            _ => Ok(()),
        }
    }

    async fn perform(
        &self,
        namespace: &Namespace,
        action: &Action,
        correlation_id: &str,
    ) -> Result<Value> {
        match action {
            Action::Tool {
                tool,
                service,
                arguments,
            } => {
                let call = ToolInvocation {
                    namespace: namespace.clone(),
                    service: service.clone(),
                    request_id: Some(correlation_id.to_owned()),
                    // A run's calls stay on one side of a canary.
                    affinity: Some(correlation_id.to_owned()),
                    ..ToolInvocation::new(tool.clone(), arguments.clone())
                };
                Ok(self.hub.invoke(call).await?.output)
            }
            Action::Model {
                prompt,
                system,
                max_tokens,
            } => {
                let model = self
                    .model
                    .as_ref()
                    .ok_or_else(|| Error::unavailable("model", "none is loaded"))?;
                let mut messages = Vec::with_capacity(2);
                if let Some(system) = system {
                    messages.push(ChatMessage::system(system.clone()));
                }
                messages.push(ChatMessage::user(prompt.clone()));
                // Greedy: a workflow re-run (or a resumed step) gives the same answer.
                let sampling =
                    Sampling::greedy(max_tokens.unwrap_or(256)).in_scope(namespace.tenant());
                let charge = match &self.charger {
                    Some(charger) => Some(charger.reserve(namespace, sampling.max_tokens).await?),
                    None => None,
                };
                let done = model.chat(&messages, &sampling).await;
                if let Some(charge) = charge {
                    charge.settle(done.as_ref().ok().map(|d| d.usage)).await;
                }
                let done = done?;
                Ok(json!({
                    "text": done.text,
                    "finish_reason": done.finish_reason,
                    "usage": done.usage,
                }))
            }
            Action::Search { query, k } => {
                let search = SearchQuery {
                    namespace: namespace.clone(),
                    k: k.unwrap_or(5),
                    mode: SearchMode::Hybrid,
                    ..SearchQuery::new(query.clone())
                };
                let hits = self.knowledge.search(&search).await?;
                let hits: Vec<Value> = hits
                    .into_iter()
                    .map(|hit| {
                        json!({
                            "title": hit.title,
                            "text": hit.section.text,
                            "heading": hit.section.heading_path,
                            "score": hit.score,
                            "document_id": hit.document_id,
                        })
                    })
                    .collect();
                Ok(json!({"count": hits.len(), "hits": hits}))
            }
            Action::Agent { agent, input } => {
                let agents = self
                    .agents
                    .as_ref()
                    .ok_or_else(|| Error::unavailable("agents", "no agent runtime here"))?;
                self.run_agent(agents, namespace, agent, input, correlation_id)
                    .await
            }
            Action::Condition { .. } => Err(Error::internal(
                "condition steps are decided by the engine, not performed",
            )),
        }
    }
}

impl PlatformActions {
    /// Starts agent `agent` on `input` (its events carry the workflow run's correlation id)
    /// and waits for its end, through approvals however long they take.
    async fn run_agent(
        &self,
        agents: &Arc<crate::agents::Agents>,
        namespace: &Namespace,
        agent: &str,
        input: &str,
        correlation_id: &str,
    ) -> Result<Value> {
        use crate::agents::{AgentRunStatus, NewAgentRun};
        let new = NewAgentRun {
            input: input.to_owned(),
            correlation_id: Some(correlation_id.to_owned()),
            context_id: None,
            // Charged to the tenant, as the workflow's model steps are.
            charge_to: None,
        };
        let started = agents.start(namespace, agent, new).await?;
        let run = loop {
            let run = agents
                .wait(namespace, started.id, std::time::Duration::from_secs(3600))
                .await?;
            if run.status.is_final() {
                break run;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        };
        if run.status != AgentRunStatus::Succeeded {
            return Err(Error::WorkflowAgentFailed {
                run: run.id.to_string(),
                status: run.status.as_str().to_owned(),
                reason: run
                    .error
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .unwrap_or_else(|| "cancelled".to_owned()),
            });
        }
        Ok(json!({
            "run_id": run.id,
            "status": run.status,
            "output": run.output,
            "steps": run.steps,
            "usage": run.usage,
        }))
    }
}
