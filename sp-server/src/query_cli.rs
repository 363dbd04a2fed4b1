//! `sp search QUERY` and `sp events tail`: a running server's knowledge search as a ranked
//! list, and its event log followed live (server-sent events), one line per event.

use serde_json::{Value, json};
use sp_core::Config;

use crate::cli::{SearchArgs, TailArgs};
use crate::models_cli::CommandError;
use crate::remote::{Next, Remote, read_sse};

/// Runs `sp search`; returns the lines to print.
pub async fn search(config: &Config, args: &SearchArgs) -> Result<Vec<String>, CommandError> {
    let remote = Remote::new(config, &args.server)?;
    let mut body = json!({"query": args.query, "k": args.k, "mode": args.mode});
    if let Some(namespace) = &args.namespace {
        body["namespace"] = json!(namespace);
    }
    let (_, answer) = remote.post_json("/v1/search", &body).await?;
    if args.json {
        return Ok(vec![
            serde_json::to_string_pretty(&answer).map_err(|err| CommandError(err.to_string()))?,
        ]);
    }
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    if results.is_empty() {
        return Ok(vec!["no results".into()]);
    }
    Ok(results
        .iter()
        .enumerate()
        .map(|(rank, hit)| {
            format!(
                "{:>2}. {:.4}  {} — {}",
                rank + 1,
                hit["score"].as_f64().unwrap_or(0.0),
                hit["title"].as_str().unwrap_or("?"),
                snippet(hit["text"].as_str().unwrap_or(""), 100)
            )
        })
        .collect())
}

/// `text` on one line, cut at `chars` characters.
fn snippet(text: &str, chars: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// Runs `sp events tail`: prints each event as it is appended (`print` is called per line)
/// until `--limit` events were printed or the server ends the feed (lagged, expired: exit 1,
/// reconnect with `--from-offset`).
pub async fn tail(
    config: &Config,
    args: &TailArgs,
    mut print: impl FnMut(&str),
) -> Result<(), CommandError> {
    let remote = Remote::new(config, &args.server)?;
    let mut from_offset = args.from_offset;
    let mut waiting = false;
    let response = loop {
        match remote
            .get_streaming("/v1/events/live", &live_query(args, from_offset))
            .await
        {
            Ok(response) => break response,
            // A stream with no events yet is followed once it has one, from its first.
            Err(CommandError(message))
                if args.stream.is_some() && message.contains("[SP-EVT-002]") =>
            {
                if !waiting {
                    eprintln!("waiting for the stream's first event…");
                    waiting = true;
                }
                from_offset = Some(1);
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Err(err) => return Err(err),
        }
    };
    let mut printed = 0u64;
    read_sse(response, |name, data| {
        if !name.is_empty() {
            return Err(CommandError(format!(
                "the feed ended ({name}): {data}; reconnect with --from-offset"
            )));
        }
        print(&if args.json {
            data.to_owned()
        } else {
            event_line(data)
        });
        printed += 1;
        Ok(match args.limit {
            Some(limit) if printed >= limit => Next::Stop,
            _ => Next::More,
        })
    })
    .await
}

/// The tail's filters as query pairs of `/v1/events/live`.
fn live_query(args: &TailArgs, from_offset: Option<u64>) -> Vec<(&'static str, String)> {
    [
        ("stream", args.stream.clone()),
        ("type", args.event_type.clone()),
        ("namespace", args.namespace.clone()),
        ("from_offset", from_offset.map(|n| n.to_string())),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name, value?)))
    .collect()
}

/// `OFFSET  TIME  STREAM  TYPE  SUBJECT  DATA` of one event's JSON.
fn event_line(data: &str) -> String {
    let Ok(event) = serde_json::from_str::<Value>(data) else {
        return data.to_owned();
    };
    format!(
        "{:>6}  {}  {}  {}  {}  {}",
        event["offset"].as_u64().unwrap_or(0),
        event["time"].as_str().unwrap_or(""),
        event["stream"].as_str().unwrap_or(""),
        event["type"].as_str().unwrap_or(""),
        event["subject"].as_str().unwrap_or("-"),
        event["data"]
    )
}
