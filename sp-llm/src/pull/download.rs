//! A resumable HTTP download into a staging file, hashed as it arrives.
//!
//! The staging file keeps what arrived when a transfer breaks: the next attempt (in the same
//! pull, or a later one of the same URL) asks for the rest with `Range: bytes=N-`. A server
//! that ignores the range (200) restarts the file from zero.

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sp_core::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::progress::{Meter, PullPhase};

/// Attempts for one download before its error is returned (the staging file stays).
const ATTEMPTS: u32 = 4;

/// What a finished download holds.
pub(super) struct Downloaded {
    pub(super) bytes: u64,
    pub(super) sha256: String,
}

/// Downloads `url` into `part` (resuming what it holds) and returns its size and sha256.
pub(super) async fn download(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    meter: &mut Meter<'_>,
) -> Result<Downloaded> {
    let fail = |reason: String| Error::ModelPull {
        from: url.to_owned(),
        reason,
    };
    let io = |err: std::io::Error| fail(format!("staging file {}: {err}", part.display()));
    let (mut hasher, mut have) = hash_existing(part).await.map_err(io)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match transfer(client, url, part, &mut hasher, &mut have, meter).await {
            Ok(()) => {
                return Ok(Downloaded {
                    bytes: have,
                    sha256: hex(hasher.finalize()),
                });
            }
            Err(Failure::Fatal(reason)) => return Err(fail(reason)),
            Err(Failure::Retry(reason)) if attempt < ATTEMPTS => {
                tracing::warn!(%url, attempt, %reason, received = have, "download interrupted; resuming");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            Err(Failure::Retry(reason)) => {
                return Err(fail(format!(
                    "{reason} (after {ATTEMPTS} attempts; {have} bytes kept, the next pull resumes)"
                )));
            }
        }
    }
}

enum Failure {
    /// Worth another attempt from where it stopped.
    Retry(String),
    /// Another attempt would get the same answer.
    Fatal(String),
}

async fn transfer(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    hasher: &mut Sha256,
    have: &mut u64,
    meter: &mut Meter<'_>,
) -> std::result::Result<(), Failure> {
    let mut request = client.get(url);
    if *have > 0 {
        request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
    }
    let mut response = request
        .send()
        .await
        .map_err(|err| Failure::Retry(format!("request failed: {err}")))?;
    let status = response.status();
    let total = match status.as_u16() {
        206 => resumed_total(&response, *have)?,
        200 => {
            // The whole file again: what the staging file holds is discarded.
            *have = 0;
            *hasher = Sha256::new();
            tokio::fs::write(part, b"")
                .await
                .map_err(|err| Failure::Fatal(format!("staging file: {err}")))?;
            response.content_length()
        }
        416 => {
            // The range starts past the end: what we hold is not a prefix of this file.
            *have = 0;
            *hasher = Sha256::new();
            tokio::fs::write(part, b"")
                .await
                .map_err(|err| Failure::Fatal(format!("staging file: {err}")))?;
            return Err(Failure::Retry("the server refused the resume range".into()));
        }
        code if status.is_server_error() || code == 429 => {
            return Err(Failure::Retry(format!("HTTP {status}")));
        }
        _ => return Err(Failure::Fatal(format!("HTTP {status}"))),
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(part)
        .await
        .map_err(|err| Failure::Fatal(format!("staging file: {err}")))?;
    meter.start(PullPhase::Downloading, *have, total);
    let outcome = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if let Err(err) = file.write_all(&chunk).await {
                    break Err(Failure::Fatal(format!("writing the staging file: {err}")));
                }
                hasher.update(&chunk);
                *have += chunk.len() as u64;
                meter.advance(*have);
            }
            Ok(None) => break Ok(()),
            Err(err) => break Err(Failure::Retry(format!("transfer broke: {err}"))),
        }
    };
    // What arrived is kept whatever happened, so that a retry resumes after it.
    file.flush()
        .await
        .map_err(|err| Failure::Fatal(format!("staging file: {err}")))?;
    file.sync_all()
        .await
        .map_err(|err| Failure::Fatal(format!("staging file: {err}")))?;
    outcome?;
    if let Some(total) = total
        && *have < total
    {
        return Err(Failure::Retry(format!(
            "the transfer ended at {have} of {total} bytes"
        )));
    }
    meter.finish(*have);
    Ok(())
}

/// The file's total size from a 206's `Content-Range: bytes START-END/TOTAL`, checking that
/// it starts where the staging file ends.
fn resumed_total(
    response: &reqwest::Response,
    have: u64,
) -> std::result::Result<Option<u64>, Failure> {
    let range = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let parsed = range.strip_prefix("bytes ").and_then(|rest| {
        let (span, total) = rest.split_once('/')?;
        let (start, _) = span.split_once('-')?;
        Some((start.parse::<u64>().ok()?, total.parse::<u64>().ok()))
    });
    match parsed {
        Some((start, total)) if start == have => Ok(total),
        _ => Err(Failure::Fatal(format!(
            "a partial answer from another offset (Content-Range `{range}`, wanted bytes {have}-)"
        ))),
    }
}

/// Hashes what a staging file already holds (a pull that resumes a previous one).
async fn hash_existing(part: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut hasher = Sha256::new();
    let mut file = match tokio::fs::File::open(part).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok((hasher, 0)),
        Err(err) => return Err(err),
    };
    let mut buffer = vec![0; 1 << 20];
    let mut have = 0;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok((hasher, have));
        }
        hasher.update(&buffer[..read]);
        have += read as u64;
    }
}

/// Lower-case hexadecimal.
pub(super) fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
