//! # sp-core
//!
//! The shared foundation of Story Portal: identifiers, timestamps, pagination, the error type
//! with its registry of stable [`ErrorCode`]s, configuration, and the traits that backends
//! implement. It depends on no database, cache or model runtime; `sp-data` and `sp-llm`
//! implement its traits and `sp-server` / `sp-py` adapt them to HTTP and Python.
//!
//! ```
//! use sp_core::{Error, ErrorCode, Id, PageRequest};
//!
//! let id = Id::new();
//! let page = PageRequest::new(Some(20), None)?;
//! assert_eq!(page.limit, 20);
//! let err = Error::NotFound { kind: sp_core::Resource::Document, id: id.to_string() };
//! assert_eq!(err.code(), ErrorCode::NotFound);
//! assert_eq!(err.code().http_status(), 404);
//! # Ok::<(), sp_core::Error>(())
//! ```
//!
//! ## Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `openapi` | no | `utoipa::ToSchema` for the types the HTTP API carries |
//!
//! Backends are chosen in `sp-data` and `sp-llm`.

pub mod agents;
pub mod auth;
pub mod cache;
pub mod catalogue;
pub mod chat;
pub mod codes;
pub mod config;
pub mod context;
pub mod error;
pub mod events;
pub mod facts;
pub mod health;
pub mod hub;
pub mod id;
pub mod knowledge;
pub mod model;
pub mod namespace;
pub mod nul;
#[cfg(feature = "openapi")]
mod openapi;
pub mod page;
pub mod replicas;
pub mod rerank;
pub mod responses;
pub mod retention;
pub mod tenants;
pub mod time;
pub mod trace;
pub mod uncancelled;
pub mod usage;
pub mod workflows;

pub use codes::ErrorCode;
pub use config::{Config, ConfigSources};
pub use error::{BoxError, Error, Resource, Result};
pub use id::Id;
pub use model::{ChatModel, Embedder, Tokenizer};
pub use namespace::{Namespace, OPERATOR_NAMESPACE, TenantId};
pub use page::{Cursor, Page, PageRequest};
pub use time::Timestamp;

/// The version of the Story Portal crates.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
