//! Servers: add (with host-key confirmation), list, check, remove, and the per-process pool of
//! connections (one SSH session per server).

use std::path::PathBuf;
use std::sync::Arc;

use berth_engine::Host;
use berth_engine::connect::{
    HostKeyVerdict, forget_host_key, host_key_name, pin_host_key, probe_host_key,
};
use berth_model::{
    BaseImages, ImportedApp, PruneReport, Server, ServerCheck, SshTarget, TransportKind,
    validate_server_name,
};
use berth_secrets::{Sensitive, passphrase_key};

use crate::Berth;
use crate::error::ApiError;

/// What `server add` needs.
#[derive(Debug, Clone)]
pub struct AddServer {
    pub name: String,
    /// `None` for this machine's own Docker (`--local`).
    pub ssh: Option<SshTarget>,
    /// Ignored for local servers.
    pub transport: TransportKind,
    pub identity: Option<PathBuf>,
    /// The identity file's passphrase, when the user gave one; kept in the secrets store.
    pub passphrase: Option<Sensitive<String>>,
    /// Trust an unknown host key without asking (OpenSSH's `accept-new`).
    pub accept_new: bool,
    /// Docker socket path on the server (default `/var/run/docker.sock`).
    pub docker_socket: Option<String>,
    /// A fingerprint the user already confirmed (the desktop's dialog): a new key is trusted
    /// only if the server presents exactly this one.
    pub trusted_fingerprint: Option<String>,
}

impl AddServer {
    /// From the desktop's form.
    pub fn from_request(r: &berth_model::view::AddServerRequest) -> Result<AddServer, ApiError> {
        let ssh = match r.ssh.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(t) => Some(SshTarget::parse(t).map_err(ApiError::Invalid)?),
            None => None,
        };
        Ok(AddServer {
            name: r.name.trim().to_owned(),
            transport: r.transport.unwrap_or(if cfg!(unix) {
                TransportKind::System
            } else {
                TransportKind::Embedded
            }),
            ssh,
            identity: r
                .identity
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            passphrase: r
                .passphrase
                .clone()
                .filter(|p| !p.is_empty())
                .map(Sensitive::new),
            accept_new: false,
            docker_socket: r.docker_socket.clone().filter(|s| !s.is_empty()),
            trusted_fingerprint: r.trusted_fingerprint.clone(),
        })
    }
}

