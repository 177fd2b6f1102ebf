//! Servers: where apps run, and how Berth reaches their Docker engine.

use serde::{Deserialize, Serialize};

use crate::app::BaseImages;

/// How Berth reaches a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// This machine's own Docker socket, no SSH.
    Local,
    /// The system `ssh` binary (honours `~/.ssh/config`, ProxyJump, agent, hardware keys).
    System,
    /// Berth's embedded SSH client (no `ssh` binary needed; identity files and agent).
    Embedded,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Local => "local",
            TransportKind::System => "system",
            TransportKind::Embedded => "embedded",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TransportKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(TransportKind::Local),
            "system" => Ok(TransportKind::System),
            "embedded" => Ok(TransportKind::Embedded),
            other => Err(format!(
                "unknown transport `{other}` (use system, embedded or local)"
            )),
        }
    }
}

/// `USER@HOST[:PORT]` as typed after `--ssh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshTarget {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshTarget {
    /// Parses `[USER@]HOST[:PORT]`; an IPv6 host with a port is written `[::1]:22`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("ssh target `{input}` {why} (expected USER@HOST[:PORT])");
        let (user, rest) = match input.rsplit_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
            Some(_) => return Err(bad("has an empty user")),
            None => (None, input),
        };
        let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
            let (h, after) = stripped
                .split_once(']')
                .ok_or_else(|| bad("has an unclosed `[`"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad("has text after `]`")),
            };
            (h.to_owned(), port)
        } else if rest.matches(':').count() > 1 {
            // A bare IPv6 address without a port.
            (rest.to_owned(), None)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (rest.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        if host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(bad("has a host with spaces or slashes"));
        }
        // ssh would read `-oProxyCommand=…` as an option, not a destination.
        if host.starts_with('-') {
            return Err(bad("has a host starting with `-`"));
        }
        if let Some(u) = &user
            && (u.starts_with('-') || u.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(bad("has a user starting with `-` or with spaces"));
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(&format!("has an invalid port `{p}`")))?,
            ),
            None => None,
        };
        Ok(SshTarget { user, host, port })
    }

    /// The port to dial when none was given (the system transport lets `~/.ssh/config` decide).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(22)
    }

    /// The user to log in as when none was given.
    pub fn user_or_default(&self) -> String {
        self.user.clone().unwrap_or_else(|| "root".to_owned())
    }
}

impl std::fmt::Display for SshTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// A server as Berth stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    pub name: String,
    pub transport: TransportKind,
    /// `None` only for `TransportKind::Local`.
    pub ssh: Option<SshTarget>,
    /// Identity file on *this* machine (embedded transport; passed as `-i` to system ssh).
    pub identity: Option<String>,
    /// Path of the Docker socket on the server.
    pub docker_socket: String,
    /// Per-server default base images for generated Dockerfiles.
    pub base_images: BaseImages,
    /// Every app on this server gets `<app>.<base_domain>`.
    #[serde(default)]
    pub base_domain: Option<String>,
    /// The Caddy that routes this server's apps, once installed or adopted.
    #[serde(default)]
    pub proxy: Option<ProxyConfig>,
    /// The webhook relay, once installed.
    #[serde(default)]
    pub relay: Option<RelayConfig>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// The webhook relay of a server: the container `berth-relay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayConfig {
    /// The image Berth built for it (`berth/relay:<version>-<digest>`).
    pub image: String,
    /// Its public port on the server's loopback.
    pub listen_port: u16,
    /// The public name webhooks are sent to, routed by the server's Caddy.
    #[serde(default)]
    pub hooks_domain: Option<String>,
    /// Largest webhook body, bytes.
    pub body_limit: usize,
    /// Requests per minute per client address (0: no limit).
    pub rate_per_minute: u32,
    /// Unix milliseconds.
    pub installed_at: i64,
    /// The last of the relay's own (unattended) deployments Berth has in its history.
    #[serde(default)]
    pub synced: i64,
}

impl RelayConfig {
    pub const CONTAINER: &'static str = "berth-relay";
    pub const DEFAULT_PORT: u16 = 9080;
    pub const DEFAULT_BODY_LIMIT: usize = 25 * 1024 * 1024;
    pub const DEFAULT_RATE: u32 = 120;
}

/// How the proxy obtains certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum TlsSetting {
    /// ACME (Let's Encrypt, ZeroSSL) with an optional account email.
    Auto { email: Option<String> },
    /// Caddy's own local CA (trusted only where its root is installed).
    Internal,
    /// Plain HTTP only.
    Off,
}

impl TlsSetting {
    pub fn as_str(&self) -> &'static str {
        match self {
            TlsSetting::Auto { .. } => "auto",
            TlsSetting::Internal => "internal",
            TlsSetting::Off => "off",
        }
    }
}

/// Whether Berth runs the proxy or uses one that was already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProxyMode {
    /// The container `berth-proxy` on the `berth` network, run by Berth.
    Managed {
        image: String,
        http_port: u16,
        https_port: u16,
    },
    /// An existing Caddy whose admin endpoint the user named; routes dial the apps' published
    /// loopback ports.
    Adopted,
}

/// The proxy of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyConfig {
    pub mode: ProxyMode,
    /// Caddy's admin endpoint on the server: `unix:/path` or `127.0.0.1:2019`.
    pub admin: String,
    pub tls: TlsSetting,
    /// The Caddy HTTP server (in its JSON config) that holds Berth's routes.
    pub http_server: String,
    /// Unix milliseconds.
    pub installed_at: i64,
}

impl ProxyConfig {
    pub const CONTAINER: &'static str = "berth-proxy";

