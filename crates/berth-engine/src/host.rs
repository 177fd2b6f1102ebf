//! A connected server: its transport, the forward to its Docker socket, and a Docker client
//! whose connections are channels of that one session.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use berth_docker::{Dialer, DockerClient, DockerError, EngineInfo};
use berth_ssh::{Forward, RemoteTarget, SshError, Transport};

use crate::error::EngineError;

/// One server, connected.
pub struct Host {
    /// Caddy admin clients by admin address, each over its own forward.
    caddies: tokio::sync::Mutex<std::collections::HashMap<String, berth_proxy::Caddy>>,
    name: String,
    transport: Arc<dyn Transport>,
    docker: DockerClient,
    /// Kept so the forward to the Docker socket lives as long as the host.
    _docker_forward: Arc<Forward>,
    /// Time it took to connect (SSH handshake, forward, version negotiation).
    pub connect_ms: f64,
    /// Set when Berth runs on the host itself, inside a container on this Docker network
    /// (the relay): health checks then reach containers by their address on it.
    probe_network: Option<String>,
    /// The last facts read, and when (a fleet refresh re-pings within [`FACTS_FRESH`]).
    facts: std::sync::Mutex<Option<(std::time::Instant, HostFacts)>>,
}

/// How long read facts (engine, memory, disk) stay good for a fleet refresh.
pub const FACTS_FRESH: std::time::Duration = std::time::Duration::from_secs(60);

struct ForwardDialer {
    forward: Arc<Forward>,
    describe: String,
}

