//! Routing: the Caddy proxy of a server (install, adopt, status), base domains, app domains,
//! keeping each app's route in Caddy in step with them, and the TLS state of every domain.

use berth_engine::proxy::{AppRoute, ManagedProxy, adopt_proxy, install_proxy, route_id};
use berth_engine::{Host, RoutePlan, UpstreamVia};
use berth_model::{
    App, Domain, DomainStatus, ProxyMode, ProxyStatus, Server, SpecDomain, TlsSetting,
};

use crate::Berth;
use crate::error::ApiError;

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

/// Validates a domain a user typed; a clear error names the problem.
pub(crate) fn valid_domain(input: &str) -> Result<String, ApiError> {
    Ok(berth_engine::proxy::validate_domain(input)?)
}

impl Berth {
    /// The names `app` answers to now, primary first: its serving deployment's domains (a
    /// domain change not applied yet is not routed), or the records' when nothing recorded
    /// serves.
    pub(crate) fn hosts_of(&self, app: &App, server: &Server) -> Result<Vec<String>, ApiError> {
        let serving = match self.store.active_deployment(&app.name)? {
            Some(d) => d.spec.map(|s| s.domains),
            None => None,
        };
        let domains = match serving {
            Some(d) => d,
            None => self.spec_domains(&app.name)?,
        };
        self.hosts_for(app, server, &domains)
    }

    /// The names `app` answers to once its domain changes are applied (the records').
    pub(crate) fn hosts_wanted(&self, app: &App, server: &Server) -> Result<Vec<String>, ApiError> {
        let stored = self.spec_domains(&app.name)?;
        self.hosts_for(app, server, &stored)
    }

    /// An app's recorded domains as a deployment's spec keeps them.
    pub(crate) fn spec_domains(&self, app: &str) -> Result<Vec<SpecDomain>, ApiError> {
        Ok(self
            .store
            .domains(app)?
            .into_iter()
            .map(|d| SpecDomain {
                name: d.name,
                primary: d.primary,
            })
            .collect())
    }

    /// Whether a domain change of `app` waits for `apply`: it has a serving deployment that
    /// recorded what it runs with, and the change was not asked to apply at once.
    fn domain_change_waits(&self, app: &App, apply: bool) -> Result<bool, ApiError> {
        Ok(!apply
            && self
                .store
                .active_deployment(&app.name)?
                .is_some_and(|d| d.spec.is_some()))
    }

