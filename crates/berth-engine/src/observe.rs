//! Reading a server without changing it: what a container is doing, what it printed. Front
//! ends see these shapes, never Docker's.

use berth_docker::labels;
use berth_model::{Deployment, DeploymentKind, DeploymentStatus};
use futures_util::{Stream, StreamExt};

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{RoutePlan, UpstreamVia};

/// What a container is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    /// Docker's word for it: `running`, `exited`, `restarting`, …
    pub status: String,
    /// Set once it stopped.
    pub exit_code: Option<i64>,
    /// The loopback port its app port is published at, when it is.
    pub published_port: Option<u16>,
}

/// The state of the container `name`, or `None` when the server has no such container.
pub async fn container_state(
    host: &Host,
    name: &str,
) -> Result<Option<ContainerState>, EngineError> {
    Ok(host
        .docker()
        .inspect_container(name)
        .await?
        .map(|i| ContainerState {
            running: i.running,
            status: i.status,
            exit_code: i.exit_code,
            published_port: i.published_port,
        }))
}

/// One line a container printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub text: String,
    /// Printed on stderr rather than stdout.
    pub stderr: bool,
}

/// What `container` printed: the last `tail` lines (all without one), then, with `follow`,
/// each new line until it stops.
pub fn container_output<'a>(
    host: &'a Host,
    container: &'a str,
    tail: Option<usize>,
    follow: bool,
) -> impl Stream<Item = Result<OutputLine, EngineError>> + Send + 'a {
    host.docker()
        .logs(container, tail, follow)
        .map(|line| match line {
            Ok(l) => Ok(OutputLine {
                stderr: l.stream == berth_docker::LogStream::Stderr,
                text: l.text,
            }),
            Err(e) => Err(EngineError::from(e)),
        })
}

/// The app's serving deployment as the server alone knows it (for a driver without Berth's
/// records — the relay): the container the proxy's route sends requests to, else the newest
/// running one. A deploy cut off after it started its container but before the switch leaves
/// a newer container that does not serve; this finds the one that does.
pub async fn serving_deployment(
    host: &Host,
    app: &str,
    route: Option<&RoutePlan>,
) -> Result<Option<Deployment>, EngineError> {
    let docker = host.docker();
    let names = docker
        .containers_with_labels(&[(labels::APP, app), (labels::MANAGED, "true")])
        .await?;
    let routed = match route.filter(|r| r.via == UpstreamVia::Network) {
        Some(r) => match host.caddy(&r.admin).await {
            Ok(caddy) => caddy
                .route(&r.id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.upstream.rsplit_once(':').map(|(c, _)| c.to_owned())),
            Err(_) => None,
        },
        None => None,
    };
    let mut best: Option<berth_docker::ContainerInfo> = None;
    for name in names {
        if let Ok(Some(info)) = docker.inspect_container(&name).await
            && info.running
            // A worker never serves: it runs beside the container that does.
            && !info.labels.contains_key(labels::PROCESS)
        {
            let serving = routed.as_deref() == Some(info.name.as_str());
            let best_serving = best
                .as_ref()
                .is_some_and(|b| routed.as_deref() == Some(b.name.as_str()));
            if serving || (!best_serving && best.as_ref().is_none_or(|b| info.created > b.created))
            {
                best = Some(info);
            }
        }
    }
    Ok(best.map(|info| {
        let id = info
            .labels
            .get(labels::DEPLOYMENT)
            .cloned()
            .unwrap_or_default();
        Deployment {
            status: DeploymentStatus::Active,
            commit: info.labels.get(labels::COMMIT).cloned(),
            image: Some(info.image.clone()),
            container: Some(info.name),
            ..Deployment::start(id, app, DeploymentKind::Deploy, String::new(), 0)
        }
    }))
}
