//! Keyset pagination: opaque cursors and pages.
//!
//! A cursor encodes the sort key of the last item a page returned; the next page starts
//! strictly after it. Unlike offsets, this stays correct while rows are inserted or deleted.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Items per page when the caller does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The largest page a caller may ask for.
pub const MAX_PAGE_LIMIT: u32 = 1000;

const CURSOR_VERSION: u8 = 1;

/// An opaque pagination cursor, safe to put in a URL.
///
/// ```
/// use sp_core::Cursor;
///
/// let cursor = Cursor::encode(&(1_700_000_000_i64, "doc-42")).unwrap();
/// let back: (i64, String) = cursor.decode().unwrap();
/// assert_eq!(back, (1_700_000_000, "doc-42".to_string()));
/// assert!(Cursor::from("garbage".to_string()).decode::<(i64, String)>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Cursor(String);

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    v: u8,
    k: T,
}

impl Cursor {
    /// Encodes a sort key (any serialisable value) into a cursor.
    pub fn encode<T: Serialize>(key: &T) -> Result<Self> {
        let json = serde_json::to_vec(&Envelope {
            v: CURSOR_VERSION,
            k: key,
        })
        .map_err(Error::internal)?;
        Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
    }

    /// Decodes the sort key; a cursor from elsewhere gives [`Error::InvalidCursor`].
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        let bytes = URL_SAFE_NO_PAD
            .decode(self.0.as_bytes())
            .map_err(|_| Error::InvalidCursor("not base64url".into()))?;
        let envelope: Envelope<T> = serde_json::from_slice(&bytes)
            .map_err(|_| Error::InvalidCursor("unrecognised contents".into()))?;
        if envelope.v != CURSOR_VERSION {
            return Err(Error::InvalidCursor(format!(
                "version {} is not supported",
                envelope.v
            )));
        }
        Ok(envelope.k)
    }

    /// The cursor's text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Cursor {
    fn from(raw: String) -> Self {
        Cursor(raw)
    }
}

/// What a caller asks for: how many items, starting after which cursor.
///
/// ```
/// use sp_core::PageRequest;
///
/// let page = PageRequest::new(None, None).unwrap();
/// assert_eq!(page.limit, 50);
/// assert!(PageRequest::new(Some(0), None).is_err());
/// assert!(PageRequest::new(Some(5000), None).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Maximum number of items to return (1..=[`MAX_PAGE_LIMIT`]).
    pub limit: u32,
    /// Continue after this cursor, or start from the beginning.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Validates a caller's `limit` and `cursor`.
    pub fn new(limit: Option<u32>, cursor: Option<String>) -> Result<Self> {
        let limit = limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            return Err(Error::invalid_input(
                "limit",
                format!("must be between 1 and {MAX_PAGE_LIMIT}, got {limit}"),
            ));
        }
        Ok(PageRequest {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()).map(Cursor),
        })
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_PAGE_LIMIT,
            cursor: None,
        }
    }
}

/// One page of results and the cursor of the next, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    /// The items of this page, in order.
    pub items: Vec<T>,
    /// Pass this to get the next page; `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row, if present, only
    /// proves that another page exists and is dropped; `key` gives the cursor of the last kept item.
    pub fn from_rows<K: Serialize>(
        mut rows: Vec<T>,
        limit: u32,
        key: impl Fn(&T) -> K,
    ) -> Result<Self> {
        let limit = limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some(last) if has_more => Some(Cursor::encode(&key(last))?),
            _ => None,
        };
        Ok(Page {
            items: rows,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_rows_sets_cursor_only_when_more_exist() {
        let page = Page::from_rows(vec![1, 2, 3], 2, |n| *n).unwrap();
        assert_eq!(page.items, vec![1, 2]);
        let after: i32 = page.next_cursor.unwrap().decode().unwrap();
        assert_eq!(after, 2);

        let last = Page::from_rows(vec![1, 2], 2, |n| *n).unwrap();
        assert_eq!(last.items, vec![1, 2]);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn foreign_cursor_is_rejected_with_code() {
        let err = Cursor::from("eyJ2Ijo5LCJrIjoxfQ".to_string())
            .decode::<i32>()
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidCursor);
        assert!(err.to_string().contains("version 9"), "{err}");
    }
}
