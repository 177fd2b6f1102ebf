//! The runner: resolves the source, plans the deployment, executes the plan step by step,
//! reports progress through a [`DeploySink`], and on failure or cancellation removes only what
//! this deployment created.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use berth_build::detect::Detected;
use berth_build::git::{Commit, Repo};
use berth_docker::{ContainerSpec, labels};
use berth_model::{
    App, BaseImages, DeployEvent, Deployment, DeploymentStatus, Step, StepOutcome, StepTiming,
};
use tokio_util::sync::CancellationToken;

use crate::NETWORK;
use crate::error::EngineError;
use crate::health::{HealthReport, wait_healthy};
use crate::host::Host;
use crate::plan::{Action, ImageSource, PlanInput, RoutePlan, UpstreamVia, plan_deploy};

/// The time, passed in so logic stays deterministic under test.
pub trait Clock: Send + Sync {
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Where a running deployment reports to (the API layer records it in the store, the CLI
/// prints it, the desktop forwards it to the window).
pub trait DeploySink: Send + Sync {
    /// Progress: steps, build lines, notes.
    fn event(&self, event: DeployEvent);
    /// The record changed (step finished, commit resolved, …); persist it.
    fn save(&self, deployment: &Deployment);
    /// The deployment is healthy: make it the app's active one. An error aborts the switch.
    fn activate(&self, deployment: &Deployment) -> Result<(), String>;
}

/// Where the image comes from.
#[derive(Debug, Clone)]
pub enum JobSource {
    /// Build the deployment's `git_ref` from the app's git source.
    Git {
        /// Where URL sources are cloned.
        cache_dir: PathBuf,
        /// Base images for generated Dockerfiles (app's, then server's).
        images: BaseImages,
    },
    /// Build a commit already fetched (the relay, which has no git and no clone).
    Snapshot {
        snapshot: Box<berth_build::Snapshot>,
        /// Base images for generated Dockerfiles (app's, then server's).
        images: BaseImages,
    },
    /// Run an image that already exists on the server (rollback, restart).
    Image {
        image: String,
        from_deployment: String,
    },
}

/// One deployment to run.
pub struct DeployJob {
    pub app: App,
    /// The record, already stored with status in-progress.
    pub deployment: Deployment,
    pub source: JobSource,
    /// Env values, secrets included. Never logged or displayed.
    pub env: Vec<(String, String)>,
    /// The app's active deployment, if any.
    pub previous: Option<Deployment>,
    /// Images of earlier healthy deployments to keep for rollback.
    pub keep_images: Vec<String>,
    /// The route through the server's proxy, when there is one.
    pub route: Option<RoutePlan>,
}

/// A deployment that did not become active.
#[derive(Debug)]
pub struct DeployFailure {
    pub deployment: Deployment,
    pub step: Option<Step>,
    pub error: EngineError,
}

/// `berth-<app>-<deployment>`.
pub fn container_name(app: &str, deployment: &str) -> String {
    format!("berth-{app}-{deployment}")
}

/// `berth/<app>:<deployment>`.
pub fn image_tag(app: &str, deployment: &str) -> String {
    format!("berth/{app}:{deployment}")
}

/// Times the pipeline's steps and reports them.
struct Steps<'a> {
    sink: &'a dyn DeploySink,
    clock: &'a dyn Clock,
    current: Option<(Step, Instant, i64)>,
}

impl Steps<'_> {
    fn enter(&mut self, step: Step, d: &mut Deployment) {
        if self.current.map(|(s, _, _)| s) == Some(step) {
            return;
        }
        self.finish(StepOutcome::Ok, d);
        self.current = Some((step, Instant::now(), self.clock.now_ms()));
        self.sink.event(DeployEvent::StepStarted { step });
    }

    fn finish(&mut self, outcome: StepOutcome, d: &mut Deployment) -> Option<Step> {
        let (step, started, started_at) = self.current.take()?;
        let duration_ms = started.elapsed().as_millis() as u64;
        d.steps.push(StepTiming {
            step,
            started_at,
            duration_ms,
            outcome,
        });
        self.sink.event(DeployEvent::StepFinished {
            step,
            duration_ms,
            outcome,
        });
        self.sink.save(d);
        Some(step)
    }
}

