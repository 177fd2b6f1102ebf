//! Installing a service container Berth runs on a server itself — the Caddy proxy, the webhook
//! relay — as a plan: get the image (pull it, or build it from a context Berth sends), replace
//! the container, put its files in, start it, and wait until it answers. One routine waits for
//! every service, and says why when one does not come up (its exit, its last output).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use berth_docker::ServiceSpec;
use berth_model::Step;
use berth_ssh::RemoteTarget;

use crate::error::EngineError;
use crate::health::probe_http;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction};

/// How long a service may take to answer after it started.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// One service container to (re)install.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInstall {
    /// What `ServiceSpec::name` is, in words: `the proxy`, `the relay`.
    pub what: String,
    pub spec: ServiceSpec,
    pub image: ServiceImage,
    /// One-shot tasks run before its container is created (the previous version is stopped
    /// by then): preparing what it will own.
    pub prepare: Vec<PrepareTask>,
    /// Files put into the container before it starts.
    pub files: Vec<ServiceFile>,
    /// How to know it is up.
    pub ready: Readiness,
    /// Said when the container does not start: `are ports 80 and 443 free on prod?`.
    pub start_hint: String,
}

/// A one-shot task of a [`ServiceInstall`]: what it does, in words, and its container.
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareTask {
    pub what: String,
    pub spec: ServiceSpec,
}

/// Where a service's image comes from, when the server does not have it yet.
#[derive(Clone, PartialEq)]
pub enum ServiceImage {
    /// Pull it (the server's registry access).
    Pull,
    /// Build it from a context Berth sends (a tar with a `Dockerfile`), labelled.
    Build {
        labels: HashMap<String, String>,
        context: Vec<u8>,
    },
}

impl fmt::Debug for ServiceImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceImage::Pull => f.write_str("Pull"),
            ServiceImage::Build { context, .. } => write!(f, "Build({} bytes)", context.len()),
        }
    }
}

/// A file put into a service container before it starts.
#[derive(Clone, PartialEq)]
pub struct ServiceFile {
    pub dir: String,
    pub name: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

impl fmt::Debug for ServiceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({} bytes)", self.dir, self.name, self.bytes.len())
    }
}

/// How a service shows it is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Caddy's admin API answers at `admin` (`unix:/path`, `127.0.0.1:2019`).
    CaddyAdmin { admin: String },
    /// `GET path` on the unix socket `socket` on the server answers 2xx.
    Http { socket: String, path: String },
}

/// What the server has of a service before it is (re)installed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceOnHost {
    pub image_present: bool,
    /// Its container exists (an upgrade: it is set aside, not removed, until the new one
    /// answers).
    pub container: bool,
    /// A container set aside by an upgrade that was cut off.
    pub aside: bool,
}

/// The name a service's container is kept under while its successor starts.
pub fn aside_name(container: &str) -> String {
    format!("{container}-previous")
}

/// Plans installing `install` on a server that has `on_host` of it. An upgrade keeps the
/// running version, stopped and renamed, until the new one answers; only then is it removed.
pub fn plan_service(install: &ServiceInstall, on_host: ServiceOnHost) -> Plan {
    let image_present = on_host.image_present;
    let mut actions = Vec::new();
    let mut push = |step, action| actions.push(PlannedAction { step, action });
    let spec = &install.spec;
    if !image_present {
        push(
            Step::Build,
            match &install.image {
                ServiceImage::Pull => Action::PullImage {
                    image: spec.image.clone(),
                },
                ServiceImage::Build { labels, context } => Action::BuildServiceImage {
                    tag: spec.image.clone(),
                    labels: labels.clone(),
                    context: context.clone(),
                },
            },
        );
    }
    push(
        Step::Start,
        Action::EnsureNetwork {
            network: spec.network.clone(),
        },
    );
    let aside = aside_name(&spec.name);
    // Without a current container but with one aside, an upgrade was cut off after setting
    // the old one aside: it stays aside until the new one answers, and comes back if not.
    if on_host.container {
        if on_host.aside {
            // The current container is the one that answers; an older one is stale.
            push(
                Step::Start,
                Action::ReplaceContainer {
                    container: aside.clone(),
                },
            );
        }
        push(
            Step::Start,
            Action::SetAside {
                container: spec.name.clone(),
                aside: aside.clone(),
            },
        );
    }
    for task in &install.prepare {
        push(
            Step::Start,
            Action::RunOnce {
                spec: Box::new(task.spec.clone()),
                what: task.what.clone(),
            },
        );
    }
    push(Step::Start, Action::CreateService(Box::new(spec.clone())));
    for file in &install.files {
        push(
            Step::Start,
            Action::PutFile {
                container: spec.name.clone(),
                dir: file.dir.clone(),
                name: file.name.clone(),
                bytes: file.bytes.clone(),
                mode: file.mode,
            },
        );
    }
    push(
        Step::Start,
        Action::StartService {
            container: spec.name.clone(),
            hint: install.start_hint.clone(),
        },
    );
    push(
        Step::HealthCheck,
        Action::WaitReady {
            container: spec.name.clone(),
            what: install.what.clone(),
            ready: install.ready.clone(),
        },
    );
    if on_host.container || on_host.aside {
        push(Step::Cleanup, Action::ReplaceContainer { container: aside });
    }
    Plan { actions }
}

