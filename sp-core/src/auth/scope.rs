//! What a credential may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A permission. `admin` implies every other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// Chat, completions, embeddings, models.
    Inference,
    /// Read and search documents.
    DocumentsRead,
    /// Ingest and delete documents.
    DocumentsWrite,
    /// Contexts, their messages, memory and chat.
    Contexts,
    /// The service registry and tool invocation.
    Registry,
    /// The event log and workflows.
    Events,
    /// Everything, including keys and the audit log.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 7] = [
        Scope::Inference,
        Scope::DocumentsRead,
        Scope::DocumentsWrite,
        Scope::Contexts,
        Scope::Registry,
        Scope::Events,
        Scope::Admin,
    ];

    /// The scope's name, e.g. `documents:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Inference => "inference",
            Scope::DocumentsRead => "documents:read",
            Scope::DocumentsWrite => "documents:write",
            Scope::Contexts => "contexts",
            Scope::Registry => "registry",
            Scope::Events => "events",
            Scope::Admin => "admin",
        }
    }

    /// Parses `a,b,c` (spaces allowed); an empty list or an unknown name is an error.
    ///
    /// ```
    /// use sp_core::auth::Scope;
    /// let scopes = Scope::parse_list("inference, documents:read").unwrap();
    /// assert_eq!(scopes, vec![Scope::Inference, Scope::DocumentsRead]);
    /// assert!(Scope::parse_list("root").is_err());
    /// ```
    pub fn parse_list(list: &str) -> Result<Vec<Scope>, Error> {
        let mut scopes: Vec<Scope> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Scope::from_str)
            .collect::<Result<_, _>>()?;
        if scopes.is_empty() {
            return Err(Error::invalid_input("scopes", "name at least one scope"));
        }
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                Error::invalid_input(
                    "scopes",
                    format!("unknown scope `{s}` (known: {})", known.join(", ")),
                )
            })
    }
}

impl TryFrom<String> for Scope {
    type Error = Error;
    fn try_from(value: String) -> Result<Self, Error> {
        value.parse()
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.as_str().to_owned()
    }
}
