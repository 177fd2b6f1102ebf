//! The local transport: this machine's own sockets and shell, no SSH.

use std::sync::Arc;

use crate::forward::EndpointDial;
use crate::{ExecOutput, Forward, LocalEndpoint, RemoteTarget, SshError, Transport};

pub(crate) struct LocalTransport;

#[async_trait::async_trait]
impl Transport for LocalTransport {
    fn describe(&self) -> String {
        "local".to_owned()
    }

    /// A unix target is its own endpoint (no copying); a TCP target resolves to its address.
    async fn forward(&self, target: RemoteTarget) -> Result<Forward, SshError> {
        let endpoint = match &target {
            #[cfg(unix)]
            RemoteTarget::Unix(path) => LocalEndpoint::Unix(path.into()),
            #[cfg(not(unix))]
            RemoteTarget::Unix(_) => {
                return Err(SshError::InvalidOptions {
                    reason: format!("{target} cannot be reached on this platform"),
                });
            }
            RemoteTarget::Tcp { host, port } => {
                let addr = tokio::net::lookup_host((host.as_str(), *port))
                    .await
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .ok_or_else(|| SshError::Unreachable {
                        addr: target.to_string(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            "the name has no address",
                        ),
                    })?;
                LocalEndpoint::Tcp(addr)
            }
        };
        Ok(Forward::new(
            endpoint.clone(),
            Arc::new(EndpointDial(endpoint)),
            None,
        ))
    }

    async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        #[cfg(unix)]
        let mut cmd = {
            let mut cmd = tokio::process::Command::new("sh");
            cmd.arg("-c").arg(command);
            cmd
        };
        #[cfg(not(unix))]
        let mut cmd = {
            let mut cmd = tokio::process::Command::new("cmd");
            cmd.arg("/C").arg(command);
            cmd
        };
        cmd.stdin(std::process::Stdio::null());
        let out = cmd.output().await.map_err(|source| SshError::Local {
            action: "run a local shell".into(),
            source,
        })?;
        Ok(ExecOutput {
            status: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    async fn check(&self) -> Result<(), SshError> {
        Ok(())
    }

    async fn close(&self) {}
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn local_exec_and_forwards() {
        let t = crate::local();
        assert_eq!(t.describe(), "local");
        let out = t.exec("echo hi; echo oops >&2; exit 3").await.unwrap();
        assert_eq!(
            (out.status, out.stdout.as_slice(), out.stderr.as_slice()),
            (Some(3), &b"hi\n"[..], &b"oops\n"[..])
        );

        #[cfg(unix)]
        {
            let f = t
                .forward(RemoteTarget::Unix("/var/run/docker.sock".into()))
                .await
                .unwrap();
            assert_eq!(
                f.endpoint(),
                &LocalEndpoint::Unix("/var/run/docker.sock".into())
            );
        }

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let f = t
            .forward(RemoteTarget::Tcp {
                host: "127.0.0.1".into(),
                port,
            })
            .await
            .unwrap();
        assert_eq!(
            f.endpoint(),
            &LocalEndpoint::Tcp(listener.local_addr().unwrap())
        );
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"hello").await.unwrap();
        });
        let mut s = f.connect().await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        assert_eq!(buf, b"hello");
        server.await.unwrap();
    }
}