/// What the server has of `install`'s service.
pub(crate) async fn observe_service(
    host: &Host,
    container: &str,
    image: &str,
) -> Result<ServiceOnHost, EngineError> {
    let docker = host.docker();
    Ok(ServiceOnHost {
        image_present: docker.image_id(image).await?.is_some(),
        container: docker.inspect_container(container).await?.is_some(),
        aside: docker
            .inspect_container(&aside_name(container))
            .await?
            .is_some(),
    })
}

/// Installs (or upgrades) a service: observes what the server has, plans, and applies the
/// plan. Named volumes stay. If the new version does not come up, the one set aside is put
/// back and started, and the error says so.
pub async fn install_service(host: &Host, install: &ServiceInstall) -> Result<(), EngineError> {
    let on_host = observe_service(host, &install.spec.name, &install.spec.image).await?;
    let plan = plan_service(install, on_host);
    apply_service_plan(host, &install.spec.name, &install.what, on_host, plan).await
}

/// Applies a service plan, putting the version set aside back when a later step fails.
pub(crate) async fn apply_service_plan(
    host: &Host,
    name: &str,
    what: &str,
    on_host: ServiceOnHost,
    plan: Plan,
) -> Result<(), EngineError> {
    tracing::debug!("installing {what} on {}:\n{plan}", host.name());
    let aside = aside_name(name);
    // An upgrade cut off earlier left the working version aside: it comes back on failure.
    let mut set_aside = on_host.aside && !on_host.container;
    for planned in plan.actions {
        let kind = planned.action.kind();
        // Once the new version answers, the old one is only clean-up.
        if planned.step == Step::Cleanup {
            set_aside = false;
        }
        if let Err(error) = apply_host_action(host, planned.action).await {
            if !set_aside {
                return Err(error);
            }
            return Err(match put_back(host, name, &aside).await {
                Ok(()) => EngineError::Invalid(format!(
                    "{error}; the previous version of {what} was put back and runs again"
                )),
                Err(e) => {
                    tracing::error!("could not put {aside} back after `{kind}` failed: {e}");
                    error
                }
            });
        }
        if kind == "set-aside" {
            set_aside = true;
        }
    }
    Ok(())
}

/// Removes a failed new version and starts the one set aside under its name again.
async fn put_back(host: &Host, name: &str, aside: &str) -> Result<(), EngineError> {
    let docker = host.docker();
    docker.remove_container(name, true).await?;
    docker.rename_container(aside, name).await?;
    docker.start_container(name).await?;
    Ok(())
}

