//! [`Namespace`]: the space every document, context, service, event and workflow belongs to,
//! and the [`TenantId`] that owns it.
//!
//! Every tenant has its own namespaces: `docs` of tenant `acme` and `docs` of tenant `globex`
//! are different spaces and nothing crosses between them. A namespace's full name is
//! `<tenant>.<name>` — `acme.docs` — except in the `default` tenant, whose namespaces keep
//! their bare names (`docs`), so data stored before tenants existed is the default tenant's
//! without a migration. A `.` cannot occur in a bare name, so the two forms never collide.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The tenant the data stored before tenants existed, and the bootstrap admin, belong to.
pub const DEFAULT_TENANT: &str = "default";

/// Whether `name` is `len` characters from `a-z 0-9 _ -`.
fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A tenant's id: 1 to 32 characters from `a-z 0-9 _ -`.
///
/// ```
/// use sp_core::TenantId;
///
/// assert!(TenantId::new("acme").is_ok());
/// assert!(TenantId::new("acme.prod").is_err());
/// assert!(TenantId::default().is_default());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// A tenant id, checked.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if is_name(&id, 32) {
            Ok(TenantId(id))
        } else {
            Err(Error::invalid_input(
                "tenant",
                format!("`{id}` must be 1-32 characters of a-z, 0-9, `_`, `-`"),
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the [`DEFAULT_TENANT`].
    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_TENANT
    }
}

impl Default for TenantId {
    fn default() -> Self {
        TenantId(DEFAULT_TENANT.into())
    }
}

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        TenantId::new(value)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.0
    }
}

/// A namespace, by its full name: `name` in the default tenant, `tenant.name` in any other.
/// The bare name is 1 to 64 characters from `a-z 0-9 _ -`.
///
/// ```
/// use sp_core::{Namespace, TenantId};
///
/// assert!(Namespace::new("acme-prod").is_ok());
/// assert!(Namespace::new("Bad Name!").is_err());
/// assert_eq!(Namespace::default().as_str(), "default");
///
/// let acme = TenantId::new("acme")?;
/// let docs = Namespace::of(&acme, "docs")?;
/// assert_eq!(docs.as_str(), "acme.docs");
/// assert_eq!(docs.tenant(), acme);
/// assert_eq!(docs.name(), "docs");
/// // The default tenant's namespaces keep their bare names.
/// assert_eq!(Namespace::new("default.docs")?.as_str(), "docs");
/// # Ok::<(), sp_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// A namespace by its full name (`docs`, `acme.docs`), checked.
    pub fn new(full_name: impl Into<String>) -> Result<Self> {
        let full_name = full_name.into();
        match full_name.split_once('.') {
            None => Self::bare(full_name),
            Some((tenant, name)) => match TenantId::new(tenant) {
                Ok(tenant) => Self::of(&tenant, name),
                Err(_) => Err(Self::refused(&full_name)),
            },
        }
    }

    /// The namespace `name` of `tenant`.
    pub fn of(tenant: &TenantId, name: &str) -> Result<Self> {
        let bare = Self::bare(name.to_owned())?;
        if tenant.is_default() {
            Ok(bare)
        } else {
            Ok(Namespace(format!("{tenant}.{}", bare.0)))
        }
    }

    /// The `default` namespace of `tenant`: where a request that names none goes.
    pub fn default_of(tenant: &TenantId) -> Self {
        if tenant.is_default() {
            Namespace::default()
        } else {
            Namespace(format!("{tenant}.default"))
        }
    }

    fn bare(name: String) -> Result<Self> {
        if is_name(&name, 64) {
            Ok(Namespace(name))
        } else {
            Err(Self::refused(&name))
        }
    }

    fn refused(name: &str) -> Error {
        Error::invalid_input(
            "namespace",
            format!(
                "`{name}` must be 1-64 characters of a-z, 0-9, `_`, `-`, \
                 optionally after `tenant.`"
            ),
        )
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tenant it belongs to.
    pub fn tenant(&self) -> TenantId {
        match self.0.split_once('.') {
            Some((tenant, _)) => TenantId(tenant.to_owned()),
            None => TenantId::default(),
        }
    }

    /// Whether it names its tenant (`acme.docs`) rather than only itself (`docs`).
    pub fn names_tenant(&self) -> bool {
        self.0.contains('.')
    }

    /// The name within its tenant.
    pub fn name(&self) -> &str {
        self.0.split_once('.').map_or(&self.0, |(_, name)| name)
    }

    /// Where a caller of `tenant` asking for `self` goes: a bare name is the caller's own
    /// tenant's; a full name must be of the caller's tenant unless `cross` (an admin), and is
    /// otherwise `NotFound` — exactly what an absent namespace answers, so a caller learns
    /// nothing of other tenants.
    ///
    /// ```
    /// use sp_core::{Namespace, TenantId};
    ///
    /// let acme = TenantId::new("acme")?;
    /// let asked = Namespace::new("docs")?;
    /// assert_eq!(asked.for_tenant(&acme, false)?.as_str(), "acme.docs");
    /// let foreign = Namespace::new("globex.docs")?;
    /// assert!(foreign.clone().for_tenant(&acme, false).is_err());
    /// assert_eq!(foreign.for_tenant(&TenantId::default(), true)?.as_str(), "globex.docs");
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    ///
    /// The [operator namespace](Namespace::operator) is reached only with `cross`.
    pub fn for_tenant(self, tenant: &TenantId, cross: bool) -> Result<Self> {
        let reached = if !self.names_tenant() {
            Self::of(tenant, &self.0)?
        } else if cross || self.tenant() == *tenant {
            self
        } else {
            return Err(Error::NotFound {
                kind: crate::Resource::Namespace,
                id: self.0,
            });
        };
        if !cross && reached == Namespace::operator() {
            return Err(Error::NotFound {
                kind: crate::Resource::Namespace,
                id: reached.0,
            });
        }
        Ok(reached)
    }

    /// Where the platform records the operator's business — keys and tenants created,
    /// changed, revoked (`keys` and `tenants` streams) — readable by admins only: to any other
    /// caller it is absent, as another tenant's namespace is (review finding L11: these
    /// events used to go to `default`, readable by every `events` key).
    ///
    /// ```
    /// use sp_core::{Namespace, TenantId};
    /// let asked = Namespace::new("sp-operator")?;
    /// assert!(asked.clone().for_tenant(&TenantId::default(), false).is_err());
    /// assert_eq!(asked.for_tenant(&TenantId::default(), true)?, Namespace::operator());
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn operator() -> Self {
        Namespace(OPERATOR_NAMESPACE.into())
    }
}

