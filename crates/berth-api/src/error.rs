//! The API's error: every failure a front end can show, with a stable machine-readable code.

use std::path::PathBuf;

use berth_build::BuildError;
use berth_engine::EngineError;
use berth_model::{ErrorDto, Step};
use berth_secrets::SecretsError;
use berth_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Build(#[from] BuildError),
    /// Reaching or changing a server failed (SSH, Docker, the proxy, a deploy step).
    #[error(transparent)]
    Engine(EngineError),
    /// Input that fails validation; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    #[error(
        "another operation on app `{app}` is in progress ({holder}); wait for it to finish and try again"
    )]
    Busy { app: String, holder: String },
    #[error(
        "refusing to trust the host key of {host} ({fingerprint}) without confirmation: run on a terminal to confirm it, or pass --accept-new once you have checked it on the server"
    )]
    HostKeyNotTrusted { host: String, fingerprint: String },
    #[error("deploy of {app} failed at step {}: {message}", step.map_or("setup", |s| s.as_str()))]
    DeployFailed {
        app: String,
        deployment: String,
        step: Option<Step>,
        message: String,
    },
    #[error(
        "deploy of {app} was cancelled; deployment {deployment} was recorded as cancelled and the previous version keeps serving"
    )]
    DeployCancelled { app: String, deployment: String },
    #[error("app `{0}` has no active deployment: run `berth deploy {0}` first")]
    NotDeployed(String),
    #[error("app `{app}` has no earlier healthy deployment to roll back to{}", if .hint.is_empty() { String::new() } else { format!(" ({})", .hint) })]
    NoRollbackTarget { app: String, hint: String },
    #[error(
        "secret env var {key} of app `{app}` has no value in the secrets store: set it again with `berth env set {app} {key}=… --secret`"
    )]
    SecretMissing { app: String, key: String },
    #[error(
        "secret variable {key} of project `{project}` has no value in the secrets store: set it again with `berth env set --project {project} {key}=- --secret`"
    )]
    ProjectSecretMissing { project: String, key: String },
    #[error(
        "server `{server}` has no proxy: install one with `berth server proxy install {server}` (or adopt yours with --admin)"
    )]
    ProxyNotInstalled { server: String },
    #[error(
        "server `{server}` has no webhook relay: install it with `berth server relay install {server}`"
    )]
    RelayNotInstalled { server: String },
    #[error(
        "app `{0}` has no webhook: enable one with `berth app webhook enable {0} --provider github|gitlab|gitea|generic`"
    )]
    WebhookNotEnabled(String),
    /// A stage that deploys only with the user's yes was asked to deploy without one.
    #[error(
        "stage {stage} of app `{app}` deploys only with confirmation: {what} — confirm with --yes (or answer yes on a terminal)"
    )]
    NeedsConfirmation {
        app: String,
        stage: String,
        what: String,
    },
    #[error(transparent)]
    Relay(#[from] berth_relay_proto::client::ClientError),
    #[error("cannot use {}: {source}", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Build(e) => ApiError::Build(e),
            EngineError::Relay(e) => ApiError::Relay(e),
            other => ApiError::Engine(other),
        }
    }
}

impl ApiError {
    /// A stable kebab-case code front ends branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Store(e) => match e {
                StoreError::NotFound { .. } => "not-found",
                StoreError::AlreadyExists { .. } => "already-exists",
                StoreError::InUse { .. } => "in-use",
                StoreError::Invalid(_) => "invalid",
                StoreError::TooNew { .. } => "store-too-new",
                _ => "store",
            },
            ApiError::Secrets(e) => match e {
                SecretsError::KeyringUnavailable { .. } => "keyring-unavailable",
                _ => "secrets",
            },
            ApiError::Build(e) => match e {
                BuildError::NotARepo { .. } | BuildError::SourceMissing { .. } => "not-a-repo",
                BuildError::RefNotFound { .. } => "ref-not-found",
                _ => "build",
            },
            ApiError::Engine(e) => e.code(),
            ApiError::Invalid(_) => "invalid",
            ApiError::Busy { .. } => "busy",
            ApiError::HostKeyNotTrusted { .. } => "host-key-not-trusted",
            ApiError::DeployFailed { .. } => "deploy-failed",
            ApiError::DeployCancelled { .. } => "cancelled",
            ApiError::NotDeployed(_) => "not-deployed",
            ApiError::NoRollbackTarget { .. } => "no-rollback-target",
            ApiError::SecretMissing { .. } | ApiError::ProjectSecretMissing { .. } => {
                "secret-missing"
            }
            ApiError::DataDir { .. } => "data-dir",
            ApiError::ProxyNotInstalled { .. } => "proxy-not-installed",
            ApiError::RelayNotInstalled { .. } => "relay-not-installed",
            ApiError::WebhookNotEnabled(_) => "webhook-not-enabled",
            ApiError::NeedsConfirmation { .. } => "needs-confirmation",
            ApiError::Relay(e) => match e {
                berth_relay_proto::client::ClientError::Unreachable { .. } => "relay-unreachable",
                berth_relay_proto::client::ClientError::Refused { .. } => "relay-refused",
                _ => "relay",
            },
        }
    }

    /// The `{code, message}` shape that crosses front-end boundaries.
    pub fn to_dto(&self) -> ErrorDto {
        ErrorDto {
            code: self.code().to_owned(),
            message: self.to_string(),
        }
    }
}

impl From<berth_model::app::InvalidApp> for ApiError {
    fn from(e: berth_model::app::InvalidApp) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<berth_model::InvalidService> for ApiError {
    fn from(e: berth_model::InvalidService) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<berth_model::InvalidName> for ApiError {
    fn from(e: berth_model::InvalidName) -> Self {
        ApiError::Invalid(e.to_string())
    }
}

impl From<berth_model::InvalidImage> for ApiError {
    fn from(e: berth_model::InvalidImage) -> Self {
        ApiError::Invalid(e.to_string())
    }
}
