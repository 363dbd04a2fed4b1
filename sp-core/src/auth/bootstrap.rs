//! Sessions of the bootstrap admin key (`SP_ADMIN_KEY`): their subject names a fingerprint
//! of the key, so changing or removing the key ends every session opened with it (review
//! finding H3: they outlived the key's rotation).

use super::keys::{constant_time_eq, hash_token};

/// The `key_id` of a request made with the bootstrap admin key itself.
pub const ADMIN_KEY_ID: &str = "admin";

/// Hex digits of the key's hash a subject keeps: enough to tell keys apart, too few to
/// help guess one.
const FINGERPRINT_HEX: usize = 16;

/// The subject of access and refresh tokens opened with the bootstrap admin key
/// `admin_key`: `admin:` and a fingerprint of the key.
///
/// ```
/// use sp_core::auth::{admin_session_subject, is_current_admin_session};
/// let subject = admin_session_subject("old-admin-key-0123456789abcdef");
/// assert!(subject.starts_with("admin:"));
/// assert!(is_current_admin_session(&subject, Some("old-admin-key-0123456789abcdef")));
/// assert!(!is_current_admin_session(&subject, Some("new-admin-key-0123456789abcdef")));
/// assert!(!is_current_admin_session(&subject, None));
/// ```
pub fn admin_session_subject(admin_key: &str) -> String {
    let hash = hash_token(&format!("sp-admin-session:{admin_key}"));
    format!("{ADMIN_KEY_ID}:{}", &hash[..FINGERPRINT_HEX])
}

/// Whether `subject` names an admin session (`admin`, or `admin:` and a fingerprint) —
/// then only [`is_current_admin_session`] may let it in, never a key lookup.
pub fn is_admin_session(subject: &str) -> bool {
    subject == ADMIN_KEY_ID || subject.starts_with("admin:")
}

/// Whether `subject` is a session of the admin key configured now. A bare `admin` subject
/// (tokens issued before sessions named their key) and any subject while no admin key is
/// configured are refused.
pub fn is_current_admin_session(subject: &str, admin_key: Option<&str>) -> bool {
    admin_key.is_some_and(|key| {
        constant_time_eq(subject.as_bytes(), admin_session_subject(key).as_bytes())
    })
}
