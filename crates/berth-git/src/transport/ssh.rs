//! SSH: russh authenticates with the deploy key, checks the host key (pinned, or trust on first
//! use) and runs `git-upload-pack '<path>'` on a session channel.

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use russh::ChannelMsg;
use russh::keys::{PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use tokio::sync::mpsc;

use crate::keys::{fingerprint, public_line};
use crate::{CONNECT_TIMEOUT, GitError, Job, Snapshot};

/// Where to log in and what to run.
pub(crate) struct Target<'a> {
    pub(crate) user: &'a str,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    pub(crate) path: &'a str,
}

#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    HostKeyMismatch { expected: String, presented: String },
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

/// Accepts exactly the pinned host key, or (none pinned) the first one, remembering it.
struct HostKeyCheck {
    pinned: Option<PublicKey>,
    presented: Arc<Mutex<Option<PublicKey>>>,
}

impl russh::client::Handler for HostKeyCheck {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        if let Ok(mut slot) = self.presented.lock() {
            *slot = Some(key.clone());
        }
        match &self.pinned {
            Some(pinned) if pinned.key_data() != key.key_data() => {
                Err(HandlerError::HostKeyMismatch {
                    expected: fingerprint(pinned),
                    presented: fingerprint(&key),
                })
            }
            Some(_) => Ok(true),
            None => {
                tracing::info!(fingerprint = %fingerprint(&key), "trusting ssh host key on first use");
                Ok(true)
            }
        }
    }
}

pub(crate) async fn fetch(
    job: &Job,
    target: Target<'_>,
    private_key: &str,
    pinned: Option<&str>,
) -> Result<Snapshot, GitError> {
    let key = russh::keys::decode_secret_key(private_key.trim(), None).map_err(|e| {
        GitError::InvalidKey {
            what: "deploy key",
            reason: match e {
                russh::keys::Error::KeyIsEncrypted => {
                    "it is protected by a passphrase; deploy keys must be unencrypted".to_owned()
                }
                other => format!("it is not an OpenSSH private key ({other})"),
            },
        }
    })?;
    let pinned = match pinned.map(str::trim).filter(|p| !p.is_empty()) {
        Some(line) => Some(
            PublicKey::from_openssh(line).map_err(|e| GitError::InvalidKey {
                what: "pinned host key",
                reason: format!(
                    "expected an OpenSSH public key line like `ssh-ed25519 AAAA…` ({e})"
                ),
            })?,
        ),
        None => None,
    };
    let presented = Arc::new(Mutex::new(None));
    let handler = HostKeyCheck {
        pinned,
        presented: presented.clone(),
    };
    let address = format!("{}:{}", target.host, target.port);
    let ssh_error = |message: String| GitError::Ssh {
        url: job.url.clone(),
        message,
    };

    let tcp = super::connect_tcp(job, target.host, target.port).await?;
    let config = russh::client::Config {
        inactivity_timeout: Some(Duration::from_secs(120)),
        ..Default::default()
    };
    let mut handle = match tokio::time::timeout(
        CONNECT_TIMEOUT,
        russh::client::connect_stream(Arc::new(config), tcp, handler),
    )
    .await
    {
        Err(_) => {
            return Err(GitError::ConnectTimeout {
                url: job.url.clone(),
                address,
                seconds: CONNECT_TIMEOUT.as_secs(),
            });
        }
        Ok(Err(HandlerError::HostKeyMismatch {
            expected,
            presented,
        })) => {
            return Err(GitError::HostKeyMismatch {
                url: job.url.clone(),
                expected,
                presented,
            });
        }
        Ok(Err(HandlerError::Ssh(e))) => {
            return Err(ssh_error(format!(
                "the ssh handshake with {address} failed: {e}"
            )));
        }
        Ok(Ok(handle)) => handle,
    };
    let host_key = presented
        .lock()
        .ok()
        .and_then(|k| k.as_ref().map(public_line));

    let hash_alg = if key.algorithm().is_rsa() {
        handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
    } else {
        None
    };
    let auth = handle
        .authenticate_publickey(
            target.user,
            PrivateKeyWithHashAlg::new(Arc::new(key), hash_alg),
        )
        .await
        .map_err(|e| ssh_error(format!("authentication failed: {e}")))?;
    if !auth.success() {
        return Err(GitError::DeployKeyRejected {
            url: job.url.clone(),
            user: target.user.to_owned(),
        });
    }
    let channel = handle
        .channel_open_session()
        .await
        .map_err(|e| ssh_error(format!("opening a session failed: {e}")))?;
    let command = format!("git-upload-pack {}", shell_quote(target.path));
    tracing::debug!(url = %job.url, %command, "running upload-pack over ssh");
    channel
        .exec(true, command)
        .await
        .map_err(|e| ssh_error(format!("running git-upload-pack failed: {e}")))?;

    let (mut read_half, write_half) = channel.split();
    let stderr = Arc::new(Mutex::new(Vec::<u8>::new()));
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let pump = {
        let stderr = stderr.clone();
        tokio::spawn(async move {
            while let Some(msg) = read_half.wait().await {
                match msg {
                    ChannelMsg::Data { data } => match tx.send(data).await {
                        Ok(()) => {}
                        // The reader is gone: the conversation ended.
                        Err(_) => break,
                    },
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        if let Ok(mut buf) = stderr.lock()
                            && buf.len() < 64 * 1024
                        {
                            buf.extend_from_slice(&data);
                        }
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        tracing::debug!(exit_status, "git-upload-pack exited");
                    }
                    ChannelMsg::Eof | ChannelMsg::Close => break,
                    _ => {}
                }
            }
        })
    };
    let mut writer = write_half.make_writer();
    let reader = super::ChunkReader::new(ChannelOutput(rx));
    let result = super::converse(job, reader, &mut writer, host_key).await;
    let result = match result {
        Err(e @ (GitError::Protocol { .. } | GitError::Io { .. })) => {
            // The server's own words (e.g. "fatal: '…' does not appear to be a git repository")
            // explain more than a closed stream does.
            let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
            let said = stderr
                .lock()
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
                .unwrap_or_default();
            if said.is_empty() {
                Err(e)
            } else {
                Err(job.server(said))
            }
        }
        other => {
            pump.abort();
            other
        }
    };
    let _ = handle
        .disconnect(russh::Disconnect::ByApplication, "", "en")
        .await;
    result
}

/// `'path'` for a POSIX shell, as git quotes the path it passes to `git-upload-pack`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The channel's stdout, as the pump task forwards it.
struct ChannelOutput(mpsc::Receiver<Bytes>);

impl super::Chunks for ChannelOutput {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        self.0.poll_recv(cx).map(|c| c.map(Ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_paths_for_the_remote_shell() {
        assert_eq!(shell_quote("/srv/repo.git"), "'/srv/repo.git'");
        assert_eq!(shell_quote("it's.git"), r"'it'\''s.git'");
    }
}
