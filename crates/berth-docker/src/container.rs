//! Containers and images: create, start, inspect, stop, remove, logs, list, prune.

use std::collections::HashMap;

use berth_model::Volume;
use bollard::errors::Error as B;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};

use crate::client::DockerClient;
use crate::error::DockerError;
use crate::labels;

/// Everything needed to create an app container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `KEY=VALUE` pairs.
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    /// The port the app listens on inside the container; published on the server's
    /// `127.0.0.1` at an ephemeral port.
    pub port: u16,
    pub network: String,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<u64>,
    pub volumes: Vec<Volume>,
    /// Seconds between SIGTERM and SIGKILL when the container is stopped.
    pub stop_grace_secs: u32,
    /// The command instead of the image's (`None`: the image's).
    pub cmd: Option<Vec<String>>,
    /// A name other containers on its network reach it by (a service's own name).
    pub alias: Option<String>,
    /// Where its port is published on the server.
    pub publish: PortPublish,
}

/// Where a container's port is published on the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PortPublish {
    /// On `127.0.0.1` at a port Docker picks: Berth's health checks and routes reach it.
    #[default]
    Loopback,
    /// On `127.0.0.1` at this port (a service published on purpose).
    LoopbackAt(u16),
    /// Nowhere: only its network reaches it.
    Private,
}

impl ContainerSpec {
    fn port_key(&self) -> String {
        format!("{}/tcp", self.port)
    }

    /// The create request for the engine: init process, limits, loopback-only ephemeral port.
    /// The restart policy starts as `no`, so a crash during the health check keeps its exit
    /// code and output; [`DockerClient::keep_running`] turns on `unless-stopped` once healthy.
    pub(crate) fn to_body(&self) -> ContainerCreateBody {
        let port_key = self.port_key();
        let host_config = HostConfig {
            init: Some(true),
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            nano_cpus: self.cpus.map(|c| (c * 1e9).round() as i64),
            memory: self.memory_bytes.map(|m| m as i64),
            binds: (!self.volumes.is_empty())
                .then(|| self.volumes.iter().map(Volume::to_string).collect()),
            network_mode: Some(self.network.clone()),
            port_bindings: match self.publish {
                PortPublish::Private => None,
                PortPublish::Loopback | PortPublish::LoopbackAt(_) => Some(HashMap::from([(
                    port_key.clone(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_owned()),
                        host_port: Some(match self.publish {
                            PortPublish::LoopbackAt(p) => p.to_string(),
                            _ => String::new(),
                        }),
                    }]),
                )])),
            },
            ..Default::default()
        };
        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(self.env.clone()),
            cmd: self.cmd.clone(),
            labels: Some(self.labels.clone()),
            exposed_ports: Some(vec![port_key]),
            stop_timeout: Some(i64::from(self.stop_grace_secs)),
            host_config: Some(host_config),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    self.network.clone(),
                    EndpointSettings {
                        aliases: self.alias.clone().map(|a| vec![a]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        }
    }
}

/// What Berth needs to know about a container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Docker's state: `created`, `running`, `exited`, `restarting`, …
    pub status: String,
    pub running: bool,
    pub exit_code: Option<i64>,
    pub oom_killed: bool,
    /// The host port on `127.0.0.1` the app port is published at.
    pub published_port: Option<u16>,
    pub labels: HashMap<String, String>,
    pub restart_count: i64,
    /// Its address on each network it joined (network name → IP).
    pub addresses: HashMap<String, String>,
    /// When it was created (RFC 3339, as Docker reports it).
    pub created: String,
    /// Its environment (secrets included: its `Debug` shows only the keys).
    pub env: ContainerEnv,
}

/// A container's environment, `KEY=value`. Printed with its keys only: values may be secrets.
#[derive(Clone, PartialEq, Default)]
pub struct ContainerEnv(pub Vec<String>);

impl ContainerEnv {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }
}

impl std::fmt::Debug for ContainerEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .iter()
                    .map(|kv| kv.split('=').next().unwrap_or_default()),
            )
            .finish()
    }
}

/// An image Berth built.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageInfo {
    pub id: String,
    pub tags: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    pub labels: HashMap<String, String>,
    /// Bytes on disk (shared layers counted in each image that has them).
    pub size: i64,
}

