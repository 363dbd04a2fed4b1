//! `Platform.respond`: a stored, chainable response (OpenAI's Responses model) made in
//! process — the same chains, ids and stored object as `POST /v1/responses`, so a response
//! made here is continued or read over HTTP and the other way round.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use sp_core::chat::{ChatMessage, ChatOptions, Sampling};
use sp_core::knowledge::Namespace;
use sp_core::responses::{Responses, Settings, message_id, object};

use crate::model::{chat_options, messages, sampling};

/// What one `respond` call needs, checked before anything runs.
pub(crate) struct Respond {
    engine: sp_llm::Engine,
    responses: Responses,
    namespace: Namespace,
    input: Vec<ChatMessage>,
    options: ChatOptions,
    sampling: Sampling,
    settings: Settings,
}

impl Respond {
    #[allow(clippy::too_many_arguments)] // Python keyword arguments
    pub(crate) fn new(
        engine: Option<sp_llm::Engine>,
        responses: Responses,
        namespace: Namespace,
        input: &Bound<'_, PyAny>,
        previous_response_id: Option<String>,
        instructions: Option<String>,
        store: bool,
        tools: Option<&Bound<'_, PyAny>>,
        tool_choice: Option<&Bound<'_, PyAny>>,
        response_format: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let engine = engine.ok_or_else(|| {
            crate::errors::to_py(sp_core::Error::unavailable(
                "model",
                "open the platform with a model to respond",
            ))
        })?;
        let input = match input.extract::<String>() {
            Ok(text) => vec![ChatMessage::user(text)],
            Err(_) => messages(input)?,
        };
        let sampling = sampling(options)?;
        let json = |value: Option<&Bound<'_, PyAny>>| {
            value
                .map(|v| crate::convert::to_json("tools", v))
                .transpose()
        };
        let mut settings = Settings::new(engine.info().id.clone());
        settings.instructions = instructions;
        settings.previous_response_id = previous_response_id;
        settings.max_output_tokens =
            (sampling.max_tokens != Sampling::UNTIL_WINDOW).then_some(sampling.max_tokens);
        settings.temperature = sampling.temperature;
        settings.top_p = sampling.top_p;
        settings.store = store;
        if let Some(serde_json::Value::Array(tools)) = json(tools)? {
            settings.tools = tools;
        }
        if let Some(choice) = json(tool_choice)? {
            settings.tool_choice = choice;
        }
        Ok(Respond {
            options: chat_options(tools, tool_choice, None, response_format)?,
            engine,
            responses,
            namespace,
            input,
            sampling,
            settings,
        })
    }

    /// [`new`](Self::new) with the Python keyword arguments grouped as the `respond` methods
    /// of `Platform` and `Model` take them: the chain, then the reply's shape.
    #[allow(clippy::type_complexity)] // the Python keyword arguments, grouped
    pub(crate) fn grouped(
        engine: Option<sp_llm::Engine>,
        responses: Responses,
        namespace: Namespace,
        (input, previous, instructions, store): (
            &Bound<'_, PyAny>,
            Option<String>,
            Option<String>,
            bool,
        ),
        (tools, tool_choice, response_format, options): (
            Option<&Bound<'_, PyAny>>,
            Option<&Bound<'_, PyAny>>,
            Option<&Bound<'_, PyAny>>,
            Option<&Bound<'_, PyDict>>,
        ),
    ) -> PyResult<Self> {
        Respond::new(
            engine,
            responses,
            namespace,
            input,
            previous,
            instructions,
            store,
            tools,
            tool_choice,
            response_format,
            options,
        )
    }

    /// Generates and stores the response; the response object, with its id.
    pub(crate) async fn run(self) -> sp_core::Result<serde_json::Value> {
        let pending = self
            .responses
            .begin(
                &self.namespace,
                self.settings.previous_response_id.as_deref(),
                self.settings.store,
                self.input,
            )
            .await?;
        let prompt = pending.prompt(self.settings.instructions.as_deref());
        match self
            .engine
            .chat_with(&prompt, &self.sampling, &self.options)
            .await
        {
            Ok(done) => {
                let body = object(&self.settings, &done, &message_id());
                pending.finish(&done, body).await
            }
            Err(err) => {
                pending.abandon().await;
                Err(err)
            }
        }
    }
}
