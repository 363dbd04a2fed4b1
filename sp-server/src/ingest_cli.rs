//! `sp ingest PATH…`: Markdown, plain-text and HTML files (and the folders holding them) sent
//! to a running server's `/v1/documents`, with a progress bar (rate, ETA) on a terminal and a
//! line every few seconds otherwise. Each file's absolute path is its `external_id`, so a
//! second run sends the same documents again and the server answers `unchanged` for each.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sp_core::Config;

use crate::cli::IngestArgs;
use crate::models_cli::CommandError;
use crate::remote::Remote;

/// How often a run without a terminal reports its progress.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// What a run did, per outcome.
#[derive(Debug, Default, serde::Serialize)]
pub struct IngestReport {
    /// Files stored for the first time.
    pub created: u64,
    /// Files whose content changed since last time.
    pub replaced: u64,
    /// Files stored before with the same content.
    pub unchanged: u64,
    /// Files that failed, with why.
    pub failed: Vec<(String, String)>,
    /// Files under the folders given that are not Markdown, text or HTML.
    pub skipped: u64,
}

/// A file's kind, by its extension.
#[derive(Clone, Copy)]
enum FileKind {
    Markdown,
    Text,
    Html,
}

fn kind_of(path: &Path) -> Option<FileKind> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "md" | "markdown" => Some(FileKind::Markdown),
        "txt" | "text" => Some(FileKind::Text),
        "html" | "htm" => Some(FileKind::Html),
        _ => None,
    }
}

/// Every file to send, sorted. Under a folder, files of other kinds are counted as skipped; a
/// file named on the command line must be of a kind read here.
fn collect(paths: &[PathBuf], report: &mut IngestReport) -> Result<Vec<PathBuf>, CommandError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .map_err(|err| CommandError(format!("{}: {err}", path.display())))?;
        if meta.is_file() {
            if kind_of(path).is_none() {
                return Err(CommandError(format!(
                    "{}: not Markdown (.md), text (.txt) or HTML (.html)",
                    path.display()
                )));
            }
            files.push(path.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|err| CommandError(format!("{}: {err}", path.display())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            if kind_of(entry.path()).is_some() {
                files.push(entry.into_path());
            } else {
                report.skipped += 1;
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// The document a file makes: title (first heading, `<title>`, or the file name), content and
/// format.
fn document(path: &Path, namespace: Option<&str>) -> Result<Value, String> {
    let bytes = std::fs::read(path).map_err(|err| err.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    let kind = kind_of(path).ok_or("not Markdown, text or HTML")?;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("untitled")
        .to_owned();
    let (title, content, format) = match kind {
        FileKind::Markdown => {
            let heading = text
                .lines()
                .find_map(|line| line.strip_prefix("# ").map(|h| h.trim().to_owned()));
            (heading.unwrap_or(stem), text, "markdown")
        }
        FileKind::Text => (stem, text, "text"),
        FileKind::Html => {
            let title = html_title(&text).unwrap_or(stem);
            // Rendered as Markdown-like text: headings stay headings, so sections split there.
            let rendered = html2text::from_read(text.as_bytes(), 100)
                .map_err(|err| format!("unreadable HTML: {err}"))?;
            (title, rendered, "markdown")
        }
    };
    if content.trim().is_empty() {
        return Err("empty".into());
    }
    let absolute = std::path::absolute(path).map_err(|err| err.to_string())?;
    let mut body = json!({
        "title": title,
        "content": content,
        "format": format,
        "external_id": absolute.display().to_string(),
        "source_uri": format!("file://{}", absolute.display()),
    });
    if let Some(namespace) = namespace {
        body["namespace"] = json!(namespace);
    }
    Ok(body)
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title>")?;
    let title = html2text::from_read(&html.as_bytes()[open_end..close], 1000).ok()?;
    let title = title.trim().to_owned();
    (!title.is_empty()).then_some(title)
}

/// Progress on a terminal (a bar) or in a log (a line every few seconds).
enum Progress {
    Bar(ProgressBar),
    Plain {
        total: u64,
        started: Instant,
        last: Instant,
    },
}

impl Progress {
    fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:30} {pos}/{len} files  {per_sec}  ETA {eta}  {wide_msg}",
            ) {
                bar.set_style(style);
            }
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Plain {
                total,
                started: now,
                last: now,
            }
        }
    }

    fn advance(&mut self, done: u64, current: &Path) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(current.display().to_string());
            }
            Progress::Plain {
                total,
                started,
                last,
            } => {
                if last.elapsed() < PLAIN_PROGRESS_EVERY && done < *total {
                    return;
                }
                *last = Instant::now();
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                let rate = done as f64 / secs;
                let eta = if rate > 0.0 {
                    (*total - done) as f64 / rate
                } else {
                    0.0
                };
                eprintln!("ingest: {done}/{total} files, {rate:.1} files/s, ETA {eta:.0} s");
            }
        }
    }

    fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// Runs `sp ingest`.
pub async fn ingest(config: &Config, args: &IngestArgs) -> Result<IngestReport, CommandError> {
    let remote = Remote::new(config, &args.server)?;
    let mut report = IngestReport::default();
    let files = collect(&args.paths, &mut report)?;
    let mut progress = Progress::new(files.len() as u64);
    for (n, path) in files.iter().enumerate() {
        let outcome = match document(path, args.namespace.as_deref()) {
            Ok(body) => remote
                .post_json("/v1/documents", &body)
                .await
                .map(|(_, answer)| answer["outcome"].as_str().unwrap_or("").to_owned())
                .map_err(|CommandError(message)| message),
            Err(reason) => Err(reason),
        };
        match outcome.as_deref() {
            Ok("created") => report.created += 1,
            Ok("replaced") => report.replaced += 1,
            Ok("unchanged") => report.unchanged += 1,
            Ok(other) => report
                .failed
                .push((path.display().to_string(), format!("outcome {other:?}"))),
            Err(reason) => report
                .failed
                .push((path.display().to_string(), reason.to_owned())),
        }
        progress.advance(n as u64 + 1, path);
    }
    progress.finish();
    Ok(report)
}

impl IngestReport {
    /// The lines `sp ingest` prints.
    pub fn lines(&self, json: bool) -> Vec<String> {
        if json {
            return vec![serde_json::to_string_pretty(self).unwrap_or_default()];
        }
        let mut lines: Vec<String> = self
            .failed
            .iter()
            .map(|(path, reason)| format!("failed: {path}: {reason}"))
            .collect();
        lines.push(format!(
            "ingested {} files: {} created, {} replaced, {} unchanged, {} failed ({} other files skipped)",
            self.created + self.replaced + self.unchanged + self.failed.len() as u64,
            self.created,
            self.replaced,
            self.unchanged,
            self.failed.len(),
            self.skipped
        ));
        lines
    }
}
