//! Drift between what a driver recorded and what a server runs, found by one pure function
//! ([`plan_reconcile`]) from what was observed: an app whose serving container is gone or
//! stopped (and the user did not stop it), a Berth container no deployment owns (past a grace
//! period: a deploy in progress creates its container before it is recorded active), a route
//! missing or dialling something other than the serving container, a deployment left "in
//! progress" by a process that died. Each drift comes with its fix; fixes that change a
//! container or a route are actions the one applier runs, a serving container that is gone is
//! brought back by a fresh deployment of the recorded image (health-gated, like a restart).

use berth_docker::{ContainerSpec, labels};
use berth_model::{HealthCheck, Step};

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction, RoutePlan};

/// How long a container no deployment owns is left alone.
pub const ORPHAN_GRACE_SECS: i64 = 600;

/// One app as its driver recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRecord {
    pub app: String,
    /// The active deployment's id and container.
    pub active: Option<(String, String)>,
    /// The user stopped it (`berth stop`): not running is what they asked for.
    pub stopped: bool,
    /// Deployments recorded "in progress" that nobody is running now.
    pub stuck: Vec<String>,
    /// Its route through the proxy, when it has one.
    pub route: Option<RoutePlan>,
    pub port: u16,
}

/// One of the app's containers, as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSeen {
    pub name: String,
    pub deployment: Option<String>,
    pub running: bool,
    /// Seconds since it was created.
    pub age_secs: i64,
    /// Its published loopback port (an adopted Caddy dials it).
    pub published_port: Option<u16>,
}

/// One app as the server shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppSeen {
    pub containers: Vec<ContainerSeen>,
    /// What the proxy's route dials (`None`: no such route).
    pub route_upstream: Option<String>,
}

/// How a drift is fixed.
#[derive(Debug, Clone)]
pub enum Fix {
    /// Deploy the recorded active image again (a fresh container, health-gated, routed).
    Redeploy,
    /// Settle the deployments a dead process left in progress.
    Settle,
    /// Run this action (remove a container, put a route back).
    Apply(Box<Action>),
}

/// A drift and its fix.
#[derive(Debug, Clone)]
pub struct Drift {
    pub app: String,
    /// `missing`, `stopped`, `orphan`, `route-missing`, `route-stale`, `stuck-deploy`.
    pub kind: &'static str,
    /// What is wrong, for a person.
    pub problem: String,
    pub fix: Fix,
}

impl Drift {
    /// What `--fix` does, for a person.
    pub fn fix_text(&self) -> String {
        match &self.fix {
            Fix::Redeploy => "deploy the recorded image again (health-checked)".to_owned(),
            Fix::Settle => {
                "settle it (records, route and containers back to one version)".to_owned()
            }
            Fix::Apply(a) => a.to_string(),
        }
    }
}

