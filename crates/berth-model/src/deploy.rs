//! Deployments: their record, their steps and the progress events a running one emits.

use serde::{Deserialize, Serialize};

/// The steps of a deployment, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    /// Resolve the git ref to a commit (fetching remote sources).
    Resolve,
    /// Stream the commit to the server and build the image.
    Build,
    /// Create and start the new container beside the old one.
    Start,
    /// Probe the new container until it answers 2xx/3xx.
    HealthCheck,
    /// Make the new container the active one (route switch).
    Switch,
    /// Stop and remove the previous container.
    Drain,
    /// Prune old images beyond the kept history.
    Cleanup,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::Resolve,
        Step::Build,
        Step::Start,
        Step::HealthCheck,
        Step::Switch,
        Step::Drain,
        Step::Cleanup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Resolve => "resolve",
            Step::Build => "build",
            Step::Start => "start",
            Step::HealthCheck => "health-check",
            Step::Switch => "switch",
            Step::Drain => "drain",
            Step::Cleanup => "cleanup",
        }
    }

    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == s)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a deployment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentStatus {
    /// Still running its steps.
    InProgress,
    /// Healthy and serving: the app's current deployment.
    Active,
    /// Was active; replaced by a later deployment (its image is kept for rollback).
    Superseded,
    Failed,
    Cancelled,
    /// Its driver (the CLI, the desktop) stopped before it finished; settled when the app's
    /// lock was next taken, with what it had created removed.
    Interrupted,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::InProgress => "in-progress",
            DeploymentStatus::Active => "active",
            DeploymentStatus::Superseded => "superseded",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Cancelled => "cancelled",
            DeploymentStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<DeploymentStatus> {
        [
            DeploymentStatus::InProgress,
            DeploymentStatus::Active,
            DeploymentStatus::Superseded,
            DeploymentStatus::Failed,
            DeploymentStatus::Cancelled,
            DeploymentStatus::Interrupted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether this deployment was ever healthy and serving (a rollback target).
    pub fn was_healthy(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Active | DeploymentStatus::Superseded
        )
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a deployment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentKind {
    /// Built from a git commit.
    Deploy,
    /// Reused the image of an earlier deployment.
    Rollback,
    /// A fresh container from the active deployment's image, with the app's current settings
    /// (env, limits, volumes): how configuration changes take effect without a rebuild.
    Restart,
}

impl DeploymentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Deploy => "deploy",
            DeploymentKind::Rollback => "rollback",
            DeploymentKind::Restart => "restart",
        }
    }

    pub fn parse(s: &str) -> Option<DeploymentKind> {
        match s {
            "deploy" => Some(DeploymentKind::Deploy),
            "rollback" => Some(DeploymentKind::Rollback),
            "restart" => Some(DeploymentKind::Restart),
            _ => None,
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepOutcome {
    Ok,
    Failed,
    Cancelled,
}

/// When a step ran and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTiming {
    pub step: Step,
    /// Unix milliseconds.
    pub started_at: i64,
    pub duration_ms: u64,
    pub outcome: StepOutcome,
}

/// A deployment as Berth records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub app: String,
    pub kind: DeploymentKind,
    pub status: DeploymentStatus,
    /// The ref the user asked for (`main`, a tag, a sha).
    pub git_ref: String,
    pub commit: Option<String>,
    pub commit_message: Option<String>,
    /// Detected runtime (`dockerfile`, `go`, `node`, …).
    pub runtime: Option<String>,
    pub image: Option<String>,
    /// An image app's deployment: the digest the tag pointed to when it was pulled, which the
    /// deployment (and a rollback to it) runs whatever the tag points to later.
    #[serde(default)]
    pub digest: Option<String>,
    pub container: Option<String>,
    /// For rollbacks: the deployment whose image was reused.
    pub source_deployment: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub failed_step: Option<Step>,
    pub error: Option<String>,
    pub steps: Vec<StepTiming>,
    /// The processes that ran beside the web container (a Procfile's `worker:` lines and
    /// other types), as built: a rollback to this deployment runs them again.
    #[serde(default)]
    pub processes: Vec<ProcessSpec>,
    /// Everything it ran with (settings, resolved variables with secrets' versions, domains):
    /// what a rollback to it restores. `None` for deployments recorded before Berth kept it.
    #[serde(default)]
    pub spec: Option<Box<crate::project::DeploySpec>>,
}

/// A process type that runs beside an app's web container, from the same image and env,
/// without a route or an HTTP health check (a Procfile's `worker: bin/worker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The process type (`worker`, `mailer`, …).
    pub name: String,
    /// The shell command it runs.
    pub command: String,
}

