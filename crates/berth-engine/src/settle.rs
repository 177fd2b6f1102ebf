//! Settling a deployment whose driver died (the CLI or the desktop killed mid-deploy): its
//! record says "in progress" but nobody runs it. Before the app's next operation the host is
//! observed — where the route sends requests, which containers run — and a plan brings the
//! records, the route and the containers back to one serving version: the interrupted
//! deployment if the route already switched to it (it passed its health check), else the
//! active one, with what the interrupted run created removed.

use std::fmt;

use berth_docker::labels;
use berth_model::{App, DeployEvent, Deployment, DeploymentKind, Step};
use tokio_util::sync::CancellationToken;

use crate::apply::{Apply, Created, upstream};
use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction, RoutePlan};
use crate::run::{Clock, DeploySink};

/// One interrupted deployment to settle.
pub struct SettleJob {
    pub app: App,
    /// The record still "in progress" whose driver is gone (the caller holds the app's lock).
    pub interrupted: Deployment,
    /// The app's active deployment, if any.
    pub active: Option<Deployment>,
    /// The app's route through the server's proxy, when there is one.
    pub route: Option<RoutePlan>,
}

/// What the settled deployment became.
#[derive(Debug)]
pub enum Settled {
    /// The route had switched to it: it is the active deployment now.
    Activated(Deployment),
    /// It never served: recorded as interrupted, its container and image removed.
    Interrupted(Deployment),
}

/// What the planner knows of the host.
#[derive(Debug, Clone)]
pub struct SettleInput<'a> {
    pub app: &'a App,
    pub interrupted: &'a Deployment,
    /// The interrupted deployment's container, if it exists, and whether it runs.
    pub interrupted_container: Option<(String, bool)>,
    /// The active deployment's container, if it exists, and whether it runs.
    pub active_container: Option<(String, bool)>,
    pub route: Option<&'a RoutePlan>,
    /// Which container the route sends requests to, when it is one of the two.
    pub routed_to: Option<String>,
}

/// Plans settling an interrupted deployment.
pub fn plan_settle(input: &SettleInput<'_>) -> Plan {
    let mut actions = Vec::new();
    let mut push = |step, action| actions.push(PlannedAction { step, action });
    let d = input.interrupted;
    let app = input.app;
    let serving = match (&input.interrupted_container, &input.routed_to) {
        (Some((name, true)), Some(routed)) => name == routed,
        _ => false,
    };
    if serving {
        push(
            Step::Switch,
            Action::Activate {
                deployment: d.id.clone(),
            },
        );
        if let Some((old, _)) = &input.active_container {
            if let Some(route) = input.route {
                push(
                    Step::Drain,
                    Action::DrainRequests {
                        route: route.clone(),
                        container: old.clone(),
                        port: app.port,
                    },
                );
            }
            push(
                Step::Drain,
                Action::Stop {
                    container: old.clone(),
                    grace_secs: app.stop_grace_secs,
                },
            );
            push(
                Step::Drain,
                Action::Remove {
                    container: old.clone(),
                },
            );
        }
        return Plan { actions };
    }
    // It never served. If the route went to it anyway (its container died since), send the
    // route back to the active container.
    if let (Some(route), Some(routed), Some((interrupted, _)), Some((active, true))) = (
        input.route,
        &input.routed_to,
        &input.interrupted_container,
        &input.active_container,
    ) && routed == interrupted
    {
        push(
            Step::Switch,
            Action::Route {
                route: route.clone(),
                container: active.clone(),
                port: app.port,
            },
        );
    }
    push(
        Step::Cleanup,
        Action::MarkInterrupted {
            deployment: d.id.clone(),
        },
    );
    if let Some((name, _)) = &input.interrupted_container {
        push(
            Step::Cleanup,
            Action::Remove {
                container: name.clone(),
            },
        );
    }
    // A service's deploy stops the serving container before it starts the new one: cut off
    // in between, the one that served starts again (once the other is gone: one owner).
    if let (Some(_), Some((active, false))) = (app.service, &input.active_container) {
        push(
            Step::Start,
            Action::Start {
                container: active.clone(),
            },
        );
        push(Step::HealthCheck, crate::plan::readiness(app, active));
    }
    // A deploy built its own image; a rollback or restart reused another deployment's.
    if d.kind == DeploymentKind::Deploy
        && let Some(image) = &d.image
    {
        push(
            Step::Cleanup,
            Action::RemoveImage {
                image: image.clone(),
            },
        );
    }
    Plan { actions }
}

