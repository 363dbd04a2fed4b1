//! The HTTP routes, one module per area.

mod agents;
pub(crate) mod anthropic;
mod console;
mod contexts;
mod documents;
mod events;
mod fallback;
pub(crate) mod health;
mod hub;
mod keys;
mod mcp;
mod openai;
pub(crate) mod params;
mod replicas;
mod requests;
mod responses;
mod tenants;
mod tokens;
mod usage;
mod workflows;

mod tree;
pub use tree::{openapi, router};
