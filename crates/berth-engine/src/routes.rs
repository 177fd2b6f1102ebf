//! Reconfiguring an app's route outside a deploy — a domain added or removed, a base domain
//! changed, the app removed — as a plan: point the route at the serving container, or delete
//! it when the app has no names or nothing serves.

use berth_docker::labels;
use berth_model::Step;

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction, RoutePlan, UpstreamVia};

/// Plans making `route` match what serves: the route to `serving` on `port`, or no route
/// when there is no serving container or no name to answer to.
pub fn plan_route_sync(route: &RoutePlan, serving: Option<&str>, port: u16) -> Plan {
    let action = match serving {
        Some(container) if !route.hosts.is_empty() => Action::Route {
            route: route.clone(),
            container: container.to_owned(),
            port,
        },
        _ => Action::DeleteRoute {
            admin: route.admin.clone(),
            id: route.id.clone(),
        },
    };
    Plan {
        actions: vec![PlannedAction {
            step: Step::Switch,
            action,
        }],
    }
}

/// Makes the app's route on the server's proxy match `serving` (see [`plan_route_sync`]).
pub async fn sync_route(
    host: &Host,
    route: &RoutePlan,
    serving: Option<&str>,
    port: u16,
) -> Result<(), EngineError> {
    for planned in plan_route_sync(route, serving, port).actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    Ok(())
}

/// Plans re-pointing the route when what it dials (`current`) is not where the serving
/// container answers now (`want`): an adopted Caddy dials a published loopback port, and
/// Docker publishes a new one each time the container starts (`berth start`, a Docker restart,
/// a reboot). Nothing to do when they agree, when the container publishes nothing yet, or when
/// the route reaches another running container of the app (`live`: a deploy someone else
/// runs — the relay — switched it, and Berth's records have not caught up).
pub fn plan_route_repair(
    route: &RoutePlan,
    serving: &str,
    port: u16,
    current: Option<&str>,
    want: Option<&str>,
    live: &[String],
) -> Plan {
    let mut actions = Vec::new();
    let elsewhere = current.is_some_and(|c| live.iter().any(|l| l == c));
    if let Some(want) = want
        && current != Some(want)
        && !elsewhere
        && !route.hosts.is_empty()
    {
        actions.push(PlannedAction {
            step: Step::Switch,
            action: Action::Route {
                route: route.clone(),
                container: serving.to_owned(),
                port,
            },
        });
    }
    Plan { actions }
}

/// Observes the app's route and the serving container, and re-points the route if it no
/// longer reaches it (see [`plan_route_repair`]). Returns whether it did.
pub async fn repair_route(
    host: &Host,
    app: &str,
    route: &RoutePlan,
    serving: &str,
    port: u16,
) -> Result<bool, EngineError> {
    let current = host
        .caddy(&route.admin)
        .await?
        .route(&route.id)
        .await?
        .map(|r| r.upstream);
    let published = match route.via {
        UpstreamVia::Loopback => crate::observe::container_state(host, serving)
            .await?
            .and_then(|c| c.published_port),
        UpstreamVia::Network => None,
    };
    let want = crate::apply::upstream(route.via, serving, port, published);
    let mut live = Vec::new();
    for name in host
        .docker()
        .containers_with_labels(&[(labels::APP, app), (labels::MANAGED, "true")])
        .await?
        .into_iter()
        .filter(|n| n != serving)
    {
        // A worker never serves: it is no candidate for the route.
        if let Some(c) = host.docker().inspect_container(&name).await?
            && c.running
            && !c.labels.contains_key(labels::PROCESS)
            && let Some(dial) = crate::apply::upstream(route.via, &name, port, c.published_port)
        {
            live.push(dial);
        }
    }
    let plan = plan_route_repair(
        route,
        serving,
        port,
        current.as_deref(),
        want.as_deref(),
        &live,
    );
    let repaired = !plan.actions.is_empty();
    if repaired {
        tracing::info!(
            "route {} dialed {}; re-pointing it:\n{plan}",
            route.id,
            current.as_deref().unwrap_or("nothing")
        );
    }
    for planned in plan.actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    Ok(repaired)
}

/// Deletes the route `id` from the proxy at `admin` (the app is being removed).
pub async fn drop_route(host: &Host, admin: &str, id: &str) -> Result<(), EngineError> {
    crate::service::apply_host_action(
        host,
        Action::DeleteRoute {
            admin: admin.to_owned(),
            id: id.to_owned(),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    #[test]
    fn a_route_follows_the_serving_container_or_goes() {
        let mut route = RoutePlan {
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            server: "berth".into(),
            id: "berth-app-hello".into(),
            hosts: vec!["hello.example.com".into(), "www.example.com".into()],
            via: UpstreamVia::Network,
            drain_timeout_secs: 30,
        };
        expect![[r#"
            switch       route hello.example.com www.example.com to berth-hello-aaaa1111:8080 (caddy route berth-app-hello)
        "#]]
        .assert_eq(&plan_route_sync(&route, Some("berth-hello-aaaa1111"), 8080).to_string());
        expect![[r#"
            switch       delete caddy route berth-app-hello
        "#]]
        .assert_eq(&plan_route_sync(&route, None, 8080).to_string());
        route.hosts.clear();
        expect![[r#"
            switch       delete caddy route berth-app-hello
        "#]]
        .assert_eq(&plan_route_sync(&route, Some("berth-hello-aaaa1111"), 8080).to_string());
    }

    #[test]
    fn an_adopted_route_follows_the_port_docker_published_last() {
        let route = RoutePlan {
            admin: "127.0.0.1:2019".into(),
            server: "srv0".into(),
            id: "berth-app-hello".into(),
            hosts: vec!["hello.example.com".into()],
            via: UpstreamVia::Loopback,
            drain_timeout_secs: 30,
        };
        let c = "berth-hello-aaaa1111";
        expect![[r#"
            switch       route hello.example.com to 127.0.0.1:<published port of berth-hello-aaaa1111> (caddy route berth-app-hello)
        "#]]
        .assert_eq(
            &plan_route_repair(
                &route,
                c,
                8080,
                Some("127.0.0.1:49153"),
                Some("127.0.0.1:49160"),
                &[],
            )
            .to_string(),
        );
        let same = plan_route_repair(
            &route,
            c,
            8080,
            Some("127.0.0.1:49160"),
            Some("127.0.0.1:49160"),
            &[],
        );
        assert!(same.actions.is_empty(), "{same}");
        let unpublished = plan_route_repair(&route, c, 8080, Some("127.0.0.1:49153"), None, &[]);
        assert!(unpublished.actions.is_empty(), "{unpublished}");
        // The relay switched it to its new container before Berth's records caught up.
        let switched = plan_route_repair(
            &route,
            c,
            8080,
            Some("127.0.0.1:49153"),
            Some("127.0.0.1:49160"),
            &["127.0.0.1:49153".to_owned()],
        );
        assert!(switched.actions.is_empty(), "{switched}");
    }
}
