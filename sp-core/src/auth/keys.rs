//! API keys: `sp_<id>_<secret>`, stored as the SHA-256 of the whole token.
//!
//! The secret is 32 random bytes (256 bits), so a fast hash is enough: no dictionary or brute
//! force attack applies to it, and a slow password hash (argon2) would cost every request
//! tens of milliseconds for nothing. The id (12 hex characters) finds the row; the hash
//! comparison is constant-time.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rate::Quota;
use super::scope::Scope;
use crate::error::{Error, Result};
use crate::{TenantId, Timestamp};

/// A stored key (never its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// The public id, also the token's second part.
    pub id: String,
    /// Who or what it is for.
    pub name: String,
    /// The tenant it acts for: the only one whose namespaces it reaches (unless `admin`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tenant: TenantId,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The models it may use (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    /// The tools it may call (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    /// Its own rate limit (the server default otherwise).
    pub rate_limit: Option<Quota>,
    /// Its token budget (prompt + completion + embedding), e.g. `100000/day` (the server default otherwise).
    #[serde(default)]
    pub token_limit: Option<Quota>,
    /// Creation time.
    pub created_at: Timestamp,
    /// After this it is refused.
    pub expires_at: Option<Timestamp>,
    /// Set once revoked; refused from then on.
    pub revoked_at: Option<Timestamp>,
    /// When its secret was last rotated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<Timestamp>,
    /// Until when the secret the last rotation replaced still works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_expires_at: Option<Timestamp>,
    /// The hash of that previous secret: the store's business, never serialized.
    #[serde(skip)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub previous_token_hash: Option<String>,
}

/// A key to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewApiKey {
    /// Who or what it is for (1–100 characters).
    pub name: String,
    /// The tenant it acts for (`default` when absent; it must exist). Only keys of the
    /// default tenant — the operator's — may hold `admin`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub tenant: TenantId,
    /// What it may do (at least one).
    pub scopes: Vec<Scope>,
    /// The models it may use, by id (any when absent; at least one when present).
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// The tools it may call, by name (any when absent; at least one when present).
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Its own rate limit.
    #[serde(default)]
    pub rate_limit: Option<Quota>,
    /// Its own token budget (prompt + completion + embedding).
    #[serde(default)]
    pub token_limit: Option<Quota>,
    /// Expiry.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl NewApiKey {
    /// A key named `name` of the default tenant with `scopes`, no limits of its own and no
    /// expiry.
    ///
    /// ```
    /// use sp_core::auth::{NewApiKey, Scope};
    ///
    /// let mut new = NewApiKey::new("ci", vec![Scope::Inference]);
    /// new.models = Some(vec!["smollm2".into()]);
    /// assert!(new.validate().is_ok());
    /// new.tenant = sp_core::TenantId::new("acme")?;
    /// new.scopes.push(Scope::Admin);
    /// assert!(new.validate().is_err(), "admin is the default tenant's only");
    /// # Ok::<(), sp_core::Error>(())
    /// ```
    pub fn new(name: impl Into<String>, scopes: Vec<Scope>) -> Self {
        NewApiKey {
            name: name.into(),
            tenant: TenantId::default(),
            scopes,
            models: None,
            tools: None,
            rate_limit: None,
            token_limit: None,
            expires_at: None,
        }
    }

    /// Checks the name and scopes.
    pub fn validate(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid_input("name", "must be 1-100 characters"));
        }
        if self.scopes.is_empty() {
            return Err(Error::invalid_input("scopes", "name at least one scope"));
        }
        if self.scopes.contains(&Scope::Admin) && !self.tenant.is_default() {
            return Err(Error::invalid_input(
                "scopes",
                format!(
                    "`admin` acts across tenants: only keys of the default tenant may hold it, \
                     not keys of `{}`",
                    self.tenant
                ),
            ));
        }
        for (field, list) in [("models", &self.models), ("tools", &self.tools)] {
            if let Some(list) = list
                && (list.is_empty()
                    || list.len() > 100
                    || list.iter().any(|n| n.trim().is_empty() || n.len() > 200))
            {
                return Err(Error::invalid_input(
                    field,
                    "name 1-100 entries of 1-200 characters, or leave it out to allow any",
                ));
            }
        }
        if self.expires_at.is_some_and(|t| t <= Timestamp::now()) {
            return Err(Error::invalid_input("expires_at", "must be in the future"));
        }
        Ok(())
    }
}

/// A freshly created key and its token, which is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored key.
    pub key: ApiKey,
    /// `sp_<id>_<secret>`.
    pub token: String,
}

/// Where keys live. Implemented on SQLite and PostgreSQL by `sp-data`.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a key with the hash of its token.
    async fn insert(&self, key: &ApiKey, token_hash: &str) -> Result<()>;
    /// A key and its token hash, by id.
    async fn find(&self, id: &str) -> Result<Option<(ApiKey, String)>>;
    /// Every key, newest first.
    async fn list(&self) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; `NotFound` when there is none.
    async fn revoke(&self, id: &str) -> Result<ApiKey>;
    /// Replaces a live key's token hash with `token_hash`; the replaced one keeps working
    /// until `previous_until`. `NotFound` when there is no such key, `Conflict` when it is
    /// revoked.
    async fn rotate(&self, id: &str, token_hash: &str, previous_until: Timestamp)
    -> Result<ApiKey>;
}

