//! The embedded transport: one russh session per server, host key checked against Berth's
//! known_hosts, every forwarded connection a new channel, reconnected when it drops.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client::{Handle, Msg};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::{AgentClient, AgentStream};
use russh::keys::{Algorithm, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{Channel, ChannelMsg, ChannelOpenFailure, Preferred};

use crate::forward::{self, Dial};
use crate::hostkey::{HostKey, KnownHosts, Verdict, display_addr};
use crate::identity::{self, tilde};
use crate::quickack::QuickAck;
use crate::{
    BoxStream, ExecOutput, Forward, RemoteTarget, SshError, SshOptions, Transport,
    error::lowercase_first,
};

/// Where the embedded client looks for an ssh-agent.
#[derive(Debug, Clone)]
pub(crate) enum AgentSource {
    /// `SSH_AUTH_SOCK` (unix) or OpenSSH's named pipe (Windows).
    Env,
    /// A specific socket (tests).
    #[cfg_attr(not(test), expect(dead_code))]
    Path(PathBuf),
}

pub(crate) async fn connect(opts: SshOptions) -> Result<Arc<dyn Transport>, SshError> {
    connect_with_agent(opts, AgentSource::Env).await
}

pub(crate) async fn connect_with_agent(
    opts: SshOptions,
    agent: AgentSource,
) -> Result<Arc<dyn Transport>, SshError> {
    opts.check_runtime_dir()?;
    // Decrypt once, before touching the network: key errors come first, and a reconnect
    // does not pay for bcrypt again.
    let identity = match &opts.identity {
        Some(path) => Some(Arc::new(
            identity::load(path, opts.passphrase.as_ref()).await?,
        )),
        None => None,
    };
    let session = Arc::new(Session::new(opts, identity, agent)?);
    let handle = session.open().await?;
    *session.handle.lock().await = Some(Arc::new(handle));
    tracing::info!(session = %session.label, "ssh session open (embedded)");
    Ok(Arc::new(EmbeddedTransport(session)))
}

/// Resolves `host:port` and connects, trying each address, within `timeout`.
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<tokio::net::TcpStream, SshError> {
    let addr = display_addr(host, port);
    let attempt = async {
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| SshError::Unreachable {
                addr: addr.clone(),
                source,
            })?;
        let mut last = None;
        for a in addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(SshError::Unreachable {
            addr: addr.clone(),
            source: last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address")
            }),
        })
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| SshError::Timeout {
            addr: addr.clone(),
            after: timeout,
        })?
}

/// russh's default host key algorithms, the pinned kinds first, so a server with several host
/// keys presents the one Berth knows.
pub(crate) fn preferred_for(pinned: &[HostKey]) -> Preferred {
    let family = |a: &Algorithm| match a {
        Algorithm::Rsa { .. } => "ssh-rsa".to_owned(),
        other => other.as_str().to_owned(),
    };
    let mut keys = Preferred::DEFAULT.key.to_vec();
    keys.sort_by_key(|a| {
        pinned
            .iter()
            .position(|p| p.algorithm == family(a))
            .unwrap_or(usize::MAX)
    });
    Preferred {
        key: Cow::Owned(keys),
        cipher: Cow::Borrowed(CIPHERS),
        ..Preferred::DEFAULT
    }
}

/// AES-GCM first: hardware AES makes it the cheapest AEAD per small request, which is what
/// Docker API calls through the session are. ChaCha20-Poly1305 for servers without it.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_256_GCM,
    russh::cipher::AES_128_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_128_CTR,
];

/// The russh handler: verifies the host key and remembers why it rejected one.
struct Client {
    host: String,
    port: u16,
    known_hosts: KnownHosts,
    rejection: Arc<Mutex<Option<SshError>>>,
}

