//! Plain data shared by the engine, the CLI, the desktop shell and the wasm UI.
//!
//! Everything here is serializable, has no I/O and compiles for `wasm32-unknown-unknown`:
//! names and their validation, server and app specs, deployment records, progress events,
//! status snapshots and the `{code, message}` error that crosses every front-end boundary.

pub mod app;
pub mod backup;
pub mod cron;
pub mod deploy;
pub mod domain;
pub mod error;
pub mod format;
pub mod image;
pub mod monitor;
pub mod names;
pub mod project;
pub mod registry;
pub mod server;
pub mod service;
pub mod setup;
pub mod size;
pub mod stage;
pub mod status;
pub mod view;
pub mod webhook;

pub use app::{
    App, AppDraft, BaseImages, EnvVar, HealthCheck, ImportedApp, Limits, SpecDomain, SpecEnv,
    SpecLabel, Volume,
};
pub use backup::{
    BackupMethod, BackupRecord, BackupResult, BackupSchedule, BackupTarget, InvalidTarget,
    Location, Verified,
};
pub use cron::{Cron, CronJob, InvalidCron};
pub use deploy::{
    DeployEvent, Deployment, DeploymentKind, DeploymentStatus, ProcessSpec, Step, StepOutcome,
    StepTiming,
};
pub use domain::{Domain, DomainStatus, TlsStatus};
pub use error::ErrorDto;
pub use image::{ImageRef, InvalidImage};
pub use monitor::{
    Alert, AlertKind, AppStats, ContainerSample, DiskUse, DockerDisk, HostSample, Monitor,
    ServerStats,
};
pub use names::{
    InvalidName, validate_app_name, validate_env_key, validate_project_name,
    validate_registry_name, validate_server_name,
};
pub use project::{
    ChangeEffect, DeploySpec, EnvSource, PendingChanges, Project, ProjectInfo, ResolvedVar,
    SpecChange, SpecDiff, diff_specs, resolve_env,
};
pub use registry::{ImageTag, InvalidRegistry, Registry, RegistryDraft};
pub use server::{
    DriftReport, MetricsEndpoint, ProxyConfig, ProxyMode, ProxyStatus, PruneReport, PrunedImage,
    RelayConfig, Server, ServerCheck, SshTarget, TlsSetting, TransportKind,
};
pub use service::{
    InvalidService, SERVICE_READY_DEADLINE_MS, ServiceDraft, ServiceInfo, ServiceKind, ServiceLink,
    data_volume,
};
pub use size::{parse_cpus, parse_memory};
pub use stage::{InstanceStatus, Stage, StageDraft, StageInstance, StageStatus};
pub use status::{AppState, AppStatus, WorkerStatus};
pub use webhook::{
    Delivery, DeliveryStatus, DeployNotice, NoticeEvent, Notifier, NotifierKind, NotifierSaved,
    NotifierTested, Provider, RelayStatus, Verdict, Webhook, WebhookFilter, WebhookInfo,
    WebhookMode,
};
