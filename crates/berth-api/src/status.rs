//! App status (store + what Docker says on the server) and container logs.

use berth_engine::observe::{OutputLine, container_output, container_state};
use berth_model::status::LastDeploy;
use berth_model::{AppState, AppStatus, DeploymentStatus, WorkerStatus};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::error::ApiError;
use crate::lock::AppLock;

impl Berth {
    /// What is serving, where, and how the last deploy went.
    pub async fn status(&self, app: &str) -> Result<AppStatus, ApiError> {
        let app = self.store.app(app)?;
        self.catch_up_unattended(&app.name).await;
        let mut last = self.store.deployments(&app.name, 1)?.into_iter().next();
        // "In progress" with the lock free: its process died. Settle it, then tell the truth.
        if last
            .as_ref()
            .is_some_and(|d| d.status == DeploymentStatus::InProgress)
            && let Ok(_lock) = AppLock::acquire(self.data_dir(), &app.name, "a status check")
        {
            self.settle_interrupted(&app).await?;
            last = self.store.deployments(&app.name, 1)?.into_iter().next();
        }
        let active = self.store.active_deployment(&app.name)?;
        let stopped = self.store.app_stopped(&app.name)?;
        let mut status = AppStatus {
            app: app.name.clone(),
            server: app.server.clone(),
            state: AppState::NeverDeployed,
            deployment_id: None,
            commit: None,
            image: None,
            source_image: None,
            tag: None,
            digest: None,
            stages: Vec::new(),
            container: None,
            endpoint: None,
            container_status: None,
            exit_code: None,
            deployed_at: None,
            urls: Vec::new(),
            domains: Vec::new(),
            workers: Vec::new(),
            last_deploy: last.as_ref().map(|d| LastDeploy {
                id: d.id.clone(),
                status: d.status,
                commit: d.commit.clone(),
                started_at: d.started_at,
                finished_at: d.finished_at,
                error: d.error.clone(),
            }),
        };
        status.stages = self.stage_statuses(&app).await?;
        let server = self.store.server(&app.server)?;
        // A staged app answers through its stages' instances, not a route of its own.
        let staged_only = !status.stages.is_empty() && active.is_none();
        if server.proxy.is_some() && !staged_only {
            status.domains = self.domain_statuses(&app, &server).await?;
            // Where it answers now: not a domain whose route waits for `apply`.
            status.urls = status
                .domains
                .iter()
                .filter(|d| d.pending.as_deref() != Some("to add"))
                .map(|d| d.url.clone())
                .collect();
        }
        match &active {
            Some(d) => {
                status.deployment_id = Some(d.id.clone());
                status.commit = d.commit.clone();
                status.image = d.image.clone();
                if let Some(image) = &app.image
                    && let Ok(image) = berth_model::ImageRef::parse(image)
                {
                    status.source_image = Some(image.with_tag(&d.git_ref));
                    status.tag = Some(d.git_ref.clone());
                    status.digest = d.digest.clone();
                }
                status.container = d.container.clone();
                status.deployed_at = d.finished_at;
                let host = self.host(&server).await?;
                let info = match &d.container {
                    Some(c) => container_state(&host, c).await?,
                    None => None,
                };
                status.state = match &info {
                    Some(i) if i.running => AppState::Running,
                    Some(_) if stopped => AppState::Stopped,
                    _ => AppState::Failed,
                };
                // Docker restarted it (a reboot, a daemon restart) on a new port: an adopted
                // Caddy's route follows — unless a deploy holds the app. A route that cannot
                // be fixed now is not an error of `status`.
                if let (Some(i), Some(c)) = (&info, &d.container)
                    && i.running
                    && let Ok(_lock) =
                        AppLock::acquire(self.data_dir(), &app.name, "a status check")
                    && let Err(e) = self.repair_route(&host, &app, &server, c).await
                {
                    tracing::warn!("could not check the route of {}: {e}", app.name);
                }
                if let Some(c) = &d.container {
                    for p in &d.processes {
                        let container = p.container(c);
                        let seen = container_state(&host, &container).await?;
                        status.workers.push(WorkerStatus {
                            process: p.name.clone(),
                            command: p.command.clone(),
                            running: seen.as_ref().is_some_and(|s| s.running),
                            status: seen.map(|s| s.status),
                            container,
                        });
                    }
                }
                if let Some(i) = info {
                    status.container_status = Some(i.status.clone());
                    status.exit_code = (!i.running).then_some(i.exit_code).flatten();
                    if i.running {
                        status.endpoint = i.published_port.map(|p| format!("127.0.0.1:{p}"));
                    }
                }
            }
            None => {
                status.state = match &last {
                    Some(d) if d.status == DeploymentStatus::InProgress => AppState::Deploying,
                    Some(_) => AppState::Failed,
                    None => AppState::NeverDeployed,
                };
            }
        }
        Ok(status)
    }

