//! The runner's hands: one function per [`Action`], against Docker and Caddy through the host.
//! Every plan (a deployment, settling an interrupted one) is executed here and nowhere else.

use std::collections::HashMap;

use berth_docker::{ContainerSpec, PortPublish, labels};
use berth_model::{App, DeployEvent, Deployment, DeploymentStatus, HealthCheck};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::health::{HealthReport, wait_healthy, wait_probe};
use crate::host::Host;
use crate::plan::{Action, ContainerPlan, Published, RoutePlan, UpstreamVia};
use crate::run::{Clock, DeploySink, Resolved};

/// What a run created on the host, removed again when it fails: a failed deployment leaves
/// neither a container nor an image behind (so images on a host are those that served).
#[derive(Default)]
pub(crate) struct Created {
    pub(crate) container: Option<String>,
    /// Companion containers (workers) this run created.
    pub(crate) workers: Vec<String>,
    pub(crate) image: Option<String>,
    /// A service's serving container this run stopped before starting its successor: started
    /// again when the run fails.
    pub(crate) stopped_previous: Option<String>,
}

impl Created {
    pub(crate) async fn remove(&self, host: &Host, sink: &dyn DeploySink) {
        let docker = host.docker();
        for name in self.container.iter().chain(&self.workers) {
            if let Err(e) = docker.remove_container(name, true).await {
                warn(sink, format!("could not remove {name}: {e}"));
            }
        }
        if let Some(prev) = &self.stopped_previous {
            match docker.start_container(prev).await {
                Ok(()) => sink.event(DeployEvent::Info {
                    message: format!("{prev} started again: it serves as before"),
                }),
                Err(e) => warn(sink, format!("could not start {prev} again: {e}")),
            }
        }
        // By tag, without force: an image another tag or container still uses stays.
        if let Some(tag) = &self.image
            && let Err(e) = docker.remove_image(tag, false).await
        {
            warn(sink, format!("could not remove the image {tag}: {e}"));
        }
    }
}

/// Executes actions one at a time, keeping what later actions need to know (the new
/// container's published port, the route as it was before the switch, whether the deployment
/// is already active).
pub(crate) struct Apply<'a> {
    pub(crate) host: &'a Host,
    pub(crate) app: &'a App,
    /// Env values, secrets included (a created container gets them).
    pub(crate) env: &'a [(String, String)],
    /// Labels the new container carries besides Berth's own.
    pub(crate) labels: &'a [(String, String)],
    pub(crate) sink: &'a dyn DeploySink,
    pub(crate) cancel: &'a CancellationToken,
    pub(crate) clock: &'a dyn Clock,
    /// The resolved source, taken by the build.
    pub(crate) resolved: Option<Resolved>,
    /// The registry login a pull passes to Docker.
    pub(crate) login: Option<crate::registry::RegistryCredentials>,
    pub(crate) created: Created,
    /// The new container's published port, once healthy.
    pub(crate) new_port: Option<u16>,
    /// The previous container's published port (an adopted Caddy dials it).
    pub(crate) previous_port: Option<u16>,
    /// The route as it was before the switch, to put back if recording the switch fails.
    pub(crate) switched: Option<(RoutePlan, Option<String>)>,
    /// Past this point failures only warn: the new deployment serves.
    pub(crate) activated: bool,
}