/// Observes the host, plans and applies the settling of `job.interrupted`.
pub async fn settle(
    host: &Host,
    job: SettleJob,
    sink: &dyn DeploySink,
    clock: &dyn Clock,
) -> Result<Settled, EngineError> {
    let SettleJob {
        app,
        interrupted,
        active,
        route,
    } = job;
    let docker = host.docker();
    let mut d = interrupted;
    // The record may predate its container's name (killed while resolving): find it by label.
    let mut interrupted_container = None;
    let mut interrupted_port = None;
    let by_label = docker
        .containers_with_labels(&[(labels::APP, &app.name), (labels::DEPLOYMENT, &d.id)])
        .await?;
    for name in d.container.iter().cloned().chain(by_label) {
        if let Some(info) = docker.inspect_container(&name).await?
            // Its workers run beside it; the one that serves has no process type.
            && !info.labels.contains_key(labels::PROCESS)
        {
            interrupted_port = info.published_port;
            interrupted_container = Some((name, info.running));
            break;
        }
    }
    let mut active_container = None;
    let mut active_port = None;
    if let Some(name) = active.as_ref().and_then(|a| a.container.clone())
        && let Some(info) = docker.inspect_container(&name).await?
    {
        active_port = info.published_port;
        active_container = Some((name, info.running));
    }
    let mut routed_to = None;
    if let Some(route) = &route {
        let current = host.caddy(&route.admin).await?.route(&route.id).await?;
        if let Some(current) = current {
            for (candidate, port) in [
                (&interrupted_container, interrupted_port),
                (&active_container, active_port),
            ] {
                if let Some((name, _)) = candidate
                    && upstream(route.via, name, app.port, port).as_deref()
                        == Some(current.upstream.as_str())
                {
                    routed_to = Some(name.clone());
                }
            }
        }
    }
    let plan = plan_settle(&SettleInput {
        app: &app,
        interrupted: &d,
        interrupted_container,
        active_container,
        route: route.as_ref(),
        routed_to,
    });
    sink.event(DeployEvent::Info {
        message: format!(
            "deployment {} of {} was interrupted (its process stopped); settling it",
            d.id, app.name
        ),
    });
    tracing::info!("settling {} {}:\n{plan}", app.name, d.id);
    let cancel = CancellationToken::new();
    let mut apply = Apply {
        host,
        app: &app,
        env: &[],
        labels: &[],
        sink,
        cancel: &cancel,
        clock,
        resolved: None,
        login: None,
        created: Created::default(),
        new_port: None,
        previous_port: active_port,
        switched: None,
        activated: false,
    };
    for planned in plan.actions {
        apply.apply(planned.action, &mut d).await?;
    }
    if apply.activated {
        d.finished_at.get_or_insert(clock.now_ms());
        sink.save(&d);
        Ok(Settled::Activated(d))
    } else {
        Ok(Settled::Interrupted(d))
    }
}