/// Shown to the user before trusting a new host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyPrompt {
    pub server: String,
    pub host: String,
    pub port: u16,
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl Berth {
    /// Connects to a new server, verifies its host key (asking `confirm` when it is unknown,
    /// unless `accept_new`) and that Docker answers, then stores it. Nothing is stored, and no
    /// host key stays pinned, if any of that fails.
    pub async fn server_add(
        &self,
        req: AddServer,
        confirm: &(dyn Fn(&HostKeyPrompt) -> bool + Send + Sync),
    ) -> Result<ServerCheck, ApiError> {
        validate_server_name(&req.name)?;
        if self.store.servers()?.iter().any(|s| s.name == req.name) {
            return Err(berth_store::StoreError::AlreadyExists {
                kind: "server",
                name: req.name.clone(),
            }
            .into());
        }
        let docker_socket = req
            .docker_socket
            .clone()
            .unwrap_or_else(|| Server::DEFAULT_DOCKER_SOCKET.to_owned());
        if !docker_socket.starts_with('/') {
            return Err(ApiError::Invalid(format!(
                "docker socket `{docker_socket}` must be an absolute path on the server"
            )));
        }
        let transport = if req.ssh.is_none() {
            TransportKind::Local
        } else {
            req.transport
        };
        if transport == TransportKind::Local && req.ssh.is_some() {
            return Err(ApiError::Invalid(
                "a local server takes no --ssh target".to_owned(),
            ));
        }
        let identity = match &req.identity {
            Some(p) => Some(absolute(p)?),
            None => None,
        };
        let server = Server {
            name: req.name.clone(),
            transport,
            ssh: req.ssh.clone(),
            identity: identity.as_ref().map(|p| p.display().to_string()),
            docker_socket,
            base_images: BaseImages::default(),
            base_domain: None,
            proxy: None,
            relay: None,
            created_at: self.now(),
        };

        let check = self.pin_and_check(&server, &req, confirm).await?;
        if let Some(p) = &req.passphrase {
            self.secrets().set(&passphrase_key(&server.name), p)?;
        }
        self.store.insert_server(&server)?;
        self.audit(
            "server.add",
            &server.name,
            &format!("{} via {}", server.address(), server.transport),
        );
        Ok(check)
    }

    /// Pins the host key of `server` (asking if it is new, `req` saying what was confirmed
    /// already) and connects to check Docker; a key pinned here is unpinned again on failure.
    async fn pin_and_check(
        &self,
        server: &Server,
        req: &AddServer,
        confirm: &(dyn Fn(&HostKeyPrompt) -> bool + Send + Sync),
    ) -> Result<ServerCheck, ApiError> {
        let transport = server.transport;
        let mut pinned: Option<(String, u16)> = None;
        if let Some(target) = &server.ssh {
            let known_hosts = self.known_hosts_path();
            let check = probe_host_key(transport, target, &known_hosts).await?;
            match &check.verdict {
                HostKeyVerdict::Trusted => {}
                HostKeyVerdict::Unknown => {
                    let prompt = HostKeyPrompt {
                        server: server.name.clone(),
                        host: check.host.clone(),
                        port: check.port,
                        algorithm: check.algorithm.clone(),
                        fingerprint: check.fingerprint.clone(),
                    };
                    let confirmed_before =
                        req.trusted_fingerprint.as_deref() == Some(check.fingerprint.as_str());
                    if !(req.accept_new || confirmed_before || confirm(&prompt)) {
                        return Err(ApiError::HostKeyNotTrusted {
                            host: check.address(),
                            fingerprint: check.fingerprint,
                        });
                    }
                    pin_host_key(&known_hosts, &check)?;
                    pinned = Some((check.host.clone(), check.port));
                }
                HostKeyVerdict::Changed { .. } => {
                    if let Some(e) = check.changed_error() {
                        return Err(e.into());
                    }
                }
            }
        }
        match self
            .connect_and_check(server, req.passphrase.as_ref())
            .await
        {
            Ok(check) => Ok(check),
            Err(e) => {
                if let Some((host, port)) = pinned {
                    let _ = forget_host_key(&self.known_hosts_path(), &host, port);
                }
                Err(e)
            }
        }
    }

    /// `berth server set NAME --ssh … --identity … --transport …`: how a server is reached,
    /// changed after it was added (a new address, another key, the other SSH client). The new
    /// way is checked first — its host key confirmed like at `server add`, Docker answering —
    /// and nothing changes unless it works. Its apps, proxy and relay stay as they are.
    pub async fn server_reconnect(
        &self,
        name: &str,
        req: AddServer,
        confirm: &(dyn Fn(&HostKeyPrompt) -> bool + Send + Sync),
    ) -> Result<ServerCheck, ApiError> {
        let current = self.store.server(name)?;
        if current.transport == TransportKind::Local {
            return Err(ApiError::Invalid(format!(
                "server {name} is this machine's own Docker: it has no SSH target to change"
            )));
        }
        let identity = match &req.identity {
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) => Some(absolute(p)?.display().to_string()),
            None => current.identity.clone(),
        };
        let transport = if req.transport == TransportKind::Local {
            current.transport
        } else {
            req.transport
        };
        let server = Server {
            ssh: req.ssh.clone().or(current.ssh.clone()),
            identity,
            transport,
            ..current.clone()
        };
        let check = self.pin_and_check(&server, &req, confirm).await?;
        if let Some(p) = &req.passphrase {
            self.secrets().set(&passphrase_key(&server.name), p)?;
        }
        self.store.update_server(&server)?;
        // The next operation connects the new way.
        if let Some(cell) = self.hosts.lock().await.remove(name)
            && let Some(host) = cell.get()
        {
            host.close().await;
        }
        self.audit(
            "server.reconnect",
            name,
            &format!("{} via {}", server.address(), server.transport),
        );
        Ok(check)
    }

    /// The host key the server of `req` presents, and whether it is already pinned — for a
    /// confirmation dialog before [`Berth::server_add`]. Nothing is stored.
    pub async fn probe_host_key(
        &self,
        req: &AddServer,
    ) -> Result<berth_model::view::HostKeyInfo, ApiError> {
        let Some(target) = &req.ssh else {
            return Err(ApiError::Invalid(
                "a local server has no host key to confirm".to_owned(),
            ));
        };
        let check = probe_host_key(req.transport, target, &self.known_hosts_path()).await?;
        Ok(berth_model::view::HostKeyInfo {
            host: check.host.clone(),
            port: check.port,
            algorithm: check.algorithm.clone(),
            fingerprint: check.fingerprint.clone(),
            known: check.verdict == HostKeyVerdict::Trusted,
            pinned: match check.verdict {
                HostKeyVerdict::Changed { pinned } => Some(pinned),
                _ => None,
            },
        })
    }

    async fn connect_and_check(
        &self,
        server: &Server,
        passphrase: Option<&Sensitive<String>>,
    ) -> Result<ServerCheck, ApiError> {
        let host = self
            .open_host(server, passphrase.map(|p| p.expose().clone()))
            .await?;
        let check = check_of(server, &host).await;
        host.close().await;
        check
    }

    /// Opens a session to `server`. A passphrase, when needed and not given, comes from the
    /// secrets store (only then is the keychain touched).
    async fn open_host(
        &self,
        server: &Server,
        passphrase: Option<String>,
    ) -> Result<Host, ApiError> {
        let paths = self.connect_paths();
        let given = passphrase.is_some();
        match Host::open(server, &paths, passphrase).await {
            Err(e) if e.needs_passphrase() && !given => {
                match self.secrets().get(&passphrase_key(&server.name))? {
                    Some(p) => Ok(Host::open(server, &paths, Some(p.expose().clone())).await?),
                    None => Err(e.into()),
                }
            }
            other => Ok(other?),
        }
    }

    /// The connection to `server`, opened on first use and shared afterwards.
    pub(crate) async fn host(&self, server: &Server) -> Result<Arc<Host>, ApiError> {
        let cell = {
            let mut hosts = self.hosts.lock().await;
            hosts.entry(server.name.clone()).or_default().clone()
        };
        let host = cell
            .get_or_try_init(|| async {
                Ok::<_, ApiError>(Arc::new(self.open_host(server, None).await?))
            })
            .await?;
        Ok(host.clone())
    }

    /// Every server, by name.
    pub fn servers(&self) -> Result<Vec<Server>, ApiError> {
        Ok(self.store.servers()?)
    }

    pub fn server(&self, name: &str) -> Result<Server, ApiError> {
        Ok(self.store.server(name)?)
    }

    /// Connects (or reuses the connection) and reports Docker's version, resources and the
    /// tunnel's latency.
    pub async fn server_check(&self, name: &str) -> Result<ServerCheck, ApiError> {
        let server = self.store.server(name)?;
        let host = self.host(&server).await?;
        check_of(&server, &host).await
    }

    /// Every server checked at once (the fleet view, `berth server check` without a name):
    /// each connects over its own session (or reuses it) in parallel; one that cannot be
    /// reached does not hold up the others.
    pub async fn server_check_all(
        &self,
    ) -> Result<Vec<(String, Result<ServerCheck, ApiError>)>, ApiError> {
        let servers = self.store.servers()?;
        let names: Vec<String> = servers.iter().map(|s| s.name.clone()).collect();
        let checks = servers.iter().map(|server| async move {
            let host = self.host(server).await?;
            let facts = host.recent_facts().await?;
            Ok(check_from(server, &host, facts))
        });
        let results = futures_util::future::join_all(checks).await;
        Ok(names.into_iter().zip(results).collect())
    }

    /// Reclaims disk on a server: Berth's images no rollback can reach (those of apps that
    /// were removed, those beyond what retention keeps), dangling images and the build cache no
    /// build uses. `dry_run` says what it would remove and removes nothing. The apps' images a
    /// rollback can reach — by Berth's records and by what the server shows — always stay.
    pub async fn server_prune(&self, name: &str, dry_run: bool) -> Result<PruneReport, ApiError> {
        let server = self.store.server(name)?;
        let host = self.host(&server).await?;
        let mut keep = berth_engine::prune::PruneKeep::default();
        for app in self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
        {
            // What the relay deployed on its own counts too.
            self.catch_up_unattended(&app.name).await;
            let active = self.store.active_deployment(&app.name)?;
            let history = self.store.deployments(&app.name, 200)?;
            keep.images.extend(berth_engine::kept_images(
                active.as_ref().and_then(|d| d.image.as_deref()),
                &history,
            ));
            keep.apps.insert(app.name);
        }
        let report = berth_engine::prune::prune(&host, &keep, dry_run).await?;
        if !dry_run {
            self.audit(
                "server.prune",
                &server.name,
                &format!(
                    "{} image(s), {} freed",
                    report.images.len(),
                    berth_model::format::bytes(report.bytes())
                ),
            );
        }
        Ok(report)
    }

    /// Rebuilds Berth's records of `name`'s apps from the server alone: each app's serving
    /// container carries its spec (settings, domains, env keys), so the app, its domains, its
    /// plain env values (read from the container) and its serving deployment come back.
    /// Secret values are never read back: they are listed to be set again. Apps Berth already
    /// knows, stage instances and containers without a spec label are skipped, saying why.
    pub async fn server_import(&self, name: &str) -> Result<Vec<ImportedApp>, ApiError> {
        let server = self.store.server(name)?;
        let host = self.host(&server).await?;
        let mut out = Vec::new();
        for found in berth_engine::import::serving_apps(&host).await? {
            let skipped = |why: String| ImportedApp {
                app: found.app.clone(),
                deployment: found.deployment.clone(),
                image: Some(found.image.clone()),
                missing_secrets: Vec::new(),
                skipped: Some(why),
            };
            if self.store.app(&found.app).is_ok() {
                out.push(skipped("already in Berth's records".into()));
                continue;
            }
            if found.stage_instance {
                out.push(skipped(
                    "a stage's instance: its stage is not on the server; deploy the stage again once its app is back".into(),
                ));
                continue;
            }
            let Some(spec) = found.spec.clone() else {
                out.push(skipped(
                    "its container carries no spec (deployed by an older Berth): deploy it once from the Berth that has it".into(),
                ));
                continue;
            };
            out.push(self.import_app(&server, &found, spec)?);
        }
        let imported = out.iter().filter(|i| i.skipped.is_none()).count();
        if imported > 0 {
            self.audit(
                "server.import",
                &server.name,
                &format!("{imported} app(s) from the server's labels"),
            );
            self.monitor_sync(&server.name).await;
        }
        Ok(out)
    }

    fn import_app(
        &self,
        server: &Server,
        found: &berth_engine::import::FoundApp,
        spec: berth_model::SpecLabel,
    ) -> Result<ImportedApp, ApiError> {
        let now = self.now();
        // The server may have another name here than where it was deployed from.
        let app = berth_model::App {
            server: server.name.clone(),
            created_at: now,
            ..spec.app
        };
        self.store.insert_app(&app)?;
        for d in spec.domains {
            self.store.add_domain(&berth_model::Domain {
                app: app.name.clone(),
                name: d.name,
                primary: d.primary,
                created_at: now,
            })?;
        }
        let mut missing_secrets = Vec::new();
        for e in spec.env {
            if e.secret {
                self.store.set_env(&app.name, &e.key, None, true)?;
                missing_secrets.push(e.key);
            } else {
                let value = found.env.get(&e.key).unwrap_or_default();
                self.store.set_env(&app.name, &e.key, Some(value), false)?;
            }
        }
        let deployment = found.deployment.clone().map(|id| berth_model::Deployment {
            status: berth_model::DeploymentStatus::Active,
            image: Some(found.image.clone()),
            container: Some(found.container.clone()),
            commit: found.commit.clone(),
            finished_at: Some(now),
            ..berth_model::Deployment::start(
                id,
                &app.name,
                berth_model::DeploymentKind::Deploy,
                "imported".to_owned(),
                now,
            )
        });
        if let Some(d) = &deployment {
            self.store.record_finished_deployment(
                d,
                &["» imported from the server's container labels".to_owned()],
            )?;
        }
        self.audit("app.import", &app.name, &format!("from {}", server.name));
        Ok(ImportedApp {
            app: app.name,
            deployment: deployment.map(|d| d.id),
            image: Some(found.image.clone()),
            missing_secrets,
            skipped: None,
        })
    }

    /// Sets the server's default base images for generated Dockerfiles. `Some("")` clears a
    /// value, `None` leaves it as it is.
    pub fn server_set_base_images(
        &self,
        name: &str,
        build: Option<String>,
        run: Option<String>,
    ) -> Result<Server, ApiError> {
        let mut server = self.store.server(name)?;
        for image in [&build, &run].into_iter().flatten() {
            if image.contains(char::is_whitespace) {
                return Err(ApiError::Invalid(format!(
                    "image `{image}` must not contain spaces"
                )));
            }
        }
        if let Some(b) = build {
            server.base_images.build = (!b.is_empty()).then_some(b);
        }
        if let Some(r) = run {
            server.base_images.run = (!r.is_empty()).then_some(r);
        }
        self.store.update_server(&server)?;
        self.audit(
            "server.set",
            name,
            &format!(
                "build image {} run image {}",
                server.base_images.build.as_deref().unwrap_or("-"),
                server.base_images.run.as_deref().unwrap_or("-")
            ),
        );
        Ok(server)
    }

    /// Removes a server that no app uses, its pinned host key and its stored passphrase. With
    /// `purge`, Berth's services go from the server first (the proxy it runs, with its
    /// certificates, and the webhook relay, with its deliveries); if that fails, nothing is
    /// forgotten. Without it, nothing on the server is touched.
    pub async fn server_rm(&self, name: &str, purge: bool) -> Result<(), ApiError> {
        let server = self.store.server(name)?;
        let by: Vec<String> = self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
            .map(|a| a.name)
            .collect();
        if !by.is_empty() {
            return Err(berth_store::StoreError::InUse {
                kind: "server",
                name: server.name.clone(),
                by,
            }
            .into());
        }
        if purge {
            let host = self.host(&server).await?;
            berth_engine::purge_server(&host, &server).await?;
        }
        self.store.delete_server(name)?;
        if let Some(target) = &server.ssh {
            let pinned_as = host_key_name(server.transport, target).await;
            let mut shared = false;
            for other in self.store.servers()? {
                if let Some(t) = &other.ssh
                    && host_key_name(other.transport, t).await == pinned_as
                {
                    shared = true;
                    break;
                }
            }
            if !shared {
                forget_host_key(&self.known_hosts_path(), &pinned_as.0, pinned_as.1)?;
            }
            if server.identity.is_some()
                && let Err(e) = self.secrets().delete(&passphrase_key(name))
            {
                tracing::debug!("no passphrase removed for {name}: {e}");
            }
        }
        // Its alerts too.
        self.store.forget_alerts(name)?;
        let _ = self.store.delete_setting(&format!("unreachable:{name}"));
        // Its relay's metrics token goes with it (a server added again publishes a new one).
        if let Err(e) = self
            .secrets()
            .delete(&berth_secrets::metrics_token_key(name))
        {
            tracing::debug!("no metrics token removed for {name}: {e}");
        }
        let cell = self.hosts.lock().await.remove(name);
        if let Some(host) = cell.as_ref().and_then(|c| c.get()) {
            host.close().await;
        }
        self.audit(
            "server.rm",
            name,
            &format!(
                "{}{}",
                server.address(),
                if purge { " (purged)" } else { "" }
            ),
        );
        Ok(())
    }
}

