//! One SSH session per host and the stream channels over it (Docker socket, loopback ports).
//!
//! A [`Transport`] owns exactly one SSH session to one server. Every remote endpoint Berth
//! needs (Docker's unix socket, Caddy's admin port, the relay socket) is reached through a
//! [`Forward`]: a local endpoint whose every connection is a new *channel* on that one session
//! (`direct-streamlocal@openssh.com` for unix sockets, `direct-tcpip` for ports), never a new
//! handshake. Three implementations:
//!
//! - [`connect_embedded`]: the russh client built into Berth (identity file, ssh-agent,
//!   default keys; works without an `ssh` binary, e.g. on Windows).
//! - [`connect_system`]: the system OpenSSH client through the `openssh` crate (honours
//!   `~/.ssh/config`, ProxyJump, ssh-agent, hardware keys).
//! - [`local()`]: this machine, no SSH at all.
//!
//! Host keys are always verified against Berth's own known_hosts file ([`hostkey::KnownHosts`]);
//! an unknown or changed key is an error carrying the fingerprints, never a silent accept.
//!
//! Invariant: `berth-ssh` knows nothing about Docker — it moves bytes to paths and ports.

mod embedded;
mod error;
mod forward;
pub mod hostkey;
mod identity;
mod local;
mod quickack;
#[cfg(unix)]
mod system;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

pub use error::SshError;
pub use forward::Forward;

/// Where to connect: `[user@]host[:port]`. `None` means "ask the transport's defaults"
/// (`~/.ssh/config` for the system transport; the local user name and port 22 for the
/// embedded one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Destination {
    pub fn new(user: Option<&str>, host: &str, port: Option<u16>) -> Destination {
        Destination {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        }
    }

    /// The port the embedded client dials.
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(22)
    }

    /// `host:port` (`[v6]:port`), as used in "cannot reach …" messages.
    pub fn addr(&self) -> String {
        hostkey::display_addr(&self.host, self.port_or_default())
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        match self.port {
            Some(port) => f.write_str(&hostkey::display_addr(&self.host, port)),
            None if self.host.contains(':') => write!(f, "[{}]", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// A passphrase for an identity file. `Debug` prints `<redacted>`, it cannot be serialized,
/// and its memory is zeroed when dropped. It never appears in an error, a log line or a
/// command line.
#[derive(Clone)]
pub struct Passphrase(String);

impl Passphrase {
    pub fn new(secret: impl Into<String>) -> Passphrase {
        Passphrase(secret.into())
    }

    /// The secret itself, for the one place that decrypts a key.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Passphrase {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Everything needed to open one SSH session.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub destination: Destination,
    /// Identity file on this machine. When given, the embedded client does not fall back to
    /// `~/.ssh/id_*`, and the system client passes it with `IdentitiesOnly=yes`.
    pub identity: Option<PathBuf>,
    pub passphrase: Option<Passphrase>,
    /// Berth's own known_hosts file (OpenSSH format), not `~/.ssh/known_hosts`.
    pub known_hosts: PathBuf,
    /// A directory Berth created with mode 0700, for forwarding and control sockets. Keep the
    /// path short: unix socket paths are limited to about 100 bytes.
    pub runtime_dir: PathBuf,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
}

impl SshOptions {
    /// Options with the default timeouts (connect 10 s, keepalive 15 s), no identity file and
    /// no passphrase.
    pub fn new(destination: Destination, known_hosts: PathBuf, runtime_dir: PathBuf) -> Self {
        SshOptions {
            destination,
            identity: None,
            passphrase: None,
            known_hosts,
            runtime_dir,
            connect_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
        }
    }
}

impl SshOptions {
    /// The runtime dir must exist and be private: anyone who can open a forwarding socket
    /// in it can talk to the server's Docker daemon.
    pub(crate) fn check_runtime_dir(&self) -> Result<(), SshError> {
        let dir = &self.runtime_dir;
        let invalid = |why: String| SshError::InvalidOptions {
            reason: format!("runtime dir {} {why}", dir.display()),
        };
        let meta = std::fs::metadata(dir).map_err(|e| invalid(error::io_reason(&e)))?;
        if !meta.is_dir() {
            return Err(invalid("is not a directory".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(invalid(format!(
                    "is open to other users (mode {mode:o}); it must be 0700"
                )));
            }
        }
        Ok(())
    }
}

/// Something to reach on the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RemoteTarget {
    /// A unix socket path on the server (`/var/run/docker.sock`).
    Unix(String),
    /// A host and port as seen from the server (`127.0.0.1:2019`).
    Tcp { host: String, port: u16 },
}

impl fmt::Display for RemoteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteTarget::Unix(path) => write!(f, "unix socket {path}"),
            RemoteTarget::Tcp { host, port } => f.write_str(&hostkey::display_addr(host, *port)),
        }
    }
}

/// Where a [`Forward`] can be reached on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalEndpoint {
    #[cfg(unix)]
    Unix(PathBuf),
    Tcp(std::net::SocketAddr),
}

impl fmt::Display for LocalEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(unix)]
            LocalEndpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            LocalEndpoint::Tcp(addr) => write!(f, "tcp://{addr}"),
        }
    }
}

/// A bidirectional byte stream.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

/// A boxed bidirectional byte stream, as returned by [`Forward::connect`].
pub type BoxStream = Box<dyn IoStream>;

/// What a command run with [`Transport::exec`] produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// The exit status; `None` when the command was killed by a signal or the server sent none.
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// One session to one server.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + 'static {
    /// `root@127.0.0.1:2222 (embedded ssh)`, `local`.
    fn describe(&self) -> String;
    /// A local endpoint reaching `target` through this session. Closed when dropped.
    async fn forward(&self, target: RemoteTarget) -> Result<Forward, SshError>;
    /// Runs a shell command on the server (through the login shell, like `ssh host 'cmd'`)
    /// and collects its output.
    async fn exec(&self, command: &str) -> Result<ExecOutput, SshError>;
    /// Is the session alive? Reconnects (re-verifying the host key) if it dropped.
    async fn check(&self) -> Result<(), SshError>;
    /// Ends the session; later calls fail with [`SshError::Disconnected`].
    async fn close(&self);
}

/// Opens a session with Berth's embedded SSH client (russh).
pub async fn connect_embedded(opts: SshOptions) -> Result<Arc<dyn Transport>, SshError> {
    embedded::connect(opts).await
}

/// Opens a session with the system OpenSSH client (a control master in `runtime_dir`).
#[cfg(unix)]
pub async fn connect_system(opts: SshOptions) -> Result<Arc<dyn Transport>, SshError> {
    system::connect(opts).await
}

/// This machine, without SSH.
pub fn local() -> Arc<dyn Transport> {
    Arc::new(local::LocalTransport)
}
