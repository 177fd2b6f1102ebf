//! A client of the registry v2 API, for what Docker's API cannot answer: which tags a
//! repository has, what each points to and when it was built.
//!
//! The caller supplies the streams ([`Connect`]): Berth connects through the server's SSH
//! session, so a registry only the server can reach (on its loopback, behind its firewall)
//! works as well as a public one. Logins are Basic or the token flow (`WWW-Authenticate:
//! Bearer realm=…`) that ghcr.io, Docker Hub and GitLab use.

mod auth;
mod http;
mod time;

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use berth_model::ImageTag;
use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Mutex;

pub use time::parse_rfc3339_ms;

/// A bidirectional byte stream.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}
pub type BoxStream = Box<dyn IoStream>;

/// Opens TCP streams to hosts as the registry's client sees them.
pub trait Connect: Send + Sync {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;
    /// Where the streams come from, for messages (`from prod`).
    fn describe(&self) -> String;
}

/// A username and password (or token). The password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach the registry {registry} {via}: {reason}")]
    Unreachable {
        registry: String,
        via: String,
        reason: String,
    },
    #[error("{}", unauthorized(.registry, .username.as_deref()))]
    Unauthorized {
        registry: String,
        /// The login that was refused; `None` when none was given.
        username: Option<String>,
    },
    #[error("{what} not found on {registry}")]
    NotFound { registry: String, what: String },
    #[error("TLS with {registry} failed: {message}")]
    Tls { registry: String, message: String },
    #[error("unexpected answer from the registry {registry}: {message}")]
    Protocol { registry: String, message: String },
}

fn unauthorized(registry: &str, username: Option<&str>) -> String {
    match username {
        Some(user) => format!(
            "{registry} refused the login of `{user}` (401 Unauthorized): check the username and the password or token (replace them with `berth registry add … --password-stdin`)"
        ),
        None => format!(
            "{registry} needs a login (401 Unauthorized): add it with `berth registry add NAME --url {registry} --username USER --password-stdin`"
        ),
    }
}

/// Manifest media types we read: single images and indexes, Docker's and OCI's.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Most tags whose manifests `tags_newest_first` reads for their dates; beyond that, tags are
/// listed by name only (a repository with thousands of CI tags stays quick).
pub const DATED_TAGS: usize = 100;

/// A client of one registry.
pub struct Client {
    connect: Arc<dyn Connect>,
    /// `ghcr.io`, `127.0.0.1:5000`.
    registry: String,
    login: Option<Login>,
    /// The `Authorization` value that worked last (Basic, or a bearer token for a scope).
    authorization: Mutex<Option<(String, String)>>,
}

impl Client {
    pub fn new(connect: Arc<dyn Connect>, registry: &str, login: Option<Login>) -> Client {
        Client {
            connect,
            registry: registry.to_owned(),
            login,
            authorization: Mutex::new(None),
        }
    }

    /// Checks that the registry answers and accepts the login (`GET /v2/`).
    pub async fn check(&self) -> Result<(), RegistryError> {
        self.get_ok("/v2/", "", &[], "the registry API")
            .await
            .map(|_| ())
    }

    /// The tags of `repository` (`acme/web`), as the registry lists them.
    pub async fn tags(&self, repository: &str) -> Result<Vec<String>, RegistryError> {
        let scope = pull_scope(repository);
        let mut target = format!("/v2/{repository}/tags/list?n=1000");
        let mut tags = Vec::new();
        for _ in 0..50 {
            let response = self
                .get_ok(&target, &scope, &[], &format!("repository {repository}"))
                .await?;
            let page: TagList = self.json(&response.body)?;
            tags.extend(page.tags.unwrap_or_default());
            match response.header("link").and_then(auth::next_link) {
                Some(next) => target = next,
                None => break,
            }
        }
        Ok(tags)
    }

