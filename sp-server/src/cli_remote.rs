//! Flags of the commands that ask a running server: `sp ingest`, `sp search`,
//! `sp events tail`, `sp workflows`, `sp chat` (re-exported by [`crate::cli`]).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::{DataArgs, ServerArgs};

/// `sp ingest` flags.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files (.md, .markdown, .txt, .text, .html, .htm) and folders (searched recursively;
    /// files of other kinds skipped).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The namespace to store them in (the key's tenant's default otherwise).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Print the outcome counts as JSON.
    #[arg(long)]
    pub json: bool,
    /// The server to send to (a key with `documents:write`).
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where the configuration's defaults come from.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp search` flags.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What to look for.
    pub query: String,
    /// How many results.
    #[arg(short, long, default_value_t = 5)]
    pub k: usize,
    /// hybrid, vector or keyword.
    #[arg(long, default_value = "hybrid")]
    pub mode: String,
    /// The namespace to search (the key's tenant's default otherwise).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// The server to ask (a key with `documents:read`).
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where the configuration's defaults come from.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp workflows …`.
#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// The workflows defined (a key with `events`).
    List {
        /// Print the server's answer as JSON.
        #[arg(long)]
        json: bool,
        /// The server to ask.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Runs, newest first.
    Runs {
        /// Only runs of this workflow.
        #[arg(long)]
        workflow: Option<String>,
        /// Print the server's answer as JSON.
        #[arg(long)]
        json: bool,
        /// The server to ask.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Start a run of a workflow; `--wait` follows it to its end (exit 1 when it failed or was
    /// cancelled).
    Run {
        /// The workflow.
        name: String,
        /// Its input, a JSON object.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Wait until the run ends.
        #[arg(long)]
        wait: bool,
        /// Print the run as JSON.
        #[arg(long)]
        json: bool,
        /// The server to ask.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `sp chat` flags.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// Continue this context (a new one is created otherwise; its id goes to stderr).
    #[arg(long, value_name = "ID")]
    pub context: Option<String>,
    /// The new context's title.
    #[arg(long)]
    pub title: Option<String>,
    /// The new context's system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens of each reply.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// The server to talk to (a key with `contexts` and `inference`).
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where the configuration's defaults come from.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp events …`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Follow the log live, one line per event as it is appended (`--json`: the event's JSON).
    Tail(TailArgs),
}

/// `sp events tail` flags.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only this stream.
    #[arg(long)]
    pub stream: Option<String>,
    /// Only this event type.
    #[arg(long = "type", value_name = "TYPE")]
    pub event_type: Option<String>,
    /// The namespace (the key's tenant's default otherwise).
    #[arg(long)]
    pub namespace: Option<String>,
    /// With `--stream`: replay from this offset first, then go on live.
    #[arg(long, requires = "stream")]
    pub from_offset: Option<u64>,
    /// Exit after this many events.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Print each event's JSON.
    #[arg(long)]
    pub json: bool,
    /// The server to follow (a key with `events`).
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where the configuration's defaults come from.
    #[command(flatten)]
    pub data: DataArgs,
}
