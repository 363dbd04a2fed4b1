//! [`Namespace`]: the tenant space every document, context, service, event and workflow
//! belongs to.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A tenant's space. Every document, section and search belongs to exactly one, and nothing
/// crosses between them.
///
/// ```
/// use sp_core::Namespace;
///
/// assert!(Namespace::new("acme-prod").is_ok());
/// assert!(Namespace::new("Bad Name!").is_err());
/// assert_eq!(Namespace::default().as_str(), "default");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Namespace(String);

impl Namespace {
    /// A namespace of 1 to 64 characters from `a-z 0-9 _ -`.
    pub fn new(name: impl Into<String>) -> Result<Self> {
        let name = name.into();
        let valid = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(Namespace(name))
        } else {
            Err(Error::invalid_input(
                "namespace",
                format!("`{name}` must be 1-64 characters of a-z, 0-9, `_`, `-`"),
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace("default".into())
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
