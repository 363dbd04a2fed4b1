//! The `sp` binary: CLI and reference server.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;
use sp_server::cli::{Cli, Command, DataArgs, ServeArgs};

/// Exit status for invalid configuration or a database whose migrations differ from this
/// build's (distinct from runtime failures).
const EXIT_CONFIG: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Serve(args) => serve(&cli, args).await,
        Command::Config(args) => print_config(&cli, args),
        Command::Migrate(args) => migrate(&cli, args).await,
        Command::Backup(args) => {
            admin(&cli, &args.data, |config| async move {
                sp_server::backup_cli::backup(&config, args).await
            })
            .await
        }
        Command::Restore(args) => {
            admin(&cli, &args.data, |config| async move {
                sp_server::backup_cli::restore(&config, args).await
            })
            .await
        }
        Command::Ingest(args) => {
            remote(&cli, &args.data, |config| async move {
                let report = sp_server::ingest_cli::ingest(&config, args).await?;
                Ok((report.lines(args.json), report.failed.is_empty()))
            })
            .await
        }
        Command::Search(args) => {
            remote(&cli, &args.data, |config| async move {
                Ok((sp_server::query_cli::search(&config, args).await?, true))
            })
            .await
        }
        Command::Workflows { command, data } => {
            remote(&cli, data, |config| async move {
                sp_server::session_cli::workflows(&config, command).await
            })
            .await
        }
        Command::Chat(args) => {
            remote(&cli, &args.data, |config| async move {
                sp_server::session_cli::chat(&config, args).await?;
                Ok((Vec::new(), true))
            })
            .await
        }
        Command::Events {
            command: sp_server::cli::EventsCommand::Tail(args),
        } => {
            let config = match cli.load_config(&args.data.as_serve_args()) {
                Ok(config) => config,
                Err(err) => return fail(&err),
            };
            let printed = sp_server::query_cli::tail(&config, args, |line| {
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) ends the tail; nothing to report.
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            });
            match printed.await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => command_failed(err),
            }
        }
        Command::Export(args) => {
            admin(&cli, &args.data, |config| async move {
                sp_server::transfer_cli::export(&config, args).await
            })
            .await
        }
        Command::Import(args) => {
            admin(&cli, &args.data, |config| async move {
                sp_server::transfer_cli::import(&config, args).await
            })
            .await
        }
        Command::Keys { command, data } => {
            admin(&cli, data, |config| async move {
                sp_server::admin::keys(&config, command).await
            })
            .await
        }
        Command::Tenants { command, data } => {
            admin(&cli, data, |config| async move {
                sp_server::admin::tenants(&config, command).await
            })
            .await
        }
        Command::Status {
            json,
            db,
            limit,
            server,
            data,
        } => {
            let config = match cli.load_config(&data.as_serve_args()) {
                Ok(config) => config,
                Err(err) => return fail(&err),
            };
            if *db {
                return match sp_server::status_cli::database_status(&config, *limit, *json).await {
                    Ok(lines) => {
                        for line in lines {
                            println!("{line}");
                        }
                        ExitCode::SUCCESS
                    }
                    Err(err) => fail(&err),
                };
            }
            match sp_server::status_cli::status(&config, server, *json).await {
                Ok(status) => {
                    for line in status.lines {
                        println!("{line}");
                    }
                    if status.healthy {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(sp_server::models_cli::CommandError(message)) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Models {
            command,
            server,
            data,
        } => {
            let config = match cli.load_config(&data.as_serve_args()) {
                Ok(config) => config,
                Err(err) => return fail(&err),
            };
            match sp_server::models_cli::run(&config, server, command).await {
                Ok(lines) => {
                    for line in lines {
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(sp_server::models_cli::CommandError(message)) => {
                    eprintln!("error: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Reindex(args) => {
            let config = match cli.load_config(&args.as_serve_args()) {
                Ok(config) => config,
                Err(err) => return fail(&err),
            };
            if let Err(err) = sp_server::logging::init(&config.log) {
                return fail(&err);
            }
            match sp_server::reindex::reindex(&config, args.force).await {
                Ok(lines) => {
                    for line in lines {
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err),
            }
        }
        Command::Openapi => match sp_server::openapi().to_pretty_json() {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("error: the OpenAPI document does not serialise: {err}");
                ExitCode::FAILURE
            }
        },
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "sp", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
    }
}

/// `sp migrate`: prints the report, then fails with the drift it found, if any.
async fn migrate(cli: &Cli, args: &sp_server::cli::MigrateArgs) -> ExitCode {
    let config = match cli.load_config(&args.data.as_serve_args()) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    match sp_server::migrate_cli::migrate(&config, args).await {
        Ok(outcome) => {
            for line in outcome.lines {
                println!("{line}");
            }
            outcome.error.map_or(ExitCode::SUCCESS, |err| fail(&err))
        }
        Err(err) => fail(&err),
    }
}

/// Runs a command that asks a running server: prints its lines; exit 1 when it says it did
/// not succeed or failed outright.
async fn remote<F, Fut>(cli: &Cli, data: &DataArgs, run: F) -> ExitCode
where
    F: FnOnce(sp_core::Config) -> Fut,
    Fut: std::future::Future<
            Output = Result<(Vec<String>, bool), sp_server::models_cli::CommandError>,
        >,
{
    let config = match cli.load_config(&data.as_serve_args()) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    match run(config).await {
        Ok((lines, ok)) => {
            for line in lines {
                println!("{line}");
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(err) => command_failed(err),
    }
}

/// Runs an administrative command with the configuration and prints its lines.
async fn admin<F, Fut>(cli: &Cli, data: &DataArgs, run: F) -> ExitCode
where
    F: FnOnce(sp_core::Config) -> Fut,
    Fut: std::future::Future<Output = sp_core::Result<Vec<String>>>,
{
    let config = match cli.load_config(&data.as_serve_args()) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    match run(config).await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// On each SIGHUP, and with `server.watch_config` when the configuration file or the TLS
/// certificate or key changes: the configuration loaded again (file, environment, flags) and
/// its reloadable settings applied; a configuration that does not load or apply is logged and
/// the running settings stay.
fn reload_on_signal_or_change(cli: &Cli, args: &ServeArgs, state: sp_server::AppState) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => Some(hangups),
            Err(err) => {
                tracing::warn!(%err, "no SIGHUP handler: reloads need a restart");
                None
            }
        };
        let server = &state.config().server;
        let mut changes = server.watch_config.then(|| {
            let files: Vec<_> = [
                cli.config.clone(),
                server.tls_cert_path.clone(),
                server.tls_key_path.clone(),
            ]
            .into_iter()
            .flatten()
            .collect();
            tracing::info!(?files, "watching for changes (server.watch_config)");
            sp_server::reload::watch_files(files, std::time::Duration::from_secs(2))
        });
        if hangups.is_none() && changes.is_none() {
            return;
        }
        let sources = (cli.config.clone(), cli.profile.clone(), args.clone());
        tokio::spawn(async move {
            loop {
                let trigger = tokio::select! {
                    Some(()) = async { hangups.as_mut()?.recv().await } => "SIGHUP".to_owned(),
                    Some(path) = async { changes.as_mut()?.recv().await } => {
                        format!("{} changed", path.display())
                    }
                    else => return,
                };
                let cli = Cli {
                    config: sources.0.clone(),
                    profile: sources.1.clone(),
                    command: Command::Openapi,
                };
                let reloaded = match cli.load_config(&sources.2) {
                    Ok(config) => state.reload(&config).await,
                    Err(err) => Err(err),
                };
                match reloaded {
                    Ok(done) => tracing::info!(
                        %trigger,
                        applied = ?done.applied,
                        need_restart = ?done.need_restart,
                        "configuration reloaded"
                    ),
                    Err(err) => tracing::error!(
                        %trigger, %err, code = %err.code(),
                        "configuration not reloaded; the running settings stay"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (cli, args, state);
}

fn command_failed(
    sp_server::models_cli::CommandError(message): sp_server::models_cli::CommandError,
) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn fail(err: &sp_core::Error) -> ExitCode {
    eprintln!("error: {err} [{}]", err.code());
    match err.code() {
        sp_core::ErrorCode::InvalidConfig | sp_core::ErrorCode::MigrationDrift => {
            ExitCode::from(EXIT_CONFIG)
        }
        _ => ExitCode::FAILURE,
    }
}

fn print_config(cli: &Cli, args: &ServeArgs) -> ExitCode {
    match cli.load_config(args) {
        Ok(config) => match serde_json::to_string_pretty(&config.redacted()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(err) => fail(&sp_core::Error::internal(err)),
        },
        Err(err) => fail(&err),
    }
}

async fn serve(cli: &Cli, args: &ServeArgs) -> ExitCode {
    let config = match cli.load_config(args) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    let telemetry = match sp_server::logging::init_with_traces(&config.log, &config.otel) {
        Ok(telemetry) => telemetry,
        Err(err) => return fail(&err),
    };
    let listen = config.server.listen;
    let embedded = config.database.url.is_none();
    let data_dir = config.data_dir.clone();
    // Held until the process ends: a second server on this embedded data directory would
    // miss this one's writes in search (review finding M11).
    let _serving = if embedded {
        match sp_data::ServeLock::acquire(&data_dir) {
            Ok(lock) => Some(lock),
            Err(err) => return fail(&err),
        }
    } else {
        None
    };
    let state = match sp_server::AppState::open(config).await {
        Ok(state) => state,
        Err(err) => return fail(&err),
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            return fail(&sp_core::Error::Config {
                key: "server.listen".into(),
                reason: format!("cannot listen on {listen}: {err}"),
            });
        }
    };
    let addr = listener.local_addr().unwrap_or(listen);
    let scheme = if state.tls().is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(%addr, scheme, embedded, data_dir = %data_dir.display(), "sp listening");
    // One plain line on stdout so scripts and tests can find the address (port 0 included).
    println!("sp listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    reload_on_signal_or_change(cli, args, state.clone());
    let replica = state.clone();
    let served = sp_server::serve(listener, state, sp_server::shutdown_signal()).await;
    replica.leave_cluster().await;
    // The last spans, the shutdown's among them, leave before the process does.
    telemetry.shutdown();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => fail(&sp_core::Error::internal(format!("server stopped: {err}"))),
    }
}