/// The drifts of one app.
pub fn plan_reconcile(record: &AppRecord, seen: &AppSeen) -> Vec<Drift> {
    let mut drifts = Vec::new();
    let app = &record.app;
    let drift = |kind, problem: String, fix| Drift {
        app: app.clone(),
        kind,
        problem,
        fix,
    };
    if !record.stuck.is_empty() {
        drifts.push(drift(
            "stuck-deploy",
            format!(
                "deployment {} is recorded in progress but nothing runs it",
                record.stuck.join(", ")
            ),
            Fix::Settle,
        ));
        // Settling decides what serves; the rest is looked at again afterwards.
        return drifts;
    }
    let serving = record
        .active
        .as_ref()
        .and_then(|(_, container)| seen.containers.iter().find(|c| &c.name == container));
    match (&record.active, serving) {
        (Some((id, container)), None) => drifts.push(drift(
            "missing",
            format!("the container {container} of active deployment {id} is gone"),
            Fix::Redeploy,
        )),
        (Some((id, container)), Some(c)) if !c.running && !record.stopped => drifts.push(drift(
            "stopped",
            format!(
                "the container {container} of active deployment {id} is not running, and it was not stopped with `berth stop`"
            ),
            Fix::Redeploy,
        )),
        _ => {}
    }
    let active_id = record.active.as_ref().map(|(id, _)| id.as_str());
    for c in &seen.containers {
        let owned = c
            .deployment
            .as_deref()
            .is_some_and(|d| Some(d) == active_id);
        if !owned && c.age_secs >= ORPHAN_GRACE_SECS {
            drifts.push(drift(
                "orphan",
                format!(
                    "container {} ({}) belongs to no active deployment",
                    c.name,
                    c.deployment
                        .as_deref()
                        .map_or("no deployment".to_owned(), |d| format!("deployment {d}"))
                ),
                Fix::Apply(Box::new(Action::ReplaceContainer {
                    container: c.name.clone(),
                })),
            ));
        }
    }
    // The route: only when the serving container runs (a redeploy routes it anyway).
    if let (Some(route), Some(c)) = (&record.route, serving.filter(|c| c.running)) {
        let want = crate::apply::upstream(route.via, &c.name, record.port, c.published_port);
        let put = Fix::Apply(Box::new(Action::Route {
            route: route.clone(),
            container: c.name.clone(),
            port: record.port,
        }));
        match (&seen.route_upstream, want) {
            (None, _) => drifts.push(drift(
                "route-missing",
                format!("the proxy has no route for {}", route.hosts.join(", ")),
                put,
            )),
            (Some(current), Some(want)) if current != &want => drifts.push(drift(
                "route-stale",
                format!("the route dials {current}, not the serving container ({want})"),
                put,
            )),
            _ => {}
        }
    }
    drifts
}

/// Observes one app on the host: its containers and what its route dials.
pub async fn observe_app(
    host: &Host,
    app: &str,
    route: Option<&RoutePlan>,
) -> Result<AppSeen, EngineError> {
    let docker = host.docker();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut containers = Vec::new();
    for name in docker
        .containers_with_labels(&[(labels::APP, app), (labels::MANAGED, "true")])
        .await?
    {
        let Some(info) = docker.inspect_container(&name).await? else {
            continue;
        };
        // Workers go and come with their web container: drift is the serving one's.
        if info.labels.contains_key(labels::PROCESS) {
            continue;
        }
        let created = berth_registry::parse_rfc3339_ms(&info.created).map_or(now, |ms| ms / 1000);
        containers.push(ContainerSeen {
            name: info.name,
            deployment: info.labels.get(labels::DEPLOYMENT).cloned(),
            // Docker restarting it (its process exited) is Docker's to handle.
            running: info.running || info.status == "restarting",
            age_secs: now - created,
            published_port: info.published_port,
        });
    }
    let route_upstream = match route {
        Some(r) => host
            .caddy(&r.admin)
            .await?
            .route(&r.id)
            .await?
            .map(|r| r.upstream),
        None => None,
    };
    Ok(AppSeen {
        containers,
        route_upstream,
    })
}

/// Applies a container or route fix.
pub async fn apply_fix(host: &Host, action: Action) -> Result<(), EngineError> {
    crate::service::apply_host_action(host, action).await
}

/// What a relay keeps of an app's serving container to create it again if it goes: how Docker
/// was asked to create it. Kept in memory only — its env holds the app's secrets — and printed
/// without it.
#[derive(Clone, PartialEq)]
pub struct Kept {
    pub deployment: String,
    pub spec: ContainerSpec,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("deployment", &self.deployment)
            .field("container", &self.spec.name)
            .field("image", &self.spec.image)
            .finish_non_exhaustive()
    }
}

/// Keeps how `container` (an app's serving one) was created; `None` when it is gone or is not
/// a deployment's.
pub async fn keep(host: &Host, container: &str) -> Result<Option<Kept>, EngineError> {
    let Some(spec) = host.docker().container_spec(container).await? else {
        return Ok(None);
    };
    let Some(deployment) = spec.labels.get(labels::DEPLOYMENT).cloned() else {
        return Ok(None);
    };
    Ok(Some(Kept { deployment, spec }))
}

