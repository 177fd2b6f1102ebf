//! The status of an app as a user sees it: what is serving, where, and how the last deploy went.

use serde::{Deserialize, Serialize};

use crate::deploy::DeploymentStatus;

/// The state of an app, read from the store and the server's Docker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppState {
    /// The active deployment's container is running.
    Running,
    /// The user stopped the app.
    Stopped,
    /// The app should run but does not (its container exited or is gone, or every deploy failed).
    Failed,
    /// Nothing was ever deployed.
    NeverDeployed,
    /// A deployment is in progress and nothing is active yet.
    Deploying,
}

impl AppState {
    pub fn as_str(self) -> &'static str {
        match self {
            AppState::Running => "running",
            AppState::Stopped => "stopped",
            AppState::Failed => "failed",
            AppState::NeverDeployed => "never-deployed",
            AppState::Deploying => "deploying",
        }
    }
}

impl std::fmt::Display for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last deployment attempt, whatever its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastDeploy {
    pub id: String,
    pub status: DeploymentStatus,
    pub commit: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
}

/// `berth status APP --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppStatus {
    pub app: String,
    pub server: String,
    pub state: AppState,
    /// The active deployment.
    pub deployment_id: Option<String>,
    pub commit: Option<String>,
    /// The image the active container runs on the server (`berth/<app>:<deployment>`).
    pub image: Option<String>,
    /// An image app's active deployment: the registry image and tag it was deployed from …
    #[serde(default)]
    pub source_image: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// … and the digest that tag pointed to then (what runs, whatever the tag says now).
    #[serde(default)]
    pub digest: Option<String>,
    /// An image app's stages and the instances running in each (empty without stages).
    #[serde(default)]
    pub stages: Vec<crate::stage::StageStatus>,
    pub container: Option<String>,
    /// `HOST:PORT` where the active container's port is published on the server's loopback.
    pub endpoint: Option<String>,
    /// Docker's own view of the container (`running`, `exited`, …), when there is one.
    pub container_status: Option<String>,
    pub exit_code: Option<i64>,
    /// Unix milliseconds at which the active deployment became active.
    pub deployed_at: Option<i64>,
    /// Where the app is reachable through the server's proxy, primary first.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Every domain of the app with its certificate state.
    #[serde(default)]
    pub domains: Vec<crate::domain::DomainStatus>,
    /// The processes running beside the active container (a Procfile's workers).
    #[serde(default)]
    pub workers: Vec<WorkerStatus>,
    pub last_deploy: Option<LastDeploy>,
}

/// A process running beside an app's web container, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Its process type (`worker`).
    pub process: String,
    pub command: String,
    pub container: String,
    /// Docker's word for its state (`running`, `exited`, …); `None` when it is gone.
    pub status: Option<String>,
    pub running: bool,
}
