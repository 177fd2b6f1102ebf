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

/// One app's webhook, as Berth gives it to the relay. The secret travels only over the SSH
/// session and is kept in the relay's 0600 secrets file, not in its database.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSpec {
    pub uuid: String,
    pub app: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
    pub secret: String,
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

/// What the public endpoint answers, as JSON, so a provider's delivery log shows why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookAnswer {
    pub delivery: Option<i64>,
    pub verdict: String,
    pub reason: String,
}

/// An error from the control API: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlError {
    pub code: String,
    pub message: String,
}
