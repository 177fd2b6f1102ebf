//! A stage's instances as the server holds them, for a driver without Berth's records (the
//! relay's unattended deploys): each instance's containers carry the stage and the tag as
//! labels, so whoever deployed them — the desktop, the CLI, the relay — the host says which
//! instances a stage has. After a new instance became healthy, one plan gives the stage's own
//! name to it (added to its route before the others lose it) and removes the oldest beyond
//! `max_instances` (route first, then containers and images).

use std::collections::BTreeMap;

use berth_docker::labels;
use berth_model::{Stage, Step};

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction, RoutePlan, UpstreamVia};

/// `<app>/<stage>` on every container of a stage's instance.
pub const STAGE_LABEL: &str = "berth.stage";
/// The image tag the instance runs.
pub const STAGE_TAG_LABEL: &str = "berth.stage.tag";

/// The labels an instance of `stage` of `app` running `tag` carries.
pub fn instance_labels(app: &str, stage: &str, tag: &str) -> Vec<(String, String)> {
    vec![
        (STAGE_LABEL.to_owned(), format!("{app}/{stage}")),
        (STAGE_TAG_LABEL.to_owned(), tag.to_owned()),
    ]
}

/// One instance of a stage, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceOnHost {
    /// The instance's app name (`stage-dev-web-dev-4f2a`).
    pub app: String,
    pub tag: String,
    /// Its running container, if one runs.
    pub serving: Option<String>,
    /// Every container of it, running or not.
    pub containers: Vec<String>,
    /// When its newest container was created (RFC 3339).
    pub created: String,
    /// What removing it takes of its images (ids, or Berth's tags of a pulled image).
    pub images: Vec<String>,
}

/// Where a stage's instances answer (`<label>.<base>`) and how the proxy reaches them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRoutes {
    pub admin: String,
    pub server: String,
    pub via: UpstreamVia,
    pub drain_timeout_secs: u32,
    /// The server's base domain.
    pub base: String,
    /// The server's stage subdomain pattern (`stage-{stage}-{app}`).
    pub pattern: String,
}

impl StageRoutes {
    /// The route of the instance running `tag` as `instance`; the stage's own name too when
    /// it is the newest.
    pub fn route(&self, stage: &Stage, instance: &str, tag: &str, newest: bool) -> RoutePlan {
        let mut hosts = vec![format!(
            "{}.{}",
            stage.instance_label(&self.pattern, tag),
            self.base
        )];
        if newest {
            hosts.push(format!(
                "{}.{}",
                stage.subdomain_label(&self.pattern),
                self.base
            ));
        }
        RoutePlan {
            admin: self.admin.clone(),
            server: self.server.clone(),
            id: crate::proxy::route_id(instance),
            hosts,
            via: self.via,
            drain_timeout_secs: self.drain_timeout_secs,
        }
    }
}

/// What settling a stage after `newest` became healthy comes to.
#[derive(Debug, Clone)]
pub struct StagePlan {
    pub plan: Plan,
    /// The instances it removes (beyond `max_instances`), oldest last.
    pub removed: Vec<String>,
}

/// Plans the stage after `newest` became healthy: the newest `max_instances` instances (those
/// with a running container; `newest` first) keep their routes — the stage's own name on
/// `newest`'s, added before the others are re-put without it — and the rest are removed.
pub fn plan_stage(
    stage: &Stage,
    port: u16,
    routes: Option<&StageRoutes>,
    newest: &str,
    instances: &[InstanceOnHost],
) -> StagePlan {
    let mut running: Vec<&InstanceOnHost> =
        instances.iter().filter(|i| i.serving.is_some()).collect();
    running.sort_by(|a, b| {
        (b.app == newest)
            .cmp(&(a.app == newest))
            .then_with(|| b.created.cmp(&a.created))
    });
    let keep = stage.max_instances as usize;
    let mut actions = Vec::new();
    let mut push = |step, action| actions.push(PlannedAction { step, action });
    if let Some(routes) = routes {
        for i in running.iter().take(keep) {
            if let Some(container) = &i.serving {
                push(
                    Step::Switch,
                    Action::Route {
                        route: routes.route(stage, &i.app, &i.tag, i.app == newest),
                        container: container.clone(),
                        port,
                    },
                );
            }
        }
    }
    let mut removed = Vec::new();
    for i in running.iter().skip(keep) {
        if let Some(routes) = routes {
            push(
                Step::Switch,
                Action::DeleteRoute {
                    admin: routes.admin.clone(),
                    id: crate::proxy::route_id(&i.app),
                },
            );
        }
        for container in &i.containers {
            push(
                Step::Cleanup,
                Action::ReplaceContainer {
                    container: container.clone(),
                },
            );
        }
        for image in &i.images {
            push(
                Step::Cleanup,
                Action::PurgeImage {
                    image: image.clone(),
                },
            );
        }
        removed.push(i.app.clone());
    }
    StagePlan {
        plan: Plan { actions },
        removed,
    }
}

