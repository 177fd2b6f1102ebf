//! The control API's messages: what Berth (over the SSH session) and the relay say to each
//! other on the control socket. Plain serde types, shared by the server and the client.

use berth_model::{Delivery, DeliveryStatus, Provider, WebhookFilter, WebhookMode};
use serde::{Deserialize, Serialize};

/// The control socket, inside the container and (bind-mounted) on the host.
pub const CONTROL_SOCKET: &str = "/run/berth-relay/control.sock";
/// The directory of [`CONTROL_SOCKET`] on the host.
pub const CONTROL_DIR: &str = "/run/berth-relay";
/// The public port inside the container (published on the host's loopback, dialled by Caddy).
pub const LISTEN_PORT: u16 = 9080;
/// The relay's container, image repository and data volume.
pub const CONTAINER: &str = "berth-relay";
pub const IMAGE_REPO: &str = "berth/relay";
pub const DATA_VOLUME: &str = "berth-relay-data";
/// The user the relay runs as (it owns its data and its control socket's directory). With
/// an unattended hook it runs as uid 0 in the same group instead: it must open the managed
/// Caddy's admin socket, which Caddy creates for root alone.
pub const RUN_AS_UID: u32 = 65532;

/// One app's webhook, as Berth gives it to the relay. The secret travels only over the SSH
/// session and is kept in the relay's 0600 secrets file, not in its database.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HookSpec {
    pub uuid: String,
    pub app: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
    pub secret: String,
    /// Unattended hooks: everything the relay needs to deploy on its own (kept in its 0600
    /// secrets file, never in its database or a log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unattended: Option<UnattendedSpec>,
}

/// How the relay fetches an app's source.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum GitAuth {
    /// A public repository (or `git://`).
    None,
    /// HTTPS with a token (Basic auth `user:token`).
    Token { user: Option<String>, token: String },
    /// SSH with the app's deploy key; `host_key` pins the git server's key once seen.
    SshKey {
        private_key: String,
        host_key: Option<String>,
    },
}

impl std::fmt::Debug for GitAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GitAuth::None => f.write_str("None"),
            GitAuth::Token { user, .. } => {
                write!(f, "Token {{ user: {user:?}, token: <redacted> }}")
            }
            GitAuth::SshKey { host_key, .. } => {
                write!(
                    f,
                    "SshKey {{ private_key: <redacted>, host_key: {host_key:?} }}"
                )
            }
        }
    }
}

/// The app's route through the server's Caddy, as the relay switches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSpec {
    pub admin: String,
    pub server: String,
    pub id: String,
    pub hosts: Vec<String>,
    /// Caddy reaches containers on the `berth` network (its own container), else through
    /// their published loopback port.
    pub via_network: bool,
    pub drain_timeout_secs: u32,
}

/// A notifier the relay announces unattended results to.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierSpec {
    pub kind: berth_model::NotifierKind,
    pub url: String,
    /// The kinds of notice it takes (empty: every kind); Berth gives only the notifiers
    /// routed to the hook's app.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<berth_model::NoticeEvent>,
}

impl NotifierSpec {
    /// Whether it takes `notice`.
    pub fn hears(&self, notice: &berth_model::DeployNotice) -> bool {
        self.events.is_empty() || self.events.contains(&notice.event())
    }
}

impl std::fmt::Debug for NotifierSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NotifierSpec {{ kind: {:?}, url: <redacted> }}",
            self.kind
        )
    }
}

/// `PUT /v1/monitor`: the apps the relay watches on its server and whom it tells (replaces
/// what it had). Notifier URLs may hold tokens: it is kept in the relay's 0600 data, never
/// logged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MonitorConfig {
    /// The server's name in Berth (for notices).
    pub server: String,
    pub apps: Vec<MonitoredApp>,
    /// Who hears about the server itself (disk): the notifiers routed to every app.
    pub notifiers: Vec<NotifierSpec>,
    /// The services the relay backs up on schedule.
    #[serde(default)]
    pub backups: Vec<ScheduledBackup>,
    /// The apps' cron jobs: each run in a fresh container made like the app's serving one.
    #[serde(default)]
    pub crons: Vec<berth_model::CronJob>,
}

/// A service the relay backs up on schedule, into a directory on its server; results go to
/// the service's notifiers (those of its [`MonitoredApp`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledBackup {
    pub service: String,
    pub kind: berth_model::ServiceKind,
    /// How it is taken (a relay given none, by an older Berth, uses the kind's own).
    #[serde(default)]
    pub method: Option<berth_model::BackupMethod>,
    pub cron: berth_model::Cron,
    /// Good backups kept (never fewer than one).
    pub keep: u32,
    /// The directory on this server.
    pub path: String,
    /// The target's name, for notices.
    pub target: String,
    /// The age recipient (`age1…`) its backups are sealed to: only the public half of the
    /// key — the relay can seal, never open.
    #[serde(default)]
    pub sealed_to: Option<String>,
    /// An S3 target instead of the directory `path`.
    #[serde(default)]
    pub s3: Option<S3Access>,
}

