//! One model call of a run: the prompt its events give, the tools still offered, the token
//! budget checked and the tenant charged before it, the reply streamed to subscribers.

use futures::StreamExt;

use super::drive::Drive;
use super::engine::Agents;
use super::journal::{LiveEvent, RunEvent};
use super::prompt::{fit_window, prompt_tokens};
use crate::chat::{ChatMessage, ChatOptions, ResponseFormat, Sampling, ToolChoice, Tools};
use crate::error::{Error, Result};

impl Agents {
    /// Asks the model for step `step`: within the run's token budget, charged before and
    /// settled after.
    pub(super) async fn call_model(&self, drive: &Drive, step: u32) -> Result<RunEvent> {
        let Some(agent) = drive.state.agent() else {
            return Err(Error::internal("a run without its agent"));
        };
        let definition = &agent.definition;
        let mut messages = drive.state.messages();
        let choice = if step == 1 {
            definition.tool_choice.clone()
        } else {
            ToolChoice::Auto
        };
        // A tool that had its `max_calls` is no longer offered.
        let offered: Vec<_> = drive
            .tools
            .definitions
            .iter()
            .filter(|tool| {
                definition
                    .max_calls
                    .get(&tool.name)
                    .is_none_or(|limit| drive.state.calls_of(&tool.name) < *limit)
            })
            .cloned()
            .collect();
        let choice = match choice {
            ToolChoice::Function(name) if !offered.iter().any(|t| t.name == name) => {
                ToolChoice::Auto
            }
            _ if offered.is_empty() => ToolChoice::None,
            choice => choice,
        };
        // One call per reply while a limited tool is offered: the grammar then cannot let a
        // reply make more calls of it than it has left.
        let parallel = !offered
            .iter()
            .any(|tool| definition.max_calls.contains_key(&tool.name));
        let options = ChatOptions {
            response_format: definition
                .response_format
                .clone()
                .unwrap_or(ResponseFormat::Text),
            tools: Tools {
                definitions: offered,
                choice,
                parallel,
            },
        };
        // Greedy: a resumed or forked run asks exactly what an uninterrupted one would.
        let mut sampling =
            Sampling::greedy(definition.max_tokens).in_scope(drive.run.namespace.tenant());
        // A run in a context leaves its KV state to the context (deleted with it).
        if let Some(context) = drive.state.context() {
            sampling = sampling.owned_by(context);
        }
        // The window first: a prompt that outgrew it shows its oldest results as elided notes.
        let elided = match drive.model.context_window() {
            Some(window) => fit_window(
                &mut messages,
                &options,
                drive.tokenizer.as_deref(),
                window,
                definition.max_tokens,
            )?,
            None => Vec::new(),
        };
        if let Some(budget) = definition.token_budget {
            let used = u64::from(drive.state.usage().prompt_tokens)
                + u64::from(drive.state.usage().completion_tokens);
            let prompt = prompt_tokens(drive.tokenizer.as_deref(), &messages, &options)?;
            let needed = prompt + u64::from(definition.max_tokens);
            let left = budget.saturating_sub(used);
            if needed > left {
                return Err(Error::AgentBudgetExceeded {
                    budget,
                    left,
                    needed,
                });
            }
        }
        let charge = match &self.charger {
            Some(charger) => Some(
                charger
                    .reserve_as(
                        &drive.run.namespace,
                        drive.state.charge_to(),
                        definition.max_tokens,
                    )
                    .await?,
            ),
            None => None,
        };
        let done = self
            .generate(drive, step, &messages, &sampling, &options)
            .await;
        if let Some(charge) = charge {
            charge.settle(done.as_ref().ok().map(|d| d.usage)).await;
        }
        let mut done = done?;
        // Ids of the run's own making (`call_<step>_<n>`): a resumed, forked or repeated run
        // shows the model the same conversation, and the ids say where a call came from.
        for (i, call) in done.tool_calls.iter_mut().enumerate() {
            call.id = format!("call_{step}_{}", i + 1);
        }
        Ok(RunEvent::ModelOutput {
            step,
            text: done.text,
            tool_calls: done.tool_calls,
            finish_reason: done.finish_reason,
            usage: done.usage,
            elided,
        })
    }

    /// The model's reply to `messages`, its text told to this process's subscribers as it is
    /// generated (the model streams free text; a reply that may be calls comes whole).
    async fn generate(
        &self,
        drive: &Drive,
        step: u32,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<crate::chat::Completion> {
        use crate::chat::StreamEvent;
        let mut stream = drive
            .model
            .chat_stream_with(messages, sampling, options)
            .await?;
        let mut text = String::new();
        let mut calls = Vec::new();
        while let Some(event) = stream.next().await {
            match event? {
                StreamEvent::Delta { text: more } => {
                    let delta = LiveEvent::Delta {
                        step,
                        text: more.clone(),
                    };
                    let _ = self.live.send((drive.run.id, delta));
                    text.push_str(&more);
                }
                StreamEvent::ToolCalls { calls: made } => calls = made,
                StreamEvent::Logprobs { .. } => {}
                StreamEvent::Done {
                    finish_reason,
                    usage,
                } => {
                    let mut done = crate::chat::Completion::new(text, finish_reason, usage);
                    done.tool_calls = calls;
                    return Ok(done);
                }
            }
        }
        Err(Error::internal("the model's reply ended without its end"))
    }
}
