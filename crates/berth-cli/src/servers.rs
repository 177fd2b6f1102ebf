//! `berth server …`: add, list, check, set and remove servers; their proxy and relay.

use std::io::{IsTerminal, Write};

use berth_api::{AddServer, Berth, HostKeyPrompt, Sensitive};

use crate::args::{ProxyCmd, ServerCmd};
use crate::output::{Style, ago, table};
use crate::{hooks, print_json};
use berth_model::{SshTarget, TransportKind};

pub(crate) fn confirm_host_key(p: &HostKeyPrompt) -> bool {
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

pub(crate) async fn server(berth: &Berth, cmd: ServerCmd) -> anyhow::Result<()> {
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
        ServerCmd::Check { name: None, json } => {
            let all = berth.server_check_all().await?;
            if json {
                let v: Vec<serde_json::Value> = all
                    .iter()
                    .map(|(name, r)| match r {
                        Ok(c) => serde_json::json!({ "server": name, "check": c }),
                        Err(e) => serde_json::json!({ "server": name, "error": e.to_dto() }),
                    })
                    .collect();
                return print_json(&v);
            }
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|(name, r)| match r {
                    Ok(c) => vec![
                        name.clone(),
                        "connected".to_owned(),
                        c.docker_version.clone(),
                        format!("{} running", c.containers_running),
                        format!("{:.1} ms", c.latency_ms),
                    ],
                    Err(e) => vec![
                        name.clone(),
                        "unreachable".to_owned(),
                        "-".to_owned(),
                        "-".to_owned(),
                        e.to_string(),
                    ],
                })
                .collect();
            table(
                &["SERVER", "STATE", "DOCKER", "CONTAINERS", "LATENCY"],
                &rows,
            );
            if all.iter().any(|(_, r)| r.is_err()) {
                anyhow::bail!("some servers could not be reached");
            }
            Ok(())
        }
        ServerCmd::Check {
            name: Some(name),
            json,
        } => {
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
        ServerCmd::Import { name, json } => {
            let list = berth.server_import(&name).await?;
            if json {
                return print_json(&list);
            }
            let style = Style::new();
            if list.is_empty() {
                eprintln!("no Berth app runs on {name}");
                return Ok(());
            }
            for i in &list {
                match &i.skipped {
                    Some(why) => println!("-  {}: skipped, {why}", i.app),
                    None => {
                        println!(
                            "{}  {}: deployment {} ({})",
                            style.green("✓"),
                            i.app,
                            i.deployment.as_deref().unwrap_or("-"),
                            i.image.as_deref().unwrap_or("-")
                        );
                        if !i.missing_secrets.is_empty() {
                            println!(
                                "   secret values to set again: {} (`berth env set {} KEY=- --secret`)",
                                i.missing_secrets.join(", "),
                                i.app
                            );
                        }
                    }
                }
            }
            let n = list.iter().filter(|i| i.skipped.is_none()).count();
            eprintln!("{n} app(s) imported from {name}");
            Ok(())
        }
        ServerCmd::Stats { name, since, json } => {
            crate::monitor::server_stats(berth, &name, &since, json).await
        }
        ServerCmd::Prune {
            name,
            dry_run,
            json,
        } => {
            let r = berth.server_prune(&name, dry_run).await?;
            if json {
                return print_json(&r);
            }
            let size = berth_model::format::bytes;
            if !r.images.is_empty() {
                let rows: Vec<Vec<String>> = r
                    .images
                    .iter()
                    .map(|i| vec![i.image.clone(), size(i.bytes), i.why.clone()])
                    .collect();
                table(&["IMAGE", "SIZE", "WHY"], &rows);
            }
            if r.build_cache_bytes > 0 {
                println!("build cache no build uses: {}", size(r.build_cache_bytes));
            }
            let verb = if r.dry_run { "would free" } else { "freed" };
            let kept = match r.kept {
                0 => String::new(),
                n => format!(
                    "; {n} kept (a rollback, a container or a deploy in progress needs them)"
                ),
            };
            eprintln!(
                "{} {name}: {} image(s), {verb} {}{kept}",
                Style::new().green("✓"),
                r.images.len(),
                size(r.bytes()),
            );
            if r.dry_run && (r.bytes() > 0 || !r.images.is_empty()) {
                eprintln!("  remove them with `berth server prune {name}`");
            }
            Ok(())
        }
        ServerCmd::Set {
            name,
            base_domain,
            stage_pattern,
            build_image,
            run_image,
            ssh,
            identity,
            transport,
            accept_new,
        } => {
            let reconnect = ssh.is_some() || identity.is_some() || transport.is_some();
            if base_domain.is_none()
                && build_image.is_none()
                && run_image.is_none()
                && stage_pattern.is_none()
                && !reconnect
            {
                anyhow::bail!(
                    "nothing to set: give --base-domain, --stage-pattern, --build-image, --run-image, --ssh, --identity or --transport"
                );
            }
            if reconnect {
                let req = AddServer {
                    name: name.clone(),
                    ssh: ssh
                        .as_deref()
                        .map(SshTarget::parse)
                        .transpose()
                        .map_err(anyhow::Error::msg)?,
                    // Local means "unchanged" here: a remote server stays remote.
                    transport: match transport.as_deref() {
                        Some(t) => t.parse().map_err(anyhow::Error::msg)?,
                        None => TransportKind::Local,
                    },
                    identity,
                    passphrase: std::env::var("BERTH_SSH_PASSPHRASE")
                        .ok()
                        .map(Sensitive::new),
                    accept_new,
                    docker_socket: None,
                    trusted_fingerprint: None,
                };
                let check = berth
                    .server_reconnect(&name, req, &confirm_host_key)
                    .await?;
                eprintln!(
                    "{} server {name} now reached as {}: Docker {} answers, {:.1} ms round trip",
                    Style::new().green("✓"),
                    berth
                        .servers()?
                        .into_iter()
                        .find(|s| s.name == name)
                        .map(|s| format!("{} via {}", s.address(), s.transport))
                        .unwrap_or_default(),
                    check.docker_version,
                    check.latency_ms
                );
            }
            if let Some(pattern) = stage_pattern {
                let p = berth.set_stage_pattern(&name, &pattern)?;
                eprintln!("server {name}: stage subdomains {p}, an instance's {p}-<tag>");
                // Relays that deploy stages on their own name instances with it.
                for warning in berth.webhook_resync_all().await {
                    eprintln!("warning: {warning}");
                }
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
        ServerCmd::Rm { name, purge } => {
            berth.server_rm(&name, purge).await?;
            if purge {
                eprintln!("server {name} removed; Berth's proxy and relay were taken off it");
            } else {
                eprintln!(
                    "server {name} removed; what Berth runs on it (proxy, relay) keeps running: `berth server rm --purge` takes it off"
                );
            }
            Ok(())
        }
    }
}

/// `berth reconcile`: one line per drift, what `--fix` does (or did).
pub async fn reconcile(
    berth: &Berth,
    server: Option<&str>,
    fix: bool,
    json: bool,
) -> anyhow::Result<()> {
    let drifts = berth.reconcile(server, fix).await?;
    if json {
        return print_json(&drifts);
    }
    let style = Style::new();
    if drifts.is_empty() {
        eprintln!(
            "{} no drift: every app runs as Berth recorded it",
            style.green("✓")
        );
        return Ok(());
    }
    let mut failed = 0;
    for d in &drifts {
        let mark = match d.fixed {
            Some(true) => style.green("✓ fixed"),
            Some(false) => {
                failed += 1;
                style.red("✗ not fixed")
            }
            None => style.yellow("drift"),
        };
        println!("{mark}  {}/{}  {}: {}", d.server, d.app, d.kind, d.problem);
        match (&d.fixed, &d.error) {
            (Some(false), Some(e)) => println!("    {e}"),
            (None, _) => println!("    --fix would: {}", d.fix),
            _ => println!("    {}", d.fix),
        }
    }
    if fix && failed > 0 {
        anyhow::bail!("{failed} drift(s) could not be fixed");
    }
    if !fix {
        eprintln!(
            "{} drift(s); `berth reconcile --fix` fixes them",
            drifts.len()
        );
    }
    Ok(())
}
