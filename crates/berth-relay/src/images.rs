//! Unattended deploys of image apps: the pushed tag is pulled on this host with the registry
//! login Berth gave (passed per request, never `docker login`) and run by the same engine as
//! every deploy. A staged app's tag goes where Berth would send it ([`decide_tag`]): an
//! auto-deploy stage runs it as an instance of its own beside the others (the stage's name
//! moves to it, the oldest beyond the stage's max are removed); a stage that deploys only when
//! asked is announced instead.

use berth_engine::stages::{StageRoutes, instance_labels, settle_stage};
use berth_engine::{
    DeployJob, Host, JobSource, RoutePlan, SystemClock, UpstreamVia, run_deploy, serving_deployment,
};
use berth_model::stage::{DEFAULT_STAGE_PATTERN, TagDecision, decide_tag};
use berth_model::{App, Deployment, DeploymentKind, ImageRef, Stage};
use tokio_util::sync::CancellationToken;

use crate::proto::{ImageSpec, InstanceRecord, UnattendedSpec};
use crate::worker::{Note, Outcome, Sink};

/// Deploys the image push `d` of the app `spec` describes. The flag says the Docker socket
/// failed (connect again next time).
pub(crate) async fn deploy(
    h: &Host,
    spec: &UnattendedSpec,
    image: &ImageSpec,
    d: &berth_model::Delivery,
    cancel: CancellationToken,
) -> (Outcome, bool) {
    let pushed = d.git_ref.clone().unwrap_or_default();
    let tag = match ImageRef::parse(&pushed) {
        Ok(r) => r.tag_or_latest().to_owned(),
        Err(e) => return (Outcome::failed("resolve", e.to_string()), false),
    };
    let own = match ImageRef::parse(spec.app.image.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(e) => return (Outcome::failed("resolve", e.to_string()), false),
    };
    // The hook took the push already (its repository, a tag it takes): without stages it
    // deploys; with stages, where Berth would send it.
    let decision = if image.stages.is_empty() {
        TagDecision::Deploy(None)
    } else {
        decide_tag(&spec.app.name, &image.stages, own.tag_or_latest(), &tag)
    };
    match decision {
        TagDecision::Ignore => (
            Outcome::noted(Note::Skipped(format!(
                "no stage of {} takes tag {tag} any more",
                spec.app.name
            ))),
            false,
        ),
        TagDecision::Wait(why) => (Outcome::noted(Note::Waiting(why)), false),
        TagDecision::Deploy(None) => {
            let route = route_of(spec);
            let job = Job {
                app: spec.app.clone(),
                reference: own.with_tag(&tag),
                tag: &tag,
                route,
                labels: spec.labels.clone(),
            };
            run(h, spec, image, job, cancel).await
        }
        TagDecision::Deploy(Some(name)) => {
            let Some(stage) = image.stages.iter().find(|s| s.name == name) else {
                return (
                    Outcome::failed("setup", format!("stage {name} is gone")),
                    false,
                );
            };
            deploy_stage(h, spec, image, stage, &own, &tag, cancel).await
        }
    }
}

/// Runs `tag` as its instance in `stage`, then settles the stage.
async fn deploy_stage(
    h: &Host,
    spec: &UnattendedSpec,
    image: &ImageSpec,
    stage: &Stage,
    own: &ImageRef,
    tag: &str,
    cancel: CancellationToken,
) -> (Outcome, bool) {
    let instance = stage.instance_label(DEFAULT_STAGE_PATTERN, tag);
    let routes = stage_routes(spec, image);
    let job = Job {
        app: App {
            name: instance.clone(),
            image: Some(own.with_tag(tag)),
            ..spec.app.clone()
        },
        reference: own.with_tag(tag),
        tag,
        route: routes
            .as_ref()
            .map(|r| r.route(stage, &instance, tag, true)),
        labels: instance_labels(&spec.app.name, &stage.name, tag),
    };
    let (mut outcome, docker_failed) = run(h, spec, image, job, cancel).await;
    outcome.instance = Some(InstanceRecord {
        app: spec.app.name.clone(),
        stage: stage.name.clone(),
        tag: tag.to_owned(),
    });
    if outcome.deployment.is_none() || !matches!(outcome.ended, berth_engine::Ended::Live { .. }) {
        return (outcome, docker_failed);
    }
    // Where it answers: the app's own URL with the instance's name.
    if let (Some(r), Some(url), Some(primary)) = (
        &routes,
        spec.urls.first(),
        spec.route.as_ref().and_then(|r| r.hosts.first()),
    ) {
        let host = format!("{}.{}", stage.instance_label(&r.pattern, tag), r.base);
        outcome.url = Some(url.replacen(primary.as_str(), &host, 1));
    }
    match settle_stage(h, stage, spec.app.port, routes.as_ref(), &instance).await {
        Ok(removed) => {
            for gone in &removed {
                outcome.log.push(format!(
                    "» removed {gone} (beyond the {} newest of stage {})",
                    stage.max_instances, stage.name
                ));
            }
            outcome.removed = removed;
        }
        Err(e) => {
            tracing::warn!(stage = %stage.name, "cannot settle the stage: {e}");
            outcome.log.push(format!(
                "» the stage's name or its older instances were not updated: {e}"
            ));
        }
    }
    (outcome, docker_failed)
}

