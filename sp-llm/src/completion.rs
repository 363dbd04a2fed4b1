//! What a submitted request gives back: the stream of its events, drained into one
//! completion when the caller wants it whole, and the submission of `n` requests that share a
//! prompt.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use sp_core::chat::{Completion, StreamEvent};
use sp_core::{Error, Result};
use tokio::sync::mpsc::UnboundedReceiver;

/// Generated text as it arrives. Dropping it cancels the generation at the next decode step
/// and frees its slot.
#[derive(Debug)]
pub struct CompletionStream {
    pub(crate) receiver: UnboundedReceiver<Result<StreamEvent>>,
    /// The `model.call` span (a trace span with the server's `otel` feature): open from
    /// submission until the stream ends or is dropped, so it lasts as long as the generation.
    pub(crate) span: tracing::Span,
}

impl Stream for CompletionStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.receiver.poll_recv(cx);
        match &next {
            Poll::Ready(Some(Ok(StreamEvent::Done { usage, .. }))) => {
                self.span
                    .record("completion_tokens", usage.completion_tokens);
                self.span.record("cached_tokens", usage.cached_tokens);
            }
            Poll::Ready(Some(Err(err))) => {
                self.span.record("error_code", err.code().as_str());
            }
            _ => {}
        }
        next
    }
}

/// Submits `n` requests that share a prompt: the first alone, the others once its prompt is in
/// the cache (the scheduler then copies that cache instead of computing the prompt again).
pub(crate) async fn submit_n<T>(
    n: usize,
    mut submit: impl FnMut(usize, Option<tokio::sync::oneshot::Sender<()>>) -> Result<T>,
) -> Result<Vec<T>> {
    let (told, prefilled) = tokio::sync::oneshot::channel();
    let mut pending = vec![submit(0, Some(told))?];
    if n > 1 {
        // Told when the first request picks its first token; a failed one drops the sender,
        // and the others then go ahead (and fail the same way).
        let _ = prefilled.await;
        for i in 1..n {
            pending.push(submit(i, None)?);
        }
    }
    Ok(pending)
}

/// Drains a stream into one completion.
pub(crate) async fn collect(mut stream: CompletionStream) -> Result<Completion> {
    use futures::StreamExt as _;
    let mut text = String::new();
    let mut logprobs = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta { text: delta } => text.push_str(&delta),
            StreamEvent::Done {
                finish_reason,
                usage,
            } => {
                return Ok(Completion {
                    text,
                    finish_reason,
                    usage,
                    tool_calls: Vec::new(),
                    logprobs: logprobs.take(),
                });
            }
            StreamEvent::Logprobs { tokens } => {
                logprobs.get_or_insert_with(Vec::new).extend(tokens);
            }
            StreamEvent::ToolCalls { .. } => {}
        }
    }
    // The worker only hangs up without a Done event if it died.
    Err(Error::Inference(
        "the inference worker stopped before finishing the request".into(),
    ))
}
