//! The runner: resolves the source, plans the deployment, executes the plan step by step,
//! reports progress through a [`DeploySink`], and on failure or cancellation removes only what
//! this deployment created.

use std::path::PathBuf;
use std::time::Instant;

use berth_build::detect::Detected;
use berth_build::git::{Commit, Repo};
use berth_docker::labels;
use berth_model::{
    App, BaseImages, DeployEvent, Deployment, DeploymentStatus, ProcessSpec, Step, StepOutcome,
    StepTiming,
};
use tokio_util::sync::CancellationToken;

use crate::NETWORK;
use crate::apply::{Apply, Created, cancellable, pause_point};
use crate::error::EngineError;

use crate::host::Host;
use crate::plan::{ImageSource, PlanInput, RoutePlan, plan_deploy};
use crate::retention::{kept_images, kept_images_on_host};

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
        /// The commit serving now, which the one to build must descend from (a push deploy
        /// without force-push allowed); the deploy fails at `resolve` if it does not.
        descends_from: Option<String>,
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
        /// The processes that deployment ran beside its web container.
        processes: Vec<ProcessSpec>,
    },
    /// Pull an image app's `repository:tag` on the server and run the digest it points to.
    Pull {
        reference: String,
        /// The registry's login, passed to the server's Docker with the pull.
        login: Option<crate::registry::RegistryCredentials>,
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
    /// The app's deployments, newest first, when the driver keeps a history (Berth's store);
    /// `None` when the images on the host are all it knows (the relay). Either way the one
    /// retention rule ([`crate::kept_images`]) decides which images stay for rollback.
    pub history: Option<Vec<Deployment>>,
    /// The route through the server's proxy, when there is one.
    pub route: Option<RoutePlan>,
    /// Labels the container carries besides Berth's own (a stage instance's, so any driver
    /// finds the stage's instances on the host: [`crate::stages::instance_labels`]).
    pub labels: Vec<(String, String)>,
}

/// A deployment that did not become active.
#[derive(Debug)]
pub struct DeployFailure {
    pub deployment: Deployment,
    pub step: Option<Step>,
    pub error: EngineError,
}

/// A new deployment id: 128 random bits as 32 lowercase hex digits, the same from every driver
/// (the desktop, the CLI, the relay — one key space: Berth's catch-up skips a relay deployment
/// whose id it has, so a collision would lose one; at 128 bits there is none).
pub fn new_deployment_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// `berth-<app>-<first 12 digits of the deployment>`: within Docker's 63-character DNS label
/// (Caddy dials containers by name), and 48 random bits between one app's containers.
/// (Ids of 8 digits, from before, are used whole.)
pub fn container_name(app: &str, deployment: &str) -> String {
    let short = deployment.get(..12).unwrap_or(deployment);
    format!("berth-{app}-{short}")
}

/// `berth/<app>:<deployment>`.
pub fn image_tag(app: &str, deployment: &str) -> String {
    format!("berth/{app}:{deployment}")
}

/// Times the pipeline's steps and reports them.
pub(crate) struct Steps<'a> {
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
pub(crate) struct Resolved {
    files: Files,
    commit: Commit,
    detected: Detected,
    dirty: bool,
}

impl Resolved {
    /// The build context: the commit's files, filtered by `.dockerignore` (runs git: call it
    /// off the async runtime).
    pub(crate) fn context(
        &self,
    ) -> Result<berth_build::context::ContextStream, berth_build::BuildError> {
        match &self.files {
            Files::Repo(repo) => berth_build::context::stream(repo, &self.commit, &self.detected),
            Files::Snapshot(snapshot) => snapshot.context(&self.detected),
        }
    }
}

