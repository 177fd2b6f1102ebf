//! The whole setup as a file: `berth export` writes servers (without keys), projects, apps and
//! services with their settings, variables (secrets as references), domains, stages, webhooks,
//! cron jobs, backup schedules, backup targets and notifiers as YAML (those last ones in
//! `setup_attached`);
//! `berth import` reads one back, checks all of it first (an error names the file's line),
//! says what it changes, and creates or updates — it removes nothing unless asked (`prune`).
//! Changes to apps that exist are pending changes like any edit (`berth plan`, `apply`).

use std::collections::BTreeMap;

use berth_model::setup::{
    AppSetup, DomainSetup, EnvSetup, ImportReport, ProjectSetup, SETUP_VERSION, ServerSetup,
    ServiceSetup, SetupFile,
};
use berth_model::size::format_memory;
use berth_model::{
    App, AppDraft, BaseImages, DeploySpec, Domain, EnvVar, ServiceDraft, ServiceKind, Volume,
    diff_specs, parse_memory, validate_env_key,
};

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// `berth export [--project P]`: the setup as YAML (a project's: its members, their
    /// servers and the project).
    pub fn export_setup(&self, project: Option<&str>) -> Result<String, ApiError> {
        let file = self.setup_file(project)?;
        serde_norway::to_string(&file)
            .map_err(|e| ApiError::Invalid(format!("cannot write the setup as YAML: {e}")))
    }

    fn setup_file(&self, project: Option<&str>) -> Result<SetupFile, ApiError> {
        if let Some(p) = project {
            self.store.project(p)?;
        }
        let in_scope = |a: &App| project.is_none() || a.project.as_deref() == project;
        let all = self.apps()?;
        let members: Vec<&App> = all.iter().filter(|a| in_scope(a)).collect();
        let mut file = SetupFile {
            berth: SETUP_VERSION,
            ..SetupFile::default()
        };
        for s in self.store.servers()? {
            let used = members.iter().any(|a| a.server == s.name);
            if project.is_some() && !used {
                continue;
            }
            file.servers.push(ServerSetup {
                name: s.name.clone(),
                ssh: s.ssh.as_ref().map(|t| t.to_string()),
                transport: s.transport.as_str().to_owned(),
                base_domain: s.base_domain.clone(),
                build_image: s.base_images.build.clone(),
                run_image: s.base_images.run.clone(),
            });
        }
        for p in self.store.projects()? {
            if project.is_some_and(|only| only != p.name) {
                continue;
            }
            file.projects.push(ProjectSetup {
                env: env_setup(&self.store.project_env(&p.name)?),
                name: p.name,
                server: p.server,
            });
        }
        let links = self.store.links(None)?;
        for a in members {
            let env = self.store.env(&a.name)?;
            if let Some(kind) = a.service {
                file.services.push(ServiceSetup {
                    name: a.name.clone(),
                    server: a.server.clone(),
                    project: a.project.clone(),
                    kind: kind.as_str().to_owned(),
                    image: a.image.clone().unwrap_or_default(),
                    port: a.port,
                    publish: a.publish,
                    cpus: a.limits.cpus,
                    memory: a.limits.memory_bytes.map(format_memory),
                    // Its data volume comes with its kind; only the others are written.
                    volumes: a
                        .volumes
                        .iter()
                        .filter(|v| {
                            !(v.source == berth_model::data_volume(&a.name)
                                && Some(v.target.as_str()) == kind.data_dir())
                        })
                        .map(Volume::to_string)
                        .collect(),
                    links: links
                        .iter()
                        .filter(|l| l.service == a.name)
                        .map(|l| {
                            if Some(l.var.as_str()) == kind.link_var() {
                                l.app.clone()
                            } else {
                                format!("{}:{}", l.app, l.var)
                            }
                        })
                        .collect(),
                    backup: self.service_backup(&a.name)?,
                    cron: self.cron_setup(&a.name)?,
                });
                continue;
            }
            // A linked service's connection string is the link's, not the app's own.
            let linked: Vec<&str> = links
                .iter()
                .filter(|l| l.app == a.name)
                .map(|l| l.var.as_str())
                .collect();
            let own: Vec<EnvVar> = env
                .into_iter()
                .filter(|v| !linked.contains(&v.key.as_str()))
                .collect();
            let mut domains: Vec<DomainSetup> = self
                .store
                .domains(&a.name)?
                .into_iter()
                .map(|d| DomainSetup {
                    name: d.name,
                    primary: d.primary,
                })
                .collect();
            domains.sort_by(|x, y| x.name.cmp(&y.name));
            let mut build_env = a.build_env.clone();
            build_env.sort();
            let crate::setup_attached::AppAttached {
                stages,
                webhook,
                cron,
            } = self.app_attached(a)?;
            file.apps.push(AppSetup {
                name: a.name.clone(),
                server: a.server.clone(),
                project: a.project.clone(),
                git: (!a.git.is_empty()).then(|| a.git.clone()),
                branch: (!a.branch.is_empty()).then(|| a.branch.clone()),
                image: a.image.clone(),
                dockerfile: a.dockerfile.clone(),
                port: a.port,
                health_path: a.health.path.clone(),
                health_timeout_secs: a.health.deadline_ms / 1000,
                cpus: a.limits.cpus,
                memory: a.limits.memory_bytes.map(format_memory),
                volumes: a.volumes.iter().map(Volume::to_string).collect(),
                build_image: a.base_images.build.clone(),
                run_image: a.base_images.run.clone(),
                drain_timeout_secs: a.drain_timeout_secs,
                stop_grace_secs: a.stop_grace_secs,
                monitor_interval_secs: a.monitor.interval_secs,
                unhealthy_after: a.monitor.unhealthy_after,
                release_command: a.release_command.clone(),
                start_command: a.start_command.clone(),
                read_only_app_dir: a.read_only_app_dir,
                build_env,
                env: env_setup(&own),
                domains,
                stages,
                webhook,
                cron,
            });
        }
        let names: Vec<String> = all
            .iter()
            .filter(|a| in_scope(a))
            .map(|a| a.name.clone())
            .collect();
        self.export_beside(&mut file, project.is_some().then_some(names.as_slice()))?;
        Ok(file)
    }

    /// `berth import FILE [--dry-run] [--prune]`: checks the whole file first (nothing changes
    /// when any of it is wrong; the error names the line), then creates what is missing and
    /// updates what differs — apps that exist get pending changes (`berth plan`). Removes
    /// apps, services, projects, variables and domains the file leaves out only with `prune`.
    pub async fn import_setup(
        &self,
        text: &str,
        dry_run: bool,
        prune: bool,
    ) -> Result<ImportReport, ApiError> {
        let file: SetupFile = serde_norway::from_str(text).map_err(|e| yaml_error(&e))?;
        if file.berth != SETUP_VERSION {
            return Err(ApiError::Invalid(format!(
                "line 1: this file is format `berth: {}`; this Berth reads `berth: {SETUP_VERSION}`",
                file.berth
            )));
        }
        let checked = self.check_setup(text, &file)?;
        let mut report = ImportReport::default();
        self.plan_setup(&file, &checked, prune, &mut report)?;
        if dry_run || report.changes.is_empty() {
            return Ok(report);
        }
        self.apply_setup(&file, &checked, prune, &mut report)
            .await?;
        report.applied = true;
        self.audit(
            "import",
            "setup",
            &format!("{} change(s)", report.changes.len()),
        );
        Ok(report)
    }

    /// Every item of the file made into what Berth stores, or the first error with its line.
    fn check_setup(&self, text: &str, file: &SetupFile) -> Result<Checked, ApiError> {
        let now = self.now();
        let at = |kind: &str, name: &str, e: &dyn std::fmt::Display| {
            ApiError::Invalid(format!(
                "line {}: {kind} `{name}`: {e}",
                line_of(text, kind, name)
            ))
        };
        let known_servers: Vec<String> = self
            .store
            .servers()?
            .into_iter()
            .map(|s| s.name)
            .chain(file.servers.iter().map(|s| s.name.clone()))
            .collect();
        let known_projects: Vec<String> = self
            .store
            .projects()?
            .into_iter()
            .map(|p| p.name)
            .chain(file.projects.iter().map(|p| p.name.clone()))
            .collect();
        let mut seen = Vec::new();
        for s in &file.servers {
            berth_model::validate_server_name(&s.name).map_err(|e| at("server", &s.name, &e))?;
            s.transport
                .parse::<berth_model::TransportKind>()
                .map_err(|e| at("server", &s.name, &e))?;
            if let Some(ssh) = &s.ssh {
                berth_model::SshTarget::parse(ssh).map_err(|e| at("server", &s.name, &e))?;
            }
        }
        for p in &file.projects {
            berth_model::validate_project_name(&p.name).map_err(|e| at("project", &p.name, &e))?;
            if let Some(s) = &p.server
                && !known_servers.contains(s)
            {
                return Err(at(
                    "project",
                    &p.name,
                    &format!("server `{s}` is not in the file nor known here"),
                ));
            }
            check_env(&p.env).map_err(|e| at("project", &p.name, &e))?;
        }
        let mut apps = Vec::new();
        for a in &file.apps {
            if seen.contains(&a.name) {
                return Err(at("app", &a.name, &"is in the file twice"));
            }
            seen.push(a.name.clone());
            let app = app_from(a, now).map_err(|e| at("app", &a.name, &e))?;
            for (what, name, list) in [
                ("server", &app.server, &known_servers),
                (
                    "project",
                    app.project.as_ref().unwrap_or(&String::new()),
                    &known_projects,
                ),
            ] {
                if !name.is_empty() && !list.contains(name) {
                    return Err(at(
                        "app",
                        &a.name,
                        &format!("{what} `{name}` is not in the file nor known here"),
                    ));
                }
            }
            check_env(&a.env).map_err(|e| at("app", &a.name, &e))?;
            for k in &a.build_env {
                if !matches!(a.env.get(k), Some(EnvSetup::Value(_))) {
                    return Err(at(
                        "app",
                        &a.name,
                        &format!("build_env names {k}, which is not one of its plain variables"),
                    ));
                }
            }
            for d in &a.domains {
                crate::routing::valid_domain(&d.name).map_err(|e| at("app", &a.name, &e))?;
            }
            if a.domains.iter().filter(|d| d.primary).count() > 1 {
                return Err(at("app", &a.name, &"has more than one primary domain"));
            }
            self.check_app_attached(a)
                .map_err(|e| at("app", &a.name, &e))?;
            apps.push(app);
        }
        let mut services = Vec::new();
        for s in &file.services {
            if seen.contains(&s.name) {
                return Err(at(
                    "service",
                    &s.name,
                    &"has the name of another app or service in the file",
                ));
            }
            seen.push(s.name.clone());
            let draft = service_draft(s).map_err(|e| at("service", &s.name, &e))?;
            draft
                .validate(now)
                .map_err(|e| at("service", &s.name, &e))?;
            for l in &s.links {
                let app = l.split_once(':').map_or(l.as_str(), |(a, _)| a);
                if !seen.iter().any(|n| n == app) && self.store.app(app).is_err() {
                    return Err(at(
                        "service",
                        &s.name,
                        &format!("links to `{app}`, which is not in the file nor known here"),
                    ));
                }
            }
            self.check_service_backup(s, file)
                .map_err(|e| at("service", &s.name, &e))?;
            services.push(draft);
        }
        for t in &file.backup_targets {
            self.check_target(t)
                .map_err(|e| at("backup target", &t.name, &e))?;
        }
        for n in &file.notifiers {
            self.check_notifier(n, file)
                .map_err(|e| at("notifier", &n.url, &e))?;
        }
        Ok(Checked { apps, services })
    }

    /// What importing would change, a line each.
    fn plan_setup(
        &self,
        file: &SetupFile,
        checked: &Checked,
        prune: bool,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let out = &mut report.changes;
        for s in &file.servers {
            match self.store.server(&s.name) {
                Err(_) => out.push(format!("add server {}", s.name)),
                Ok(have) => {
                    if have.base_domain != s.base_domain {
                        out.push(format!(
                            "update server {}: base domain {} → {}",
                            s.name,
                            have.base_domain.as_deref().unwrap_or("-"),
                            s.base_domain.as_deref().unwrap_or("-")
                        ));
                    }
                    if have.base_images.build != s.build_image
                        || have.base_images.run != s.run_image
                    {
                        out.push(format!("update server {}: base images", s.name));
                    }
                }
            }
        }
        for p in &file.projects {
            match self.store.project(&p.name) {
                Err(_) => out.push(format!("create project {}", p.name)),
                Ok(have) => {
                    if have.server != p.server {
                        out.push(format!("update project {}: server", p.name));
                    }
                    env_changes(
                        &format!("project {}", p.name),
                        &self.store.project_env(&p.name)?,
                        &p.env,
                        prune,
                        out,
                    );
                }
            }
        }
        for (a, app) in file.apps.iter().zip(&checked.apps) {
            let Ok(have) = self.store.app(&a.name) else {
                out.push(format!("create app {}", a.name));
                continue;
            };
            let spec = |app: &App| DeploySpec {
                app: app.clone(),
                env: Vec::new(),
                domains: Vec::new(),
            };
            let mut wanted = app.clone();
            wanted.created_at = have.created_at;
            for c in diff_specs(&spec(&have), &spec(&wanted)).changes {
                out.push(format!("update app {}: {}", a.name, c.line()));
            }
            if have.project != app.project {
                out.push(format!(
                    "update app {}: project {} → {}",
                    a.name,
                    have.project.as_deref().unwrap_or("-"),
                    app.project.as_deref().unwrap_or("-")
                ));
            }
            if have.monitor != app.monitor {
                out.push(format!(
                    "update app {}: monitor {}",
                    a.name,
                    app.monitor.describe()
                ));
            }
            let linked: Vec<String> = self
                .store
                .links(None)?
                .into_iter()
                .filter(|l| l.app == a.name)
                .map(|l| l.var)
                .collect();
            let own: Vec<EnvVar> = self
                .store
                .env(&a.name)?
                .into_iter()
                .filter(|v| !linked.contains(&v.key))
                .collect();
            env_changes(&format!("app {}", a.name), &own, &a.env, prune, out);
            let domains = self.store.domains(&a.name)?;
            for d in &a.domains {
                match domains.iter().find(|h| h.name == d.name) {
                    None => out.push(format!("update app {}: add domain {}", a.name, d.name)),
                    Some(h) if h.primary != d.primary && d.primary => {
                        out.push(format!("update app {}: primary domain {}", a.name, d.name));
                    }
                    Some(_) => {}
                }
            }
            if prune {
                for h in &domains {
                    if !a.domains.iter().any(|d| d.name == h.name) {
                        out.push(format!("update app {}: remove domain {}", a.name, h.name));
                    }
                }
            }
        }
        let links = self.store.links(None)?;
        for s in &file.services {
            match self.store.app(&s.name) {
                Err(_) => out.push(format!("create service {}", s.name)),
                Ok(have) => {
                    let memory = s
                        .memory
                        .as_deref()
                        .map(parse_memory)
                        .transpose()
                        .ok()
                        .flatten();
                    if have.limits.memory_bytes != memory || have.limits.cpus != s.cpus {
                        out.push(format!("update service {}: limits", s.name));
                    }
                    if have.publish != s.publish {
                        out.push(format!("update service {}: published port", s.name));
                    }
                }
            }
            for l in &s.links {
                let app = l.split_once(':').map_or(l.as_str(), |(a, _)| a);
                if !links.iter().any(|k| k.service == s.name && k.app == app) {
                    out.push(format!("link service {} to {app}", s.name));
                }
            }
        }
        self.plan_attached(file, prune, out)?;
        if prune {
            for a in self.apps()? {
                let named = file.apps.iter().any(|f| f.name == a.name)
                    || file.services.iter().any(|f| f.name == a.name);
                if !named {
                    out.push(format!(
                        "remove {} {}",
                        if a.service.is_some() {
                            "service"
                        } else {
                            "app"
                        },
                        a.name
                    ));
                }
            }
            for p in self.store.projects()? {
                if !file.projects.iter().any(|f| f.name == p.name) {
                    out.push(format!("remove project {}", p.name));
                }
            }
        }
        Ok(())
    }

    async fn apply_setup(
        &self,
        file: &SetupFile,
        checked: &Checked,
        prune: bool,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        for s in &file.servers {
            match self.store.server(&s.name) {
                Ok(have) => {
                    if have.base_domain != s.base_domain {
                        self.server_set_base_domain(&s.name, s.base_domain.as_deref())
                            .await?;
                    }
                    if have.base_images.build != s.build_image
                        || have.base_images.run != s.run_image
                    {
                        self.server_set_base_images(
                            &s.name,
                            s.build_image.clone(),
                            s.run_image.clone(),
                        )?;
                    }
                }
                Err(_) if s.transport == "local" => {
                    self.server_add(
                        crate::AddServer {
                            name: s.name.clone(),
                            ssh: None,
                            transport: berth_model::TransportKind::Local,
                            identity: None,
                            passphrase: None,
                            accept_new: false,
                            docker_socket: None,
                            trusted_fingerprint: None,
                        },
                        &|_| false,
                    )
                    .await?;
                    if s.base_domain.is_some() {
                        self.server_set_base_domain(&s.name, s.base_domain.as_deref())
                            .await?;
                    }
                    if s.build_image.is_some() || s.run_image.is_some() {
                        self.server_set_base_images(
                            &s.name,
                            s.build_image.clone(),
                            s.run_image.clone(),
                        )?;
                    }
                }
                Err(_) => {
                    return Err(ApiError::Invalid(format!(
                        "server {0} is not known here, and the file carries no keys: add it with your own (`berth server add {0} --ssh {1} --identity YOUR_KEY`), then import again",
                        s.name,
                        s.ssh.as_deref().unwrap_or("USER@HOST")
                    )));
                }
            }
        }
        for p in &file.projects {
            match self.store.project(&p.name) {
                Err(_) => {
                    self.project_create(&p.name, p.server.as_deref())?;
                }
                Ok(mut have) if have.server != p.server => {
                    have.server = p.server.clone();
                    self.store.update_project(&have)?;
                }
                Ok(_) => {}
            }
            let owner = crate::env::VarOwner::Project(&p.name);
            self.import_env(owner, &format!("project {}", p.name), &p.env, prune, report)?;
        }
        for (a, app) in file.apps.iter().zip(&checked.apps) {
            match self.store.app(&a.name) {
                Err(_) => {
                    self.store.insert_app(app)?;
                    self.audit("app.create", &app.name, "import");
                }
                Ok(have) => {
                    let mut wanted = app.clone();
                    wanted.created_at = have.created_at;
                    wanted.build_env = have.build_env.clone();
                    self.store.update_app(&wanted)?;
                }
            }
            let owner = crate::env::VarOwner::App(&a.name);
            self.import_env(owner, &format!("app {}", a.name), &a.env, prune, report)?;
            let mut record = self.store.app(&a.name)?;
            record.build_env = a.build_env.clone();
            self.store.update_app(&record)?;
            self.import_domains(&a.name, &a.domains, prune)?;
        }
        self.apply_targets(file, report).await?;
        for (s, draft) in file.services.iter().zip(&checked.services) {
            match self.store.app(&s.name) {
                Err(_) => {
                    self.service_create(draft.clone()).await?;
                }
                Ok(mut have) => {
                    let fresh = draft.validate(have.created_at)?;
                    have.limits = fresh.limits;
                    have.publish = fresh.publish;
                    have.volumes = fresh.volumes;
                    have.project = fresh.project;
                    self.store.update_app(&have)?;
                }
            }
            let links = self.store.links(None)?;
            for l in &s.links {
                let (app, var) = match l.split_once(':') {
                    Some((a, v)) => (a, Some(v)),
                    None => (l.as_str(), None),
                };
                if !links.iter().any(|k| k.service == s.name && k.app == app) {
                    self.service_link(&s.name, app, var)?;
                }
            }
        }
        for a in &file.apps {
            self.apply_app_attached(a, prune, report).await?;
        }
        for s in &file.services {
            self.apply_service_attached(s, prune).await?;
        }
        self.apply_beside(file, prune, report).await?;
        if prune {
            for a in self.apps()? {
                let named = file.apps.iter().any(|f| f.name == a.name)
                    || file.services.iter().any(|f| f.name == a.name);
                if !named {
                    self.app_rm(&a.name, false).await?;
                }
            }
            for p in self.store.projects()? {
                if !file.projects.iter().any(|f| f.name == p.name) {
                    self.project_rm(&p.name)?;
                }
            }
        }
        Ok(())
    }

    /// Makes an owner's variables the file's: plain values set, secrets kept when this
    /// machine has them (else recorded without a value, and reported), others removed only
    /// with `prune`.
    fn import_env(
        &self,
        owner: crate::env::VarOwner<'_>,
        label: &str,
        env: &BTreeMap<String, EnvSetup>,
        prune: bool,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let have = owner.vars(&self.store)?;
        for (k, v) in env {
            let mine = have.iter().find(|h| &h.key == k);
            match v {
                EnvSetup::Value(value) => {
                    if mine.is_none_or(|m| m.secret || m.value.as_deref() != Some(value)) {
                        self.put_var(owner, k, value, false)?;
                    }
                }
                EnvSetup::Secret { .. } => {
                    let known =
                        mine.is_some_and(|m| m.secret) && self.reveal_var(owner, k)?.is_some();
                    if !known {
                        owner.record_missing_secret(&self.store, k)?;
                        report.missing_secrets.push(format!("{label} {k}"));
                    }
                }
            }
        }
        if prune {
            for h in &have {
                if !env.contains_key(&h.key) {
                    self.drop_var(owner, &h.key)?;
                }
            }
        }
        Ok(())
    }

    fn import_domains(
        &self,
        app: &str,
        domains: &[DomainSetup],
        prune: bool,
    ) -> Result<(), ApiError> {
        let have = self.store.domains(app)?;
        for d in domains {
            if !have.iter().any(|h| h.name == d.name) {
                self.store.add_domain(&Domain {
                    app: app.to_owned(),
                    name: d.name.clone(),
                    primary: false,
                    created_at: self.now(),
                })?;
            }
        }
        if let Some(p) = domains.iter().find(|d| d.primary) {
            self.store.set_primary_domain(app, Some(&p.name))?;
        }
        if prune {
            for h in &have {
                if !domains.iter().any(|d| d.name == h.name) {
                    self.store.remove_domain(app, &h.name)?;
                }
            }
        }
        Ok(())
    }
}

