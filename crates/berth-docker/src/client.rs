//! The Docker client of one server: connection, version negotiation and engine facts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::dial::{DialConnector, Dialer};
use crate::error::DockerError;
use crate::labels;

/// Seconds any single Docker API request may take before it is abandoned. Streams (build
/// output, logs) only need their headers within this time.
const REQUEST_TIMEOUT_SECS: u64 = 300;

/// A connected Docker client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct DockerClient {
    pub(crate) docker: Docker,
    pub(crate) target: Arc<str>,
    /// Sends a request bollard has no call for (`/auth`) through the same pool.
    pub(crate) raw: RawSend,
}

type RawResponse =
    Result<hyper::Response<hyper::body::Incoming>, hyper_util::client::legacy::Error>;
pub(crate) type RawSend = Arc<
    dyn Fn(bollard::BollardRequest) -> std::pin::Pin<Box<dyn Future<Output = RawResponse> + Send>>
        + Send
        + Sync,
>;

/// Facts about the engine, for `server check`.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineInfo {
    pub version: String,
    pub api_version: String,
    pub os: String,
    pub arch: String,
    pub cpus: u64,
    pub mem_total_bytes: u64,
    pub containers_running: u64,
    pub root_dir: String,
    /// The server's kernel release (`6.1.0-18-amd64`), empty if Docker did not say.
    pub kernel: String,
}

impl DockerClient {
    /// Connects through `dialer` and negotiates the API version with the engine.
    pub async fn connect(dialer: Arc<dyn Dialer>) -> Result<DockerClient, DockerError> {
        let target: Arc<str> = dialer.describe().into();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(8)
            .build(DialConnector(dialer));
        let raw_http = http.clone();
        let raw: RawSend = Arc::new(move |req: bollard::BollardRequest| {
            let http = raw_http.clone();
            Box::pin(async move { http.request(req).await })
        });
        let docker = Docker::connect_with_custom_transport(
            move |req: bollard::BollardRequest| {
                let http = http.clone();
                async move {
                    http.request(req)
                        .await
                        .map_err(|err| bollard::errors::Error::HyperLegacyError { err })
                }
            },
            Some("http://docker"),
            REQUEST_TIMEOUT_SECS,
            bollard::API_DEFAULT_VERSION,
        )
        .map_err(|e| DockerError::from_bollard(&target, e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| DockerError::from_bollard(&target, e))?;
        tracing::debug!(target = %target, api = ?docker.client_version(), "docker connected");
        Ok(DockerClient {
            docker,
            target,
            raw,
        })
    }

    pub(crate) fn err(&self, e: bollard::errors::Error) -> DockerError {
        DockerError::from_bollard(&self.target, e)
    }

    /// Sends a request bollard has no call for (or whose answer changed shape across API
    /// versions) and reads the whole answer: its status and body.
    pub(crate) async fn send_raw(
        &self,
        request: bollard::BollardRequest,
        timeout: Duration,
    ) -> Result<(hyper::StatusCode, bytes::Bytes), DockerError> {
        use http_body_util::BodyExt;
        let response = tokio::time::timeout(timeout, (self.raw)(request))
            .await
            .map_err(|_| DockerError::Timeout {
                secs: timeout.as_secs(),
            })?
            .map_err(|e| DockerError::Unreachable {
                target: self.target.to_string(),
                reason: e.to_string(),
            })?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| DockerError::Protocol(e.to_string()))?
            .to_bytes();
        Ok((status, bytes))
    }

    /// Where this client is connected, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The negotiated API version (`1.41`).
    pub fn api_version(&self) -> String {
        let v = self.docker.client_version();
        format!("{}.{}", v.major_version, v.minor_version)
    }

    /// Round trip of `/_ping`.
    pub async fn ping(&self) -> Result<Duration, DockerError> {
        let start = Instant::now();
        self.docker.ping().await.map_err(|e| self.err(e))?;
        Ok(start.elapsed())
    }

