//! Identifiers: time-ordered UUIDv7, so ids sort by creation time and index well.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// A time-ordered unique identifier (UUIDv7).
///
/// ```
/// use sp_core::Id;
///
/// let a = Id::new();
/// let b = Id::new();
/// assert!(a < b, "v7 ids sort by creation time");
/// assert_eq!(a.to_string().parse::<Id>().unwrap(), a);
/// assert!("not-an-id".parse::<Id>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Id(Uuid);

impl Id {
    /// A new id for the current instant.
    pub fn new() -> Self {
        Id(Uuid::now_v7())
    }

    /// Wraps an existing UUID (as read back from storage).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Id(uuid)
    }

    /// The underlying UUID.
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// Parses an id supplied by a caller, naming `field` in the error.
    pub fn parse_field(field: &str, raw: &str) -> Result<Self, Error> {
        Uuid::parse_str(raw)
            .map(Id)
            .map_err(|_| Error::invalid_input(field, format!("`{raw}` is not a valid id")))
    }
}

impl Default for Id {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Id {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("id", s)
    }
}