impl russh::client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let presented = HostKey::from_server_key(server_public_key);
        let host = display_addr(&self.host, self.port);
        let rejection = match self.known_hosts.check(&self.host, self.port, &presented) {
            Ok(Verdict::Trusted) => {
                tracing::debug!(%host, fingerprint = %presented.fingerprint, "host key trusted");
                return Ok(true);
            }
            Ok(Verdict::Unknown) => SshError::HostKeyUnknown {
                host,
                fingerprint: presented.fingerprint,
            },
            Ok(Verdict::Changed { pinned }) => SshError::HostKeyChanged {
                host,
                pinned: pinned.fingerprint,
                presented: presented.fingerprint,
            },
            Err(e) => e,
        };
        tracing::warn!(error = %rejection, "host key rejected");
        if let Ok(mut slot) = self.rejection.lock() {
            *slot = Some(rejection);
        }
        Ok(false)
    }
}

/// What to open a channel for.
enum ChannelKind<'a> {
    Exec,
    Target(&'a RemoteTarget),
}

struct Session {
    opts: SshOptions,
    user: String,
    /// `user@host:port`.
    label: String,
    /// The decrypted identity file, if one was given.
    identity: Option<Arc<PrivateKey>>,
    agent: AgentSource,
    handle: tokio::sync::Mutex<Option<Arc<Handle<Client>>>>,
    closed: AtomicBool,
}

impl Session {
    fn new(
        opts: SshOptions,
        identity: Option<Arc<PrivateKey>>,
        agent: AgentSource,
    ) -> Result<Session, SshError> {
        let user = match &opts.destination.user {
            Some(u) => u.clone(),
            None => identity::local_user().ok_or_else(|| SshError::InvalidOptions {
                reason: "no user given and none in the environment ($USER)".into(),
            })?,
        };
        let label = format!("{user}@{}", opts.destination.addr());
        Ok(Session {
            opts,
            user,
            label,
            identity,
            agent,
            handle: tokio::sync::Mutex::new(None),
            closed: AtomicBool::new(false),
        })
    }

    fn addr(&self) -> String {
        self.opts.destination.addr()
    }

    /// Connects, verifies the host key and authenticates: a complete new session.
    async fn open(&self) -> Result<Handle<Client>, SshError> {
        let host = self.opts.destination.host.clone();
        let port = self.opts.destination.port_or_default();
        let timeout = self.opts.connect_timeout;
        let known_hosts = KnownHosts::new(&self.opts.known_hosts);
        let pinned = known_hosts.pinned(&host, port)?;

        let tcp = tcp_connect(&host, port, timeout).await?;
        let config = russh::client::Config {
            keepalive_interval: Some(self.opts.keepalive),
            keepalive_max: 3,
            nodelay: true,
            preferred: preferred_for(&pinned),
            ..Default::default()
        };
        let rejection = Arc::new(Mutex::new(None));
        let client = Client {
            host,
            port,
            known_hosts,
            rejection: rejection.clone(),
        };
        let result = tokio::time::timeout(
            timeout,
            russh::client::connect_stream(Arc::new(config), QuickAck::new(tcp), client),
        )
        .await;
        let rejected = rejection.lock().ok().and_then(|mut r| r.take());
        let mut handle = match (rejected, result) {
            (Some(e), _) => return Err(e),
            (None, Err(_)) => {
                return Err(SshError::Timeout {
                    addr: self.addr(),
                    after: timeout,
                });
            }
            (None, Ok(Err(e))) => {
                return Err(SshError::Handshake {
                    addr: self.addr(),
                    reason: lowercase_first(&e.to_string()),
                });
            }
            (None, Ok(Ok(handle))) => handle,
        };
        // Agents and hardware keys can be slow; give authentication a little longer.
        tokio::time::timeout(timeout * 3, self.authenticate(&mut handle))
            .await
            .map_err(|_| SshError::Timeout {
                addr: self.addr(),
                after: timeout * 3,
            })??;
        Ok(handle)
    }