    /// Version and system facts of the engine.
    pub async fn info(&self) -> Result<EngineInfo, DockerError> {
        let version = self.docker.version().await.map_err(|e| self.err(e))?;
        let info = self.docker.info().await.map_err(|e| self.err(e))?;
        Ok(EngineInfo {
            version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            os: info.operating_system.or(version.os).unwrap_or_default(),
            arch: info.architecture.or(version.arch).unwrap_or_default(),
            cpus: info.ncpu.unwrap_or(0).max(0) as u64,
            mem_total_bytes: info.mem_total.unwrap_or(0).max(0) as u64,
            containers_running: info.containers_running.unwrap_or(0).max(0) as u64,
            root_dir: info
                .docker_root_dir
                .unwrap_or_else(|| "/var/lib/docker".to_owned()),
            kernel: info
                .kernel_version
                .or(version.kernel_version)
                .unwrap_or_default(),
        })
    }

    /// Creates the bridge network `name` unless it exists.
    ///
    /// Before API 1.44 Docker does not refuse a second network of the same name, so two
    /// deploys that find it missing at the same moment create two — after which nothing can
    /// join either by name ("network is ambiguous"). The oldest one is kept and the younger
    /// twins are removed, which every racer agrees on and which heals a host that already has
    /// twins. A twin is always empty: nothing could join it by name.
    pub async fn ensure_network(&self, name: &str) -> Result<(), DockerError> {
        if self.networks_named(name).await?.is_empty() {
            let request = bollard::models::NetworkCreateRequest {
                name: name.to_owned(),
                driver: Some("bridge".to_owned()),
                labels: Some(HashMap::from([(
                    labels::MANAGED.to_owned(),
                    "true".to_owned(),
                )])),
                ..Default::default()
            };
            match self.docker.create_network(request).await {
                Ok(_) => {}
                // Created by a concurrent deploy in the meantime (newer engines say so).
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        let mut found = self.networks_named(name).await?;
        if found.len() > 1 {
            found.sort_by_key(|(id, created)| (created_order(created), id.clone()));
            for (id, _) in &found[1..] {
                tracing::info!(network = name, id, "removing a twin of the network");
                // Gone already when another racer removed it first.
                self.remove_network(id).await?;
            }
        }
        Ok(())
    }

    /// The networks called exactly `name` (Docker's name filter also matches substrings), as
    /// (id, created) pairs.
    async fn networks_named(&self, name: &str) -> Result<Vec<(String, String)>, DockerError> {
        let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
        let options = bollard::query_parameters::ListNetworksOptions {
            filters: Some(filters),
        };
        let list = self
            .docker
            .list_networks(Some(options))
            .await
            .map_err(|e| self.err(e))?;
        Ok(list
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| Some((n.id?, n.created.unwrap_or_default())))
            .collect())
    }

    /// Removes the network `name` (or id) if it exists and nothing uses it.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.remove_network(name).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }
}

/// Orders Docker's RFC 3339 creation times, whose fractional seconds drop trailing zeros
/// (`…:05.1Z` is earlier than `…:05.12Z`, which plain text order gets wrong).
fn created_order(created: &str) -> (String, String) {
    let whole = created.get(..19).unwrap_or(created);
    let rest = created.get(19..).unwrap_or("");
    let digits: String = rest
        .strip_prefix('.')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (whole.to_owned(), format!("{digits:0<9}"))
}

#[cfg(test)]
mod network_tests {
    use super::created_order;

    #[test]
    fn creation_times_order_by_value_not_by_text() {
        let mut times = vec![
            "2026-12-04T14:10:05.12Z",
            "2026-12-04T14:10:05.1Z",
            "2026-12-04T14:10:04.999999999Z",
            "2026-12-04T14:10:05Z",
        ];
        times.sort_by_key(|t| created_order(t));
        assert_eq!(
            times,
            [
                "2026-12-04T14:10:04.999999999Z",
                "2026-12-04T14:10:05Z",
                "2026-12-04T14:10:05.1Z",
                "2026-12-04T14:10:05.12Z",
            ]
        );
    }
}
