//! Removing things from a server as plans. An app: every container labelled with it, and —
//! when the user purges — its images and the named volumes it declared (their data is gone);
//! bind mounts (absolute paths on the server) are never touched. A server Berth stops using,
//! when the user purges it: the proxy Berth runs there (its certificates too) and the webhook
//! relay (its image and its deliveries); a Caddy the user runs only loses Berth's routes.

use berth_docker::labels;
use berth_model::{App, ProxyConfig, ProxyMode, Server, Step};
use berth_relay_proto::proto;

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

/// What removing `image` of `app` means: its id when it is Berth's alone, else only its
/// `berth/<app>:…` tags (a pulled image keeps the registry tag it came with).
pub(crate) fn removable(app: &str, image: &berth_docker::ImageInfo) -> Vec<String> {
    let prefix = format!("berth/{app}:");
    let (ours, others): (Vec<&String>, Vec<&String>) = image
        .tags
        .iter()
        .filter(|t| t.as_str() != "<none>:<none>")
        .partition(|t| t.starts_with(&prefix));
    if others.is_empty() {
        vec![image.id.clone()]
    } else {
        ours.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod removable_tests {
    use super::*;

    fn image(tags: &[&str]) -> berth_docker::ImageInfo {
        berth_docker::ImageInfo {
            id: "sha256:1".into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            created: 0,
            labels: Default::default(),
            size: 0,
        }
    }

    #[test]
    fn a_pulled_image_loses_only_berths_tags() {
        assert_eq!(removable("web", &image(&["berth/web:d1"])), ["sha256:1"]);
        assert_eq!(removable("web", &image(&[])), ["sha256:1"]);
        assert_eq!(
            removable(
                "web",
                &image(&["reg/acme/web:1.0", "berth/web:d1", "berth/web:d2"])
            ),
            ["berth/web:d1", "berth/web:d2"]
        );
    }
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
            .app_images(&app.name)
            .await?
            .iter()
            .flat_map(|i| removable(&app.name, i))
            .collect(),
    };
    let plan = plan_app_removal(app, &on_host, purge);
    tracing::debug!("removing {} from {}:\n{plan}", app.name, host.name());
    for planned in plan.actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    Ok(())
}

/// Berth's own services on a server, as observed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicesOnHost {
    /// `berth-proxy`, `berth-relay`, when they exist.
    pub containers: Vec<String>,
    /// The relay's image ids (built on the server by Berth).
    pub relay_images: Vec<String>,
}

/// The named volumes of the managed proxy (certificates, autosaved config).
const PROXY_VOLUMES: [&str; 2] = ["berth-proxy-data", "berth-proxy-config"];

/// Plans taking Berth's services off `server`: the relay's route from the proxy, the managed
/// proxy and the relay with their images and volumes. A Caddy the user runs (adopted) stays.
pub fn plan_server_purge(server: &Server, on_host: &ServicesOnHost) -> Plan {
    let mut actions = Vec::new();
    let mut push = |action| {
        actions.push(PlannedAction {
            step: Step::Cleanup,
            action,
        })
    };
    let managed = matches!(
        server.proxy.as_ref().map(|p| &p.mode),
        Some(ProxyMode::Managed { .. })
    );
    if let Some(proxy) = &server.proxy
        && !managed
        && server.relay.is_some()
    {
        push(Action::DeleteRoute {
            admin: proxy.admin.clone(),
            id: crate::proxy::RELAY_ROUTE_ID.to_owned(),
        });
    }
    let relay = on_host.containers.iter().any(|c| c == proto::CONTAINER);
    let proxy = managed
        && on_host
            .containers
            .iter()
            .any(|c| c == ProxyConfig::CONTAINER);
    if relay {
        push(Action::ReplaceContainer {
            container: proto::CONTAINER.to_owned(),
        });
    }
    for image in &on_host.relay_images {
        push(Action::PurgeImage {
            image: image.clone(),
        });
    }
    if relay || !on_host.relay_images.is_empty() {
        push(Action::RemoveVolume {
            volume: proto::DATA_VOLUME.to_owned(),
        });
    }
    if proxy {
        push(Action::ReplaceContainer {
            container: ProxyConfig::CONTAINER.to_owned(),
        });
        for volume in PROXY_VOLUMES {
            push(Action::RemoveVolume {
                volume: volume.to_owned(),
            });
        }
    }
    Plan { actions }
}

/// Takes Berth's services off `server` (see [`plan_server_purge`]): observes, plans, applies.
pub async fn purge_server(host: &Host, server: &Server) -> Result<(), EngineError> {
    let docker = host.docker();
    let mut containers = Vec::new();
    for role in ["proxy", "relay"] {
        containers.extend(
            docker
                .containers_with_labels(&[(labels::MANAGED, "true"), (labels::ROLE, role)])
                .await?,
        );
    }
    let relay_images = docker
        .images_with_labels(&[(labels::MANAGED, "true"), (labels::ROLE, "relay")])
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let on_host = ServicesOnHost {
        containers,
        relay_images,
    };
    let plan = plan_server_purge(server, &on_host);
    tracing::debug!("purging Berth from {}:\n{plan}", server.name);
    for planned in plan.actions {
        crate::service::apply_host_action(host, planned.action).await?;
    }
    if let Some(proxy) = &server.proxy {
        host.forget_caddy(&proxy.admin).await;
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

    #[test]
    fn purging_a_server_takes_berths_services_off_it_but_never_an_adopted_caddy() {
        let mut server = crate::fixtures::server_with_proxy_and_relay(None);
        let on_host = ServicesOnHost {
            containers: vec!["berth-proxy".into(), "berth-relay".into()],
            relay_images: vec!["sha256:7777".into()],
        };
        expect![[r#"
            cleanup      remove the container berth-relay if there is one (its volumes stay)
            cleanup      remove image sha256:7777 (purge)
            cleanup      remove volume berth-relay-data and its data
            cleanup      remove the container berth-proxy if there is one (its volumes stay)
            cleanup      remove volume berth-proxy-data and its data
            cleanup      remove volume berth-proxy-config and its data
        "#]]
        .assert_eq(&plan_server_purge(&server, &on_host).to_string());
        if let Some(p) = server.proxy.as_mut() {
            p.mode = ProxyMode::Adopted;
            p.admin = "127.0.0.1:2019".into();
        }
        expect![[r#"
            cleanup      delete caddy route berth-relay
            cleanup      remove the container berth-relay if there is one (its volumes stay)
            cleanup      remove image sha256:7777 (purge)
            cleanup      remove volume berth-relay-data and its data
        "#]]
        .assert_eq(&plan_server_purge(&server, &on_host).to_string());
        assert_eq!(
            plan_server_purge(&server, &ServicesOnHost::default()).to_string(),
            "cleanup      delete caddy route berth-relay\n",
            "nothing of Berth's on the server: only its route in the user's Caddy goes"
        );
    }
}
