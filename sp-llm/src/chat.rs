//! Chat requests with a response format or tools: rendering them, choosing the constraint
//! that makes the reply well formed, and reading the reply back (calls or an answer,
//! checked independently before the caller sees them).

use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde_json::Value;
use sp_core::chat::{
    ChatMessage, ChatOptions, Completion, FinishReason, ResponseFormat, Role, Sampling, Tools,
};
use sp_core::{Error, Result};

use crate::constraint::Constraint;
use crate::constraint::tools::{
    Reply, ToolSyntax, callable, envelope_instructions, envelope_schema, native_grammar,
    parse_reply,
};
use crate::engine::{CompletionStream, Engine, collect, submit_n};
use crate::loader::ModelInfo;
use crate::scheduler::Delivery;
use crate::template::ChatTemplate;

/// How an engine renders chats: the model's Jinja template, or llama.cpp's built-in matcher
/// when the template does not compile or render (and why).
#[derive(Debug)]
pub(crate) struct TemplateState {
    jinja: Option<ChatTemplate>,
    /// Why Jinja is not used, when it is not.
    fallback_reason: Option<String>,
    /// The template text's BOS, stripped from renders when the tokenizer adds its own.
    bos_text: Option<String>,
    tool_syntax: ToolSyntax,
}

impl TemplateState {
    pub(crate) fn new(model: &LlamaModel, info: &ModelInfo, override_source: Option<&str>) -> Self {
        let piece = |token: LlamaToken| {
            String::from_utf8_lossy(&model.vocab().token_to_piece(token, true, None)).into_owned()
        };
        let bos = piece(model.vocab().bos());
        let eos = piece(model.vocab().eos());
        let adds_bos = !model.vocab().tokenize(b"", true, true).is_empty();
        let Some(source) = override_source.or(info.chat_template.as_deref()) else {
            return TemplateState {
                jinja: None,
                fallback_reason: Some("the model has no chat template".into()),
                bos_text: None,
                tool_syntax: ToolSyntax::Envelope,
            };
        };
        match ChatTemplate::new(source, bos.clone(), eos) {
            Ok(jinja) => {
                let tool_syntax = ToolSyntax::detect(source, jinja.knows_tools());
                TemplateState {
                    jinja: Some(jinja),
                    fallback_reason: None,
                    bos_text: (adds_bos && !bos.is_empty()).then_some(bos),
                    tool_syntax,
                }
            }
            Err(err) => {
                tracing::warn!(model = %info.id, error = %err, "chat template falls back to llama.cpp's built-in matcher");
                TemplateState {
                    jinja: None,
                    fallback_reason: Some(err.to_string()),
                    bos_text: None,
                    tool_syntax: ToolSyntax::Envelope,
                }
            }
        }
    }

    pub(crate) fn jinja(&self) -> Option<&ChatTemplate> {
        self.jinja.as_ref()
    }

    /// A render without the BOS text the tokenizer will add anyway (no double BOS).
    pub(crate) fn strip_bos(&self, prompt: String) -> String {
        match &self.bos_text {
            Some(bos) if prompt.starts_with(bos.as_str()) => prompt[bos.len()..].to_owned(),
            _ => prompt,
        }
    }
}

/// How a model's chats are rendered, as `/v1/models` reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateInfo {
    /// `jinja` (the model's own template) or `llama.cpp` (the built-in matcher).
    pub renderer: &'static str,
    /// Why the built-in matcher is used, when it is.
    pub fallback_reason: Option<String>,
    /// How tool calls are written: `hermes`, `llama3`, `mistral` (the template's own syntax)
    /// or `envelope` (tools offered in a system block, the reply one JSON object).
    pub tool_syntax: &'static str,
}

/// What a reply must be read as when it ends.
#[derive(Debug, Clone)]
enum ReplyShape {
    Free,
    Checked(ResponseFormat),
    Tools {
        syntax: ToolSyntax,
        tools: Tools,
        format: ResponseFormat,
    },
}

impl Engine {
    /// How this engine renders chats and writes tool calls.
    pub fn template_info(&self) -> TemplateInfo {
        let state = self.template();
        TemplateInfo {
            renderer: if state.jinja.is_some() {
                "jinja"
            } else {
                "llama.cpp"
            },
            fallback_reason: state.fallback_reason.clone(),
            tool_syntax: state.tool_syntax.name(),
        }
    }

