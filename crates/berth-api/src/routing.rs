//! Routing: the Caddy proxy of a server (install, adopt, status), base domains, app domains,
//! keeping each app's route in Caddy in step with them, and the TLS state of every domain.

use std::collections::HashMap;
use std::time::Duration;

use berth_docker::{Publish, ServiceSpec, labels};
use berth_engine::{
    EngineError, Host, NETWORK, Readiness, RoutePlan, ServiceFile, ServiceImage, ServiceInstall,
    UpstreamVia, install_service,
};
use berth_model::{
    App, Domain, DomainStatus, ProxyConfig, ProxyMode, ProxyStatus, Server, TlsSetting, TlsStatus,
};
use berth_proxy::certs::CertState;
use berth_proxy::{AdminAddress, Route, TlsMode, route_id};

use crate::Berth;
use crate::error::ApiError;

/// Where the managed Caddy's admin socket lives on the server (bind-mounted into it).
pub(crate) const ADMIN_DIR: &str = "/run/berth-proxy";
const ADMIN_SOCKET: &str = "/run/berth-proxy/admin.sock";
/// The bootstrap config inside the container (`caddy run --resume` prefers the autosave).
const CONFIG_DIR: &str = "/etc/berth";
const CONFIG_FILE: &str = "caddy.json";
/// Per-domain budget for asking the proxy which certificate it serves.
const TLS_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// What `server proxy install` needs.
#[derive(Debug, Clone)]
pub struct ProxyInstall {
    /// Caddy image for a managed proxy (default `caddy:2`).
    pub image: Option<String>,
    pub acme_email: Option<String>,
    pub http_port: u16,
    pub https_port: u16,
    pub tls: TlsSetting,
    /// Adopt the existing Caddy at this admin endpoint instead of running one.
    pub admin: Option<String>,
}

impl Default for ProxyInstall {
    fn default() -> Self {
        ProxyInstall {
            image: None,
            acme_email: None,
            http_port: 80,
            https_port: 443,
            tls: TlsSetting::Auto { email: None },
            admin: None,
        }
    }
}

impl From<berth_model::view::ProxyInstallRequest> for ProxyInstall {
    /// From the desktop's form.
    fn from(r: berth_model::view::ProxyInstallRequest) -> Self {
        ProxyInstall {
            image: r.image.filter(|i| !i.is_empty()),
            acme_email: r.acme_email.filter(|e| !e.is_empty()),
            http_port: r.http_port,
            https_port: r.https_port,
            tls: r.tls,
            admin: r.admin.filter(|a| !a.is_empty()),
        }
    }
}

/// The route of `app` to `hosts` through its server's proxy (`None`: the server has none).
fn route_to(app: &App, server: &Server, hosts: Vec<String>) -> Option<RoutePlan> {
    let proxy = server.proxy.as_ref()?;
    Some(RoutePlan {
        admin: proxy.admin.clone(),
        server: proxy.http_server.clone(),
        id: route_id(&app.name),
        hosts,
        via: match proxy.mode {
            ProxyMode::Managed { .. } => UpstreamVia::Network,
            ProxyMode::Adopted => UpstreamVia::Loopback,
        },
        drain_timeout_secs: app.drain_timeout_secs,
    })
}

fn tls_mode(tls: &TlsSetting) -> TlsMode {
    match tls {
        TlsSetting::Auto { email } => TlsMode::Auto {
            email: email.clone(),
        },
        TlsSetting::Internal => TlsMode::Internal,
        TlsSetting::Off => TlsMode::Off,
    }
}

/// Validates a domain a user typed; a clear error names the problem.
pub(crate) fn valid_domain(input: &str) -> Result<String, ApiError> {
    berth_proxy::domain::validate(input).map_err(|e| ApiError::Invalid(e.to_string()))
}

impl Berth {
    /// The names `app` answers to, primary first: the stored primary (or the automatic
    /// `<app>.<base-domain>` when none is), then the others by name.
    pub(crate) fn hosts_of(&self, app: &App, server: &Server) -> Result<Vec<String>, ApiError> {
        let stored = self.store.domains(&app.name)?;
        let auto = server
            .base_domain
            .as_ref()
            .map(|base| format!("{}.{base}", app.name));
        let mut hosts = Vec::new();
        if let Some(primary) = stored.iter().find(|d| d.primary) {
            hosts.push(primary.name.clone());
        }
        if let Some(a) = &auto
            && !hosts.contains(a)
        {
            hosts.push(a.clone());
        }
        for d in stored {
            if !hosts.contains(&d.name) {
                hosts.push(d.name);
            }
        }
        Ok(hosts)
    }

