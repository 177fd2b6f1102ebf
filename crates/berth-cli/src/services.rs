//! `berth service …`: databases, caches and other images beside the apps.

use berth_api::Berth;
use berth_model::{ServiceDraft, ServiceInfo, parse_cpus, parse_memory};

use crate::apps::limit;
use crate::args::ServiceCmd;
use crate::output::{Style, table};
use crate::{ctrl_c_token, deploys, print_json};

pub(crate) async fn service(berth: &Berth, cmd: ServiceCmd) -> anyhow::Result<()> {
    match cmd {
        ServiceCmd::Create(a) => {
            let draft = ServiceDraft {
                name: a.name.clone(),
                server: a.server.clone().unwrap_or_default(),
                kind: a.kind.clone().unwrap_or_default(),
                version: a.version.clone(),
                image: a.image.clone(),
                port: a.port,
                cpus: limit(a.cpus.as_deref(), parse_cpus)?,
                memory_bytes: limit(a.memory.as_deref(), parse_memory)?,
                publish: a.publish.clone(),
                volumes: a.volumes.clone(),
                project: a.project.clone(),
            };
            // Said before anything is pulled (the rest is checked before the pull too).
            draft.kind()?;
            if !a.json {
                eprintln!("pulling the image on the server…");
            }
            let created = berth.service_create(draft).await?;
            let name = created.name.clone();
            if a.no_start {
                if a.json {
                    return print_json(&berth.service(&name)?);
                }
                eprintln!("service {name} created: start it with `berth service restart {name}`");
                return Ok(());
            }
            let quiet = a.json;
            let events = move |e: &berth_model::DeployEvent| {
                if !quiet {
                    crate::output::print_event(e);
                }
            };
            berth.deploy(&name, None, &events, ctrl_c_token()).await?;
            if a.json {
                return print_json(&berth.service(&name)?);
            }
            let s = Style::new();
            eprintln!(
                "{} service {name} ready: apps on {} reach it at {name}:{}{}",
                s.green("✓"),
                created.server,
                created.port,
                match created.service.and_then(|k| k.link_var()) {
                    Some(var) =>
                        format!("; `berth service link {name} --app APP` gives an app {var}"),
                    None => String::new(),
                }
            );
            Ok(())
        }
        ServiceCmd::Ls { json } => {
            let services = berth.services()?;
            if json {
                return print_json(&services);
            }
            if services.is_empty() {
                eprintln!(
                    "no services yet: create one with `berth service create NAME --kind postgres` (or redis, mysql, mariadb, --image IMAGE)"
                );
                return Ok(());
            }
            let rows = services
                .iter()
                .map(|i| {
                    let s = &i.service;
                    let state = berth
                        .deployments(&s.name, 1)
                        .ok()
                        .and_then(|d| d.into_iter().next())
                        .map(|d| d.status.to_string())
                        .unwrap_or_else(|| "never started".to_owned());
                    vec![
                        s.name.clone(),
                        s.service.map(|k| k.to_string()).unwrap_or_default(),
                        s.image.clone().unwrap_or_default(),
                        s.server.clone(),
                        format!("{}:{}", s.name, s.port),
                        links(i),
                        state,
                    ]
                })
                .collect::<Vec<_>>();
            table(
                &[
                    "name",
                    "kind",
                    "image",
                    "server",
                    "reach at",
                    "linked",
                    "last start",
                ],
                &rows,
            );
            Ok(())
        }
        ServiceCmd::Show { name, json } => {
            let info = berth.service(&name)?;
            let env = berth.env_ls(&name)?;
            if json {
                let mut v = serde_json::to_value(&info)?;
                v["env"] = serde_json::to_value(&env)?;
                return print_json(&v);
            }
            let s = Style::new();
            let svc = &info.service;
            println!(
                "{}  {}",
                s.bold(&svc.name),
                svc.service.map(|k| k.to_string()).unwrap_or_default()
            );
            println!("  server      {}", svc.server);
            println!("  image       {}", svc.image.as_deref().unwrap_or("-"));
            println!(
                "  reach at    {}:{} on the berth network{}",
                svc.name,
                svc.port,
                match svc.publish {
                    Some(p) => format!("; published on the server's 127.0.0.1:{p}"),
                    None => "; not published".to_owned(),
                }
            );
            for v in &svc.volumes {
                println!("  data        {v}");
            }
            if let Some(m) = svc.limits.memory_bytes {
                println!("  memory      {}", berth_model::size::format_memory(m));
            }
            for e in &env {
                println!(
                    "  env         {}={}",
                    e.key,
                    if e.secret {
                        "(secret, in the keychain)".to_owned()
                    } else {
                        e.value.clone().unwrap_or_default()
                    }
                );
            }
            println!("  linked      {}", links(&info));
            Ok(())
        }
        ServiceCmd::Link { service, app, var } => {
            let link = berth.service_link(&service, &app, var.as_deref())?;
            eprintln!(
                "{} gets {}'s connection string as {} (secret) from its next deploy or `berth restart {}`",
                link.app, link.service, link.var, link.app
            );
            Ok(())
        }
        ServiceCmd::Unlink { service, app, var } => {
            let gone = berth.service_unlink(&service, &app, var.as_deref())?;
            if gone.is_empty() {
                anyhow::bail!("{app} is not linked to {service}");
            }
            for l in gone {
                eprintln!(
                    "{} no longer gets {} ({} removed: from its next deploy or restart)",
                    l.app, l.service, l.var
                );
            }
            Ok(())
        }
        ServiceCmd::Stop { name } => {
            berth.service(&name)?;
            deploys::stop(berth, &name).await
        }
        ServiceCmd::Start { name } => {
            berth.service(&name)?;
            berth.start(&name, ctrl_c_token()).await?;
            eprintln!("{name} started and ready");
            Ok(())
        }
        ServiceCmd::Restart { name } => {
            berth.service(&name)?;
            let d = berth
                .restart(&name, &crate::output::print_event, ctrl_c_token())
                .await;
            match d {
                Ok(_) => {
                    eprintln!("{name} restarted and ready");
                    Ok(())
                }
                // Never started (`--no-start`): its first start.
                Err(berth_api::ApiError::NotDeployed(_)) => {
                    berth
                        .deploy(&name, None, &crate::output::print_event, ctrl_c_token())
                        .await?;
                    eprintln!("{name} started and ready");
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }
        ServiceCmd::Logs { name, tail, follow } => {
            berth.service(&name)?;
            deploys::logs(berth, &name, tail, follow).await
        }
        ServiceCmd::Rm { name, purge } => {
            let volumes = berth.service(&name)?.service.volumes;
            berth.service_rm(&name, purge).await?;
            let kept = match (purge, volumes.first()) {
                (true, Some(_)) => " with its data volume and images".to_owned(),
                (true, None) => " with its images".to_owned(),
                (false, Some(v)) => format!(
                    "; its data volume {} stays on the server (--purge removes it)",
                    v.source
                ),
                (false, None) => String::new(),
            };
            eprintln!("service {name} removed{kept}");
            Ok(())
        }
    }
}

fn links(i: &ServiceInfo) -> String {
    if i.links.is_empty() {
        return "-".to_owned();
    }
    i.links
        .iter()
        .map(|l| format!("{} ({})", l.app, l.var))
        .collect::<Vec<_>>()
        .join(", ")
}
