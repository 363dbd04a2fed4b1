//! Who a verified credential speaks for, and what it may do.

use super::{Quota, Scope};
use crate::error::{Error, Result};
use crate::tenants::TenantQuotas;
use crate::{Namespace, TenantId};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The key id (`admin` for the bootstrap key).
    pub key_id: String,
    /// The tenant it acts for (the bootstrap key: `default`).
    pub tenant: TenantId,
    /// Its scopes.
    pub scopes: Vec<Scope>,
    /// The models it may use (any when `None`).
    pub models: Option<Vec<String>>,
    /// The tools it may call (any when `None`).
    pub tools: Option<Vec<String>>,
    /// Its own rate limit, if any.
    pub rate_limit: Option<Quota>,
    /// Its own token budget (prompt + completion + embedding), if any.
    pub token_limit: Option<Quota>,
    /// Its tenant's quotas, shared with the tenant's other keys.
    pub tenant_quotas: TenantQuotas,
}

impl Principal {
    /// A caller of the default tenant with `scopes` and no restrictions or limits of its own.
    ///
    /// ```
    /// use sp_core::auth::{Principal, Scope};
    /// let p = Principal::new("k", vec![Scope::DocumentsRead]);
    /// assert!(p.allows(Scope::DocumentsRead));
    /// assert!(!p.allows(Scope::DocumentsWrite));
    /// ```
    pub fn new(key_id: impl Into<String>, scopes: Vec<Scope>) -> Self {
        Principal {
            key_id: key_id.into(),
            tenant: TenantId::default(),
            scopes,
            models: None,
            tools: None,
            rate_limit: None,
            token_limit: None,
            tenant_quotas: TenantQuotas::default(),
        }
    }

    /// Whether it may act within `scope` (`admin` may do everything).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes
            .iter()
            .any(|s| *s == scope || *s == Scope::Admin)
    }

    /// Whether it acts across tenants (`admin`).
    pub fn crosses_tenants(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }

    /// The namespace a request of this caller naming `asked` (or none: its tenant's
    /// `default`) reaches. Another tenant's is `NotFound`, as an absent one would be, unless
    /// the caller is an admin and named it in full (`acme.docs`).
    ///
    /// ```
    /// use sp_core::auth::{Principal, Scope};
    /// use sp_core::{Namespace, TenantId};
    ///
    /// let mut caller = Principal::new("k", vec![Scope::DocumentsRead]);
    /// caller.tenant = TenantId::new("acme")?;
    /// assert_eq!(caller.namespace(None)?.as_str(), "acme.default");
    /// assert!(caller.namespace(Some(Namespace::new("globex.docs")?)).is_err());
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn namespace(&self, asked: Option<Namespace>) -> Result<Namespace> {
        match asked {
            Some(ns) => ns.for_tenant(&self.tenant, self.crosses_tenants()),
            None => Ok(Namespace::default_of(&self.tenant)),
        }
    }

    /// Refuses a model this key may not use (`403 SP-AUTH-002`).
    pub fn may_use_model(&self, model: &str) -> Result<()> {
        allowed(&self.models, model, "model")
    }

    /// Refuses a tool this key may not call (`403 SP-AUTH-002`).
    pub fn may_call_tool(&self, tool: &str) -> Result<()> {
        allowed(&self.tools, tool, "tool")
    }
}

fn allowed(list: &Option<Vec<String>>, name: &str, what: &str) -> Result<()> {
    match list {
        Some(list) if !list.iter().any(|n| n == name) => Err(Error::Forbidden {
            scope: format!("{what}:{name}"),
        }),
        _ => Ok(()),
    }
}
