//! Agent definitions: what an agent is (model, instructions, tools, memory, limits) and the
//! checks a definition passes before it is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chat::{ResponseFormat, ToolChoice};
use crate::error::{Error, Result};
use crate::knowledge::Namespace;
use crate::{Id, Timestamp};

/// The most model calls a run may make, whatever a definition asks.
pub const MAX_STEPS_LIMIT: u32 = 100;
const MAX_NAME_CHARS: usize = 64;
const MAX_INSTRUCTIONS_BYTES: usize = 64 * 1024;
const MAX_TOOL_SELECTORS: usize = 64;

/// An agent to define.
///
/// ```
/// use serde_json::json;
/// let agent: sp_core::agents::NewAgent = serde_json::from_value(json!({
///     "name": "researcher",
///     "instructions": "Answer from the knowledge store; cite titles.",
///     "tools": [{"builtin": "knowledge_search"}, {"tool": "weather"}],
///     "approval": {"weather": "approve"},
///     "max_steps": 6
/// })).unwrap();
/// agent.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAgent {
    /// The tenant.
    #[serde(default)]
    pub namespace: Namespace,
    /// 1-64 characters of `a-z A-Z 0-9 . _ -`.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The chat model (a catalogue name or alias); the default chat model when absent.
    #[serde(default)]
    pub model: Option<String>,
    /// The system prompt.
    #[serde(default)]
    pub instructions: String,
    /// The tools it may call.
    #[serde(default)]
    pub tools: Vec<ToolSelector>,
    /// Labels of the agent's memory blocks (scope `agent`, named after the agent) shown to
    /// the model in the system prompt; the memory tools edit them.
    #[serde(default)]
    pub memory_blocks: Vec<String>,
    /// The most model calls of a run (1-100, default 10).
    #[serde(default = "default_max_steps")]
    pub max_steps: u32,
    /// Whether and which tool the model must call on its first step (`auto` by default;
    /// later steps are `auto`, so the model can answer).
    #[serde(default)]
    pub tool_choice: ToolChoice,
    /// The final answer's shape (a JSON schema, enforced on the answering step).
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    /// Tools whose calls wait for a person's approval (by tool name).
    #[serde(default)]
    pub approval: BTreeMap<String, ApprovalPolicy>,
    /// The most calls of a tool (by name) in one run; once a tool has had its calls, it is
    /// no longer offered to the model (a paid or slow tool stays within its budget, and a
    /// model that repeats a call moves on).
    #[serde(default)]
    pub max_calls: BTreeMap<String, u32>,
    /// Tokens (prompt + generated, all model calls) a run may use; unlimited when absent.
    #[serde(default)]
    pub token_budget: Option<u64>,
    /// The most tokens of one model reply (default 512).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
    /// Learn facts from each run's turn in its context (`memory.extract` for the agent, see
    /// [`crate::facts`]), whether or not the context was created with `extract_facts`.
    #[serde(default)]
    pub extract_facts: bool,
}

fn default_max_steps() -> u32 {
    10
}

fn default_max_tokens() -> u32 {
    512
}

/// Which tools an agent gets: hub tools by name, by service tag or capability, or a built-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolSelector {
    /// The hub tool of this name.
    Tool(String),
    /// Every tool of the services carrying this tag.
    Tag(String),
    /// Every tool of the services with this capability.
    Capability(String),
    /// A built-in tool (`knowledge_search`, `memory_append`, `memory_replace`,
    /// `archival_insert`, `archival_search`).
    Builtin(String),
}

impl std::fmt::Display for ToolSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolSelector::Tool(name) => write!(f, "tool:{name}"),
            ToolSelector::Tag(tag) => write!(f, "tag:{tag}"),
            ToolSelector::Capability(capability) => write!(f, "capability:{capability}"),
            ToolSelector::Builtin(name) => write!(f, "builtin:{name}"),
        }
    }
}

/// What happens when the model calls a tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApprovalPolicy {
    /// The call is made at once.
    #[default]
    Auto,
    /// The run waits (`waiting_approval`) until a person approves or rejects the call.
    Approve,
}

/// A stored agent: its definition and version. Defining a name again stores the next
/// version; runs keep the version they started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Agent {
    /// The definition.
    #[serde(flatten)]
    pub definition: NewAgent,
    /// 1 for the first definition, one more for each redefinition.
    pub version: u32,
    /// When the name was first defined.
    pub created_at: Timestamp,
    /// When this version was defined.
    pub updated_at: Timestamp,
}

impl NewAgent {
    /// An agent named `name` with these instructions and the defaults otherwise.
    pub fn new(name: impl Into<String>, instructions: impl Into<String>) -> Self {
        NewAgent {
            namespace: Namespace::default(),
            name: name.into(),
            description: String::new(),
            model: None,
            instructions: instructions.into(),
            tools: Vec::new(),
            memory_blocks: Vec::new(),
            max_steps: default_max_steps(),
            tool_choice: ToolChoice::Auto,
            response_format: None,
            approval: BTreeMap::new(),
            max_calls: BTreeMap::new(),
            token_budget: None,
            max_tokens: default_max_tokens(),
            extract_facts: false,
        }
    }

