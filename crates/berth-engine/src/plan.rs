//! Deploy plans as data: a pure function turns the desired app and what was observed on the
//! host into an ordered list of steps; the runner executes them. Plans render as text (no
//! secret values: env vars appear by key only) and are unit-tested as such.

use std::fmt;

use berth_model::size::format_memory;
use berth_model::{App, HealthCheck, ProcessSpec, Step, Volume};

/// Where the image of a deployment comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Build the commit into a new image.
    Build {
        commit: String,
        runtime: String,
        dockerfile: String,
        /// Env keys passed to the build as build args (values are not part of a plan).
        build_args: Vec<String>,
        /// The commit's Procfile `release` line and its number (the app's release command
        /// wins over it).
        release: Option<(String, usize)>,
        /// The commit's Procfile process types that run beside `web`.
        workers: Vec<ProcessSpec>,
    },
    /// Reuse an image already on the server (rollback, restart), with the processes that
    /// deployment ran beside its web container.
    Existing {
        from_deployment: String,
        workers: Vec<ProcessSpec>,
    },
    /// Pull an image app's `repository:tag` on the server and pin the digest it points to.
    Pull { reference: String },
}

/// The container a deployment creates, without env values.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerPlan {
    pub name: String,
    pub image: String,
    pub port: u16,
    pub network: String,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub volumes: Vec<Volume>,
    pub env_keys: Vec<String>,
    pub stop_grace_secs: u32,
    /// The command instead of the image's (a service kind's).
    pub cmd: Option<Vec<String>>,
    /// The name it answers to on its network (a service's own name).
    pub alias: Option<String>,
    pub published: Published,
    /// A companion's process type (`None`: the app's web container or a service).
    pub process: Option<String>,
}

/// Where a new container's port is published on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// `127.0.0.1` at a port Docker picks (apps: health checks and routes reach it there).
    Loopback,
    /// `127.0.0.1` at this port (a service published on purpose).
    LoopbackAt(u16),
    /// Not at all: only its network reaches it (a service).
    Private,
}

/// How the proxy reaches an app container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamVia {
    /// `<container>:<port>` on the `berth` network (Berth's own Caddy container).
    Network,
    /// `127.0.0.1:<published port>` (an adopted Caddy running on the host).
    Loopback,
}

/// The app's route through the server's proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePlan {
    /// Caddy's admin endpoint (`unix:/path`, `127.0.0.1:2019`).
    pub admin: String,
    /// The Caddy HTTP server holding Berth's routes.
    pub server: String,
    /// The route's `@id`.
    pub id: String,
    pub hosts: Vec<String>,
    pub via: UpstreamVia,
    pub drain_timeout_secs: u32,
}

/// One thing the runner does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Build {
        commit: String,
        runtime: String,
        dockerfile: String,
        tag: String,
        /// Env keys passed as build args.
        build_args: Vec<String>,
    },
    CheckImage {
        image: String,
        from_deployment: String,
    },
    /// Pull an image app's `repository:tag` on the server and record the digest it points to.
    Pull {
        reference: String,
    },
    /// Make the pulled digest the deployment's image `tag` (labelled like a built one, so
    /// retention and rollback treat both alike).
    Pin {
        reference: String,
        tag: String,
    },
    EnsureNetwork {
        network: String,
    },
    /// Run the app's release command in a new container from the new image (its env, network
    /// and volumes), removed after; anything but exit 0 fails the deploy before the switch.
    Release {
        container: String,
        image: String,
        network: String,
        command: String,
        /// The Procfile line it comes from (`None`: the app's release command).
        procfile_line: Option<usize>,
    },
    /// Stop a service's serving container before its successor starts (one container owns
    /// the data at a time); started again if the deploy fails.
    StopPrevious {
        container: String,
        grace_secs: u32,
    },
    Create(ContainerPlan),
    Start {
        container: String,
    },
    /// A companion process has to keep running a moment (it has no HTTP health check); then
    /// Docker restarts it when it dies.
    WorkerUp {
        container: String,
        process: String,
    },
    HealthCheck {
        container: String,
        port: u16,
        health: HealthCheck,
    },
    /// Run a service's readiness probe inside it until it exits 0 (`None`: the container
    /// only has to keep running a moment), then keep it running.
    Probe {
        container: String,
        command: Option<Vec<String>>,
        interval_ms: u64,
        deadline_ms: u64,
    },
    /// Point the app's route at the new container (in place, by `@id`).
    Route {
        route: RoutePlan,
        container: String,
        port: u16,
    },
    Activate {
        deployment: String,
    },
    /// Wait until the proxy has no request in flight to the old container.
    DrainRequests {
        route: RoutePlan,
        container: String,
        port: u16,
    },
    Stop {
        container: String,
        grace_secs: u32,
    },
    Remove {
        container: String,
    },
    RemoveLeftover {
        container: String,
    },
    PruneImages {
        app: String,
        keep: Vec<String>,
    },
    /// Remove one image (what an interrupted deployment built).
    RemoveImage {
        image: String,
    },
    /// Record that the deployment's driver stopped before it finished.
    MarkInterrupted {
        deployment: String,
    },
    /// Pull a service's image.
    PullImage {
        image: String,
    },
    /// Build a service's image from a context Berth sends.
    BuildServiceImage {
        tag: String,
        labels: std::collections::HashMap<String, String>,
        context: Vec<u8>,
    },
    /// Remove a service's container, if there is one, to create it anew.
    ReplaceContainer {
        container: String,
    },
    /// Stop a service's running container and rename it `aside`: it comes back if its
    /// successor does not answer.
    SetAside {
        container: String,
        aside: String,
    },
    CreateService(Box<berth_docker::ServiceSpec>),
    /// Run a one-shot task to its end (`what` it does, in words); fails unless it exits 0.
    RunOnce {
        spec: Box<berth_docker::ServiceSpec>,
        what: String,
    },
    /// Put a file into a created container.
    PutFile {
        container: String,
        dir: String,
        name: String,
        bytes: Vec<u8>,
        mode: u32,
    },
    /// Start a service container; `hint` says what to check when it does not start.
    StartService {
        container: String,
        hint: String,
    },
    /// Delete a route from the proxy (the app has no names, nothing serves, or it is removed).
    DeleteRoute {
        admin: String,
        id: String,
    },
    /// Remove an image by id, even if tagged more than once (purging an app).
    PurgeImage {
        image: String,
    },
    /// Restart a container in place (the monitor, for a hung app): SIGTERM, SIGKILL after
    /// `grace_secs`, start again.
    Restart {
        container: String,
        grace_secs: u32,
    },
    /// Remove the build cache no build uses (`bytes` of it, as observed).
    PruneBuildCache {
        bytes: u64,
    },
    /// Remove a named volume and the data in it (purging an app).
    RemoveVolume {
        volume: String,
    },
    /// Load Berth's whole config into a Caddy it runs (its routes included).
    LoadProxyConfig {
        admin: String,
        config: serde_json::Value,
        routes: usize,
    },
    /// Put a route with a fixed upstream into the proxy (an adopted Caddy, the hooks domain).
    PutProxyRoute {
        admin: String,
        server: String,
        route: berth_proxy::Route,
    },
    /// Wait until a service answers.
    WaitReady {
        container: String,
        what: String,
        ready: crate::service::Readiness,
    },
    /// Create an app's serving container again as it was created (the relay's reconcile, for
    /// one removed behind Berth's back); not started.
    Recreate(Box<crate::reconcile::Kept>),
}