/// Where a resolved commit's files are read from.
enum Files {
    Repo(Repo),
    Snapshot(Box<berth_build::Snapshot>),
}

/// What the resolve step produced.
struct Resolved {
    files: Files,
    commit: Commit,
    detected: Detected,
    dirty: bool,
}

fn resolve_blocking(
    app: &App,
    git_ref: &str,
    cache_dir: &std::path::Path,
    images: &BaseImages,
) -> Result<Resolved, EngineError> {
    let repo = berth_build::git::open(&app.git, cache_dir)?;
    let commit = repo.resolve(git_ref)?;
    let files = repo.list_files(&commit)?;
    let read = |path: &str| {
        repo.read_file(&commit, path)
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    let detected =
        berth_build::detect::detect(&files, &read, app.dockerfile.as_deref(), app.port, images)?;
    let dirty = repo.is_dirty();
    Ok(Resolved {
        files: Files::Repo(repo),
        commit,
        detected,
        dirty,
    })
}

fn deployment_labels(app: &str, deployment: &str, commit: Option<&str>) -> HashMap<String, String> {
    let mut l = HashMap::from([
        (labels::MANAGED.to_owned(), "true".to_owned()),
        (labels::APP.to_owned(), app.to_owned()),
        (labels::DEPLOYMENT.to_owned(), deployment.to_owned()),
    ]);
    if let Some(c) = commit {
        l.insert(labels::COMMIT.to_owned(), c.to_owned());
    }
    l
}

/// Runs one deployment to the end. `Ok` means the new deployment is healthy and active.
pub async fn run_deploy(
    host: &Host,
    job: DeployJob,
    sink: &dyn DeploySink,
    cancel: CancellationToken,
    clock: &dyn Clock,
) -> Result<Deployment, Box<DeployFailure>> {
    let DeployJob {
        app,
        deployment,
        source,
        env,
        previous,
        keep_images,
        route,
    } = job;
    let mut d = deployment;
    sink.event(DeployEvent::Started {
        deployment: d.id.clone(),
        app: app.name.clone(),
    });
    let started = Instant::now();
    let mut steps = Steps {
        sink,
        clock,
        current: None,
    };
    let mut created: Option<String> = None;
    let result = execute(
        host,
        &app,
        &mut d,
        Inputs {
            source,
            env: &env,
            previous,
            keep_images,
            route,
            sink,
            cancel: &cancel,
        },
        &mut steps,
        &mut created,
    )
    .await;
    let duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(()) => {
            steps.finish(StepOutcome::Ok, &mut d);
            d.finished_at = Some(clock.now_ms());
            sink.save(&d);
            sink.event(DeployEvent::Finished {
                deployment: d.id.clone(),
                status: d.status,
                duration_ms,
                error: None,
            });
            Ok(d)
        }
        Err(error) => {
            let cancelled = matches!(error, EngineError::Cancelled);
            // Remove only what this deployment created; the serving container is untouched.
            if let Some(name) = &created
                && let Err(e) = host.docker().remove_container(name, true).await
            {
                tracing::warn!("could not remove {name} after a failed deploy: {e}");
                sink.event(DeployEvent::Info {
                    message: format!("could not remove {name}: {e}"),
                });
            }
            let outcome = if cancelled {
                StepOutcome::Cancelled
            } else {
                StepOutcome::Failed
            };
            let step = steps.finish(outcome, &mut d);
            d.status = if cancelled {
                DeploymentStatus::Cancelled
            } else {
                DeploymentStatus::Failed
            };
            d.failed_step = step;
            d.error = Some(error.to_string());
            d.finished_at = Some(clock.now_ms());
            sink.save(&d);
            sink.event(DeployEvent::Finished {
                deployment: d.id.clone(),
                status: d.status,
                duration_ms,
                error: d.error.clone(),
            });
            Err(Box::new(DeployFailure {
                deployment: d,
                step,
                error,
            }))
        }
    }
}

async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    tokio::select! {
        r = fut => r,
        _ = cancel.cancelled() => Err(EngineError::Cancelled),
    }
}

