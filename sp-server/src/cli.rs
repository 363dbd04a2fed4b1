//! The `sp` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sp_core::{Config, ConfigSources};

/// Story Portal: an SDK and server for agentic AI applications that run their own models.
#[derive(Debug, Parser)]
#[command(name = "sp", version, about)]
pub struct Cli {
    /// TOML configuration file (also `SP_CONFIG`).
    #[arg(long, global = true, env = "SP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (embedded storage unless DATABASE_URL / REDIS_URL are set).
    Serve(ServeArgs),
    /// Print the effective configuration as JSON, after validation.
    Config(ServeArgs),
}

/// Flags that override configuration keys.
#[derive(Debug, Args)]
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
}

impl Cli {
    /// Loads the configuration: defaults, file, environment, then these flags.
    pub fn load_config(&self, args: &ServeArgs) -> sp_core::Result<Config> {
        let mut sources = ConfigSources::default();
        if let Some(file) = &self.config {
            sources = sources.file(file);
        }
        if let Some(listen) = &args.listen {
            sources = sources.set("server.listen", listen.as_str());
        }
        if let Some(dir) = &args.data_dir {
            sources = sources.set("data_dir", dir.display().to_string());
        }
        if let Some(model) = &args.model {
            sources = sources.set("model.path", model.display().to_string());
        }
        Config::load(&sources)
    }
}
