//! Webhooks: how an app is deployed on `git push`, and the record of every delivery the
//! server's relay received.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Who sends the webhook, which decides how it is verified and parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// `X-Hub-Signature-256: sha256=<hmac>`.
    Github,
    /// `X-Gitlab-Token: <secret>`.
    Gitlab,
    /// `X-Gitea-Signature: <hmac>` (also Forgejo).
    Gitea,
    /// `Authorization: Bearer <secret>`, for scripts and CI systems.
    Generic,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Gitea,
        Provider::Generic,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Gitea => "gitea",
            Provider::Generic => "generic",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown provider `{s}` (use github, gitlab, gitea or generic)"))
    }
}

/// Who runs the deploy a delivery asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookMode {
    /// The desktop or `berth watch`, whenever one is connected to the server.
    #[default]
    Attended,
    /// The relay itself, on the server.
    Unattended,
}

impl WebhookMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookMode::Attended => "attended",
            WebhookMode::Unattended => "unattended",
        }
    }
}

impl fmt::Display for WebhookMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "attended" => Ok(WebhookMode::Attended),
            "unattended" => Ok(WebhookMode::Unattended),
            other => Err(format!(
                "unknown webhook mode `{other}` (use attended or unattended)"
            )),
        }
    }
}

/// Which pushes deploy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WebhookFilter {
    /// Branch name, or a pattern with `*` (any run of characters but `/`), `**` (any run) and
    /// `?`. Pushes to other branches are skipped.
    pub branch: String,
    /// Tag pattern (same syntax); `None`: tag pushes are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
}

/// What the relay made of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Verified push that matches the filter: a deploy is queued.
    Queued,
    /// Verified, but nothing to deploy (other branch, tag, deleted ref); the reason says which.
    Skipped,
    /// Verified event that is not a push (issues, stars, …).
    Ignored,
    /// The provider's test delivery, answered.
    Ping,
    /// The same delivery id arrived before; not processed again.
    Duplicate,
    /// A push whose signed body was delivered before, under another delivery id: someone
    /// re-sent a captured delivery. Answered 2xx, nothing deployed.
    Replay,
    /// Bad signature or token, malformed body, unknown hook: answered 4xx, nothing triggered.
    Rejected,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Queued,
        Verdict::Skipped,
        Verdict::Ignored,
        Verdict::Ping,
        Verdict::Duplicate,
        Verdict::Replay,
        Verdict::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Queued => "queued",
            Verdict::Skipped => "skipped",
            Verdict::Ignored => "ignored",
            Verdict::Ping => "ping",
            Verdict::Duplicate => "duplicate",
            Verdict::Replay => "replay",
            Verdict::Rejected => "rejected",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Verdict {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Verdict::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown verdict `{s}`"))
    }
}

/// Where a queued delivery's deploy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Waiting for the desktop, `berth watch` or (unattended) the relay.
    Pending,
    /// A deploy is running for it.
    Running,
    /// Its commit was deployed and is live.
    Deployed,
    /// The deploy failed; `result` says at which step and why.
    Failed,
    /// A newer delivery for the same app was deployed instead.
    Superseded,
    /// Not a deploy (skipped, rejected, ping …).
    Done,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Running,
        DeliveryStatus::Deployed,
        DeliveryStatus::Failed,
        DeliveryStatus::Superseded,
        DeliveryStatus::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Running => "running",
            DeliveryStatus::Deployed => "deployed",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Superseded => "superseded",
            DeliveryStatus::Done => "done",
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeliveryStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown delivery status `{s}`"))
    }
}

/// One request the relay received, with what it made of it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The relay's sequence number.
    pub id: i64,
    /// The app the hook belongs to; `None` for an unknown hook id.
    pub app: Option<String>,
    pub provider: Option<Provider>,
    /// The provider's delivery id (`X-GitHub-Delivery` …), or `sha256:<body hash>`.
    pub delivery_id: Option<String>,
    /// Unix milliseconds.
    pub received_at: i64,
    /// The sender's address (the client's, as Caddy forwarded it).
    pub remote: String,
    /// `push`, `ping`, `tag_push`, …
    pub event: String,
    /// `refs/heads/main`.
    pub git_ref: Option<String>,
    pub commit: Option<String>,
    /// First line of the head commit's message.
    pub message: Option<String>,
    pub verdict: Verdict,
    /// Why: `push to main`, `branch feature is not main`, `signature does not match` …
    pub reason: String,
    /// The HTTP status the sender got.
    pub http_status: u16,
    pub status: DeliveryStatus,
    /// The Berth deployment that ran for it.
    pub deployment: Option<String>,
    /// Who ran it: `desktop on laptop`, `berth watch on ci`, `relay`.
    pub handled_by: Option<String>,
    pub finished_at: Option<i64>,
    pub duration_ms: Option<u64>,
    /// The URL it went live at, or the failed step and error.
    pub result: Option<String>,
}