/// An S3 target a relay writes scheduled backups to, with its keys (kept 0600 on the server
/// with the rest of the relay's config, like the notifiers' URLs).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct S3Access {
    /// A [`berth_model::Location::S3`].
    pub location: berth_model::Location,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Access({} as {})", self.location, self.access_key_id)
    }
}

/// One app the relay's monitor watches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitoredApp {
    pub app: String,
    pub monitor: berth_model::Monitor,
    pub port: u16,
    pub health_path: String,
    pub timeout_ms: u64,
    pub stop_grace_secs: u32,
    /// The notifiers routed to it.
    pub notifiers: Vec<NotifierSpec>,
    /// How long a started container has to answer its health path (the relay's reconcile).
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// The user stopped it (`berth stop`): not running is what they asked for.
    #[serde(default)]
    pub stopped: bool,
    /// Its route, when the relay can reach the proxy's admin socket (to put it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteSpec>,
    /// A service's kind: the relay puts its container back checked by the kind's probe, not
    /// over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<berth_model::ServiceKind>,
}

fn default_deadline_ms() -> u64 {
    berth_model::HealthCheck::default().deadline_ms
}

/// `GET /v1/stats?app=&since_ms=` and `GET /v1/host-stats?since_ms=` answer with the model's
/// `AppStats` / `ServerStats`; `GET /v1/alerts?after=` with `[Alert]`, oldest first.
pub const MAX_ALERTS: usize = 500;

/// What an unattended deploy of one app needs: the app as Berth stores it, its env (secrets
/// included), where its source is, its route and where results go.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct UnattendedSpec {
    /// The server's name in Berth (for notices).
    pub server: String,
    pub app: berth_model::App,
    pub env: Vec<(String, String)>,
    pub git_url: String,
    pub git_auth: GitAuth,
    pub images: berth_model::BaseImages,
    pub route: Option<RouteSpec>,
    /// Where the app is live, first the primary (for notices).
    pub urls: Vec<String>,
    pub notifiers: Vec<NotifierSpec>,
    /// A push may deploy a commit that does not descend from the serving one.
    #[serde(default)]
    pub allow_force_push: bool,
    /// An image app: pulled from its registry instead of built from `git_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSpec>,
    /// Labels its containers carry besides the engine's own (the app's spec, for `server
    /// import`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

/// What the relay needs to deploy an image app on its own: the registry login, its stages and
/// where their instances answer, how often to look for new tags.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSpec {
    /// The login pulls (and polling) pass, when the registry needs one.
    pub login: Option<RegistryLogin>,
    /// The app's stages (none: the app's own tag deploys).
    pub stages: Vec<berth_model::Stage>,
    /// The server's stage subdomain pattern (`stage-{stage}-{app}`).
    pub pattern: String,
    /// The server's base domain: instances answer under it.
    pub base_domain: Option<String>,
    /// Seconds between looks at the registry for new tags (0: never).
    pub poll_secs: u64,
}

impl std::fmt::Debug for ImageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSpec")
            .field("login", &self.login)
            .field(
                "stages",
                &self.stages.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("pattern", &self.pattern)
            .field("base_domain", &self.base_domain)
            .field("poll_secs", &self.poll_secs)
            .finish()
    }
}

/// A registry login, kept in the relay's 0600 secrets file; the password is never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryLogin {
    /// The registry host as image references name it (`ghcr.io`, `127.0.0.1:5000`).
    pub host: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RegistryLogin {{ host: {:?}, username: {:?}, password: <redacted> }}",
            self.host, self.username
        )
    }
}

/// The stage instance an unattended deployment ran as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    /// The image app.
    pub app: String,
    pub stage: String,
    pub tag: String,
}

impl std::fmt::Debug for UnattendedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnattendedSpec")
            .field("server", &self.server)
            .field("app", &self.app.name)
            .field("env", &format!("{} values (redacted)", self.env.len()))
            .field("git_url", &self.git_url)
            .field("git_auth", &self.git_auth)
            .field("route", &self.route)
            .field("notifiers", &self.notifiers)
            .field("image", &self.image)
            .finish()
    }
}

/// A deployment the relay ran on its own, for Berth's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayDeployment {
    /// Its place in the relay's record (what Berth asks for more after).
    #[serde(default)]
    pub seq: i64,
    /// The delivery that caused it.
    pub delivery: i64,
    pub deployment: berth_model::Deployment,
    /// The last lines of its build output.
    pub log: Vec<String>,
    /// A stage's instance: which (the deployment's app is the instance's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceRecord>,
    /// Instances of the stage it removed (beyond the stage's max).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl std::fmt::Debug for HookSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookSpec")
            .field("uuid", &self.uuid)
            .field("app", &self.app)
            .field("provider", &self.provider)
            .field("filter", &self.filter)
            .field("mode", &self.mode)
            .field("secret", &"<redacted>")
            .field("unattended", &self.unattended)
            .finish()
    }
}

/// A hook as the relay lists it (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSummary {
    pub uuid: String,
    pub app: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
}

