//! Registries as seen from a server: logging in through its Docker (nothing stored there),
//! and the registry's v2 API through its SSH session, for tags — so a registry only the
//! server can reach works like a public one.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use berth_model::ImageTag;
pub use berth_registry::{BoxStream, Connect};
use berth_registry::{Client, Login};
use berth_ssh::{Forward, RemoteTarget, Transport};
use tokio::sync::Mutex;

use crate::error::EngineError;
use crate::host::Host;

/// A registry login, as the front ends hand it to the engine. The password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The registry host as image references name it (`ghcr.io`, `127.0.0.1:5000`).
    pub host: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl RegistryCredentials {
    pub(crate) fn docker(&self) -> berth_docker::RegistryLogin {
        berth_docker::RegistryLogin {
            server: self.host.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }

    fn login(&self) -> Login {
        Login {
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

/// Logs in to the registry through the server's Docker (`POST /auth`: Docker reaches the
/// registry as a pull would and keeps nothing).
pub async fn check_login(host: &Host, creds: &RegistryCredentials) -> Result<(), EngineError> {
    host.docker()
        .check_login(&creds.docker())
        .await
        .map_err(|e| match e {
            berth_docker::DockerError::Login { registry, message } => {
                let refused = message.contains("401") || message.contains("unauthorized");
                EngineError::RegistryLogin {
                    registry,
                    username: creds.username.clone(),
                    server: host.name().to_owned(),
                    message: if refused {
                        "the registry refused the username and password or token (401 Unauthorized)"
                            .to_owned()
                    } else {
                        message
                    },
                }
            }
            other => EngineError::Docker(other),
        })
}

/// The tags of `repository` (the path inside the registry: `acme/web`), newest first, read
/// from the registry's v2 API through the server's session.
pub async fn tags(
    host: &Host,
    registry: &str,
    repository: &str,
    creds: Option<&RegistryCredentials>,
) -> Result<Vec<ImageTag>, EngineError> {
    let client = client(host, registry, creds);
    Ok(client.tags_newest_first(repository).await?)
}

/// What one tag points to now (digest, build time, platforms), through the server's session.
pub async fn tag(
    host: &Host,
    registry: &str,
    repository: &str,
    tag: &str,
    creds: Option<&RegistryCredentials>,
) -> Result<ImageTag, EngineError> {
    Ok(client(host, registry, creds).tag(repository, tag).await?)
}

/// The tags of `repository`, newest first, over streams `connect` opens (the relay's own,
/// from its container).
pub async fn tags_via(
    connect: Arc<dyn Connect>,
    registry: &str,
    repository: &str,
    creds: Option<&RegistryCredentials>,
) -> Result<Vec<ImageTag>, EngineError> {
    let client = Client::new(connect, registry, creds.map(RegistryCredentials::login));
    Ok(client.tags_newest_first(repository).await?)
}

fn client(host: &Host, registry: &str, creds: Option<&RegistryCredentials>) -> Client {
    let connect = Arc::new(ThroughHost {
        transport: host.transport().clone(),
        server: host.name().to_owned(),
        forwards: Mutex::new(HashMap::new()),
    });
    Client::new(connect, registry, creds.map(RegistryCredentials::login))
}

/// TCP connections opened from the server, through its session; the forwards live as long
/// as the client.
struct ThroughHost {
    transport: Arc<dyn Transport>,
    server: String,
    forwards: Mutex<HashMap<(String, u16), Arc<Forward>>>,
}

impl Connect for ThroughHost {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>> {
        Box::pin(async move {
            let key = (host.to_owned(), port);
            let forward = {
                let mut forwards = self.forwards.lock().await;
                match forwards.get(&key) {
                    Some(f) => f.clone(),
                    None => {
                        let target = RemoteTarget::Tcp {
                            host: host.to_owned(),
                            port,
                        };
                        let f = Arc::new(self.transport.forward(target).await.map_err(|e| {
                            io::Error::new(io::ErrorKind::ConnectionRefused, e.to_string())
                        })?);
                        forwards.insert(key, f.clone());
                        f
                    }
                }
            };
            let stream = forward.connect().await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }

    fn describe(&self) -> String {
        format!("from {}", self.server)
    }
}
