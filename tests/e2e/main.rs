//! End-to-end tests across crates, against the real services the test script starts.

mod anthropic_client;
mod contexts_with_model;
mod knowledge_with_model;
mod mcp_client;
mod openai_client;
mod pitr;
mod readiness;
mod responses_client;
mod served;