/// The file's items as Berth stores them, checked.
struct Checked {
    apps: Vec<App>,
    services: Vec<ServiceDraft>,
}

fn env_setup(vars: &[EnvVar]) -> BTreeMap<String, EnvSetup> {
    vars.iter()
        .map(|v| {
            let value = if v.secret {
                EnvSetup::Secret { secret: true }
            } else {
                EnvSetup::Value(v.value.clone().unwrap_or_default())
            };
            (v.key.clone(), value)
        })
        .collect()
}

fn check_env(env: &BTreeMap<String, EnvSetup>) -> Result<(), String> {
    for (k, v) in env {
        validate_env_key(k).map_err(|e| e.to_string())?;
        if matches!(v, EnvSetup::Secret { secret: false }) {
            return Err(format!(
                "{k}: `secret: false` is not a value; write the value itself (`{k}: VALUE`), or `{{secret: true}}` for a secret"
            ));
        }
    }
    Ok(())
}

/// One line a variable that differs: `update app web: env LOG_LEVEL: info → debug`.
fn env_changes(
    label: &str,
    have: &[EnvVar],
    want: &BTreeMap<String, EnvSetup>,
    prune: bool,
    out: &mut Vec<String>,
) {
    let shown = |v: &EnvVar| {
        if v.secret {
            "(secret)".to_owned()
        } else {
            v.value.clone().unwrap_or_default()
        }
    };
    for (k, v) in want {
        let mine = have.iter().find(|h| &h.key == k);
        let (differs, to) = match v {
            EnvSetup::Value(value) => (
                mine.is_none_or(|m| m.secret || m.value.as_deref() != Some(value)),
                value.clone(),
            ),
            EnvSetup::Secret { .. } => (mine.is_none_or(|m| !m.secret), "(secret)".to_owned()),
        };
        if differs {
            out.push(format!(
                "update {label}: env {k}: {} → {to}",
                mine.map_or("-".to_owned(), shown)
            ));
        }
    }
    if prune {
        for h in have {
            if !want.contains_key(&h.key) {
                out.push(format!("update {label}: remove env {}", h.key));
            }
        }
    }
}