/// The longest a rotated-out secret may keep working: 30 days.
pub const MAX_ROTATION_GRACE: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// Gives key `id` a new secret (same id, so the same key); the old one keeps working for
/// `grace` (at most [`MAX_ROTATION_GRACE`]; zero ends it at once).
pub async fn rotate_key(
    store: &dyn KeyStore,
    id: &str,
    grace: std::time::Duration,
) -> Result<CreatedKey> {
    if grace > MAX_ROTATION_GRACE {
        return Err(Error::invalid_input(
            "grace_secs",
            "at most 30 days (2592000)",
        ));
    }
    let token = format!("sp_{id}_{}", random_hex(32)?);
    let micros = i64::try_from(grace.as_micros()).map_err(Error::internal)?;
    let until = Timestamp::from_unix_micros(Timestamp::now().unix_micros() + micros)
        .ok_or_else(|| Error::internal("the grace period ends past the calendar"))?;
    let key = store.rotate(id, &hash_token(&token), until).await?;
    Ok(CreatedKey { key, token })
}

/// The SHA-256 of a token, hex.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes from the OS, as hex (for secrets: tokens, admin keys).
///
/// ```
/// let secret = sp_core::auth::random_hex(16).unwrap();
/// assert_eq!(secret.len(), 32);
/// ```
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|err| Error::internal(format!("no randomness: {err}")))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Creates a key in `store` and returns its token.
pub async fn create_key(store: &dyn KeyStore, new: NewApiKey) -> Result<CreatedKey> {
    new.validate()?;
    let id = random_hex(6)?;
    let token = format!("sp_{id}_{}", random_hex(32)?);
    let mut scopes = new.scopes;
    scopes.sort();
    scopes.dedup();
    let key = ApiKey {
        id,
        name: new.name.trim().to_owned(),
        tenant: new.tenant,
        scopes,
        models: new.models,
        tools: new.tools,
        rate_limit: new.rate_limit,
        token_limit: new.token_limit,
        created_at: Timestamp::now(),
        expires_at: new.expires_at,
        revoked_at: None,
        rotated_at: None,
        previous_expires_at: None,
        previous_token_hash: None,
    };
    store.insert(&key, &hash_token(&token)).await?;
    Ok(CreatedKey { key, token })
}

/// Why a credential was refused; all of them answer 401 with the same message, so a
/// caller learns nothing about which keys exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not `sp_<id>_<secret>`, unknown id, or wrong secret.
    Invalid,
    /// Revoked.
    Revoked,
    /// Past its expiry.
    Expired,
}

/// Checks a presented token against `store`.
pub async fn verify_key(
    store: &dyn KeyStore,
    token: &str,
) -> Result<std::result::Result<ApiKey, Refusal>> {
    let Some(id) = token
        .strip_prefix("sp_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Ok(Err(Refusal::Invalid));
    };
    let Some((key, stored_hash)) = store.find(id).await? else {
        return Ok(Err(Refusal::Invalid));
    };
    let presented = hash_token(token);
    let current = constant_time_eq(presented.as_bytes(), stored_hash.as_bytes());
    // The secret a rotation replaced, during its grace period.
    let previous = key.previous_token_hash.as_ref().is_some_and(|old| {
        constant_time_eq(presented.as_bytes(), old.as_bytes())
            && key
                .previous_expires_at
                .is_some_and(|t| t > Timestamp::now())
    });
    if !current && !previous {
        return Ok(Err(Refusal::Invalid));
    }
    if key.revoked_at.is_some() {
        return Ok(Err(Refusal::Revoked));
    }
    if key.expires_at.is_some_and(|t| t <= Timestamp::now()) {
        return Ok(Err(Refusal::Expired));
    }
    Ok(Ok(key))
}

/// Equal without an early exit, so timing says nothing about where two values differ — nor
/// about their lengths: both are hashed (SHA-256) and the digests compared byte by byte
/// (review finding L2: a length mismatch used to return at once, telling a guesser the
/// admin key's length).
///
/// ```
/// use sp_core::auth::constant_time_eq;
/// assert!(constant_time_eq(b"secret", b"secret"));
/// assert!(!constant_time_eq(b"secret", b"secret!"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_verify_until_revoked() {
        let store = crate::auth::MemoryKeyStore::default();
        let created = create_key(&store, NewApiKey::new("ci", vec![Scope::Inference]))
            .await
            .unwrap();
        assert!(
            created
                .token
                .starts_with(&format!("sp_{}_", created.key.id))
        );
        assert_eq!(created.token.len(), 3 + 12 + 1 + 64);
        assert_eq!(
            verify_key(&store, &created.token)
                .await
                .unwrap()
                .unwrap()
                .name,
            "ci"
        );
        // One character changed (to a different one: the secret may well end in `0`).
        let (head, last) = created.token.split_at(created.token.len() - 1);
        let forged = format!("{head}{}", if last == "0" { "1" } else { "0" });
        assert_eq!(
            verify_key(&store, &forged).await.unwrap(),
            Err(Refusal::Invalid)
        );
        assert_eq!(
            verify_key(&store, "Bearer x").await.unwrap(),
            Err(Refusal::Invalid)
        );
        store.revoke(&created.key.id).await.unwrap();
        assert_eq!(
            verify_key(&store, &created.token).await.unwrap(),
            Err(Refusal::Revoked)
        );
        let (_, stored) = store.find(&created.key.id).await.unwrap().unwrap();
        assert!(
            !stored.contains(&created.token[16..]),
            "the secret is never stored"
        );
    }
}
