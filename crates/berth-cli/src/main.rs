//! `berth`: the command line front end. Parses arguments, calls `berth-api`, prints results.

mod apps;
mod args;
mod backups;
mod deploys;
mod domains;
mod env;
mod hooks;
mod monitor;
mod output;
mod pending;
mod registries;
mod secret_input;
mod servers;
mod services;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use berth_api::{ApiError, Berth, Config};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use args::{AppCmd, Cli, Command, DomainCmd, EnvCmd, ProxyCmd, ServerCmd};
use output::Style;

/// Exit code of a deploy cancelled with Ctrl-C.
const EXIT_CANCELLED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match berth_api::runtime(Some(2)) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = wants_json(&cli.command);
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            let s = Style::new();
            if let Some(api) = err.downcast_ref::<ApiError>() {
                if json {
                    println!(
                        "{}",
                        serde_json::to_string(&api.to_dto()).unwrap_or_default()
                    );
                }
                if matches!(api, ApiError::DeployCancelled { .. }) {
                    eprintln!("{} {api}", s.yellow("cancelled:"));
                    return ExitCode::from(EXIT_CANCELLED);
                }
            }
            eprintln!("{} {err:#}", s.red("error:"));
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,berth=debug",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn wants_json(cmd: &Command) -> bool {
    match cmd {
        Command::Status { json, .. }
        | Command::Reconcile { json, .. }
        | Command::Deployments { json, .. }
        | Command::Audit { json, .. }
        | Command::Stats { json, .. }
        | Command::Alerts { json, .. } => *json,
        Command::Server(
            ServerCmd::Ls { json }
            | ServerCmd::Check { json, .. }
            | ServerCmd::Prune { json, .. }
            | ServerCmd::Stats { json, .. }
            | ServerCmd::Import { json, .. },
        ) => *json,
        Command::Server(ServerCmd::Add(a)) => a.json,
        Command::App(AppCmd::Ls { json } | AppCmd::Show { json, .. }) => *json,
        Command::App(AppCmd::Set(a)) => a.json,
        Command::Project(
            args::ProjectCmd::Ls { json }
            | args::ProjectCmd::Show { json, .. }
            | args::ProjectCmd::Create { json, .. },
        ) => *json,
        Command::App(AppCmd::Stage(args::StageCmd::Ls { json, .. })) => *json,
        Command::App(AppCmd::Create(a)) => a.json,
        Command::Env(EnvCmd::Ls { json, .. }) => *json,
        Command::Plan { json, .. } | Command::Import { json, .. } => *json,
        Command::Registry(
            args::RegistryCmd::Ls { json } | args::RegistryCmd::Tags { json, .. },
        ) => *json,
        Command::Domain(DomainCmd::Ls { json, .. }) => *json,
        Command::Server(ServerCmd::Proxy(ProxyCmd::Status { json, .. })) => *json,
        Command::Server(ServerCmd::Proxy(ProxyCmd::Install(a))) => a.json,
        Command::Server(ServerCmd::Relay(
            args::RelayCmd::Install { json, .. }
            | args::RelayCmd::Status { json, .. }
            | args::RelayCmd::Deliveries { json, .. }
            | args::RelayCmd::MetricsToken { json, .. },
        )) => *json,
        Command::App(AppCmd::Webhook(
            args::WebhookCmd::Enable { json, .. }
            | args::WebhookCmd::Show { json, .. }
            | args::WebhookCmd::Deliveries { json, .. }
            | args::WebhookCmd::RotateSecret { json, .. }
            | args::WebhookCmd::RotateDeployKey { json, .. },
        )) => *json,
        Command::Notify(args::NotifyCmd::Ls { json }) => *json,
        Command::Service(args::ServiceCmd::Ls { json } | args::ServiceCmd::Show { json, .. }) => {
            *json
        }
        Command::Service(args::ServiceCmd::Create(a)) => a.json,
        Command::Backup(
            args::BackupCmd::Create { json, .. }
            | args::BackupCmd::Ls { json, .. }
            | args::BackupCmd::Verify { json, .. }
            | args::BackupCmd::Schedules { json }
            | args::BackupCmd::Target(args::BackupTargetCmd::Ls { json }),
        ) => *json,
        Command::Cron(args::CronCmd::Ls { json, .. }) => *json,
        _ => false,
    }
}

fn open(cli: &Cli) -> anyhow::Result<Berth> {
    let config = Config::resolve("cli", cli.data_dir.clone(), cli.secrets.as_deref())?;
    let berth = Berth::open(config)?;
    if let Some(path) = berth.secrets_file() {
        notice_file_secrets(&berth, &path);
    }
    Ok(berth)
}

