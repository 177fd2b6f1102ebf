//! The webhook relay of a server: installing it (an image built `FROM scratch` on the server
//! out of the relay binary Berth carries, through the Docker API), its Caddy route on the hooks
//! domain, its status, and the control client every webhook operation uses (a stream channel
//! of the SSH session to its unix socket).

use std::path::PathBuf;

use berth_engine::observe::container_state;
use berth_engine::relay::{
    RelayService, check_relay_binary, docker_socket_group, install_relay, relay_arch, relay_control,
};
use berth_model::{RelayConfig, RelayStatus, Server};
use berth_relay_proto::client::ControlClient;
use berth_relay_proto::proto;

use crate::Berth;
use crate::error::ApiError;

/// `berth server relay install`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayInstall {
    pub hooks_domain: Option<String>,
    pub listen_port: u16,
    pub body_limit: usize,
    pub rate_per_minute: u32,
}

impl Default for RelayInstall {
    fn default() -> Self {
        RelayInstall {
            hooks_domain: None,
            listen_port: RelayConfig::DEFAULT_PORT,
            body_limit: RelayConfig::DEFAULT_BODY_LIMIT,
            rate_per_minute: RelayConfig::DEFAULT_RATE,
        }
    }
}

impl From<berth_model::view::RelayInstallRequest> for RelayInstall {
    /// From the desktop's form (default limits).
    fn from(r: berth_model::view::RelayInstallRequest) -> Self {
        RelayInstall {
            hooks_domain: r.hooks_domain.filter(|d| !d.trim().is_empty()),
            listen_port: r.listen_port,
            ..RelayInstall::default()
        }
    }
}

/// Where an installed Berth keeps the relay executables, relative to the directory of `berth`
/// and `berth-desktop`: beside them (a build tree, the Windows install dir), and under their
/// parent in `lib/berth` (the `.deb`: `/usr/bin` → `/usr/lib/berth`) or `Resources` (the macOS
/// app bundle: `Contents/MacOS` → `Contents/Resources`).
const RELAY_DIRS_UNDER_PARENT: [&str; 2] = ["lib/berth", "Resources"];

