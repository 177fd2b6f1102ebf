//! Deploy, rollback, restart, stop and start: each takes the app's lock, records a deployment
//! and drives the engine, streaming progress to the caller's observer.

use std::sync::Mutex;

use berth_engine::{
    DeployFailure, DeployJob, DeployOutcome, DeploySink, Ended, JobSource, SettleJob, Settled,
    run_deploy, settle, start_app, stop_app,
};
use berth_model::{
    App, DeployEvent, DeployNotice, DeploySpec, Deployment, DeploymentKind, DeploymentStatus,
    EnvSource, SpecEnv, SpecLabel, Step,
};
use berth_store::Store;
use tokio_util::sync::CancellationToken;

use berth_relay_proto::client::{ClientError, ControlClient};

use crate::Berth;
use crate::env::VarOwner;
use crate::error::ApiError;
use crate::lock::AppLock;

tokio::task_local! {
    /// Set while a caller that announces deploy results itself (`berth watch`: the notice
    /// names the webhook delivery) runs a deploy, so it is not announced twice.
    static CALLER_ANNOUNCES: ();
}

/// Runs `fut` (a deploy) without the deploy path announcing its result: the caller does.
pub(crate) async fn caller_announces<F: std::future::Future>(fut: F) -> F::Output {
    CALLER_ANNOUNCES.scope((), fut).await
}

/// How long the app's lock on the server's relay holds without a renewal.
const RELAY_LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The app's locks while an operation runs: the data dir's (every Berth process on this
/// machine) and, on a server with a relay, the relay's (its unattended deploys). Released on
/// drop.
pub(crate) struct Held {
    _file: AppLock,
    relay: Option<RelayLease>,
}

impl Held {
    /// Releases both locks, waiting for the relay to hear it (so its unattended deploys of the
    /// app need not wait for the lease to run out).
    pub(crate) async fn release(mut self) {
        if let Some(lease) = self.relay.take() {
            lease.release().await;
        }
    }
}

/// The app's lock on a relay, renewed while held, released (best effort) when dropped; if
/// this process dies the lease runs out on its own.
pub(crate) struct RelayLease {
    renew: tokio::task::JoinHandle<()>,
    release: Option<(ControlClient, String, String)>,
}

impl RelayLease {
    fn hold(client: ControlClient, app: &str, owner: String, holder: String) -> RelayLease {
        let renew = {
            let (client, app, owner) = (client.clone(), app.to_owned(), owner.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RELAY_LEASE / 3).await;
                    if let Err(e) = client.lock(&app, &owner, &holder, RELAY_LEASE).await {
                        tracing::warn!(app, "cannot renew the app's lock on the relay: {e}");
                    }
                }
            })
        };
        RelayLease {
            renew,
            release: Some((client, app.to_owned(), owner)),
        }
    }
}

impl RelayLease {
    /// Releases the lock now, waiting for the relay to hear it.
    async fn release(mut self) {
        self.renew.abort();
        if let Some((client, app, owner)) = self.release.take() {
            unlock(client, app, owner).await;
        }
    }
}

impl Drop for RelayLease {
    /// Released early (an error before the end): best effort, in the background.
    fn drop(&mut self) {
        self.renew.abort();
        if let Some((client, app, owner)) = self.release.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(unlock(client, app, owner));
        }
    }
}

async fn unlock(client: ControlClient, app: String, owner: String) {
    if let Err(e) = client.unlock(&app, &owner).await {
        tracing::debug!(app, "cannot release the app's lock on the relay: {e}");
    }
}

/// Receives a deployment's progress as it happens.
pub type DeployObserver = dyn Fn(&DeployEvent) + Send + Sync;

/// Build lines are written to the store in batches of this many.
const LOG_BATCH: usize = 64;

/// Records a running deployment in the store and forwards its events to the observer.
struct StoreSink<'a> {
    store: &'a Store,
    app: &'a str,
    deployment: String,
    observer: &'a DeployObserver,
    pending_lines: Mutex<Vec<String>>,
    now: &'a (dyn Fn() -> i64 + Send + Sync),
}

impl StoreSink<'_> {
    fn flush_lines(&self) {
        let lines = match self.pending_lines.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return,
        };
        if !lines.is_empty()
            && let Err(e) = self.store.append_build_log(&self.deployment, &lines)
        {
            tracing::warn!("could not store build output: {e}");
        }
    }
}