impl Apply<'_> {
    /// Runs one action for deployment `d`.
    pub(crate) async fn apply(
        &mut self,
        action: Action,
        d: &mut Deployment,
    ) -> Result<(), EngineError> {
        match action {
            Action::Build {
                tag,
                dockerfile,
                build_args,
                ..
            } => self.build(tag, dockerfile, &build_args, d).await,
            Action::CheckImage {
                image,
                from_deployment,
            } => self.check_image(image, from_deployment).await,
            Action::Pull { reference } => self.pull(reference, d).await,
            Action::Pin { reference, tag } => self.pin(reference, tag, d).await,
            Action::EnsureNetwork { network } => {
                Ok(self.host.docker().ensure_network(&network).await?)
            }
            Action::Release {
                container,
                image,
                network,
                command,
                procfile_line,
            } => {
                let what = match procfile_line {
                    Some(line) => format!("the Procfile's release line (line {line})"),
                    None => "the release command".to_owned(),
                };
                self.release(container, image, network, (command, what))
                    .await
            }
            Action::StopPrevious {
                container,
                grace_secs,
            } => {
                let docker = self.host.docker();
                // Started again on failure only if it ran (a stopped service stays stopped).
                let ran = docker
                    .inspect_container(&container)
                    .await?
                    .is_some_and(|i| i.running);
                docker.stop_container(&container, grace_secs).await?;
                if ran {
                    self.created.stopped_previous = Some(container);
                }
                Ok(())
            }
            Action::Create(c) => self.create(c, d).await,
            Action::Probe {
                container,
                command,
                interval_ms,
                deadline_ms,
            } => {
                self.probe(container, command, interval_ms, deadline_ms)
                    .await
            }
            Action::Start { container } => {
                Ok(self.host.docker().start_container(&container).await?)
            }
            Action::WorkerUp { container, process } => self.worker_up(container, process).await,
            Action::HealthCheck {
                container,
                port,
                health,
            } => self.health_check(container, port, health).await,
            Action::Route {
                route,
                container,
                port,
            } => self.route(route, container, port).await,
            Action::Activate { .. } => self.activate(d).await,
            Action::DrainRequests {
                route,
                container,
                port,
            } => {
                self.drain(route, container, port).await;
                Ok(())
            }
            Action::Stop {
                container,
                grace_secs,
            } => {
                self.stop(container, grace_secs).await;
                Ok(())
            }
            Action::Remove { container } | Action::RemoveLeftover { container } => {
                self.remove(container).await;
                Ok(())
            }
            Action::PruneImages { app, keep } => {
                if let Err(e) = prune_images(self.host, &app, &keep).await {
                    warn(
                        self.sink,
                        format!("could not prune old images of {app}: {e}"),
                    );
                }
                Ok(())
            }
            Action::RemoveImage { image } => {
                if let Err(e) = self.host.docker().remove_image(&image, false).await {
                    warn(
                        self.sink,
                        format!("could not remove the image {image}: {e}"),
                    );
                }
                Ok(())
            }
            Action::DeleteRoute { .. }
            | Action::PurgeImage { .. }
            | Action::PruneBuildCache { .. }
            | Action::Restart { .. }
            | Action::RemoveVolume { .. }
            | Action::PullImage { .. }
            | Action::BuildServiceImage { .. }
            | Action::ReplaceContainer { .. }
            | Action::SetAside { .. }
            | Action::CreateService(_)
            | Action::RunOnce { .. }
            | Action::PutFile { .. }
            | Action::StartService { .. }
            | Action::LoadProxyConfig { .. }
            | Action::PutProxyRoute { .. }
            | Action::WaitReady { .. }
            | Action::Recreate(_) => crate::service::apply_host_action(self.host, action).await,
            Action::MarkInterrupted { .. } => {
                d.status = DeploymentStatus::Interrupted;
                d.error = Some(
                    "the process running it stopped before it finished; what it had started \
                     was removed"
                        .to_owned(),
                );
                d.finished_at.get_or_insert(self.clock.now_ms());
                self.sink.save(d);
                Ok(())
            }
        }
    }

    async fn build(
        &mut self,
        tag: String,
        dockerfile: String,
        build_args: &[String],
        d: &Deployment,
    ) -> Result<(), EngineError> {
        let build_args: HashMap<String, String> = self
            .env
            .iter()
            .filter(|(k, _)| build_args.contains(k))
            .cloned()
            .collect();
        let Some(mut r) = self.resolved.take() else {
            return Err(EngineError::Task("build without a resolved source".into()));
        };
        // Only labels that stay the same for a commit, so a redeploy hits the build cache; the
        // tag names the deployment.
        let mut build_labels = deployment_labels(&self.app.name, &d.id, d.commit.as_deref());
        build_labels.remove(labels::DEPLOYMENT);
        let sink = self.sink;
        let docker = self.host.docker();
        let mut again = true;
        loop {
            // Starting the stream runs git (reading .dockerignore): keep it off the runtime.
            let (back, context) = tokio::task::spawn_blocking(move || {
                let context = r.context();
                (r, context)
            })
            .await
            .map_err(|e| EngineError::Task(e.to_string()))?;
            r = back;
            let context = context?;
            let on_line = |line: &str| {
                sink.event(DeployEvent::BuildLine {
                    line: line.to_owned(),
                })
            };
            let built = cancellable(self.cancel, async {
                docker
                    .build_image(
                        &tag,
                        &dockerfile,
                        (&build_labels, &build_args),
                        context,
                        on_line,
                    )
                    .await
                    .map_err(EngineError::from)
            })
            .await;
            match built {
                // Docker's classic builder shares cached layers between apps: when another
                // deploy on this server removes its old images while this build reuses one of
                // their layers, the step fails though nothing is wrong with this app. Once more
                // finds the cache as it now is.
                Err(EngineError::Docker(e)) if again && e.is_build_cache_race() => {
                    again = false;
                    tracing::warn!("a cached layer was removed during the build: {e}");
                    sink.event(DeployEvent::BuildLine {
                        line: "a cached layer was removed by a concurrent cleanup on the server; \
                               building again"
                            .to_owned(),
                    });
                }
                Err(e) => return Err(e),
                Ok(_) => break,
            }
        }
        self.created.image = Some(tag);
        Ok(())
    }

    /// Pulls an image app's `repository:tag` on the server and records the digest it points to.
    async fn pull(&mut self, reference: String, d: &mut Deployment) -> Result<(), EngineError> {
        self.sink.event(DeployEvent::BuildLine {
            line: format!("pulling {reference} on {}", self.host.name()),
        });
        let facts = cancellable(self.cancel, async {
            crate::images::pull(self.host, &reference, self.login.as_ref()).await
        })
        .await?;
        let image = berth_model::ImageRef::parse(&reference)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let digest = facts.digest_in(&image.repository).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{reference} has no digest from its registry (an image only built or tagged on the server cannot be pinned): push it to the registry and deploy from there"
            ))
        })?;
        self.sink.event(DeployEvent::Info {
            message: format!("{reference} is {digest} ({})", facts.platform),
        });
        d.digest = Some(digest);
        self.sink.save(d);
        Ok(())
    }

    /// Makes the pulled digest the deployment's image `tag` (`berth/<app>:<deployment>`): a
    /// tag of `repo@digest`, so the image is kept, pruned and rolled back to by that tag like
    /// a built one (and a later pull of the tag that moves it leaves this one in place).
    async fn pin(
        &mut self,
        reference: String,
        tag: String,
        d: &Deployment,
    ) -> Result<(), EngineError> {
        let Some(digest) = d.digest.clone() else {
            return Err(EngineError::Task("pin without a pulled digest".into()));
        };
        let image = berth_model::ImageRef::parse(&reference)
            .map_err(|e| EngineError::Invalid(e.to_string()))?;
        let (repo, name) = tag
            .rsplit_once(':')
            .ok_or_else(|| EngineError::Task(format!("`{tag}` is not repo:tag")))?;
        let docker = self.host.docker();
        cancellable(self.cancel, async {
            docker
                .tag_image(&image.pinned(&digest), repo, name)
                .await
                .map_err(EngineError::from)
        })
        .await?;
        self.created.image = Some(tag);
        Ok(())
    }

    async fn check_image(&self, image: String, from_deployment: String) -> Result<(), EngineError> {
        if self.host.docker().image_id(&image).await?.is_none() {
            return Err(EngineError::ImageMissing {
                image,
                deployment: from_deployment,
            });
        }
        Ok(())
    }

    async fn create(&mut self, c: ContainerPlan, d: &Deployment) -> Result<(), EngineError> {
        let spec = ContainerSpec {
            name: c.name.clone(),
            image: c.image,
            env: self.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            labels: {
                let mut l = deployment_labels(&self.app.name, &d.id, d.commit.as_deref());
                l.extend(self.labels.iter().cloned());
                if let Some(process) = &c.process {
                    l.insert(labels::PROCESS.to_owned(), process.clone());
                }
                l
            },
            port: c.port,
            network: c.network,
            cpus: c.cpus,
            memory_bytes: c.memory_bytes,
            volumes: c.volumes,
            stop_grace_secs: c.stop_grace_secs,
            cmd: c.cmd,
            alias: c.alias,
            publish: match c.published {
                Published::Loopback => PortPublish::Loopback,
                Published::LoopbackAt(port) => PortPublish::LoopbackAt(port),
                Published::Private => PortPublish::Private,
            },
        };
        self.host.docker().create_container(&spec).await?;
        if c.process.is_some() {
            self.created.workers.push(c.name);
        } else {
            self.created.container = Some(c.name);
        }
        Ok(())
    }

    /// A worker has no health check: it has to keep running a moment; a worker that exits at
    /// once fails the deploy with its output, before anything switches.
    async fn worker_up(&mut self, container: String, process: String) -> Result<(), EngineError> {
        wait_probe(
            self.host,
            &container,
            None,
            self.app.health.interval_ms,
            self.app.health.deadline_ms,
            self.cancel,
        )
        .await
        .map_err(|e| match e {
            EngineError::NotReady {
                container,
                why,
                logs,
            } => EngineError::WorkerExited {
                process: process.clone(),
                container,
                why,
                logs,
            },
            other => other,
        })?;
        self.host.docker().keep_running(&container).await?;
        self.sink.event(DeployEvent::Info {
            message: format!("{process}: running in {container}"),
        });
        Ok(())
    }

    /// The release command, in its own container from the new image; its output goes to the
    /// deploy log as it comes.
    async fn release(
        &mut self,
        container: String,
        image: String,
        network: String,
        (command, what): (String, String),
    ) -> Result<(), EngineError> {
        let docker = self.host.docker();
        let spec = crate::exec::task_spec(
            ContainerSpec {
                name: container.clone(),
                image,
                env: self.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                labels: Default::default(),
                port: self.app.port,
                network,
                cpus: self.app.limits.cpus,
                memory_bytes: self.app.limits.memory_bytes,
                volumes: self.app.volumes.clone(),
                stop_grace_secs: self.app.stop_grace_secs,
                cmd: None,
                alias: None,
                publish: PortPublish::Private,
            },
            &self.app.name,
            container.clone(),
        );
        // A release container a killed deploy left behind.
        docker.remove_container(&container, true).await?;
        self.sink.event(DeployEvent::Info {
            message: format!("release: running `{command}`"),
        });
        let sink = self.sink;
        let mut tail: std::collections::VecDeque<String> = Default::default();
        let mut partial = String::new();
        let mut on_output = |_stream, bytes: &[u8]| {
            partial.push_str(&String::from_utf8_lossy(bytes));
            while let Some(nl) = partial.find('\n') {
                let line: String = partial.drain(..=nl).collect();
                let line = line.trim_end().to_owned();
                sink.event(DeployEvent::BuildLine { line: line.clone() });
                tail.push_back(line);
                if tail.len() > 20 {
                    tail.pop_front();
                }
            }
        };
        let cmd = ["sh".to_owned(), "-c".to_owned(), command.clone()];
        let ran = cancellable(self.cancel, async {
            Ok(docker.run_task(&spec, &cmd, &mut on_output).await?)
        })
        .await;
        if let Err(e) = docker.remove_container(&container, true).await {
            warn(self.sink, format!("could not remove {container}: {e}"));
        }
        if !partial.trim().is_empty() {
            tail.push_back(partial.trim_end().to_owned());
        }
        match ran? {
            0 => Ok(()),
            status => Err(EngineError::TaskFailed {
                what: format!("run {what} `{command}`"),
                status,
                output: tail.into(),
            }),
        }
    }

    async fn health_check(
        &mut self,
        container: String,
        port: u16,
        health: HealthCheck,
    ) -> Result<(), EngineError> {
        let report: HealthReport =
            wait_healthy(self.host, &container, port, &health, self.cancel).await?;
        self.new_port = Some(report.host_port);
        self.host.docker().keep_running(&container).await?;
        self.sink.event(DeployEvent::Info {
            message: format!(
                "healthy: GET {} answered {} after {} probe(s) in {} ms; published on 127.0.0.1:{}",
                health.path, report.status, report.probes, report.elapsed_ms, report.host_port
            ),
        });
        Ok(())
    }

    /// A service's readiness ([`wait_probe`]); then it is kept running.
    async fn probe(
        &mut self,
        container: String,
        command: Option<Vec<String>>,
        interval_ms: u64,
        deadline_ms: u64,
    ) -> Result<(), EngineError> {
        let started = std::time::Instant::now();
        let probes = wait_probe(
            self.host,
            &container,
            command.as_deref(),
            interval_ms,
            deadline_ms,
            self.cancel,
        )
        .await?;
        self.host.docker().keep_running(&container).await?;
        self.sink.event(DeployEvent::Info {
            message: match &command {
                Some(_) => format!(
                    "ready: its probe passed after {probes} try(s) in {} ms",
                    started.elapsed().as_millis()
                ),
                None => "running (the image has no probe Berth knows)".to_owned(),
            },
        });
        Ok(())
    }

    async fn route(
        &mut self,
        route: RoutePlan,
        container: String,
        port: u16,
    ) -> Result<(), EngineError> {
        let (before, dial) = put_route(self.host, &route, &container, port, self.new_port).await?;
        self.sink.event(DeployEvent::Info {
            message: format!("routed {} to {dial}", route.hosts.join(", ")),
        });
        self.switched = Some((route, before));
        Ok(())
    }

    async fn activate(&mut self, d: &mut Deployment) -> Result<(), EngineError> {
        let status = d.status;
        d.status = DeploymentStatus::Active;
        if let Err(e) = self.sink.activate(d) {
            d.status = status;
            if let Some((route, before)) = self.switched.take() {
                restore_route(self.host, &route, before).await;
            }
            return Err(EngineError::Record(e));
        }
        self.activated = true;
        Ok(())
    }

    async fn drain(&self, route: RoutePlan, container: String, port: u16) {
        let Some(dial) = upstream(route.via, &container, port, self.previous_port) else {
            return;
        };
        let timeout = std::time::Duration::from_secs(u64::from(route.drain_timeout_secs));
        let drained = match self.host.caddy(&route.admin).await {
            Ok(caddy) => caddy
                .drain(&dial, timeout, std::time::Duration::from_millis(50))
                .await
                .map_err(EngineError::from),
            Err(e) => Err(e),
        };
        match drained {
            Ok(0) => {}
            Ok(n) => warn(
                self.sink,
                format!(
                    "{n} request(s) to {container} still in flight after {}s; stopping it anyway",
                    route.drain_timeout_secs
                ),
            ),
            Err(e) => warn(
                self.sink,
                format!("could not watch requests to {container} drain: {e}"),
            ),
        }
    }

    // After the switch, failures only warn: the new deployment is already serving.
    async fn stop(&self, container: String, grace_secs: u32) {
        if let Err(e) = self
            .host
            .docker()
            .stop_container(&container, grace_secs)
            .await
        {
            warn(
                self.sink,
                format!("could not stop the previous container {container}: {e}"),
            );
        }
    }

    async fn remove(&self, container: String) {
        if let Err(e) = self.host.docker().remove_container(&container, true).await {
            warn(self.sink, format!("could not remove {container}: {e}"));
        }
    }
}