    /// Identity file (if given), then every ssh-agent key, then (only without an identity
    /// file) the unencrypted default keys.
    async fn authenticate(&self, handle: &mut Handle<Client>) -> Result<(), SshError> {
        let mut tried = Vec::new();
        let mut rsa_hash = None;

        if let (Some(path), Some(key)) = (&self.opts.identity, &self.identity) {
            tried.push(format!("identity file {}", tilde(path)));
            match self.try_key(handle, key.clone(), &mut rsa_hash).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(()) => return Err(self.auth_failed(tried)),
            }
        }

        if let Some(mut agent) = self.agent_client().await {
            if let Some(binding) = handle.agent_session_binding()
                && let Err(e) = agent.bind_session(binding, false).await
            {
                tracing::debug!(error = %e, "ssh-agent does not bind sessions");
            }
            match agent.request_identities().await {
                Ok(identities) => {
                    let keys: Vec<_> = identities
                        .into_iter()
                        .filter_map(|id| match id {
                            AgentIdentity::PublicKey { key, .. } => Some(key),
                            AgentIdentity::Certificate { .. } => None,
                        })
                        .collect();
                    tried.push(format!(
                        "ssh-agent ({} key{})",
                        keys.len(),
                        if keys.len() == 1 { "" } else { "s" }
                    ));
                    for key in keys {
                        let hash = if key.algorithm().is_rsa() {
                            self.rsa_hash(handle, &mut rsa_hash).await
                        } else {
                            None
                        };
                        match handle
                            .authenticate_publickey_with(&self.user, key, hash, &mut agent)
                            .await
                        {
                            Ok(russh::client::AuthResult::Success) => return Ok(()),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::debug!(error = %e, "ssh-agent key failed");
                                if handle.is_closed() {
                                    return Err(self.auth_failed(tried));
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "ssh-agent listed no keys"),
            }
        }

        if self.opts.identity.is_none() {
            for (path, key) in identity::default_keys().await {
                tried.push(tilde(&path));
                match self.try_key(handle, Arc::new(key), &mut rsa_hash).await {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(()) => break,
                }
            }
        }
        Err(self.auth_failed(tried))
    }

    fn auth_failed(&self, tried: Vec<String>) -> SshError {
        SshError::AuthFailed {
            user: self.user.clone(),
            host: self.addr(),
            tried,
        }
    }

    /// `Ok(accepted)`, or `Err(())` when the server hung up (too many attempts).
    async fn try_key(
        &self,
        handle: &mut Handle<Client>,
        key: Arc<PrivateKey>,
        rsa_hash: &mut Option<Option<HashAlg>>,
    ) -> Result<bool, ()> {
        let hash = if key.algorithm().is_rsa() {
            self.rsa_hash(handle, rsa_hash).await
        } else {
            None
        };
        let key = PrivateKeyWithHashAlg::new(key, hash);
        match handle.authenticate_publickey(&self.user, key).await {
            Ok(result) => Ok(result.success()),
            Err(e) => {
                tracing::debug!(error = %e, "public key authentication failed");
                Err(())
            }
        }
    }

    /// The RSA signature hash the server prefers (asked once per connection).
    async fn rsa_hash(
        &self,
        handle: &Handle<Client>,
        cache: &mut Option<Option<HashAlg>>,
    ) -> Option<HashAlg> {
        if let Some(hash) = cache {
            return *hash;
        }
        let hash = match handle.best_supported_rsa_hash().await {
            Ok(Some(hash)) => hash,
            // No server-sig-algs: rsa-sha2-256 is the safe modern guess.
            _ => Some(HashAlg::Sha256),
        };
        *cache = Some(hash);
        hash
    }

    async fn agent_client(&self) -> Option<AgentClient<Box<dyn AgentStream + Send + Unpin>>> {
        let result = match &self.agent {
            #[cfg(unix)]
            AgentSource::Env => AgentClient::connect_env().await.map(AgentClient::dynamic),
            #[cfg(windows)]
            AgentSource::Env => AgentClient::connect_named_pipe(r"\\.\pipe\openssh-ssh-agent")
                .await
                .map(AgentClient::dynamic),
            #[cfg(not(any(unix, windows)))]
            AgentSource::Env => return None,
            #[cfg(unix)]
            AgentSource::Path(path) => AgentClient::connect_uds(path)
                .await
                .map(AgentClient::dynamic),
            #[cfg(not(unix))]
            AgentSource::Path(path) => AgentClient::connect_named_pipe(path)
                .await
                .map(AgentClient::dynamic),
        };
        match result {
            Ok(agent) => Some(agent),
            Err(e) => {
                tracing::debug!(error = %e, "no ssh-agent");
                None
            }
        }
    }

    /// The live session, reconnecting (host key re-verified) if it dropped.
    async fn handle(&self) -> Result<Arc<Handle<Client>>, SshError> {
        let mut slot = self.handle.lock().await;
        if self.closed.load(Ordering::SeqCst) {
            return Err(SshError::Disconnected);
        }
        if let Some(handle) = slot.as_ref()
            && !handle.is_closed()
        {
            return Ok(handle.clone());
        }
        if slot.take().is_some() {
            tracing::info!(session = %self.label, "ssh session dropped; reconnecting");
        }
        let handle = Arc::new(self.open().await?);
        tracing::info!(session = %self.label, "ssh session re-established");
        *slot = Some(handle.clone());
        Ok(handle)
    }

    /// Forgets `dead` so the next [`handle`](Self::handle) reconnects.
    async fn invalidate(&self, dead: &Arc<Handle<Client>>) {
        let mut slot = self.handle.lock().await;
        if slot.as_ref().is_some_and(|h| Arc::ptr_eq(h, dead)) {
            *slot = None;
        }
    }

    /// Opens a channel, reconnecting once if the session turns out to be gone.
    async fn open_channel(&self, kind: ChannelKind<'_>) -> Result<Channel<Msg>, SshError> {
        let mut retried = false;
        loop {
            let handle = self.handle().await?;
            let opening = async {
                match kind {
                    ChannelKind::Exec => handle.channel_open_session().await,
                    ChannelKind::Target(RemoteTarget::Unix(path)) => {
                        handle.channel_open_direct_streamlocal(path.as_str()).await
                    }
                    ChannelKind::Target(RemoteTarget::Tcp { host, port }) => {
                        handle
                            .channel_open_direct_tcpip(
                                host.as_str(),
                                u32::from(*port),
                                "127.0.0.1",
                                0,
                            )
                            .await
                    }
                }
            };
            let what = match kind {
                ChannelKind::Exec => "a command session".to_owned(),
                ChannelKind::Target(t) => t.to_string(),
            };
            tracing::debug!(session = %self.label, target = %what, "opening channel");
            match tokio::time::timeout(self.opts.connect_timeout, opening).await {
                Ok(Ok(channel)) => return Ok(channel),
                Ok(Err(russh::Error::ChannelOpenFailure(reason))) => {
                    return Err(self.refused(&kind, what, reason));
                }
                Ok(Err(e)) if !retried && (handle.is_closed() || is_gone(&e)) => {
                    tracing::debug!(error = %e, "session gone while opening a channel");
                    self.invalidate(&handle).await;
                    retried = true;
                }
                Ok(Err(e)) if handle.is_closed() || is_gone(&e) => {
                    return Err(SshError::Disconnected);
                }
                Ok(Err(e)) => {
                    return Err(SshError::ChannelRefused {
                        target: what,
                        reason: lowercase_first(&e.to_string()),
                    });
                }
                Err(_) => {
                    return Err(SshError::Timeout {
                        addr: what,
                        after: self.opts.connect_timeout,
                    });
                }
            }
        }
    }

    fn refused(
        &self,
        kind: &ChannelKind<'_>,
        target: String,
        reason: ChannelOpenFailure,
    ) -> SshError {
        let user = &self.user;
        let reason = match (reason, kind) {
            (ChannelOpenFailure::ConnectFailed, ChannelKind::Target(RemoteTarget::Unix(_))) => {
                format!(
                    "the socket does not exist, {user} may not open it, or sshd forbids \
                     stream forwarding (AllowStreamLocalForwarding)"
                )
            }
            (ChannelOpenFailure::ConnectFailed, ChannelKind::Target(RemoteTarget::Tcp { .. })) => {
                "nothing accepts connections there (as seen from the server), or sshd forbids \
                 it (AllowTcpForwarding, PermitOpen)"
                    .to_owned()
            }
            (ChannelOpenFailure::AdministrativelyProhibited, ChannelKind::Exec) => {
                "sshd does not allow more sessions (MaxSessions) or commands for this user"
                    .to_owned()
            }
            (ChannelOpenFailure::AdministrativelyProhibited, _) => format!(
                "sshd forbids forwarding for {user} (AllowStreamLocalForwarding, \
                 AllowTcpForwarding, PermitOpen, or a restricted key in authorized_keys)"
            ),
            (ChannelOpenFailure::UnknownChannelType, _) => {
                "the server does not support this kind of channel".to_owned()
            }
            (ChannelOpenFailure::ResourceShortage, _) => {
                "the server is out of resources (too many open channels?)".to_owned()
            }
            (_, _) => "the server declined".to_owned(),
        };
        SshError::ChannelRefused { target, reason }
    }

    async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        let mut channel = self.open_channel(ChannelKind::Exec).await?;
        tracing::debug!(session = %self.label, "exec");
        channel.exec(true, command).await.map_err(|e| {
            if is_gone(&e) {
                SshError::Disconnected
            } else {
                SshError::ChannelRefused {
                    target: "a command session".into(),
                    reason: lowercase_first(&e.to_string()),
                }
            }
        })?;
        let mut out = ExecOutput::default();
        let mut finished = false;
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => {
                    out.status = i32::try_from(exit_status).ok();
                    finished = true;
                }
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    tracing::debug!(signal = ?signal_name, "command killed by a signal");
                    finished = true;
                }
                ChannelMsg::Failure => {
                    return Err(SshError::ChannelRefused {
                        target: "a command session".into(),
                        reason: "sshd refused to run the command".into(),
                    });
                }
                ChannelMsg::Close => {
                    finished = true;
                    break;
                }
                _ => {}
            }
        }
        if finished {
            Ok(out)
        } else {
            Err(SshError::Disconnected)
        }
    }

    async fn check(&self) -> Result<(), SshError> {
        let handle = self.handle().await?;
        let ping = tokio::time::timeout(
            self.opts.connect_timeout,
            handle.send_global_request("keepalive@openssh.com", &[], true),
        )
        .await;
        // Any answer, even "unsupported request", means the server is there.
        let alive = matches!(ping, Ok(Ok(_)) | Ok(Err(russh::Error::RequestDenied)));
        if alive && !handle.is_closed() {
            return Ok(());
        }
        self.invalidate(&handle).await;
        self.handle().await.map(drop)
    }

    async fn close(&self) {
        let handle = {
            let mut slot = self.handle.lock().await;
            self.closed.store(true, Ordering::SeqCst);
            slot.take()
        };
        if let Some(handle) = handle {
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
            tracing::info!(session = %self.label, "ssh session closed");
        }
    }
}