/// Which of `seen`'s containers serves: the one running, or of several running (a deploy
/// between start and switch) the one the route dials; `None` when that cannot be told.
pub fn serving_of(seen: &AppSeen, port: u16, via_loopback: bool) -> Option<&str> {
    let running: Vec<&ContainerSeen> = seen.containers.iter().filter(|c| c.running).collect();
    match running.as_slice() {
        [one] => Some(one.name.as_str()),
        [] => None,
        several => {
            let dials = seen.route_upstream.as_deref()?;
            several
                .iter()
                .find(|c| {
                    let want = if via_loopback {
                        c.published_port.map(|p| format!("127.0.0.1:{p}"))
                    } else {
                        Some(format!("{}:{port}", c.name))
                    };
                    want.as_deref() == Some(dials)
                })
                .map(|c| c.name.as_str())
        }
    }
}

/// How a container the relay put back shows it is up: an app's health path, or a service's
/// probe (its kind's command run inside it; `None`: it keeps running).
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    Http(HealthCheck),
    Probe {
        command: Option<Vec<String>>,
        deadline_ms: u64,
    },
}

/// The relay's own reconcile of one app, from what it kept of the serving container: the drifts
/// of [`plan_reconcile`] it can fix without Berth and the plan that fixes them — a stopped
/// container started, a removed one created again as it was, each health-checked and routed
/// again; an orphan removed; a route put back. A deployment stuck in progress is Berth's record,
/// not the relay's: it is left to `berth reconcile`.
pub fn plan_relay_fix(
    record: &AppRecord,
    seen: &AppSeen,
    kept: &Kept,
    ready: &Readiness,
) -> (Vec<Drift>, Plan) {
    let drifts: Vec<Drift> = plan_reconcile(record, seen)
        .into_iter()
        .filter(|d| !matches!(d.fix, Fix::Settle))
        .collect();
    let mut actions = Vec::new();
    let container = &kept.spec.name;
    let revive = |actions: &mut Vec<PlannedAction>, recreate: bool| {
        if recreate {
            actions.push(PlannedAction {
                step: Step::Start,
                action: Action::Recreate(Box::new(kept.clone())),
            });
        }
        actions.push(PlannedAction {
            step: Step::Start,
            action: Action::Start {
                container: container.clone(),
            },
        });
        actions.push(PlannedAction {
            step: Step::HealthCheck,
            action: match ready {
                Readiness::Http(health) => Action::HealthCheck {
                    container: container.clone(),
                    port: record.port,
                    health: health.clone(),
                },
                Readiness::Probe {
                    command,
                    deadline_ms,
                } => Action::Probe {
                    container: container.clone(),
                    command: command.clone(),
                    interval_ms: 500,
                    deadline_ms: *deadline_ms,
                },
            },
        });
        // A new container has a new published port: an adopted Caddy dials that.
        if let Some(route) = &record.route {
            actions.push(PlannedAction {
                step: Step::Switch,
                action: Action::Route {
                    route: route.clone(),
                    container: container.clone(),
                    port: record.port,
                },
            });
        }
    };
    // Orphans go last: the route leaves them first.
    let mut cleanup = Vec::new();
    for d in &drifts {
        match (&d.fix, d.kind) {
            (Fix::Redeploy, "missing") => revive(&mut actions, true),
            (Fix::Redeploy, _) => revive(&mut actions, false),
            (Fix::Apply(action), _) if matches!(**action, Action::Route { .. }) => {
                actions.push(PlannedAction {
                    step: Step::Switch,
                    action: (**action).clone(),
                })
            }
            (Fix::Apply(action), _) => cleanup.push(PlannedAction {
                step: Step::Cleanup,
                action: (**action).clone(),
            }),
            (Fix::Settle, _) => {}
        }
    }
    actions.extend(cleanup);
    (drifts, Plan { actions })
}