/// `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayInfo {
    pub version: String,
    /// Unix milliseconds.
    pub started_at: i64,
    pub hooks: usize,
    /// Hooks it deploys on its own.
    #[serde(default)]
    pub unattended: usize,
    /// Whether the server's Docker socket is mounted in (unattended deploys need it).
    #[serde(default)]
    pub docker: bool,
    /// Queued deliveries nobody has processed yet.
    pub pending: usize,
    /// The newest delivery's id (0 when there is none).
    pub last_delivery: i64,
    pub body_limit: usize,
    /// Requests per minute per client address (0: no limit).
    pub rate_per_minute: u32,
}

/// `POST /v1/claim`: hand me the deliveries to deploy now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// Who will run the deploys: `berth watch on laptop (pid 4242)`.
    pub client: String,
    /// How long the claim holds without a heartbeat; then another client may take it.
    pub lease_ms: u64,
}

/// The newest queued delivery of one app, now running under the caller's claim. Older queued
/// deliveries of the same app were marked superseded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub delivery: Delivery,
    pub superseded: Vec<i64>,
}

/// `POST /v1/deliveries/<id>/result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployReport {
    /// `Deployed` or `Failed`.
    pub status: DeliveryStatus,
    pub deployment: Option<String>,
    pub duration_ms: u64,
    /// The URL it is live at, or the failed step and the error.
    pub result: String,
    pub client: String,
}

/// `GET /v1/wait?after=N`: the newest delivery id, once it is above `N` (or the wait ran out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    pub last_delivery: i64,
}

/// `POST /v1/deploys`: a deploy Berth ran on the relay's server (from the CLI or the desktop:
/// a deploy, rollback, restart, or a webhook's), for the relay's Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRecord {
    pub app: String,
    /// `deployed` or `failed`.
    pub status: String,
    /// `deploy`, `rollback`, `restart`, `webhook` (the relay's own: `unattended`).
    pub trigger: String,
    pub duration_ms: u64,
}

/// What the public endpoint answers, as JSON, so a provider's delivery log shows why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookAnswer {
    pub delivery: Option<i64>,
    pub verdict: String,
    pub reason: String,
}

/// An error from the control API: `{code, message}`.
/// `PUT /v1/metrics-token`: the bearer token `GET /metrics` wants on the public side (the relay
/// keeps only its SHA-256); empty: metrics are no longer published there.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsToken {
    pub token: String,
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken { token: <redacted> }")
    }
}

/// Takes or renews an app's deploy lock on the server (`POST /v1/locks/<app>`), which the
/// relay's own unattended deploys honour too. Refused with code `locked` (the message names
/// the holder) while someone else's lease runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// Who decides: one Berth data dir (its processes exclude each other with a file lock, so
    /// one of them may take over what another left behind), or the relay.
    pub owner: String,
    /// Who holds it, as a refused caller reads it: `a deploy by cli (process 4242)`.
    pub holder: String,
    /// How long it holds without a renewal.
    pub lease_ms: u64,
}

/// What `POST /v1/locks/<app>/cancel` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelAnswer {
    /// The relay's own work on the app (an unattended deploy, a scheduled backup) was asked
    /// to stop.
    pub cancelled: bool,
    /// Who holds the app's lock now, if anyone.
    pub holder: Option<String>,
}

/// The `code` of a refusal because another driver holds the app's lock.
pub const LOCKED: &str = "locked";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    pub code: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_secret() {
        let spec = UnattendedSpec {
            server: "prod".into(),
            app: berth_model::AppDraft {
                name: "hello".into(),
                server: "prod".into(),
                git: "https://example.com/a.git".into(),
                ..Default::default()
            }
            .validate(0)
            .expect("app"),
            env: vec![("DB_PASSWORD".into(), "env-secret-value".into())],
            git_url: "https://example.com/a.git".into(),
            git_auth: GitAuth::Token {
                user: None,
                token: "token-secret-value".into(),
            },
            images: Default::default(),
            route: None,
            urls: vec![],
            notifiers: vec![NotifierSpec {
                kind: berth_model::NotifierKind::Ntfy,
                url: "https://ntfy.sh/topic-secret-value".into(),
                events: Vec::new(),
            }],
            allow_force_push: false,
            image: Some(ImageSpec {
                login: Some(RegistryLogin {
                    host: "ghcr.io".into(),
                    username: "me".into(),
                    password: "registry-secret-value".into(),
                }),
                stages: Vec::new(),
                pattern: "stage-{stage}-{app}".into(),
                base_domain: None,
                poll_secs: 300,
            }),
            labels: Vec::new(),
        };
        let hook = HookSpec {
            uuid: "u".into(),
            app: "hello".into(),
            provider: berth_model::Provider::Github,
            filter: berth_model::WebhookFilter {
                branch: "main".into(),
                tags: None,
            },
            mode: WebhookMode::Unattended,
            secret: "hook-secret-value".into(),
            unattended: Some(spec),
        };
        let shown = format!("{hook:?} {:?}", hook.unattended);
        assert!(!shown.contains("secret-value"), "{shown}");
        let key = GitAuth::SshKey {
            private_key: "-----BEGIN OPENSSH PRIVATE KEY----- key-secret-value".into(),
            host_key: None,
        };
        assert!(!format!("{key:?}").contains("secret-value"));
    }
}