impl From<bollard::models::ImageSummary> for ImageInfo {
    fn from(i: bollard::models::ImageSummary) -> ImageInfo {
        ImageInfo {
            id: i.id,
            tags: i.repo_tags,
            created: i.created,
            labels: i.labels,
            size: i.size,
        }
    }
}

/// What an image says about itself (`docker image inspect`), for running it as an app.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageFacts {
    pub id: String,
    /// `repository@sha256:…` for every registry it was pulled from or pushed to.
    pub repo_digests: Vec<String>,
    /// TCP ports from `EXPOSE`, ascending.
    pub exposed_tcp: Vec<u16>,
    pub labels: HashMap<String, String>,
    /// `linux/amd64`, `linux/arm64` …
    pub platform: String,
    /// The `HEALTHCHECK` command (`["CMD-SHELL", "curl -f http://localhost:8080/health"]`).
    pub healthcheck: Vec<String>,
}

impl ImageFacts {
    /// The digest this image has in `repository` (`sha256:…`), if it came from there.
    pub fn digest_in(&self, repository: &str) -> Option<String> {
        let wanted = docker_hub_short(repository);
        self.repo_digests.iter().find_map(|rd| {
            rd.split_once('@')
                .filter(|(repo, _)| docker_hub_short(repo) == wanted)
                .map(|(_, digest)| digest.to_owned())
        })
    }
}

/// A Docker Hub repository as Docker shows it: `docker.io/library/nginx` → `nginx`.
fn docker_hub_short(repository: &str) -> &str {
    let r = repository
        .strip_prefix("docker.io/")
        .or_else(|| repository.strip_prefix("index.docker.io/"))
        .unwrap_or(repository);
    r.strip_prefix("library/").unwrap_or(r)
}

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
}

/// A container's name as Docker reports it (`/web-3`), without the slash.
fn plain_name(name: Option<String>) -> String {
    name.unwrap_or_default().trim_start_matches('/').to_owned()
}

pub(crate) fn is_status(e: &B, code: u16) -> bool {
    matches!(e, B::DockerResponseServerError { status_code, .. } if *status_code == code)
}

impl DockerClient {
    /// Creates the container (not started). Returns its id.
    pub async fn create_container(&self, spec: &ContainerSpec) -> Result<String, DockerError> {
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        let created = self
            .docker
            .create_container(Some(options), spec.to_body())
            .await
            .map_err(|e| match e {
                B::DockerResponseServerError {
                    status_code: 404,
                    message,
                } => DockerError::NotFound { what: message },
                other => self.err(other),
            })?;
        Ok(created.id)
    }