    /// Streams the active container's output to `on_line`: the last `tail` lines, then (with
    /// `follow`) new lines until `cancel` fires or the container stops.
    pub async fn logs(
        &self,
        app: &str,
        tail: Option<usize>,
        follow: bool,
        cancel: CancellationToken,
        on_line: &(dyn Fn(&OutputLine) + Send + Sync),
    ) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let (host, container) = self.active_container(&app).await?;
        let mut stream = Box::pin(container_output(&host, &container, tail, follow));
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    Some(line) => on_line(&line?),
                    None => return Ok(()),
                },
                _ = cancel.cancelled() => return Ok(()),
            }
        }
    }

    /// `berth exec APP [-it] -- CMD…`: runs `cmd` in the app's serving container (with `tty`,
    /// in a terminal the user types into), handing its output to `on_output` as it comes; the
    /// command's exit code.
    pub async fn exec(
        &self,
        app: &str,
        cmd: &[String],
        tty: Option<Terminal>,
        on_output: &mut (dyn FnMut(berth_engine::exec::OutputStream, &[u8]) + Send),
    ) -> Result<i64, ApiError> {
        if cmd.first().is_none_or(|c| c.trim().is_empty()) {
            return Err(ApiError::Invalid(format!(
                "no command to run in {app}: `berth exec {app} -- COMMAND [ARGS…]`"
            )));
        }
        let a = self.store.app(app)?;
        let (host, container) = self.active_container(&a).await?;
        let ran = match tty {
            Some(Terminal { input, sizes }) => {
                berth_engine::exec::exec_tty(&host, &container, cmd, input, sizes, on_output).await
            }
            None => berth_engine::exec::exec(&host, &container, cmd, on_output).await,
        };
        match ran {
            Err(berth_engine::EngineError::NotRunning { .. }) => Err(ApiError::Invalid(format!(
                "{app} is not running ({container} is stopped): `berth start {app}` first"
            ))),
            other => Ok(other?),
        }
    }

    /// `berth run APP -- CMD…`: runs `cmd` in a fresh container made like the app's serving one
    /// (its image, env, network, limits and volumes; no port), removed afterwards; the
    /// command's exit code (130 when `cancel` fired).
    pub async fn run_task(
        &self,
        app: &str,
        cmd: &[String],
        on_output: &mut (dyn FnMut(berth_engine::exec::OutputStream, &[u8]) + Send),
        cancel: CancellationToken,
    ) -> Result<i64, ApiError> {
        if cmd.first().is_none_or(|c| c.trim().is_empty()) {
            return Err(ApiError::Invalid(format!(
                "no command to run: `berth run {app} -- COMMAND [ARGS…]`"
            )));
        }
        let a = self.store.app(app)?;
        let (host, container) = self.active_container(&a).await?;
        let code =
            berth_engine::exec::run(&host, &container, &a.name, cmd, on_output, &cancel).await?;
        self.audit(
            "app.run",
            &a.name,
            &format!("{} → exit {code}", cmd.join(" ")),
        );
        Ok(code)
    }
}

/// The user's terminal, for `berth exec -it`: what they type, and each new size (rows, cols),
/// the first at once.
pub struct Terminal {
    pub input: tokio::sync::mpsc::Receiver<Vec<u8>>,
    pub sizes: tokio::sync::mpsc::Receiver<(u16, u16)>,
}
