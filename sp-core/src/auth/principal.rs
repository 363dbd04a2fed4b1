//! Who a verified credential speaks for, and what it may do.

use super::{Quota, Scope};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The key id (`admin` for the bootstrap key).
    pub key_id: String,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// Its own rate limit, if any.
    pub rate_limit: Option<Quota>,
    /// Its own budget of generated tokens, if any.
    pub token_limit: Option<Quota>,
}

impl Principal {
    /// Whether it may act within `scope` (`admin` may do everything).
    ///
    /// ```
    /// use sp_core::auth::{Principal, Scope};
    /// let p = Principal {
    ///     key_id: "k".into(),
    ///     scopes: vec![Scope::DocumentsRead],
    ///     rate_limit: None,
    ///     token_limit: None,
    /// };
    /// assert!(p.allows(Scope::DocumentsRead));
    /// assert!(!p.allows(Scope::DocumentsWrite));
    /// ```
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }
}
