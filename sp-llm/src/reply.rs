//! The stream of a chat under a response format or tools.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use sp_core::chat::{Completion, ResponseFormat, StreamEvent};
use sp_core::{Error, Result};

use crate::engine::CompletionStream;

type Finisher = Box<dyn FnOnce(Completion) -> Result<Completion> + Send>;

/// Events of a chat's reply. Free text and JSON arrive as they are generated (JSON is checked
/// when it ends: a reply that fails the check ends the stream with an error instead of
/// `Done`); a reply that may be tool calls arrives whole, once it is read. Dropping the stream
/// cancels the generation.
pub struct ReplyStream {
    inner: CompletionStream,
    mode: Mode,
    /// Events ready to hand out, in order.
    ready: std::collections::VecDeque<Result<StreamEvent>>,
    done: bool,
}

enum Mode {
    Live {
        check: Option<ResponseFormat>,
        text: String,
    },
    Whole {
        text: String,
        logprobs: Option<Vec<sp_core::chat::TokenLogprob>>,
        finisher: Option<Finisher>,
    },
}

impl std::fmt::Debug for ReplyStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyStream").finish_non_exhaustive()
    }
}

impl ReplyStream {
    pub(crate) fn live(inner: CompletionStream, check: Option<ResponseFormat>) -> Self {
        Self::new(
            inner,
            Mode::Live {
                check,
                text: String::new(),
            },
        )
    }

    pub(crate) fn whole(inner: CompletionStream, finisher: Finisher) -> Self {
        Self::new(
            inner,
            Mode::Whole {
                text: String::new(),
                logprobs: None,
                finisher: Some(finisher),
            },
        )
    }

    fn new(inner: CompletionStream, mode: Mode) -> Self {
        ReplyStream {
            inner,
            mode,
            ready: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// Takes one event of the generation and queues what the caller should see.
    fn absorb(&mut self, event: Result<StreamEvent>) {
        let event = match event {
            Ok(event) => event,
            Err(err) => {
                self.done = true;
                self.ready.push_back(Err(err));
                return;
            }
        };
        match (&mut self.mode, event) {
            (Mode::Live { text, .. }, StreamEvent::Delta { text: delta }) => {
                text.push_str(&delta);
                self.ready.push_back(Ok(StreamEvent::Delta { text: delta }));
            }
            (
                Mode::Live { check, text },
                StreamEvent::Done {
                    finish_reason,
                    usage,
                },
            ) => {
                self.done = true;
                if finish_reason.is_stop()
                    && let Some(format) = check
                    && let Err(err) = format.check_output(text)
                {
                    self.ready.push_back(Err(err));
                    return;
                }
                self.ready.push_back(Ok(StreamEvent::Done {
                    finish_reason,
                    usage,
                }));
            }
            (Mode::Live { .. }, other) => self.ready.push_back(Ok(other)),
            (Mode::Whole { text, .. }, StreamEvent::Delta { text: delta }) => text.push_str(&delta),
            (Mode::Whole { logprobs, .. }, StreamEvent::Logprobs { tokens }) => {
                logprobs.get_or_insert_with(Vec::new).extend(tokens);
            }
            (Mode::Whole { .. }, StreamEvent::ToolCalls { .. }) => {}
            (
                Mode::Whole {
                    text,
                    logprobs,
                    finisher,
                },
                StreamEvent::Done {
                    finish_reason,
                    usage,
                },
            ) => {
                self.done = true;
                let completion = Completion {
                    text: std::mem::take(text),
                    finish_reason,
                    usage,
                    tool_calls: Vec::new(),
                    logprobs: logprobs.take(),
                };
                let Some(finisher) = finisher.take() else {
                    self.ready
                        .push_back(Err(Error::internal("a reply finished twice")));
                    return;
                };
                match finisher(completion) {
                    Err(err) => self.ready.push_back(Err(err)),
                    Ok(done) => {
                        if let Some(tokens) = done.logprobs {
                            self.ready.push_back(Ok(StreamEvent::Logprobs { tokens }));
                        }
                        if !done.text.is_empty() {
                            self.ready
                                .push_back(Ok(StreamEvent::Delta { text: done.text }));
                        }
                        if !done.tool_calls.is_empty() {
                            self.ready.push_back(Ok(StreamEvent::ToolCalls {
                                calls: done.tool_calls,
                            }));
                        }
                        self.ready.push_back(Ok(StreamEvent::Done {
                            finish_reason: done.finish_reason,
                            usage: done.usage,
                        }));
                    }
                }
            }
        }
    }
}

impl Stream for ReplyStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(event));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(event)) => self.absorb(event),
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::Inference(
                        "the inference worker stopped before finishing the request".into(),
                    ))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
