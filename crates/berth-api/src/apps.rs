//! Apps: create (validating the git source), list, show, edit, remove.

use berth_model::{App, AppDraft};

use crate::Berth;
use crate::error::ApiError;
use crate::lock::AppLock;

impl Berth {
    /// Validates and stores a new app. The git source must be a repository (URLs are cloned
    /// into the cache) whose branch exists; nothing is stored otherwise.
    pub async fn app_create(&self, mut draft: AppDraft) -> Result<App, ApiError> {
        if draft.project.as_deref() == Some("") {
            draft.project = None;
        }
        if let Some(p) = &draft.project {
            self.store.project(p)?;
        }
        draft.server = self.server_for(&draft.server, draft.project.as_deref())?;
        if draft.image.as_deref().is_some_and(|i| !i.trim().is_empty()) {
            return self.app_create_from_image(draft).await;
        }
        // A local path is stored absolute: later commands may run from anywhere.
        if !looks_like_url(&draft.git) {
            let p = std::path::Path::new(&draft.git);
            if p.exists() {
                draft.git = std::path::absolute(p)
                    .map_err(|source| ApiError::DataDir {
                        path: p.to_path_buf(),
                        source,
                    })?
                    .display()
                    .to_string();
            }
        }
        let app = draft.validate(self.now())?;
        // Fail early on a duplicate or an unknown server, before touching git.
        self.refuse_taken_name(&app.name)?;
        self.store.server(&app.server)?;
        let cache = self.git_cache_dir();
        let source = app.git.clone();
        let branch = app.branch.clone();
        tokio::task::spawn_blocking(move || {
            let repo = berth_build::git::open(&source, &cache)?;
            repo.resolve(&branch)?;
            Ok::<_, ApiError>(())
        })
        .await
        .map_err(|e| ApiError::Invalid(format!("checking the git source failed: {e}")))??;
        let detail = format!(
            "server {} git {} branch {}",
            app.server, app.git, app.branch
        );
        self.store_new_app(app, &draft.env, &detail)
    }

    /// [`StoreError::AlreadyExists`](berth_store::StoreError) when an app is called `name`.
    pub(crate) fn refuse_taken_name(&self, name: &str) -> Result<(), ApiError> {
        if self.store.apps()?.iter().any(|a| a.name == name) {
            return Err(berth_store::StoreError::AlreadyExists {
                kind: "app",
                name: name.to_owned(),
            }
            .into());
        }
        Ok(())
    }

    /// Stores a checked new app with its plain env vars, and audits it.
    pub(crate) fn store_new_app(
        &self,
        app: App,
        env: &[(String, String)],
        detail: &str,
    ) -> Result<App, ApiError> {
        self.store.insert_app(&app)?;
        for (k, v) in env {
            self.store.set_env(&app.name, k, Some(v), false)?;
        }
        self.audit("app.create", &app.name, detail);
        Ok(app)
    }

    /// An image app: the image is pulled on the server first (an unknown image or tag, or a
    /// registry that refuses, stores nothing), and the port and health path the user left out
    /// are taken from it.
    async fn app_create_from_image(&self, mut draft: AppDraft) -> Result<App, ApiError> {
        // Check the fields before pulling anything.
        let checked = draft.validate(self.now())?;
        self.refuse_taken_name(&checked.name)?;
        let reference = checked.image.clone().unwrap_or_default();
        let seen = self.image_inspect(&checked.server, &reference).await?;
        if draft.port.is_none() {
            draft.port = seen.port;
        }
        if draft.health_path.is_none() {
            draft.health_path = seen.health_path;
        }
        // The image's env defaults, unless given.
        for (k, v) in seen.env {
            if !draft.env.iter().any(|(given, _)| given == &k) {
                draft.env.push((k, v));
            }
        }
        let app = draft.validate(self.now())?;
        let detail = format!("server {} image {reference}", app.server);
        self.store_new_app(app, &draft.env, &detail)
    }

