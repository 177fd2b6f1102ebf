//! `berth`: the command line front end. Parses arguments, calls `berth-api`, prints results.

mod args;
mod hooks;
mod output;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use berth_api::{AddServer, ApiError, Berth, Config, HostKeyPrompt, Sensitive};
use berth_model::size::format_memory;
use berth_model::{
    AppDraft, BaseImages, EnvVar, SshTarget, TransportKind, Volume, parse_cpus, parse_memory,
};
use clap::Parser;
use tokio_util::sync::CancellationToken;

use args::{AppCmd, Cli, Command, DomainCmd, EnvCmd, ProxyCmd, ServerCmd};
use output::{Style, ago, duration_ms, print_event, table, timestamp};

/// Exit code of a deploy cancelled with Ctrl-C.
const EXIT_CANCELLED: u8 = 130;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
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
        | Command::Deployments { json, .. }
        | Command::Audit { json, .. } => *json,
        Command::Server(ServerCmd::Ls { json } | ServerCmd::Check { json, .. }) => *json,
        Command::Server(ServerCmd::Add(a)) => a.json,
        Command::App(AppCmd::Ls { json } | AppCmd::Show { json, .. }) => *json,
        Command::App(AppCmd::Create(a)) => a.json,
        Command::Env(EnvCmd::Ls { json, .. }) => *json,
        Command::Domain(DomainCmd::Ls { json, .. }) => *json,
        Command::Server(ServerCmd::Proxy(ProxyCmd::Status { json, .. })) => *json,
        Command::Server(ServerCmd::Proxy(ProxyCmd::Install(a))) => a.json,
        Command::Server(ServerCmd::Relay(
            args::RelayCmd::Install { json, .. }
            | args::RelayCmd::Status { json, .. }
            | args::RelayCmd::Deliveries { json, .. },
        )) => *json,
        Command::App(AppCmd::Webhook(
            args::WebhookCmd::Enable { json, .. }
            | args::WebhookCmd::Show { json, .. }
            | args::WebhookCmd::Deliveries { json, .. }
            | args::WebhookCmd::RotateSecret { json, .. },
        )) => *json,
        Command::Notify(args::NotifyCmd::Ls { json }) => *json,
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

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A token cancelled by the first Ctrl-C (a second one exits at once).
fn ctrl_c_token() -> CancellationToken {
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
    let result = dispatch(&berth, cli.command).await;
    berth.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn dispatch(berth: &Arc<Berth>, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Server(cmd) => server(berth, cmd).await,
        Command::App(cmd) => app(berth, cmd).await,
        Command::Notify(cmd) => hooks::notify(berth, cmd).await,
        Command::Watch { server, once } => hooks::watch(berth.clone(), server, once).await,
        Command::Deploy { app, git_ref } => {
            let cancel = ctrl_c_token();
            let d = berth
                .deploy(&app, git_ref.as_deref(), &print_event, cancel)
                .await?;
            print_live(berth, &app, &d).await
        }
        Command::Rollback { app, to } => {
            let cancel = ctrl_c_token();
            let d = berth
                .rollback(&app, to.as_deref(), &print_event, cancel)
                .await?;
            print_live(berth, &app, &d).await
        }
        Command::Restart { app } => {
            let cancel = ctrl_c_token();
            let d = berth.restart(&app, &print_event, cancel).await?;
            print_live(berth, &app, &d).await
        }
        Command::Stop { app } => {
            berth.stop(&app).await?;
            eprintln!("{app} stopped");
            Ok(())
        }
        Command::Start { app } => {
            berth.start(&app, ctrl_c_token()).await?;
            let st = berth.status(&app).await?;
            eprintln!(
                "{app} started and healthy{}",
                st.endpoint.map(|e| format!(" at {e}")).unwrap_or_default()
            );
            Ok(())
        }
        Command::Status { app, json } => {
            let st = berth.status(&app).await?;
            if json {
                return print_json(&st);
            }
            let s = Style::new();
            let state = match st.state {
                berth_model::AppState::Running => s.green(st.state.as_str()),
                berth_model::AppState::Failed => s.red(st.state.as_str()),
                _ => s.yellow(st.state.as_str()),
            };
            println!("{}  {state}", s.bold(&st.app));
            println!("  server      {}", st.server);
            if let Some(d) = &st.deployment_id {
                println!(
                    "  deployment  {d}{}",
                    st.deployed_at
                        .map(|t| format!(" ({})", ago(t)))
                        .unwrap_or_default()
                );
            }
            if let Some(c) = &st.commit {
                println!("  commit      {}", &c[..c.len().min(12)]);
            }
            if let Some(c) = &st.container {
                println!(
                    "  container   {c}{}",
                    st.container_status
                        .as_ref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default()
                );
            }
            if let Some(e) = &st.endpoint {
                println!("  endpoint    {e}");
            }
            for d in &st.domains {
                println!(
                    "  url         {}{}  tls: {}",
                    d.url,
                    if d.primary { " (primary)" } else { "" },
                    d.tls.detail
                );
            }
            if let Some(last) = &st.last_deploy
                && Some(&last.id) != st.deployment_id.as_ref()
            {
                println!(
                    "  last deploy {} {} ({}){}",
                    last.id,
                    last.status,
                    ago(last.started_at),
                    last.error
                        .as_ref()
                        .map(|e| format!(": {}", e.lines().next().unwrap_or("")))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Logs { app, tail, follow } => {
            let cancel = CancellationToken::new();
            let c = cancel.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    c.cancel();
                }
            });
            let print = |line: &berth_api::LogLine| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", line.text);
                let _ = out.flush();
            };
            berth.logs(&app, Some(tail), follow, cancel, &print).await?;
            Ok(())
        }
        Command::Deployments { app, limit, json } => {
            berth.catch_up_unattended(&app).await;
            let list = berth.deployments(&app, limit)?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                eprintln!("{app} has no deployments yet: run `berth deploy {app}`");
                return Ok(());
            }
            let rows = list
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.kind.as_str().to_owned(),
                        d.status.as_str().to_owned(),
                        d.short_commit().unwrap_or("-").to_owned(),
                        d.duration_ms()
                            .map(duration_ms)
                            .unwrap_or_else(|| "-".into()),
                        ago(d.started_at),
                        d.failed_step
                            .map(|s| format!("failed at {s}"))
                            .or_else(|| d.commit_message.clone())
                            .unwrap_or_default(),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &["id", "kind", "status", "commit", "took", "started", "note"],
                &rows,
            );
            Ok(())
        }
        Command::BuildLog { deployment } => {
            for line in berth.build_log(&deployment)? {
                println!("{line}");
            }
            Ok(())
        }
        Command::Env(cmd) => env(berth, cmd).await,
        Command::Domain(cmd) => domain(berth, cmd).await,
        Command::Audit { limit, json } => {
            let log = berth.audit_log(limit)?;
            if json {
                let v: Vec<serde_json::Value> = log
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "at": e.at, "actor": e.actor, "action": e.action,
                            "target": e.target, "detail": e.detail,
                        })
                    })
                    .collect();
                return print_json(&v);
            }
            let rows = log
                .iter()
                .map(|e| {
                    vec![
                        timestamp(e.at),
                        e.actor.clone(),
                        e.action.clone(),
                        e.target.clone(),
                        e.detail.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["at", "by", "action", "target", "detail"], &rows);
            Ok(())
        }
    }
}

