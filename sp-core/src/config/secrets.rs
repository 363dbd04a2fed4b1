//! Secret settings: read from files (`…_FILE`, the convention of Docker and Kubernetes
//! secrets) and never shown — `sp config`, `Debug` and logs see them redacted.

use std::path::Path;

use super::root::Config;
use crate::error::{Error, Result};

/// What a redacted secret reads as.
pub const REDACTED: &str = "<redacted>";

/// Each variable naming a file that holds a secret setting, and the setting.
const SECRET_FILES: &[(&str, &str)] = &[
    ("DATABASE_URL_FILE", "database.url"),
    ("SP_DATABASE__URL_FILE", "database.url"),
    ("SP_DATABASE__READ_URL_FILE", "database.read_url"),
    ("REDIS_URL_FILE", "redis.url"),
    ("SP_REDIS__URL_FILE", "redis.url"),
    ("SP_ADMIN_KEY_FILE", "auth.admin_key"),
    ("SP_AUTH__ADMIN_KEY_FILE", "auth.admin_key"),
    ("SP_AUTH__JWT__HS256_SECRET_FILE", "auth.jwt.hs256_secret"),
];

/// Whether an `SP_` variable is one of the `…_FILE` ones (not a setting of its own).
pub(super) fn is_secret_file_variable(name: &str) -> bool {
    SECRET_FILES
        .iter()
        .any(|(variable, _)| variable.eq_ignore_ascii_case(name))
}

/// The secret settings that `lookup` (the environment) points at files for, each with the
/// file's content (one trailing newline dropped). Refused: an unreadable or empty file, and
/// a setting given both ways (`SP_ADMIN_KEY` and `SP_ADMIN_KEY_FILE`), which would leave
/// one of them silently unused.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let file = dir.path().join("admin_key");
/// std::fs::write(&file, "an-admin-key-of-24-characters-at-least\n")?;
/// let path = file.display().to_string();
/// let env = |name: &str| (name == "SP_ADMIN_KEY_FILE").then(|| path.clone());
/// let found = sp_core::config::secret_files(env)?;
/// assert_eq!(found, [("auth.admin_key", "an-admin-key-of-24-characters-at-least".to_owned())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn secret_files(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String)>> {
    let mut found = Vec::new();
    for (variable, key) in SECRET_FILES {
        let Some(path) = lookup(variable) else {
            continue;
        };
        let direct = variable.trim_end_matches("_FILE");
        let refuse = |reason: String| Error::Config {
            key: (*key).to_owned(),
            reason,
        };
        if lookup(direct).is_some() {
            return Err(refuse(format!(
                "both {direct} and {variable} are set; set one"
            )));
        }
        if found.iter().any(|(k, _)| k == key) {
            return Err(refuse(format!(
                "set by two `…_FILE` variables, one is {variable}"
            )));
        }
        let text = std::fs::read_to_string(Path::new(&path))
            .map_err(|err| refuse(format!("{variable}: cannot read {path}: {err}")))?;
        let value = text.strip_suffix('\n').unwrap_or(&text);
        let value = value.strip_suffix('\r').unwrap_or(value);
        if value.is_empty() {
            return Err(refuse(format!("{variable}: {path} is empty")));
        }
        found.push((*key, value.to_owned()));
    }
    Ok(found)
}

/// `url` with its password replaced by `<redacted>`, both the `user:password@` part and a
/// `password=` query parameter (libpq's other spelling).
///
/// ```
/// use sp_core::config::redact_url;
/// assert_eq!(redact_url("postgres://sp:s3cret@db:5432/sp"), "postgres://sp:<redacted>@db:5432/sp");
/// assert_eq!(redact_url("redis://:r3dis@cache:6379"), "redis://:<redacted>@cache:6379");
/// assert_eq!(redact_url("postgres://db/sp?user=sp&password=s3cret"),
///            "postgres://db/sp?user=sp&password=<redacted>");
/// assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => (&url[..at + 3], &url[at + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:{REDACTED}{host}", &userinfo[..colon]),
                None => authority.to_owned(),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

impl Config {
    /// This configuration with every secret redacted: the admin key, the HS256 secret, and
    /// the passwords in the database and Redis URLs. What `sp config` prints.
    ///
    /// ```
    /// let mut config = sp_core::Config::default();
    /// config.auth.admin_key = Some("an-admin-key-of-24-characters-at-least".into());
    /// config.database.url = Some("postgres://sp:s3cret@db/sp".into());
    /// let shown = serde_json::to_string(&config.redacted())?;
    /// assert!(!shown.contains("s3cret") && !shown.contains("an-admin-key"));
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn redacted(&self) -> Config {
        let mut shown = self.clone();
        let hide = |secret: &mut Option<String>| {
            if secret.is_some() {
                *secret = Some(REDACTED.to_owned());
            }
        };
        hide(&mut shown.auth.admin_key);
        hide(&mut shown.auth.jwt.hs256_secret);
        for text in [
            &mut shown.database.url,
            &mut shown.database.read_url,
            &mut shown.redis.url,
        ]
        .into_iter()
        .flatten()
        {
            *text = redact_url(text);
        }
        // A profile may hold any setting, secrets included: named, never shown.
        for overlay in shown.profiles.values_mut() {
            *overlay = serde_json::Value::String(REDACTED.to_owned());
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_secret_given_twice_or_from_an_unreadable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "value").unwrap();
        let path = file.display().to_string();
        let both = |name: &str| match name {
            "SP_ADMIN_KEY_FILE" => Some(path.clone()),
            "SP_ADMIN_KEY" => Some("direct".into()),
            _ => None,
        };
        let err = secret_files(both).unwrap_err();
        assert!(err.to_string().contains("both SP_ADMIN_KEY"), "{err}");
        let two = |name: &str| name.ends_with("URL_FILE").then(|| path.clone());
        assert!(
            secret_files(two).is_err(),
            "DATABASE_URL_FILE and SP_DATABASE__URL_FILE"
        );
        let missing = |name: &str| (name == "REDIS_URL_FILE").then(|| "/nonexistent/x".into());
        let err = secret_files(missing).unwrap_err();
        assert!(err.to_string().contains("REDIS_URL_FILE"), "{err}");
        std::fs::write(&file, "\n").unwrap();
        let empty = |name: &str| (name == "REDIS_URL_FILE").then(|| path.clone());
        assert!(secret_files(empty).is_err());
    }

    #[test]
    fn urls_without_a_password_are_shown_as_they_are() {
        for url in [
            "postgres://sp@db/sp",
            "redis://cache:6379/0",
            "sqlite:x.db",
            "postgres://db/sp?sslmode=require",
        ] {
            assert_eq!(redact_url(url), url);
        }
        assert_eq!(
            redact_url("postgres://us%40er:p%3Ass@db/sp"),
            "postgres://us%40er:<redacted>@db/sp"
        );
    }
}
