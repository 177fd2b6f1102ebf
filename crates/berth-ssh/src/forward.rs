//! A local endpoint reaching a remote target: the [`Forward`] handle, and the accept loop that
//! turns every local connection into a new channel on the one SSH session.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
#[cfg(unix)]
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{BoxStream, LocalEndpoint, SshError, error::io_reason};

/// Opens one stream to a forward's remote target.
#[async_trait::async_trait]
pub(crate) trait Dial: Send + Sync + 'static {
    async fn dial(&self) -> io::Result<BoxStream>;
}

/// Connects to a local endpoint (the local transport, and the system transport's sockets).
pub(crate) struct EndpointDial(pub(crate) LocalEndpoint);

#[async_trait::async_trait]
impl Dial for EndpointDial {
    async fn dial(&self) -> io::Result<BoxStream> {
        connect_endpoint(&self.0).await
    }
}

pub(crate) async fn connect_endpoint(endpoint: &LocalEndpoint) -> io::Result<BoxStream> {
    Ok(match endpoint {
        #[cfg(unix)]
        LocalEndpoint::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
        LocalEndpoint::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Box::new(stream)
        }
    })
}

/// A local endpoint reaching a remote target through the one SSH session of its transport.
/// Every connection to [`endpoint`](Forward::endpoint) (or from [`connect`](Forward::connect))
/// is a new channel on that session. Dropping the `Forward` stops the listener and removes
/// its socket file; connections already open keep running until either side closes them.
pub struct Forward {
    endpoint: LocalEndpoint,
    dial: Arc<dyn Dial>,
    on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
}

impl Forward {
    pub(crate) fn new(
        endpoint: LocalEndpoint,
        dial: Arc<dyn Dial>,
        on_drop: Option<Box<dyn FnOnce() + Send + Sync>>,
    ) -> Forward {
        Forward {
            endpoint,
            dial,
            on_drop,
        }
    }

    /// Runs `f` too when dropped (after what was registered before). Used by the system
    /// transport, which is Unix-only.
    #[cfg(unix)]
    pub(crate) fn also_on_drop(mut self, f: impl FnOnce() + Send + Sync + 'static) -> Forward {
        let first = self.on_drop.take();
        self.on_drop = Some(Box::new(move || {
            if let Some(first) = first {
                first();
            }
            f();
        }));
        self
    }

    /// Where local clients connect (a unix socket in the runtime dir; a loopback port on
    /// Windows; the target itself for the local transport).
    pub fn endpoint(&self) -> &LocalEndpoint {
        &self.endpoint
    }

    /// Opens one new stream to the remote target. With the embedded transport this opens the
    /// channel directly (no hop through the local socket) and reconnects the session first
    /// if it dropped; a target the server cannot open is an error of kind `ConnectionRefused`
    /// whose message says why.
    pub async fn connect(&self) -> io::Result<BoxStream> {
        self.dial.dial().await
    }
}

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forward")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        if let Some(on_drop) = self.on_drop.take() {
            on_drop();
        }
    }
}

#[cfg(unix)]
static SOCKET_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh socket path in `dir`: unique within this process (counter) and across processes
/// (pid). A file left there by a crashed process with the same pid is removed by the caller.
#[cfg(unix)]
pub(crate) fn socket_path(dir: &Path, kind: &str) -> Result<std::path::PathBuf, SshError> {
    let n = SOCKET_COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{kind}-{}-{n}.sock", std::process::id()));
    // sun_path is 108 bytes on Linux, 104 on macOS; leave room for the NUL.
    if path.as_os_str().len() > 100 {
        return Err(SshError::InvalidOptions {
            reason: format!(
                "runtime dir {} is too long for a unix socket path; use a shorter one",
                dir.display()
            ),
        });
    }
    Ok(path)
}

/// Binds a local listener (a unix socket in `runtime_dir`; a loopback port on Windows) and
/// spawns the accept loop: each accepted connection is dialled with `dial` and bytes are
/// copied both ways, half-closes included. Dropping the returned `Forward` stops the loop and
/// removes the socket file.
pub(crate) async fn listen(
    runtime_dir: &Path,
    dial: Arc<dyn Dial>,
    label: String,
) -> Result<Forward, SshError> {
    #[cfg(unix)]
    {
        let path = socket_path(runtime_dir, "fwd")?;
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).map_err(|source| SshError::Local {
            action: format!("listen on {}", path.display()),
            source,
        })?;
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        let endpoint = LocalEndpoint::Unix(path.clone());
        let task = tokio::spawn(accept_loop(
            Listener::Unix(listener),
            dial.clone(),
            label.clone(),
        ));
        let abort = task.abort_handle();
        let on_drop = move || {
            abort.abort();
            let _ = std::fs::remove_file(&path);
            tracing::debug!(forward = %label, "forward closed");
        };
        Ok(Forward::new(endpoint, dial, Some(Box::new(on_drop))))
    }
    #[cfg(not(unix))]
    {
        let _ = runtime_dir;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| SshError::Local {
                action: "listen on 127.0.0.1".into(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SshError::Local {
            action: "listen on 127.0.0.1".into(),
            source,
        })?;
        let task = tokio::spawn(accept_loop(
            Listener::Tcp(listener),
            dial.clone(),
            label.clone(),
        ));
        let abort = task.abort_handle();
        let on_drop = move || {
            abort.abort();
            tracing::debug!(forward = %label, "forward closed");
        };
        Ok(Forward::new(
            LocalEndpoint::Tcp(addr),
            dial,
            Some(Box::new(on_drop)),
        ))
    }
}

enum Listener {
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
    #[cfg(not(unix))]
    Tcp(tokio::net::TcpListener),
}

impl Listener {
    async fn accept(&self) -> io::Result<BoxStream> {
        match self {
            #[cfg(unix)]
            Listener::Unix(l) => Ok(Box::new(l.accept().await?.0)),
            #[cfg(not(unix))]
            Listener::Tcp(l) => {
                let (s, _) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok(Box::new(s))
            }
        }
    }
}

async fn accept_loop(listener: Listener, dial: Arc<dyn Dial>, label: String) {
    loop {
        let mut local = match listener.accept().await {
            Ok(stream) => stream,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(forward = %label, error = %io_reason(&e), "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let dial = dial.clone();
        let label = label.clone();
        tokio::spawn(async move {
            let mut remote = match dial.dial().await {
                Ok(stream) => stream,
                Err(e) => {
                    // Dropping `local` closes it: the client sees the connection end at once.
                    tracing::warn!(forward = %label, error = %e, "cannot open channel");
                    return;
                }
            };
            match tokio::io::copy_bidirectional(&mut local, &mut remote).await {
                Ok((up, down)) => {
                    tracing::trace!(forward = %label, up, down, "forwarded connection done");
                }
                Err(e) => {
                    tracing::debug!(forward = %label, error = %io_reason(&e), "forwarded connection failed");
                }
            }
        });
    }
}