    pub(crate) fn git_cache_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.join("git-cache")
    }

    /// Every app, by name (a stage's instances are shown with their app, not here).
    pub fn apps(&self) -> Result<Vec<App>, ApiError> {
        let mut apps = self.store.apps()?;
        let mut instances = std::collections::HashSet::new();
        for a in &apps {
            for i in self.store.instances(&a.name)? {
                instances.insert(i.instance);
            }
        }
        apps.retain(|a| !instances.contains(&a.name));
        Ok(apps)
    }

    pub fn app(&self, name: &str) -> Result<App, ApiError> {
        Ok(self.store.app(name)?)
    }

    /// Removes an app: its containers on the server, its records and its secrets. With
    /// `purge`, also its images and the named volumes it declared (their data is lost).
    pub async fn app_rm(&self, name: &str, purge: bool) -> Result<(), ApiError> {
        let app = self.store.app(name)?;
        // A staged app's instances go first, each like an app of its own.
        self.remove_instances(name).await?;
        let _lock = AppLock::acquire(self.data_dir(), name, "app rm")?;
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        // The route first: if the proxy cannot be reached, nothing is removed.
        self.drop_route(&app, &server).await?;
        // Its webhook's URL stops answering.
        if let Some(w) = self.store.webhook(name)?
            && server.relay.is_some()
        {
            self.relay_client(&server)
                .await?
                .delete_hook(&w.uuid)
                .await?;
            self.secrets().delete(&berth_secrets::webhook_key(name))?;
            self.forget_unattended_secrets(name);
        }
        berth_engine::remove_app(&host, &app, purge).await?;
        // Every version of its secrets: the current ones, and those its deployments ran with.
        let mut secret_keys: Vec<String> = self
            .store
            .env(name)?
            .into_iter()
            .filter(|e| e.secret)
            .map(|e| berth_secrets::env_key_at(name, &e.key, e.version))
            .collect();
        for d in self.store.deployments(name, usize::MAX >> 1)? {
            for v in d.spec.iter().flat_map(|s| &s.env) {
                if v.secret && v.from == berth_model::EnvSource::App {
                    secret_keys.push(berth_secrets::env_key_at(name, &v.key, v.version));
                }
            }
        }
        secret_keys.sort();
        secret_keys.dedup();
        self.store.delete_app(name)?;
        self.forget_app_notifiers(name)?;
        self.monitor_sync(&app.server).await;
        for key in secret_keys {
            if let Err(e) = self.secrets().delete(&key) {
                tracing::warn!("could not delete a secret of {name}: {e}");
            }
        }
        self.audit("app.rm", name, if purge { "purge" } else { "" });
        Ok(())
    }
}

fn looks_like_url(s: &str) -> bool {
    s.contains("://") || (s.contains('@') && s.contains(':') && !s.starts_with('/'))
}

impl Berth {
    /// Changes an app's settings (everything but its name and server). They apply on the next
    /// deploy or restart. The git source is checked like at creation.
    pub async fn app_update(&self, mut draft: AppDraft) -> Result<App, ApiError> {
        let current = self.store.app(&draft.name)?;
        if draft.server.is_empty() {
            draft.server = current.server.clone();
        }
        // No project in the draft: the app stays where it is; `""`: it leaves its project.
        match draft.project.as_deref() {
            None => draft.project = current.project.clone(),
            Some("") => draft.project = None,
            Some(p) => {
                self.store.project(p)?;
            }
        }
        if draft.server != current.server {
            return Err(ApiError::Invalid(format!(
                "app `{}` runs on server {}: moving it is not supported; create a new app on {}",
                current.name, current.server, draft.server
            )));
        }
        // An image app stays one unless the draft says otherwise (a form without the field).
        if draft.git.trim().is_empty() && draft.image.is_none() {
            draft.image = current.image.clone();
        }
        if !looks_like_url(&draft.git) {
            let p = std::path::Path::new(&draft.git);
            if p.exists() {
                draft.git = std::path::absolute(p)
                    .map_err(|source| ApiError::DataDir {
                        path: p.to_path_buf(),
                        source,
                    })?
                    .display()
                    .to_string();
            }
        }
        let mut app = draft.validate(current.created_at)?;
        // Settings a draft does not carry stay as they were.
        app.health.interval_ms = current.health.interval_ms;
        app.health.timeout_ms = current.health.timeout_ms;
        if draft.health_deadline_ms.is_none() {
            app.health.deadline_ms = current.health.deadline_ms;
        }
        if draft.stop_grace_secs.is_none() {
            app.stop_grace_secs = current.stop_grace_secs;
        }
        if draft.drain_timeout_secs.is_none() {
            app.drain_timeout_secs = current.drain_timeout_secs;
        }
        if draft.release_command.is_none() {
            app.release_command = current.release_command.clone();
        }
        if draft.start_command.is_none() {
            app.start_command = current.start_command.clone();
        }
        if draft.read_only_app_dir.is_none() {
            app.read_only_app_dir = current.read_only_app_dir;
        }
        // Kept by `env set --build` / `env unset`, not by the app's form.
        app.build_env = current.build_env.clone();
        // A service stays one (its kind and published port have their own commands).
        app.service = current.service;
        app.publish = current.publish;
        if draft.monitor_interval_secs.is_none() {
            app.monitor.interval_secs = current.monitor.interval_secs;
        }
        if draft.unhealthy_after.is_none() {
            app.monitor.unhealthy_after = current.monitor.unhealthy_after;
        }
        if let Some(image) = &app.image
            && app.image != current.image
        {
            self.image_inspect(&app.server, image).await?;
        }
        if app.image.is_none() && (app.git != current.git || app.branch != current.branch) {
            let cache = self.git_cache_dir();
            let (source, branch) = (app.git.clone(), app.branch.clone());
            tokio::task::spawn_blocking(move || {
                let repo = berth_build::git::open(&source, &cache)?;
                repo.resolve(&branch)?;
                Ok::<_, ApiError>(())
            })
            .await
            .map_err(|e| ApiError::Invalid(format!("checking the git source failed: {e}")))??;
        }
        self.store.update_app(&app)?;
        self.audit(
            "app.update",
            &app.name,
            &format!("git {} branch {}", app.git, app.branch),
        );
        self.webhook_resync(&app.name).await;
        self.monitor_sync(&app.server).await;
        Ok(app)
    }