impl Delivery {
    /// What a deploy for it was triggered by: `webhook delivery #3 (github push to main)`.
    pub fn trigger(&self) -> String {
        format!(
            "webhook delivery #{} ({} {} to {})",
            self.id,
            self.provider.map_or("generic", |p| p.as_str()),
            self.event,
            self.git_ref
                .as_deref()
                .map(|r| r
                    .trim_start_matches("refs/heads/")
                    .trim_start_matches("refs/tags/"))
                .unwrap_or("?")
        )
    }
}

/// An app's webhook as Berth stores it (its secret is in the keychain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    pub app: String,
    pub uuid: String,
    pub provider: Provider,
    pub filter: WebhookFilter,
    pub mode: WebhookMode,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Pushes may deploy a commit that does not descend from the serving one (history
    /// rewritten by a force-push). Off: such a push is refused, and recorded with the reason.
    #[serde(default)]
    pub allow_force_push: bool,
}

/// `berth app webhook show`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookInfo {
    pub app: String,
    pub server: String,
    pub provider: Provider,
    pub mode: WebhookMode,
    pub filter: WebhookFilter,
    /// Pushes may deploy a commit that does not descend from the serving one.
    #[serde(default)]
    pub allow_force_push: bool,
    /// The id in the URL.
    pub uuid: String,
    /// The public URL (through Caddy on the hooks domain) to paste into the git host.
    pub url: String,
    /// The same hook on the server's loopback (for tests and tunnels).
    pub loopback_url: String,
    /// Only when asked for (`--reveal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The first characters of the secret, to tell secrets apart.
    pub secret_hint: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unattended: where the relay fetches the source (without any token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_url: Option<String>,
    /// Unattended: how it authenticates (`none`, `token`, `deploy key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_auth: Option<String>,
    /// Unattended over SSH: the public half of the app's deploy key, to add to the repository
    /// (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_key: Option<String>,
}

/// `berth server relay status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayStatus {
    pub server: String,
    /// Whether it answers on its control socket.
    pub answering: bool,
    /// Docker's state of the `berth-relay` container.
    pub container: Option<String>,
    pub image: String,
    pub version: Option<String>,
    /// The public base URL (`https://hooks.example.com`), when a hooks domain is set.
    pub public_url: Option<String>,
    /// `http://127.0.0.1:9080` on the server.
    pub loopback_url: String,
    pub hooks: usize,
    /// Of them, the ones it deploys on its own.
    #[serde(default)]
    pub unattended: usize,
    /// Whether it can reach the server's Docker (unattended deploys need it).
    #[serde(default)]
    pub docker: bool,
    pub pending: usize,
    pub last_delivery: i64,
    pub body_limit: usize,
    pub rate_per_minute: u32,
    /// Why it does not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Where a deploy result is announced besides the desktop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifierKind {
    /// `POST` of the text to an ntfy topic URL (title, tags and click URL as headers).
    Ntfy,
    /// Slack-compatible incoming webhook: `{"text": …}` (Mattermost, Rocket.Chat, Discord's `/slack`).
    Slack,
    /// `POST` of the result as JSON.
    Webhook,
}

impl NotifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifierKind::Ntfy => "ntfy",
            NotifierKind::Slack => "slack",
            NotifierKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for NotifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotifierKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ntfy" => Ok(NotifierKind::Ntfy),
            "slack" => Ok(NotifierKind::Slack),
            "webhook" => Ok(NotifierKind::Webhook),
            other => Err(format!(
                "unknown notifier `{other}` (use ntfy, slack or webhook)"
            )),
        }
    }
}

/// A configured notifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notifier {
    pub id: i64,
    pub kind: NotifierKind,
    /// Shown with its path and query cut (they often carry a token).
    pub url: String,
    /// Only this app's notices (a staged app's include its instances'); `None`: every app's.
    #[serde(default)]
    pub app: Option<String>,
    /// Only these kinds of notice; empty: every kind.
    #[serde(default)]
    pub events: Vec<NoticeEvent>,
}

impl Notifier {
    /// Whether it hears `notice` about `app` (the app the notice is routed by: a stage
    /// instance's parent).
    pub fn hears(&self, app: &str, notice: &DeployNotice) -> bool {
        self.app.as_deref().is_none_or(|a| a == app)
            && (self.events.is_empty() || self.events.contains(&notice.event()))
    }

    /// `every app · every event`, `web · deploy, alert`.
    pub fn routing(&self) -> String {
        let events = if self.events.is_empty() {
            "every event".to_owned()
        } else {
            self.events
                .iter()
                .map(|e| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("{} · {events}", self.app.as_deref().unwrap_or("every app"))
    }
}

/// A notifier as saved, and what did not reach a relay (unattended apps' relays announce
/// with the notifiers routed to them and get them again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierSaved {
    pub notifier: Notifier,
    pub warnings: Vec<String>,
}

/// What a notifier said to a test notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifierTested {
    pub notifier: Notifier,
    /// Why it did not take it; `None`: it did.
    pub error: Option<String>,
}

