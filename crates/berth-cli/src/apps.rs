//! `berth app …`: create, list, show, change and remove apps.

use berth_api::Berth;
use berth_model::size::format_memory;

use crate::args::{AppCmd, AppSet, ProjectCmd};
use crate::output::{Style, ago, table};
use crate::{hooks, print_json};
use berth_model::{App, AppDraft, BaseImages, EnvVar, Monitor, Volume, parse_cpus, parse_memory};

/// A `--cpus` or `--memory` value, parsed when given.
pub(crate) fn limit<T>(
    given: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Option<T>> {
    given.map(parse).transpose().map_err(anyhow::Error::msg)
}

pub(crate) async fn app(berth: &Berth, cmd: AppCmd) -> anyhow::Result<()> {
    match cmd {
        AppCmd::Webhook(cmd) => hooks::webhook(berth, cmd).await,
        AppCmd::Stage(cmd) => stage(berth, cmd).await,
        AppCmd::Create(a) => {
            let mut env = Vec::new();
            for pair in &a.env {
                env.push(EnvVar::parse_pair(pair).map_err(anyhow::Error::msg)?);
            }
            let mut volumes = Vec::new();
            for v in &a.volumes {
                volumes.push(Volume::parse(v).map_err(anyhow::Error::msg)?);
            }
            let image = match (&a.registry, &a.image) {
                (Some(registry), Some(image)) => Some(berth.registry_reference(registry, image)?),
                (_, image) => image.clone(),
            };
            // A project's server is where its members go unless told otherwise.
            let server = match (&a.server, &a.project) {
                (Some(s), _) => s.clone(),
                (None, Some(p)) => berth.project(p)?.project.server.unwrap_or_default(),
                (None, None) => String::new(),
            };
            let mut draft = AppDraft {
                name: a.name.clone(),
                server,
                project: a.project.clone(),
                git: a.git.clone().unwrap_or_default(),
                branch: a.branch.clone(),
                image: image.clone(),
                dockerfile: a.dockerfile.clone(),
                port: a.port,
                health_path: a.health_path.clone(),
                health_deadline_ms: a.health_timeout.map(|s| s * 1000),
                cpus: limit(a.cpus.as_deref(), parse_cpus)?,
                memory_bytes: limit(a.memory.as_deref(), parse_memory)?,
                volumes,
                base_images: BaseImages {
                    build: a.build_image.clone(),
                    run: a.run_image.clone(),
                },
                stop_grace_secs: None,
                drain_timeout_secs: a.drain_timeout,
                monitor_interval_secs: a
                    .monitor_interval
                    .as_deref()
                    .map(Monitor::parse_interval)
                    .transpose()
                    .map_err(anyhow::Error::msg)?,
                unhealthy_after: a.unhealthy_after,
                release_command: a.release_command.clone(),
                start_command: a.start_command.clone(),
                read_only_app_dir: a.read_only_app_dir.then_some(true),
                env,
            };
            if let Some(image) = &image {
                // Pull it first and say what it tells about running it.
                if !a.json {
                    eprintln!("pulling {image} on the server to read how it runs…");
                }
                let seen = berth.image_inspect(&draft.server, image).await?;
                if !a.json {
                    let digest = seen.digest.as_deref().unwrap_or("no registry digest");
                    eprintln!("  {} is {digest} ({})", seen.reference, seen.platform);
                    let from = |given: bool, source: Option<&str>, default: &str| match source {
                        _ if given => "as given".to_owned(),
                        Some(s) => format!("from {s}"),
                        None => format!("the default: the image says nothing, {default}"),
                    };
                    eprintln!(
                        "  port {} ({})",
                        draft.port.or(seen.port).unwrap_or(App::DEFAULT_PORT),
                        from(
                            draft.port.is_some(),
                            seen.port_from.as_deref(),
                            "--port to change"
                        )
                    );
                    eprintln!(
                        "  health check GET {} ({})",
                        draft
                            .health_path
                            .clone()
                            .or_else(|| seen.health_path.clone())
                            .unwrap_or_else(|| "/".to_owned()),
                        from(
                            draft.health_path.is_some(),
                            seen.health_from.as_deref(),
                            "--health-path to change"
                        )
                    );
                    for (k, v) in &seen.env {
                        let given = draft.env.iter().any(|(g, _)| g == k);
                        if !given {
                            eprintln!(
                                "  env {k}={v} (from label berth.env.{k}; `berth env set` to change)"
                            );
                        }
                    }
                }
                draft.port = draft.port.or(seen.port);
                draft.health_path = draft.health_path.clone().or(seen.health_path);
            }
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
            // Services are listed by `berth service ls`.
            let apps: Vec<App> = berth
                .apps()?
                .into_iter()
                .filter(|a| a.service.is_none())
                .collect();
            if json {
                return print_json(&apps);
            }
            if apps.is_empty() {
                eprintln!(
                    "no apps yet: create one with `berth app create NAME --git PATH` (or `--image IMAGE`)"
                );
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
                        match &a.image {
                            Some(image) => image.clone(),
                            None => format!("{}@{}", a.git, a.branch),
                        },
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
            match &a.image {
                Some(image) => println!("  image        {image}"),
                None => {
                    println!("  git          {} (branch {})", a.git, a.branch);
                    println!(
                        "  build        {}",
                        a.dockerfile
                            .clone()
                            .unwrap_or_else(|| "Dockerfile, else runtime detection".into())
                    );
                }
            }
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
            println!("  monitor      {}", a.monitor.describe());
            if let Some(cmd) = &a.release_command {
                println!("  release      {cmd}");
            }
            if let Some(cmd) = &a.start_command {
                println!("  start        {cmd}");
            }
            if a.image.is_none() && a.service.is_none() {
                println!(
                    "  app dir      {}",
                    if a.read_only_app_dir {
                        "read-only (owned by root)"
                    } else {
                        "writable (owned by the app's user)"
                    }
                );
            }
            if !a.build_env.is_empty() {
                println!("  build env    {}", a.build_env.join(", "));
            }
            for v in &a.volumes {
                println!("  volume       {v}");
            }
            for e in berth.env_ls(&name)? {
                println!("  env          {}", crate::env::env_line(&e));
            }
            Ok(())
        }
        AppCmd::Set(a) => app_set(berth, *a).await,
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

async fn stage(berth: &Berth, cmd: crate::args::StageCmd) -> anyhow::Result<()> {
    use crate::args::StageCmd;
    match cmd {
        StageCmd::Add {
            app,
            name,
            tags,
            auto_deploy,
            max_instances,
            promote_from,
            confirm,
            subdomain,
        } => {
            let s = berth
                .stage_add(&berth_model::StageDraft {
                    app,
                    name,
                    tags,
                    auto_deploy,
                    max_instances: Some(max_instances),
                    promote_from,
                    confirm,
                    subdomain,
                })
                .await?;
            eprintln!(
                "stage {} of {}: tags {}, up to {} side by side{}{}{}",
                s.name,
                s.app,
                s.tags,
                s.max_instances,
                if s.auto_deploy {
                    ", deploys new tags on its own"
                } else {
                    ""
                },
                if s.confirm {
                    ", only with confirmation"
                } else {
                    ""
                },
                s.promote_from
                    .as_deref()
                    .map(|f| format!(", promoted from {f}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        StageCmd::Ls { app, json } => {
            let stages = berth.stages(&app)?;
            if json {
                return print_json(&stages);
            }
            if stages.is_empty() {
                println!(
                    "{app} has no stages; add one with `berth app stage add {app} NAME --tags PATTERN`"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = stages
                .iter()
                .map(|s| {
                    vec![
                        s.name.clone(),
                        s.tags.clone(),
                        s.max_instances.to_string(),
                        if s.auto_deploy {
                            "auto"
                        } else if s.confirm {
                            "confirm"
                        } else {
                            "by hand"
                        }
                        .to_owned(),
                        s.promote_from.clone().unwrap_or_else(|| "-".to_owned()),
                    ]
                })
                .collect();
            table(&["STAGE", "TAGS", "MAX", "DEPLOYS", "PROMOTE FROM"], &rows);
            Ok(())
        }
        StageCmd::Rm { app, name } => {
            berth.stage_rm(&app, &name).await?;
            eprintln!("stage {name} of {app} removed, with its instances");
            Ok(())
        }
    }
}

/// `berth app set APP --flag …`: every flag `app create` takes, checked together and written
/// at once (a bad one changes nothing); says what changed and when it applies.
async fn app_set(berth: &Berth, a: AppSet) -> anyhow::Result<()> {
    let before = berth.app(&a.app)?;
    let mut draft = AppDraft::of(&before);
    let AppSet {
        app: _,
        project,
        git,
        image,
        branch,
        dockerfile,
        port,
        health_path,
        health_timeout,
        drain_timeout,
        stop_grace,
        cpus,
        memory,
        volumes,
        rm_volumes,
        build_image,
        run_image,
        monitor_interval,
        unhealthy_after,
        release_command,
        start_command,
        app_dir,
        apply,
        json,
    } = a;
    let mut given = false;
    let mut set = |v: bool| given |= v;
    set(project.is_some());
    if project.is_some() {
        draft.project = project;
    }
    if let Some(g) = git {
        set(true);
        draft.git = g;
        draft.image = None;
        if draft.branch.is_none() {
            draft.branch = Some(App::DEFAULT_BRANCH.to_owned());
        }
    }
    if let Some(i) = image {
        set(true);
        draft.image = Some(i);
        draft.git = String::new();
        draft.branch = None;
        draft.dockerfile = None;
    }
    set(branch.is_some() || dockerfile.is_some() || port.is_some() || health_path.is_some());
    if branch.is_some() {
        draft.branch = branch;
    }
    if let Some(d) = dockerfile {
        draft.dockerfile = (!d.is_empty()).then_some(d);
    }
    draft.port = port.or(draft.port);
    draft.health_path = health_path.or(draft.health_path);
    set(health_timeout.is_some() || drain_timeout.is_some() || stop_grace.is_some());
    if let Some(t) = health_timeout {
        draft.health_deadline_ms = Some(t * 1000);
    }
    draft.drain_timeout_secs = drain_timeout.or(draft.drain_timeout_secs);
    draft.stop_grace_secs = stop_grace.or(draft.stop_grace_secs);
    let unlimited = |v: &str| v.eq_ignore_ascii_case("none") || v.is_empty();
    if let Some(c) = cpus {
        set(true);
        draft.cpus = if unlimited(&c) {
            None
        } else {
            limit(Some(&c), parse_cpus)?
        };
    }
    if let Some(m) = memory {
        set(true);
        draft.memory_bytes = if unlimited(&m) {
            None
        } else {
            limit(Some(&m), parse_memory)?
        };
    }
    for target in &rm_volumes {
        set(true);
        let n = draft.volumes.len();
        draft.volumes.retain(|v| &v.target != target);
        if draft.volumes.len() == n {
            anyhow::bail!(
                "{} mounts nothing at {target} (see `berth app show {}`)",
                before.name,
                before.name
            );
        }
    }
    for v in &volumes {
        set(true);
        let v = Volume::parse(v).map_err(anyhow::Error::msg)?;
        draft.volumes.retain(|old| old.target != v.target);
        draft.volumes.push(v);
    }
    if let Some(b) = build_image {
        set(true);
        draft.base_images.build = (!b.is_empty()).then_some(b);
    }
    if let Some(r) = run_image {
        set(true);
        draft.base_images.run = (!r.is_empty()).then_some(r);
    }
    let interval = monitor_interval
        .as_deref()
        .map(Monitor::parse_interval)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    set(interval.is_some() || unhealthy_after.is_some());
    draft.monitor_interval_secs = interval.or(draft.monitor_interval_secs);
    draft.unhealthy_after = unhealthy_after.or(draft.unhealthy_after);
    set(release_command.is_some() || start_command.is_some() || app_dir.is_some());
    draft.release_command = release_command.or(draft.release_command);
    draft.start_command = start_command.or(draft.start_command);
    if let Some(mode) = &app_dir {
        draft.read_only_app_dir = Some(mode == "read-only");
    }
    if !given {
        anyhow::bail!(
            "nothing to change: give a setting to change (see `berth app set --help`), e.g. --memory 512m"
        );
    }
    let after = berth.app_update(draft).await?;
    let warning = if interval.is_some() || unhealthy_after.is_some() {
        berth
            .app_set_monitor(&after.name, interval, unhealthy_after)
            .await?
            .1
    } else {
        None
    };
    if json {
        return print_json(&after);
    }
    let spec = |app: &App| berth_model::DeploySpec {
        app: app.clone(),
        env: Vec::new(),
        domains: Vec::new(),
    };
    let diff = berth_model::diff_specs(&spec(&before), &spec(&after));
    if diff.is_empty() && before.project == after.project {
        eprintln!("{}: nothing changed", after.name);
    }
    if before.project != after.project {
        eprintln!(
            "{}: project {} → {}",
            after.name,
            before.project.as_deref().unwrap_or("-"),
            after.project.as_deref().unwrap_or("-")
        );
    }
    for c in &diff.changes {
        eprintln!("{}: {}", after.name, c.line());
    }
    if apply {
        crate::pending::apply_now(berth, &after.name).await?;
    } else if !diff.is_empty() {
        let name = &after.name;
        match berth.plan(name) {
            Ok(p) if p.deployment.is_none() => eprintln!("{name}: applies at the first deploy"),
            Ok(p) if !p.is_empty() => eprintln!(
                "{name}: pending — applying takes {}: `berth apply {name}` (`berth plan {name}` shows all)",
                p.diff.effect.describe()
            ),
            _ => {}
        }
    }
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// `berth project …`.
pub(crate) async fn project(berth: &Berth, cmd: ProjectCmd) -> anyhow::Result<()> {
    match cmd {
        ProjectCmd::Create { name, server, json } => {
            let p = berth.project_create(&name, server.as_deref())?;
            if json {
                return print_json(&p);
            }
            eprintln!(
                "project {name} created{}: add apps with `berth app create APP --project {name} …`, variables with `berth env set --project {name} KEY=VALUE`",
                p.server
                    .as_deref()
                    .map(|s| format!(" (its apps go to {s})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        ProjectCmd::Ls { json } => {
            let projects = berth.projects()?;
            if json {
                return print_json(&projects);
            }
            let rows: Vec<Vec<String>> = projects
                .iter()
                .map(|p| {
                    vec![
                        p.project.name.clone(),
                        p.project.server.clone().unwrap_or_else(|| "-".into()),
                        if p.members.is_empty() {
                            "-".to_owned()
                        } else {
                            p.members.join(", ")
                        },
                        p.env.len().to_string(),
                    ]
                })
                .collect();
            table(&["name", "server", "apps", "variables"], &rows);
            Ok(())
        }
        ProjectCmd::Show { name, json } => {
            let p = berth.project(&name)?;
            if json {
                return print_json(&p);
            }
            println!("{}", Style::new().bold(&p.project.name));
            if let Some(s) = &p.project.server {
                println!("  server       {s}");
            }
            for m in &p.members {
                println!("  app          {m}");
            }
            for e in &p.env {
                println!("  env          {}", crate::env::env_line(e));
            }
            Ok(())
        }
        ProjectCmd::Rm { name } => {
            berth.project_rm(&name)?;
            eprintln!("project {name} removed");
            Ok(())
        }
    }
}