/// Runs the relay's reconcile plan by the one runner (stops at the first failure).
pub async fn apply_relay_fix(host: &Host, plan: Plan) -> Result<(), EngineError> {
    if plan.actions.is_empty() {
        return Ok(());
    }
    tracing::info!("reconcile on {}:\n{plan}", host.name());
    crate::power::apply(host, plan, &tokio_util::sync::CancellationToken::new()).await
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::plan::UpstreamVia;

    fn route() -> RoutePlan {
        RoutePlan {
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            server: "berth".into(),
            id: "berth-app-web".into(),
            hosts: vec!["web.example.com".into()],
            via: UpstreamVia::Network,
            drain_timeout_secs: 30,
        }
    }

    fn record() -> AppRecord {
        AppRecord {
            app: "web".into(),
            active: Some(("d2".into(), "web-d2".into())),
            stopped: false,
            stuck: Vec::new(),
            route: Some(route()),
            port: 8080,
        }
    }

    fn container(name: &str, deployment: &str, running: bool, age_secs: i64) -> ContainerSeen {
        ContainerSeen {
            name: name.into(),
            deployment: Some(deployment.into()),
            running,
            age_secs,
            published_port: None,
        }
    }

    fn lines(drifts: &[Drift]) -> Vec<String> {
        drifts
            .iter()
            .map(|d| format!("{}: {} → {}", d.kind, d.problem, d.fix_text()))
            .collect()
    }

    #[test]
    fn what_matches_is_no_drift() {
        let seen = AppSeen {
            containers: vec![container("web-d2", "d2", true, 9999)],
            route_upstream: Some("web-d2:8080".into()),
        };
        assert!(plan_reconcile(&record(), &seen).is_empty());
        // Stopped by the user: as asked.
        let stopped = AppSeen {
            containers: vec![container("web-d2", "d2", false, 9999)],
            route_upstream: Some("web-d2:8080".into()),
        };
        let mut r = record();
        r.stopped = true;
        assert!(plan_reconcile(&r, &stopped).is_empty());
    }

    #[test]
    fn a_vanished_container_an_orphan_and_a_stale_route() {
        let seen = AppSeen {
            containers: vec![
                container("web-d1", "d1", false, 9999),
                // A deploy in progress: too young to be an orphan.
                container("web-d3", "d3", true, 5),
            ],
            route_upstream: Some("web-d1:8080".into()),
        };
        assert_eq!(
            lines(&plan_reconcile(&record(), &seen)),
            [
                "missing: the container web-d2 of active deployment d2 is gone → deploy the recorded image again (health-checked)",
                "orphan: container web-d1 (deployment d1) belongs to no active deployment → remove the container web-d1 if there is one (its volumes stay)",
            ]
        );
        let seen = AppSeen {
            containers: vec![container("web-d2", "d2", true, 9999)],
            route_upstream: Some("web-d1:8080".into()),
        };
        assert_eq!(
            lines(&plan_reconcile(&record(), &seen)),
            [
                "route-stale: the route dials web-d1:8080, not the serving container (web-d2:8080) → route web.example.com to web-d2:8080 (caddy route berth-app-web)"
            ]
        );
        let seen = AppSeen {
            containers: vec![container("web-d2", "d2", true, 9999)],
            route_upstream: None,
        };
        assert_eq!(plan_reconcile(&record(), &seen)[0].kind, "route-missing");
    }

    fn kept() -> Kept {
        Kept {
            deployment: "d2".into(),
            spec: ContainerSpec {
                name: "web-d2".into(),
                image: "berth/web:d2".into(),
                env: vec!["DATABASE_URL=postgres://secret@db/web".into()],
                labels: Default::default(),
                port: 8080,
                network: "berth".into(),
                cpus: None,
                memory_bytes: Some(256 << 20),
                volumes: Vec::new(),
                stop_grace_secs: 10,
                cmd: None,
                alias: None,
                publish: berth_docker::PortPublish::Loopback,
            },
        }
    }

    fn relay_fix(record: &AppRecord, seen: &AppSeen) -> String {
        let (drifts, plan) = plan_relay_fix(
            record,
            seen,
            &kept(),
            &Readiness::Http(HealthCheck::default()),
        );
        format!("{}\n{plan}", lines(&drifts).join("\n"))
    }

    #[test]
    fn the_relay_brings_back_what_went_and_leaves_what_the_user_stopped() {
        // Removed behind Berth's back: created again as it ran, checked, routed.
        let gone = AppSeen {
            containers: Vec::new(),
            route_upstream: Some("web-d2:8080".into()),
        };
        expect![[r#"
            missing: the container web-d2 of active deployment d2 is gone → deploy the recorded image again (health-checked)
            start        create web-d2 again from berth/web:d2 as deployment d2 ran it
            start        start web-d2
            health-check GET / on web-d2:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            switch       route web.example.com to web-d2:8080 (caddy route berth-app-web)
        "#]].assert_eq(&relay_fix(&record(), &gone));
        // Stopped behind Berth's back: started again.
        let stopped = AppSeen {
            containers: vec![container("web-d2", "d2", false, 9999)],
            route_upstream: Some("web-d2:8080".into()),
        };
        expect![[r#"
            stopped: the container web-d2 of active deployment d2 is not running, and it was not stopped with `berth stop` → deploy the recorded image again (health-checked)
            start        start web-d2
            health-check GET / on web-d2:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            switch       route web.example.com to web-d2:8080 (caddy route berth-app-web)
        "#]].assert_eq(&relay_fix(&record(), &stopped));
        // Stopped with `berth stop`: as asked.
        let mut r = record();
        r.stopped = true;
        assert!(
            plan_relay_fix(
                &r,
                &stopped,
                &kept(),
                &Readiness::Http(HealthCheck::default())
            )
            .1
            .actions
            .is_empty()
        );
        // An orphan and a stale route.
        let orphan = AppSeen {
            containers: vec![
                container("web-d2", "d2", true, 9999),
                container("web-d1", "d1", false, 9999),
            ],
            route_upstream: Some("web-d1:8080".into()),
        };
        expect![[r#"
            orphan: container web-d1 (deployment d1) belongs to no active deployment → remove the container web-d1 if there is one (its volumes stay)
            route-stale: the route dials web-d1:8080, not the serving container (web-d2:8080) → route web.example.com to web-d2:8080 (caddy route berth-app-web)
            switch       route web.example.com to web-d2:8080 (caddy route berth-app-web)
            cleanup      remove the container web-d1 if there is one (its volumes stay)
        "#]].assert_eq(&relay_fix(&record(), &orphan));
        // A stuck deployment is Berth's record: nothing for the relay.
        let mut r = record();
        r.stuck = vec!["d3".into()];
        assert!(
            plan_relay_fix(&r, &gone, &kept(), &Readiness::Http(HealthCheck::default()))
                .0
                .is_empty()
        );
    }

    #[test]
    fn the_kept_container_is_printed_without_its_env() {
        let shown = format!("{:?}", kept());
        assert!(
            shown.contains("web-d2") && !shown.contains("secret"),
            "{shown}"
        );
    }

    #[test]
    fn what_serves_is_the_one_running_or_the_one_routed() {
        let mut seen = AppSeen {
            containers: vec![
                container("web-d2", "d2", true, 9999),
                container("web-d1", "d1", false, 9999),
            ],
            route_upstream: None,
        };
        assert_eq!(serving_of(&seen, 8080, false), Some("web-d2"));
        seen.containers[1].running = true;
        assert_eq!(serving_of(&seen, 8080, false), None);
        seen.route_upstream = Some("web-d1:8080".into());
        assert_eq!(serving_of(&seen, 8080, false), Some("web-d1"));
    }
}