/// The runner's hands for actions that need nothing but the host — services, routes outside a
/// deploy, removals — used by every plan; the deployment's own actions are in `apply.rs`.
pub(crate) async fn apply_host_action(host: &Host, action: Action) -> Result<(), EngineError> {
    let docker = host.docker();
    match action {
        Action::PullImage { image } => {
            docker
                .pull_image(&image, None)
                .await
                .map_err(|source| EngineError::ImageUnavailable { image, source })?;
        }
        Action::BuildServiceImage {
            tag,
            labels,
            context,
        } => {
            let stream = futures_util::stream::once(async move {
                Ok::<_, std::io::Error>(bytes::Bytes::from(context))
            });
            docker
                .build_image(
                    &tag,
                    "Dockerfile",
                    (&labels, &Default::default()),
                    stream,
                    |line| {
                        tracing::debug!(%line, "service image build");
                    },
                )
                .await?;
        }
        Action::EnsureNetwork { network } => docker.ensure_network(&network).await?,
        Action::ReplaceContainer { container } => {
            docker.remove_container(&container, true).await?;
        }
        Action::SetAside { container, aside } => {
            docker.stop_container(&container, 10).await?;
            docker.rename_container(&container, &aside).await?;
        }
        Action::CreateService(spec) => {
            docker.create_service(&spec).await?;
        }
        Action::RunOnce { spec, what } => {
            let end = docker.run_once(&spec).await?;
            if end.status != 0 {
                return Err(EngineError::TaskFailed {
                    what,
                    status: end.status,
                    output: end.output,
                });
            }
        }
        Action::PutFile {
            container,
            dir,
            name,
            bytes,
            mode,
        } => {
            docker
                .put_file(&container, &dir, &name, &bytes, mode)
                .await?
        }
        Action::StartService { container, hint } => {
            docker.start_container(&container).await.map_err(|source| {
                EngineError::ServiceDidNotStart {
                    container,
                    hint,
                    source,
                }
            })?;
        }
        Action::WaitReady {
            container,
            what,
            ready,
        } => wait_ready(host, &container, &what, &ready).await?,
        Action::Route {
            route,
            container,
            port,
        } => {
            crate::apply::put_route(host, &route, &container, port, None).await?;
        }
        Action::LoadProxyConfig { admin, config, .. } => {
            host.caddy(&admin).await?.load(&config).await?;
        }
        Action::PutProxyRoute {
            admin,
            server,
            route,
        } => {
            host.caddy(&admin).await?.put_route(&server, &route).await?;
        }
        Action::DeleteRoute { admin, id } => {
            host.caddy(&admin).await?.delete_route(&id).await?;
        }
        Action::PurgeImage { image } => {
            docker.remove_image(&image, true).await?;
        }
        Action::Restart {
            container,
            grace_secs,
        } => docker.restart_container(&container, grace_secs).await?,
        Action::Recreate(kept) => {
            docker.create_container(&kept.spec).await?;
        }
        Action::PruneBuildCache { .. } => {
            let freed = docker.prune_build_cache().await?;
            tracing::info!(freed, "build cache pruned");
        }
        // Another container may still use it: say so and go on.
        Action::RemoveVolume { volume } => {
            if let Err(e) = docker.remove_volume(&volume).await {
                tracing::warn!("could not remove volume {volume}: {e}");
            }
        }
        other => {
            return Err(EngineError::Task(format!(
                "`{}` needs a deployment to apply",
                other.kind()
            )));
        }
    }
    Ok(())
}

