//! What the desktop's screens show and send: summaries, requests, and the notices background
//! jobs emit. Plain data shared by the native shell and the wasm UI.

use serde::{Deserialize, Serialize};

use crate::deploy::{DeployEvent, Deployment};
use crate::server::TransportKind;
use crate::status::{AppState, LastDeploy};

/// The first screen: every app and every server, from the local records (instant); live
/// states are fetched per app and per server afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub apps: Vec<AppSummary>,
    pub servers: Vec<ServerSummary>,
    /// The latest deployments across apps, newest first.
    pub recent: Vec<Deployment>,
    /// The monitor's latest events (as last fetched from the relays), newest first.
    #[serde(default)]
    pub alerts: Vec<crate::Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSummary {
    pub name: String,
    pub server: String,
    /// From the records: `running` when a deployment is active (the live state may differ),
    /// `deploying` while a job runs in this process.
    pub state: AppState,
    pub commit: Option<String>,
    pub commit_message: Option<String>,
    /// The primary URL through the server's proxy, when there is one.
    pub url: Option<String>,
    pub last_deploy: Option<LastDeploy>,
    /// A service's kind (the Services page lists these; the Apps page the others).
    #[serde(default)]
    pub service: Option<crate::ServiceKind>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSummary {
    pub name: String,
    pub address: String,
    pub transport: TransportKind,
    /// `managed` / `adopted` when a proxy is installed.
    pub proxy: Option<String>,
    pub base_domain: Option<String>,
    pub apps: usize,
}

/// The add-server form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddServerRequest {
    pub name: String,
    /// `USER@HOST[:PORT]`; `None` for this machine's own Docker.
    pub ssh: Option<String>,
    pub transport: Option<TransportKind>,
    /// Identity file on this machine; `None` uses ssh-agent (and `~/.ssh` for system ssh).
    pub identity: Option<String>,
    /// The identity file's passphrase, stored in the keychain.
    pub passphrase: Option<String>,
    pub docker_socket: Option<String>,
    /// The fingerprint the user confirmed; the server must present exactly this key.
    pub trusted_fingerprint: Option<String>,
}

/// The host key a server presents, for the confirmation dialog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKeyInfo {
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    pub fingerprint: String,
    /// Already pinned: no confirmation needed.
    pub known: bool,
    /// A different key is pinned for this host: the connection will be refused.
    pub pinned: Option<String>,
}

/// What a background job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    Deploy,
    Rollback,
    Restart,
    Start,
    Stop,
    /// An image tag deployed into a stage (`git_ref` the tag, `to` the stage).
    StageDeploy,
    /// A tag promoted into a stage (`git_ref` the tag, `to` the stage).
    Promote,
    /// The app's pending changes put in place (`berth apply`).
    Apply,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Deploy => "deploy",
            JobKind::Rollback => "rollback",
            JobKind::Restart => "restart",
            JobKind::Start => "start",
            JobKind::Stop => "stop",
            JobKind::StageDeploy => "stage deploy",
            JobKind::Promote => "promotion",
            JobKind::Apply => "apply",
        }
    }
}

/// Progress of a job (event name `job-progress`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobProgress {
    pub app: String,
    pub kind: JobKind,
    pub event: DeployEvent,
}

/// The end of a job (event name `job-done`): what a notification says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDone {
    pub app: String,
    pub kind: JobKind,
    pub ok: bool,
    pub cancelled: bool,
    /// "hello is live at https://…" or the failure with its step.
    pub message: String,
    /// The deployment it made: the new active one, or the failed/cancelled attempt (with its
    /// `failed_step` and `error`) when one was recorded.
    pub deployment: Option<Deployment>,
    pub url: Option<String>,
    pub duration_ms: u64,
}

/// A line of a followed container log (event name `log-line`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The subscription it belongs to.
    pub stream: String,
    pub app: String,
    pub text: String,
    pub stderr: bool,
}

/// What an image says about running it, read on a server after pulling it (`berth app create
/// --image`, Quick Deploy): each inferred value with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInspection {
    /// As given, `registry/repository:tag`.
    pub reference: String,
    /// The digest the tag points to now, `sha256:…`.
    pub digest: Option<String>,
    /// `linux/amd64` …
    pub platform: String,
    pub port: Option<u16>,
    /// `EXPOSE`, `label berth.port`, `HEALTHCHECK` …
    pub port_from: Option<String>,
    pub health_path: Option<String>,
    pub health_from: Option<String>,
    /// Env defaults from the image's `berth.env.KEY` labels.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

/// Which Berth this is, for the window's About and `berth --version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// The release, e.g. `0.1.0`.
    pub version: String,
    /// The commit it was built from (12 hex digits), or `unknown`.
    pub commit: String,
    /// Where it runs, e.g. `linux x86_64`.
    pub platform: String,
    /// The server architectures a relay executable was found for (`x86_64`, `aarch64`).
    pub relay_arches: Vec<String>,
}

/// Where secrets go, for the settings screen and the keychain-unavailable message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretsInfo {
    /// `keyring` or `file`.
    pub backend: String,
    pub available: bool,
    pub message: Option<String>,
    pub file: Option<String>,
    pub data_dir: String,
}

/// The end of a followed container log (event name `log-end`): the container stopped, the
/// subscription was stopped, or it failed (`error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEnd {
    pub stream: String,
    pub app: String,
    pub error: Option<String>,
}

/// The install-proxy form (`server proxy install`): run Caddy as `berth-proxy`, or adopt the
/// Caddy at `admin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyInstallRequest {
    /// Caddy image for a managed proxy; `None` for the default (`caddy:2`).
    pub image: Option<String>,
    pub acme_email: Option<String>,
    pub http_port: u16,
    pub https_port: u16,
    pub tls: crate::server::TlsSetting,
    /// `unix:/path` or `127.0.0.1:PORT` of a Caddy to adopt instead of running one.
    pub admin: Option<String>,
}

impl Default for ProxyInstallRequest {
    fn default() -> Self {
        ProxyInstallRequest {
            image: None,
            acme_email: None,
            http_port: 80,
            https_port: 443,
            tls: crate::server::TlsSetting::Auto { email: None },
            admin: None,
        }
    }
}

/// The install-relay form (`server relay install`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInstallRequest {
    /// Public name routed by the server's proxy; `None` or empty: loopback only.
    pub hooks_domain: Option<String>,
    pub listen_port: u16,
}

/// The enable-webhook form (`app webhook enable`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEnableRequest {
    pub provider: crate::webhook::Provider,
    /// `None` or empty: the app's branch.
    pub branch: Option<String>,
    /// Tag pattern; `None` or empty: tag pushes are skipped.
    pub tags: Option<String>,
    /// The relay deploys on its own (the source is fetched from the app's git URL).
    #[serde(default)]
    pub unattended: bool,
    /// Unattended over https: the token to fetch with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_token: Option<String>,
    /// Pushes may deploy a commit that does not descend from the serving one.
    #[serde(default)]
    pub allow_force_push: bool,
}

/// One line of the audit log, as it crosses to the UI (the store's `AuditEntry` serializes
/// to exactly this shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub at: i64,
    /// Who acted: `cli`, `desktop`, `relay`.
    pub actor: String,
    /// What was done, `noun.verb`.
    pub action: String,
    pub target: String,
    pub detail: String,
}
