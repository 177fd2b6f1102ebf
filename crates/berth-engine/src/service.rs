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
    /// Files put into the container before it starts.
    pub files: Vec<ServiceFile>,
    /// How to know it is up.
    pub ready: Readiness,
    /// Said when the container does not start: `are ports 80 and 443 free on prod?`.
    pub start_hint: String,
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

/// Plans installing `install` on a server that has (`image_present`) its image or not.
pub fn plan_service(install: &ServiceInstall, image_present: bool) -> Plan {
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
    push(
        Step::Start,
        Action::ReplaceContainer {
            container: spec.name.clone(),
        },
    );
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
    Plan { actions }
}

/// Installs (or reinstalls) a service: observes whether the server has its image, plans, and
/// applies the plan. The old container is replaced; named volumes stay.
pub async fn install_service(host: &Host, install: &ServiceInstall) -> Result<(), EngineError> {
    let image_present = host.docker().image_id(&install.spec.image).await?.is_some();
    let plan = plan_service(install, image_present);
    tracing::debug!("installing {} on {}:\n{plan}", install.what, host.name());
    for planned in plan.actions {
        apply_host_action(host, planned.action).await?;
    }
    Ok(())
}

/// The runner's hands for actions that need nothing but the host — services, routes outside a
/// deploy, removals — used by every plan; the deployment's own actions are in `apply.rs`.
pub(crate) async fn apply_host_action(host: &Host, action: Action) -> Result<(), EngineError> {
    let docker = host.docker();
    match action {
        Action::PullImage { image } => {
            docker
                .pull_image(&image)
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
                .build_image(&tag, "Dockerfile", &labels, stream, |line| {
                    tracing::debug!(%line, "service image build");
                })
                .await?;
        }
        Action::EnsureNetwork { network } => docker.ensure_network(&network).await?,
        Action::ReplaceContainer { container } => {
            docker.remove_container(&container, true).await?;
        }
        Action::CreateService(spec) => {
            docker.create_service(&spec).await?;
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
            },
            image: ServiceImage::Build {
                labels: HashMap::new(),
                context: vec![0; 2048],
            },
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
            start        remove the container berth-relay if there is one (its volumes stay)
            start        create berth-relay from berth/relay:0.1.0-abc (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data)
            start        start berth-relay
            health-check wait until the relay answers on /run/berth-relay/control.sock
        "#]]
        .assert_eq(&plan_service(&relay(), false).to_string());
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
            start        remove the container berth-proxy if there is one (its volumes stay)
            start        create berth-proxy from caddy:2 (publishing 127.0.0.1:9080→9080; mounts berth-relay-data:/data)
            start        put /etc/berth/caddy.json (2 bytes) into berth-proxy
            start        start berth-proxy
            health-check wait until the proxy answers on unix:/run/berth-proxy/admin.sock
        "#]]
        .assert_eq(&plan_service(&proxy, true).to_string());
        proxy.image = ServiceImage::Pull;
        let pulled = plan_service(&proxy, false).to_string();
        assert!(
            pulled.starts_with("build        pull image caddy:2\n"),
            "{pulled}"
        );
    }
}