async fn check_of(server: &Server, host: &Host) -> Result<ServerCheck, ApiError> {
    Ok(check_from(server, host, host.facts().await?))
}

fn check_from(server: &Server, host: &Host, facts: berth_engine::HostFacts) -> ServerCheck {
    ServerCheck {
        server: server.name.clone(),
        transport: server.transport,
        address: server.address(),
        docker_version: facts.engine.version,
        api_version: facts.api_version,
        os: facts.engine.os,
        arch: facts.engine.arch,
        cpus: facts.engine.cpus,
        mem_total_bytes: facts.engine.mem_total_bytes,
        mem_available_bytes: facts.mem_available_bytes,
        disk_free_bytes: facts.disk_free_bytes,
        disk_total_bytes: facts.disk_total_bytes,
        latency_ms: facts.ping_ms,
        connect_ms: host.connect_ms,
        containers_running: facts.engine.containers_running,
    }
}

fn absolute(p: &std::path::Path) -> Result<PathBuf, ApiError> {
    let expanded = match p.to_str().and_then(|s| s.strip_prefix("~/")) {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => p.to_path_buf(),
        },
        None => p.to_path_buf(),
    };
    if !expanded.is_file() {
        return Err(ApiError::Invalid(format!(
            "identity file {} does not exist or is not a file",
            expanded.display()
        )));
    }
    std::path::absolute(&expanded).map_err(|source| ApiError::DataDir {
        path: expanded.clone(),
        source,
    })
}