/// One pull-and-run.
struct Job<'a> {
    app: App,
    reference: String,
    tag: &'a str,
    route: Option<RoutePlan>,
    labels: Vec<(String, String)>,
}

async fn run(
    h: &Host,
    spec: &UnattendedSpec,
    image: &ImageSpec,
    job: Job<'_>,
    cancel: CancellationToken,
) -> (Outcome, bool) {
    let previous = match serving_deployment(h, &job.app.name, job.route.as_ref()).await {
        Ok(p) => p,
        Err(e) => return (Outcome::failed("setup", e.to_string()), true),
    };
    let deployment = Deployment::start(
        berth_engine::new_deployment_id(),
        &job.app.name,
        DeploymentKind::Deploy,
        job.tag.to_owned(),
        crate::now_ms(),
    );
    let login = credentials(image);
    let job = DeployJob {
        app: job.app,
        deployment,
        source: JobSource::Pull {
            reference: job.reference,
            login,
        },
        env: spec.env.clone(),
        previous,
        // The images on this host are the history the relay has.
        history: None,
        route: job.route,
        labels: job.labels,
    };
    let sink = Sink::default();
    let result = run_deploy(h, job, &sink, cancel, &SystemClock).await;
    let docker_failed = result
        .as_ref()
        .is_err_and(|f| matches!(f.error, berth_engine::EngineError::Docker(_)));
    (Outcome::of(result, sink.log()), docker_failed)
}

/// The registry login Berth gave, as the engine takes it.
pub(crate) fn credentials(
    image: &ImageSpec,
) -> Option<berth_engine::registry::RegistryCredentials> {
    image
        .login
        .as_ref()
        .map(|l| berth_engine::registry::RegistryCredentials {
            host: l.host.clone(),
            username: l.username.clone(),
            password: l.password.clone(),
        })
}

/// The app's own route, as Berth gave it.
pub(crate) fn route_of(spec: &UnattendedSpec) -> Option<RoutePlan> {
    spec.route.as_ref().map(route_plan)
}

/// A route as Berth gave it, as the engine switches it.
pub(crate) fn route_plan(r: &crate::proto::RouteSpec) -> RoutePlan {
    RoutePlan {
        admin: r.admin.clone(),
        server: r.server.clone(),
        id: r.id.clone(),
        hosts: r.hosts.clone(),
        via: via(r.via_network),
        drain_timeout_secs: r.drain_timeout_secs,
    }
}

fn via(network: bool) -> UpstreamVia {
    if network {
        UpstreamVia::Network
    } else {
        UpstreamVia::Loopback
    }
}

/// Where the stages' instances answer: under the server's base domain, through the proxy the
/// app's route goes through.
fn stage_routes(spec: &UnattendedSpec, image: &ImageSpec) -> Option<StageRoutes> {
    let r = spec.route.as_ref()?;
    Some(StageRoutes {
        admin: r.admin.clone(),
        server: r.server.clone(),
        via: via(r.via_network),
        drain_timeout_secs: r.drain_timeout_secs,
        base: image.base_domain.clone()?,
        pattern: image.pattern.clone(),
    })
}