    /// The next assistant turn under `options`: a reply in the asked format, or calls of the
    /// offered tools (`finish_reason` [`FinishReason::ToolCalls`]). Both are enforced while
    /// decoding and checked again before they are returned; a schema the decoder cannot
    /// enforce is refused ([`Error::ConstraintUnsupported`]) before anything is generated.
    ///
    /// ```no_run
    /// # async fn demo(engine: sp_llm::Engine) -> sp_core::Result<()> {
    /// use sp_core::chat::{ChatMessage, ChatOptions, ToolChoice, ToolDefinition, Tools, Sampling};
    ///
    /// let weather = ToolDefinition::new(
    ///     "get_weather",
    ///     serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    /// );
    /// let options = ChatOptions {
    ///     tools: Tools { definitions: vec![weather], choice: ToolChoice::Required, parallel: false },
    ///     ..ChatOptions::default()
    /// };
    /// let reply = engine
    ///     .chat_with(&[ChatMessage::user("Weather in Paris?")], &Sampling::greedy(64), &options)
    ///     .await?;
    /// assert_eq!(reply.tool_calls[0].name, "get_weather");
    /// # Ok(()) }
    /// ```
    pub async fn chat_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<Completion> {
        let (stream, shape) =
            self.submit_chat(messages, sampling, options, Delivery::Whole, None)?;
        finish(shape, collect(stream).await?)
    }

    /// `n` replies to the same request, generated side by side; with a seed, reply `i` uses
    /// `seed + i`, so the set is reproducible (on an otherwise idle engine: batching with
    /// other requests changes the arithmetic slightly, as in every llama.cpp server). The
    /// prompt is computed once: the other replies start from a copy of its cache.
    pub async fn chat_n(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
        n: usize,
    ) -> Result<Vec<Completion>> {
        let pending = submit_n(n, |i, told| {
            self.submit_chat(
                messages,
                &sampling.for_choice(i),
                options,
                Delivery::Whole,
                told,
            )
        })
        .await?;
        let mut out = Vec::with_capacity(n);
        for (stream, shape) in pending {
            out.push(finish(shape, collect(stream).await?)?);
        }
        Ok(out)
    }

    /// [`chat_with`](Self::chat_with), streamed. Free text streams as it is generated; with
    /// tools the reply is read whole before it is sent (it may be calls), then arrives as one
    /// delta or one [`StreamEvent::ToolCalls`](sp_core::chat::StreamEvent::ToolCalls).
    pub fn chat_stream_with(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
    ) -> Result<crate::reply::ReplyStream> {
        let (stream, shape) =
            self.submit_chat(messages, sampling, options, Delivery::PerToken, None)?;
        Ok(match shape {
            ReplyShape::Free => crate::reply::ReplyStream::live(stream, None),
            ReplyShape::Checked(format) => crate::reply::ReplyStream::live(stream, Some(format)),
            shape @ ReplyShape::Tools { .. } => crate::reply::ReplyStream::whole(
                stream,
                Box::new(move |completion| finish(shape, completion)),
            ),
        })
    }