/// The session (not just this channel) is gone.
fn is_gone(e: &russh::Error) -> bool {
    matches!(
        e,
        russh::Error::SendError | russh::Error::Disconnect | russh::Error::HUP
    )
}

/// Opens a channel per connection.
struct ChannelDial {
    session: Arc<Session>,
    target: RemoteTarget,
}

#[async_trait::async_trait]
impl Dial for ChannelDial {
    async fn dial(&self) -> std::io::Result<BoxStream> {
        let channel = self
            .session
            .open_channel(ChannelKind::Target(&self.target))
            .await
            .map_err(SshError::into_io)?;
        Ok(Box::new(channel.into_stream()))
    }
}

struct EmbeddedTransport(Arc<Session>);

#[async_trait::async_trait]
impl Transport for EmbeddedTransport {
    fn describe(&self) -> String {
        format!("{} (embedded ssh)", self.0.label)
    }

    async fn forward(&self, target: RemoteTarget) -> Result<Forward, SshError> {
        // Open (and close) one channel now, so a target the server cannot reach is an error
        // here rather than connections that end at once later.
        let probe = self.0.open_channel(ChannelKind::Target(&target)).await?;
        let _ = probe.close().await;
        let label = format!("{target} on {}", self.0.label);
        let dial = Arc::new(ChannelDial {
            session: self.0.clone(),
            target,
        });
        let forward = forward::listen(&self.0.opts.runtime_dir, dial, label.clone()).await?;
        tracing::debug!(forward = %label, endpoint = %forward.endpoint(), "forward open");
        Ok(forward)
    }

