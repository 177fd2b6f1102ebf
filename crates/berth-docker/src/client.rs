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
}

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
}

impl DockerClient {
    /// Connects through `dialer` and negotiates the API version with the engine.
    pub async fn connect(dialer: Arc<dyn Dialer>) -> Result<DockerClient, DockerError> {
        let target: Arc<str> = dialer.describe().into();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(8)
            .build(DialConnector(dialer));
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
        Ok(DockerClient { docker, target })
    }

    pub(crate) fn err(&self, e: bollard::errors::Error) -> DockerError {
        DockerError::from_bollard(&self.target, e)
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
        })
    }

    /// Creates the bridge network `name` unless it exists.
    pub async fn ensure_network(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.inspect_network(name, None).await {
            Ok(_) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => return Err(self.err(e)),
        }
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
            Ok(_) => Ok(()),
            // Created by a concurrent deploy in the meantime.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Removes the network `name` if it exists and nothing uses it.
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