    fn submit_chat(
        &self,
        messages: &[ChatMessage],
        sampling: &Sampling,
        options: &ChatOptions,
        delivery: Delivery,
        prefilled: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(CompletionStream, ReplyShape)> {
        options.validate()?;
        let (prompt, syntax) = self.chat_prompt(messages, options)?;
        if let Some(syntax) = syntax {
            let tools = options.tools.clone();
            let constraint = if syntax == ToolSyntax::Envelope {
                let schema = envelope_schema(&tools, &options.response_format);
                self.compiler()?.guidance(
                    llguidance::api::TopLevelGrammar::from_json_schema(schema),
                    "tools",
                )?
            } else {
                self.native_constraint(syntax, &tools)?
            };
            let stream =
                self.submit_tokens(prompt, sampling, delivery, Some(constraint), prefilled)?;
            let shape = ReplyShape::Tools {
                syntax,
                tools,
                format: options.response_format.clone(),
            };
            return Ok((stream, shape));
        }
        let constraint = if options.response_format.is_text() {
            None
        } else {
            self.compiler()?.response_format(&options.response_format)?
        };
        let stream = self.submit_tokens(prompt, sampling, delivery, constraint, prefilled)?;
        let shape = if options.response_format.is_json() {
            ReplyShape::Checked(options.response_format.clone())
        } else {
            ReplyShape::Free
        };
        Ok((stream, shape))
    }

    /// How many tokens the prompt of `messages` under `options` is — exactly what generation
    /// would be given (template, tool layout, special-token handling), so a client can size a
    /// request before sending it (Anthropic's `count_tokens`).
    pub fn count_chat_tokens(
        &self,
        messages: &[ChatMessage],
        options: &ChatOptions,
    ) -> Result<usize> {
        options.validate()?;
        Ok(self.chat_prompt(messages, options)?.0.len())
    }

    /// The prompt of a chat under `options`, and the tool syntax its calls are decoded in
    /// when tools are offered.
    fn chat_prompt(
        &self,
        messages: &[ChatMessage],
        options: &ChatOptions,
    ) -> Result<(Vec<llama_cpp_2::token::LlamaToken>, Option<ToolSyntax>)> {
        if messages.is_empty() {
            return Err(Error::invalid_input("messages", "must not be empty"));
        }
        if options.tools.active() {
            let mut syntax = self.template().tool_syntax;
            let may_answer = matches!(
                options.tools.choice,
                sp_core::chat::ToolChoice::Auto | sp_core::chat::ToolChoice::None
            );
            if may_answer && !options.response_format.is_text() {
                // Only the envelope constrains an answer to a JSON format as well as calls.
                syntax = ToolSyntax::Envelope;
            }
            let prompt = if syntax == ToolSyntax::Envelope {
                let shown = envelope_messages(messages, &options.tools);
                self.chat_prompt_tokens(&self.render_chat(&shown)?, &shown)?
            } else {
                self.chat_prompt_tokens(&self.render_native(messages, &options.tools)?, messages)?
            };
            return Ok((prompt, Some(syntax)));
        }
        let shown = if self.template().tool_syntax == ToolSyntax::Envelope
            && messages.iter().any(|m| !m.tool_calls.is_empty())
        {
            calls_as_text(messages)
        } else {
            messages.to_vec()
        };
        Ok((
            self.chat_prompt_tokens(&self.render_chat(&shown)?, &shown)?,
            None,
        ))
    }

    /// Renders with the template's own tool layout.
    fn render_native(&self, messages: &[ChatMessage], tools: &Tools) -> Result<String> {
        let template = self.template();
        let jinja = template
            .jinja()
            .ok_or_else(|| Error::internal("a native tool syntax without a Jinja template"))?;
        let offered: Vec<_> = callable(tools).into_iter().cloned().collect();
        jinja
            .render(messages, &offered, true)
            .map(|p| template.strip_bos(p))
    }

    fn native_constraint(&self, syntax: ToolSyntax, tools: &Tools) -> Result<Constraint> {
        let vocab = self.model().vocab();
        let special = |marker: &str| {
            let tokens = vocab.tokenize(marker.as_bytes(), false, true);
            match tokens.as_slice() {
                // A control token decodes to nothing as text: name it by id.
                [token] if vocab.token_to_piece(*token, false, None).is_empty() => {
                    format!("<[{}]>", token.0)
                }
                _ => Value::String(marker.to_owned()).to_string(),
            }
        };
        self.compiler()?
            .lark(native_grammar(syntax, tools, special), "tools")
    }
}

/// The conversation with the tools offered in the system message and earlier calls written
/// as text (see [`calls_as_text`]).
fn envelope_messages(messages: &[ChatMessage], tools: &Tools) -> Vec<ChatMessage> {
    let instructions = envelope_instructions(tools);
    let mut out = calls_as_text(messages);
    match out.first_mut() {
        Some(first) if first.role == Role::System => {
            first.content = format!("{}\n\n{instructions}", first.content);
        }
        _ => out.insert(0, ChatMessage::system(instructions)),
    }
    out
}

/// Earlier calls written the way the envelope writes them (a template that knows no tools
/// shows only `content`), so the model sees its own past replies, byte for byte.
fn calls_as_text(messages: &[ChatMessage]) -> Vec<ChatMessage> {
    messages
        .iter()
        .map(|message| {
            let mut message = message.clone();
            if !message.tool_calls.is_empty() {
                let calls: Vec<Value> = message
                    .tool_calls
                    .drain(..)
                    .map(|c| {
                        let arguments = serde_json::from_str(&c.arguments)
                            .unwrap_or(Value::String(c.arguments));
                        serde_json::json!({"name": c.name, "arguments": arguments})
                    })
                    .collect();
                let text =
                    crate::template::python_json(&serde_json::json!({ "tool_calls": calls }));
                message.content = if message.content.is_empty() {
                    text
                } else {
                    format!("{}\n{text}", message.content)
                };
            }
            message
        })
        .collect()
}

/// Reads a finished reply per its shape. A reply cut by `max_tokens` is returned as it is
/// (`finish_reason: length`; its JSON may be incomplete), never as calls.
fn finish(shape: ReplyShape, mut completion: Completion) -> Result<Completion> {
    if !completion.finish_reason.is_stop() {
        return Ok(completion);
    }
    match shape {
        ReplyShape::Free => Ok(completion),
        ReplyShape::Checked(format) => {
            format.check_output(&completion.text)?;
            Ok(completion)
        }
        ReplyShape::Tools {
            syntax,
            tools,
            format,
        } => match parse_reply(syntax, &completion.text, &tools)? {
            Reply::Answer(text) => {
                if format.is_json() {
                    format.check_output(&text)?;
                }
                completion.text = text;
                Ok(completion)
            }
            Reply::Calls(calls) => {
                completion.text.clear();
                completion.tool_calls = calls;
                completion.finish_reason = FinishReason::ToolCalls;
                Ok(completion)
            }
        },
    }
}