    /// The checks that need nothing but the definition (the engine also checks that every
    /// selected tool exists, `SP-AGT-001`).
    pub fn validate(&self) -> Result<()> {
        check_name("name", &self.name)?;
        if !(1..=MAX_STEPS_LIMIT).contains(&self.max_steps) {
            return Err(Error::invalid_input(
                "max_steps",
                format!("must be 1-{MAX_STEPS_LIMIT}"),
            ));
        }
        if self.max_tokens == 0 {
            return Err(Error::invalid_input("max_tokens", "must be positive"));
        }
        if self.token_budget == Some(0) {
            return Err(Error::invalid_input("token_budget", "must be positive"));
        }
        if self.instructions.len() > MAX_INSTRUCTIONS_BYTES {
            return Err(Error::invalid_input(
                "instructions",
                format!("at most {MAX_INSTRUCTIONS_BYTES} bytes"),
            ));
        }
        crate::nul::refuse_nul("instructions", &self.instructions)?;
        crate::nul::refuse_nul("description", &self.description)?;
        if self.tools.len() > MAX_TOOL_SELECTORS {
            return Err(Error::invalid_input(
                "tools",
                format!("at most {MAX_TOOL_SELECTORS} selectors"),
            ));
        }
        for (i, selector) in self.tools.iter().enumerate() {
            let (ToolSelector::Tool(value)
            | ToolSelector::Tag(value)
            | ToolSelector::Capability(value)
            | ToolSelector::Builtin(value)) = selector;
            check_name(&format!("tools[{i}]"), value)?;
        }
        for label in &self.memory_blocks {
            check_name("memory_blocks", label)?;
        }
        for tool in self.approval.keys() {
            check_name("approval", tool)?;
        }
        for (tool, limit) in &self.max_calls {
            check_name("max_calls", tool)?;
            if *limit == 0 {
                return Err(Error::invalid_input(
                    "max_calls",
                    format!("`{tool}`: at least 1 (leave a tool out to offer it never)"),
                ));
            }
        }
        if let Some(format) = &self.response_format {
            format.validate()?;
            if matches!(
                format,
                ResponseFormat::Regex { .. } | ResponseFormat::Grammar { .. }
            ) {
                return Err(Error::invalid_input(
                    "response_format",
                    "an agent's answer may be text, json_object or json_schema",
                ));
            }
        }
        if let ToolChoice::Function(name) = &self.tool_choice {
            check_name("tool_choice", name)?;
        }
        if matches!(
            self.tool_choice,
            ToolChoice::Required | ToolChoice::Function(_)
        ) && self.tools.is_empty()
        {
            return Err(Error::invalid_input(
                "tool_choice",
                "requires a call, and the agent has no tools",
            ));
        }
        Ok(())
    }
}

/// `field` must be 1-64 characters of `a-z A-Z 0-9 . _ -`.
fn check_name(field: &str, value: &str) -> Result<()> {
    let ok = (1..=MAX_NAME_CHARS).contains(&value.chars().count())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            field,
            format!("`{value}` must be 1-{MAX_NAME_CHARS} characters of a-z A-Z 0-9 . _ -"),
        ))
    }
}

/// A run to start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewAgentRun {
    /// The user's message: the task.
    pub input: String,
    /// Events of this run carry it (default: the run's id).
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// A context (conversation) the run continues: its latest turns come before the input,
    /// `conversation_search` searches it, and the input and the answer are appended to it
    /// when the run succeeds.
    #[serde(default)]
    pub context_id: Option<Id>,
    /// The key the run's model calls are charged to besides its tenant (the server sets the
    /// starting key's; not read from a request body).
    #[serde(skip)]
    pub charge_to: Option<crate::workflows::ChargeKey>,
}

/// The id of a run's tool call as services see it (`Idempotency-Key`): the same on every
/// attempt of the call, in any process.
pub fn idempotency_key(run: Id, call_id: &str) -> String {
    format!("{run}:{call_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_definitions_name_their_field() {
        type Breaks = Box<dyn Fn(&mut NewAgent)>;
        let cases: Vec<(Breaks, &str)> = vec![
            (Box::new(|a| a.name = String::new()), "name"),
            (Box::new(|a| a.max_steps = 0), "max_steps"),
            (Box::new(|a| a.max_steps = 101), "max_steps"),
            (Box::new(|a| a.token_budget = Some(0)), "token_budget"),
            (
                Box::new(|a| a.tools = vec![ToolSelector::Tool("a b".into())]),
                "tools[0]",
            ),
            (
                Box::new(|a| a.tool_choice = ToolChoice::Required),
                "tool_choice",
            ),
            (
                Box::new(|a| {
                    a.response_format = Some(ResponseFormat::Regex {
                        pattern: "a+".into(),
                    })
                }),
                "response_format",
            ),
        ];
        for (breaks, field) in cases {
            let mut agent = NewAgent::new("helper", "Be brief.");
            breaks(&mut agent);
            let err = agent.validate().expect_err(field);
            assert_eq!(err.code(), crate::ErrorCode::InvalidInput, "{err}");
            assert!(err.to_string().contains(field), "{field}: {err}");
        }
        NewAgent::new("helper", "Be brief.")
            .validate()
            .expect("a plain agent");
    }

    #[test]
    fn selectors_read_as_one_key_objects() {
        let tools: Vec<ToolSelector> = serde_json::from_value(serde_json::json!([
            {"tool": "weather"}, {"tag": "search"}, {"capability": "geo"},
            {"builtin": "memory_append"}
        ]))
        .expect("selectors");
        let shown: Vec<String> = tools.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "tool:weather",
                "tag:search",
                "capability:geo",
                "builtin:memory_append"
            ]
        );
        let two_keys =
            serde_json::from_value::<ToolSelector>(serde_json::json!({"tool": "a", "tag": "b"}));
        assert!(two_keys.is_err());
    }
}