    /// Starts a container; starting a running one is not an error.
    pub async fn start_container(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.start_container(name, None).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Stops a container, giving it `grace_secs` after SIGTERM. Missing or already stopped
    /// containers are not an error.
    pub async fn stop_container(&self, name: &str, grace_secs: u32) -> Result<(), DockerError> {
        let options = StopContainerOptionsBuilder::default()
            .t(i32::try_from(grace_secs).unwrap_or(i32::MAX))
            .build();
        match self.docker.stop_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) || is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Removes a container (with `force`, also a running one). A missing one is not an error.
    pub async fn remove_container(&self, name: &str, force: bool) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(force)
            .build();
        match self.docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            // Removal already in progress (e.g. a concurrent clean-up).
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Renames a container (a service set aside while its successor starts).
    /// Removes `name` (running or not) with its anonymous volumes (a throwaway container's
    /// data); a missing one is fine.
    pub async fn remove_container_with_volumes(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(name, Some(options)).await {
            Err(e) if !is_status(&e, 404) && !is_status(&e, 409) => Err(self.err(e)),
            _ => Ok(()),
        }
    }

    pub async fn rename_container(&self, name: &str, new_name: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::RenameContainerOptionsBuilder::default()
            .name(new_name)
            .build();
        self.docker
            .rename_container(name, options)
            .await
            .map_err(|e| self.err(e))
    }

    /// Docker's whole answer about a container; `None` when it does not exist.
    async fn inspect_raw(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, DockerError> {
        match self.docker.inspect_container(name, None).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Inspects a container; `None` when it does not exist.
    pub async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInfo>, DockerError> {
        let Some(r) = self.inspect_raw(name).await? else {
            return Ok(None);
        };
        let state = r.state.unwrap_or_default();
        let config = r.config.unwrap_or_default();
        let network = r.network_settings.unwrap_or_default();
        let published_port = network.ports.and_then(|ports| {
            ports
                .into_values()
                .flatten()
                .flatten()
                .find_map(|b| b.host_port.and_then(|p| p.parse::<u16>().ok()))
        });
        let addresses = network
            .networks
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(name, n)| {
                n.ip_address
                    .filter(|ip| !ip.is_empty())
                    .map(|ip| (name, ip))
            })
            .collect();
        Ok(Some(ContainerInfo {
            id: r.id.unwrap_or_default(),
            name: plain_name(r.name),
            image: config.image.unwrap_or_default(),
            status: state
                .status
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown".to_owned()),
            running: state.running.unwrap_or(false),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed.unwrap_or(false),
            published_port,
            labels: config.labels.unwrap_or_default(),
            restart_count: r.restart_count.unwrap_or(0),
            addresses,
            created: r.created.map(|c| c.to_string()).unwrap_or_default(),
            env: ContainerEnv(config.env.unwrap_or_default()),
        }))
    }

    /// How `name` was created, as a spec that creates it again (its image, env, labels, port,
    /// network, limits, volumes and stop grace); `None` when it does not exist. What Berth did
    /// not set (an image's own labels and env) comes along and changes nothing.
    pub async fn container_spec(&self, name: &str) -> Result<Option<ContainerSpec>, DockerError> {
        let Some(r) = self.inspect_raw(name).await? else {
            return Ok(None);
        };
        let config = r.config.unwrap_or_default();
        let host = r.host_config.unwrap_or_default();
        let port = config
            .exposed_ports
            .unwrap_or_default()
            .iter()
            .find_map(|p| p.strip_suffix("/tcp").and_then(|p| p.parse::<u16>().ok()))
            .unwrap_or(0);
        let volumes = host
            .binds
            .unwrap_or_default()
            .iter()
            .filter_map(|b| Volume::parse(b).ok())
            .collect();
        let network = host.network_mode.clone().unwrap_or_default();
        // Docker adds the container's short id to its aliases: only another one is ours.
        let short_id =
            r.id.as_deref()
                .unwrap_or_default()
                .get(..12)
                .unwrap_or_default();
        let alias = r
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&network))
            .and_then(|e| e.aliases)
            .unwrap_or_default()
            .into_iter()
            .find(|a| a != short_id);
        let publish = match host.port_bindings.as_ref() {
            None => PortPublish::Private,
            Some(b) if b.is_empty() => PortPublish::Private,
            Some(b) => b
                .values()
                .flatten()
                .flatten()
                .find_map(|p| p.host_port.as_deref()?.parse::<u16>().ok())
                .filter(|p| *p > 0)
                .map_or(PortPublish::Loopback, PortPublish::LoopbackAt),
        };
        Ok(Some(ContainerSpec {
            name: plain_name(r.name),
            image: config.image.unwrap_or_default(),
            env: config.env.unwrap_or_default(),
            labels: config.labels.unwrap_or_default(),
            port,
            network,
            cpus: host.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
            memory_bytes: host
                .memory
                .filter(|m| *m > 0)
                .and_then(|m| u64::try_from(m).ok()),
            volumes,
            stop_grace_secs: config
                .stop_timeout
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(10),
            cmd: config.cmd,
            alias,
            publish,
        }))
    }