/// Says once per data dir that secrets are in a plain file, not the keychain.
fn notice_file_secrets(berth: &Berth, path: &std::path::Path) {
    let marker = berth.data_dir().join(".secrets-file-notice");
    if marker.exists() {
        return;
    }
    eprintln!(
        "note: secrets are kept in {} (mode 0600), not in the OS keychain (--secrets file)",
        path.display()
    );
    let _ = std::fs::write(&marker, b"shown\n");
}

pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A token cancelled by the first Ctrl-C (a second one exits at once).
pub(crate) fn ctrl_c_token() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ncancelling: removing the new container; the current version keeps serving (Ctrl-C again to quit at once)"
            );
            t.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(i32::from(EXIT_CANCELLED));
            }
        }
    });
    token
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let berth = Arc::new(open(&cli)?);
    let result = match cli.command {
        // Its exit code is the command's.
        Command::Exec {
            app,
            cmd,
            interactive,
            tty,
        } if interactive || tty => deploys::exec_tty(&berth, &app, &cmd).await,
        Command::Exec { app, cmd, .. } => deploys::exec(&berth, &app, &cmd, false).await,
        Command::Run { app, cmd } => deploys::exec(&berth, &app, &cmd, true).await,
        other => dispatch(&berth, other).await.map(|()| ExitCode::SUCCESS),
    };
    berth.close().await;
    result
}

async fn dispatch(berth: &Arc<Berth>, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server(cmd) => servers::server(berth, cmd).await,
        Command::App(cmd) => apps::app(berth, cmd).await,
        Command::Project(cmd) => apps::project(berth, cmd).await,
        Command::Service(cmd) => services::service(berth, cmd).await,
        Command::Backup(cmd) => backups::backup(berth, cmd).await,
        Command::Cron(cmd) => backups::cron(berth, cmd).await,
        Command::Notify(cmd) => hooks::notify(berth, cmd).await,
        Command::Watch { server, once, poll } => {
            hooks::watch(berth.clone(), server, once, poll).await
        }
        Command::Reconcile { server, fix, json } => {
            servers::reconcile(berth, server.as_deref(), fix, json).await
        }
        Command::Deploy {
            app,
            git_ref,
            stage,
            yes,
        } => deploys::deploy(berth, &app, git_ref.as_deref(), stage.as_deref(), yes).await,
        Command::Promote { app, to, tag, yes } => {
            deploys::promote(berth, &app, &to, tag.as_deref(), yes).await
        }
        Command::Rollback { app, to, yes } => {
            deploys::rollback(berth, &app, to.as_deref(), yes).await
        }
        Command::Restart { app } => deploys::restart(berth, &app).await,
        Command::Export { project, output } => {
            pending::export(berth, project.as_deref(), output.as_deref())
        }
        Command::Import {
            file,
            dry_run,
            prune,
            json,
        } => pending::import(berth, &file, dry_run, prune, json).await,
        Command::Plan { app, project, json } => {
            pending::plan(berth, app.as_deref(), project.as_deref(), json)
        }
        Command::Apply { app, project, yes } => {
            pending::apply(berth, app.as_deref(), project.as_deref(), yes).await
        }
        Command::Discard { app, project } => {
            pending::discard(berth, app.as_deref(), project.as_deref())
        }
        Command::Cancel { app } => deploys::cancel(berth, &app).await,
        Command::Stop { app } => deploys::stop(berth, &app).await,
        Command::Start { app } => deploys::start(berth, &app).await,
        Command::Status { app, json } => deploys::status(berth, &app, json).await,
        Command::Logs { app, tail, follow } => deploys::logs(berth, &app, tail, follow).await,
        Command::Exec { app, cmd, .. } => deploys::exec(berth, &app, &cmd, false).await.map(|_| ()),
        Command::Run { app, cmd } => deploys::exec(berth, &app, &cmd, true).await.map(|_| ()),
        Command::Deployments { app, limit, json } => {
            deploys::deployments(berth, &app, limit, json).await
        }
        Command::BuildLog { deployment } => deploys::build_log(berth, &deployment),
        Command::Env(cmd) => env::env(berth, cmd).await,
        Command::Registry(cmd) => registries::registry(berth, cmd).await,
        Command::Domain(cmd) => domains::domain(berth, cmd).await,
        Command::Audit { limit, json } => deploys::audit(berth, limit, json),
        Command::Stats { app, since, json } => monitor::stats(berth, &app, &since, json).await,
        Command::Alerts { app, limit, json } => {
            monitor::alerts(berth, app.as_deref(), limit, json).await
        }
    }
}