impl DeploySink for StoreSink<'_> {
    fn event(&self, event: DeployEvent) {
        match &event {
            DeployEvent::BuildLine { line } => {
                let full = match self.pending_lines.lock() {
                    Ok(mut p) => {
                        p.push(line.clone());
                        p.len() >= LOG_BATCH
                    }
                    Err(_) => false,
                };
                if full {
                    self.flush_lines();
                }
            }
            DeployEvent::StepFinished { .. } | DeployEvent::Finished { .. } => self.flush_lines(),
            _ => {}
        }
        (self.observer)(&event);
    }

    fn save(&self, deployment: &Deployment) {
        if let Err(e) = self.store.update_deployment(deployment) {
            tracing::warn!("could not record deployment {}: {e}", deployment.id);
        }
    }

    fn activate(&self, deployment: &Deployment) -> Result<(), String> {
        self.store
            .activate(self.app, &deployment.id, (self.now)())
            .map_err(|e| e.to_string())
    }
}

impl Berth {
    /// Builds `git_ref` (default: the app's branch) and makes it the active deployment once
    /// healthy. Returns the active deployment; any failure leaves the previous one serving.
    pub async fn deploy(
        &self,
        app: &str,
        git_ref: Option<&str>,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        self.deploy_ref(app, git_ref, observer, cancel, false).await
    }

    /// A deploy a push asked for: unless the app's webhook allows force-pushes, the commit
    /// must descend from the one serving, or the deploy fails at `resolve` saying why (a
    /// rewritten history, or an old push sent again).
    pub(crate) async fn deploy_pushed(
        &self,
        app: &str,
        git_ref: &str,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        self.deploy_ref(app, Some(git_ref), observer, cancel, true)
            .await
    }

    async fn deploy_ref(
        &self,
        app: &str,
        git_ref: Option<&str>,
        observer: &DeployObserver,
        cancel: CancellationToken,
        pushed: bool,
    ) -> Result<Deployment, ApiError> {
        let app = self.store.app(app)?;
        if let Some(image) = &app.image {
            return self
                .deploy_image(&app, image, git_ref, observer, cancel)
                .await;
        }
        let lock = self.lock_settled(&app, "a deploy").await?;
        let git_ref = git_ref.unwrap_or(&app.branch).to_owned();
        if git_ref.is_empty() || git_ref.starts_with('-') || git_ref.contains(char::is_whitespace) {
            return Err(ApiError::Invalid(format!("`{git_ref}` is not a git ref")));
        }
        let server = self.store.server(&app.server)?;
        let images = app.base_images.or(&server.base_images);
        let deployment = self.new_deployment(&app, DeploymentKind::Deploy, git_ref, None);
        // Read under the app's lock: the serving commit cannot change before the check.
        let descends_from = if pushed
            && !self
                .store
                .webhook(&app.name)?
                .is_some_and(|w| w.allow_force_push)
        {
            self.store
                .active_deployment(&app.name)?
                .and_then(|d| d.commit)
        } else {
            None
        };
        let source = JobSource::Git {
            cache_dir: self.git_cache_dir(),
            images,
            descends_from,
        };
        let result = self.run(app, deployment, source, observer, cancel).await;
        lock.release().await;
        result
    }

    /// An image app's deploy: pull `tag` (default: the app's own) on the server, pin the
    /// digest it points to, and switch to it like a built image. An app with stages deploys
    /// the tag into the one stage that takes it.
    async fn deploy_image(
        &self,
        app: &App,
        image: &str,
        tag: Option<&str>,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        if !self.store.stages(&app.name)?.is_empty() {
            return self
                .deploy_stage(&app.name, None, tag, false, observer, cancel)
                .await;
        }
        let image = berth_model::ImageRef::parse(image)?;
        let tag = tag.unwrap_or(image.tag_or_latest()).to_owned();
        berth_model::image::validate_tag(&tag).map_err(ApiError::Invalid)?;
        self.deploy_reference(app, &image.with_tag(&tag), &tag, observer, cancel)
            .await
    }

    /// Pulls `reference` (`repo:tag`, or `repo@digest`) for image app `app` and switches to
    /// the digest it pulled; the deployment is labelled `tag`.
    pub(crate) async fn deploy_reference(
        &self,
        app: &App,
        reference: &str,
        tag: &str,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let login = self.credentials_for_image(reference)?;
        let lock = self.lock_settled(app, "a deploy").await?;
        let deployment = self.new_deployment(app, DeploymentKind::Deploy, tag.to_owned(), None);
        let source = JobSource::Pull {
            reference: reference.to_owned(),
            login,
        };
        let result = self
            .run(app.clone(), deployment, source, observer, cancel)
            .await;
        lock.release().await;
        result
    }