    /// Names of containers carrying every `label=value` given (running or not).
    pub async fn containers_with_labels(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<String>, DockerError> {
        let filters = HashMap::from([(
            "label",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        )]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.err(e))?;
        Ok(list
            .into_iter()
            .filter_map(|c| c.names.and_then(|n| n.into_iter().next()))
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect())
    }

    /// The last `tail` lines of a container's output (stdout and stderr interleaved).
    pub async fn last_log_lines(
        &self,
        name: &str,
        tail: usize,
    ) -> Result<Vec<String>, DockerError> {
        let mut lines = Vec::new();
        let mut logs = Box::pin(self.logs(name, Some(tail), false));
        while let Some(line) = logs.next().await {
            lines.push(line?.text);
        }
        Ok(lines)
    }

    /// A container's output as lines; with `follow`, the stream stays open for new output.
    pub fn logs(
        &self,
        name: &str,
        tail: Option<usize>,
        follow: bool,
    ) -> impl Stream<Item = Result<LogLine, DockerError>> + Send + '_ {
        let tail = tail.map_or_else(|| "all".to_owned(), |n| n.to_string());
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail)
            .build();
        let mut partial: HashMap<bool, String> = HashMap::new();
        self.docker
            .logs(name, Some(options))
            .map(move |item| match item {
                Ok(output) => {
                    use bollard::container::LogOutput as L;
                    let (stream, bytes) = match output {
                        L::StdErr { message } => (LogStream::Stderr, message),
                        L::StdOut { message } | L::Console { message } | L::StdIn { message } => {
                            (LogStream::Stdout, message)
                        }
                    };
                    let buf = partial.entry(stream == LogStream::Stderr).or_default();
                    buf.push_str(&String::from_utf8_lossy(&bytes));
                    let mut lines = Vec::new();
                    while let Some(nl) = buf.find('\n') {
                        let line: String = buf.drain(..=nl).collect();
                        lines.push(Ok(LogLine {
                            stream,
                            text: line.trim_end_matches(['\n', '\r']).to_owned(),
                        }));
                    }
                    futures_util::stream::iter(lines)
                }
                Err(e) => futures_util::stream::iter(vec![Err(self.err(e))]),
            })
            .flatten()
    }

    /// Images carrying every `label=value` given, newest first.
    pub async fn images_with_labels(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<ImageInfo>, DockerError> {
        let filters = HashMap::from([(
            "label",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>(),
        )]);
        self.list_images(
            ListImagesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        )
        .await
    }

    /// The images `options` select, newest first.
    pub(crate) async fn list_images(
        &self,
        options: bollard::query_parameters::ListImagesOptions,
    ) -> Result<Vec<ImageInfo>, DockerError> {
        let mut list: Vec<ImageInfo> = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|e| self.err(e))?
            .into_iter()
            .map(ImageInfo::from)
            .collect();
        list.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(list)
    }

    /// The images of Berth app `app`: those labelled for it (built), and those tagged
    /// `berth/<app>:…` (an image app's pulled digests, pinned by tag), newest first.
    pub async fn app_images(&self, app: &str) -> Result<Vec<ImageInfo>, DockerError> {
        let mut list = self
            .images_with_labels(&[(labels::MANAGED, "true"), (labels::APP, app)])
            .await?;
        let filters = HashMap::from([("reference", vec![format!("berth/{app}")])]);
        let options = ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        for i in self
            .docker
            .list_images(Some(options))
            .await
            .map_err(|e| self.err(e))?
        {
            // `reference=berth/web` also matches nothing else: a repository name is exact.
            if !list.iter().any(|known| known.id == i.id) {
                list.push(ImageInfo::from(i));
            }
        }
        list.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.id.cmp(&a.id)));
        Ok(list)
    }

    /// Tags image `source` (a name or `repo@digest`) as `repo:tag`.
    pub async fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<(), DockerError> {
        let options = bollard::query_parameters::TagImageOptionsBuilder::default()
            .repo(repo)
            .tag(tag)
            .build();
        self.docker
            .tag_image(source, Some(options))
            .await
            .map_err(|e| self.err(e))
    }

    /// What image `name` says about itself, or `None` if the server doesn't have it.
    pub async fn image_facts(&self, name: &str) -> Result<Option<ImageFacts>, DockerError> {
        let image = match self.docker.inspect_image(name).await {
            Ok(i) => i,
            Err(e) if is_status(&e, 404) => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        let config = image.config.unwrap_or_default();
        let mut exposed_tcp: Vec<u16> = config
            .exposed_ports
            .unwrap_or_default()
            .into_iter()
            .filter_map(|port| {
                let (n, proto) = port.split_once('/').unwrap_or((port.as_str(), "tcp"));
                (proto == "tcp").then(|| n.parse().ok()).flatten()
            })
            .collect();
        exposed_tcp.sort_unstable();
        exposed_tcp.dedup();
        Ok(Some(ImageFacts {
            id: image.id.unwrap_or_default(),
            repo_digests: image.repo_digests.unwrap_or_default(),
            exposed_tcp,
            labels: config.labels.unwrap_or_default(),
            platform: format!(
                "{}/{}",
                image.os.unwrap_or_default(),
                image.architecture.unwrap_or_default()
            ),
            healthcheck: config.healthcheck.and_then(|h| h.test).unwrap_or_default(),
        }))
    }

    /// The id of image `name`, or `None` if the server doesn't have it.
    pub async fn image_id(&self, name: &str) -> Result<Option<String>, DockerError> {
        match self.docker.inspect_image(name).await {
            Ok(i) => Ok(i.id),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Removes an image by id or tag. Missing images and images still used by a container are
    /// left alone (returns `false`).
    pub async fn remove_image(&self, name: &str, force: bool) -> Result<bool, DockerError> {
        let options = RemoveImageOptionsBuilder::default().force(force).build();
        match self.docker.remove_image(name, Some(options), None).await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) || is_status(&e, 409) => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }
}

impl DockerClient {
    /// Sets the restart policy `unless-stopped`: the container comes back after crashes and
    /// server reboots until someone stops it.
    pub async fn keep_running(&self, name: &str) -> Result<(), DockerError> {
        let body = bollard::models::ContainerUpdateBody {
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                maximum_retry_count: None,
            }),
            ..Default::default()
        };
        self.docker
            .update_container(name, body)
            .await
            .map_err(|e| self.err(e))
    }

    /// Removes a named volume; a missing one is not an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        match self
            .docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 404) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_has_limits_init_restart_and_loopback_port() {
        let spec = ContainerSpec {
            name: "berth-hello-1a2b3c4d".into(),
            image: "berth/hello:1a2b3c4d".into(),
            env: vec!["GREETING=hi".into()],
            labels: HashMap::from([("berth.app".into(), "hello".into())]),
            port: 8080,
            network: "berth".into(),
            cpus: Some(0.5),
            memory_bytes: Some(256 << 20),
            volumes: vec![Volume::parse("data:/data").unwrap()],
            stop_grace_secs: 10,
            cmd: None,
            alias: None,
            publish: PortPublish::Loopback,
        };
        let body = spec.to_body();
        let hc = body.host_config.unwrap();
        assert_eq!(hc.init, Some(true));
        assert_eq!(hc.nano_cpus, Some(500_000_000));
        assert_eq!(hc.memory, Some(268_435_456));
        assert_eq!(hc.binds, Some(vec!["data:/data".to_owned()]));
        assert_eq!(
            hc.restart_policy.unwrap().name,
            Some(RestartPolicyNameEnum::NO),
            "unless-stopped is set only once the container is healthy"
        );
        let binding = &hc.port_bindings.unwrap()["8080/tcp"];
        assert_eq!(
            binding.as_ref().unwrap()[0].host_ip.as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(body.stop_timeout, Some(10));
    }

    #[test]
    fn a_private_service_has_no_published_port_and_answers_to_its_name() {
        let spec = ContainerSpec {
            name: "berth-db-1a2b3c4d".into(),
            image: "postgres:16".into(),
            env: vec![],
            labels: HashMap::new(),
            port: 5432,
            network: "berth".into(),
            cpus: None,
            memory_bytes: None,
            volumes: vec![],
            stop_grace_secs: 30,
            cmd: Some(vec!["postgres".into()]),
            alias: Some("db".into()),
            publish: PortPublish::Private,
        };
        let body = spec.clone().to_body();
        assert_eq!(body.host_config.unwrap().port_bindings, None);
        assert_eq!(body.cmd, Some(vec!["postgres".to_owned()]));
        let endpoint = &body.networking_config.unwrap().endpoints_config.unwrap()["berth"];
        assert_eq!(endpoint.aliases, Some(vec!["db".to_owned()]));
        let published = ContainerSpec {
            publish: PortPublish::LoopbackAt(15432),
            ..spec
        }
        .to_body();
        let binding = &published.host_config.unwrap().port_bindings.unwrap()["5432/tcp"];
        assert_eq!(
            binding.as_ref().unwrap()[0].host_port.as_deref(),
            Some("15432")
        );
    }
}
