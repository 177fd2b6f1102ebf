//! A server's apps read back from Docker alone: every deployment's containers carry the app's
//! spec as Berth recorded it (`berth.spec`: settings, domains, env keys — no values), beside the
//! deployment, commit and pinned image labels, so a driver that lost its records (a new laptop,
//! a teammate) can rebuild them from what serves.

use std::collections::BTreeMap;

use berth_docker::labels;
use berth_model::SpecLabel;

use crate::error::EngineError;
use crate::host::Host;

/// The label a deployment's containers carry the app's spec in.
pub const SPEC_LABEL: &str = "berth.spec";

/// The labels that carry `spec`.
pub fn spec_labels(spec: &SpecLabel) -> Vec<(String, String)> {
    match serde_json::to_string(spec) {
        Ok(json) => vec![(SPEC_LABEL.to_owned(), json)],
        Err(e) => {
            tracing::warn!("cannot write the spec label: {e}");
            Vec::new()
        }
    }
}

/// One app as the server shows it: its serving container and what that carries.
#[derive(Debug, Clone)]
pub struct FoundApp {
    pub app: String,
    /// `None`: deployed before containers carried their spec.
    pub spec: Option<SpecLabel>,
    pub container: String,
    pub deployment: Option<String>,
    pub image: String,
    pub commit: Option<String>,
    /// A stage's instance (its stage lives only in the records).
    pub stage_instance: bool,
    /// The container's env (plain values are read back from it, secret ones never).
    pub env: berth_docker::ContainerEnv,
}

/// The serving container of every Berth app on the host: its running one, the newest when
/// several run (a deploy between start and switch).
pub async fn serving_apps(host: &Host) -> Result<Vec<FoundApp>, EngineError> {
    let docker = host.docker();
    let mut best: BTreeMap<String, berth_docker::ContainerInfo> = BTreeMap::new();
    for name in docker
        .containers_with_labels(&[(labels::MANAGED, "true")])
        .await?
    {
        let Some(info) = docker.inspect_container(&name).await? else {
            continue;
        };
        let Some(app) = info.labels.get(labels::APP).cloned() else {
            continue;
        };
        if !info.running || info.labels.contains_key(labels::PROCESS) {
            continue;
        }
        if best.get(&app).is_none_or(|b| info.created > b.created) {
            best.insert(app, info);
        }
    }
    Ok(best
        .into_iter()
        .map(|(app, info)| FoundApp {
            spec: info
                .labels
                .get(SPEC_LABEL)
                .and_then(|s| serde_json::from_str(s).ok()),
            deployment: info.labels.get(labels::DEPLOYMENT).cloned(),
            commit: info.labels.get(labels::COMMIT).cloned(),
            stage_instance: info.labels.contains_key(crate::stages::STAGE_LABEL),
            container: info.name,
            image: info.image,
            env: info.env,
            app,
        })
        .collect())
}