/// Points `route` at `container`'s `port` (through the network, or at its published port —
/// `published`, else asked of Docker). Returns the upstream it had before and the new one.
pub(crate) async fn put_route(
    host: &Host,
    route: &RoutePlan,
    container: &str,
    port: u16,
    published: Option<u16>,
) -> Result<(Option<String>, String), EngineError> {
    let caddy = host.caddy(&route.admin).await?;
    let before = caddy.route(&route.id).await?.map(|r| r.upstream);
    let published = match published {
        Some(p) => Some(p),
        None if route.via == UpstreamVia::Loopback => host
            .docker()
            .inspect_container(container)
            .await?
            .and_then(|i| i.published_port),
        None => None,
    };
    let Some(dial) = upstream(route.via, container, port, published) else {
        return Err(EngineError::NoPublishedPort {
            container: container.to_owned(),
            port,
        });
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
    Ok((before, dial))
}

pub(crate) fn deployment_labels(
    app: &str,
    deployment: &str,
    commit: Option<&str>,
) -> HashMap<String, String> {
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

pub(crate) async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    tokio::select! {
        r = fut => r,
        _ = cancel.cancelled() => Err(EngineError::Cancelled),
    }
}

/// The dial address of `container`'s app port as the proxy reaches it.
pub(crate) fn upstream(
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

pub(crate) fn warn(sink: &dyn DeploySink, message: String) {
    tracing::warn!("{message}");
    sink.event(DeployEvent::Info { message });
}

/// Removes this app's images except those in `keep` (tags) and those still used. A pinned
/// image (pulled, tagged `berth/<app>:…`) loses Berth's tags only: its registry tag is the
/// server's to keep.
async fn prune_images(host: &Host, app: &str, keep: &[String]) -> Result<(), EngineError> {
    let docker = host.docker();
    let images = docker.app_images(app).await?;
    let keep_ids: Vec<String> = images
        .iter()
        .filter(|i| i.tags.iter().any(|t| keep.contains(t)))
        .map(|i| i.id.clone())
        .collect();
    for image in images {
        if keep_ids.contains(&image.id) {
            continue;
        }
        for name in crate::removal::removable(app, &image) {
            let removed = docker.remove_image(&name, false).await?;
            tracing::debug!(image = %name, removed, "pruned image");
        }
    }
    Ok(())
}

/// A test hook in debug builds: with `BERTH_PAUSE_AFTER=<action>` (`start`, `route`,
/// `activate`, …) the process says so on its progress stream and waits forever after that
/// action, so an end-to-end test can kill it at that exact point. Release builds have no hook.
pub(crate) async fn pause_point(action: &str, sink: &dyn DeploySink) {
    #[cfg(debug_assertions)]
    if std::env::var("BERTH_PAUSE_AFTER").is_ok_and(|a| a == action) {
        sink.event(DeployEvent::Info {
            message: format!("paused after {action} (BERTH_PAUSE_AFTER)"),
        });
        std::future::pending::<()>().await;
    }
    #[cfg(not(debug_assertions))]
    let _ = (action, sink);
}
