//! Apps: create (validating the git source), list, show, edit, remove.

use berth_docker::labels;
use berth_model::{App, AppDraft};

use crate::Berth;
use crate::error::ApiError;
use crate::lock::AppLock;

impl Berth {
    /// Validates and stores a new app. The git source must be a repository (URLs are cloned
    /// into the cache) whose branch exists; nothing is stored otherwise.
    pub async fn app_create(&self, mut draft: AppDraft) -> Result<App, ApiError> {
        if draft.server.is_empty() {
            let servers = self.store.servers()?;
            match servers.as_slice() {
                [only] => draft.server = only.name.clone(),
                [] => {
                    return Err(ApiError::Invalid(
                        "no server yet: add one with `berth server add` (or `--local`)".to_owned(),
                    ));
                }
                _ => {
                    return Err(ApiError::Invalid(
                        "several servers exist: say which one with --server".to_owned(),
                    ));
                }
            }
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
        if self.store.apps()?.iter().any(|a| a.name == app.name) {
            return Err(berth_store::StoreError::AlreadyExists {
                kind: "app",
                name: app.name.clone(),
            }
            .into());
        }
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
        self.store.insert_app(&app)?;
        for (k, v) in &draft.env {
            self.store.set_env(&app.name, k, Some(v), false)?;
        }
        self.audit(
            "app.create",
            &app.name,
            &format!(
                "server {} git {} branch {}",
                app.server, app.git, app.branch
            ),
        );
        Ok(app)
    }

    pub(crate) fn git_cache_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.join("git-cache")
    }

    /// Every app, by name.
    pub fn apps(&self) -> Result<Vec<App>, ApiError> {
        Ok(self.store.apps()?)
    }

    pub fn app(&self, name: &str) -> Result<App, ApiError> {
        Ok(self.store.app(name)?)
    }

    /// Removes an app: its containers on the server, its records and its secrets. With
    /// `purge`, also its images and the named volumes it declared (their data is lost).
    pub async fn app_rm(&self, name: &str, purge: bool) -> Result<(), ApiError> {
        let app = self.store.app(name)?;
        let _lock = AppLock::acquire(self.data_dir(), name, "app rm")?;
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        // The route first: if the proxy cannot be reached, nothing is removed.
        self.drop_route(&app, &server).await?;
        let docker = host.docker();
        for container in docker
            .containers_with_labels(&[(labels::APP, name), (labels::MANAGED, "true")])
            .await?
        {
            docker.remove_container(&container, true).await?;
        }
        if purge {
            for image in docker
                .images_with_labels(&[(labels::APP, name), (labels::MANAGED, "true")])
                .await?
            {
                docker.remove_image(&image.id, true).await?;
            }
            for v in app.volumes.iter().filter(|v| !v.source.starts_with('/')) {
                if let Err(e) = docker.remove_volume(&v.source).await {
                    tracing::warn!("could not remove volume {}: {e}", v.source);
                }
            }
        }
        let secret_keys: Vec<String> = self
            .store
            .env(name)?
            .into_iter()
            .filter(|e| e.secret)
            .map(|e| berth_secrets::env_key(name, &e.key))
            .collect();
        self.store.delete_app(name)?;
        for key in secret_keys {
            if let Err(e) = self.secrets.delete(&key) {
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