    /// The route a deploy of `app` switches, when its server has a proxy and it has names.
    pub(crate) fn route_plan(
        &self,
        app: &App,
        server: &Server,
    ) -> Result<Option<RoutePlan>, ApiError> {
        if server.proxy.is_none() {
            return Ok(None);
        }
        let hosts = self.hosts_of(app, server)?;
        if hosts.is_empty() {
            return Ok(None);
        }
        Ok(route_to(app, server, hosts))
    }

    /// The route of `app` as it should be now (its active container), or `None` when it
    /// should have none (no names, or nothing deployed).
    async fn desired_route(
        &self,
        host: &Host,
        app: &App,
        server: &Server,
        hosts: Vec<String>,
    ) -> Result<Option<Route>, ApiError> {
        let (Some(proxy), false) = (&server.proxy, hosts.is_empty()) else {
            return Ok(None);
        };
        let Some(active) = self.store.active_deployment(&app.name)? else {
            return Ok(None);
        };
        let Some(container) = active.container else {
            return Ok(None);
        };
        let upstream = match proxy.mode {
            ProxyMode::Managed { .. } => format!("{container}:{}", app.port),
            ProxyMode::Adopted => {
                let info = host.docker().inspect_container(&container).await?;
                match info.and_then(|i| i.published_port) {
                    Some(p) => format!("127.0.0.1:{p}"),
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(Route {
            id: route_id(&app.name),
            hosts,
            upstream,
        }))
    }

    /// Makes Caddy's route of `app` match `hosts` (creating, updating or deleting it).
    async fn sync_route(
        &self,
        app: &App,
        server: &Server,
        hosts: Vec<String>,
    ) -> Result<(), ApiError> {
        let Some(route) = route_to(app, server, hosts) else {
            return Ok(());
        };
        let serving = self
            .store
            .active_deployment(&app.name)?
            .and_then(|d| d.container);
        let host = self.host(server).await?;
        berth_engine::sync_route(&host, &route, serving.as_deref(), app.port).await?;
        Ok(())
    }

    /// Removes `app`'s route from its server's proxy (app removal, its last name gone).
    pub(crate) async fn drop_route(&self, app: &App, server: &Server) -> Result<(), ApiError> {
        if let Some(proxy) = &server.proxy {
            let host = self.host(server).await?;
            berth_engine::drop_route(&host, &proxy.admin, &route_id(&app.name)).await?;
        }
        Ok(())
    }

    /// Every route this server's proxy should hold, for a fresh config.
    async fn routes_of_server(&self, host: &Host, server: &Server) -> Result<Vec<Route>, ApiError> {
        let mut routes = Vec::new();
        for app in self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
        {
            let hosts = self.hosts_of(&app, server)?;
            if let Some(r) = self.desired_route(host, &app, server, hosts).await? {
                routes.push(r);
            }
        }
        // The webhook relay's hooks domain, when the relay has one.
        routes.extend(crate::relay::relay_route(server));
        Ok(routes)
    }

    /// Runs Caddy as the container `berth-proxy` on the server (or adopts the Caddy at
    /// `req.admin`), loads every app's route into it and records it.
    pub async fn proxy_install(
        &self,
        server: &str,
        req: ProxyInstall,
    ) -> Result<ProxyStatus, ApiError> {
        let mut server = self.store.server(server)?;
        let mut tls = req.tls.clone();
        if let TlsSetting::Auto { email } = &mut tls {
            *email = req.acme_email.clone().filter(|e| !e.is_empty());
            if let Some(e) = email
                && (!e.contains('@') || e.contains(char::is_whitespace))
            {
                return Err(ApiError::Invalid(format!(
                    "acme email `{e}` is not an email address"
                )));
            }
        } else if req.acme_email.is_some() {
            return Err(ApiError::Invalid(
                "--acme-email only applies to --tls auto".to_owned(),
            ));
        }
        let host = self.host(&server).await?;
        let config = match &req.admin {
            Some(admin) => self.adopt(&host, &server, admin, tls).await?,
            None => self.install_managed(&host, &server, &req, tls).await?,
        };
        server.proxy = Some(config.clone());
        self.store.update_server(&server)?;
        self.audit(
            "proxy.install",
            &server.name,
            &format!(
                "{} admin {} tls {}",
                mode_name(&config.mode),
                config.admin,
                config.tls.as_str()
            ),
        );
        // Unattended relays switch routes themselves: through this proxy from now on.
        for app in self
            .store
            .apps()?
            .iter()
            .filter(|a| a.server == server.name)
        {
            self.webhook_resync(&app.name).await;
        }
        self.proxy_status(&server.name).await
    }

    async fn install_managed(
        &self,
        host: &Host,
        server: &Server,
        req: &ProxyInstall,
        tls: TlsSetting,
    ) -> Result<ProxyConfig, ApiError> {
        let image = req.image.clone().unwrap_or_else(|| "caddy:2".to_owned());
        if image.is_empty() || image.contains(char::is_whitespace) {
            return Err(ApiError::Invalid(format!("`{image}` is not an image name")));
        }
        let (http, https) = (req.http_port, req.https_port);
        if http == 0 || https == 0 || http == https {
            return Err(ApiError::Invalid(
                "--http-port and --https-port must be two different ports between 1 and 65535"
                    .to_owned(),
            ));
        }
        let mut settings_routes = self.routes_of_server(host, server).await?;
        settings_routes.sort_by(|a, b| a.id.cmp(&b.id));
        let settings = berth_proxy::ProxySettings {
            admin: AdminAddress::Unix(ADMIN_SOCKET.to_owned()),
            tls: tls_mode(&tls),
            http_port: 80,
            https_port: 443,
        };
        let config = berth_proxy::initial_config(&settings, &settings_routes);
        let bytes = serde_json::to_vec_pretty(&config)
            .map_err(|e| ApiError::Invalid(format!("cannot write Caddy's config: {e}")))?;
        let mut publish = vec![Publish {
            container_port: 80,
            host_ip: "0.0.0.0".to_owned(),
            host_port: http,
        }];
        if tls != TlsSetting::Off {
            publish.push(Publish {
                container_port: 443,
                host_ip: "0.0.0.0".to_owned(),
                host_port: https,
            });
        }
        let admin = format!("unix:{ADMIN_SOCKET}");
        // Reinstalling replaces the container; certificates and the autosaved config live
        // in named volumes and stay.
        let install = ServiceInstall {
            what: "the proxy".to_owned(),
            spec: ServiceSpec {
                name: ProxyConfig::CONTAINER.to_owned(),
                image: image.clone(),
                cmd: vec![
                    "caddy".into(),
                    "run".into(),
                    "--resume".into(),
                    "--config".into(),
                    format!("{CONFIG_DIR}/{CONFIG_FILE}"),
                ],
                env: vec![
                    "XDG_DATA_HOME=/data".into(),
                    "XDG_CONFIG_HOME=/config".into(),
                    "HOME=/data".into(),
                ],
                labels: HashMap::from([
                    (labels::MANAGED.to_owned(), "true".to_owned()),
                    (labels::ROLE.to_owned(), "proxy".to_owned()),
                ]),
                network: NETWORK.to_owned(),
                publish,
                binds: vec![
                    "berth-proxy-data:/data".into(),
                    "berth-proxy-config:/config".into(),
                    format!("{ADMIN_DIR}:{ADMIN_DIR}"),
                ],
            },
            image: ServiceImage::Pull,
            files: vec![ServiceFile {
                dir: CONFIG_DIR.to_owned(),
                name: CONFIG_FILE.to_owned(),
                bytes,
                mode: 0o644,
            }],
            ready: Readiness::CaddyAdmin {
                admin: admin.clone(),
            },
            start_hint: format!("are ports {http} and {https} free on {}?", server.name),
        };
        install_service(host, &install).await.map_err(|e| match e {
            e @ EngineError::ImageUnavailable { .. } => {
                ApiError::Invalid(format!("{e}; pass --image with an image the server has"))
            }
            e @ (EngineError::ServiceDidNotStart { .. } | EngineError::ServiceNotReady { .. }) => {
                ApiError::Invalid(e.to_string())
            }
            e => e.into(),
        })?;
        let caddy = host.caddy(&admin).await?;
        // The autosave of an earlier install may win over the bootstrap file: load ours.
        caddy.load(&config).await?;
        Ok(ProxyConfig {
            mode: ProxyMode::Managed {
                image,
                http_port: http,
                https_port: https,
            },
            admin,
            tls,
            http_server: berth_proxy::SERVER.to_owned(),
            installed_at: self.now(),
        })
    }

    async fn adopt(
        &self,
        host: &Host,
        server: &Server,
        admin: &str,
        tls: TlsSetting,
    ) -> Result<ProxyConfig, ApiError> {
        let address = AdminAddress::parse(admin).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let admin = address.to_string();
        host.forget_caddy(&admin).await;
        let caddy = host.caddy(&admin).await?;
        caddy.ping().await?;
        let servers = caddy.servers().await?;
        let pick = |port: &str| {
            servers
                .iter()
                .find(|s| s.listen.iter().any(|l| l.ends_with(port)))
                .map(|s| s.name.clone())
        };
        let http_server = pick(":443")
            .or_else(|| pick(":80"))
            .or_else(|| servers.first().map(|s| s.name.clone()))
            .ok_or_else(|| {
                ApiError::Invalid(format!(
                    "the Caddy at {admin} has no HTTP server to add routes to; give it a site first"
                ))
            })?;
        let config = ProxyConfig {
            mode: ProxyMode::Adopted,
            admin,
            tls,
            http_server,
            installed_at: self.now(),
        };
        let mut with_proxy = server.clone();
        with_proxy.proxy = Some(config.clone());
        for route in self.routes_of_server(host, &with_proxy).await? {
            caddy.put_route(&config.http_server, &route).await?;
        }
        Ok(config)
    }

    /// The proxy of a server: what is recorded, and whether it answers.
    pub async fn proxy_status(&self, server: &str) -> Result<ProxyStatus, ApiError> {
        let server = self.store.server(server)?;
        let mut st = ProxyStatus {
            server: server.name.clone(),
            installed: false,
            mode: None,
            admin: None,
            tls: None,
            image: None,
            http_port: None,
            https_port: None,
            reachable: false,
            container_status: None,
            routes: Vec::new(),
            error: None,
        };
        let Some(proxy) = &server.proxy else {
            return Ok(st);
        };
        st.installed = true;
        st.mode = Some(mode_name(&proxy.mode).to_owned());
        st.admin = Some(proxy.admin.clone());
        st.tls = Some(proxy.tls.as_str().to_owned());
        if let ProxyMode::Managed {
            image,
            http_port,
            https_port,
        } = &proxy.mode
        {
            st.image = Some(image.clone());
            st.http_port = Some(*http_port);
            st.https_port = Some(*https_port);
        }
        let host = self.host(&server).await?;
        if matches!(proxy.mode, ProxyMode::Managed { .. }) {
            st.container_status = host
                .docker()
                .inspect_container(ProxyConfig::CONTAINER)
                .await?
                .map(|i| i.status);
        }
        let probe = async {
            let caddy = host.caddy(&proxy.admin).await?;
            caddy.ping().await?;
            let config = caddy.config().await?;
            Ok::<_, ApiError>(route_ids(&config))
        };
        match probe.await {
            Ok(routes) => {
                st.reachable = true;
                st.routes = routes;
            }
            Err(e) => {
                host.forget_caddy(&proxy.admin).await;
                st.error = Some(e.to_string());
            }
        }
        Ok(st)
    }

    /// Sets (or with `None` clears) the server's base domain; every app on it then answers to
    /// `<app>.<base-domain>`. Routes are updated at once; nothing changes if the proxy refuses.
    pub async fn server_set_base_domain(
        &self,
        server: &str,
        base: Option<&str>,
    ) -> Result<Server, ApiError> {
        let mut server = self.store.server(server)?;
        let base = match base {
            Some(b) if !b.is_empty() => {
                let b = valid_domain(b)?;
                if let Some(rest) = b.strip_prefix("*.") {
                    return Err(ApiError::Invalid(format!(
                        "base domain `{b}` must not be a wildcard: apps get <app>.{rest}"
                    )));
                }
                Some(b)
            }
            _ => None,
        };
        let apps: Vec<App> = self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
            .collect();
        if let Some(b) = &base {
            for app in &apps {
                let auto = format!("{}.{b}", app.name);
                if let Some(owner) = self.store.domain_owner(&auto)?
                    && owner != app.name
                {
                    return Err(ApiError::Invalid(format!(
                        "{auto} would be app {}'s automatic domain but app `{owner}` uses it",
                        app.name
                    )));
                }
            }
        }
        let mut updated = server.clone();
        updated.base_domain = base;
        for app in &apps {
            let hosts = self.hosts_of(app, &updated)?;
            self.sync_route(app, &updated, hosts).await?;
        }
        self.store.update_server(&updated)?;
        self.audit(
            "server.set",
            &server.name,
            &format!(
                "base domain {}",
                updated.base_domain.as_deref().unwrap_or("-")
            ),
        );
        // Unattended relays switch routes themselves: they need the new names.
        for app in &apps {
            self.webhook_resync(&app.name).await;
        }
        server = updated;
        Ok(server)
    }

    /// Adds a domain to an app (optionally as its primary) and routes it at once.
    pub async fn domain_add(
        &self,
        app: &str,
        domain: &str,
        primary: bool,
    ) -> Result<Vec<DomainStatus>, ApiError> {
        let app = self.store.app(app)?;
        let _lock = self.lock_settled(&app, "a domain change").await?;
        let name = valid_domain(domain)?;
        let server = self.store.server(&app.server)?;
        if server.proxy.is_none() {
            return Err(ApiError::ProxyNotInstalled {
                server: server.name.clone(),
            });
        }
        if let Some(owner) = self.store.domain_owner(&name)? {
            return Err(ApiError::Invalid(if owner == app.name {
                format!("{name} is already a domain of app `{owner}`")
            } else {
                format!("domain `{name}` is already used by app `{owner}`")
            }));
        }
        if let Some(s) = self.store.servers()?.into_iter().find(|s| {
            s.relay.as_ref().and_then(|r| r.hooks_domain.as_deref()) == Some(name.as_str())
        }) {
            return Err(ApiError::Invalid(format!(
                "domain `{name}` is the webhook relay's hooks domain on server `{}`",
                s.name
            )));
        }
        for other in self.store.apps()? {
            let other_server = if other.server == server.name {
                server.clone()
            } else {
                self.store.server(&other.server)?
            };
            if let Some(base) = &other_server.base_domain
                && format!("{}.{base}", other.name) == name
            {
                return Err(ApiError::Invalid(if other.name == app.name {
                    format!(
                        "{name} is already the automatic domain of app `{}`",
                        app.name
                    )
                } else {
                    format!(
                        "domain `{name}` is already used by app `{}` (its automatic domain)",
                        other.name
                    )
                }));
            }
        }
        let d = Domain {
            app: app.name.clone(),
            name: name.clone(),
            primary,
            created_at: self.now(),
        };
        // Route first: if the proxy refuses, nothing is recorded.
        let mut hosts = self.hosts_of(&app, &server)?;
        if primary {
            hosts.insert(0, name.clone());
        } else {
            hosts.push(name.clone());
        }
        self.sync_route(&app, &server, hosts).await?;
        self.store.add_domain(&d)?;
        self.audit(
            "domain.add",
            &app.name,
            &format!("{name}{}", if primary { " (primary)" } else { "" }),
        );
        self.webhook_resync(&app.name).await;
        self.domain_ls(&app.name).await
    }

    /// Removes a domain of an app and unroutes it at once. The primary domain cannot be
    /// removed (make another one primary first), nor the automatic one.
    pub async fn domain_rm(&self, app: &str, domain: &str) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let _lock = self.lock_settled(&app, "a domain change").await?;
        let name = valid_domain(domain)?;
        let server = self.store.server(&app.server)?;
        let stored = self.store.domains(&app.name)?;
        let Some(d) = stored.iter().find(|d| d.name == name) else {
            if server
                .base_domain
                .as_ref()
                .is_some_and(|b| format!("{}.{b}", app.name) == name)
            {
                return Err(ApiError::Invalid(format!(
                    "{name} is the automatic domain from server {}'s base domain; change it with `berth server set {} --base-domain …`",
                    server.name, server.name
                )));
            }
            return Err(ApiError::Invalid(format!(
                "{name} is not a domain of app `{}`",
                app.name
            )));
        };
        if d.primary {
            return Err(ApiError::Invalid(format!(
                "{name} is the primary domain of `{}`: make another domain primary first (`berth domain add {} OTHER --primary`)",
                app.name, app.name
            )));
        }
        let hosts: Vec<String> = self
            .hosts_of(&app, &server)?
            .into_iter()
            .filter(|h| h != &name)
            .collect();
        self.sync_route(&app, &server, hosts).await?;
        self.store.remove_domain(&app.name, &name)?;
        self.audit("domain.rm", &app.name, &name);
        self.webhook_resync(&app.name).await;
        Ok(())
    }

    /// The domains of an app (automatic one included), primary first, with TLS state.
    pub async fn domain_ls(&self, app: &str) -> Result<Vec<DomainStatus>, ApiError> {
        let app = self.store.app(app)?;
        let server = self.store.server(&app.server)?;
        self.domain_statuses(&app, &server).await
    }

    pub(crate) async fn domain_statuses(
        &self,
        app: &App,
        server: &Server,
    ) -> Result<Vec<DomainStatus>, ApiError> {
        let hosts = self.hosts_of(app, server)?;
        let auto = server
            .base_domain
            .as_ref()
            .map(|b| format!("{}.{b}", app.name));
        let mut out = Vec::new();
        for (i, h) in hosts.iter().enumerate() {
            let url = match &server.proxy {
                Some(p) => p.url_for(h),
                None => format!("http://{h}"),
            };
            out.push(DomainStatus {
                domain: h.clone(),
                primary: i == 0,
                auto: auto.as_deref() == Some(h.as_str()),
                url,
                tls: self.tls_status(server, h).await,
            });
        }
        Ok(out)
    }

    /// Which certificate the proxy serves for `domain`, asked over the session.
    async fn tls_status(&self, server: &Server, domain: &str) -> TlsStatus {
        let unknown = |detail: String| TlsStatus {
            state: "unknown".into(),
            detail,
            issuer: None,
            not_after: None,
        };
        let Some(proxy) = &server.proxy else {
            return unknown("no proxy installed".into());
        };
        if proxy.tls == TlsSetting::Off {
            return TlsStatus {
                state: "off".into(),
                detail: "plain HTTP (tls off)".into(),
                issuer: None,
                not_after: None,
            };
        }
        if domain.starts_with("*.") {
            return unknown("wildcard: checked per name".into());
        }
        let port = match proxy.mode {
            ProxyMode::Managed { https_port, .. } => https_port,
            ProxyMode::Adopted => 443,
        };
        let probe = async {
            let host = self.host(server).await?;
            let forward = host
                .transport()
                .forward(berth_ssh::RemoteTarget::Tcp {
                    host: "127.0.0.1".into(),
                    port,
                })
                .await?;
            let stream = forward
                .connect()
                .await
                .map_err(|e| ApiError::Invalid(format!("cannot reach port {port}: {e}")))?;
            Ok::<_, ApiError>(berth_proxy::certs::probe(Box::new(stream), domain).await)
        };
        match tokio::time::timeout(TLS_PROBE_TIMEOUT, probe).await {
            Ok(Ok(state)) => tls_of(&state),
            Ok(Err(e)) => unknown(e.to_string()),
            Err(_) => unknown(format!(
                "no TLS answer within {} s",
                TLS_PROBE_TIMEOUT.as_secs()
            )),
        }
    }
}

fn tls_of(state: &CertState) -> TlsStatus {
    let (name, issuer, not_after) = match state {
        CertState::Off => ("off", None, None),
        CertState::Pending { .. } => ("pending", None, None),
        CertState::Issued {
            issuer, not_after, ..
        } => ("issued", Some(issuer.clone()), Some(*not_after)),
        CertState::Error { .. } => ("error", None, None),
    };
    TlsStatus {
        state: name.into(),
        detail: state.to_string(),
        issuer,
        not_after,
    }
}

fn mode_name(mode: &ProxyMode) -> &'static str {
    match mode {
        ProxyMode::Managed { .. } => "managed",
        ProxyMode::Adopted => "adopted",
    }
}

/// The `@id`s of Berth's routes in a Caddy config.
fn route_ids(config: &serde_json::Value) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(servers) = config
        .pointer("/apps/http/servers")
        .and_then(|s| s.as_object())
    {
        for server in servers.values() {
            for route in server
                .get("routes")
                .and_then(|r| r.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(id) = route.get("@id").and_then(|i| i.as_str())
                    && id.starts_with("berth-app-")
                {
                    ids.push(id.to_owned());
                }
            }
        }
    }
    ids.sort();
    ids
}
