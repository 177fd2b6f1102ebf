//! Background jobs for interactive front ends (the desktop): deploys, rollbacks, restarts,
//! starts and stops run in the background, can be cancelled, and report their progress and
//! their end as [`Notice`]s; container logs are followed as subscriptions. The front end
//! decides what a notice becomes (a window event, a tray notification).
//!
//! Deploys made by other processes on the same data dir (the CLI, another window) are
//! noticed too: [`Desktop::watch_other_processes`] reads the deployment records and announces
//! each one that ends as a [`Notice::Done`], like the jobs started here.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_model::view::{JobDone, JobKind, JobProgress, LogLine, Overview};
use berth_model::{DeployEvent, Deployment, DeploymentKind, DeploymentStatus};
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::error::ApiError;

/// Something the front end should hear about.
#[derive(Debug, Clone)]
pub enum Notice {
    Progress(JobProgress),
    Done(Box<JobDone>),
    Log(LogLine),
    /// The monitor saw something (a relay's event, or a server Berth cannot reach).
    Alert(berth_model::Alert),
    /// A followed log ended (the container stopped, or it failed).
    LogEnd {
        stream: String,
        app: String,
        error: Option<String>,
    },
}

type Notify = Arc<dyn Fn(Notice) + Send + Sync>;

/// Berth plus the jobs and log subscriptions running in this process.
pub struct Desktop {
    berth: Arc<Berth>,
    jobs: Mutex<HashMap<String, (JobKind, CancellationToken)>>,
    logs: Mutex<HashMap<String, CancellationToken>>,
    /// Deployments recorded by this process's jobs: announced by the job itself.
    own: Mutex<HashSet<String>>,
    notify: Notify,
}

