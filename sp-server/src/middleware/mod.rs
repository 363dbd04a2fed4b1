//! The gateway layers that wrap every route: request ids, tracing, body limit, panics, and
//! the error envelope. [`apply`] puts them around any router, so applications that embed our
//! routes next to their own get the same behaviour.

pub mod auth;
pub(crate) mod envelope;
pub(crate) mod failed_credentials;
mod guard;
mod request_id;
pub(crate) mod route_by_model;
pub mod trace_context;
pub use envelope::error_envelope;
pub use guard::{Guard, guard};
pub use request_id::{MakeRequestIdV7, REQUEST_ID_HEADER, request_id_of};

mod cors;
mod layers;
pub use cors::LiveCors;
pub use layers::{apply, apply_with, apply_with_cors};
