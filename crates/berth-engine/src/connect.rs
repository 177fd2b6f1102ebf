//! Reaching a server: opening its session with the transport the user chose (this machine's
//! own Docker, the system OpenSSH client, the embedded one), and the host key it must present —
//! probed, pinned in Berth's own `known_hosts`, forgotten when the server goes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_model::{Server, SshTarget, TransportKind};
use berth_ssh::hostkey::{HostKey, KnownHosts, Verdict, fetch_host_key};
use berth_ssh::{Destination, Passphrase, SshError, SshOptions, Transport};

use crate::error::EngineError;
use crate::host::Host;

/// How long a server may take to show its host key.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where this Berth keeps what every session needs on this machine.
#[derive(Debug, Clone)]
pub struct ConnectPaths {
    /// Berth's own `known_hosts` (OpenSSH format).
    pub known_hosts: PathBuf,
    /// A 0700 directory for control and forwarding sockets (keep the path short).
    pub runtime_dir: PathBuf,
}

impl Host {
    /// Opens a session to `server` and its Docker. `passphrase` unlocks its identity file;
    /// without one, an encrypted key fails with an error for which
    /// [`EngineError::needs_passphrase`] is true.
    pub async fn open(
        server: &Server,
        paths: &ConnectPaths,
        passphrase: Option<String>,
    ) -> Result<Host, EngineError> {
        let started = Instant::now();
        let transport = transport(server, paths, passphrase).await?;
        Host::connect(&server.name, transport, &server.docker_socket, started).await
    }
}

impl Host {
    /// This machine's own Docker at `socket` (the relay, in its container on the server).
    pub async fn open_local(name: &str, socket: &str) -> Result<Host, EngineError> {
        Host::connect(name, berth_ssh::local(), socket, Instant::now()).await
    }
}

async fn transport(
    server: &Server,
    paths: &ConnectPaths,
    passphrase: Option<String>,
) -> Result<Arc<dyn Transport>, EngineError> {
    let Some(target) = &server.ssh else {
        return Ok(berth_ssh::local());
    };
    let mut opts = SshOptions::new(
        destination(target),
        paths.known_hosts.clone(),
        paths.runtime_dir.clone(),
    );
    opts.identity = server.identity.as_ref().map(PathBuf::from);
    opts.passphrase = passphrase.map(Passphrase::new);
    match server.transport {
        TransportKind::Local => Ok(berth_ssh::local()),
        TransportKind::Embedded => Ok(berth_ssh::connect_embedded(opts).await?),
        #[cfg(unix)]
        TransportKind::System => Ok(berth_ssh::connect_system(opts).await?),
        #[cfg(not(unix))]
        TransportKind::System => Err(EngineError::Unsupported(
            "the system OpenSSH transport is only available on Linux and macOS; use --transport embedded".to_owned(),
        )),
    }
}

fn destination(target: &SshTarget) -> Destination {
    Destination::new(target.user.as_deref(), &target.host, target.port)
}

/// The host key a server presents, and what Berth's `known_hosts` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyCheck {
    /// Where the key was fetched from: for the system transport, what `~/.ssh/config` maps
    /// the target to.
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub verdict: HostKeyVerdict,
    /// The key itself, for [`pin_host_key`].
    key: HostKey,
}

/// What Berth's `known_hosts` says of a presented key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyVerdict {
    Trusted,
    /// Never seen: the user must confirm it.
    Unknown,
    /// Another key is pinned for this host (its fingerprint): refuse.
    Changed {
        pinned: String,
    },
}

impl HostKeyCheck {
    /// `host:port`, `[v6]:port`.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The error for a key that differs from the pinned one (`None` unless it does).
    pub fn changed_error(&self) -> Option<EngineError> {
        match &self.verdict {
            HostKeyVerdict::Changed { pinned } => {
                Some(EngineError::Ssh(SshError::HostKeyChanged {
                    host: self.address(),
                    pinned: pinned.clone(),
                    presented: self.fingerprint.clone(),
                }))
            }
            _ => None,
        }
    }
}

/// Fetches the host key `target` presents over `transport`'s way of reaching it, and checks it
/// against `known_hosts`. Nothing is pinned.
pub async fn probe_host_key(
    transport: TransportKind,
    target: &SshTarget,
    known_hosts: &Path,
) -> Result<HostKeyCheck, EngineError> {
    let dest = destination(target);
    let known = KnownHosts::new(known_hosts);
    // The system ssh reaches the server as its config says (ProxyJump, HostKeyAlias) and
    // looks its key up under the name it maps it to: the probe does the same.
    #[cfg(unix)]
    let (host, port, key) = if transport == TransportKind::System {
        berth_ssh::hostkey::fetch_system_host_key(&dest, PROBE_TIMEOUT, &known).await?
    } else {
        let port = dest.port_or_default();
        let key = fetch_host_key(&dest.host, port, PROBE_TIMEOUT).await?;
        (dest.host.clone(), port, key)
    };
    #[cfg(not(unix))]
    let (host, port, key) = {
        let _ = transport;
        let port = dest.port_or_default();
        let key = fetch_host_key(&dest.host, port, PROBE_TIMEOUT).await?;
        (dest.host.clone(), port, key)
    };
    let verdict = match known.check(&host, port, &key)? {
        Verdict::Trusted => HostKeyVerdict::Trusted,
        Verdict::Unknown => HostKeyVerdict::Unknown,
        Verdict::Changed { pinned } => HostKeyVerdict::Changed {
            pinned: pinned.fingerprint,
        },
    };
    Ok(HostKeyCheck {
        host,
        port,
        algorithm: key.algorithm.clone(),
        fingerprint: key.fingerprint.clone(),
        verdict,
        key,
    })
}

/// Trusts the key of `check` for its host from now on.
pub fn pin_host_key(known_hosts: &Path, check: &HostKeyCheck) -> Result<(), EngineError> {
    KnownHosts::new(known_hosts).pin(&check.host, check.port, &check.key)?;
    Ok(())
}

/// The `(host, port)` a server's key is pinned under: for the system transport the name ssh
/// looks it up under (its `HostKeyAlias`, or the host name and port its config maps the target
/// to; the target itself if ssh cannot say), else the target's host and port.
pub async fn host_key_name(transport: TransportKind, target: &SshTarget) -> (String, u16) {
    #[cfg(unix)]
    if transport == TransportKind::System
        && let Ok(name) = berth_ssh::hostkey::system_key_name(&destination(target)).await
    {
        return name;
    }
    let _ = transport;
    (target.host.clone(), target.port_or_default())
}

/// Forgets every key pinned for `host:port`.
pub fn forget_host_key(known_hosts: &Path, host: &str, port: u16) -> Result<(), EngineError> {
    KnownHosts::new(known_hosts).forget(host, port)?;
    Ok(())
}