    /// The scheme apps are reached with through this proxy.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            TlsSetting::Off => "http",
            _ => "https",
        }
    }

    /// The public port for that scheme, when it is not the default one.
    pub fn public_port(&self) -> Option<u16> {
        match (&self.mode, &self.tls) {
            (ProxyMode::Managed { http_port, .. }, TlsSetting::Off) if *http_port != 80 => {
                Some(*http_port)
            }
            (
                ProxyMode::Managed { https_port, .. },
                TlsSetting::Auto { .. } | TlsSetting::Internal,
            ) if *https_port != 443 => Some(*https_port),
            _ => None,
        }
    }

    /// `https://www.example.com` (with the port when it is not the default).
    pub fn url_for(&self, domain: &str) -> String {
        match self.public_port() {
            Some(p) => format!("{}://{domain}:{p}", self.scheme()),
            None => format!("{}://{domain}", self.scheme()),
        }
    }
}

impl Server {
    pub const DEFAULT_DOCKER_SOCKET: &'static str = "/var/run/docker.sock";

    /// How the server is reached, for listings: `root@host:22 (embedded)` or `local`.
    pub fn address(&self) -> String {
        match &self.ssh {
            Some(t) => t.to_string(),
            None => "local".to_owned(),
        }
    }
}

/// What `server check` found out about a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerCheck {
    pub server: String,
    pub transport: TransportKind,
    pub address: String,
    pub docker_version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
    pub cpus: u64,
    pub mem_total_bytes: u64,
    pub mem_available_bytes: Option<u64>,
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    /// Round trip of Docker's `/_ping` over the open connection, in milliseconds.
    pub latency_ms: f64,
    /// Time to open the connection (SSH handshake included), in milliseconds.
    pub connect_ms: f64,
    pub containers_running: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_targets() {
        let t = SshTarget::parse("root@203.0.113.5:22").unwrap();
        assert_eq!(
            t,
            SshTarget {
                user: Some("root".into()),
                host: "203.0.113.5".into(),
                port: Some(22)
            }
        );
        assert_eq!(t.to_string(), "root@203.0.113.5:22");
        let t = SshTarget::parse("deploy@[::1]:2222").unwrap();
        assert_eq!(t.host, "::1");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.to_string(), "deploy@[::1]:2222");
        let t = SshTarget::parse("myalias").unwrap();
        assert_eq!((t.user, t.port), (None, None));
        assert!(SshTarget::parse("root@").is_err());
        assert!(SshTarget::parse("root@host:99999").is_err());
        assert!(SshTarget::parse("root@host:0").is_err());
        assert!(SshTarget::parse("@host").is_err());
        assert!(SshTarget::parse("root@my host").is_err());
        // Nothing that ssh would read as an option.
        let err = SshTarget::parse("-oProxyCommand=id").unwrap_err();
        assert!(err.contains("starting with `-`"), "{err}");
        assert!(SshTarget::parse("root@-oProxyCommand=id").is_err());
        assert!(SshTarget::parse("-oProxyCommand=id@host").is_err());
    }
}

/// `berth server proxy status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStatus {
    pub server: String,
    pub installed: bool,
    /// `managed` or `adopted`.
    pub mode: Option<String>,
    pub admin: Option<String>,
    pub tls: Option<String>,
    pub image: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    /// The admin API answered.
    pub reachable: bool,
    /// Docker's state of the `berth-proxy` container (managed proxies).
    pub container_status: Option<String>,
    /// Routes Berth manages in this proxy.
    pub routes: Vec<String>,
    pub error: Option<String>,
}

/// What `server prune` found (with `dry_run`) or removed on a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneReport {
    pub server: String,
    pub dry_run: bool,
    /// The images removed (or that would be), newest first.
    pub images: Vec<PrunedImage>,
    /// Build cache no build uses, removed (or that would be).
    pub build_cache_bytes: u64,
    /// What was kept because a rollback can reach it (or a container uses it).
    pub kept: usize,
}

impl PruneReport {
    /// Everything it frees (or would).
    pub fn bytes(&self) -> u64 {
        self.images.iter().map(|i| i.bytes).sum::<u64>() + self.build_cache_bytes
    }
}

/// One image `server prune` removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedImage {
    /// Its tag, or its id when it has none.
    pub image: String,
    /// The Berth app it belonged to.
    pub app: Option<String>,
    /// Bytes it frees (0 when only a tag goes: a pulled image keeps its registry tag).
    pub bytes: u64,
    /// Why it may go: `app web was removed`, `beyond the 6 newest of web`, `dangling`.
    pub why: String,
}

/// One drift `reconcile` found between Berth's records and a server, and what `--fix` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftReport {
    pub server: String,
    /// `-` for the server itself (unreachable).
    pub app: String,
    /// `missing`, `stopped`, `orphan`, `route-missing`, `route-stale`, `stuck-deploy`,
    /// `unreachable`.
    pub kind: String,
    pub problem: String,
    /// What `--fix` does (or did).
    pub fix: String,
    /// With `--fix`: whether it worked; `None` when not asked to fix.
    pub fixed: Option<bool>,
    /// Why the fix did not work.
    pub error: Option<String>,
}

/// Where a scraper (Prometheus) reads a relay's metrics, and the bearer token it sends.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsEndpoint {
    /// `https://hooks.example.com/metrics`; `None` without a hooks domain (the relay's
    /// loopback port only).
    pub url: Option<String>,
    pub token: String,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("url", &self.url)
            .field("token", &"<redacted>")
            .finish()
    }
}
