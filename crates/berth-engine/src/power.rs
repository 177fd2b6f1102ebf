//! Stopping and starting an app's serving container as plans: a stop that lets it finish
//! within its grace period, a start that waits until it is healthy again — and nothing to do
//! when it already is where the user wants it.

use berth_model::{App, Step};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::health::{wait_healthy, wait_probe};
use crate::host::Host;
use crate::observe::{ContainerState, container_state};
use crate::plan::{Action, Plan, PlannedAction};

/// A container and what it was observed doing.
pub type Observed<'a> = (&'a str, &'a ContainerState);

/// Plans stopping the app's serving container and its workers (observed): nothing for one
/// that is not running.
pub fn plan_stop(app: &App, web: Observed<'_>, workers: &[Observed<'_>]) -> Plan {
    let mut actions = Vec::new();
    for (container, state) in std::iter::once(&web).chain(workers) {
        if state.running {
            actions.push(PlannedAction {
                step: Step::Drain,
                action: Action::Stop {
                    container: (*container).to_owned(),
                    grace_secs: app.stop_grace_secs,
                },
            });
        }
    }
    Plan { actions }
}

/// Plans starting the app's serving container and checking it is healthy (a running one is
/// only checked), then its workers.
pub fn plan_start(app: &App, web: Observed<'_>, workers: &[Observed<'_>]) -> Plan {
    let mut actions = Vec::new();
    let (container, state) = web;
    if !state.running {
        actions.push(PlannedAction {
            step: Step::Start,
            action: Action::Start {
                container: container.to_owned(),
            },
        });
    }
    actions.push(PlannedAction {
        step: Step::HealthCheck,
        action: crate::plan::readiness(app, container),
    });
    for (worker, state) in workers {
        if !state.running {
            actions.push(PlannedAction {
                step: Step::Start,
                action: Action::Start {
                    container: (*worker).to_owned(),
                },
            });
        }
    }
    Plan { actions }
}

/// The workers beside the app's web `container` (same deployment): `<container>-<process>`.
pub async fn workers_of(
    host: &Host,
    app: &str,
    container: &str,
) -> Result<Vec<String>, EngineError> {
    let prefix = format!("{container}-");
    let mut names: Vec<String> = host
        .docker()
        .containers_with_labels(&[(berth_docker::labels::APP, app)])
        .await?
        .into_iter()
        .filter(|name| name.starts_with(&prefix) && !name.ends_with("-release"))
        .collect();
    names.sort();
    Ok(names)
}

/// The workers beside `container` with their states.
async fn observed_workers(
    host: &Host,
    app: &App,
    container: &str,
) -> Result<Vec<(String, ContainerState)>, EngineError> {
    let mut out = Vec::new();
    for name in workers_of(host, &app.name, container).await? {
        if let Some(state) = container_state(host, &name).await? {
            out.push((name, state));
        }
    }
    Ok(out)
}

async fn observed(host: &Host, container: &str) -> Result<ContainerState, EngineError> {
    container_state(host, container).await?.ok_or_else(|| {
        EngineError::Docker(berth_docker::DockerError::NotFound {
            what: format!("container {container}"),
        })
    })
}

/// Stops the app's serving `container` and its workers (see [`plan_stop`]).
pub async fn stop_app(host: &Host, app: &App, container: &str) -> Result<(), EngineError> {
    let state = observed(host, container).await?;
    let workers = observed_workers(host, app, container).await?;
    let workers: Vec<Observed<'_>> = workers.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let plan = plan_stop(app, (container, &state), &workers);
    apply(host, plan, &CancellationToken::new()).await
}

/// Starts the app's serving `container` again and waits until it is healthy (see
/// [`plan_start`]).
pub async fn start_app(
    host: &Host,
    app: &App,
    container: &str,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    let state = observed(host, container).await?;
    let workers = observed_workers(host, app, container).await?;
    let workers: Vec<Observed<'_>> = workers.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let plan = plan_start(app, (container, &state), &workers);
    apply(host, plan, cancel).await
}

pub(crate) async fn apply(
    host: &Host,
    plan: Plan,
    cancel: &CancellationToken,
) -> Result<(), EngineError> {
    tracing::debug!("on {}:\n{plan}", host.name());
    for planned in plan.actions {
        match planned.action {
            Action::Stop {
                container,
                grace_secs,
            } => host.docker().stop_container(&container, grace_secs).await?,
            Action::Start { container } => host.docker().start_container(&container).await?,
            Action::HealthCheck {
                container,
                port,
                health,
            } => {
                wait_healthy(host, &container, port, &health, cancel).await?;
                // Healthy: Docker restarts it from now on (a re-created one starts without).
                host.docker().keep_running(&container).await?;
            }
            Action::Probe {
                container,
                command,
                interval_ms,
                deadline_ms,
            } => {
                wait_probe(
                    host,
                    &container,
                    command.as_deref(),
                    interval_ms,
                    deadline_ms,
                    cancel,
                )
                .await?;
                host.docker().keep_running(&container).await?;
            }
            other => crate::service::apply_host_action(host, other).await?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn app() -> App {
        berth_model::app::AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            ..Default::default()
        }
        .validate(0)
        .expect("a valid app")
    }

    fn state(running: bool) -> ContainerState {
        ContainerState {
            running,
            status: if running { "running" } else { "exited" }.into(),
            exit_code: (!running).then_some(0),
            published_port: None,
        }
    }

    #[test]
    fn a_stop_lets_the_app_finish_and_a_start_waits_until_it_is_healthy() {
        let app = app();
        let web = "berth-hello-aaaa1111";
        let (up, down) = (state(true), state(false));
        expect![[r#"
            drain        stop berth-hello-aaaa1111 (grace 10s)
        "#]]
        .assert_eq(&plan_stop(&app, (web, &up), &[]).to_string());
        assert_eq!(
            plan_stop(&app, (web, &down), &[]).to_string(),
            "",
            "a stopped app is left as it is"
        );
        expect![[r#"
            start        start berth-hello-aaaa1111
            health-check GET / on berth-hello-aaaa1111:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
        "#]]
        .assert_eq(&plan_start(&app, (web, &down), &[]).to_string());
        expect![[r#"
            health-check GET / on berth-hello-aaaa1111:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
        "#]]
        .assert_eq(&plan_start(&app, (web, &up), &[]).to_string());
        // Workers stop and start with the app; the web container is healthy first.
        let worker = "berth-hello-aaaa1111-worker";
        expect![[r#"
            drain        stop berth-hello-aaaa1111 (grace 10s)
            drain        stop berth-hello-aaaa1111-worker (grace 10s)
        "#]]
        .assert_eq(&plan_stop(&app, (web, &up), &[(worker, &up)]).to_string());
        expect![[r#"
            start        start berth-hello-aaaa1111
            health-check GET / on berth-hello-aaaa1111:8080 every 200ms until 2xx/3xx (timeout 5s, deadline 30s)
            start        start berth-hello-aaaa1111-worker
        "#]]
        .assert_eq(&plan_start(&app, (web, &down), &[(worker, &down)]).to_string());
    }
}
