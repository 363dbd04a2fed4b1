//! Who may call: scopes, API keys and their store, rate-limit quotas.
//!
//! The gateway in `sp-server` turns a request's credential into a [`Principal`] with these
//! helpers; the logic and the types live here so every front end (HTTP, Python, CLI) agrees.

mod admin;
mod audit;
mod bootstrap;
mod budget;
mod gcra;
mod keys;
mod memory;
mod rate;
mod refresh;
mod scope;
pub use admin::KeyAdmin;
pub use audit::{AuditEntry, AuditFilter, AuditStore};
pub use bootstrap::{
    ADMIN_KEY_ID, admin_session_subject, is_admin_session, is_current_admin_session,
};
pub use budget::{TokenBucket, TokenReservation};
pub use gcra::{
    Decision, LocalRateLimiter, RateLimiter, gcra_decide, gcra_refund, gcra_spend, now_nanos,
};
pub use keys::{
    ApiKey, CreatedKey, KeyStore, MAX_ROTATION_GRACE, NewApiKey, Refusal, constant_time_eq,
    create_key, hash_token, random_hex, rotate_key, verify_key,
};
pub use memory::{MemoryAuditStore, MemoryKeyStore, MemoryRefreshStore};
pub use rate::Quota;
pub use refresh::{
    RefreshRecord, RefreshStore, Rotation, issue_refresh, revoke_session, rotate_refresh,
    spawn_refresh_pruning,
};
pub use scope::Scope;

mod principal;
pub use principal::Principal;