    /// What `berth rollback APP [--to ID]` would do, before it does it: the deployment it goes
    /// back to and what changes from the records now to what that deployment ran with (empty
    /// for a deployment recorded before Berth kept specs: only its image comes back).
    pub fn rollback_preview(
        &self,
        app: &str,
        to: Option<&str>,
    ) -> Result<(Deployment, berth_model::SpecDiff), ApiError> {
        let app = self.store.app(app)?;
        // Say at once that another operation runs (its lock is held), not what it may change.
        drop(AppLock::acquire(self.data_dir(), &app.name, "a rollback")?);
        let target = self.rollback_target(&app, to)?;
        let diff = match &target.spec {
            Some(spec) => berth_model::diff_specs(&self.spec_now(&app)?, spec),
            None => berth_model::SpecDiff::default(),
        };
        Ok((target, diff))
    }

    /// Goes back to an earlier healthy deployment (the one before the active one, or `to`)
    /// without building: its image, and everything it ran with as recorded — settings (limits,
    /// port, volumes, health, commands), the app's variables (secrets at the versions it ran
    /// with) and domains; the records become those once it serves. A deployment recorded
    /// before Berth kept specs brings back its image only, with today's settings.
    pub async fn rollback(
        &self,
        app: &str,
        to: Option<&str>,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let app = self.store.app(app)?;
        let lock = self.lock_settled(&app, "a rollback").await?;
        let target = self.rollback_target(&app, to)?;
        if let Some(spec) = &target.spec {
            for d in &spec.domains {
                if let Some(other) = self.store.domain_owner(&d.name)?
                    && other != app.name
                {
                    return Err(ApiError::Invalid(format!(
                        "deployment {} answered at {}, which app `{other}` has now: remove it there first (`berth domain rm {other} {}`)",
                        target.id, d.name, d.name
                    )));
                }
            }
        }
        let image = target.image.clone().unwrap_or_default();
        let mut deployment = self.new_deployment(
            &app,
            DeploymentKind::Rollback,
            target.git_ref.clone(),
            Some(target.id.clone()),
        );
        deployment.commit = target.commit.clone();
        deployment.commit_message = target.commit_message.clone();
        deployment.runtime = target.runtime.clone();
        deployment.digest = target.digest.clone();
        let source = JobSource::Image {
            image,
            from_deployment: target.id.clone(),
            processes: target.processes.clone(),
        };
        let restore = target.spec.map(|s| *s);
        let result = self
            .run_spec(app, restore, deployment, source, observer, cancel)
            .await;
        lock.release().await;
        result
    }

    fn rollback_target(&self, app: &App, to: Option<&str>) -> Result<Deployment, ApiError> {
        let active = self.store.active_deployment(&app.name)?;
        Ok(match to {
            Some(id) => {
                let d = self.store.deployment(id)?;
                if d.app != app.name {
                    return Err(ApiError::Invalid(format!(
                        "deployment {id} belongs to app `{}`, not `{}`",
                        d.app, app.name
                    )));
                }
                if !d.status.was_healthy() || d.image.is_none() {
                    return Err(ApiError::Invalid(format!(
                        "deployment {id} never became healthy ({}); roll back to one that did",
                        d.status
                    )));
                }
                d
            }
            None => {
                let active_image = active.as_ref().and_then(|a| a.image.clone());
                let active_spec = active.as_ref().and_then(|a| a.spec.as_deref());
                // The newest one that ran something else: another image, or the same image
                // with other settings (a restart after `env set`).
                let differs = |d: &Deployment| {
                    d.image != active_image
                        || match (active_spec, d.spec.as_deref()) {
                            (Some(a), Some(b)) => !berth_model::diff_specs(a, b).is_empty(),
                            _ => false,
                        }
                };
                self.store
                    .deployments(&app.name, 200)?
                    .into_iter()
                    .filter(|d| d.status.was_healthy() && d.image.is_some())
                    .filter(|d| Some(&d.id) != active.as_ref().map(|a| &a.id))
                    .find(|d| differs(d))
                    .ok_or_else(|| ApiError::NoRollbackTarget {
                        app: app.name.clone(),
                        hint: if active.is_none() {
                            "nothing was ever deployed successfully".to_owned()
                        } else {
                            "only the active deployment ever became healthy".to_owned()
                        },
                    })?
            }
        })
    }