impl Dialer for ForwardDialer {
    fn dial(
        &self,
    ) -> Pin<Box<dyn Future<Output = io::Result<berth_docker::BoxStream>> + Send + '_>> {
        Box::pin(async move {
            let stream = self.forward.connect().await?;
            Ok(Box::new(stream) as berth_docker::BoxStream)
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

struct ForwardConnect {
    forward: Arc<Forward>,
    describe: String,
}

impl berth_proxy::Connect for ForwardConnect {
    fn connect(
        &self,
    ) -> Pin<Box<dyn Future<Output = io::Result<berth_proxy::BoxStream>> + Send + '_>> {
        Box::pin(async move {
            let stream = self.forward.connect().await?;
            Ok(Box::new(stream) as berth_proxy::BoxStream)
        })
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }
}

/// What `server check` reports beyond the engine's own facts.
#[derive(Debug, Clone, PartialEq)]
pub struct HostFacts {
    pub engine: EngineInfo,
    pub api_version: String,
    pub ping_ms: f64,
    pub mem_available_bytes: Option<u64>,
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
}

impl Host {
    /// Opens the forward to `docker_socket` over `transport` and negotiates the API version.
    pub async fn connect(
        name: &str,
        transport: Arc<dyn Transport>,
        docker_socket: &str,
        started: Instant,
    ) -> Result<Host, EngineError> {
        let describe = if transport.describe() == "local" {
            docker_socket.to_owned()
        } else {
            format!("{docker_socket} on {name}")
        };
        let forward = match transport
            .forward(RemoteTarget::Unix(docker_socket.to_owned()))
            .await
        {
            Ok(f) => Arc::new(f),
            Err(e @ SshError::ChannelRefused { .. }) => {
                return Err(diagnose(&transport, &describe, docker_socket, e.into()).await);
            }
            Err(e) => return Err(e.into()),
        };
        let dialer = Arc::new(ForwardDialer {
            forward: forward.clone(),
            describe: describe.clone(),
        });
        let docker = match DockerClient::connect(dialer).await {
            Ok(d) => d,
            Err(
                e @ (DockerError::Unreachable { .. }
                | DockerError::NotRunning { .. }
                | DockerError::Protocol(_)),
            ) => return Err(diagnose(&transport, &describe, docker_socket, e.into()).await),
            Err(e) => return Err(e.into()),
        };
        Ok(Host {
            caddies: tokio::sync::Mutex::new(std::collections::HashMap::new()),
            name: name.to_owned(),
            transport,
            docker,
            _docker_forward: forward,
            connect_ms: started.elapsed().as_secs_f64() * 1000.0,
            probe_network: None,
            facts: std::sync::Mutex::new(None),
        })
    }

    /// Health checks reach containers by their address on `network`, not through a published
    /// loopback port (for a caller that runs in a container on that network).
    pub fn probing_on_network(mut self, network: &str) -> Host {
        self.probe_network = Some(network.to_owned());
        self
    }

    pub(crate) fn probe_network(&self) -> Option<&str> {
        self.probe_network.as_deref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn docker(&self) -> &DockerClient {
        &self.docker
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// A client of the Caddy admin endpoint `admin` (`unix:/path`, `127.0.0.1:2019`) on this
    /// server, reached through the session; opened on first use and kept.
    pub async fn caddy(&self, admin: &str) -> Result<berth_proxy::Caddy, EngineError> {
        let mut caddies = self.caddies.lock().await;
        if let Some(c) = caddies.get(admin) {
            return Ok(c.clone());
        }
        let address = berth_proxy::AdminAddress::parse(admin)?;
        let target = match &address {
            berth_proxy::AdminAddress::Unix(path) => RemoteTarget::Unix(path.clone()),
            berth_proxy::AdminAddress::Tcp { host, port } => RemoteTarget::Tcp {
                host: host.clone(),
                port: *port,
            },
        };
        let describe = format!("the Caddy admin endpoint {admin} on {}", self.name);
        let forward = self.transport.forward(target).await.map_err(|e| {
            EngineError::Proxy(berth_proxy::ProxyError::Unreachable {
                address: describe.clone(),
                reason: e.to_string(),
            })
        })?;
        let connect = Arc::new(ForwardConnect {
            forward: Arc::new(forward),
            describe,
        });
        let caddy = berth_proxy::Caddy::new(connect, &address);
        caddies.insert(admin.to_owned(), caddy.clone());
        Ok(caddy)
    }

    /// Forgets a cached Caddy client (after the proxy was reinstalled or removed).
    pub async fn forget_caddy(&self, admin: &str) {
        self.caddies.lock().await.remove(admin);
    }

    /// Engine version, resources, free memory and disk, and the `/_ping` round trip — all
    /// read now (the engine, memory and disk at once, beside the pings).
    pub async fn facts(&self) -> Result<HostFacts, EngineError> {
        self.read_facts(true).await
    }

    /// The facts; `system`: also free memory and disk (a command on the server, which costs
    /// the server a session: a fleet refresh goes without).
    async fn read_facts(&self, system: bool) -> Result<HostFacts, EngineError> {
        let pings = async {
            // Warm the connection so the ping measures the tunnel, not its first channel.
            self.docker.ping().await?;
            self.median_ping(3).await
        };
        // Docker's data root is where its disk use goes: as the last facts said, else the
        // default (or `/` when that is not there) — read beside the engine, not after it.
        let root = match self.facts.lock() {
            Ok(f) => f.as_ref().map(|(_, f)| f.engine.root_dir.clone()),
            Err(_) => None,
        }
        .unwrap_or_else(|| "/var/lib/docker".to_owned());
        let script = format!(
            "grep MemAvailable /proc/meminfo; d='{}'; [ -d \"$d\" ] || d=/; df -Pk \"$d\" 2>/dev/null | tail -n 1",
            root.replace('\'', "")
        );
        let mem_disk = async {
            if !system {
                return (None, None);
            }
            match self.transport.exec(&script).await {
                Ok(out) => parse_mem_disk(&String::from_utf8_lossy(&out.stdout)),
                Err(e) => {
                    tracing::debug!("could not read free memory/disk: {e}");
                    (None, None)
                }
            }
        };
        let (ping_ms, engine, (mem, disk)) = tokio::join!(pings, self.docker.info(), mem_disk);
        let engine = engine?;
        let facts = HostFacts {
            api_version: self.docker.api_version(),
            engine,
            ping_ms: ping_ms?,
            mem_available_bytes: mem,
            disk_free_bytes: disk.map(|(free, _)| free),
            disk_total_bytes: disk.map(|(_, total)| total),
        };
        if let Ok(mut f) = self.facts.lock() {
            *f = Some((std::time::Instant::now(), facts.clone()));
        }
        Ok(facts)
    }

    /// Like [`Host::facts`], but facts read within [`FACTS_FRESH`] are reused and only the
    /// round trip is measured again (a fleet view refreshing every server); read anew, they
    /// leave free memory and disk out unless a full read left them.
    pub async fn recent_facts(&self) -> Result<HostFacts, EngineError> {
        let cached = self
            .facts
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .filter(|(at, _)| at.elapsed() < FACTS_FRESH);
        match cached {
            Some((_, mut facts)) => {
                facts.ping_ms = self.median_ping(3).await?;
                Ok(facts)
            }
            None => self.read_facts(false).await,
        }
    }

    /// The median of `n` `/_ping` round trips, in ms.
    async fn median_ping(&self, n: usize) -> Result<f64, EngineError> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            samples.push(self.docker.ping().await?.as_secs_f64() * 1000.0);
        }
        samples.sort_by(f64::total_cmp);
        Ok(samples[samples.len() / 2])
    }

    /// Who Berth logs in to the server as: `(uid, name)`, if the server says (`id`).
    pub async fn login(&self) -> Option<(u32, String)> {
        let out = match self.transport.exec("id -u; id -un").await {
            Ok(out) if out.success() => out,
            Ok(_) => return None,
            Err(e) => {
                tracing::debug!("cannot ask the server who Berth logs in as: {e}");
                return None;
            }
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines().map(str::trim);
        let uid = lines.next()?.parse().ok()?;
        let name = lines.next().unwrap_or_default().to_owned();
        Some((uid, name))
    }

    /// Closes the session.
    pub async fn close(&self) {
        self.transport.close().await;
    }
}

/// SSH servers do not say why a stream to a unix socket was refused, and a dead socket looks
/// like a closed connection: ask the server whether the Docker socket exists and is usable.
async fn diagnose(
    transport: &Arc<dyn Transport>,
    target: &str,
    socket: &str,
    original: EngineError,
) -> EngineError {
    let p = socket.replace('\'', "");
    let script = format!(
        "if [ -S '{p}' ]; then if [ -r '{p}' ] && [ -w '{p}' ]; then echo ok; else echo denied; fi; else echo missing; fi"
    );
    match transport.exec(&script).await {
        Ok(out) => match String::from_utf8_lossy(&out.stdout).trim() {
            "missing" => EngineError::Docker(DockerError::NotRunning {
                target: target.to_owned(),
                reason: format!("there is no socket at {socket}"),
            }),
            "denied" => EngineError::Docker(DockerError::PermissionDenied {
                target: target.to_owned(),
            }),
            _ => original,
        },
        Err(e) => {
            tracing::debug!("could not diagnose the docker socket: {e}");
            original
        }
    }
}

/// Parses `MemAvailable: N kB` and the last line of `df -Pk` (free, total in bytes).
fn parse_mem_disk(text: &str) -> (Option<u64>, Option<(u64, u64)>) {
    let mut mem = None;
    let mut disk = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first() == Some(&"MemAvailable:") {
            mem = fields
                .get(1)
                .and_then(|v| v.parse::<u64>().ok())
                .map(|kb| kb * 1024);
        } else if fields.len() >= 6 {
            let total = fields[1].parse::<u64>().ok();
            let free = fields[3].parse::<u64>().ok();
            if let (Some(t), Some(f)) = (total, free) {
                disk = Some((f * 1024, t * 1024));
            }
        }
    }
    (mem, disk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meminfo_and_df() {
        let text = "MemAvailable:   20480 kB\n/dev/vda 263174212 11000000 252174212 5% /\n";
        assert_eq!(
            parse_mem_disk(text),
            (
                Some(20480 * 1024),
                Some((252174212 * 1024, 263174212 * 1024))
            )
        );
        assert_eq!(parse_mem_disk("garbage"), (None, None));
    }
}