async fn print_live(berth: &Berth, app: &str, d: &berth_model::Deployment) -> anyhow::Result<()> {
    let s = Style::new();
    let endpoint = berth
        .status(app)
        .await
        .ok()
        .and_then(|st| st.endpoint)
        .map(|e| format!(" at {e}"))
        .unwrap_or_default();
    eprintln!(
        "{} {} is live: deployment {}{}{} in {}",
        s.green("✓"),
        s.bold(app),
        d.id,
        d.short_commit()
            .map(|c| format!(" (commit {c})"))
            .unwrap_or_default(),
        endpoint,
        d.duration_ms().map(duration_ms).unwrap_or_default()
    );
    Ok(())
}

fn confirm_host_key(p: &HostKeyPrompt) -> bool {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return false;
    }
    eprintln!(
        "The authenticity of server {} ({}:{}) can't be established.\n{} key fingerprint is {}.",
        p.server,
        p.host,
        p.port,
        p.algorithm.to_uppercase(),
        p.fingerprint
    );
    eprint!("Trust this host key and continue? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

async fn server(berth: &Berth, cmd: ServerCmd) -> anyhow::Result<()> {
    match cmd {
        ServerCmd::Add(a) => {
            let ssh = match &a.ssh {
                Some(t) => Some(SshTarget::parse(t).map_err(anyhow::Error::msg)?),
                None => None,
            };
            let transport: TransportKind = a.transport.parse().map_err(anyhow::Error::msg)?;
            let mut req = AddServer {
                name: a.name.clone(),
                ssh,
                transport,
                identity: a.identity.clone(),
                passphrase: std::env::var("BERTH_SSH_PASSPHRASE")
                    .ok()
                    .map(Sensitive::new),
                accept_new: a.accept_new,
                docker_socket: a.docker_socket.clone(),
                trusted_fingerprint: None,
            };
            let check = match berth.server_add(req.clone(), &confirm_host_key).await {
                Err(e) if e.code() == "passphrase-required" && std::io::stdin().is_terminal() => {
                    let p = rpassword::prompt_password(format!(
                        "passphrase for {}: ",
                        a.identity
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_default()
                    ))?;
                    req.passphrase = Some(Sensitive::new(p));
                    berth.server_add(req, &confirm_host_key).await?
                }
                other => other?,
            };
            if a.json {
                return print_json(&check);
            }
            eprintln!(
                "{} server {} added: Docker {} (API {}) on {}/{}, {} ms round trip",
                Style::new().green("✓"),
                check.server,
                check.docker_version,
                check.api_version,
                check.os,
                check.arch,
                format_args!("{:.1}", check.latency_ms)
            );
            Ok(())
        }
        ServerCmd::Ls { json } => {
            let servers = berth.servers()?;
            if json {
                return print_json(&servers);
            }
            if servers.is_empty() {
                eprintln!(
                    "no servers yet: add one with `berth server add NAME --ssh USER@HOST` or `--local`"
                );
                return Ok(());
            }
            let rows = servers
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.address(),
                        s.transport.to_string(),
                        s.docker_socket.clone(),
                        ago(s.created_at),
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &["name", "address", "transport", "docker socket", "added"],
                &rows,
            );
            Ok(())
        }
        ServerCmd::Check { name, json } => {
            let c = berth.server_check(&name).await?;
            if json {
                return print_json(&c);
            }
            let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
            println!("{}  {}", Style::new().bold(&c.server), c.address);
            println!("  docker      {} (API {})", c.docker_version, c.api_version);
            println!("  system      {}/{}, {} CPUs", c.os, c.arch, c.cpus);
            println!(
                "  memory      {} free of {}",
                c.mem_available_bytes.map(gib).unwrap_or_else(|| "?".into()),
                gib(c.mem_total_bytes)
            );
            if let (Some(free), Some(total)) = (c.disk_free_bytes, c.disk_total_bytes) {
                println!("  disk        {} free of {}", gib(free), gib(total));
            }
            println!(
                "  latency     {:.2} ms (docker ping over the open connection)",
                c.latency_ms
            );
            println!("  connect     {:.0} ms", c.connect_ms);
            println!("  containers  {} running", c.containers_running);
            Ok(())
        }
        ServerCmd::Set {
            name,
            base_domain,
            build_image,
            run_image,
        } => {
            if base_domain.is_none() && build_image.is_none() && run_image.is_none() {
                anyhow::bail!("nothing to set: give --base-domain, --build-image or --run-image");
            }
            if build_image.is_some() || run_image.is_some() {
                let s = berth.server_set_base_images(&name, build_image, run_image)?;
                eprintln!(
                    "server {name}: build image {}, run image {}",
                    s.base_images.build.as_deref().unwrap_or("(per runtime)"),
                    s.base_images.run.as_deref().unwrap_or("(per runtime)")
                );
            }
            if let Some(base) = base_domain {
                let s = berth.server_set_base_domain(&name, Some(&base)).await?;
                match &s.base_domain {
                    Some(b) => eprintln!("server {name}: every app answers to <app>.{b}"),
                    None => eprintln!("server {name}: no base domain"),
                }
            }
            Ok(())
        }
        ServerCmd::Proxy(ProxyCmd::Install(a)) => {
            let tls = match a.tls.as_str() {
                "off" => berth_model::TlsSetting::Off,
                "internal" => berth_model::TlsSetting::Internal,
                _ => berth_model::TlsSetting::Auto { email: None },
            };
            let req = berth_api::ProxyInstall {
                image: Some(a.image.clone()),
                acme_email: a.acme_email.clone(),
                http_port: a.http_port,
                https_port: a.https_port,
                tls,
                admin: a.admin.clone(),
            };
            let st = berth.proxy_install(&a.name, req).await?;
            if a.json {
                return print_json(&st);
            }
            eprintln!(
                "{} proxy on {} {}: admin {}, tls {}, {} route(s)",
                Style::new().green("✓"),
                st.server,
                if a.admin.is_some() {
                    "adopted"
                } else {
                    "installed"
                },
                st.admin.as_deref().unwrap_or("-"),
                st.tls.as_deref().unwrap_or("-"),
                st.routes.len()
            );
            Ok(())
        }
        ServerCmd::Proxy(ProxyCmd::Status { name, json }) => {
            let st = berth.proxy_status(&name).await?;
            if json {
                return print_json(&st);
            }
            if !st.installed {
                println!("{name}: no proxy (install one with `berth server proxy install {name}`)");
                return Ok(());
            }
            let s = Style::new();
            println!(
                "{}  {}",
                s.bold(&st.server),
                if st.reachable {
                    s.green("proxy answering")
                } else {
                    s.red("proxy not answering")
                }
            );
            println!("  mode        {}", st.mode.as_deref().unwrap_or("-"));
            println!("  admin       {}", st.admin.as_deref().unwrap_or("-"));
            println!("  tls         {}", st.tls.as_deref().unwrap_or("-"));
            if let Some(image) = &st.image {
                println!("  image       {image}");
            }
            if let (Some(h), Some(t)) = (st.http_port, st.https_port) {
                println!("  ports       http {h}, https {t}");
            }
            if let Some(c) = &st.container_status {
                println!(
                    "  container   {} ({c})",
                    berth_model::ProxyConfig::CONTAINER
                );
            }
            println!(
                "  routes      {}",
                if st.routes.is_empty() {
                    "none".to_owned()
                } else {
                    st.routes.join(" ")
                }
            );
            if let Some(e) = &st.error {
                println!("  error       {e}");
            }
            Ok(())
        }
        ServerCmd::Relay(cmd) => hooks::relay(berth, cmd).await,
        ServerCmd::Rm { name } => {
            berth.server_rm(&name).await?;
            eprintln!("server {name} removed");
            Ok(())
        }
    }
}