/// Waits until the service answers, or says why not: it exited, or the deadline passed —
/// with its last output.
pub async fn wait_ready(
    host: &Host,
    container: &str,
    what: &str,
    ready: &Readiness,
) -> Result<(), EngineError> {
    let deadline = Instant::now() + START_DEADLINE;
    if let Readiness::CaddyAdmin { admin } = ready {
        // A reinstalled Caddy listens on a new socket: never reuse the old client.
        host.forget_caddy(admin).await;
    }
    loop {
        let attempt = match ready {
            Readiness::CaddyAdmin { admin } => match host.caddy(admin).await {
                Ok(caddy) => caddy.ping().await.map_err(EngineError::from),
                Err(e) => Err(e),
            },
            Readiness::Http { socket, path } => probe_socket(host, socket, path).await,
        };
        let error = match attempt {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if let Readiness::CaddyAdmin { admin } = ready {
            host.forget_caddy(admin).await;
        }
        let info = host.docker().inspect_container(container).await?;
        let exited = info.as_ref().is_some_and(|i| !i.running);
        if exited || Instant::now() >= deadline {
            let logs = host
                .docker()
                .last_log_lines(container, 15)
                .await
                .unwrap_or_default();
            return Err(EngineError::ServiceNotReady {
                what: what.to_owned(),
                at: match ready {
                    Readiness::CaddyAdmin { admin } => admin.clone(),
                    Readiness::Http { socket, .. } => socket.clone(),
                },
                error: error.to_string(),
                exited,
                logs,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn probe_socket(host: &Host, socket: &str, path: &str) -> Result<(), EngineError> {
    let forward = host
        .transport()
        .forward(RemoteTarget::Unix(socket.to_owned()))
        .await?;
    let stream = forward
        .connect()
        .await
        .map_err(|e| EngineError::Task(format!("cannot connect to {socket}: {e}")))?;
    match probe_http(stream, path).await {
        Ok(status) if (200..300).contains(&status) => Ok(()),
        Ok(status) => Err(EngineError::Task(format!("GET {path} answered {status}"))),
        Err(e) => Err(EngineError::Task(e)),
    }
}

#[cfg(test)]
mod tests {
    use berth_docker::Publish;
    use expect_test::expect;

    use super::*;

    fn relay() -> ServiceInstall {
        ServiceInstall {
            what: "the relay".into(),
            spec: ServiceSpec {
                name: "berth-relay".into(),
                image: "berth/relay:0.1.0-abc".into(),
                cmd: vec!["serve".into()],
                env: vec![],
                labels: HashMap::new(),
                network: "berth".into(),
                publish: vec![Publish {
                    container_port: 9080,
                    host_ip: "127.0.0.1".into(),
                    host_port: 9080,
                }],
                binds: vec!["berth-relay-data:/data".into()],
                confined: true,
                sysctls: Default::default(),
                user: None,
                cap_add: Vec::new(),
                one_shot: false,
            },
            image: ServiceImage::Build {
                labels: HashMap::new(),
                context: vec![0; 2048],
            },
            prepare: Vec::new(),
            files: vec![],
            ready: Readiness::Http {
                socket: "/run/berth-relay/control.sock".into(),
                path: "/v1/info".into(),
            },
            start_hint: "is port 9080 free on prod's loopback?".into(),
        }
    }

    #[test]
    fn a_new_relay_is_built_from_the_binary_berth_sends() {
        expect![[r#"
            build        build image berth/relay:0.1.0-abc from the context Berth sends (2048 bytes)
            start        ensure network berth
            start        create berth-relay from berth/relay:0.1.0-abc (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data; no capabilities, no new privileges, read-only root filesystem)
            start        start berth-relay
            health-check wait until the relay answers on /run/berth-relay/control.sock
        "#]]
        .assert_eq(&plan_service(&relay(), ServiceOnHost::default()).to_string());
    }

    #[test]
    fn a_proxy_whose_image_is_there_gets_its_config_file_before_it_starts() {
        let mut proxy = relay();
        proxy.what = "the proxy".into();
        proxy.spec.name = "berth-proxy".into();
        proxy.spec.image = "caddy:2".into();
        proxy.image = ServiceImage::Pull;
        proxy.files = vec![ServiceFile {
            dir: "/etc/berth".into(),
            name: "caddy.json".into(),
            bytes: b"{}".to_vec(),
            mode: 0o644,
        }];
        proxy.ready = Readiness::CaddyAdmin {
            admin: "unix:/run/berth-proxy/admin.sock".into(),
        };
        expect![[r#"
            start        ensure network berth
            start        create berth-proxy from caddy:2 (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data; no capabilities, no new privileges, read-only root filesystem)
            start        put /etc/berth/caddy.json (2 bytes) into berth-proxy
            start        start berth-proxy
            health-check wait until the proxy answers on unix:/run/berth-proxy/admin.sock
        "#]]
        .assert_eq(
            &plan_service(
                &proxy,
                ServiceOnHost {
                    image_present: true,
                    ..ServiceOnHost::default()
                },
            )
            .to_string(),
        );
        proxy.image = ServiceImage::Pull;
        let pulled = plan_service(&proxy, ServiceOnHost::default()).to_string();
        assert!(
            pulled.starts_with("build        pull image caddy:2\n"),
            "{pulled}"
        );
    }

    #[test]
    fn an_upgrade_keeps_the_running_version_until_the_new_one_answers() {
        let upgrade = ServiceOnHost {
            image_present: false,
            container: true,
            aside: false,
        };
        expect![[r#"
            build        build image berth/relay:0.1.0-abc from the context Berth sends (2048 bytes)
            start        ensure network berth
            start        stop berth-relay and keep it as berth-relay-previous until its successor answers
            start        create berth-relay from berth/relay:0.1.0-abc (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data; no capabilities, no new privileges, read-only root filesystem)
            start        start berth-relay
            health-check wait until the relay answers on /run/berth-relay/control.sock
            cleanup      remove the container berth-relay-previous if there is one (its volumes stay)
        "#]].assert_eq(&plan_service(&relay(), upgrade).to_string());
        // An upgrade cut off before: the version aside is the one that worked, kept until the
        // new one answers.
        let cut_off = ServiceOnHost {
            image_present: true,
            container: false,
            aside: true,
        };
        expect![[r#"
            start        ensure network berth
            start        create berth-relay from berth/relay:0.1.0-abc (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data; no capabilities, no new privileges, read-only root filesystem)
            start        start berth-relay
            health-check wait until the relay answers on /run/berth-relay/control.sock
            cleanup      remove the container berth-relay-previous if there is one (its volumes stay)
        "#]].assert_eq(&plan_service(&relay(), cut_off).to_string());
    }
}