/// Records what was resolved on the deployment, tells the user, and says what to build.
fn resolved_source(r: &Resolved, d: &mut Deployment, sink: &dyn DeploySink) -> ImageSource {
    d.commit = Some(r.commit.sha.clone());
    d.commit_message = Some(r.commit.subject.clone());
    d.runtime = Some(r.detected.runtime.to_string());
    sink.event(DeployEvent::Info {
        message: format!(
            "commit {} \"{}\" ({} runtime)",
            r.commit.short(),
            r.commit.subject,
            r.detected.runtime
        ),
    });
    if r.dirty {
        sink.event(DeployEvent::Info {
            message: "the work tree has uncommitted changes; they are not part of this deploy (only committed files are built)".to_owned(),
        });
    }
    for hint in &r.detected.hints {
        sink.event(DeployEvent::Info {
            message: hint.clone(),
        });
    }
    ImageSource::Build {
        commit: r.commit.sha.clone(),
        runtime: r.detected.runtime.to_string(),
        dockerfile: berth_build::context::dockerfile_path(&r.detected),
    }
}

/// What `execute` works from.
struct Inputs<'a> {
    source: JobSource,
    env: &'a [(String, String)],
    previous: Option<Deployment>,
    keep_images: Vec<String>,
    route: Option<RoutePlan>,
    sink: &'a dyn DeploySink,
    cancel: &'a CancellationToken,
}

/// The dial address of `container`'s app port as the proxy reaches it.
fn upstream(
    via: UpstreamVia,
    container: &str,
    port: u16,
    published: Option<u16>,
) -> Option<String> {
    match via {
        UpstreamVia::Network => Some(format!("{container}:{port}")),
        UpstreamVia::Loopback => published.map(|p| format!("127.0.0.1:{p}")),
    }
}

