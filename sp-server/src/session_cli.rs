//! `sp workflows list|runs|run` and `sp chat`: workflows and a context's conversation on a
//! running server, from the command line.

use std::io::{BufRead as _, Write as _};
use std::time::Duration;

use serde_json::{Value, json};
use sp_core::Config;

use crate::cli::{ChatArgs, WorkflowsCommand};
use crate::models_cli::CommandError;
use crate::remote::{Next, Remote, read_sse};

/// How often `sp workflows run --wait` asks after its run.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Runs `sp workflows …`; returns the lines to print and whether it succeeded (a run waited
/// for that failed or was cancelled does not).
pub async fn workflows(
    config: &Config,
    command: &WorkflowsCommand,
) -> Result<(Vec<String>, bool), CommandError> {
    match command {
        WorkflowsCommand::List { json, server } => {
            let listed = Remote::new(config, server)?
                .get_json("/v1/workflows", &[])
                .await?;
            if *json {
                return Ok((vec![pretty(&listed)?], true));
            }
            let mut lines = vec![format!(
                "{:<32} {:>7} {:>5}  DESCRIPTION",
                "NAME", "VERSION", "STEPS"
            )];
            for workflow in items(&listed) {
                lines.push(format!(
                    "{:<32} {:>7} {:>5}  {}",
                    workflow["name"].as_str().unwrap_or("?"),
                    workflow["version"],
                    workflow["steps"].as_array().map_or(0, Vec::len),
                    workflow["description"].as_str().unwrap_or("")
                ));
            }
            Ok((lines, true))
        }
        WorkflowsCommand::Runs {
            workflow,
            json,
            server,
        } => {
            let query: Vec<(&str, String)> = workflow
                .iter()
                .map(|name| ("workflow", name.clone()))
                .collect();
            let listed = Remote::new(config, server)?
                .get_json("/v1/workflow-runs", &query)
                .await?;
            if *json {
                return Ok((vec![pretty(&listed)?], true));
            }
            let mut lines = vec![format!(
                "{:<36} {:<24} {:<10} CREATED",
                "RUN", "WORKFLOW", "STATUS"
            )];
            for run in items(&listed) {
                lines.push(run_line(&run));
            }
            Ok((lines, true))
        }
        WorkflowsCommand::Run {
            name,
            input,
            wait,
            json,
            server,
        } => {
            let remote = Remote::new(config, server)?;
            let input: Value = match input {
                Some(text) => serde_json::from_str(text)
                    .map_err(|err| CommandError(format!("--input is not JSON: {err}")))?,
                None => json!({}),
            };
            let (_, mut run) = remote
                .post_json(
                    &format!("/v1/workflows/{name}/runs"),
                    &json!({"input": input}),
                )
                .await?;
            if *wait {
                let id = run["id"].as_str().unwrap_or_default().to_owned();
                while run["status"] == "running" {
                    tokio::time::sleep(POLL_EVERY).await;
                    run = remote
                        .get_json(&format!("/v1/workflow-runs/{id}"), &[])
                        .await?;
                }
            }
            let ok = !matches!(run["status"].as_str(), Some("failed" | "cancelled"));
            let lines = if *json {
                vec![pretty(&run)?]
            } else {
                let mut lines = vec![run_line(&run)];
                if !run["output"].is_null() {
                    lines.push(format!("output: {}", run["output"]));
                }
                if !run["error"].is_null() {
                    lines.push(format!("error: {}", run["error"]));
                }
                lines
            };
            Ok((lines, ok))
        }
    }
}

fn items(listed: &Value) -> Vec<Value> {
    listed["items"].as_array().cloned().unwrap_or_default()
}

fn run_line(run: &Value) -> String {
    format!(
        "{:<36} {:<24} {:<10} {}",
        run["id"].as_str().unwrap_or("?"),
        run["workflow"].as_str().unwrap_or("?"),
        run["status"].as_str().unwrap_or("?"),
        run["created_at"].as_str().unwrap_or("")
    )
}

fn pretty(value: &Value) -> Result<String, CommandError> {
    serde_json::to_string_pretty(value).map_err(|err| CommandError(err.to_string()))
}

/// Runs `sp chat`: each line read from stdin is a turn of the context (a new one unless
/// `--context`), its reply streamed to stdout as it is generated. Ends at end of input.
pub async fn chat(config: &Config, args: &ChatArgs) -> Result<(), CommandError> {
    let remote = Remote::new(config, &args.server)?;
    let context = match &args.context {
        Some(id) => id.clone(),
        None => {
            let mut new = json!({"title": args.title.clone().unwrap_or_else(|| "sp chat".into())});
            if let Some(system) = &args.system {
                new["system_prompt"] = json!(system);
            }
            let (_, created) = remote.post_json("/v1/contexts", &new).await?;
            let id = created["id"].as_str().unwrap_or_default().to_owned();
            eprintln!("context {id} (continue it with --context {id})");
            id
        }
    };
    let stdin = std::io::stdin();
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            eprint!("> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.next() else {
            return Ok(());
        };
        let line = line.map_err(|err| CommandError(format!("stdin: {err}")))?;
        if line.trim().is_empty() {
            continue;
        }
        let body = json!({"content": line, "stream": true, "max_tokens": args.max_tokens});
        let response = remote
            .post_streaming(&format!("/v1/contexts/{context}/chat"), &body)
            .await?;
        read_sse(response, |_, data| {
            if data == "[DONE]" {
                return Ok(Next::Stop);
            }
            let event: Value = serde_json::from_str(data)
                .map_err(|err| CommandError(format!("a stream event is not JSON: {err}")))?;
            let mut out = std::io::stdout().lock();
            match event["type"].as_str() {
                Some("delta") => {
                    let _ = write!(out, "{}", event["text"].as_str().unwrap_or(""));
                    let _ = out.flush();
                }
                Some("done") => {
                    let _ = writeln!(out);
                }
                Some("error") => {
                    return Err(CommandError(format!(
                        "{} [{}]",
                        event["error"]["message"]
                            .as_str()
                            .unwrap_or("the turn failed"),
                        event["error"]["code"].as_str().unwrap_or("")
                    )));
                }
                _ => {}
            }
            Ok(Next::More)
        })
        .await?;
    }
}