impl Action {
    /// A short name of what the action does (`build`, `route`, `activate`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Build { .. } => "build",
            Action::CheckImage { .. } => "check-image",
            Action::Pull { .. } => "pull",
            Action::Pin { .. } => "pin",
            Action::EnsureNetwork { .. } => "ensure-network",
            Action::Release { .. } => "release",
            Action::StopPrevious { .. } => "stop-previous",
            Action::Create(_) => "create",
            Action::Start { .. } => "start",
            Action::WorkerUp { .. } => "worker-up",
            Action::HealthCheck { .. } => "health-check",
            Action::Probe { .. } => "probe",
            Action::Route { .. } => "route",
            Action::Activate { .. } => "activate",
            Action::DrainRequests { .. } => "drain",
            Action::Stop { .. } => "stop",
            Action::Remove { .. } => "remove",
            Action::RemoveLeftover { .. } => "remove-leftover",
            Action::PruneImages { .. } => "prune-images",
            Action::RemoveImage { .. } => "remove-image",
            Action::MarkInterrupted { .. } => "mark-interrupted",
            Action::PullImage { .. } => "pull-image",
            Action::BuildServiceImage { .. } => "build-image",
            Action::ReplaceContainer { .. } => "replace-container",
            Action::SetAside { .. } => "set-aside",
            Action::CreateService(_) => "create-service",
            Action::RunOnce { .. } => "run-once",
            Action::PutFile { .. } => "put-file",
            Action::StartService { .. } => "start-service",
            Action::WaitReady { .. } => "wait-ready",
            Action::PurgeImage { .. } => "purge-image",
            Action::PruneBuildCache { .. } => "prune-build-cache",
            Action::Restart { .. } => "restart",
            Action::DeleteRoute { .. } => "delete-route",
            Action::RemoveVolume { .. } => "remove-volume",
            Action::LoadProxyConfig { .. } => "load-proxy-config",
            Action::PutProxyRoute { .. } => "put-proxy-route",
            Action::Recreate(_) => "recreate",
        }
    }
}

/// A step of the plan: which pipeline step it belongs to and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedAction {
    pub step: Step,
    pub action: Action,
}

/// The whole plan of one deployment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<PlannedAction>,
}

/// What the planner needs to know.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub app: &'a App,
    pub deployment_id: &'a str,
    pub source: ImageSource,
    /// The image the new container runs.
    pub image: String,
    pub container: String,
    pub network: &'a str,
    pub env_keys: Vec<String>,
    /// The active deployment's container, if it still exists on the host.
    pub previous: Option<String>,
    /// Containers of this app that are neither active nor new (left by an interrupted run).
    pub leftovers: Vec<String>,
    /// The active deployment's companion containers (its workers), stopped after the switch.
    pub previous_workers: Vec<String>,
    /// Images to keep when pruning (the new one is always kept).
    pub keep_images: Vec<String>,
    /// The route to switch, when the server has a proxy and the app has domains.
    pub route: Option<RoutePlan>,
}