async fn execute(
    host: &Host,
    app: &App,
    d: &mut Deployment,
    inputs: Inputs<'_>,
    steps: &mut Steps<'_>,
    created: &mut Option<String>,
) -> Result<(), EngineError> {
    let Inputs {
        source,
        env,
        previous,
        keep_images,
        route,
        sink,
        cancel,
    } = inputs;
    let docker = host.docker();
    // Filled in as the run goes: the new container's published port, and the route as it was
    // before the switch (to put it back if recording the switch fails).
    let mut new_port: Option<u16> = None;
    let mut switched: Option<(RoutePlan, Option<String>)> = None;
    // Resolve the source.
    let (image_source, image, mut resolved) = match source {
        JobSource::Git { cache_dir, images } => {
            steps.enter(Step::Resolve, d);
            let app2 = app.clone();
            let git_ref = d.git_ref.clone();
            let task = tokio::task::spawn_blocking(move || {
                resolve_blocking(&app2, &git_ref, &cache_dir, &images)
            });
            let resolved = cancellable(cancel, async {
                task.await.map_err(|e| EngineError::Task(e.to_string()))?
            })
            .await?;
            let source = resolved_source(&resolved, d, sink);
            (source, image_tag(&app.name, &d.id), Some(resolved))
        }
        JobSource::Snapshot { snapshot, images } => {
            steps.enter(Step::Resolve, d);
            let detected = snapshot.detect(app.dockerfile.as_deref(), app.port, &images)?;
            let resolved = Resolved {
                commit: snapshot.commit.clone(),
                files: Files::Snapshot(snapshot),
                detected,
                dirty: false,
            };
            let source = resolved_source(&resolved, d, sink);
            (source, image_tag(&app.name, &d.id), Some(resolved))
        }
        JobSource::Image {
            image,
            from_deployment,
        } => (ImageSource::Existing { from_deployment }, image, None),
    };
    d.image = Some(image.clone());
    let container = container_name(&app.name, &d.id);
    d.container = Some(container.clone());
    sink.save(d);

    // Observe the host: is the active container still there, are there leftovers?
    let mut previous_port = None;
    let previous_container = match previous.as_ref().and_then(|p| p.container.clone()) {
        Some(name) => docker.inspect_container(&name).await?.map(|info| {
            previous_port = info.published_port;
            name
        }),
        None => None,
    };
    let leftovers: Vec<String> = docker
        .containers_with_labels(&[(labels::APP, &app.name)])
        .await?
        .into_iter()
        .filter(|c| Some(c) != previous_container.as_ref() && c != &container)
        .collect();
    let mut env_keys: Vec<String> = env.iter().map(|(k, _)| k.clone()).collect();
    env_keys.sort();
    let plan = plan_deploy(&PlanInput {
        app,
        deployment_id: &d.id,
        source: image_source,
        image: image.clone(),
        container: container.clone(),
        network: NETWORK,
        env_keys,
        previous: previous_container.clone(),
        leftovers,
        keep_images,
        route,
    });
    tracing::debug!("plan for {} {}:\n{plan}", app.name, d.id);

    let mut activated = false;
    for planned in plan.actions {
        if !activated && cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        steps.enter(planned.step, d);
        match planned.action {
            Action::Build {
                tag, dockerfile, ..
            } => {
                let Some(r) = resolved.take() else {
                    return Err(EngineError::Task("build without a resolved source".into()));
                };
                // Starting the stream runs git (reading .dockerignore): keep it off the runtime.
                let context = tokio::task::spawn_blocking(move || match &r.files {
                    Files::Repo(repo) => berth_build::context::stream(repo, &r.commit, &r.detected),
                    Files::Snapshot(snapshot) => snapshot.context(&r.detected),
                })
                .await
                .map_err(|e| EngineError::Task(e.to_string()))??;
                // Only labels that stay the same for a commit, so a redeploy hits the build
                // cache; the tag names the deployment.
                let mut build_labels = deployment_labels(&app.name, &d.id, d.commit.as_deref());
                build_labels.remove(labels::DEPLOYMENT);
                let on_line = |line: &str| {
                    sink.event(DeployEvent::BuildLine {
                        line: line.to_owned(),
                    })
                };
                cancellable(cancel, async {
                    docker
                        .build_image(&tag, &dockerfile, &build_labels, context, on_line)
                        .await
                        .map_err(EngineError::from)
                })
                .await?;
            }
            Action::CheckImage {
                image,
                from_deployment,
            } => {
                if docker.image_id(&image).await?.is_none() {
                    return Err(EngineError::ImageMissing {
                        image,
                        deployment: from_deployment,
                    });
                }
            }
            Action::EnsureNetwork { network } => docker.ensure_network(&network).await?,
            Action::Create(c) => {
                let spec = ContainerSpec {
                    name: c.name.clone(),
                    image: c.image,
                    env: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                    labels: deployment_labels(&app.name, &d.id, d.commit.as_deref()),
                    port: c.port,
                    network: c.network,
                    cpus: c.cpus,
                    memory_bytes: c.memory_bytes,
                    volumes: c.volumes,
                    stop_grace_secs: c.stop_grace_secs,
                };
                docker.create_container(&spec).await?;
                *created = Some(c.name);
            }
            Action::Start { container } => docker.start_container(&container).await?,
            Action::HealthCheck {
                container,
                port,
                health,
            } => {
                let report: HealthReport =
                    wait_healthy(host, &container, port, &health, cancel).await?;
                new_port = Some(report.host_port);
                docker.keep_running(&container).await?;
                sink.event(DeployEvent::Info {
                    message: format!(
                        "healthy: GET {} answered {} after {} probe(s) in {} ms; published on 127.0.0.1:{}",
                        health.path, report.status, report.probes, report.elapsed_ms, report.host_port
                    ),
                });
            }
            Action::Route {
                route,
                container,
                port,
            } => {
                let caddy = host.caddy(&route.admin).await?;
                let before = caddy.route(&route.id).await?.map(|r| r.upstream);
                let Some(dial) = upstream(route.via, &container, port, new_port) else {
                    return Err(EngineError::NoPublishedPort { container, port });
                };
                caddy
                    .put_route(
                        &route.server,
                        &berth_proxy::Route {
                            id: route.id.clone(),
                            hosts: route.hosts.clone(),
                            upstream: dial.clone(),
                        },
                    )
                    .await?;
                sink.event(DeployEvent::Info {
                    message: format!("routed {} to {dial}", route.hosts.join(", ")),
                });
                switched = Some((route, before));
            }
            Action::Activate { .. } => {
                d.status = DeploymentStatus::Active;
                if let Err(e) = sink.activate(d) {
                    d.status = DeploymentStatus::InProgress;
                    if let Some((route, before)) = switched.take() {
                        restore_route(host, &route, before).await;
                    }
                    return Err(EngineError::Record(e));
                }
                activated = true;
            }
            Action::DrainRequests {
                route,
                container,
                port,
            } => {
                if let Some(dial) = upstream(route.via, &container, port, previous_port) {
                    let timeout =
                        std::time::Duration::from_secs(u64::from(route.drain_timeout_secs));
                    let drained = match host.caddy(&route.admin).await {
                        Ok(caddy) => caddy
                            .drain(&dial, timeout, std::time::Duration::from_millis(50))
                            .await
                            .map_err(EngineError::from),
                        Err(e) => Err(e),
                    };
                    match drained {
                        Ok(0) => {}
                        Ok(n) => warn(
                            sink,
                            format!(
                                "{n} request(s) to {container} still in flight after {}s; stopping it anyway",
                                route.drain_timeout_secs
                            ),
                        ),
                        Err(e) => warn(
                            sink,
                            format!("could not watch requests to {container} drain: {e}"),
                        ),
                    }
                }
            }
            // After the switch, failures only warn: the new deployment is already serving.
            Action::Stop {
                container,
                grace_secs,
            } => {
                if let Err(e) = docker.stop_container(&container, grace_secs).await {
                    warn(
                        sink,
                        format!("could not stop the previous container {container}: {e}"),
                    );
                }
            }
            Action::Remove { container } | Action::RemoveLeftover { container } => {
                if let Err(e) = docker.remove_container(&container, true).await {
                    warn(sink, format!("could not remove {container}: {e}"));
                }
            }
            Action::PruneImages { app, keep } => {
                if let Err(e) = prune_images(host, &app, &keep).await {
                    warn(sink, format!("could not prune old images of {app}: {e}"));
                }
            }
        }
    }
    Ok(())
}