    /// What `repository:tag` points to: digest, build time and platforms.
    pub async fn tag(&self, repository: &str, tag: &str) -> Result<ImageTag, RegistryError> {
        let scope = pull_scope(repository);
        let what = format!("tag {tag} of {repository}");
        let response = self
            .get_ok(
                &format!("/v2/{repository}/manifests/{tag}"),
                &scope,
                &[("accept", MANIFEST_ACCEPT.to_owned())],
                &what,
            )
            .await?;
        let digest = response
            .header("docker-content-digest")
            .map(str::to_owned)
            .unwrap_or_else(|| sha256_digest(&response.body));
        let manifest: Manifest = self.json(&response.body)?;
        let (config, platforms) = match (manifest.config, manifest.manifests) {
            (Some(config), _) => (Some(config.digest), Vec::new()),
            (None, Some(list)) => {
                let platforms: Vec<String> = list
                    .iter()
                    .filter_map(|m| m.platform.as_ref())
                    .filter(|p| p.os != "unknown")
                    .map(Platform::to_string)
                    .collect();
                // The build time of the first real platform's image stands for the index.
                let first = list
                    .iter()
                    .find(|m| m.platform.as_ref().is_some_and(|p| p.os != "unknown"));
                let config = match first {
                    Some(m) => {
                        let r = self
                            .get_ok(
                                &format!("/v2/{repository}/manifests/{}", m.digest),
                                &scope,
                                &[("accept", MANIFEST_ACCEPT.to_owned())],
                                &what,
                            )
                            .await?;
                        self.json::<Manifest>(&r.body)?.config.map(|c| c.digest)
                    }
                    None => None,
                };
                (config, platforms)
            }
            (None, None) => (None, Vec::new()),
        };
        let mut created_ms = None;
        let mut platforms = platforms;
        if let Some(config) = config {
            let r = self
                .get_ok(
                    &format!("/v2/{repository}/blobs/{config}"),
                    &scope,
                    &[],
                    &what,
                )
                .await?;
            let config: ImageConfig = self.json(&r.body)?;
            created_ms = config.created.as_deref().and_then(parse_rfc3339_ms);
            if platforms.is_empty() && !config.os.is_empty() {
                platforms.push(
                    Platform {
                        os: config.os,
                        architecture: config.architecture,
                        variant: config.variant,
                    }
                    .to_string(),
                );
            }
        }
        Ok(ImageTag {
            tag: tag.to_owned(),
            digest: Some(digest),
            created_ms,
            platforms,
        })
    }

    /// The tags of `repository`, newest build first (the first [`DATED_TAGS`] by name read
    /// for their dates; tags without a date follow, by name, newest-looking first).
    pub async fn tags_newest_first(
        &self,
        repository: &str,
    ) -> Result<Vec<ImageTag>, RegistryError> {
        let mut names = self.tags(repository).await?;
        names.sort_by(|a, b| b.cmp(a)); // newest-looking names first
        let mut tags = Vec::with_capacity(names.len());
        for (i, name) in names.into_iter().enumerate() {
            if i < DATED_TAGS {
                tags.push(self.tag(repository, &name).await?);
            } else {
                tags.push(ImageTag {
                    tag: name,
                    digest: None,
                    created_ms: None,
                    platforms: Vec::new(),
                });
            }
        }
        // Stable: tags built at the same moment keep their name order.
        tags.sort_by_key(|t| std::cmp::Reverse(t.created_ms));
        Ok(tags)
    }

    fn json<T: serde::de::DeserializeOwned>(&self, body: &[u8]) -> Result<T, RegistryError> {
        serde_json::from_slice(body).map_err(|e| RegistryError::Protocol {
            registry: self.registry.clone(),
            message: format!("not the JSON expected: {e}"),
        })
    }