/// Finds the relay binary for `arch`: `BERTH_RELAY_BIN`, else `berth-relay-<arch>-linux` next
/// to this executable or in one of [`RELAY_DIRS_UNDER_PARENT`].
pub(crate) fn relay_binary(arch: &str) -> Result<PathBuf, ApiError> {
    let name = format!("berth-relay-{arch}-linux");
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("BERTH_RELAY_BIN").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    } else if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(&name));
        if let Some(parent) = dir.parent() {
            candidates.extend(
                RELAY_DIRS_UNDER_PARENT
                    .iter()
                    .map(|d| parent.join(d).join(&name)),
            );
        }
    }
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        ApiError::Invalid(format!(
            "the relay binary for {arch} servers is missing: looked for {} (reinstall Berth's package, build it with `scripts/build-relay.sh`, or point BERTH_RELAY_BIN at it)",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok(found.clone())
}

impl Berth {
    /// The control client of `server`'s relay, over the server's session.
    pub(crate) async fn relay_client(&self, server: &Server) -> Result<ControlClient, ApiError> {
        if server.relay.is_none() {
            return Err(ApiError::RelayNotInstalled {
                server: server.name.clone(),
            });
        }
        let host = self.host(server).await?;
        Ok(relay_control(&host).await?)
    }

    /// Builds the relay image on the server, (re)starts the container `berth-relay`, routes the
    /// hooks domain to it through the server's Caddy, and gives it every webhook of the server's
    /// apps and the apps to monitor. Running it again upgrades the relay; its deliveries, stats
    /// and events (a named volume) are kept. The host's Docker socket is mounted (the relay
    /// samples, monitors and deploys unattended with it), and the host's `/` read-only (its
    /// disks).
    pub async fn relay_install(
        &self,
        server: &str,
        req: RelayInstall,
    ) -> Result<RelayStatus, ApiError> {
        self.install_relay(server, req).await
    }

    /// Makes sure the relay can deploy (its Docker socket mounted) before an unattended hook
    /// is given to it: reinstalls it with its settings when it cannot yet.
    pub(crate) async fn relay_for_unattended(&self, server: &Server) -> Result<(), ApiError> {
        let Some(config) = server.relay.clone() else {
            return Err(ApiError::RelayNotInstalled {
                server: server.name.clone(),
            });
        };
        let info = self.relay_client(server).await?.info().await?;
        if info.docker {
            return Ok(());
        }
        tracing::info!(server = %server.name, "giving the relay the Docker socket for an unattended hook");
        let req = RelayInstall {
            hooks_domain: config.hooks_domain,
            listen_port: config.listen_port,
            body_limit: config.body_limit,
            rate_per_minute: config.rate_per_minute,
        };
        self.install_relay(&server.name, req).await?;
        Ok(())
    }

    async fn install_relay(
        &self,
        server: &str,
        req: RelayInstall,
    ) -> Result<RelayStatus, ApiError> {
        let mut server = self.store.server(server)?;
        if req.listen_port == 0 {
            return Err(ApiError::Invalid(
                "--listen-port must be between 1 and 65535".to_owned(),
            ));
        }
        if req.body_limit < 1024 {
            return Err(ApiError::Invalid(
                "--body-limit must be at least 1024 bytes (git hosts send tens of kilobytes)"
                    .to_owned(),
            ));
        }
        let hooks_domain = match req.hooks_domain.as_deref().filter(|d| !d.is_empty()) {
            Some(d) => {
                let d = crate::routing::valid_domain(d)?;
                if server.proxy.is_none() {
                    return Err(ApiError::ProxyNotInstalled {
                        server: server.name.clone(),
                    });
                }
                if let Some(owner) = self.store.domain_owner(&d)? {
                    return Err(ApiError::Invalid(format!(
                        "domain `{d}` is already used by app `{owner}`; the hooks domain needs a name of its own"
                    )));
                }
                Some(d)
            }
            None => None,
        };
        let host = self.host(&server).await?;
        let arch = relay_arch(&host).await?;
        let path = relay_binary(arch)?;
        let binary = std::fs::read(&path).map_err(|e| {
            ApiError::Invalid(format!(
                "cannot read the relay binary {}: {e}",
                path.display()
            ))
        })?;
        check_relay_binary(&binary, arch, &path)?;
        let want = RelayService {
            listen_port: req.listen_port,
            body_limit: req.body_limit,
            rate_per_minute: req.rate_per_minute,
            // It samples and monitors every app (and deploys unattended ones) with Docker.
            docker: true,
            control_group: docker_socket_group(&host, &server.docker_socket).await,
            // Berth's own `BERTH_RELAY_LOG` is handed on (debugging a relay).
            log: std::env::var("BERTH_RELAY_LOG")
                .ok()
                .filter(|l| !l.trim().is_empty()),
            // And how often it reconciles (tests, impatient debugging).
            reconcile_every: std::env::var("BERTH_RELAY_RECONCILE_EVERY")
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        };
        let image = install_relay(&host, &server, &want, &binary).await?;
        let client = relay_control(&host).await?;

        let config = RelayConfig {
            image,
            listen_port: req.listen_port,
            hooks_domain: hooks_domain.clone(),
            body_limit: req.body_limit,
            rate_per_minute: req.rate_per_minute,
            installed_at: self.now(),
            // Catch up from the start: deployments Berth already has are skipped by id.
            synced: 0,
        };
        server.relay = Some(config.clone());
        berth_engine::proxy::sync_relay_route(&host, &server).await?;
        // Every webhook of the server's apps, so a reinstall (or a lost volume) keeps them.
        for w in self.store.webhooks()? {
            let app = self.store.app(&w.app)?;
            if app.server == server.name {
                let spec = self.hook_spec(&w)?;
                client.put_hook(&spec).await?;
            }
        }
        self.store.update_server(&server)?;
        client.put_monitor(&self.monitor_config(&server)?).await?;
        self.audit(
            "relay.install",
            &server.name,
            &format!(
                "image {} port {} hooks domain {}",
                config.image,
                config.listen_port,
                config.hooks_domain.as_deref().unwrap_or("-")
            ),
        );
        self.relay_status(&server.name).await
    }

    /// Whether the relay answers, and what it holds.
    pub async fn relay_status(&self, server: &str) -> Result<RelayStatus, ApiError> {
        let server = self.store.server(server)?;
        let Some(config) = server.relay.clone() else {
            return Err(ApiError::RelayNotInstalled {
                server: server.name.clone(),
            });
        };
        let host = self.host(&server).await?;
        let container = container_state(&host, proto::CONTAINER)
            .await?
            .map(|c| if c.running { "running" } else { "stopped" }.to_owned());
        let mut status = RelayStatus {
            server: server.name.clone(),
            answering: false,
            container,
            image: config.image.clone(),
            version: None,
            public_url: public_base(&server),
            loopback_url: format!("http://127.0.0.1:{}", config.listen_port),
            hooks: 0,
            unattended: 0,
            docker: false,
            pending: 0,
            last_delivery: 0,
            body_limit: config.body_limit,
            rate_per_minute: config.rate_per_minute,
            error: None,
        };
        match relay_control(&host).await?.info().await {
            Ok(info) => {
                status.answering = true;
                status.version = Some(info.version);
                status.hooks = info.hooks;
                status.unattended = info.unattended;
                status.docker = info.docker;
                status.pending = info.pending;
                status.last_delivery = info.last_delivery;
            }
            Err(e) => status.error = Some(e.to_string()),
        }
        Ok(status)
    }

    /// Every request `server`'s relay recorded, for every app and for unknown hooks, newest
    /// first.
    pub async fn relay_deliveries(
        &self,
        server: &str,
        limit: usize,
    ) -> Result<Vec<berth_model::Delivery>, ApiError> {
        let server = self.store.server(server)?;
        Ok(self
            .relay_client(&server)
            .await?
            .deliveries(None, limit)
            .await?)
    }

    /// The relay's Prometheus metrics (they are served only on its control socket).
    pub async fn relay_metrics(&self, server: &str) -> Result<String, ApiError> {
        let server = self.store.server(server)?;
        Ok(self.relay_client(&server).await?.metrics().await?)
    }

    /// The bearer token a scraper (Prometheus) gives `GET /metrics` on the relay's public side,
    /// made and given to the relay on first use (`rotate`: a new one; the old one stops
    /// working). Kept in the secrets store; the relay keeps only its SHA-256.
    pub async fn relay_metrics_token(
        &self,
        server: &str,
        rotate: bool,
    ) -> Result<berth_model::MetricsEndpoint, ApiError> {
        let server = self.store.server(server)?;
        if server.relay.is_none() {
            return Err(ApiError::RelayNotInstalled {
                server: server.name.clone(),
            });
        }
        let key = berth_secrets::metrics_token_key(&server.name);
        let (token, fresh) = match self.secrets().get(&key)? {
            Some(t) if !rotate => (t.expose().clone(), false),
            _ => (
                format!(
                    "{:032x}{:032x}",
                    rand::random::<u128>(),
                    rand::random::<u128>()
                ),
                true,
            ),
        };
        // Given again each time: a relay reinstalled on a new volume learns it back.
        self.relay_client(&server)
            .await?
            .put_metrics_token(&token)
            .await?;
        if fresh {
            self.secrets()
                .set(&key, &berth_secrets::Sensitive::new(token.clone()))?;
            self.audit(
                "relay.metrics-token",
                &server.name,
                if rotate { "rotated" } else { "published" },
            );
        }
        Ok(berth_model::MetricsEndpoint {
            url: public_base(&server).map(|b| format!("{b}/metrics")),
            token,
        })
    }
}

/// `https://hooks.example.com` when the server has a hooks domain and a proxy.
pub(crate) fn public_base(server: &Server) -> Option<String> {
    let relay = server.relay.as_ref()?;
    let domain = relay.hooks_domain.as_deref()?;
    Some(server.proxy.as_ref()?.url_for(domain))
}