/// What a notice is about, for routing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoticeEvent {
    /// A deploy's result: deploy, rollback, restart, promotion — from the CLI, the window, a
    /// webhook or the relay.
    Deploy,
    /// A new image tag waiting for a yes.
    Image,
    /// Something went wrong after a deploy (the monitor, a server).
    Alert,
}

impl NoticeEvent {
    pub const ALL: [NoticeEvent; 3] = [NoticeEvent::Deploy, NoticeEvent::Image, NoticeEvent::Alert];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeEvent::Deploy => "deploy",
            NoticeEvent::Image => "image",
            NoticeEvent::Alert => "alert",
        }
    }

    /// `deploy,alert` → the kinds; an unknown one is named.
    pub fn parse_list(list: &str) -> Result<Vec<NoticeEvent>, String> {
        let mut out = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let e = NoticeEvent::ALL
                .into_iter()
                .find(|e| e.as_str() == part)
                .ok_or_else(|| format!("`{part}` is not a notice event: deploy, image or alert"))?;
            if !out.contains(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }
}

/// What a notifier is told about one deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployNotice {
    pub app: String,
    pub server: String,
    /// `deployed` or `failed`.
    pub status: String,
    pub deployment: Option<String>,
    pub commit: Option<String>,
    pub duration_ms: Option<u64>,
    /// Where it is live (deployed).
    pub url: Option<String>,
    /// The step that failed, and why (failed).
    pub failed_step: Option<String>,
    pub error: Option<String>,
    /// `webhook delivery 12 (github push to main)`, `berth deploy`.
    pub trigger: String,
}

impl DeployNotice {
    /// What it is about, for routing.
    pub fn event(&self) -> NoticeEvent {
        match self.status.as_str() {
            "available" => NoticeEvent::Image,
            "deployed" | "failed" => NoticeEvent::Deploy,
            _ => NoticeEvent::Alert,
        }
    }

    /// A new image tag waits for the user (`waiting` says for which stage and how to deploy
    /// it); `trigger` says how it was found.
    pub fn available(app: &str, server: &str, waiting: &str, trigger: String) -> DeployNotice {
        DeployNotice {
            app: app.to_owned(),
            server: server.to_owned(),
            status: "available".to_owned(),
            deployment: None,
            commit: None,
            duration_ms: None,
            url: None,
            failed_step: None,
            error: Some(waiting.to_owned()),
            trigger,
        }
    }

    /// One line: `hello deployed 1a2b3c4 in 4.2 s → https://hello.example.com`.
    pub fn summary(&self) -> String {
        let commit = self
            .commit
            .as_deref()
            .map(|c| format!(" {}", c.get(..7).unwrap_or(c)))
            .unwrap_or_default();
        let took = self
            .duration_ms
            .map(|ms| format!(" in {}", crate::format::duration(ms)))
            .unwrap_or_default();
        if let Some(kind) = crate::AlertKind::parse(&self.status) {
            return kind.sentence(&self.app, self.error.as_deref().unwrap_or(""));
        }
        if self.status == "available" {
            // A new image tag for a stage that deploys only when asked; `error` says how.
            return format!(
                "{} has a new image: {}",
                self.app,
                self.error.as_deref().unwrap_or("deploy it when ready")
            );
        }
        if self.status == "deployed" {
            let url = self
                .url
                .as_deref()
                .map(|u| format!(" → {u}"))
                .unwrap_or_default();
            format!("{} deployed{commit}{took}{url}", self.app)
        } else {
            let step = self
                .failed_step
                .as_deref()
                .map(|s| format!(" at {s}"))
                .unwrap_or_default();
            let error = self
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default();
            format!("{} deploy{commit} failed{step}{error}", self.app)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        for v in Verdict::ALL {
            assert_eq!(v.as_str().parse::<Verdict>(), Ok(v));
        }
        for s in DeliveryStatus::ALL {
            assert_eq!(s.as_str().parse::<DeliveryStatus>(), Ok(s));
        }
        assert!(
            "bitbucket"
                .parse::<Provider>()
                .unwrap_err()
                .contains("github")
        );
    }

    #[test]
    fn notice_summaries() {
        let mut n = DeployNotice {
            app: "hello".into(),
            server: "prod".into(),
            status: "deployed".into(),
            deployment: Some("d1".into()),
            commit: Some("1a2b3c4d5e".into()),
            duration_ms: Some(4200),
            url: Some("https://hello.example.com".into()),
            failed_step: None,
            error: None,
            trigger: "berth deploy".into(),
        };
        assert_eq!(
            n.summary(),
            "hello deployed 1a2b3c4 in 4.2 s → https://hello.example.com"
        );
        n.status = "failed".into();
        n.failed_step = Some("build".into());
        n.error = Some("step 2/3 exited 1".into());
        assert_eq!(
            n.summary(),
            "hello deploy 1a2b3c4 failed at build: step 2/3 exited 1"
        );
    }
}
