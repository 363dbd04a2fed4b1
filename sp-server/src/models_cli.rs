//! `sp models …`: pull and remove models in the models directory (no server needed), and
//! list, show, load and unload them on a running server (list and show fall back to what the
//! configuration and the directory hold when no server answers).

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use sp_core::Config;
use sp_llm::{GgufSummary, PullPhase, PullProgress, PullRequest, PullSource};

use crate::cli::{ModelsCommand, ServerArgs};

/// A failed `sp models` command: its message, with the stable code at the end.
#[derive(Debug)]
pub struct CommandError(pub String);

impl From<sp_core::Error> for CommandError {
    fn from(err: sp_core::Error) -> Self {
        CommandError(format!("{err} [{}]", err.code()))
    }
}

type Outcome = Result<Vec<String>, CommandError>;

/// Runs `command`; returns the lines to print.
pub async fn run(config: &Config, server: &ServerArgs, command: &ModelsCommand) -> Outcome {
    let dir = crate::catalogue::models_dir(config);
    match command {
        ModelsCommand::Pull {
            source,
            name,
            sha256,
            file,
        } => {
            let request = PullRequest {
                source: PullSource::parse(source)?,
                name: name.clone(),
                sha256: sha256.clone(),
                file: file.clone(),
            };
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg:>11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .map_err(|err| CommandError(err.to_string()))?
                .progress_chars("=> "),
            );
            let shown = bar.clone();
            let progress = move |update: PullProgress| show(&shown, &update);
            let pulled = dir.pull(&request, &progress).await;
            bar.finish_and_clear();
            let pulled = pulled?;
            Ok(vec![
                format!(
                    "pulled {} ({}, {} bytes, sha256 {})",
                    pulled.name,
                    sp_llm::kind_of(&pulled.summary).as_str(),
                    pulled.bytes,
                    pulled.sha256
                ),
                format!("{}", pulled.path.display()),
            ])
        }
        ModelsCommand::Rm { name } => {
            let removed = dir.remove(name)?;
            Ok(vec![format!(
                "removed {} ({} bytes) from {}",
                removed.name,
                removed.bytes,
                dir.path().display()
            )])
        }
        ModelsCommand::List => match server_get(config, server, "/v1/models").await {
            Ok(body) => Ok(table(
                body["data"].as_array().map_or(&[][..], Vec::as_slice),
            )),
            Err(Reach::Down(why)) => {
                eprintln!("{why}; listing the configuration and the models directory");
                local_cards(config).map(|cards| table(&cards))
            }
            Err(Reach::Refused(err)) => Err(err),
        },
        ModelsCommand::Show { name } => {
            match server_get(config, server, &format!("/v1/models/{name}")).await {
                Ok(card) => Ok(vec![pretty(&card)]),
                Err(Reach::Down(why)) => {
                    eprintln!("{why}; showing what the configuration says");
                    let cards = local_cards(config)?;
                    cards
                        .into_iter()
                        .find(|card| card["id"] == name.as_str())
                        .map(|card| vec![pretty(&card)])
                        .ok_or_else(|| {
                            CommandError::from(sp_core::Error::NotFound {
                                kind: sp_core::Resource::Model,
                                id: name.clone(),
                            })
                        })
                }
                Err(Reach::Refused(err)) => Err(err),
            }
        }
        ModelsCommand::Load { name } | ModelsCommand::Unload { name } => {
            let verb = if matches!(command, ModelsCommand::Load { .. }) {
                "load"
            } else {
                "unload"
            };
            let card = server_post(config, server, &format!("/v1/models/{name}/{verb}"))
                .await
                .map_err(|reach| match reach {
                    Reach::Down(why) => CommandError(format!(
                        "{why}: `sp models {verb}` acts on a running server (`sp serve`)"
                    )),
                    Reach::Refused(err) => err,
                })?;
            Ok(vec![format!(
                "{} {}",
                card["id"].as_str().unwrap_or(name),
                card["state"].as_str().unwrap_or("?")
            )])
        }
    }
}

