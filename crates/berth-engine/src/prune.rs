//! Reclaiming a server's disk as a plan: Berth's images that no rollback can reach, dangling
//! images, and the build cache no build uses. Never an image a container uses, never one the
//! retention rule keeps — by the driver's records (`keep`: the images of every app's serving
//! and last healthy deployments) and by what the host shows (the newest images of every app
//! that still has containers, in case the records are behind the relay) — and never an image
//! that is not Berth's (the user's own, the proxy's, the relay's). An image the records do not
//! explain is left alone for an hour ([`GRACE_SECS`]): a deploy in progress elsewhere.

use std::collections::{BTreeMap, HashSet};

use berth_docker::{ImageInfo, labels};
use berth_model::{PruneReport, PrunedImage, Step};

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction};
use crate::retention::KEEP_IMAGES;

/// What prune observed on the host.
#[derive(Debug, Clone, Default)]
pub struct PruneObserved {
    /// Every top-level image, newest first.
    pub images: Vec<ImageInfo>,
    /// The ids of images containers use.
    pub in_use: HashSet<String>,
    /// Apps that still have containers (running or not).
    pub apps_with_containers: HashSet<String>,
    /// Build cache no build uses, in bytes.
    pub build_cache: u64,
    /// Unix seconds, when it was observed.
    pub now: i64,
}

/// How long an image Berth's records do not explain is left alone: a deploy in progress (a
/// teammate's, the relay's) builds or pulls its image before its container exists.
pub const GRACE_SECS: i64 = 3600;

/// What the driver's records say must stay.
#[derive(Debug, Clone, Default)]
pub struct PruneKeep {
    /// The apps Berth knows on this server.
    pub apps: HashSet<String>,
    /// Images (tags or ids) of deployments a rollback can reach.
    pub images: HashSet<String>,
}

/// The plan and, line by line, what it frees.
#[derive(Debug, Clone)]
pub struct PrunePlan {
    pub plan: Plan,
    pub images: Vec<PrunedImage>,
    pub kept: usize,
}

/// The Berth app an image belongs to: its `berth.app` label, or a `berth/<app>:<deployment id>`
/// tag (a pulled image's pin). Other `berth/…` images (the relay's, a local base image) are no
/// app's.
fn app_of(image: &ImageInfo) -> Option<String> {
    if let Some(app) = image.labels.get(labels::APP) {
        return Some(app.clone());
    }
    image.tags.iter().find_map(|t| {
        let rest = t.strip_prefix("berth/")?;
        let (app, tag) = rest.split_once(':')?;
        let deployment = tag.len() == 32
            && tag
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        deployment.then(|| app.to_owned())
    })
}

fn dangling(image: &ImageInfo) -> bool {
    image.tags.iter().all(|t| t == "<none>:<none>")
}

/// Plans pruning from what was observed and what must stay.
pub fn plan_prune(observed: &PruneObserved, keep: &PruneKeep) -> PrunePlan {
    let mut actions = Vec::new();
    let mut images = Vec::new();
    let mut kept = 0;
    // The newest images of each app, as the host shows them (newest first).
    let mut seen_per_app: BTreeMap<String, usize> = BTreeMap::new();
    for image in &observed.images {
        let app = app_of(image);
        let used = observed.in_use.contains(&image.id);
        let recorded =
            keep.images.contains(&image.id) || image.tags.iter().any(|t| keep.images.contains(t));
        let young = image.created > observed.now - GRACE_SECS;
        let why = match &app {
            Some(app) if !keep.apps.contains(app) && young && !used => {
                kept += 1;
                continue;
            }
            Some(app) => {
                let n = seen_per_app.entry(app.clone()).or_default();
                *n += 1;
                let alive = keep.apps.contains(app) || observed.apps_with_containers.contains(app);
                if used || recorded || (alive && *n <= KEEP_IMAGES + 1) {
                    kept += 1;
                    continue;
                }
                if alive {
                    format!("beyond the {} newest images of {app}", KEEP_IMAGES + 1)
                } else {
                    format!("app {app} was removed")
                }
            }
            None if dangling(image) && !used && !young => {
                "dangling (no tag, no container)".to_owned()
            }
            None => continue,
        };
        let targets = match &app {
            Some(app) => crate::removal::removable(app, image),
            None => vec![image.id.clone()],
        };
        let frees_image = targets.iter().any(|t| t == &image.id);
        for target in &targets {
            actions.push(PlannedAction {
                step: Step::Cleanup,
                action: Action::PurgeImage {
                    image: target.clone(),
                },
            });
        }
        images.push(PrunedImage {
            image: image
                .tags
                .iter()
                .find(|t| t.as_str() != "<none>:<none>")
                .cloned()
                .unwrap_or_else(|| short_id(&image.id)),
            app,
            bytes: if frees_image {
                u64::try_from(image.size).unwrap_or(0)
            } else {
                0
            },
            why,
        });
    }
    if observed.build_cache > 0 {
        actions.push(PlannedAction {
            step: Step::Cleanup,
            action: Action::PruneBuildCache {
                bytes: observed.build_cache,
            },
        });
    }
    PrunePlan {
        plan: Plan { actions },
        images,
        kept,
    }
}

fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// Observes what pruning needs.
pub async fn observe_prune(host: &Host) -> Result<PruneObserved, EngineError> {
    let docker = host.docker();
    let mut apps_with_containers = HashSet::new();
    for name in docker
        .containers_with_labels(&[(labels::MANAGED, "true")])
        .await?
    {
        if let Some(info) = docker.inspect_container(&name).await?
            && let Some(app) = info.labels.get(labels::APP)
        {
            apps_with_containers.insert(app.clone());
        }
    }
    Ok(PruneObserved {
        images: docker.all_images().await?,
        in_use: docker.images_in_use().await?,
        apps_with_containers,
        build_cache: docker.build_cache_reclaimable().await?,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    })
}

/// Prunes the server (or, `dry_run`, says what it would): observes, plans, applies.
pub async fn prune(
    host: &Host,
    keep: &PruneKeep,
    dry_run: bool,
) -> Result<PruneReport, EngineError> {
    let observed = observe_prune(host).await?;
    let planned = plan_prune(&observed, keep);
    tracing::debug!("pruning {}:\n{}", host.name(), planned.plan);
    if !dry_run {
        for a in planned.plan.actions {
            crate::service::apply_host_action(host, a.action).await?;
        }
    }
    Ok(PruneReport {
        server: host.name().to_owned(),
        dry_run,
        images: planned.images,
        build_cache_bytes: observed.build_cache,
        kept: planned.kept,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use expect_test::expect;

    use super::*;

    fn image(id: &str, tags: &[&str], app: Option<&str>, size: i64) -> ImageInfo {
        ImageInfo {
            id: id.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            created: 0,
            labels: app
                .map(|a| HashMap::from([(labels::APP.to_owned(), a.to_owned())]))
                .unwrap_or_default(),
            size,
        }
    }

    const PIN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_what_no_rollback_reaches_goes() {
        let mut images: Vec<ImageInfo> = (1..=8)
            .rev()
            .map(|i| {
                image(
                    &format!("sha256:web{i}"),
                    &[&format!("berth/web:d{i}")],
                    Some("web"),
                    1000,
                )
            })
            .collect();
        images.extend([
            // A removed app's build, and a pulled image pinned for it.
            image("sha256:old1", &["berth/old:d1"], Some("old"), 500),
            image(
                "sha256:reg",
                &["reg/acme/x:1", &format!("berth/gone:{PIN}")],
                None,
                700,
            ),
            // A local base image: no app's.
            image("sha256:base", &["berth/busybox-local:latest"], None, 900),
            image("sha256:dangling", &["<none>:<none>"], None, 300),
            // Built a minute ago for an app Berth does not know: a deploy in progress.
            ImageInfo {
                created: 9_940,
                ..image("sha256:new", &["berth/other:d1"], Some("other"), 800)
            },
            // Not Berth's: never touched.
            image("sha256:mine", &["postgres:16"], None, 9000),
            image("sha256:relay", &["berth/relay:abc"], None, 9000),
        ]);
        let observed = PruneObserved {
            images,
            in_use: HashSet::from(["sha256:web8".to_owned()]),
            apps_with_containers: HashSet::from(["web".to_owned()]),
            build_cache: 4096,
            now: 10_000,
        };
        // The records keep web's oldest: a rollback target beyond the host's six newest.
        let keep = PruneKeep {
            apps: HashSet::from(["web".to_owned()]),
            images: HashSet::from(["berth/web:d1".to_owned()]),
        };
        let planned = plan_prune(&observed, &keep);
        assert_eq!(planned.kept, 8);
        let lines: Vec<String> = planned
            .images
            .iter()
            .map(|i| format!("{} {} {}", i.image, i.bytes, i.why))
            .collect();
        assert_eq!(
            lines,
            [
                "berth/web:d2 1000 beyond the 6 newest images of web",
                "berth/old:d1 500 app old was removed",
                "reg/acme/x:1 0 app gone was removed",
                "dangling 300 dangling (no tag, no container)",
            ]
        );
        expect![[r#"
            cleanup      remove image sha256:web2 (purge)
            cleanup      remove image sha256:old1 (purge)
            cleanup      remove image berth/gone:0123456789abcdef0123456789abcdef (purge)
            cleanup      remove image sha256:dangling (purge)
            cleanup      remove the build cache no build uses (4.0 KiB)
        "#]]
        .assert_eq(&planned.plan.to_string());
    }
}