    async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        self.0.exec(command).await
    }

    async fn check(&self) -> Result<(), SshError> {
        self.0.check().await
    }

    async fn close(&self) {
        self.0.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_host_key_kinds_are_asked_for_first() {
        let rsa = HostKey {
            algorithm: "ssh-rsa".into(),
            fingerprint: String::new(),
            openssh: String::new(),
        };
        let order: Vec<String> = preferred_for(&[rsa])
            .key
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        assert_eq!(
            order[..4],
            ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519"]
        );
        assert_eq!(preferred_for(&[]).key, Preferred::DEFAULT.key);
    }

    /// A real ssh-agent on a private socket (no global `SSH_AUTH_SOCK` change, so tests stay
    /// parallel): its key logs in without an identity file, and when it holds only keys the
    /// server refuses, `AuthFailed` says the agent was tried.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ssh_agent_keys_are_offered() {
        use std::process::{Command, Stdio};

        use std::os::unix::fs::PermissionsExt;

        let sshd = berth_testkit::Sshd::start();
        let dir = tempfile::Builder::new()
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .unwrap();
        let sock = dir.path().join("agent.sock");
        /// Kills the agent even when an assertion fails.
        struct Agent(std::process::Child);
        impl Drop for Agent {
            fn drop(&mut self) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
        let _agent = Agent(
            Command::new("ssh-agent")
                .arg("-D")
                .arg("-a")
                .arg(&sock)
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        for _ in 0..200 {
            if sock.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let ssh_add = |args: &[&std::ffi::OsStr]| {
            berth_testkit::run(
                Command::new("ssh-add")
                    .env("SSH_AUTH_SOCK", &sock)
                    .args(args)
                    .stderr(Stdio::null()),
            )
        };
        ssh_add(&[sshd.user_key.as_os_str()]);

        let known_hosts = dir.path().join("known_hosts");
        let key = crate::hostkey::fetch_host_key("127.0.0.1", sshd.port, Duration::from_secs(5))
            .await
            .unwrap();
        KnownHosts::new(&known_hosts)
            .pin("127.0.0.1", sshd.port, &key)
            .unwrap();
        let opts = SshOptions::new(
            crate::Destination::new(Some("root"), "127.0.0.1", Some(sshd.port)),
            known_hosts,
            dir.path().to_owned(),
        );

        let t = connect_with_agent(opts.clone(), AgentSource::Path(sock.clone()))
            .await
            .unwrap();
        assert_eq!(t.exec("echo agent").await.unwrap().stdout, b"agent\n");
        t.close().await;

        let stranger = dir.path().join("stranger");
        berth_testkit::run(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(&stranger),
        );
        ssh_add(&["-D".as_ref()]);
        ssh_add(&[stranger.as_os_str()]);
        match connect_with_agent(opts, AgentSource::Path(sock.clone())).await {
            Err(SshError::AuthFailed { tried, .. }) => {
                assert!(tried.contains(&"ssh-agent (1 key)".to_owned()), "{tried:?}");
            }
            Err(other) => panic!("expected AuthFailed, got {other:?}"),
            Ok(t) => panic!("{} should have refused the key", t.describe()),
        }
    }
}
