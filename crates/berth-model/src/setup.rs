//! The whole setup as a file (`berth export`, `berth import`): servers (without keys),
//! projects, apps and services with their settings, variables (secrets as references, never
//! values), domains, stages, webhooks, cron jobs, backup schedules, backup targets and
//! notifiers. The YAML itself is read and written by berth-api; these are its shapes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The format's version, the file's first key: `berth: 1`.
pub const SETUP_VERSION: u32 = 1;

/// A `berth.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SetupFile {
    pub berth: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apps: Vec<AppSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backup_targets: Vec<BackupTargetSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifiers: Vec<NotifierSetup>,
}

/// A server: how it is reached, never with what key (each user adds their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSetup {
    pub name: String,
    /// `user@host[:port]`; left out for this machine's own Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<String>,
    /// `local`, `system` (OpenSSH) or `embedded`.
    pub transport: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSetup {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvSetup>,
}

/// A variable's value in the file: the value itself, or `{secret: true}` for a secret (its
/// value stays in each user's keychain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvSetup {
    Value(String),
    Secret { secret: bool },
}

/// An app: its source and every setting `berth app create` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSetup {
    pub name: String,
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    pub port: u16,
    pub health_path: String,
    pub health_timeout_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// `512m`, `1g`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    /// `SRC:DST[:ro]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_image: Option<String>,
    pub drain_timeout_secs: u32,
    pub stop_grace_secs: u32,
    /// Seconds between the monitor's probes (0: off).
    pub monitor_interval_secs: u32,
    pub unhealthy_after: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_command: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only_app_dir: bool,
    /// Keys of `env` also passed to builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_env: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, EnvSetup>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<DomainSetup>,
    /// An image app's stages (`berth app stage add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageSetup>,
    /// Which pushes deploy it (`berth app webhook enable`); its secret stays in the keychain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSetup>,
    /// Commands its server's relay runs on schedule (`berth cron add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron: Vec<CronSetup>,
}

/// A stage of an image app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSetup {
    pub name: String,
    /// Tag patterns (`dev-*`, `v*`; several separated by `,`).
    pub tags: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_deploy: bool,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub max_instances: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promote_from: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub confirm: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
}

/// An app's webhook: who sends it and which pushes deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSetup {
    /// `github`, `gitlab`, `gitea` or `generic`.
    pub provider: String,
    /// Branch (or pattern) whose pushes deploy.
    pub branch: String,
    /// Tag pattern whose pushes deploy; none: tag pushes are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    /// The relay deploys on its own, from the app's git URL.
    #[serde(default, skip_serializing_if = "is_false")]
    pub unattended: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_force_push: bool,
}

/// A cron job of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CronSetup {
    pub name: String,
    /// Five fields, UTC (`0 2 * * *`).
    pub schedule: String,
    pub command: Vec<String>,
}

/// A service's scheduled backups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupScheduleSetup {
    /// Five fields, UTC.
    pub cron: String,
    /// How many good backups are kept.
    pub keep: u32,
    /// A backup target's name; none: the server's own backup directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// A named place for backups. An S3 target's keys are never in the file (each user adds
/// them with `berth backup target add`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupTargetSetup {
    pub name: String,
    /// `local:/DIR`, `ssh://SERVER/DIR` or `s3://BUCKET[/PREFIX]`.
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Its backups are sealed with the backup key of the machine that takes them.
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypt: bool,
}

/// Where notices go. A URL with a path or query (they often carry a token) is written cut
/// (`https://ntfy.sh/…`): importing it matches a notifier this machine has, and one it does
/// not have is left for the user to add with its full URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierSetup {
    /// `ntfy`, `slack` or `webhook`.
    pub kind: String,
    pub url: String,
    /// Only this app's notices; none: every app's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// Only these kinds of notice (`deploy`, `image`, `alert`); none: every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// The cut form of a URL in the file ends with this.
pub const CUT_URL_TAIL: &str = "/…";

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSetup {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary: bool,
}

/// A service: its kind and image, limits, where it is published, the apps linked to it.
/// Its credentials are made anew where it is created (they are secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSetup {
    pub name: String,
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub kind: String,
    pub image: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Apps that get its connection string.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Backed up by its server's relay on a schedule (`berth backup schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupScheduleSetup>,
    /// Commands its server's relay runs on schedule (`berth cron add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cron: Vec<CronSetup>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// What `berth import` does (or would do, with `--dry-run`): one line a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportReport {
    /// `create app web`, `update app web: memory: - → 512 MiB`, `remove app old` …
    pub changes: Vec<String>,
    /// Secrets the file names whose values this machine does not have yet, as `app KEY`
    /// (set them with `berth env set …--secret`).
    pub missing_secrets: Vec<String>,
    /// What is left for the user to do by hand, a line each (a new webhook's secret to give
    /// the git host, a notifier or S3 target the file cannot carry the secrets of).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Whether the changes were made.
    pub applied: bool,
}
