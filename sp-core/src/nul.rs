//! U+0000 fails closed everywhere: PostgreSQL keeps no NUL in `text` or `jsonb`, so a value
//! holding one is refused on every backend with a coded 400 (review findings M3 and L12: it
//! was a 500 on PostgreSQL and stored fine on SQLite).

use serde_json::Value;

use crate::error::{Error, Result};

/// Why a value holding U+0000 is refused.
pub const NUL_REASON: &str = "contains a NUL character (U+0000), which the stores cannot keep";

/// Whether any string or key in `value` holds U+0000.
///
/// ```
/// assert!(sp_core::nul::holds_nul(&serde_json::json!({"a": ["x\u{0}"]})));
/// assert!(!sp_core::nul::holds_nul(&serde_json::json!({"a": 1})));
/// ```
pub fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Refuses `text` holding U+0000, naming `field`.
pub fn refuse_nul(field: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid_input(field, NUL_REASON));
    }
    Ok(())
}

/// Refuses a JSON `value` holding U+0000 in any string or key, naming `field`.
pub fn refuse_nul_in(field: &str, value: &Value) -> Result<()> {
    if holds_nul(value) {
        return Err(Error::invalid_input(field, NUL_REASON));
    }
    Ok(())
}
