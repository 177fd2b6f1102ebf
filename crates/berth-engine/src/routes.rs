//! Reconfiguring an app's route outside a deploy — a domain added or removed, a base domain
//! changed, the app removed — as a plan: point the route at the serving container, or delete
//! it when the app has no names or nothing serves.

use berth_model::Step;

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction, RoutePlan};

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
    use crate::plan::UpstreamVia;

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
}