impl ProcessSpec {
    /// Its container, beside the web container `container` of the same deployment.
    pub fn container(&self, container: &str) -> String {
        format!("{container}-{}", self.name)
    }

    /// How it starts: `sh -c`, `exec` in front of a simple command so it gets the stop signal.
    pub fn argv(&self) -> Vec<String> {
        crate::app::shell_argv(&self.command)
    }
}

impl Deployment {
    /// A deployment that starts now: in progress, nothing resolved yet.
    pub fn start(
        id: String,
        app: &str,
        kind: DeploymentKind,
        git_ref: String,
        started_at: i64,
    ) -> Deployment {
        Deployment {
            id,
            app: app.to_owned(),
            kind,
            status: DeploymentStatus::InProgress,
            git_ref,
            commit: None,
            commit_message: None,
            runtime: None,
            image: None,
            digest: None,
            container: None,
            source_deployment: None,
            started_at,
            finished_at: None,
            failed_step: None,
            error: None,
            steps: Vec::new(),
            processes: Vec::new(),
            spec: None,
        }
    }

    pub fn duration_ms(&self) -> Option<u64> {
        self.finished_at
            .map(|f| u64::try_from(f - self.started_at).unwrap_or(0))
    }

    /// The first 7 characters of the commit, as git shows it.
    pub fn short_commit(&self) -> Option<&str> {
        self.commit.as_deref().map(|c| &c[..c.len().min(7)])
    }

    /// What it deployed, as people read it: the short commit, or for an image app the tag
    /// and the start of its digest (`1.4.0@9f2c1a0b`).
    pub fn version(&self) -> Option<String> {
        match (&self.digest, self.short_commit()) {
            (Some(digest), _) => {
                let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
                Some(format!("{}@{}", self.git_ref, &hex[..hex.len().min(8)]))
            }
            (None, Some(commit)) => Some(commit.to_owned()),
            (None, None) => None,
        }
    }

    /// The id as people read and type it: its first 12 digits (any unique prefix is taken).
    pub fn short_id(&self) -> &str {
        short_id(&self.id)
    }
}

/// A deployment id's first 12 digits, as shown; shorter ids whole.
pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Progress of a running deployment, streamed to whoever drives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum DeployEvent {
    Started {
        deployment: String,
        app: String,
    },
    StepStarted {
        step: Step,
    },
    StepFinished {
        step: Step,
        duration_ms: u64,
        outcome: StepOutcome,
    },
    /// One line of build output.
    BuildLine {
        line: String,
    },
    /// A human-readable note about what is happening ("commit 1a2b3c4: add healthz").
    Info {
        message: String,
    },
    Finished {
        deployment: String,
        status: DeploymentStatus,
        duration_ms: u64,
        error: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.as_str()), Some(s));
        }
        for s in ["in-progress", "active", "superseded", "failed", "cancelled"] {
            assert_eq!(DeploymentStatus::parse(s).unwrap().as_str(), s);
        }
    }

    #[test]
    fn events_serialize_with_a_type_tag() {
        let e = DeployEvent::StepStarted {
            step: Step::HealthCheck,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"step-started","step":"health-check"}"#
        );
    }
}
