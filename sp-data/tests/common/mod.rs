//! Helpers shared by sp-data's integration tests.

/// A service URL the test script exports; a missing one fails the test loudly, because a
/// storage test that silently skips its backend proves nothing.
pub fn service_url(var: &str) -> String {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{var} is not set: run the suite with scripts/test.sh, or export the variables \
             printed by `scripts/services.sh up`"
        ),
    }
}