    /// The names `app` answers at with these domains (the primary first, then its automatic
    /// `<name>.<base domain>`, then the others).
    pub(crate) fn hosts_for(
        &self,
        app: &App,
        server: &Server,
        domains: &[SpecDomain],
    ) -> Result<Vec<String>, ApiError> {
        // A stage's instance answers at the names its stage gave it, not <name>.<base>.
        let auto = match self.store.instance(&app.name)? {
            Some(_) => None,
            None => server
                .base_domain
                .as_ref()
                .map(|base| format!("{}.{base}", app.name)),
        };
        let mut hosts = Vec::new();
        if let Some(primary) = domains.iter().find(|d| d.primary) {
            hosts.push(primary.name.clone());
        }
        if let Some(a) = &auto
            && !hosts.contains(a)
        {
            hosts.push(a.clone());
        }
        for d in domains {
            if !hosts.contains(&d.name) {
                hosts.push(d.name.clone());
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
        route_with(app, server, hosts)
    }

    /// The route a deploy of `app` with these domains switches (a rollback's, as recorded).
    pub(crate) fn route_plan_for(
        &self,
        app: &App,
        server: &Server,
        domains: &[SpecDomain],
    ) -> Result<Option<RoutePlan>, ApiError> {
        if server.proxy.is_none() {
            return Ok(None);
        }
        let hosts = self.hosts_for(app, server, domains)?;
        route_with(app, server, hosts)
    }

    /// Makes Caddy's route of `app` match `hosts` (creating, updating or deleting it).
    pub(crate) async fn sync_route(
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

    /// Re-points `app`'s route at `serving` if it no longer reaches it: a Caddy the user runs
    /// (adopted) dials the published loopback port, which Docker changes whenever the
    /// container starts again. A managed Caddy dials the container by name and never drifts.
    pub(crate) async fn repair_route(
        &self,
        host: &Host,
        app: &App,
        server: &Server,
        serving: &str,
    ) -> Result<(), ApiError> {
        if !matches!(
            server.proxy.as_ref().map(|p| &p.mode),
            Some(ProxyMode::Adopted)
        ) {
            return Ok(());
        }
        if let Some(route) = self.route_plan(app, server)?
            && berth_engine::repair_route(host, &app.name, &route, serving, app.port).await?
        {
            self.audit("route.repair", &app.name, serving);
        }
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

    /// Every app's route on `server` as the store has it (names, serving container), for a
    /// proxy that starts from them.
    fn app_routes(&self, server: &Server) -> Result<Vec<AppRoute>, ApiError> {
        let mut routes = Vec::new();
        for app in self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
        {
            routes.push(AppRoute {
                hosts: self.hosts_of(&app, server)?,
                port: app.port,
                serving: self
                    .store
                    .active_deployment(&app.name)?
                    .and_then(|d| d.container),
                app: app.name,
            });
        }
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
        let apps = self.app_routes(&server)?;
        let config = match &req.admin {
            Some(admin) => adopt_proxy(&host, &server, admin, tls, &apps, self.now()).await?,
            None => {
                let want = managed_proxy(&req, tls)?;
                install_proxy(&host, &server, &want, &apps, self.now()).await?
            }
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
        let seen = berth_engine::proxy::observe_proxy(&host, proxy).await?;
        st.container_status = seen.container_status;
        st.reachable = seen.reachable;
        st.routes = seen.routes;
        st.error = seen.error;
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

    /// Adds a domain to an app (optionally as its primary). A deployed app's route takes it
    /// with `berth apply` (a pending change), or at once with `apply`.
    pub async fn domain_add(
        &self,
        app: &str,
        domain: &str,
        primary: bool,
        apply: bool,
    ) -> Result<Vec<DomainStatus>, ApiError> {
        let app = self.store.app(app)?;
        if app.service.is_some() {
            return Err(ApiError::Invalid(format!(
                "`{}` is a service: it is reached by its name from the apps on its server, never through the proxy (`--publish 127.0.0.1:PORT` puts it on the server's loopback)",
                app.name
            )));
        }
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
        let waits = self.domain_change_waits(&app, apply)?;
        if !waits {
            // Route first: if the proxy refuses, nothing is recorded.
            let mut wanted = self.spec_domains(&app.name)?;
            if primary {
                wanted.iter_mut().for_each(|w| w.primary = false);
            }
            wanted.push(SpecDomain {
                name: name.clone(),
                primary,
            });
            let hosts = self.hosts_for(&app, &server, &wanted)?;
            self.sync_route(&app, &server, hosts).await?;
        }
        self.store.add_domain(&d)?;
        if !waits {
            self.serving_domains_follow(&app.name)?;
        }
        self.audit(
            "domain.add",
            &app.name,
            &format!(
                "{name}{}{}",
                if primary { " (primary)" } else { "" },
                if waits { " (pending)" } else { "" }
            ),
        );
        self.webhook_resync(&app.name).await;
        self.domain_ls(&app.name).await
    }

    /// Removes a domain of an app (a deployed app's route drops it with `berth apply`, or at
    /// once with `apply`). The primary domain cannot be removed (make another one primary
    /// first), nor the automatic one.
    pub async fn domain_rm(&self, app: &str, domain: &str, apply: bool) -> Result<(), ApiError> {
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
        let waits = self.domain_change_waits(&app, apply)?;
        if !waits {
            let wanted: Vec<SpecDomain> = self
                .spec_domains(&app.name)?
                .into_iter()
                .filter(|d| d.name != name)
                .collect();
            let hosts = self.hosts_for(&app, &server, &wanted)?;
            self.sync_route(&app, &server, hosts).await?;
        }
        self.store.remove_domain(&app.name, &name)?;
        if !waits {
            self.serving_domains_follow(&app.name)?;
        }
        self.audit(
            "domain.rm",
            &app.name,
            &format!("{name}{}", if waits { " (pending)" } else { "" }),
        );
        self.webhook_resync(&app.name).await;
        Ok(())
    }

    /// `berth domain primary APP DOMAIN`: makes a domain the app already has its primary one
    /// (the primary is where it answers first: its URL, the tray's link); a deployed app's
    /// route takes it with `berth apply`, or at once with `apply`.
    pub async fn domain_primary(
        &self,
        app: &str,
        domain: &str,
        apply: bool,
    ) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let _lock = self.lock_settled(&app, "a domain change").await?;
        let name = valid_domain(domain)?;
        let server = self.store.server(&app.server)?;
        let stored = self.store.domains(&app.name)?;
        if !stored.iter().any(|d| d.name == name) {
            return Err(ApiError::Invalid(format!(
                "{name} is not a domain of app `{0}`: add it with `berth domain add {0} {name} --primary`",
                app.name
            )));
        }
        let mut domains: Vec<berth_model::SpecDomain> = stored
            .into_iter()
            .map(|d| berth_model::SpecDomain {
                primary: d.name == name,
                name: d.name,
            })
            .collect();
        domains.sort_by_key(|d| !d.primary);
        let waits = self.domain_change_waits(&app, apply)?;
        if !waits {
            let hosts = self.hosts_for(&app, &server, &domains)?;
            self.sync_route(&app, &server, hosts).await?;
        }
        self.store.set_primary_domain(&app.name, Some(&name))?;
        if !waits {
            self.serving_domains_follow(&app.name)?;
        }
        self.audit(
            "domain.primary",
            &app.name,
            &format!("{name}{}", if waits { " (pending)" } else { "" }),
        );
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
        let routed = self.hosts_of(app, server)?;
        let hosts = self.hosts_wanted(app, server)?;
        let auto = server
            .base_domain
            .as_ref()
            .map(|b| format!("{}.{b}", app.name));
        let mut out = Vec::new();
        // What the route has that the records dropped, listed after them.
        let dropped: Vec<&String> = routed.iter().filter(|h| !hosts.contains(h)).collect();
        let all: Vec<&String> = hosts.iter().chain(dropped.iter().copied()).collect();
        for (i, h) in all.into_iter().enumerate() {
            let pending = if !routed.contains(h) {
                Some("to add".to_owned())
            } else if !hosts.contains(h) {
                Some("to remove".to_owned())
            } else if i == 0 && routed.first() != Some(h) {
                Some("to make primary".to_owned())
            } else {
                None
            };
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
                pending,
            });
        }
        Ok(out)
    }

    /// Which certificate the proxy serves for `domain`, asked over the session.
    async fn tls_status(&self, server: &Server, domain: &str) -> berth_model::TlsStatus {
        let Some(proxy) = &server.proxy else {
            return berth_model::TlsStatus {
                state: "unknown".into(),
                detail: "no proxy installed".into(),
                issuer: None,
                not_after: None,
            };
        };
        match self.host(server).await {
            Ok(host) => berth_engine::proxy::tls_status(&host, proxy, domain).await,
            Err(e) => berth_model::TlsStatus {
                state: "unknown".into(),
                detail: e.to_string(),
                issuer: None,
                not_after: None,
            },
        }
    }
}

/// The Caddy `server proxy install` runs, checked.
fn managed_proxy(req: &ProxyInstall, tls: TlsSetting) -> Result<ManagedProxy, ApiError> {
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
    Ok(ManagedProxy {
        image,
        http_port: http,
        https_port: https,
        tls,
    })
}

fn mode_name(mode: &ProxyMode) -> &'static str {
    match mode {
        ProxyMode::Managed { .. } => "managed",
        ProxyMode::Adopted => "adopted",
    }
}

/// The route of `app` at `hosts` (none without names).
fn route_with(
    app: &App,
    server: &Server,
    hosts: Vec<String>,
) -> Result<Option<RoutePlan>, ApiError> {
    if hosts.is_empty() {
        return Ok(None);
    }
    Ok(route_to(app, server, hosts))
}