/// The name of [`Namespace::operator`].
pub const OPERATOR_NAMESPACE: &str = "sp-operator";

impl Default for Namespace {
    fn default() -> Self {
        Namespace("default".into())
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Namespace {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Namespace::new(value)
    }
}

impl From<Namespace> for String {
    fn from(ns: Namespace) -> String {
        ns.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_parse_and_bare_names_stay_in_the_default_tenant() {
        let ns = Namespace::new("acme.docs").unwrap();
        assert_eq!((ns.tenant().as_str(), ns.name()), ("acme", "docs"));
        assert!(Namespace::new("docs").unwrap().tenant().is_default());
        for bad in ["acme.", ".docs", "a.b.c", "Acme.docs", "acme docs", ""] {
            assert!(Namespace::new(bad).is_err(), "{bad:?} accepted");
        }
        let long_tenant = format!("{}.docs", "t".repeat(33));
        assert!(Namespace::new(long_tenant).is_err());
    }

    #[test]
    fn a_caller_reaches_only_its_own_tenant_unless_it_crosses() {
        let acme = TenantId::new("acme").unwrap();
        let own = Namespace::new("acme.docs").unwrap();
        assert_eq!(own.clone().for_tenant(&acme, false).unwrap(), own);
        let default_docs = Namespace::new("docs").unwrap();
        // A bare name is the caller's own, never the default tenant's.
        assert_eq!(
            default_docs.for_tenant(&acme, false).unwrap().as_str(),
            "acme.docs"
        );
        let err = Namespace::new("globex.docs")
            .unwrap()
            .for_tenant(&acme, false)
            .unwrap_err();
        assert_eq!(err.to_string(), "namespace `globex.docs` not found");
        assert_eq!(Namespace::default_of(&acme).as_str(), "acme.default");
    }
}