impl fmt::Display for Settled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Settled::Activated(d) => write!(
                f,
                "deployment {} had been switched to before its process stopped: it is the active one",
                d.id
            ),
            Settled::Interrupted(d) => write!(
                f,
                "deployment {} was interrupted before it served; what it started was removed",
                d.id
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_model::{AppDraft, DeploymentStatus};
    use expect_test::expect;

    use super::*;
    use crate::plan::UpstreamVia;

    fn app() -> App {
        AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            health_path: Some("/healthz".into()),
            ..AppDraft::default()
        }
        .validate(0)
        .unwrap()
    }

    fn interrupted(kind: DeploymentKind) -> Deployment {
        Deployment {
            status: DeploymentStatus::InProgress,
            image: Some("berth/hello:bbbb2222".into()),
            container: Some("berth-hello-bbbb2222".into()),
            ..Deployment::start("bbbb2222".into(), "hello", kind, "main".into(), 0)
        }
    }

    fn route() -> RoutePlan {
        RoutePlan {
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            server: "berth".into(),
            id: "berth-app-hello".into(),
            hosts: vec!["hello.example.com".into()],
            via: UpstreamVia::Network,
            drain_timeout_secs: 30,
        }
    }

    fn input<'a>(
        app: &'a App,
        d: &'a Deployment,
        route: Option<&'a RoutePlan>,
        routed_to: Option<&str>,
        interrupted_running: bool,
    ) -> SettleInput<'a> {
        SettleInput {
            app,
            interrupted: d,
            interrupted_container: Some(("berth-hello-bbbb2222".into(), interrupted_running)),
            active_container: Some(("berth-hello-aaaa1111".into(), true)),
            route,
            routed_to: routed_to.map(str::to_owned),
        }
    }

    #[test]
    fn killed_after_the_switch_the_new_version_is_the_active_one() {
        let (app, d, route) = (app(), interrupted(DeploymentKind::Deploy), route());
        let plan = plan_settle(&input(
            &app,
            &d,
            Some(&route),
            Some("berth-hello-bbbb2222"),
            true,
        ));
        expect![[r#"
            switch       make deployment bbbb2222 active
            drain        wait until no request is in flight to berth-hello-aaaa1111 (at most 30s)
            drain        stop berth-hello-aaaa1111 (grace 10s)
            drain        remove berth-hello-aaaa1111
        "#]]
        .assert_eq(&plan.to_string());
    }

    #[test]
    fn killed_before_the_switch_the_old_version_keeps_serving() {
        let (app, d, route) = (app(), interrupted(DeploymentKind::Deploy), route());
        let plan = plan_settle(&input(
            &app,
            &d,
            Some(&route),
            Some("berth-hello-aaaa1111"),
            true,
        ));
        expect![[r#"
            cleanup      record deployment bbbb2222 as interrupted
            cleanup      remove berth-hello-bbbb2222
            cleanup      remove image berth/hello:bbbb2222
        "#]]
        .assert_eq(&plan.to_string());
    }

    #[test]
    fn a_service_cut_off_between_stopping_the_old_and_starting_the_new_gets_the_old_back() {
        let app = App {
            service: Some(berth_model::ServiceKind::Redis),
            ..app()
        };
        let d = interrupted(DeploymentKind::Restart);
        let mut cut_off = input(&app, &d, None, None, true);
        cut_off.active_container = Some(("berth-hello-aaaa1111".into(), false));
        expect![[r#"
            cleanup      record deployment bbbb2222 as interrupted
            cleanup      remove berth-hello-bbbb2222
            start        start berth-hello-aaaa1111
            health-check run `redis-cli --no-auth-warning -a "$REDIS_PASSWORD" ping | grep -q PONG` in berth-hello-aaaa1111 every 200ms until it exits 0 (deadline 30s)
        "#]]
        .assert_eq(&plan_settle(&cut_off).to_string());
    }

    #[test]
    fn a_route_to_a_dead_new_container_goes_back_to_the_old_one() {
        let (app, d, route) = (app(), interrupted(DeploymentKind::Deploy), route());
        let plan = plan_settle(&input(
            &app,
            &d,
            Some(&route),
            Some("berth-hello-bbbb2222"),
            false,
        ));
        expect![[r#"
            switch       route hello.example.com to berth-hello-aaaa1111:8080 (caddy route berth-app-hello)
            cleanup      record deployment bbbb2222 as interrupted
            cleanup      remove berth-hello-bbbb2222
            cleanup      remove image berth/hello:bbbb2222
        "#]]
        .assert_eq(&plan.to_string());
    }

    #[test]
    fn without_a_proxy_an_interrupted_rollback_keeps_the_image_it_reused() {
        let (app, d) = (app(), interrupted(DeploymentKind::Rollback));
        let plan = plan_settle(&input(&app, &d, None, None, true));
        expect![[r#"
            cleanup      record deployment bbbb2222 as interrupted
            cleanup      remove berth-hello-bbbb2222
        "#]]
        .assert_eq(&plan.to_string());
    }
}