async fn app(berth: &Berth, cmd: AppCmd) -> anyhow::Result<()> {
    match cmd {
        AppCmd::Webhook(cmd) => hooks::webhook(berth, cmd).await,
        AppCmd::Create(a) => {
            let mut env = Vec::new();
            for pair in &a.env {
                env.push(EnvVar::parse_pair(pair).map_err(anyhow::Error::msg)?);
            }
            let mut volumes = Vec::new();
            for v in &a.volumes {
                volumes.push(Volume::parse(v).map_err(anyhow::Error::msg)?);
            }
            let draft = AppDraft {
                name: a.name.clone(),
                server: a.server.clone().unwrap_or_default(),
                git: a.git.clone(),
                branch: Some(a.branch.clone()),
                dockerfile: a.dockerfile.clone(),
                port: Some(a.port),
                health_path: Some(a.health_path.clone()),
                health_deadline_ms: a.health_timeout.map(|s| s * 1000),
                cpus: a
                    .cpus
                    .as_deref()
                    .map(parse_cpus)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                memory_bytes: a
                    .memory
                    .as_deref()
                    .map(parse_memory)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                volumes,
                base_images: BaseImages {
                    build: a.build_image.clone(),
                    run: a.run_image.clone(),
                },
                stop_grace_secs: None,
                drain_timeout_secs: a.drain_timeout,
                env,
            };
            let app = berth.app_create(draft).await?;
            if a.json {
                return print_json(&app);
            }
            eprintln!(
                "{} app {} created on {}: deploy it with `berth deploy {}`",
                Style::new().green("✓"),
                app.name,
                app.server,
                app.name
            );
            Ok(())
        }
        AppCmd::Ls { json } => {
            let apps = berth.apps()?;
            if json {
                return print_json(&apps);
            }
            if apps.is_empty() {
                eprintln!("no apps yet: create one with `berth app create NAME --git PATH`");
                return Ok(());
            }
            let rows = apps
                .iter()
                .map(|a| {
                    let last = berth
                        .deployments(&a.name, 1)
                        .ok()
                        .and_then(|d| d.into_iter().next());
                    vec![
                        a.name.clone(),
                        a.server.clone(),
                        format!("{}@{}", a.git, a.branch),
                        last.as_ref()
                            .map(|d| format!("{} {}", d.status, ago(d.started_at)))
                            .unwrap_or_else(|| "never deployed".into()),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["name", "server", "source", "last deploy"], &rows);
            Ok(())
        }
        AppCmd::Show { name, json } => {
            let a = berth.app(&name)?;
            if json {
                let env = berth.env_ls(&name)?;
                let mut v = serde_json::to_value(&a)?;
                v["env"] = serde_json::to_value(&env)?;
                return print_json(&v);
            }
            println!("{}", Style::new().bold(&a.name));
            println!("  server       {}", a.server);
            println!("  git          {} (branch {})", a.git, a.branch);
            println!(
                "  build        {}",
                a.dockerfile
                    .clone()
                    .unwrap_or_else(|| "Dockerfile, else runtime detection".into())
            );
            println!("  port         {}", a.port);
            println!(
                "  health       GET {} (deadline {} s)",
                a.health.path,
                a.health.deadline_ms / 1000
            );
            println!(
                "  limits       cpus {}, memory {}",
                a.limits
                    .cpus
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "unlimited".into()),
                a.limits
                    .memory_bytes
                    .map(format_memory)
                    .unwrap_or_else(|| "unlimited".into())
            );
            for v in &a.volumes {
                println!("  volume       {v}");
            }
            for e in berth.env_ls(&name)? {
                println!("  env          {}", env_line(&e));
            }
            Ok(())
        }
        AppCmd::Rm { name, purge } => {
            berth.app_rm(&name, purge).await?;
            eprintln!(
                "app {name} removed{}",
                if purge {
                    " with its images and volumes"
                } else {
                    ""
                }
            );
            Ok(())
        }
    }
}

async fn domain(berth: &Berth, cmd: DomainCmd) -> anyhow::Result<()> {
    match cmd {
        DomainCmd::Add {
            app,
            domain,
            primary,
        } => {
            let list = berth.domain_add(&app, &domain, primary).await?;
            if let Some(d) = list
                .iter()
                .find(|d| d.domain == domain.to_ascii_lowercase())
            {
                eprintln!(
                    "{} {app} answers to {}{}; point its DNS at the server",
                    Style::new().green("✓"),
                    d.url,
                    if d.primary { " (primary)" } else { "" }
                );
            }
            Ok(())
        }
        DomainCmd::Rm { app, domain } => {
            berth.domain_rm(&app, &domain).await?;
            eprintln!("{app} no longer answers to {domain}");
            Ok(())
        }
        DomainCmd::Ls { app, json } => {
            let list = berth.domain_ls(&app).await?;
            if json {
                return print_json(&list);
            }
            if list.is_empty() {
                eprintln!(
                    "{app} has no domains: `berth domain add {app} DOMAIN`, or a base domain on its server"
                );
                return Ok(());
            }
            let rows = list
                .iter()
                .map(|d| {
                    vec![
                        d.domain.clone(),
                        match (d.primary, d.auto) {
                            (true, true) => "primary, automatic".to_owned(),
                            (true, false) => "primary".to_owned(),
                            (false, true) => "automatic".to_owned(),
                            _ => String::new(),
                        },
                        d.url.clone(),
                        d.tls.detail.clone(),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["domain", "", "url", "tls"], &rows);
            Ok(())
        }
    }
}

fn env_line(e: &EnvVar) -> String {
    if e.secret {
        format!("{}=******** (secret)", e.key)
    } else {
        format!("{}={}", e.key, e.value.clone().unwrap_or_default())
    }
}

/// An unattended relay that did not get the change.
pub(crate) fn resync_warning(warning: Option<String>) {
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
}

async fn env(berth: &Berth, cmd: EnvCmd) -> anyhow::Result<()> {
    match cmd {
        EnvCmd::Set { app, pairs, secret } => {
            let mut parsed = Vec::new();
            for p in &pairs {
                parsed.push(EnvVar::parse_pair(p).map_err(anyhow::Error::msg)?);
            }
            berth.env_set(&app, &parsed, secret)?;
            eprintln!(
                "set {} on {app}; it takes effect on the next deploy or `berth restart {app}`",
                parsed
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            resync_warning(berth.webhook_resync(&app).await);
            Ok(())
        }
        EnvCmd::Unset { app, keys } => {
            for k in &keys {
                if !berth.env_unset(&app, k)? {
                    eprintln!("{k} was not set on {app}");
                }
            }
            resync_warning(berth.webhook_resync(&app).await);
            Ok(())
        }
        EnvCmd::Get { app, key } => {
            let var = berth
                .env_ls(&app)?
                .into_iter()
                .find(|v| v.key == key)
                .with_context(|| format!("{key} is not set on {app}"))?;
            let value = if var.secret {
                berth.env_reveal(&app, &key)?.with_context(|| {
                    format!("{key} is a secret of {app}, but the secrets store has no value for it")
                })?
            } else {
                var.value.unwrap_or_default()
            };
            println!("{value}");
            Ok(())
        }
        EnvCmd::Ls { app, json } => {
            let vars = berth.env_ls(&app)?;
            if json {
                return print_json(&vars);
            }
            for e in &vars {
                println!("{}", env_line(e));
            }
            Ok(())
        }
    }
}