/// Plans a deployment.
pub fn plan_deploy(input: &PlanInput<'_>) -> Plan {
    let mut actions = Vec::new();
    let mut push = |step, action| actions.push(PlannedAction { step, action });
    match &input.source {
        ImageSource::Build {
            commit,
            runtime,
            dockerfile,
            build_args,
            ..
        } => push(
            Step::Build,
            Action::Build {
                commit: commit.clone(),
                runtime: runtime.clone(),
                dockerfile: dockerfile.clone(),
                tag: input.image.clone(),
                build_args: build_args.clone(),
            },
        ),
        ImageSource::Existing {
            from_deployment, ..
        } => push(
            Step::Build,
            Action::CheckImage {
                image: input.image.clone(),
                from_deployment: from_deployment.clone(),
            },
        ),
        ImageSource::Pull { reference } => {
            push(
                Step::Resolve,
                Action::Pull {
                    reference: reference.clone(),
                },
            );
            push(
                Step::Build,
                Action::Pin {
                    reference: reference.clone(),
                    tag: input.image.clone(),
                },
            );
        }
    }
    push(
        Step::Start,
        Action::EnsureNetwork {
            network: input.network.to_owned(),
        },
    );
    let app = input.app;
    // A new image only: a rollback or a restart runs what already ran its release. The app's
    // release command wins over a Procfile's.
    let own = app.release_command.clone().map(|c| (c, None));
    let release = match &input.source {
        ImageSource::Existing { .. } => None,
        ImageSource::Build { release, .. } => {
            own.or_else(|| release.clone().map(|(c, line)| (c, Some(line))))
        }
        ImageSource::Pull { .. } => own,
    };
    if let Some((command, procfile_line)) = release {
        push(
            Step::Start,
            Action::Release {
                container: format!("{}-release", input.container),
                image: input.image.clone(),
                network: input.network.to_owned(),
                command,
                procfile_line,
            },
        );
    }
    // A service's data belongs to one container at a time: the old one stops first.
    let service = app.service;
    if let (Some(_), Some(prev)) = (service, &input.previous) {
        push(
            Step::Start,
            Action::StopPrevious {
                container: prev.clone(),
                grace_secs: app.stop_grace_secs,
            },
        );
    }
    let web = ContainerPlan {
        name: input.container.clone(),
        image: input.image.clone(),
        port: app.port,
        network: input.network.to_owned(),
        cpus: app.limits.cpus,
        memory_bytes: app.limits.memory_bytes,
        volumes: app.volumes.clone(),
        env_keys: input.env_keys.clone(),
        stop_grace_secs: app.stop_grace_secs,
        cmd: match service {
            Some(kind) => kind.command(),
            None => app.start_argv(),
        },
        alias: service.map(|_| app.name.clone()),
        published: match (service, app.publish) {
            (None, _) => Published::Loopback,
            (Some(_), Some(port)) => Published::LoopbackAt(port),
            (Some(_), None) => Published::Private,
        },
        process: None,
    };
    push(Step::Start, Action::Create(web.clone()));
    push(
        Step::Start,
        Action::Start {
            container: input.container.clone(),
        },
    );
    // Workers run like the web container — same image, env, network, limits and volumes —
    // but are never routed or published; a rollback or restart runs the ones its deployment
    // ran.
    let workers: &[ProcessSpec] = match &input.source {
        ImageSource::Build { workers, .. } | ImageSource::Existing { workers, .. } => workers,
        ImageSource::Pull { .. } => &[],
    };
    for w in workers.iter().filter(|_| service.is_none()) {
        let name = w.container(&input.container);
        push(
            Step::Start,
            Action::Create(ContainerPlan {
                name: name.clone(),
                cmd: Some(w.argv()),
                alias: None,
                published: Published::Private,
                process: Some(w.name.clone()),
                ..web.clone()
            }),
        );
        push(Step::Start, Action::Start { container: name });
    }
    push(Step::HealthCheck, readiness(app, &input.container));
    for w in workers.iter().filter(|_| service.is_none()) {
        push(
            Step::HealthCheck,
            Action::WorkerUp {
                container: w.container(&input.container),
                process: w.name.clone(),
            },
        );
    }
    if let Some(route) = &input.route {
        push(
            Step::Switch,
            Action::Route {
                route: route.clone(),
                container: input.container.clone(),
                port: app.port,
            },
        );
    }
    push(
        Step::Switch,
        Action::Activate {
            deployment: input.deployment_id.to_owned(),
        },
    );
    if let Some(prev) = &input.previous {
        if let Some(route) = &input.route {
            push(
                Step::Drain,
                Action::DrainRequests {
                    route: route.clone(),
                    container: prev.clone(),
                    port: app.port,
                },
            );
        }
        if service.is_none() {
            push(
                Step::Drain,
                Action::Stop {
                    container: prev.clone(),
                    grace_secs: app.stop_grace_secs,
                },
            );
        }
        push(
            Step::Drain,
            Action::Remove {
                container: prev.clone(),
            },
        );
    }
    for worker in &input.previous_workers {
        push(
            Step::Drain,
            Action::Stop {
                container: worker.clone(),
                grace_secs: app.stop_grace_secs,
            },
        );
        push(
            Step::Drain,
            Action::Remove {
                container: worker.clone(),
            },
        );
    }
    for leftover in &input.leftovers {
        push(
            Step::Cleanup,
            Action::RemoveLeftover {
                container: leftover.clone(),
            },
        );
    }
    let mut keep = vec![input.image.clone()];
    for image in &input.keep_images {
        if !keep.contains(image) {
            keep.push(image.clone());
        }
    }
    push(
        Step::Cleanup,
        Action::PruneImages {
            app: app.name.clone(),
            keep,
        },
    );
    Plan { actions }
}

