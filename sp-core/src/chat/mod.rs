//! Chat and completion requests, their answers, and sampling settings: the vocabulary shared
//! by the inference engine, the server's OpenAI-compatible API and the Python bindings.

mod format;
pub mod openai;
mod sampling;
mod tools;
pub use format::{MAX_CONSTRAINT_BYTES, ResponseFormat, schema_violations};
pub use sampling::{MAX_LOGIT_BIAS, MAX_STOP_SEQUENCES, MAX_TOP_LOGPROBS, Sampling};
pub use tools::{MAX_TOOLS, ToolCall, ToolChoice, ToolDefinition, Tools};

mod message;
pub use message::{
    ChatMessage, ChatOptions, Completion, FinishReason, Role, StreamEvent, TokenLogprob,
    TopLogprob, Usage,
};
