//! An agent's tools: its selectors resolved against the hub and the built-ins, and calls
//! routed to whichever offers each.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::builtins::{Builtins, builtin_definition};
use super::definition::{NewAgent, ToolSelector};
use crate::chat::{ToolCall, ToolDefinition, schema_violations};
use crate::error::{Error, Result};
use crate::hub::{Discovery, Hub, ToolInvocation};
use crate::knowledge::Namespace;

/// Where a tool's calls go.
#[derive(Debug, Clone, PartialEq)]
enum Route {
    /// The hub tool of this service.
    Hub {
        service: String,
    },
    Builtin,
}

/// The tools an agent may call, as the model is shown them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolvedTools {
    /// The definitions, in the order the selectors found them.
    pub definitions: Vec<ToolDefinition>,
    routes: HashMap<String, Route>,
}

impl ResolvedTools {
    /// Where calls of `name` go: `"builtin"`, or the name of the hub service that offers it.
    pub fn source(&self, name: &str) -> Option<&str> {
        match self.routes.get(name)? {
            Route::Hub { service } => Some(service),
            Route::Builtin => Some("builtin"),
        }
    }
}

/// One call's identity beyond its arguments.
#[derive(Debug, Clone)]
pub struct CallIdentity<'a> {
    /// The run's namespace.
    pub namespace: &'a Namespace,
    /// The agent (built-in memory is the agent's).
    pub agent: &'a str,
    /// The run's context, when it continues one (`conversation_search` searches it).
    pub context: Option<crate::Id>,
    /// Sent as `X-Request-Id`.
    pub correlation_id: &'a str,
    /// Sent as `Idempotency-Key`.
    pub idempotency_key: &'a str,
}

/// Resolves agents' tools and calls them: hub tools through the hub (validation, timeout,
/// retries, breaker), built-ins in process.
#[derive(Clone, Default)]
pub struct Toolbox {
    hub: Option<Arc<Hub>>,
    builtins: Builtins,
}

impl Toolbox {
    /// Tools from `hub` (none when `None`) and the built-ins `builtins` can run.
    pub fn new(hub: Option<Arc<Hub>>, builtins: Builtins) -> Self {
        Toolbox { hub, builtins }
    }

    /// The context store the memory built-ins edit (and the system prompt shows).
    pub fn contexts(&self) -> Option<&Arc<crate::context::Contexts>> {
        self.builtins.contexts.as_ref()
    }

    /// The tools `agent`'s selectors select in `namespace`. `SP-AGT-001` for a selector that
    /// matches nothing; `SP-VAL-001` for a tool whose schema is not an object schema, or a
    /// name two services offer.
    pub async fn resolve(&self, namespace: &Namespace, agent: &NewAgent) -> Result<ResolvedTools> {
        let mut tools = ResolvedTools::default();
        for (i, selector) in agent.tools.iter().enumerate() {
            let unknown = || Error::AgentToolUnknown {
                selector: selector.to_string(),
            };
            let found: Vec<(ToolDefinition, Route)> = match selector {
                ToolSelector::Builtin(name) => {
                    let definition = builtin_definition(name)
                        .filter(|_| self.builtins.offers(name))
                        .ok_or_else(unknown)?;
                    vec![(definition, Route::Builtin)]
                }
                ToolSelector::Tool(_) | ToolSelector::Tag(_) | ToolSelector::Capability(_) => {
                    let hub = self.hub.as_ref().ok_or_else(unknown)?;
                    let mut query = Discovery {
                        namespace: namespace.clone(),
                        ..Discovery::default()
                    };
                    match selector {
                        ToolSelector::Tool(name) => query.tool = Some(name.clone()),
                        ToolSelector::Tag(tag) => query.tag = Some(tag.clone()),
                        ToolSelector::Capability(c) => query.capability = Some(c.clone()),
                        ToolSelector::Builtin(_) => {}
                    }
                    let entries = hub.tools(&query).await?;
                    if entries.is_empty() {
                        return Err(unknown());
                    }
                    entries
                        .into_iter()
                        .map(|entry| {
                            let definition = ToolDefinition::new(
                                entry.tool.name.clone(),
                                entry.tool.input_schema.clone(),
                            )
                            .with_description(entry.tool.description.clone());
                            let route = Route::Hub {
                                service: entry.service,
                            };
                            (definition, route)
                        })
                        .collect()
                }
            };
            for (definition, route) in found {
                definition.validate(&format!("tools[{i}]"))?;
                match tools.routes.get(&definition.name) {
                    Some(known) if *known == route => continue,
                    Some(_) => {
                        return Err(Error::invalid_input(
                            format!("tools[{i}]"),
                            format!(
                                "two sources offer a tool named `{}`; select one by name",
                                definition.name
                            ),
                        ));
                    }
                    None => {}
                }
                tools.routes.insert(definition.name.clone(), route);
                tools.definitions.push(definition);
            }
        }
        Ok(tools)
    }

    /// Makes `call`. Its arguments must be a JSON object the tool's schema accepts
    /// (`SP-VAL-001` / `SP-HUB-001` otherwise); the answer is the tool's JSON.
    pub async fn call(
        &self,
        tools: &ResolvedTools,
        who: &CallIdentity<'_>,
        call: &ToolCall,
    ) -> Result<Value> {
        let arguments: Value = serde_json::from_str(&call.arguments)
            .map_err(|err| Error::invalid_input("arguments", format!("not JSON: {err}")))?;
        match tools.routes.get(&call.name) {
            Some(Route::Builtin) => {
                if let Some(definition) = tools.definitions.iter().find(|d| d.name == call.name) {
                    schema_violations(&definition.parameters, &arguments)
                        .map_err(|reason| Error::invalid_input("arguments", reason))?;
                }
                self.builtins
                    .call(who.namespace, who.agent, who.context, &call.name, arguments)
                    .await
            }
            Some(Route::Hub { service }) => {
                let hub = self.hub.as_ref().ok_or_else(|| Error::AgentToolUnknown {
                    selector: format!("tool:{}", call.name),
                })?;
                let invocation = ToolInvocation {
                    namespace: who.namespace.clone(),
                    service: Some(service.clone()),
                    request_id: Some(who.correlation_id.to_owned()),
                    idempotency_key: Some(who.idempotency_key.to_owned()),
                    // A context's calls stay on one side of a canary.
                    affinity: who.context.map(|context| context.to_string()),
                    ..ToolInvocation::new(call.name.clone(), arguments)
                };
                Ok(hub.invoke(invocation).await?.output)
            }
            None => Err(Error::AgentToolUnknown {
                selector: format!("tool:{}", call.name),
            }),
        }
    }
}