    /// Replaces the active container with a fresh one from the same image and the app's
    /// current settings (env, limits, volumes) — blue-green, no rebuild, no downtime.
    pub async fn restart(
        &self,
        app: &str,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let app = self.store.app(app)?;
        let lock = self.lock_settled(&app, "a restart").await?;
        let active = self
            .store
            .active_deployment(&app.name)?
            .ok_or_else(|| ApiError::NotDeployed(app.name.clone()))?;
        let mut deployment = self.new_deployment(
            &app,
            DeploymentKind::Restart,
            active.git_ref.clone(),
            Some(active.id.clone()),
        );
        deployment.commit = active.commit.clone();
        deployment.commit_message = active.commit_message.clone();
        deployment.runtime = active.runtime.clone();
        deployment.digest = active.digest.clone();
        let source = JobSource::Image {
            image: active.image.clone().unwrap_or_default(),
            from_deployment: active.id.clone(),
            processes: active.processes.clone(),
        };
        let result = self.run(app, deployment, source, observer, cancel).await;
        lock.release().await;
        result
    }

    /// `berth cancel APP`: cancels the deploy, rollback or restart of `app` that runs in any
    /// process on this data dir (the window, another terminal) or the unattended deploy its
    /// server's relay runs, as Ctrl-C would — the previous version keeps serving — and waits
    /// until it has ended. `false` when nothing runs.
    pub async fn cancel(&self, app: &str) -> Result<bool, ApiError> {
        let a = self.store.app(app)?;
        if !crate::lock::request_cancel(self.data_dir(), app)? {
            return self.cancel_on_relay(&a).await;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            match AppLock::acquire(self.data_dir(), app, "a cancel check") {
                Ok(_) => return Ok(true),
                Err(ApiError::Busy { .. }) if std::time::Instant::now() < deadline => {}
                Err(ApiError::Busy { holder, .. }) => {
                    crate::lock::take_cancel_request(self.data_dir(), app);
                    return Err(ApiError::Invalid(format!(
                        "{app} is still busy ({holder}) two minutes after the cancel request: what holds it does not answer to one (a removal, a stop), or is stuck"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the relay of `app`'s server to stop its own deploy of it, and waits until the
    /// app's lock there is free. `false` when the relay runs nothing of the app; refused when
    /// another Berth holds it (it is cancelled where it runs).
    async fn cancel_on_relay(&self, app: &App) -> Result<bool, ApiError> {
        let server = self.store.server(&app.server)?;
        if server.relay.is_none() {
            return Ok(false);
        }
        let client = self.relay_client(&server).await?;
        let first = client.cancel(&app.name).await?;
        match (&first.holder, first.cancelled) {
            (None, _) => return Ok(false),
            (Some(holder), false) => {
                return Err(ApiError::Invalid(format!(
                    "{} is busy on {}: {holder}; cancel it where it runs (that machine's `berth cancel {}` or its window)",
                    app.name, app.server, app.name
                )));
            }
            (Some(_), true) => {}
        }
        // Ended when the lock is free: taken for an instant and given back (asking again
        // would cancel the relay's next deploy of the app too).
        let owner = self.instance_id()?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let lease = std::time::Duration::from_secs(5);
            match client
                .lock(&app.name, &owner, "a cancel check", lease)
                .await
            {
                Ok(()) => {
                    client.unlock(&app.name, &owner).await?;
                    break;
                }
                Err(ClientError::Refused { code, .. })
                    if code == berth_relay_proto::proto::LOCKED => {}
                Err(e) => return Err(e.into()),
            }
            if std::time::Instant::now() >= deadline {
                return Err(ApiError::Invalid(format!(
                    "the relay on {} still runs {}'s deploy two minutes after the cancel request",
                    app.server, app.name
                )));
            }
        }
        self.audit("cancel", &app.name, "the relay's deploy");
        self.catch_up_unattended(&app.name).await;
        Ok(true)
    }

    /// Takes the app's lock, catches up with what the server's relay deployed on its own
    /// (so "active" and the previous container are the server's truth), then settles a
    /// deployment whose process died before it finished (in progress, but nobody held the
    /// lock): the records, the route and the containers are brought back to one serving
    /// version first.
    pub(crate) async fn lock_settled(&self, app: &App, what: &str) -> Result<Held, ApiError> {
        let file = AppLock::acquire(self.data_dir(), &app.name, what)?;
        let relay = self.relay_lease(app, what).await?;
        self.catch_up_unattended(&app.name).await;
        self.settle_interrupted(app).await?;
        Ok(Held { _file: file, relay })
    }

    /// On a server with a relay, the app's lock there too, so the relay's unattended deploys
    /// of the app wait for this operation (and this one refuses while the relay deploys). A
    /// relay that does not answer is not waited for: it cannot be deploying either.
    async fn relay_lease(&self, app: &App, what: &str) -> Result<Option<RelayLease>, ApiError> {
        let server = self.store.server(&app.server)?;
        if server.relay.is_none() {
            return Ok(None);
        }
        let holder = format!(
            "{what} by {} (process {})",
            self.config.actor,
            std::process::id()
        );
        let owner = self.instance_id()?;
        let taken = async {
            let client = self.relay_client(&server).await?;
            client
                .lock(&app.name, &owner, &holder, RELAY_LEASE)
                .await
                .map_err(ApiError::from)?;
            Ok::<_, ApiError>(client)
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), taken).await {
            Ok(Ok(client)) => Ok(Some(RelayLease::hold(client, &app.name, owner, holder))),
            Ok(Err(ApiError::Relay(ClientError::Refused { code, message, .. })))
                if code == berth_relay_proto::proto::LOCKED =>
            {
                Err(ApiError::Busy {
                    app: app.name.clone(),
                    holder: message,
                })
            }
            Ok(Err(e)) => {
                tracing::warn!(app = %app.name, "the server's relay cannot lock the app: {e}");
                Ok(None)
            }
            Err(_) => {
                tracing::warn!(app = %app.name, "the server's relay did not answer a lock request");
                Ok(None)
            }
        }
    }

    /// This data dir's identity towards relays (made once, kept in the store): every Berth
    /// process on it owns the same locks there, so one may take over what a killed one left.
    fn instance_id(&self) -> Result<String, ApiError> {
        if let Some(id) = self.store.setting("instance.id")? {
            return Ok(id);
        }
        let id = format!("berth-{}{}", crate::new_id(), crate::new_id());
        self.store.set_setting("instance.id", &id)?;
        Ok(id)
    }

    /// Settles the app's interrupted deployments (the caller holds the app's lock).
    pub(crate) async fn settle_interrupted(&self, app: &App) -> Result<(), ApiError> {
        let interrupted: Vec<Deployment> = self
            .store
            .deployments(&app.name, 20)?
            .into_iter()
            .filter(|d| d.status == DeploymentStatus::InProgress)
            .collect();
        if interrupted.is_empty() {
            return Ok(());
        }
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        let route = self.route_plan(app, &server)?;
        let clock = self.clock.clone();
        let now = move || clock.now_ms();
        // Oldest first, so the newest one decides what serves.
        for d in interrupted.into_iter().rev() {
            let sink = StoreSink {
                store: &self.store,
                app: &app.name,
                deployment: d.id.clone(),
                observer: &|_| {},
                pending_lines: Mutex::new(Vec::new()),
                now: &now,
            };
            let id = d.id.clone();
            let job = SettleJob {
                app: app.clone(),
                interrupted: d,
                active: self.store.active_deployment(&app.name)?,
                route: route.clone(),
            };
            let settled = settle(&host, job, &sink, self.clock.as_ref()).await?;
            tracing::info!("{settled}");
            let action = match settled {
                Settled::Activated(_) => "deploy.settled-active",
                Settled::Interrupted(_) => "deploy.interrupted",
            };
            self.audit(action, &app.name, &format!("deployment {id}: {settled}"));
        }
        Ok(())
    }

    fn new_deployment(
        &self,
        app: &App,
        kind: DeploymentKind,
        git_ref: String,
        source_deployment: Option<String>,
    ) -> Deployment {
        Deployment {
            source_deployment,
            ..Deployment::start(crate::new_id(), &app.name, kind, git_ref, self.now())
        }
    }

    /// Shared by deploy, rollback and restart (the caller holds the app's lock).
    /// Runs a deployment (see [`Berth::run_inner`]) and announces its result to the notifiers
    /// routed to it — unless the caller announces it itself ([`caller_announces`]: `berth
    /// watch`, with the webhook delivery as the trigger).
    async fn run(
        &self,
        app: App,
        deployment: Deployment,
        source: JobSource,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        self.run_spec(app, None, deployment, source, observer, cancel)
            .await
    }

    /// [`Berth::run`] with what the deployment runs with: `restore`, a deployment's recorded
    /// spec (a rollback: its settings, variables and domains, written back to the records once
    /// it serves), or the records now.
    async fn run_spec(
        &self,
        app: App,
        restore: Option<DeploySpec>,
        deployment: Deployment,
        source: JobSource,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let started = std::time::Instant::now();
        let (name, server, kind) = (app.name.clone(), app.server.clone(), deployment.kind);
        // `berth cancel APP` from any process on this data dir cancels it like Ctrl-C.
        crate::lock::take_cancel_request(self.data_dir(), &name);
        let watcher = {
            let (dir, app, cancel) = (self.data_dir().to_path_buf(), name.clone(), cancel.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    if crate::lock::take_cancel_request(&dir, &app) {
                        tracing::info!(app, "cancel asked for by another process");
                        cancel.cancel();
                        return;
                    }
                }
            })
        };
        let result = self
            .run_inner(app, restore, deployment, source, observer, cancel)
            .await;
        watcher.abort();
        if result.is_ok() {
            // The relay watches what now serves (a first deploy, a new instance).
            self.monitor_sync(&server).await;
        }
        if CALLER_ANNOUNCES.try_with(|_| ()).is_err() {
            let ended = match &result {
                Ok(_) => Ended::Live {
                    url: self.app_url(&name),
                },
                Err(ApiError::DeployFailed { step, message, .. }) => Ended::Failed {
                    step: Some(step.map_or("setup", Step::as_str).to_owned()),
                    error: message.clone(),
                },
                // Cancelled by the user, or refused before anything ran: nothing to announce.
                Err(_) => return result,
            };
            let outcome = DeployOutcome {
                app: name,
                server,
                trigger: format!("{} by {}", kind.as_str(), self.config.actor),
                duration_ms: started.elapsed().as_millis() as u64,
                deployment: match &result {
                    Ok(d) => Some(d.id.clone()),
                    Err(ApiError::DeployFailed { deployment, .. }) => Some(deployment.clone()),
                    Err(_) => None,
                },
                commit: result.as_ref().ok().and_then(|d| d.commit.clone()),
                ended,
                by: None,
            };
            let notice = outcome.notice();
            self.record_deploy_on_relay(&notice, kind.as_str()).await;
            self.notify_all(&notice).await;
        }
        result
    }

    /// Tells the server's relay (if it has one) about a deploy Berth ran, for its Prometheus
    /// metrics; a relay that does not answer misses it (a log line, not a failure). Webhook
    /// deploys are counted by the relay itself when their result is reported.
    async fn record_deploy_on_relay(&self, notice: &DeployNotice, trigger: &str) {
        let recorded = async {
            let server = self.store.server(&notice.server)?;
            if server.relay.is_none() {
                return Ok(());
            }
            let record = berth_relay_proto::proto::DeployRecord {
                app: notice.app.clone(),
                status: notice.status.clone(),
                trigger: trigger.to_owned(),
                duration_ms: notice.duration_ms.unwrap_or(0),
            };
            self.relay_client(&server)
                .await?
                .record_deploy(&record)
                .await?;
            Ok::<_, ApiError>(())
        };
        if let Err(e) = recorded.await {
            tracing::warn!(app = %notice.app, "the relay did not hear of the deploy: {e}");
        }
    }

    /// Where `app` answers first (its primary name through the proxy), if anywhere.
    fn app_url(&self, app: &str) -> Option<String> {
        let app = self.store.app(app).ok()?;
        let server = self.store.server(&app.server).ok()?;
        let proxy = server.proxy.as_ref()?;
        let hosts = self.hosts_of(&app, &server).ok()?;
        hosts.first().map(|h| proxy.url_for(h))
    }

    async fn run_inner(
        &self,
        app: App,
        restore: Option<DeploySpec>,
        mut deployment: Deployment,
        source: JobSource,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let restoring = restore.is_some();
        let spec = match restore {
            Some(spec) => DeploySpec {
                // What names the app stays as it is.
                app: App {
                    name: app.name.clone(),
                    server: app.server.clone(),
                    project: app.project.clone(),
                    created_at: app.created_at,
                    ..spec.app
                },
                ..spec
            },
            None => self.spec_now(&app)?,
        };
        let app = spec.app.clone();
        let env = self.spec_values(&app.name, &spec)?;
        let server = self.store.server(&app.server)?;
        let previous = self.store.active_deployment(&app.name)?;
        let history = self.store.deployments(&app.name, 200)?;
        let route = self.route_plan_for(&app, &server, &spec.domains)?;
        let labels = self.container_labels(&spec)?;
        deployment.spec = Some(Box::new(spec.clone()));
        self.store.insert_deployment(&deployment)?;
        self.audit(
            &format!("{}.start", deployment.kind.as_str()),
            &app.name,
            &format!("deployment {} ref {}", deployment.id, deployment.git_ref),
        );
        let id = deployment.id.clone();
        let clock = self.clock.clone();
        let now = move || clock.now_ms();
        let sink = StoreSink {
            store: &self.store,
            app: &app.name,
            deployment: id.clone(),
            observer,
            pending_lines: Mutex::new(Vec::new()),
            now: &now,
        };
        // Connecting is part of the deployment: a failure is recorded like any other.
        let host = match self.host(&server).await {
            Ok(h) => h,
            Err(e) => {
                let mut d = deployment;
                d.status = DeploymentStatus::Failed;
                d.error = Some(e.to_string());
                d.finished_at = Some(self.now());
                sink.save(&d);
                sink.event(DeployEvent::Finished {
                    deployment: d.id.clone(),
                    status: d.status,
                    duration_ms: 0,
                    error: d.error.clone(),
                });
                self.audit("deploy.failed", &app.name, &format!("deployment {id}: {e}"));
                return Err(e);
            }
        };
        let job = DeployJob {
            app: app.clone(),
            deployment,
            source,
            env,
            previous,
            history: Some(history),
            route,
            labels,
        };
        match run_deploy(&host, job, &sink, cancel, self.clock.as_ref()).await {
            Ok(d) => {
                self.store.set_app_stopped(&app.name, false)?;
                if restoring {
                    self.restore_records(&spec, "rollback.restored")?;
                }
                self.audit(
                    &format!("{}.success", d.kind.as_str()),
                    &app.name,
                    &format!(
                        "deployment {} commit {}",
                        d.id,
                        d.commit.as_deref().unwrap_or("-")
                    ),
                );
                Ok(d)
            }
            Err(failure) => {
                let DeployFailure {
                    deployment,
                    step,
                    error,
                } = *failure;
                let cancelled = deployment.status == DeploymentStatus::Cancelled;
                self.audit(
                    if cancelled {
                        "deploy.cancelled"
                    } else {
                        "deploy.failed"
                    },
                    &app.name,
                    &format!(
                        "deployment {} at {}: {error}",
                        deployment.id,
                        step.map_or("setup", Step::as_str)
                    ),
                );
                if cancelled {
                    Err(ApiError::DeployCancelled {
                        app: app.name.clone(),
                        deployment: deployment.id,
                    })
                } else {
                    Err(ApiError::DeployFailed {
                        app: app.name.clone(),
                        deployment: deployment.id,
                        step,
                        message: error.to_string(),
                    })
                }
            }
        }
    }

    /// The labels a deployment's containers carry besides the engine's own: the app's spec
    /// (so `server import` can rebuild these records from the server alone) and, for a stage's
    /// instance, its stage and tag (the relay finds a stage's instances by them).
    pub(crate) fn container_labels(
        &self,
        spec: &DeploySpec,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let app = &spec.app;
        let label = SpecLabel {
            // A git URL with a token in it keeps the token out of the label.
            app: App {
                git: berth_git::redact_url(&app.git),
                ..app.clone()
            },
            domains: spec.domains.clone(),
            // The app's own keys: the project's come from the project (`server import` does
            // not make projects).
            env: spec
                .env
                .iter()
                .filter(|v| v.from == EnvSource::App)
                .map(|v| SpecEnv {
                    key: v.key.clone(),
                    secret: v.secret,
                })
                .collect(),
        };
        let mut labels = berth_engine::import::spec_labels(&label);
        if let Some(i) = self.store.instance(&app.name)? {
            labels.extend(berth_engine::stages::instance_labels(
                &i.app, &i.stage, &i.tag,
            ));
        }
        Ok(labels)
    }

    /// Whose variables `app` runs with: its own, or for a stage's instance its app's.
    pub(crate) fn env_owner(&self, app: &str) -> Result<String, ApiError> {
        Ok(match self.store.instance(app)? {
            Some(i) => i.app,
            None => app.to_owned(),
        })
    }

    /// What a deployment of `app` runs with now: its settings, its variables over its
    /// project's (secrets by version) and its domains.
    pub(crate) fn spec_now(&self, app: &App) -> Result<DeploySpec, ApiError> {
        let owner = self.env_owner(&app.name)?;
        Ok(DeploySpec {
            app: app.clone(),
            env: self.env_resolved(&owner)?,
            domains: self.spec_domains(&app.name)?,
        })
    }

    /// The env values a spec's containers get, secrets read at their recorded versions.
    pub(crate) fn spec_values(
        &self,
        app: &str,
        spec: &DeploySpec,
    ) -> Result<Vec<(String, String)>, ApiError> {
        let owner = self.env_owner(app)?;
        let mut out = Vec::new();
        for var in &spec.env {
            let value = if var.secret {
                let from = match &var.from {
                    EnvSource::App => VarOwner::App(&owner),
                    EnvSource::Project { project } => VarOwner::Project(project),
                };
                self.secrets()
                    .get(&from.secret_key(&var.key, var.version))?
                    .map(|s| s.expose().clone())
                    .ok_or_else(|| match &var.from {
                        EnvSource::App => ApiError::SecretMissing {
                            app: owner.clone(),
                            key: var.key.clone(),
                        },
                        EnvSource::Project { project } => ApiError::ProjectSecretMissing {
                            project: project.clone(),
                            key: var.key.clone(),
                        },
                    })?
            } else {
                var.value.clone().unwrap_or_default()
            };
            out.push((var.key.clone(), value));
        }
        Ok(out)
    }

    /// Makes the records what `spec` ran with (a rollback restored it, or pending changes are
    /// discarded): the app's settings, its own variables (secrets point at the versions it ran
    /// with, still in the secrets store) and its domains. The project's variables are the
    /// project's: one app's rollback leaves them. `why` is the audit entry.
    pub(crate) fn restore_records(&self, spec: &DeploySpec, why: &str) -> Result<(), ApiError> {
        let app = &spec.app;
        let mut record = self.store.app(&app.name)?;
        record = App {
            name: record.name,
            server: record.server,
            project: record.project,
            created_at: record.created_at,
            // The monitor's settings apply at once, not with deployments.
            monitor: record.monitor,
            ..app.clone()
        };
        self.store.update_app(&record)?;
        let owner = self.env_owner(&app.name)?;
        if owner == app.name {
            let own: Vec<_> = spec
                .env
                .iter()
                .filter(|v| v.from == EnvSource::App)
                .collect();
            self.restore_vars(VarOwner::App(&owner), &own)?;
        }
        let now = self.now();
        let current = self.store.domains(&app.name)?;
        for d in &current {
            if !spec.domains.iter().any(|s| s.name == d.name) {
                self.store.remove_domain(&app.name, &d.name)?;
            }
        }
        for d in &spec.domains {
            if !current.iter().any(|c| c.name == d.name) {
                self.store.add_domain(&berth_model::Domain {
                    app: app.name.clone(),
                    name: d.name.clone(),
                    primary: false,
                    created_at: now,
                })?;
            }
        }
        let primary = spec
            .domains
            .iter()
            .find(|d| d.primary)
            .map(|d| d.name.as_str());
        if current.iter().find(|d| d.primary).map(|d| d.name.as_str()) != primary {
            self.store.set_primary_domain(&app.name, primary)?;
        }
        self.audit(why, &app.name, "settings, variables and domains");
        Ok(())
    }

    /// Deployments of `app`, newest first.
    pub fn deployments(&self, app: &str, limit: usize) -> Result<Vec<Deployment>, ApiError> {
        self.store.app(app)?;
        Ok(self.store.deployments(app, limit)?)
    }

    /// The latest deployments of every app, newest first.
    pub fn recent_deployments(&self, limit: usize) -> Result<Vec<Deployment>, ApiError> {
        Ok(self.store.recent_deployments(limit)?)
    }

    /// One deployment.
    pub fn deployment(&self, id: &str) -> Result<Deployment, ApiError> {
        Ok(self.store.deployment(id)?)
    }

    /// The stored build output of a deployment.
    pub fn build_log(&self, id: &str) -> Result<Vec<String>, ApiError> {
        self.store.deployment(id)?;
        Ok(self.store.build_log(id)?)
    }

    /// Stops the app's active container. It stays stopped (also across server reboots) until
    /// `start`, `restart` or a deploy.
    pub async fn stop(&self, app: &str) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let lock = self.lock_settled(&app, "a stop").await?;
        let result = async {
            let (host, container) = self.active_container(&app).await?;
            stop_app(&host, &app, &container).await?;
            self.store.set_app_stopped(&app.name, true)?;
            // Before the lock goes: the relay's reconcile must not start it again.
            self.monitor_sync(&app.server).await;
            self.audit("app.stop", &app.name, &container);
            Ok(())
        }
        .await;
        lock.release().await;
        result
    }

    /// Starts the app's active container again and waits until it is healthy.
    pub async fn start(&self, app: &str, cancel: CancellationToken) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let lock = self.lock_settled(&app, "a start").await?;
        let result = async {
            let (host, container) = self.active_container(&app).await?;
            start_app(&host, &app, &container, &cancel).await?;
            self.store.set_app_stopped(&app.name, false)?;
            self.monitor_sync(&app.server).await;
            let server = self.store.server(&app.server)?;
            self.repair_route(&host, &app, &server, &container).await?;
            self.audit("app.start", &app.name, &container);
            Ok(())
        }
        .await;
        lock.release().await;
        result
    }

    pub(crate) async fn active_container(
        &self,
        app: &App,
    ) -> Result<(std::sync::Arc<berth_engine::Host>, String), ApiError> {
        let active = self
            .store
            .active_deployment(&app.name)?
            .ok_or_else(|| ApiError::NotDeployed(app.name.clone()))?;
        let container = active
            .container
            .ok_or_else(|| ApiError::NotDeployed(app.name.clone()))?;
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        Ok((host, container))
    }
}
