//! The webhook relay of a server: installing it (an image built `FROM scratch` on the server
//! out of the relay binary Berth carries, through the Docker API), its Caddy route on the hooks
//! domain, its status, and the control client every webhook operation uses (a stream channel
//! of the SSH session to its unix socket).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use berth_docker::{Publish, ServiceSpec, labels};
use berth_engine::{
    EngineError, Host, NETWORK, Readiness, ServiceImage, ServiceInstall, install_service,
};
use berth_model::{ProxyMode, RelayConfig, RelayStatus, Server};
use berth_proxy::Route;
use berth_relay_proto::client::{BoxStream, ControlClient, Dial};
use berth_relay_proto::proto;
use berth_ssh::{Forward, RemoteTarget};

use crate::Berth;
use crate::error::ApiError;

/// The Caddy route (`@id`) of the hooks domain.
pub const RELAY_ROUTE_ID: &str = "berth-relay";

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

struct ForwardDial {
    forward: Arc<Forward>,
    describe: String,
}

impl Dial for ForwardDial {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(async move { Ok(Box::new(self.forward.connect().await?) as BoxStream) })
    }
    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// `x86_64` / `aarch64` from what Docker reports (`amd64`, `x86_64`, `arm64` …).
fn normalize_arch(arch: &str) -> Option<&'static str> {
    match arch {
        "x86_64" | "amd64" => Some("x86_64"),
        "aarch64" | "arm64" => Some("aarch64"),
        _ => None,
    }
}

/// Finds the relay binary for `arch`: `BERTH_RELAY_BIN`, else `berth-relay-<arch>-linux` next
/// to this executable (or in `../lib/berth/`, where packages put it).
pub(crate) fn relay_binary(arch: &str) -> Result<PathBuf, ApiError> {
    let name = format!("berth-relay-{arch}-linux");
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("BERTH_RELAY_BIN").filter(|p| !p.is_empty()) {
        candidates.push(PathBuf::from(p));
    } else if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join(&name));
        candidates.push(dir.join("../lib/berth").join(&name));
    }
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        ApiError::Invalid(format!(
            "the relay binary for {arch} servers is missing: looked for {} (build it with `scripts/build-relay.sh`, or point BERTH_RELAY_BIN at it)",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    Ok(found.clone())
}

/// Checks that `bytes` is a static Linux executable for `arch` (a `FROM scratch` image has no
/// dynamic loader).
pub(crate) fn check_elf(bytes: &[u8], arch: &str, path: &Path) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::Invalid(format!(
            "{} cannot run in the relay container: {why}",
            path.display()
        ))
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err(bad("it is not a Linux executable"));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(bad("it is not a 64-bit little-endian executable"));
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let machine = match u16_at(18) {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        _ => "another architecture",
    };
    if machine != arch {
        return Err(bad(&format!(
            "it is built for {machine}, the server is {arch}"
        )));
    }
    // No PT_INTERP program header: statically linked.
    let phoff = usize::try_from(u64_at(32)).unwrap_or(usize::MAX);
    let phentsize = usize::from(u16_at(54));
    let phnum = usize::from(u16_at(56));
    for i in 0..phnum {
        let at = phoff.saturating_add(i.saturating_mul(phentsize));
        if at.saturating_add(4) > bytes.len() {
            return Err(bad("its program headers are cut off"));
        }
        if u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) == 3 {
            return Err(bad(
                "it is dynamically linked (build it with scripts/build-relay.sh)",
            ));
        }
    }
    Ok(())
}