/// Puts the route back as it was before a switch whose recording failed.
async fn restore_route(host: &Host, route: &RoutePlan, before: Option<String>) {
    let result = match host.caddy(&route.admin).await {
        Ok(caddy) => match before {
            Some(upstream) => caddy
                .put_route(
                    &route.server,
                    &berth_proxy::Route {
                        id: route.id.clone(),
                        hosts: route.hosts.clone(),
                        upstream,
                    },
                )
                .await
                .map_err(EngineError::from),
            None => caddy
                .delete_route(&route.id)
                .await
                .map(|_| ())
                .map_err(EngineError::from),
        },
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::error!("could not put route {} back: {e}", route.id);
    }
}

fn warn(sink: &dyn DeploySink, message: String) {
    tracing::warn!("{message}");
    sink.event(DeployEvent::Info { message });
}

/// Removes this app's images except those in `keep` (tags) and those still used.
async fn prune_images(host: &Host, app: &str, keep: &[String]) -> Result<(), EngineError> {
    let docker = host.docker();
    let images = docker
        .images_with_labels(&[(labels::MANAGED, "true"), (labels::APP, app)])
        .await?;
    let keep_ids: Vec<String> = images
        .iter()
        .filter(|i| i.tags.iter().any(|t| keep.contains(t)))
        .map(|i| i.id.clone())
        .collect();
    for image in images {
        if keep_ids.contains(&image.id) {
            continue;
        }
        let removed = docker.remove_image(&image.id, false).await?;
        tracing::debug!(image = %image.id, removed, "pruned image");
    }
    Ok(())
}

/// Stops an app's active container (the user's `stop`).
pub async fn stop_app(host: &Host, container: &str, grace_secs: u32) -> Result<(), EngineError> {
    host.docker().stop_container(container, grace_secs).await?;
    Ok(())
}

/// Starts an app's active container again and waits until it is healthy.
pub async fn start_app(
    host: &Host,
    app: &App,
    container: &str,
    cancel: &CancellationToken,
) -> Result<HealthReport, EngineError> {
    if host.docker().inspect_container(container).await?.is_none() {
        return Err(EngineError::Docker(berth_docker::DockerError::NotFound {
            what: format!("container {container}"),
        }));
    }
    host.docker().start_container(container).await?;
    wait_healthy(host, container, app.port, &app.health, cancel).await
}