/// How `container` of `app` shows it is up: an app answers its health path over HTTP; a
/// service passes its kind's probe inside its container.
pub fn readiness(app: &App, container: &str) -> Action {
    match app.service {
        Some(kind) => Action::Probe {
            container: container.to_owned(),
            command: kind.probe(),
            interval_ms: app.health.interval_ms,
            deadline_ms: app.health.deadline_ms,
        },
        None => Action::HealthCheck {
            container: container.to_owned(),
            port: app.port,
            health: app.health.clone(),
        },
    }
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Build {
                commit,
                runtime,
                dockerfile,
                tag,
                build_args,
            } => {
                write!(
                    f,
                    "build commit {} ({runtime}, {dockerfile}) as {tag}",
                    &commit[..commit.len().min(7)]
                )?;
                if !build_args.is_empty() {
                    write!(f, " with build args {}", build_args.join(", "))?;
                }
                Ok(())
            }
            Action::CheckImage {
                image,
                from_deployment,
            } => write!(f, "reuse image {image} of deployment {from_deployment}"),
            Action::Pull { reference } => write!(f, "pull {reference} and note its digest"),
            Action::Pin { reference, tag } => {
                write!(f, "pin the digest {reference} pointed to as {tag}")
            }
            Action::EnsureNetwork { network } => write!(f, "ensure network {network}"),
            Action::Create(c) => {
                write!(f, "create {} from {} on {}", c.name, c.image, c.network)?;
                if let Some(process) = &c.process {
                    write!(f, " as its {process} process")?;
                }
                if let Some(alias) = &c.alias {
                    write!(f, " as {alias}")?;
                }
                match c.published {
                    Published::Loopback => write!(f, ", port {} published on 127.0.0.1", c.port)?,
                    Published::LoopbackAt(at) => {
                        write!(f, ", port {} published on 127.0.0.1:{at}", c.port)?
                    }
                    Published::Private => write!(f, ", port {} not published", c.port)?,
                }
                if let Some(cmd) = &c.cmd {
                    write!(f, ", command `{}`", cmd.join(" "))?;
                }
                if let Some(cpus) = c.cpus {
                    write!(f, ", cpus {cpus}")?;
                }
                if let Some(m) = c.memory_bytes {
                    write!(f, ", memory {}", format_memory(m))?;
                }
                if !c.env_keys.is_empty() {
                    write!(f, ", env {}", c.env_keys.join(" "))?;
                }
                if !c.volumes.is_empty() {
                    let v: Vec<String> = c.volumes.iter().map(Volume::to_string).collect();
                    write!(f, ", volumes {}", v.join(" "))?;
                }
                Ok(())
            }
            Action::Release {
                container,
                image,
                command,
                procfile_line,
                ..
            } => {
                write!(f, "run `{command}`")?;
                if let Some(line) = procfile_line {
                    write!(f, " (Procfile line {line})")?;
                }
                write!(f, " in {container} from {image}, then remove it")
            }
            Action::StopPrevious {
                container,
                grace_secs,
            } => write!(
                f,
                "stop {container} (grace {grace_secs}s; started again if this deploy fails)"
            ),
            Action::Start { container } => write!(f, "start {container}"),
            Action::WorkerUp { container, process } => {
                write!(f, "{process} keeps running in {container}")
            }
            Action::Probe {
                container,
                command,
                interval_ms,
                deadline_ms,
            } => match command {
                Some(cmd) => write!(
                    f,
                    "run `{}` in {container} every {} until it exits 0 (deadline {})",
                    cmd.last().map_or("", String::as_str),
                    secs(*interval_ms),
                    secs(*deadline_ms)
                ),
                None => write!(f, "check {container} keeps running"),
            },
            Action::HealthCheck {
                container,
                port,
                health,
            } => write!(
                f,
                "GET {} on {container}:{port} every {} until 2xx/3xx (timeout {}, deadline {})",
                health.path,
                secs(health.interval_ms),
                secs(health.timeout_ms),
                secs(health.deadline_ms)
            ),
            Action::Route {
                route,
                container,
                port,
            } => {
                let upstream = match route.via {
                    UpstreamVia::Network => format!("{container}:{port}"),
                    UpstreamVia::Loopback => format!("127.0.0.1:<published port of {container}>"),
                };
                write!(
                    f,
                    "route {} to {upstream} (caddy route {})",
                    route.hosts.join(" "),
                    route.id
                )
            }
            Action::DrainRequests {
                route, container, ..
            } => write!(
                f,
                "wait until no request is in flight to {container} (at most {}s)",
                route.drain_timeout_secs
            ),
            Action::Activate { deployment } => write!(f, "make deployment {deployment} active"),
            Action::Stop {
                container,
                grace_secs,
            } => write!(f, "stop {container} (grace {grace_secs}s)"),
            Action::Remove { container } => write!(f, "remove {container}"),
            Action::RemoveLeftover { container } => {
                write!(f, "remove leftover container {container}")
            }
            Action::PruneImages { app, keep } => {
                write!(f, "prune images of {app}, keeping {}", keep.join(" "))
            }
            Action::RemoveImage { image } => write!(f, "remove image {image}"),
            Action::MarkInterrupted { deployment } => {
                write!(f, "record deployment {deployment} as interrupted")
            }
            Action::PullImage { image } => write!(f, "pull image {image}"),
            Action::BuildServiceImage { tag, context, .. } => write!(
                f,
                "build image {tag} from the context Berth sends ({} bytes)",
                context.len()
            ),
            Action::ReplaceContainer { container } => write!(
                f,
                "remove the container {container} if there is one (its volumes stay)"
            ),
            Action::Recreate(kept) => write!(
                f,
                "create {} again from {} as deployment {} ran it",
                kept.spec.name, kept.spec.image, kept.deployment
            ),
            Action::SetAside { container, aside } => write!(
                f,
                "stop {container} and keep it as {aside} until its successor answers"
            ),
            Action::RunOnce { spec, what } => {
                write!(f, "{what} (once, from {}", spec.image)?;
                if let Some(user) = &spec.user {
                    write!(f, ", as {user}")?;
                }
                if !spec.cap_add.is_empty() {
                    write!(f, ", with only {}", spec.cap_add.join(" "))?;
                }
                write!(f, ")")
            }
            Action::CreateService(spec) => {
                let publish: Vec<String> = spec
                    .publish
                    .iter()
                    .map(|p| format!("{}:{}→{}", p.host_ip, p.host_port, p.container_port))
                    .collect();
                write!(f, "create {} from {}", spec.name, spec.image)?;
                let mut details = Vec::new();
                if !publish.is_empty() {
                    details.push(format!("publishing {}", publish.join(" ")));
                }
                if !spec.binds.is_empty() {
                    details.push(format!("mounts {}", spec.binds.join(" ")));
                }
                if spec.confined {
                    details.push(
                        "no capabilities, no new privileges, read-only root filesystem".to_owned(),
                    );
                }
                if let Some(user) = &spec.user {
                    details.push(format!("as {user}"));
                }
                if !spec.sysctls.is_empty() {
                    let set: Vec<String> = spec
                        .sysctls
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    details.push(format!("sets {}", set.join(" ")));
                }
                if !details.is_empty() {
                    write!(f, " ({})", details.join("; "))?;
                }
                Ok(())
            }
            Action::PutFile {
                container,
                dir,
                name,
                bytes,
                ..
            } => write!(
                f,
                "put {dir}/{name} ({} bytes) into {container}",
                bytes.len()
            ),
            Action::StartService { container, .. } => write!(f, "start {container}"),
            Action::PurgeImage { image } => write!(f, "remove image {image} (purge)"),
            Action::PruneBuildCache { bytes } => write!(
                f,
                "remove the build cache no build uses ({})",
                berth_model::format::bytes(*bytes)
            ),
            Action::Restart {
                container,
                grace_secs,
            } => write!(f, "restart {container} (grace {grace_secs}s)"),
            Action::DeleteRoute { id, .. } => write!(f, "delete caddy route {id}"),
            Action::RemoveVolume { volume } => write!(f, "remove volume {volume} and its data"),
            Action::LoadProxyConfig { admin, routes, .. } => write!(
                f,
                "load Berth's config ({routes} route{}) into the Caddy at {admin}",
                if *routes == 1 { "" } else { "s" }
            ),
            Action::PutProxyRoute { server, route, .. } => write!(
                f,
                "route {} to {} (caddy route {} in server {server})",
                route.hosts.join(" "),
                route.upstream,
                route.id
            ),
            Action::WaitReady { what, ready, .. } => match ready {
                crate::service::Readiness::CaddyAdmin { admin } => {
                    write!(f, "wait until {what} answers on {admin}")
                }
                crate::service::Readiness::Http { socket, .. } => {
                    write!(f, "wait until {what} answers on {socket}")
                }
            },
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.actions {
            writeln!(f, "{:<13}{}", a.step.as_str(), a.action)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::AppDraft;
    use expect_test::expect;

    fn app() -> App {
        AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            health_path: Some("/healthz".into()),
            cpus: Some(0.5),
            memory_bytes: Some(256 << 20),
            volumes: vec![Volume::parse("data:/data").unwrap()],
            ..AppDraft::default()
        }
        .validate(0)
        .unwrap()
    }

    #[test]
    fn first_deploy_builds_starts_checks_and_switches() {
        let app = app();
        let plan = plan_deploy(&PlanInput {
            app: &app,
            deployment_id: "a1b2c3d4",
            source: ImageSource::Build {
                commit: "0123456789abcdef0123456789abcdef01234567".into(),
                runtime: "dockerfile".into(),
                dockerfile: "Dockerfile".into(),
                build_args: Vec::new(),
                release: None,
                workers: vec![],
            },
            image: "berth/hello:a1b2c3d4".into(),
            container: "berth-hello-a1b2c3d4".into(),
            network: "berth",
            env_keys: vec!["GREETING".into()],
            previous: None,
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec![],
            route: None,
        });
        expect![[r#"
            build        build commit 0123456 (dockerfile, Dockerfile) as berth/hello:a1b2c3d4
            start        ensure network berth
            start        create berth-hello-a1b2c3d4 from berth/hello:a1b2c3d4 on berth, port 8080 published on 127.0.0.1, cpus 0.5, memory 256m, env GREETING, volumes data:/data
            start        start berth-hello-a1b2c3d4
            health-check GET /healthz on berth-hello-a1b2c3d4:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            switch       make deployment a1b2c3d4 active
            cleanup      prune images of hello, keeping berth/hello:a1b2c3d4
        "#]]
        .assert_eq(&plan.to_string());
    }

    #[test]
    fn an_image_app_pulls_its_tag_and_runs_the_pinned_digest() {
        let app = AppDraft {
            name: "web".into(),
            server: "prod".into(),
            image: Some("127.0.0.1:5000/acme/web:1.4.0".into()),
            health_path: Some("/healthz".into()),
            ..AppDraft::default()
        }
        .validate(0)
        .unwrap();
        let plan = plan_deploy(&PlanInput {
            app: &app,
            deployment_id: "c0ffee00",
            source: ImageSource::Pull {
                reference: "127.0.0.1:5000/acme/web:1.4.1".into(),
            },
            image: "berth/web:c0ffee00".into(),
            container: "berth-web-c0ffee00".into(),
            network: "berth",
            env_keys: vec![],
            previous: Some("berth-web-a1b2c3d4".into()),
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec!["berth/web:a1b2c3d4".into()],
            route: None,
        });
        expect![[r#"
            resolve      pull 127.0.0.1:5000/acme/web:1.4.1 and note its digest
            build        pin the digest 127.0.0.1:5000/acme/web:1.4.1 pointed to as berth/web:c0ffee00
            start        ensure network berth
            start        create berth-web-c0ffee00 from berth/web:c0ffee00 on berth, port 8080 published on 127.0.0.1
            start        start berth-web-c0ffee00
            health-check GET /healthz on berth-web-c0ffee00:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            switch       make deployment c0ffee00 active
            drain        stop berth-web-a1b2c3d4 (grace 10s)
            drain        remove berth-web-a1b2c3d4
            cleanup      prune images of web, keeping berth/web:c0ffee00 berth/web:a1b2c3d4
        "#]]
        .assert_eq(&plan.to_string());
    }

    #[test]
    fn redeploy_drains_the_old_container_after_the_switch() {
        let app = app();
        let plan = plan_deploy(&PlanInput {
            app: &app,
            deployment_id: "e5f6a7b8",
            source: ImageSource::Build {
                commit: "fedcba9876543210fedcba9876543210fedcba98".into(),
                runtime: "go".into(),
                dockerfile: ".berth/Dockerfile".into(),
                build_args: Vec::new(),
                release: None,
                workers: vec![],
            },
            image: "berth/hello:e5f6a7b8".into(),
            container: "berth-hello-e5f6a7b8".into(),
            network: "berth",
            env_keys: vec![],
            previous: Some("berth-hello-a1b2c3d4".into()),
            leftovers: vec!["berth-hello-99999999".into()],
            previous_workers: vec![],
            keep_images: vec!["berth/hello:a1b2c3d4".into()],
            route: None,
        });
        let text = plan.to_string();
        let order: Vec<&str> = text
            .lines()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "build",
                "start",
                "start",
                "start",
                "health-check",
                "switch",
                "drain",
                "drain",
                "cleanup",
                "cleanup"
            ]
        );
        expect![[r#"
            drain        stop berth-hello-a1b2c3d4 (grace 10s)
            drain        remove berth-hello-a1b2c3d4
            cleanup      remove leftover container berth-hello-99999999
            cleanup      prune images of hello, keeping berth/hello:e5f6a7b8 berth/hello:a1b2c3d4
        "#]]
        .assert_eq(
            &text
                .lines()
                .skip(6)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        );
    }

    #[test]
    fn rollback_reuses_the_image_without_building() {
        let app = app();
        let plan = plan_deploy(&PlanInput {
            app: &app,
            deployment_id: "c0ffee00",
            source: ImageSource::Existing {
                from_deployment: "a1b2c3d4".into(),
                workers: vec![],
            },
            image: "berth/hello:a1b2c3d4".into(),
            container: "berth-hello-c0ffee00".into(),
            network: "berth",
            env_keys: vec![],
            previous: Some("berth-hello-e5f6a7b8".into()),
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec!["berth/hello:e5f6a7b8".into()],
            route: None,
        });
        assert!(
            !plan
                .actions
                .iter()
                .any(|a| matches!(a.action, Action::Build { .. }))
        );
        expect![[r#"
            build        reuse image berth/hello:a1b2c3d4 of deployment a1b2c3d4
        "#]]
        .assert_eq(&format!("{}\n", plan.to_string().lines().next().unwrap()));
    }

    #[test]
    fn a_service_stops_its_old_container_first_and_is_probed_inside_not_routed() {
        let db = berth_model::ServiceDraft {
            name: "db".into(),
            server: "prod".into(),
            kind: "postgres".into(),
            ..Default::default()
        }
        .validate(0)
        .unwrap();
        let input = PlanInput {
            app: &db,
            deployment_id: "c0ffee00",
            source: ImageSource::Pull {
                reference: "postgres:16".into(),
            },
            image: "postgres@sha256:abc".into(),
            container: "berth-db-c0ffee00".into(),
            network: "berth",
            env_keys: vec!["POSTGRES_DB".into(), "POSTGRES_PASSWORD".into()],
            previous: Some("berth-db-e5f6a7b8".into()),
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec![],
            route: None,
        };
        expect![[r#"
            resolve      pull postgres:16 and note its digest
            build        pin the digest postgres:16 pointed to as postgres@sha256:abc
            start        ensure network berth
            start        stop berth-db-e5f6a7b8 (grace 30s; started again if this deploy fails)
            start        create berth-db-c0ffee00 from postgres@sha256:abc on berth as db, port 5432 not published, env POSTGRES_DB POSTGRES_PASSWORD, volumes berth-db-data:/var/lib/postgresql/data
            start        start berth-db-c0ffee00
            health-check run `pg_isready -q -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"` in berth-db-c0ffee00 every 500ms until it exits 0 (deadline 120s)
            switch       make deployment c0ffee00 active
            drain        remove berth-db-e5f6a7b8
            cleanup      prune images of db, keeping postgres@sha256:abc
        "#]]
        .assert_eq(&plan_deploy(&input).to_string());
        let published = berth_model::App {
            publish: Some(15432),
            ..db.clone()
        };
        let plan = plan_deploy(&PlanInput {
            app: &published,
            previous: None,
            ..input.clone()
        })
        .to_string();
        assert!(
            plan.contains("port 5432 published on 127.0.0.1:15432"),
            "{plan}"
        );
        assert!(!plan.contains("stop "), "nothing to stop: {plan}");
    }

    #[test]
    fn a_release_command_runs_from_the_new_image_before_anything_is_created() {
        let mut app = app();
        app.release_command = Some("bin/migrate".into());
        let input = PlanInput {
            app: &app,
            deployment_id: "c0ffee00",
            source: ImageSource::Build {
                commit: "a1b2c3d4".into(),
                runtime: "dockerfile".into(),
                dockerfile: "Dockerfile".into(),
                build_args: Vec::new(),
                release: None,
                workers: vec![],
            },
            image: "berth/hello:a1b2c3d4".into(),
            container: "berth-hello-c0ffee00".into(),
            network: "berth",
            env_keys: vec![],
            previous: Some("berth-hello-e5f6a7b8".into()),
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec![],
            route: None,
        };
        let plan = plan_deploy(&input);
        let rollback = plan_deploy(&PlanInput {
            source: ImageSource::Existing {
                from_deployment: "a1b2c3d4".into(),
                workers: vec![],
            },
            ..input.clone()
        });
        assert!(
            !rollback
                .actions
                .iter()
                .any(|a| matches!(a.action, Action::Release { .. })),
            "a rollback or restart does not run it again"
        );
        expect![[r#"
            build        build commit a1b2c3d (dockerfile, Dockerfile) as berth/hello:a1b2c3d4
            start        ensure network berth
            start        run `bin/migrate` in berth-hello-c0ffee00-release from berth/hello:a1b2c3d4, then remove it
            start        create berth-hello-c0ffee00 from berth/hello:a1b2c3d4 on berth, port 8080 published on 127.0.0.1, cpus 0.5, memory 256m, volumes data:/data
        "#]].assert_eq(
            &plan
                .to_string()
                .lines()
                .take(4)
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
        );
    }

    #[test]
    fn a_procfile_release_runs_unless_the_app_has_its_own_and_build_args_show_by_key() {
        let mut app = app();
        let source = ImageSource::Build {
            commit: "a1b2c3d4".into(),
            runtime: "python".into(),
            dockerfile: ".berth/Dockerfile".into(),
            build_args: vec!["SITE_NAME".into()],
            release: Some(("python -m shop init-db".into(), 1)),
            workers: vec![],
        };
        let releases = |app: &berth_model::App| -> Vec<String> {
            plan_deploy(&PlanInput {
                app,
                deployment_id: "c0ffee00",
                source: source.clone(),
                image: "berth/hello:a1b2c3d4".into(),
                container: "berth-hello-c0ffee00".into(),
                network: "berth",
                env_keys: vec![],
                previous: None,
                leftovers: vec![],
                previous_workers: vec![],
                keep_images: vec![],
                route: None,
            })
            .to_string()
            .lines()
            .filter(|l| l.contains(" run `") || l.contains("build commit"))
            .map(str::to_owned)
            .collect()
        };
        expect![[r#"
            [
                "build        build commit a1b2c3d (python, .berth/Dockerfile) as berth/hello:a1b2c3d4 with build args SITE_NAME",
                "start        run `python -m shop init-db` (Procfile line 1) in berth-hello-c0ffee00-release from berth/hello:a1b2c3d4, then remove it",
            ]
        "#]]
        .assert_debug_eq(&releases(&app));
        app.release_command = Some("bin/migrate".into());
        assert!(releases(&app)[1].contains("run `bin/migrate`"));
    }

    #[test]
    fn workers_start_beside_the_new_version_and_the_old_ones_stop_after_the_switch() {
        let app = app();
        let worker = ProcessSpec {
            name: "worker".into(),
            command: "python worker.py".into(),
        };
        let input = PlanInput {
            app: &app,
            deployment_id: "c0ffee00",
            source: ImageSource::Build {
                commit: "a1b2c3d4".into(),
                runtime: "python".into(),
                dockerfile: ".berth/Dockerfile".into(),
                build_args: vec![],
                release: None,
                workers: vec![worker.clone()],
            },
            image: "berth/hello:c0ffee00".into(),
            container: "berth-hello-c0ffee00".into(),
            network: "berth",
            env_keys: vec!["QUEUE".into()],
            previous: Some("berth-hello-e5f6a7b8".into()),
            leftovers: vec![],
            previous_workers: vec!["berth-hello-e5f6a7b8-worker".into()],
            keep_images: vec![],
            route: None,
        };
        expect![[r#"
            build        build commit a1b2c3d (python, .berth/Dockerfile) as berth/hello:c0ffee00
            start        ensure network berth
            start        create berth-hello-c0ffee00 from berth/hello:c0ffee00 on berth, port 8080 published on 127.0.0.1, cpus 0.5, memory 256m, env QUEUE, volumes data:/data
            start        start berth-hello-c0ffee00
            start        create berth-hello-c0ffee00-worker from berth/hello:c0ffee00 on berth as its worker process, port 8080 not published, command `/bin/sh -c exec python worker.py`, cpus 0.5, memory 256m, env QUEUE, volumes data:/data
            start        start berth-hello-c0ffee00-worker
            health-check GET /healthz on berth-hello-c0ffee00:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            health-check worker keeps running in berth-hello-c0ffee00-worker
            switch       make deployment c0ffee00 active
            drain        stop berth-hello-e5f6a7b8 (grace 10s)
            drain        remove berth-hello-e5f6a7b8
            drain        stop berth-hello-e5f6a7b8-worker (grace 10s)
            drain        remove berth-hello-e5f6a7b8-worker
            cleanup      prune images of hello, keeping berth/hello:c0ffee00
        "#]]
        .assert_eq(&plan_deploy(&input).to_string());
        // A rollback runs the workers its deployment ran; an image pulled from a registry has
        // no Procfile.
        let rollback = plan_deploy(&PlanInput {
            source: ImageSource::Existing {
                from_deployment: "a1b2c3d4".into(),
                workers: vec![worker],
            },
            ..input.clone()
        })
        .to_string();
        assert!(
            rollback.contains("create berth-hello-c0ffee00-worker"),
            "{rollback}"
        );
        let pulled = plan_deploy(&PlanInput {
            source: ImageSource::Pull {
                reference: "registry.example/hello:1".into(),
            },
            ..input
        })
        .to_string();
        assert!(!pulled.contains("keeps running"), "{pulled}");
    }

    #[test]
    fn with_a_proxy_the_route_switches_after_the_health_check_and_the_old_one_drains() {
        let app = app();
        let plan = plan_deploy(&PlanInput {
            app: &app,
            deployment_id: "e5f6a7b8",
            source: ImageSource::Build {
                commit: "fedcba9876543210fedcba9876543210fedcba98".into(),
                runtime: "dockerfile".into(),
                dockerfile: "Dockerfile".into(),
                build_args: Vec::new(),
                release: None,
                workers: vec![],
            },
            image: "berth/hello:e5f6a7b8".into(),
            container: "berth-hello-e5f6a7b8".into(),
            network: "berth",
            env_keys: vec![],
            previous: Some("berth-hello-a1b2c3d4".into()),
            leftovers: vec![],
            previous_workers: vec![],
            keep_images: vec![],
            route: Some(RoutePlan {
                admin: "unix:/run/berth-proxy/admin.sock".into(),
                server: "berth".into(),
                id: "berth-app-hello".into(),
                hosts: vec!["hello.apps.example.com".into(), "www.example.com".into()],
                via: UpstreamVia::Network,
                drain_timeout_secs: 30,
            }),
        });
        expect![[r#"
            build        build commit fedcba9 (dockerfile, Dockerfile) as berth/hello:e5f6a7b8
            start        ensure network berth
            start        create berth-hello-e5f6a7b8 from berth/hello:e5f6a7b8 on berth, port 8080 published on 127.0.0.1, cpus 0.5, memory 256m, volumes data:/data
            start        start berth-hello-e5f6a7b8
            health-check GET /healthz on berth-hello-e5f6a7b8:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            switch       route hello.apps.example.com www.example.com to berth-hello-e5f6a7b8:8080 (caddy route berth-app-hello)
            switch       make deployment e5f6a7b8 active
            drain        wait until no request is in flight to berth-hello-a1b2c3d4 (at most 30s)
            drain        stop berth-hello-a1b2c3d4 (grace 10s)
            drain        remove berth-hello-a1b2c3d4
            cleanup      prune images of hello, keeping berth/hello:e5f6a7b8
        "#]]
        .assert_eq(&plan.to_string());
    }
}
