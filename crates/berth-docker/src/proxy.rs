//! Long-running service containers Berth runs itself (the Caddy proxy): public ports, a
//! command, named volumes and bind mounts, restart unless-stopped; plus pulling an image and
//! putting a file into a container before it starts, and one-shot tasks run to their end.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::client::DockerClient;
use crate::error::DockerError;

/// A port of the container published on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    pub container_port: u16,
    /// `0.0.0.0` for public ports, `127.0.0.1` for loopback only.
    pub host_ip: String,
    pub host_port: u16,
}

/// A service container.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub name: String,
    pub image: String,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub network: String,
    pub publish: Vec<Publish>,
    /// `SRC:DST[:ro]`, a named volume or an absolute path on the server.
    pub binds: Vec<String>,
    /// Least privilege: every capability dropped, no new privileges, a read-only root
    /// filesystem (its volumes and binds stay writable, `/tmp` is a small tmpfs).
    pub confined: bool,
    /// Kernel settings of the container's own network namespace (`net.*`), e.g.
    /// `net.ipv4.tcp_migrate_req`.
    pub sysctls: BTreeMap<String, String>,
    /// `UID[:GID]` its process runs as; `None`: the image's (root).
    pub user: Option<String>,
    /// Capabilities given back after `confined` dropped them all.
    pub cap_add: Vec<String>,
    /// A task that runs to its end ([`DockerClient::run_once`]): never restarted, no network.
    pub one_shot: bool,
}

impl ServiceSpec {
    fn to_body(&self) -> ContainerCreateBody {
        let mut bindings = HashMap::new();
        for p in &self.publish {
            bindings.insert(
                format!("{}/tcp", p.container_port),
                Some(vec![PortBinding {
                    host_ip: Some(p.host_ip.clone()),
                    host_port: Some(p.host_port.to_string()),
                }]),
            );
        }
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.cmd.is_empty()).then(|| self.cmd.clone()),
            env: Some(self.env.clone()),
            labels: Some(self.labels.clone()),
            exposed_ports: Some(
                self.publish
                    .iter()
                    .map(|p| format!("{}/tcp", p.container_port))
                    .collect(),
            ),
            user: self.user.clone(),
            host_config: Some(HostConfig {
                restart_policy: Some(RestartPolicy {
                    name: Some(if self.one_shot {
                        RestartPolicyNameEnum::NO
                    } else {
                        RestartPolicyNameEnum::UNLESS_STOPPED
                    }),
                    maximum_retry_count: None,
                }),
                binds: Some(self.binds.clone()),
                network_mode: Some(if self.one_shot {
                    "none".to_owned()
                } else {
                    self.network.clone()
                }),
                cap_add: (!self.cap_add.is_empty()).then(|| self.cap_add.clone()),
                port_bindings: Some(bindings),
                cap_drop: self.confined.then(|| vec!["ALL".to_owned()]),
                security_opt: self
                    .confined
                    .then(|| vec!["no-new-privileges:true".to_owned()]),
                readonly_rootfs: self.confined.then_some(true),
                tmpfs: self.confined.then(|| {
                    HashMap::from([("/tmp".to_owned(), "rw,size=16m,mode=1777".to_owned())])
                }),
                sysctls: (!self.sysctls.is_empty()).then(|| {
                    self.sysctls
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                }),
                ..Default::default()
            }),
            networking_config: (!self.one_shot).then(|| NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    self.network.clone(),
                    EndpointSettings::default(),
                )])),
            }),
            ..Default::default()
        }
    }
}

/// How a one-shot task ended: its exit status and last output lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    pub status: i64,
    pub output: Vec<String>,
}

impl DockerClient {
    /// Creates a service container (not started).
    pub async fn create_service(&self, spec: &ServiceSpec) -> Result<String, DockerError> {
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .docker
            .create_container(Some(options), spec.to_body())
            .await
            .map_err(|e| self.err(e))?;
        Ok(created.id)
    }

    /// Runs `spec` (a [`ServiceSpec::one_shot`] task) to its end and removes its container
    /// (and one a cut-off earlier run left); its exit status and last output.
    pub async fn run_once(&self, spec: &ServiceSpec) -> Result<TaskEnd, DockerError> {
        let _ = self.remove_container(&spec.name, true).await;
        self.create_service(spec).await?;
        let ended = async {
            self.start_container(&spec.name).await?;
            let options = WaitContainerOptionsBuilder::default()
                .condition("not-running")
                .build();
            let mut wait = Box::pin(self.docker.wait_container(&spec.name, Some(options)));
            let status = match wait.next().await {
                Some(Ok(r)) => r.status_code,
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                Some(Err(e)) => return Err(self.err(e)),
                None => -1,
            };
            let output = self
                .last_log_lines(&spec.name, 20)
                .await
                .unwrap_or_default();
            Ok(TaskEnd { status, output })
        }
        .await;
        let _ = self.remove_container(&spec.name, true).await;
        ended
    }

    /// Writes one file (`dir/name`, mode `mode`) into a container, creating `dir`.
    pub async fn put_file(
        &self,
        container: &str,
        dir: &str,
        name: &str,
        contents: &[u8],
        mode: u32,
    ) -> Result<(), DockerError> {
        let mut builder = tar::Builder::new(Vec::new());
        let rel = dir.trim_start_matches('/');
        if !rel.is_empty() {
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{rel}/"), std::io::empty())
                .map_err(|e| DockerError::Protocol(format!("cannot pack {name}: {e}")))?;
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(mode);
        header.set_size(contents.len() as u64);
        let path = if rel.is_empty() {
            name.to_owned()
        } else {
            format!("{rel}/{name}")
        };
        builder
            .append_data(&mut header, path, contents)
            .map_err(|e| DockerError::Protocol(format!("cannot pack {name}: {e}")))?;
        let archive = builder
            .into_inner()
            .map_err(|e| DockerError::Protocol(format!("cannot pack {name}: {e}")))?;
        let options = UploadToContainerOptionsBuilder::default().path("/").build();
        self.docker
            .upload_to_container(container, Some(options), bollard::body_full(archive.into()))
            .await
            .map_err(|e| self.err(e))
    }
}
