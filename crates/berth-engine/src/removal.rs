//! Removing an app from its server as a plan: every container labelled with it, and — when the
//! user purges — its images and the named volumes it declared (their data is gone). Bind
//! mounts (absolute paths on the server) are never touched.

use berth_docker::labels;
use berth_model::{App, Step};

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction};

/// What the server holds of an app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppOnHost {
    pub containers: Vec<String>,
    /// Image ids.
    pub images: Vec<String>,
}

/// Plans removing `app` (with `purge`: its images and named volumes too).
pub fn plan_app_removal(app: &App, on_host: &AppOnHost, purge: bool) -> Plan {
    let mut actions = Vec::new();
    let mut push = |step, action| actions.push(PlannedAction { step, action });
    for container in &on_host.containers {
        push(
            Step::Cleanup,
            Action::ReplaceContainer {
                container: container.clone(),
            },
        );
    }
    if purge {
        for image in &on_host.images {
            push(
                Step::Cleanup,
                Action::PurgeImage {
                    image: image.clone(),
                },
            );
        }
        for v in app.volumes.iter().filter(|v| !v.source.starts_with('/')) {
            push(
                Step::Cleanup,
                Action::RemoveVolume {
                    volume: v.source.clone(),
                },
            );
        }
    }
    Plan { actions }
}

/// Removes what the server holds of `app`: observes, plans, applies. A container or image that
/// cannot be removed stops the removal with the reason; a volume that cannot is reported and
/// skipped (another container may still use it).
pub async fn remove_app(host: &Host, app: &App, purge: bool) -> Result<(), EngineError> {
    let docker = host.docker();
    let app_labels = [(labels::APP, app.name.as_str()), (labels::MANAGED, "true")];
    let on_host = AppOnHost {
        containers: docker.containers_with_labels(&app_labels).await?,
        images: docker
            .images_with_labels(&app_labels)
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect(),
    };
    let plan = plan_app_removal(app, &on_host, purge);
    tracing::debug!("removing {} from {}:\n{plan}", app.name, host.name());
    for planned in plan.actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use berth_model::{AppDraft, Volume};
    use expect_test::expect;

    use super::*;

    #[test]
    fn purging_removes_images_and_named_volumes_but_never_bind_mounts() {
        let app = AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src/hello".into(),
            volumes: vec![
                Volume::parse("data:/data").unwrap(),
                Volume::parse("/srv/uploads:/uploads").unwrap(),
            ],
            ..AppDraft::default()
        }
        .validate(0)
        .unwrap();
        let on_host = AppOnHost {
            containers: vec!["berth-hello-aaaa1111".into()],
            images: vec!["sha256:1111".into(), "sha256:2222".into()],
        };
        expect![[r#"
            cleanup      remove the container berth-hello-aaaa1111 if there is one (its volumes stay)
        "#]]
        .assert_eq(&plan_app_removal(&app, &on_host, false).to_string());
        expect![[r#"
            cleanup      remove the container berth-hello-aaaa1111 if there is one (its volumes stay)
            cleanup      remove image sha256:1111 (purge)
            cleanup      remove image sha256:2222 (purge)
            cleanup      remove volume data and its data
        "#]]
        .assert_eq(&plan_app_removal(&app, &on_host, true).to_string());
    }
}
