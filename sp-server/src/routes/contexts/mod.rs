//! `/v1/contexts`: contexts, their messages and memory, and chat turns over HTTP.

mod chat;
mod facts;
mod memory;

mod crud;
pub use crud::router;