/// An app of the file as Berth stores it (its variables and domains apart).
fn app_from(a: &AppSetup, now: i64) -> Result<App, String> {
    let mut volumes = Vec::new();
    for v in &a.volumes {
        volumes.push(Volume::parse(v)?);
    }
    let draft = AppDraft {
        name: a.name.clone(),
        server: a.server.clone(),
        project: a.project.clone(),
        git: a.git.clone().unwrap_or_default(),
        branch: a.branch.clone(),
        image: a.image.clone(),
        dockerfile: a.dockerfile.clone(),
        port: Some(a.port),
        health_path: Some(a.health_path.clone()),
        health_deadline_ms: Some(a.health_timeout_secs * 1000),
        cpus: a.cpus,
        memory_bytes: a.memory.as_deref().map(parse_memory).transpose()?,
        volumes,
        base_images: BaseImages {
            build: a.build_image.clone(),
            run: a.run_image.clone(),
        },
        stop_grace_secs: Some(a.stop_grace_secs),
        drain_timeout_secs: Some(a.drain_timeout_secs),
        monitor_interval_secs: Some(a.monitor_interval_secs),
        unhealthy_after: Some(a.unhealthy_after),
        release_command: a.release_command.clone(),
        start_command: a.start_command.clone(),
        read_only_app_dir: Some(a.read_only_app_dir),
        env: Vec::new(),
    };
    let mut app = draft.validate(now).map_err(|e| e.to_string())?;
    app.build_env = a.build_env.clone();
    Ok(app)
}

