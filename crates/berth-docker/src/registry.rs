//! Registry credentials, passed to Docker per request (`X-Registry-Auth`): Berth never runs
//! `docker login` on a server, so no credential is written to its disk.

use std::fmt;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptionsBuilder;
use bytes::Bytes;
use futures_util::StreamExt;

use crate::client::DockerClient;
use crate::error::DockerError;

/// A login to one registry. The password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    /// The registry host as image references name it (`ghcr.io`, `127.0.0.1:5000`).
    pub server: String,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl RegistryLogin {
    fn credentials(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(self.server.clone()),
            ..DockerCredentials::default()
        }
    }
}

impl DockerClient {
    /// Pulls `image` from its registry, with `login` when the registry needs one.
    pub async fn pull_image(
        &self,
        image: &str,
        login: Option<&RegistryLogin>,
    ) -> Result<(), DockerError> {
        // `repo@sha256:…` pulls that digest (as `tag`, like the docker CLI: an empty tag
        // would pull every tag); `repo:tag` that tag; `repo` latest.
        let (name, tag) = match (image.split_once('@'), image.rsplit_once(':')) {
            (Some((n, digest)), _) => (n, digest),
            (None, Some((n, t))) if !t.contains('/') => (n, t),
            _ => (image, "latest"),
        };
        let options = CreateImageOptionsBuilder::default()
            .from_image(name)
            .tag(tag)
            .build();
        let credentials = login.map(RegistryLogin::credentials);
        let mut stream = self.docker.create_image(Some(options), None, credentials);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(detail) = info.error_detail {
                        return Err(DockerError::Api {
                            status: 500,
                            message: detail.message.unwrap_or_default(),
                        });
                    }
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(())
    }

    /// Asks the server's Docker to log in to the registry with `login` (`POST /auth`): the
    /// registry is reached from the server, as a pull would, and nothing is stored there.
    pub async fn check_login(&self, login: &RegistryLogin) -> Result<(), DockerError> {
        let body = serde_json::json!({
            "username": login.username,
            "password": login.password,
            "serveraddress": login.server,
        });
        let request = hyper::Request::post(format!("http://docker/v{}/auth", self.api_version()))
            .header("content-type", "application/json")
            .body(bollard::body_full(Bytes::from(body.to_string())))
            .map_err(|e| DockerError::Protocol(e.to_string()))?;
        let (status, bytes) = self
            .send_raw(request, std::time::Duration::from_secs(60))
            .await?;
        if status.is_success() {
            return Ok(());
        }
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(DockerError::Login {
            registry: login.server.clone(),
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_never_prints_its_password() {
        let login = RegistryLogin {
            server: "ghcr.io".into(),
            username: "me".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{login:?}");
        assert!(
            shown.contains("ghcr.io") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