    /// Every app and server from the records, for the desktop's first screen.
    pub fn overview(&self, deploying: &[String]) -> Result<berth_model::view::Overview, ApiError> {
        use berth_model::view::{AppSummary, Overview, ServerSummary};
        use berth_model::{AppState, DeploymentStatus};
        let servers = self.store.servers()?;
        let apps = self.store.apps()?;
        let mut summaries = Vec::new();
        for app in &apps {
            let active = self.store.active_deployment(&app.name)?;
            let last = self.store.deployments(&app.name, 1)?.into_iter().next();
            let server = servers.iter().find(|s| s.name == app.server);
            let url = match server {
                Some(s) if s.proxy.is_some() => self
                    .hosts_of(app, s)?
                    .first()
                    .and_then(|h| s.proxy.as_ref().map(|p| p.url_for(h))),
                _ => None,
            };
            let state = if deploying.contains(&app.name) {
                AppState::Deploying
            } else {
                match (&active, &last) {
                    (Some(_), _) if self.store.app_stopped(&app.name)? => AppState::Stopped,
                    (Some(_), _) => AppState::Running,
                    // "In progress" with the app's lock free: its process died; the next
                    // touch settles it. Until then it is not deploying.
                    (None, Some(d))
                        if d.status == DeploymentStatus::InProgress
                            && crate::lock::AppLock::acquire(
                                self.data_dir(),
                                &app.name,
                                "an overview",
                            )
                            .is_err() =>
                    {
                        AppState::Deploying
                    }
                    (None, Some(_)) => AppState::Failed,
                    (None, None) => AppState::NeverDeployed,
                }
            };
            summaries.push(AppSummary {
                name: app.name.clone(),
                server: app.server.clone(),
                state,
                commit: active.as_ref().and_then(|d| d.commit.clone()),
                commit_message: active.as_ref().and_then(|d| d.commit_message.clone()),
                url,
                last_deploy: last.map(|d| berth_model::status::LastDeploy {
                    id: d.id,
                    status: d.status,
                    commit: d.commit,
                    started_at: d.started_at,
                    finished_at: d.finished_at,
                    error: d.error,
                }),
                service: app.service,
            });
        }
        let servers = servers
            .iter()
            .map(|s| ServerSummary {
                name: s.name.clone(),
                address: s.address(),
                transport: s.transport,
                proxy: s.proxy.as_ref().map(|p| match p.mode {
                    berth_model::ProxyMode::Managed { .. } => "managed".to_owned(),
                    berth_model::ProxyMode::Adopted => "adopted".to_owned(),
                }),
                base_domain: s.base_domain.clone(),
                apps: apps.iter().filter(|a| a.server == s.name).count(),
            })
            .collect();
        Ok(Overview {
            apps: summaries,
            servers,
            recent: self.store.recent_deployments(10)?,
            alerts: self.store.alerts(None, 5)?,
        })
    }
}