fn resolve_blocking(
    app: &App,
    git_ref: &str,
    cache_dir: &std::path::Path,
    images: &BaseImages,
    descends_from: Option<&str>,
) -> Result<Resolved, EngineError> {
    let repo = berth_build::git::open(&app.git, cache_dir)?;
    let commit = repo.resolve(git_ref)?;
    if let Some(serving) = descends_from
        && !repo.is_ancestor(serving, &commit)?
    {
        return Err(EngineError::NotADescendant {
            app: app.name.clone(),
            commit: commit.sha.clone(),
            serving: serving.to_owned(),
        });
    }
    let files = repo.list_files(&commit)?;
    let read = |path: &str| {
        repo.read_file(&commit, path)
            .ok()
            .flatten()
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
    };
    let options = berth_build::Options::of(app, images);
    let detected = berth_build::detect::detect(&files, &read, &options)?;
    let dirty = repo.is_dirty();
    Ok(Resolved {
        files: Files::Repo(repo),
        commit,
        detected,
        dirty,
    })
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
        history,
        route,
        labels,
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
    let mut created = Created::default();
    let result = execute(
        host,
        &app,
        &mut d,
        Inputs {
            source,
            env: &env,
            previous,
            history,
            route,
            labels: &labels,
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
            // The app's last output goes where the user looks on purpose (the deploy log, the
            // terminal), not into the error stored with the deployment and sent to notifiers.
            let output = error.app_output();
            if !output.is_empty() {
                sink.event(DeployEvent::BuildLine {
                    line: "» the container's last output:".to_owned(),
                });
                for line in output {
                    sink.event(DeployEvent::BuildLine { line: line.clone() });
                }
            }
            // Remove only what this deployment created; the serving container is untouched.
            created.remove(host, sink).await;
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

/// Records what was resolved on the deployment, tells the user, and says what to build.
fn resolved_source(
    app: &App,
    r: &Resolved,
    d: &mut Deployment,
    sink: &dyn DeploySink,
) -> ImageSource {
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
    let release = r.detected.procfile.get("release");
    if let Some(line) = release {
        sink.event(DeployEvent::Info {
            message: match &app.release_command {
                Some(own) => format!(
                    "the app's release command `{own}` runs instead of the Procfile's release line (line {})",
                    line.line
                ),
                None => format!(
                    "release: the Procfile's release line (line {}) runs before the switch",
                    line.line
                ),
            },
        });
    }
    let workers: Vec<ProcessSpec> = r
        .detected
        .procfile
        .workers()
        .map(|p| ProcessSpec {
            name: p.name.clone(),
            command: p.command.clone(),
        })
        .collect();
    for (spec, line) in workers.iter().zip(r.detected.procfile.workers()) {
        sink.event(DeployEvent::Info {
            message: format!(
                "{}: `{}` runs beside the app (Procfile line {})",
                spec.name, spec.command, line.line
            ),
        });
    }
    d.processes = workers.clone();
    ImageSource::Build {
        commit: r.commit.sha.clone(),
        runtime: r.detected.runtime.to_string(),
        dockerfile: berth_build::context::dockerfile_path(&r.detected),
        build_args: app.build_env.clone(),
        release: release.map(|p| (p.command.clone(), p.line)),
        workers,
    }
}

/// What `execute` works from.
struct Inputs<'a> {
    source: JobSource,
    env: &'a [(String, String)],
    previous: Option<Deployment>,
    history: Option<Vec<Deployment>>,
    route: Option<RoutePlan>,
    labels: &'a [(String, String)],
    sink: &'a dyn DeploySink,
    cancel: &'a CancellationToken,
}

/// Resolve the source, observe the host, plan, then apply the plan action by action.
async fn execute(
    host: &Host,
    app: &App,
    d: &mut Deployment,
    inputs: Inputs<'_>,
    steps: &mut Steps<'_>,
    created: &mut Created,
) -> Result<(), EngineError> {
    let Inputs {
        source,
        env,
        previous,
        history,
        route,
        labels: inputs_labels,
        sink,
        cancel,
    } = inputs;
    let login = match &source {
        JobSource::Pull { login, .. } => login.clone(),
        _ => None,
    };
    let (image_source, image, resolved) = resolve(app, d, source, steps, sink, cancel).await?;
    d.image = Some(image.clone());
    let container = container_name(&app.name, &d.id);
    d.container = Some(container.clone());
    sink.save(d);
    let observed = observe(
        host,
        app,
        (&container, &image),
        previous.as_ref(),
        history.as_deref(),
    )
    .await?;
    let mut env_keys: Vec<String> = env.iter().map(|(k, _)| k.clone()).collect();
    env_keys.sort();
    let plan = plan_deploy(&PlanInput {
        app,
        deployment_id: &d.id,
        source: image_source,
        image,
        container,
        network: NETWORK,
        env_keys,
        previous: observed.previous,
        leftovers: observed.leftovers,
        previous_workers: observed.previous_workers,
        keep_images: observed.keep_images,
        route,
    });
    tracing::debug!("plan for {} {}:\n{plan}", app.name, d.id);
    let mut apply = Apply {
        host,
        app,
        env,
        labels: inputs_labels,
        sink,
        cancel,
        clock: steps.clock,
        resolved,
        login,
        created: Created::default(),
        new_port: None,
        previous_port: observed.previous_port,
        switched: None,
        activated: false,
    };
    let result = apply_plan(&mut apply, plan, d, steps).await;
    *created = std::mem::take(&mut apply.created);
    result
}

async fn apply_plan(
    apply: &mut Apply<'_>,
    plan: crate::plan::Plan,
    d: &mut Deployment,
    steps: &mut Steps<'_>,
) -> Result<(), EngineError> {
    for planned in plan.actions {
        if !apply.activated && apply.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        steps.enter(planned.step, d);
        let kind = planned.action.kind();
        apply.apply(planned.action, d).await?;
        pause_point(kind, apply.sink).await;
    }
    Ok(())
}

/// Resolves the job's source: the commit to build (and what it is), or the image to reuse.
async fn resolve(
    app: &App,
    d: &mut Deployment,
    source: JobSource,
    steps: &mut Steps<'_>,
    sink: &dyn DeploySink,
    cancel: &CancellationToken,
) -> Result<(ImageSource, String, Option<Resolved>), EngineError> {
    match source {
        JobSource::Git {
            cache_dir,
            images,
            descends_from,
        } => {
            steps.enter(Step::Resolve, d);
            let app2 = app.clone();
            let git_ref = d.git_ref.clone();
            let task = tokio::task::spawn_blocking(move || {
                resolve_blocking(
                    &app2,
                    &git_ref,
                    &cache_dir,
                    &images,
                    descends_from.as_deref(),
                )
            });
            let resolved = cancellable(cancel, async {
                task.await.map_err(|e| EngineError::Task(e.to_string()))?
            })
            .await?;
            let source = resolved_source(app, &resolved, d, sink);
            Ok((source, image_tag(&app.name, &d.id), Some(resolved)))
        }
        JobSource::Snapshot { snapshot, images } => {
            steps.enter(Step::Resolve, d);
            let detected = snapshot.detect(&berth_build::Options::of(app, &images))?;
            let resolved = Resolved {
                commit: snapshot.commit.clone(),
                files: Files::Snapshot(snapshot),
                detected,
                dirty: false,
            };
            let source = resolved_source(app, &resolved, d, sink);
            Ok((source, image_tag(&app.name, &d.id), Some(resolved)))
        }
        JobSource::Image {
            image,
            from_deployment,
            processes,
        } => {
            d.processes = processes.clone();
            Ok((
                ImageSource::Existing {
                    from_deployment,
                    workers: processes,
                },
                image,
                None,
            ))
        }
        JobSource::Pull { reference, .. } => {
            steps.enter(Step::Resolve, d);
            sink.event(DeployEvent::Info {
                message: format!("image {reference}"),
            });
            Ok((
                ImageSource::Pull { reference },
                image_tag(&app.name, &d.id),
                None,
            ))
        }
    }
}

/// What the planner needs from the host.
struct Observed {
    /// The active deployment's container, if it still exists.
    previous: Option<String>,
    previous_port: Option<u16>,
    /// Containers of the app that are neither active nor new (left by an interrupted run).
    leftovers: Vec<String>,
    /// The active deployment's workers.
    previous_workers: Vec<String>,
    /// The images the one retention rule keeps.
    keep_images: Vec<String>,
}

/// Looks at the host: is the active container still there, are there leftovers, which images
/// does the retention rule keep?
async fn observe(
    host: &Host,
    app: &App,
    (container, image): (&str, &str),
    previous: Option<&Deployment>,
    history: Option<&[Deployment]>,
) -> Result<Observed, EngineError> {
    let docker = host.docker();
    let mut previous_port = None;
    let previous_container = match previous.and_then(|p| p.container.clone()) {
        Some(name) => docker.inspect_container(&name).await?.map(|info| {
            previous_port = info.published_port;
            name
        }),
        None => None,
    };
    let previous_workers = match &previous_container {
        Some(web) => crate::power::workers_of(host, &app.name, web).await?,
        None => Vec::new(),
    };
    let leftovers: Vec<String> = docker
        .containers_with_labels(&[(labels::APP, &app.name)])
        .await?
        .into_iter()
        .filter(|c| {
            Some(c) != previous_container.as_ref()
                && c != container
                && !previous_workers.contains(c)
        })
        .collect();
    // Once this deployment is switched to, its image is the serving one.
    let serving = Some(image);
    let keep_images = match history {
        Some(history) => kept_images(serving, history),
        None => {
            let images = docker.app_images(&app.name).await?;
            kept_images_on_host(
                serving,
                images
                    .iter()
                    .filter_map(|i| i.tags.first().map(String::as_str)),
            )
        }
    };
    Ok(Observed {
        previous: previous_container,
        previous_port,
        leftovers,
        previous_workers,
        keep_images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_ids_are_128_random_bits_and_containers_fit_a_dns_label() {
        let a = new_deployment_id();
        assert_eq!(a.len(), 32);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_ne!(a, new_deployment_id());
        // The longest app name (40) still gives a name Docker's DNS serves.
        let name = container_name(&"a".repeat(40), &a);
        assert!(name.len() <= 63, "{name}");
        assert_eq!(name, format!("berth-{}-{}", "a".repeat(40), &a[..12]));
        assert_eq!(container_name("hello", "a1b2c3d4"), "berth-hello-a1b2c3d4");
    }
}