fn show(bar: &ProgressBar, update: &PullProgress) {
    bar.set_message(match update.phase {
        PullPhase::Downloading => "downloading",
        PullPhase::Copying => "copying",
        PullPhase::Verifying => "verifying",
    });
    if let Some(total) = update.total {
        bar.set_length(total);
    }
    bar.set_position(update.bytes);
}

/// Cards like the server's, from the configuration and the models directory alone.
fn local_cards(config: &Config) -> Result<Vec<Value>, CommandError> {
    let catalogue = crate::catalogue::catalogue(config)?;
    Ok(catalogue
        .entries()
        .iter()
        .map(|entry| {
            let summary = GgufSummary::read(&entry.path);
            let mut card = serde_json::json!({
                "id": entry.name,
                "kind": entry.kind,
                "state": "unknown",
                "aliases": entry.aliases,
                "pinned": entry.pinned,
                "path": entry.path,
                "size_bytes": std::fs::metadata(&entry.path).map_or(0, |m| m.len()),
            });
            match summary {
                Ok(summary) => {
                    card["memory"] = serde_json::json!(summary.estimate(entry));
                    card["architecture"] = serde_json::json!(summary.architecture);
                }
                Err(err) => card["error"] = serde_json::json!(err.to_string()),
            }
            card
        })
        .collect())
}

fn table(cards: &[Value]) -> Vec<String> {
    let mib = |value: &Value| {
        value.as_u64().map_or_else(
            || "-".to_owned(),
            |bytes| format!("{} MiB", bytes.div_ceil(1 << 20)),
        )
    };
    let mut lines = vec![format!(
        "{:<32} {:<10} {:<9} {:>10} {:>10}  PINNED",
        "NAME", "KIND", "STATE", "SIZE", "MEMORY"
    )];
    for card in cards {
        lines.push(format!(
            "{:<32} {:<10} {:<9} {:>10} {:>10}  {}",
            card["id"].as_str().unwrap_or("?"),
            card["kind"].as_str().unwrap_or("?"),
            card["state"].as_str().unwrap_or("?"),
            mib(&card["size_bytes"]),
            mib(&card["memory"]["total"]),
            if card["pinned"] == true { "yes" } else { "no" },
        ));
    }
    lines
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Why a call to the server got no answer worth having.
pub(crate) enum Reach {
    /// Nothing answers there.
    Down(String),
    /// It answered with an error.
    Refused(CommandError),
}

pub(crate) fn base_url(config: &Config, server: &ServerArgs) -> String {
    server
        .server
        .clone()
        .or_else(|| {
            std::env::var("SP_SERVER_URL")
                .ok()
                .filter(|url| !url.is_empty())
        })
        .unwrap_or_else(|| format!("http://{}", config.server.listen))
        .trim_end_matches('/')
        .to_owned()
}

pub(crate) async fn server_get(
    config: &Config,
    server: &ServerArgs,
    path: &str,
) -> Result<Value, Reach> {
    call(config, server, reqwest::Method::GET, path).await
}

async fn server_post(config: &Config, server: &ServerArgs, path: &str) -> Result<Value, Reach> {
    call(config, server, reqwest::Method::POST, path).await
}

async fn call(
    config: &Config,
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
) -> Result<Value, Reach> {
    let base = base_url(config, server);
    let (status, text) = fetch(config, server, method, path).await?;
    let body: Value = serde_json::from_str(&text).map_err(|err| {
        Reach::Refused(CommandError(format!("{base}{path}: HTTP {status}, {err}")))
    })?;
    if status.is_success() {
        return Ok(body);
    }
    let error = &body["error"];
    Err(Reach::Refused(CommandError(format!(
        "{} [{}]",
        error["message"].as_str().unwrap_or("the server refused"),
        error["code"].as_str().unwrap_or(status.as_str())
    ))))
}

/// One request to the running server with the key given: its status and body.
pub(crate) async fn fetch(
    config: &Config,
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
) -> Result<(reqwest::StatusCode, String), Reach> {
    crate::remote::Remote::new(config, server)
        .map_err(Reach::Refused)?
        .fetch(method, path)
        .await
}
