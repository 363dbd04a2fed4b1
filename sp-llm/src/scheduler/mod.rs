//! The worker thread that owns the llama.cpp context and decodes every slot together.
//!
//! Each loop iteration is one decode step: admit waiting requests into free slots (reusing the
//! longest cached prefix), drop cancelled ones, build one batch with a token for every
//! generating slot plus prompt chunks for prefilling slots (within `batch_size`), decode, and
//! sample. New requests therefore join between steps (continuous batching); a dropped stream is
//! noticed before the next step.

mod slot;
pub(crate) use slot::{Delivery, Job};

mod batching;
mod forget;
mod kv_disk;
mod kv_file;
mod persist;
mod prefix_cache;
mod reuse;
mod speculate;
pub(crate) use batching::Scheduler;
pub(crate) use forget::Forgets;
pub(crate) use kv_disk::DiskKv;
pub use kv_file::forget_kv_files;