/// The instances of `stage` of `app` on the host.
pub async fn stage_instances(
    host: &Host,
    app: &str,
    stage: &str,
) -> Result<Vec<InstanceOnHost>, EngineError> {
    let docker = host.docker();
    let label = format!("{app}/{stage}");
    let names = docker
        .containers_with_labels(&[(STAGE_LABEL, &label), (labels::MANAGED, "true")])
        .await?;
    let mut by_app: BTreeMap<String, InstanceOnHost> = BTreeMap::new();
    for name in names {
        let Some(info) = docker.inspect_container(&name).await? else {
            continue;
        };
        let Some(instance) = info.labels.get(labels::APP).cloned() else {
            continue;
        };
        let i = by_app
            .entry(instance.clone())
            .or_insert_with(|| InstanceOnHost {
                app: instance,
                ..InstanceOnHost::default()
            });
        if info.created > i.created {
            i.created = info.created.clone();
            i.tag = info
                .labels
                .get(STAGE_TAG_LABEL)
                .cloned()
                .unwrap_or_default();
        }
        if info.running && i.serving.is_none() {
            i.serving = Some(info.name.clone());
        }
        i.containers.push(info.name);
    }
    for i in by_app.values_mut() {
        i.images = docker
            .app_images(&i.app)
            .await?
            .iter()
            .flat_map(|img| crate::removal::removable(&i.app, img))
            .collect();
    }
    Ok(by_app.into_values().collect())
}

/// Settles `stage` of `app` after `newest` became healthy (see [`plan_stage`]): observes,
/// plans, applies. Returns the instances it removed.
pub async fn settle_stage(
    host: &Host,
    stage: &Stage,
    port: u16,
    routes: Option<&StageRoutes>,
    newest: &str,
) -> Result<Vec<String>, EngineError> {
    let instances = stage_instances(host, &stage.app, &stage.name).await?;
    let StagePlan { plan, removed } = plan_stage(stage, port, routes, newest, &instances);
    tracing::debug!("settling stage {} of {}:\n{plan}", stage.name, stage.app);
    for planned in plan.actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn dev() -> Stage {
        Stage {
            app: "web".into(),
            name: "dev".into(),
            tags: "dev-*".into(),
            auto_deploy: true,
            max_instances: 2,
            promote_from: None,
            confirm: false,
            subdomain: None,
            created_at: 0,
        }
    }

    fn instance(tag: &str, created: &str, running: bool) -> InstanceOnHost {
        let app = format!("stage-dev-web-{tag}");
        InstanceOnHost {
            serving: running.then(|| format!("{app}-c")),
            containers: vec![format!("{app}-c")],
            images: vec![format!("berth/{app}:d")],
            created: created.into(),
            tag: tag.into(),
            app,
        }
    }

    fn routes() -> StageRoutes {
        StageRoutes {
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            server: "berth".into(),
            via: UpstreamVia::Network,
            drain_timeout_secs: 30,
            base: "apps.test".into(),
            pattern: "stage-{stage}-{app}".into(),
        }
    }

    #[test]
    fn the_newest_takes_the_stage_name_and_the_oldest_goes() {
        let instances = [
            instance("dev-1", "2026-12-06T10:00:00Z", true),
            instance("dev-2", "2026-12-06T11:00:00Z", true),
            instance("dev-3", "2026-12-06T12:00:00Z", true),
            // Stopped by the user: neither counted nor removed.
            instance("dev-0", "2026-12-06T09:00:00Z", false),
        ];
        let planned = plan_stage(
            &dev(),
            8080,
            Some(&routes()),
            "stage-dev-web-dev-3",
            &instances,
        );
        assert_eq!(planned.removed, ["stage-dev-web-dev-1"]);
        expect![[r#"
            switch       route stage-dev-web-dev-3.apps.test stage-dev-web.apps.test to stage-dev-web-dev-3-c:8080 (caddy route berth-app-stage-dev-web-dev-3)
            switch       route stage-dev-web-dev-2.apps.test to stage-dev-web-dev-2-c:8080 (caddy route berth-app-stage-dev-web-dev-2)
            switch       delete caddy route berth-app-stage-dev-web-dev-1
            cleanup      remove the container stage-dev-web-dev-1-c if there is one (its volumes stay)
            cleanup      remove image berth/stage-dev-web-dev-1:d (purge)
        "#]].assert_eq(&planned.plan.to_string());
    }

    #[test]
    fn without_a_proxy_only_removal_is_planned() {
        let instances = [
            instance("dev-1", "2026-12-06T10:00:00Z", true),
            instance("dev-2", "2026-12-06T11:00:00Z", true),
        ];
        let mut stage = dev();
        stage.max_instances = 1;
        // A redeploy of the older tag makes it the newest whatever its container's age.
        let planned = plan_stage(&stage, 8080, None, "stage-dev-web-dev-1", &instances);
        assert_eq!(planned.removed, ["stage-dev-web-dev-2"]);
        expect![[r#"
            cleanup      remove the container stage-dev-web-dev-2-c if there is one (its volumes stay)
            cleanup      remove image berth/stage-dev-web-dev-2:d (purge)
        "#]].assert_eq(&planned.plan.to_string());
    }
}