/// A short stable tag for a binary (FNV-1a; only tells builds apart).
fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The build context of the relay image: a Dockerfile and the binary.
fn image_context(binary: &[u8]) -> Result<Vec<u8>, ApiError> {
    let dockerfile = format!(
        "FROM scratch\nCOPY berth-relay /berth-relay\nEXPOSE {port}\n\
         HEALTHCHECK --interval=30s --timeout=5s CMD [\"/berth-relay\", \"healthcheck\"]\n\
         ENTRYPOINT [\"/berth-relay\"]\nCMD [\"serve\"]\n",
        port = proto::LISTEN_PORT
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8], mode: u32| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
    };
    let io_err = |e: io::Error| ApiError::Invalid(format!("cannot pack the relay image: {e}"));
    add("Dockerfile", dockerfile.as_bytes(), 0o644).map_err(io_err)?;
    add("berth-relay", binary, 0o755).map_err(io_err)?;
    tar.into_inner().map_err(io_err)
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
        self.control_client(&host, server).await
    }

    async fn control_client(
        &self,
        host: &Host,
        server: &Server,
    ) -> Result<ControlClient, ApiError> {
        let forward = host
            .transport()
            .forward(RemoteTarget::Unix(proto::CONTROL_SOCKET.to_owned()))
            .await?;
        Ok(ControlClient::new(Arc::new(ForwardDial {
            forward: Arc::new(forward),
            describe: format!("the webhook relay on {}", server.name),
        })))
    }

    /// Builds the relay image on the server, (re)starts the container `berth-relay`, routes the
    /// hooks domain to it through the server's Caddy, and gives it every webhook of the server's
    /// apps. Running it again upgrades the relay; its deliveries (a named volume) are kept.
    pub async fn relay_install(
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
        let docker = host.docker();
        let engine = docker.info().await?;
        let arch = normalize_arch(&engine.arch).ok_or_else(|| {
            ApiError::Invalid(format!(
                "Berth has no relay for {} servers (only x86_64 and aarch64)",
                engine.arch
            ))
        })?;
        let path = relay_binary(arch)?;
        let binary = std::fs::read(&path).map_err(|e| {
            ApiError::Invalid(format!(
                "cannot read the relay binary {}: {e}",
                path.display()
            ))
        })?;
        check_elf(&binary, arch, &path)?;
        let image = format!(
            "{}:{}-{}",
            proto::IMAGE_REPO,
            env!("CARGO_PKG_VERSION"),
            &digest(&binary)[..12]
        );
        // The image and the container carry the same labels.
        let relay_labels = HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), "relay".to_owned()),
        ]);
        let install = ServiceInstall {
            what: "the relay".to_owned(),
            spec: ServiceSpec {
                name: proto::CONTAINER.to_owned(),
                image: image.clone(),
                cmd: vec![
                    "serve".into(),
                    "--body-limit".into(),
                    req.body_limit.to_string(),
                    "--rate-limit".into(),
                    req.rate_per_minute.to_string(),
                ],
                env: vec![],
                labels: relay_labels.clone(),
                network: NETWORK.to_owned(),
                publish: vec![Publish {
                    container_port: proto::LISTEN_PORT,
                    host_ip: "127.0.0.1".to_owned(),
                    host_port: req.listen_port,
                }],
                // Unattended deploys: the host's Docker socket, and the directory of the
                // managed Caddy's admin socket (present or not yet).
                binds: vec![
                    format!("{}:/data", proto::DATA_VOLUME),
                    format!("{dir}:{dir}", dir = proto::CONTROL_DIR),
                    format!("{}:/var/run/docker.sock", server.docker_socket),
                    format!("{dir}:{dir}", dir = crate::routing::ADMIN_DIR),
                ],
            },
            // Built on the server from the binary Berth carries: no registry involved.
            image: ServiceImage::Build {
                labels: relay_labels,
                context: image_context(&binary)?,
            },
            files: vec![],
            ready: Readiness::Http {
                socket: proto::CONTROL_SOCKET.to_owned(),
                path: "/v1/info".to_owned(),
            },
            start_hint: format!(
                "is port {} free on {}'s loopback?",
                req.listen_port, server.name
            ),
        };
        install_service(&host, &install)
            .await
            .map_err(|e| match e {
                e @ (EngineError::ServiceDidNotStart { .. }
                | EngineError::ServiceNotReady { .. }) => ApiError::Invalid(e.to_string()),
                e => e.into(),
            })?;
        let client = self.control_client(&host, &server).await?;

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
        if let Some(proxy) = &server.proxy {
            let caddy = host.caddy(&proxy.admin).await?;
            match relay_route(&server) {
                Some(route) => caddy.put_route(&proxy.http_server, &route).await?,
                None => {
                    caddy.delete_route(RELAY_ROUTE_ID).await?;
                }
            }
        }
        // Every webhook of the server's apps, so a reinstall (or a lost volume) keeps them.
        for w in self.store.webhooks()? {
            let app = self.store.app(&w.app)?;
            if app.server == server.name {
                let spec = self.hook_spec(&w)?;
                client.put_hook(&spec).await?;
            }
        }
        self.store.update_server(&server)?;
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
        let container = host
            .docker()
            .inspect_container(proto::CONTAINER)
            .await?
            .map(|i| if i.running { "running" } else { "stopped" }.to_owned());
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
        match self.control_client(&host, &server).await?.info().await {
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
}

/// `https://hooks.example.com` when the server has a hooks domain and a proxy.
pub(crate) fn public_base(server: &Server) -> Option<String> {
    let relay = server.relay.as_ref()?;
    let domain = relay.hooks_domain.as_deref()?;
    Some(server.proxy.as_ref()?.url_for(domain))
}

/// The Caddy route of the hooks domain, when there is one.
pub(crate) fn relay_route(server: &Server) -> Option<Route> {
    let relay = server.relay.as_ref()?;
    let domain = relay.hooks_domain.clone()?;
    let proxy = server.proxy.as_ref()?;
    let upstream = match proxy.mode {
        ProxyMode::Managed { .. } => format!("{}:{}", proto::CONTAINER, proto::LISTEN_PORT),
        ProxyMode::Adopted => format!("127.0.0.1:{}", relay.listen_port),
    };
    Some(Route {
        id: RELAY_ROUTE_ID.to_owned(),
        hosts: vec![domain],
        upstream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_static_executables_for_the_servers_arch_go_into_the_image() {
        let me = std::env::current_exe().expect("exe");
        let bytes = std::fs::read(&me).expect("read");
        // Test binaries are dynamically linked.
        let err =
            check_elf(&bytes, std::env::consts::ARCH, Path::new("/x/relay")).expect_err("dynamic");
        assert!(err.to_string().contains("dynamically linked"), "{err}");
        let err = check_elf(b"#!/bin/sh\necho hi\n", "x86_64", Path::new("/x/relay"))
            .expect_err("script");
        assert_eq!(
            err.to_string(),
            "/x/relay cannot run in the relay container: it is not a Linux executable"
        );
        assert_eq!(normalize_arch("amd64"), Some("x86_64"));
        assert_eq!(normalize_arch("arm64"), Some("aarch64"));
        assert_eq!(normalize_arch("s390x"), None);
    }
}
