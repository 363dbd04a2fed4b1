//! The composition root of Story Portal: [`Platform`] opens every store of the configured
//! backends once and wires the services on them — knowledge, contexts, keys, the service hub,
//! the event log and workflows — with the model when one is given. The server, the Python
//! bindings and Rust embedders all hold a `Platform`, so every entry point runs the same
//! services the same way.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use sp_core::knowledge::NewDocument;
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = sp_core::Config::default();
//! config.data_dir = dir.path().to_path_buf();
//! let platform = sp_platform::Platform::builder(config).build().await?;
//! let new: NewDocument = serde_json::from_value(serde_json::json!({
//!     "title": "Otters", "content": "Otters hold hands while they sleep."}))?;
//! let stored = platform.knowledge.ingest(new).await?;
//! assert_eq!(stored.document.title, "Otters");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod builder;

pub use builder::{HASH_DIMENSIONS, KEY_LOOKUP_TTL, Platform, PlatformBuilder, USAGE_FLUSH_EVERY};