/// How many of the latest deployments the watcher looks at on each round.
const WATCH_WINDOW: usize = 30;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Desktop {
    pub fn new(berth: Berth, notify: impl Fn(Notice) + Send + Sync + 'static) -> Arc<Desktop> {
        Arc::new(Desktop {
            berth: Arc::new(berth),
            jobs: Mutex::new(HashMap::new()),
            logs: Mutex::new(HashMap::new()),
            own: Mutex::new(HashSet::new()),
            notify: Arc::new(notify),
        })
    }

    /// Everything else: the same API the CLI uses.
    pub fn berth(&self) -> &Berth {
        &self.berth
    }

    /// Apps with a job running in this process.
    pub fn running(&self) -> Vec<String> {
        lock(&self.jobs).keys().cloned().collect()
    }

    /// The first screen, with apps that are deploying here marked so.
    pub fn overview(&self) -> Result<Overview, ApiError> {
        self.berth.overview(&self.running())
    }

    /// Starts `kind` on `app` in the background. Progress and the end arrive as notices.
    /// `git_ref` is for deploys, `to` for rollbacks.
    pub fn start_job(
        self: &Arc<Self>,
        app: &str,
        kind: JobKind,
        git_ref: Option<String>,
        to: Option<String>,
    ) -> Result<(), ApiError> {
        self.berth.app(app)?;
        let token = CancellationToken::new();
        {
            let mut jobs = lock(&self.jobs);
            if let Some((running, _)) = jobs.get(app) {
                return Err(ApiError::Busy {
                    app: app.to_owned(),
                    holder: format!("a {} from this window", running.as_str()),
                });
            }
            jobs.insert(app.to_owned(), (kind, token.clone()));
        }
        let this = self.clone();
        let app = app.to_owned();
        tokio::spawn(async move {
            let started = Instant::now();
            let notify = this.notify.clone();
            let observer_app = app.clone();
            let mine = this.clone();
            let observer = move |event: &DeployEvent| {
                if let DeployEvent::Started { deployment, .. } = event {
                    lock(&mine.own).insert(deployment.clone());
                }
                notify(Notice::Progress(JobProgress {
                    app: observer_app.clone(),
                    kind,
                    event: event.clone(),
                }))
            };
            let b = &this.berth;
            let result = match kind {
                JobKind::Deploy => b
                    .deploy(&app, git_ref.as_deref(), &observer, token.clone())
                    .await
                    .map(Some),
                JobKind::Rollback => b
                    .rollback(&app, to.as_deref(), &observer, token.clone())
                    .await
                    .map(Some),
                JobKind::Restart => b.restart(&app, &observer, token.clone()).await.map(Some),
                JobKind::Start => b.start(&app, token.clone()).await.map(|()| None),
                JobKind::Stop => b.stop(&app).await.map(|()| None),
                // The window asked its own yes before starting these.
                JobKind::StageDeploy => b
                    .deploy_stage(
                        &app,
                        to.as_deref(),
                        git_ref.as_deref(),
                        true,
                        &observer,
                        token.clone(),
                    )
                    .await
                    .map(Some),
                JobKind::Apply => b.apply(&app, &observer, token.clone()).await,
                JobKind::Promote => b
                    .promote(
                        &app,
                        to.as_deref().unwrap_or_default(),
                        git_ref.as_deref(),
                        true,
                        &observer,
                        token.clone(),
                    )
                    .await
                    .map(Some),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            let url = match &result {
                // A stage's instance is an app of its own: its URL.
                Ok(Some(d)) => this.primary_url(&d.app).await,
                Ok(None) => this.primary_url(&app).await,
                Err(_) => None,
            };
            let done = match result {
                Ok(deployment) => JobDone {
                    message: {
                        // A stage's instance is named for what went live.
                        let live = deployment.as_ref().map_or(app.as_str(), |d| d.app.as_str());
                        match (kind, &url) {
                            (JobKind::Stop, _) => format!("{app} stopped"),
                            (_, Some(u)) => format!("{live} is live at {u}"),
                            (_, None) => format!("{live} is live"),
                        }
                    },
                    app: app.clone(),
                    kind,
                    ok: true,
                    cancelled: false,
                    deployment,
                    url,
                    duration_ms,
                },
                Err(e) => JobDone {
                    cancelled: matches!(e, ApiError::DeployCancelled { .. }),
                    message: e.to_string(),
                    app: app.clone(),
                    kind,
                    ok: false,
                    // The recorded attempt, with its failed step and error, when there is one.
                    deployment: match &e {
                        ApiError::DeployFailed { deployment, .. }
                        | ApiError::DeployCancelled { deployment, .. } => {
                            this.berth.deployment(deployment).ok()
                        }
                        _ => None,
                    },
                    url: None,
                    duration_ms,
                },
            };
            lock(&this.jobs).remove(&app);
            (this.notify)(Notice::Done(Box::new(done)));
        });
        Ok(())
    }

    /// Announces deployments that other processes (the CLI, another window) finish: every
    /// `every`, the latest records are read and each deployment that ended since the last look,
    /// and was not made by a job of this process, becomes a [`Notice::Done`]. Deployments that
    /// had already ended when the watch started are not announced. Runs until dropped.
    pub async fn watch_other_processes(self: Arc<Self>, every: Duration) {
        let ended = |d: &Deployment| d.status != DeploymentStatus::InProgress;
        let mut announced: HashSet<String> = match self.berth.recent_deployments(WATCH_WINDOW) {
            Ok(list) => list.into_iter().filter(ended).map(|d| d.id).collect(),
            Err(e) => {
                tracing::warn!("cannot read deployments; not watching other processes: {e}");
                return;
            }
        };
        loop {
            tokio::time::sleep(every).await;
            let recent = match self.berth.recent_deployments(WATCH_WINDOW) {
                Ok(list) => list,
                Err(e) => {
                    tracing::debug!("watching deployments: {e}");
                    continue;
                }
            };
            // Oldest first, so notices arrive in the order things happened.
            for d in recent.iter().rev().filter(|d| ended(d)) {
                if !announced.insert(d.id.clone()) || lock(&self.own).contains(&d.id) {
                    continue;
                }
                let url = match d.status.was_healthy() {
                    true => self.primary_url(&d.app).await,
                    false => None,
                };
                (self.notify)(Notice::Done(Box::new(done_elsewhere(d, url))));
            }
            let window: HashSet<&str> = recent.iter().map(|d| d.id.as_str()).collect();
            announced.retain(|id| window.contains(id.as_str()));
        }
    }

    /// Runs attended webhook deliveries of every server with a relay while the app is open
    /// (the tray's twin of `berth watch`). Each deploy ends up in the records, so
    /// [`Desktop::watch_other_processes`] announces it like any other. With no relay yet, it
    /// looks again every `retry`. Runs until dropped.
    pub async fn watch_webhooks(self: Arc<Self>, retry: Duration) {
        let client = crate::watch::client_name("desktop");
        let relays = async {
            loop {
                let on = Arc::new(|e: crate::WatchEvent| match e {
                    crate::WatchEvent::Lost { server, error } => {
                        tracing::warn!(%server, "webhook relay unreachable: {error}")
                    }
                    other => tracing::info!("webhooks: {other:?}"),
                });
                let opts = crate::WatchOptions {
                    server: None,
                    once: false,
                    client: client.clone(),
                    poll: None,
                };
                match self.berth.watch(opts, CancellationToken::new(), on).await {
                    Ok(()) => return,
                    Err(e) => tracing::debug!("not watching webhooks: {e}"),
                }
                tokio::time::sleep(retry).await;
            }
        };
        // Registries are polled beside, at the interval in the settings (0: not at all).
        let polling = async {
            loop {
                let every = self.berth.poll_interval();
                if !every.is_zero() {
                    self.berth
                        .poll_images(&CancellationToken::new(), &|e| {
                            tracing::info!("registry polling: {e:?}")
                        })
                        .await;
                }
                tokio::time::sleep(if every.is_zero() { retry } else { every }).await;
            }
        };
        tokio::join!(relays, polling);
    }

    /// Fetches the monitor's new events from every relay every `every` and announces each
    /// (the tray, the Overview) — what happened while the laptop was closed first, oldest
    /// first. Runs until dropped.
    pub async fn watch_alerts(self: Arc<Self>, every: Duration) {
        loop {
            match self.berth.alerts_sync().await {
                Ok(new) => {
                    for a in new {
                        (self.notify)(Notice::Alert(a));
                    }
                }
                Err(e) => tracing::debug!("cannot fetch alerts: {e}"),
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Samples the apps of servers without a relay every
    /// [`DESKTOP_SAMPLE_EVERY_MS`](crate::monitor::DESKTOP_SAMPLE_EVERY_MS) while the desktop
    /// runs (a relay samples its own server around the clock). Runs until dropped.
    pub async fn watch_stats(self: Arc<Self>) {
        let every = Duration::from_millis(
            u64::try_from(crate::monitor::DESKTOP_SAMPLE_EVERY_MS).unwrap_or(10_000),
        );
        let mut previous = HashMap::new();
        loop {
            if let Err(e) = self.berth.sample_without_relay(&mut previous).await {
                tracing::debug!("cannot sample servers without a relay: {e}");
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Cancels the job running on `app`; false if there is none.
    pub fn cancel(&self, app: &str) -> bool {
        match lock(&self.jobs).get(app) {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }

    /// The window's Cancel: its own job, else one another process on the data dir runs (a
    /// terminal's deploy), like `berth cancel`.
    pub async fn cancel_anywhere(&self, app: &str) -> Result<bool, ApiError> {
        if self.cancel(app) {
            return Ok(true);
        }
        self.berth.cancel(app).await
    }

    /// The primary URL of an app, or its loopback endpoint.
    async fn primary_url(&self, app: &str) -> Option<String> {
        let st = self.berth.status(app).await.ok()?;
        st.urls
            .first()
            .cloned()
            .or_else(|| st.endpoint.map(|e| format!("http://{e}")))
    }

    /// Follows the active container's output: the last `tail` lines, then new ones, as
    /// [`Notice::Log`] with the returned stream id, until [`Desktop::stop_logs`].
    pub fn follow_logs(self: &Arc<Self>, app: &str, tail: usize) -> Result<String, ApiError> {
        self.berth.app(app)?;
        let stream = crate::new_id();
        let token = CancellationToken::new();
        lock(&self.logs).insert(stream.clone(), token.clone());
        let this = self.clone();
        let (app, id) = (app.to_owned(), stream.clone());
        tokio::spawn(async move {
            let notify = this.notify.clone();
            let (line_app, line_id) = (app.clone(), id.clone());
            let on_line = move |line: &crate::OutputLine| {
                notify(Notice::Log(LogLine {
                    stream: line_id.clone(),
                    app: line_app.clone(),
                    text: line.text.clone(),
                    stderr: line.stderr,
                }))
            };
            let result = this
                .berth
                .logs(&app, Some(tail), true, token, &on_line)
                .await;
            lock(&this.logs).remove(&id);
            (this.notify)(Notice::LogEnd {
                stream: id,
                app,
                error: result.err().map(|e| e.to_string()),
            });
        });
        Ok(stream)
    }

    /// Stops a followed log.
    pub fn stop_logs(&self, stream: &str) {
        if let Some(token) = lock(&self.logs).remove(stream) {
            token.cancel();
        }
    }
}

/// The notice for a deployment another process finished.
fn done_elsewhere(d: &Deployment, url: Option<String>) -> JobDone {
    let kind = match d.kind {
        DeploymentKind::Deploy => JobKind::Deploy,
        DeploymentKind::Rollback => JobKind::Rollback,
        DeploymentKind::Restart => JobKind::Restart,
    };
    let ok = d.status.was_healthy();
    let cancelled = d.status == DeploymentStatus::Cancelled;
    let app = &d.app;
    let message = if ok {
        match &url {
            Some(u) => format!("{app} is live at {u}"),
            None => format!("{app} is live"),
        }
    } else if cancelled {
        format!("{} of {app} was cancelled", kind.as_str())
    } else {
        let error = d.error.as_deref().unwrap_or("no error was recorded");
        match d.failed_step {
            Some(step) => format!("{} of {app} failed at step {step}: {error}", kind.as_str()),
            None => format!("{} of {app} failed: {error}", kind.as_str()),
        }
    };
    let duration_ms = d
        .finished_at
        .map(|f| f.saturating_sub(d.started_at).max(0) as u64)
        .unwrap_or(0);
    JobDone {
        app: app.clone(),
        kind,
        ok,
        cancelled,
        message,
        deployment: Some(d.clone()),
        url,
        duration_ms,
    }
}