fn service_draft(s: &ServiceSetup) -> Result<ServiceDraft, String> {
    let kind = ServiceKind::parse(&s.kind).map_err(|e| e.to_string())?;
    Ok(ServiceDraft {
        name: s.name.clone(),
        server: s.server.clone(),
        kind: kind.as_str().to_owned(),
        version: None,
        image: Some(s.image.clone()),
        port: Some(s.port),
        cpus: s.cpus,
        memory_bytes: s.memory.as_deref().map(parse_memory).transpose()?,
        publish: s.publish.map(|p| format!("127.0.0.1:{p}")),
        volumes: s.volumes.clone(),
        project: s.project.clone(),
    })
}

/// A YAML error as `line N: what`, the parser's own position moved to the front.
fn yaml_error(e: &serde_norway::Error) -> ApiError {
    let text = e.to_string();
    match e.location() {
        Some(at) => {
            let what = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(what, _)| what);
            ApiError::Invalid(format!("line {}: {what}", at.line()))
        }
        None => ApiError::Invalid(format!("the file is not a Berth setup: {text}")),
    }
}

/// The line of the file where the `kind` named `name` starts (its `name:` line; 1 if not
/// found), for errors about an item as a whole.
fn line_of(text: &str, kind: &str, name: &str) -> usize {
    let (section, key) = match kind {
        "server" => ("servers:", "name:"),
        "project" => ("projects:", "name:"),
        "app" => ("apps:", "name:"),
        "backup target" => ("backup_targets:", "name:"),
        "notifier" => ("notifiers:", "url:"),
        _ => ("services:", "name:"),
    };
    let mut in_section = false;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with(' ') && !line.starts_with('-') && line.contains(':') {
            in_section = line.trim_end() == section;
            continue;
        }
        let item = line.trim_start().trim_start_matches("- ").trim();
        if in_section
            && let Some(v) = item.strip_prefix(key)
            && v.trim().trim_matches(|c| c == '"' || c == '\'') == name
        {
            return i + 1;
        }
    }
    1
}