    /// GETs `target` on the registry, logging in when asked to, following redirects (a blob
    /// is often served from storage elsewhere); a 404 is [`RegistryError::NotFound`] of `what`.
    async fn get_ok(
        &self,
        target: &str,
        scope: &str,
        headers: &[(&str, String)],
        what: &str,
    ) -> Result<http::Response, RegistryError> {
        let mut url = http::Url::registry(&self.registry, target);
        let mut logged_in = false;
        for _ in 0..6 {
            let on_registry =
                url.authority() == http::Url::registry(&self.registry, "/").authority();
            let mut all: Vec<(&str, String)> = headers.to_vec();
            if on_registry && let Some(value) = self.authorization_for(scope).await {
                all.push(("authorization", value));
            }
            let response = http::get(self.connect.as_ref(), &url, &all).await?;
            match response.status {
                s if s.is_success() => return Ok(response),
                StatusCode::UNAUTHORIZED if on_registry && !logged_in => {
                    let challenge = response.header("www-authenticate").unwrap_or_default();
                    self.log_in(challenge, scope).await?;
                    logged_in = true;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        username: self.login.as_ref().map(|l| l.username.clone()),
                    });
                }
                StatusCode::NOT_FOUND => {
                    return Err(RegistryError::NotFound {
                        registry: self.registry.clone(),
                        what: what.to_owned(),
                    });
                }
                s if s.is_redirection() => {
                    let location = response.header("location").unwrap_or_default();
                    url = url.join(location).ok_or_else(|| RegistryError::Protocol {
                        registry: self.registry.clone(),
                        message: format!("redirected to `{location}`"),
                    })?;
                }
                s => {
                    return Err(RegistryError::Protocol {
                        registry: self.registry.clone(),
                        message: format!(
                            "{s} for {target}: {}",
                            String::from_utf8_lossy(&response.body[..response.body.len().min(300)])
                                .trim()
                        ),
                    });
                }
            }
        }
        Err(RegistryError::Protocol {
            registry: self.registry.clone(),
            message: format!("too many redirects for {target}"),
        })
    }

    async fn authorization_for(&self, scope: &str) -> Option<String> {
        let cached = self.authorization.lock().await;
        match &*cached {
            Some((s, value)) if s == scope || value.starts_with("Basic ") => Some(value.clone()),
            _ => None,
        }
    }

    /// Answers a 401's challenge: Basic with the login, or a token from the realm.
    async fn log_in(&self, challenge: &str, scope: &str) -> Result<(), RegistryError> {
        let refused = || RegistryError::Unauthorized {
            registry: self.registry.clone(),
            username: self.login.as_ref().map(|l| l.username.clone()),
        };
        let value = match auth::Challenge::parse(challenge) {
            Some(auth::Challenge::Basic) => {
                let login = self.login.as_ref().ok_or_else(refused)?;
                auth::basic(login)
            }
            Some(auth::Challenge::Bearer {
                realm,
                service,
                scope: asked,
            }) => {
                let scope = asked.unwrap_or_else(|| scope.to_owned());
                let url = auth::token_url(&realm, service.as_deref(), &scope).ok_or_else(|| {
                    RegistryError::Protocol {
                        registry: self.registry.clone(),
                        message: format!("the token realm `{realm}` is not an http(s) URL"),
                    }
                })?;
                let headers: Vec<(&str, String)> = self
                    .login
                    .iter()
                    .map(|l| ("authorization", auth::basic(l)))
                    .collect();
                let response = http::get(self.connect.as_ref(), &url, &headers).await?;
                if response.status == StatusCode::UNAUTHORIZED
                    || response.status == StatusCode::FORBIDDEN
                {
                    return Err(refused());
                }
                if !response.status.is_success() {
                    return Err(RegistryError::Protocol {
                        registry: self.registry.clone(),
                        message: format!("the token service answered {}", response.status),
                    });
                }
                let token: auth::Token = self.json(&response.body)?;
                let token =
                    token
                        .token
                        .or(token.access_token)
                        .ok_or_else(|| RegistryError::Protocol {
                            registry: self.registry.clone(),
                            message: "the token service gave no token".to_owned(),
                        })?;
                format!("Bearer {token}")
            }
            None => return Err(refused()),
        };
        *self.authorization.lock().await = Some((scope.to_owned(), value));
        Ok(())
    }
}

fn pull_scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

fn sha256_digest(body: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, body);
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[derive(serde::Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct Manifest {
    config: Option<Descriptor>,
    manifests: Option<Vec<Descriptor>>,
}

#[derive(serde::Deserialize)]
struct Descriptor {
    digest: String,
    platform: Option<Platform>,
}

#[derive(serde::Deserialize)]
struct Platform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(serde::Deserialize)]
struct ImageConfig {
    created: Option<String>,
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    variant: Option<String>,
}

#[cfg(test)]
mod tests;
