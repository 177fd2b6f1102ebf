//! The proxy of a server as plans: running Caddy as the container `berth-proxy` (its image,
//! its bootstrap file, then Berth's whole config with every route loaded), adopting a Caddy
//! the user runs (Berth's routes put into one of its HTTP servers), the hooks domain's route,
//! and reading it back — whether it answers, which routes it holds, which certificate it serves
//! for a name.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use berth_docker::{Publish, ServiceSpec, labels};
use berth_model::{ProxyConfig, ProxyMode, Server, Step, TlsSetting, TlsStatus};
use berth_proxy::certs::CertState;
use berth_proxy::{AdminAddress, HttpServer, ProxySettings, Route, TlsMode};
use berth_relay_proto::proto;
use berth_ssh::RemoteTarget;

use crate::NETWORK;
use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction};
use crate::service::{
    Readiness, ServiceFile, ServiceImage, ServiceInstall, ServiceOnHost, apply_host_action,
    apply_service_plan, observe_service, plan_service,
};

/// Where the managed Caddy's admin socket lives on the server (bind-mounted into it, and into
/// the relay, which switches routes for unattended deploys).
pub const ADMIN_DIR: &str = "/run/berth-proxy";
const ADMIN_SOCKET: &str = "/run/berth-proxy/admin.sock";
/// The bootstrap config inside the container (`caddy run --resume` prefers the autosave).
const CONFIG_DIR: &str = "/etc/berth";
const CONFIG_FILE: &str = "caddy.json";
/// Per-domain budget for asking the proxy which certificate it serves.
const TLS_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The Caddy route (`@id`) of the relay's hooks domain.
pub const RELAY_ROUTE_ID: &str = "berth-relay";

/// The `@id` of an app's route.
pub fn route_id(app: &str) -> String {
    berth_proxy::route_id(app)
}

/// Checks a domain a user typed, lowercased; the error names the problem.
pub fn validate_domain(input: &str) -> Result<String, EngineError> {
    berth_proxy::domain::validate(input).map_err(|e| EngineError::Invalid(e.to_string()))
}

/// An app's route as Berth's records have it: the names it answers to and the container that
/// serves it (none: nothing deployed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoute {
    pub app: String,
    pub hosts: Vec<String>,
    pub port: u16,
    pub serving: Option<String>,
}

/// A Caddy Berth runs on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedProxy {
    pub image: String,
    pub http_port: u16,
    pub https_port: u16,
    pub tls: TlsSetting,
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

/// The route of the relay's hooks domain through `server`'s proxy, when it has one.
fn relay_route(server: &Server) -> Option<Route> {
    let relay = server.relay.as_ref()?;
    let domain = relay.hooks_domain.clone()?;
    let proxy = server.proxy.as_ref()?;
    let upstream = match proxy.mode {
        ProxyMode::Managed { .. } => format!("{}:{}", proto::CONTAINER, proto::LISTEN_PORT),
        ProxyMode::Adopted => format!("127.0.0.1:{}", relay.listen_port),
    };
    Some(Route {
        id: RELAY_ROUTE_ID.to_owned(),
        hosts: vec![domain],
        upstream,
    })
}

/// Observes the routes a proxy in `mode` should hold now: each app's to its serving container
/// (on the network for a managed Caddy, at its published loopback port for an adopted one),
/// and the hooks domain's. Apps without names or without a serving container have none.
async fn routes_now(
    host: &Host,
    server: &Server,
    mode: &ProxyMode,
    apps: &[AppRoute],
) -> Result<Vec<Route>, EngineError> {
    let mut routes = Vec::new();
    for app in apps {
        let Some(container) = app.serving.as_deref().filter(|_| !app.hosts.is_empty()) else {
            continue;
        };
        let upstream = match mode {
            ProxyMode::Managed { .. } => format!("{container}:{}", app.port),
            ProxyMode::Adopted => {
                let info = host.docker().inspect_container(container).await?;
                match info.and_then(|i| i.published_port) {
                    Some(p) => format!("127.0.0.1:{p}"),
                    None => continue,
                }
            }
        };
        routes.push(Route {
            id: route_id(&app.app),
            hosts: app.hosts.clone(),
            upstream,
        });
    }
    routes.extend(relay_route(server));
    routes.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(routes)
}

/// Plans running Caddy as `berth-proxy`: the service install (image, container, bootstrap
/// file, start, wait), then Berth's config with `routes` loaded over whatever an earlier
/// install autosaved. Reinstalling replaces the container; certificates and the autosave live
/// in named volumes and stay.
///
/// Every route change makes Caddy (2.6 and later, on Linux) open a new `SO_REUSEPORT` socket
/// and close the old one; the kernel resets connections still queued on the closed one — a
/// request that arrives in that instant fails. Where the server's `kernel` (its release, as
/// Docker reports it) can hand queued connections over to the new socket (Linux 5.14+,
/// `net.ipv4.tcp_migrate_req`), the proxy's network namespace is set to do so.
pub fn plan_managed_proxy(
    server: &str,
    want: &ManagedProxy,
    routes: &[Route],
    on_host: ServiceOnHost,
    kernel: &str,
) -> Result<Plan, EngineError> {
    let settings = ProxySettings {
        admin: AdminAddress::Unix(ADMIN_SOCKET.to_owned()),
        tls: tls_mode(&want.tls),
        http_port: 80,
        https_port: 443,
    };
    let config = berth_proxy::initial_config(&settings, routes);
    let bytes = serde_json::to_vec_pretty(&config)
        .map_err(|e| EngineError::Task(format!("cannot write Caddy's config: {e}")))?;
    let mut publish = vec![Publish {
        container_port: 80,
        host_ip: "0.0.0.0".to_owned(),
        host_port: want.http_port,
    }];
    if want.tls != TlsSetting::Off {
        publish.push(Publish {
            container_port: 443,
            host_ip: "0.0.0.0".to_owned(),
            host_port: want.https_port,
        });
    }
    let admin = format!("unix:{ADMIN_SOCKET}");
    let install = ServiceInstall {
        what: "the proxy".to_owned(),
        spec: ServiceSpec {
            name: ProxyConfig::CONTAINER.to_owned(),
            image: want.image.clone(),
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
            // Caddy binds ports 80 and 443 and manages its certificates as root.
            confined: false,
            sysctls: if hands_over_queued_connections(kernel) {
                BTreeMap::from([(MIGRATE_SYSCTL.to_owned(), "1".to_owned())])
            } else {
                BTreeMap::new()
            },
            user: None,
            cap_add: Vec::new(),
            one_shot: false,
        },
        image: ServiceImage::Pull,
        prepare: Vec::new(),
        files: vec![ServiceFile {
            dir: CONFIG_DIR.to_owned(),
            name: CONFIG_FILE.to_owned(),
            bytes,
            mode: 0o644,
        }],
        ready: Readiness::CaddyAdmin {
            admin: admin.clone(),
        },
        start_hint: format!(
            "are ports {} and {} free on {server}?",
            want.http_port, want.https_port
        ),
    };
    let mut plan = plan_service(&install, on_host);
    // The autosave of an earlier install may win over the bootstrap file: load ours — before
    // the version set aside is removed, so it comes back if this fails.
    let at = plan
        .actions
        .iter()
        .position(|a| a.step == Step::Cleanup)
        .unwrap_or(plan.actions.len());
    plan.actions.insert(
        at,
        PlannedAction {
            step: Step::Switch,
            action: Action::LoadProxyConfig {
                admin,
                config,
                routes: routes.len(),
            },
        },
    );
    Ok(plan)
}

/// Runs (or reruns) Caddy on `host` as [`plan_managed_proxy`] says, with `apps`' routes, and
/// returns the proxy to record.
pub async fn install_proxy(
    host: &Host,
    server: &Server,
    want: &ManagedProxy,
    apps: &[AppRoute],
    now: i64,
) -> Result<ProxyConfig, EngineError> {
    refuse_unreachable_admin(
        host,
        server,
        &AdminAddress::Unix(ADMIN_SOCKET.to_owned()),
        true,
    )
    .await?;
    let mode = ProxyMode::Managed {
        image: want.image.clone(),
        http_port: want.http_port,
        https_port: want.https_port,
    };
    let config = ProxyConfig {
        mode: mode.clone(),
        admin: format!("unix:{ADMIN_SOCKET}"),
        tls: want.tls.clone(),
        http_server: berth_proxy::SERVER.to_owned(),
        installed_at: now,
    };
    let mut with_proxy = server.clone();
    with_proxy.proxy = Some(config.clone());
    let routes = routes_now(host, &with_proxy, &mode, apps).await?;
    let on_host = observe_service(host, ProxyConfig::CONTAINER, &want.image).await?;
    let kernel = host.docker().info().await?.kernel;
    let plan = plan_managed_proxy(&server.name, want, &routes, on_host, &kernel)?;
    apply_service_plan(host, ProxyConfig::CONTAINER, "the proxy", on_host, plan)
        .await
        .map_err(|e| match e {
            e @ EngineError::ImageUnavailable { .. } => {
                EngineError::Invalid(format!("{e}; pass --image with an image the server has"))
            }
            e => e,
        })?;
    Ok(config)
}

/// The setting that lets a closing listener hand its queued connections to its `SO_REUSEPORT`
/// successor instead of resetting them.
pub const MIGRATE_SYSCTL: &str = "net.ipv4.tcp_migrate_req";

/// Whether a kernel release (`6.1.0-18-amd64`, `5.15.0-91-generic`) has
/// [`MIGRATE_SYSCTL`]: Linux 5.14 and later. An unreadable release counts as no.
pub fn hands_over_queued_connections(kernel: &str) -> bool {
    let mut parts = kernel
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (5, 14),
        _ => false,
    }
}

/// Refuses, before anything changes, a Caddy whose admin socket the login user could never
/// open. Caddy sets no mode on its unix admin socket: created by root it is root's alone
/// (0755), so for a login user who is not root — one in the `docker` group — Berth's own
/// Caddy (`managed`) is out of reach, and an adopted one only if its socket is writable for
/// them. An admin API on the loopback is reached through the SSH session without file
/// permissions. Where the server does not say who logs in, nothing is refused.
async fn refuse_unreachable_admin(
    host: &Host,
    server: &Server,
    admin: &AdminAddress,
    managed: bool,
) -> Result<(), EngineError> {
    let AdminAddress::Unix(path) = admin else {
        return Ok(());
    };
    let Some((uid, user)) = host.login().await.filter(|(uid, _)| *uid != 0) else {
        return Ok(());
    };
    let server = &server.name;
    let loopback = format!(
        "run Caddy with its admin API on the server's loopback and adopt it: \
         `berth server proxy install {server} --admin 127.0.0.1:2019`"
    );
    if managed {
        return Err(EngineError::Invalid(format!(
            "Berth logs in to {server} as {user} (uid {uid}), not root, and the Caddy Berth \
             runs answers only root: Caddy creates its admin socket {path} for root alone. \
             Add the server with a root login (`--ssh root@HOST`), or {loopback}"
        )));
    }
    let quoted = path.replace('\'', "");
    let writable = host
        .transport()
        .exec(&format!("[ ! -e '{quoted}' ] || [ -w '{quoted}' ]"))
        .await
        .map(|out| out.success())
        .unwrap_or(true);
    if writable {
        return Ok(());
    }
    Err(EngineError::Invalid(format!(
        "Berth logs in to {server} as {user} (uid {uid}), who may not open Caddy's admin socket \
         {path}: give it to a group {user} is in (Caddy 2.8 and later: \
         `admin unix/{path}|0660` and the socket's group), or {loopback}"
    )))
}

/// The HTTP server of an adopted Caddy that gets Berth's routes: the one on `:443`, else on
/// `:80`, else the first.
pub fn pick_http_server(servers: &[HttpServer]) -> Option<String> {
    let on = |port: &str| {
        servers
            .iter()
            .find(|s| s.listen.iter().any(|l| l.ends_with(port)))
            .map(|s| s.name.clone())
    };
    on(":443")
        .or_else(|| on(":80"))
        .or_else(|| servers.first().map(|s| s.name.clone()))
}

/// Plans putting `routes` into the HTTP server `http_server` of the Caddy at `admin`.
pub fn plan_adopted_proxy(admin: &str, http_server: &str, routes: &[Route]) -> Plan {
    Plan {
        actions: routes
            .iter()
            .map(|route| PlannedAction {
                step: Step::Switch,
                action: Action::PutProxyRoute {
                    admin: admin.to_owned(),
                    server: http_server.to_owned(),
                    route: route.clone(),
                },
            })
            .collect(),
    }
}

/// Adopts the Caddy the user runs at `admin`: checks it answers, picks the HTTP server for
/// Berth's routes and puts `apps`' routes into it. Returns the proxy to record.
pub async fn adopt_proxy(
    host: &Host,
    server: &Server,
    admin: &str,
    tls: TlsSetting,
    apps: &[AppRoute],
    now: i64,
) -> Result<ProxyConfig, EngineError> {
    let address = AdminAddress::parse(admin).map_err(|e| EngineError::Invalid(e.to_string()))?;
    refuse_unreachable_admin(host, server, &address, false).await?;
    let admin = address.to_string();
    host.forget_caddy(&admin).await;
    let caddy = host.caddy(&admin).await?;
    caddy.ping().await?;
    let http_server = pick_http_server(&caddy.servers().await?).ok_or_else(|| {
        EngineError::Invalid(format!(
            "the Caddy at {admin} has no HTTP server to add routes to; give it a site first"
        ))
    })?;
    let config = ProxyConfig {
        mode: ProxyMode::Adopted,
        admin: admin.clone(),
        tls,
        http_server,
        installed_at: now,
    };
    let mut with_proxy = server.clone();
    with_proxy.proxy = Some(config.clone());
    let routes = routes_now(host, &with_proxy, &ProxyMode::Adopted, apps).await?;
    for planned in plan_adopted_proxy(&admin, &config.http_server, &routes).actions {
        apply_host_action(host, planned.action).await?;
    }
    Ok(config)
}

/// Plans the hooks domain's route on `server`'s proxy: to the relay, or none.
pub fn plan_relay_route(server: &Server) -> Plan {
    let Some(proxy) = &server.proxy else {
        return Plan {
            actions: Vec::new(),
        };
    };
    let action = match relay_route(server) {
        Some(route) => Action::PutProxyRoute {
            admin: proxy.admin.clone(),
            server: proxy.http_server.clone(),
            route,
        },
        None => Action::DeleteRoute {
            admin: proxy.admin.clone(),
            id: RELAY_ROUTE_ID.to_owned(),
        },
    };
    Plan {
        actions: vec![PlannedAction {
            step: Step::Switch,
            action,
        }],
    }
}

/// Makes the hooks domain's route match `server`'s relay (see [`plan_relay_route`]).
pub async fn sync_relay_route(host: &Host, server: &Server) -> Result<(), EngineError> {
    for planned in plan_relay_route(server).actions {
        apply_host_action(host, planned.action).await?;
    }
    Ok(())
}

/// What a proxy looks like from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyObservation {
    /// Docker's state of `berth-proxy` (a managed proxy only).
    pub container_status: Option<String>,
    pub reachable: bool,
    /// The `@id`s of Berth's app routes it holds.
    pub routes: Vec<String>,
    /// Why it does not answer.
    pub error: Option<String>,
}

/// Reads `proxy` on `host`: its container, whether its admin API answers, Berth's routes.
pub async fn observe_proxy(
    host: &Host,
    proxy: &ProxyConfig,
) -> Result<ProxyObservation, EngineError> {
    let container_status = match proxy.mode {
        ProxyMode::Managed { .. } => host
            .docker()
            .inspect_container(ProxyConfig::CONTAINER)
            .await?
            .map(|i| i.status),
        ProxyMode::Adopted => None,
    };
    let probe = async {
        let caddy = host.caddy(&proxy.admin).await?;
        caddy.ping().await?;
        let config = caddy.config().await?;
        Ok::<_, EngineError>(route_ids(&config))
    };
    Ok(match probe.await {
        Ok(routes) => ProxyObservation {
            container_status,
            reachable: true,
            routes,
            error: None,
        },
        Err(e) => {
            host.forget_caddy(&proxy.admin).await;
            ProxyObservation {
                container_status,
                reachable: false,
                routes: Vec::new(),
                error: Some(e.to_string()),
            }
        }
    })
}

/// Which certificate `proxy` serves for `domain`, asked over the session with a handshake
/// that inspects rather than trusts. Never fails: what went wrong is its detail.
pub async fn tls_status(host: &Host, proxy: &ProxyConfig, domain: &str) -> TlsStatus {
    let unknown = |detail: String| TlsStatus {
        state: "unknown".into(),
        detail,
        issuer: None,
        not_after: None,
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
        let forward = host
            .transport()
            .forward(RemoteTarget::Tcp {
                host: "127.0.0.1".into(),
                port,
            })
            .await?;
        let stream = forward
            .connect()
            .await
            .map_err(|e| EngineError::Task(format!("cannot reach port {port}: {e}")))?;
        Ok::<_, EngineError>(berth_proxy::certs::probe(Box::new(stream), domain).await)
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

/// The `@id`s of Berth's app routes in a Caddy config.
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

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn route(app: &str, host: &str, upstream: &str) -> Route {
        Route {
            id: route_id(app),
            hosts: vec![host.into()],
            upstream: upstream.into(),
        }
    }

    #[test]
    fn a_managed_proxy_starts_from_berths_config_with_every_route() {
        let want = ManagedProxy {
            image: "caddy:2".into(),
            http_port: 80,
            https_port: 443,
            tls: TlsSetting::Internal,
        };
        let routes = [
            route("api", "api.example.com", "berth-api-aaaa1111:8080"),
            route("web", "www.example.com", "berth-web-bbbb2222:3000"),
        ];
        let plan = plan_managed_proxy(
            "prod",
            &want,
            &routes,
            ServiceOnHost::default(),
            "6.1.0-18-amd64",
        )
        .expect("plan");
        expect![[r#"
            build        pull image caddy:2
            start        ensure network berth
            start        create berth-proxy from caddy:2 (publishing 0.0.0.0:80→80 0.0.0.0:443→443; mounts berth-proxy-data:/data berth-proxy-config:/config /run/berth-proxy:/run/berth-proxy; sets net.ipv4.tcp_migrate_req=1)
            start        put /etc/berth/caddy.json (1668 bytes) into berth-proxy
            start        start berth-proxy
            health-check wait until the proxy answers on unix:/run/berth-proxy/admin.sock
            switch       load Berth's config (2 routes) into the Caddy at unix:/run/berth-proxy/admin.sock
        "#]]
        .assert_eq(&plan.to_string());
        let off = ManagedProxy {
            tls: TlsSetting::Off,
            http_port: 8080,
            ..want
        };
        let upgrade = ServiceOnHost {
            image_present: true,
            container: true,
            aside: false,
        };
        let plan = plan_managed_proxy("prod", &off, &[], upgrade, "5.10.0-28-amd64")
            .expect("plan")
            .to_string();
        assert!(plan.contains("publishing 0.0.0.0:8080→80;"), "{plan}");
        // A kernel that cannot hand queued connections over gets no setting it lacks.
        assert!(!plan.contains(MIGRATE_SYSCTL), "{plan}");
        // An upgrade loads the config before the old Caddy (set aside) is removed.
        assert!(
            plan.ends_with(
                "switch       load Berth's config (0 routes) into the Caddy at unix:/run/berth-proxy/admin.sock\n\
                 cleanup      remove the container berth-proxy-previous if there is one (its volumes stay)\n"
            ),
            "{plan}"
        );
    }

    #[test]
    fn kernels_from_5_14_hand_queued_connections_over() {
        for (kernel, yes) in [
            ("6.1.0-18-amd64", true),
            ("5.15.0-91-generic", true),
            ("5.14.0-362.el9.x86_64", true),
            ("5.10.0-28-amd64", false),
            ("4.19.0", false),
            ("", false),
            ("unknown", false),
        ] {
            assert_eq!(hands_over_queued_connections(kernel), yes, "{kernel}");
        }
    }

    #[test]
    fn an_adopted_caddy_gets_berths_routes_in_its_https_server() {
        let servers = [
            HttpServer {
                name: "srv0".into(),
                listen: vec![":80".into()],
            },
            HttpServer {
                name: "srv1".into(),
                listen: vec![":443".into()],
            },
        ];
        assert_eq!(pick_http_server(&servers).as_deref(), Some("srv1"));
        assert_eq!(pick_http_server(&servers[..1]).as_deref(), Some("srv0"));
        assert_eq!(pick_http_server(&[]), None);
        expect![[r#"
            switch       route api.example.com to 127.0.0.1:49153 (caddy route berth-app-api in server srv1)
        "#]]
        .assert_eq(
            &plan_adopted_proxy(
                "127.0.0.1:2019",
                "srv1",
                &[route("api", "api.example.com", "127.0.0.1:49153")],
            )
            .to_string(),
        );
    }

    #[test]
    fn the_hooks_domain_routes_to_the_relay_or_is_removed() {
        let mut server = crate::fixtures::server_with_proxy_and_relay(Some("hooks.example.com"));
        expect![[r#"
            switch       route hooks.example.com to berth-relay:9080 (caddy route berth-relay in server berth)
        "#]]
        .assert_eq(&plan_relay_route(&server).to_string());
        if let Some(r) = server.relay.as_mut() {
            r.hooks_domain = None;
        }
        expect![[r#"
            switch       delete caddy route berth-relay
        "#]]
        .assert_eq(&plan_relay_route(&server).to_string());
        server.proxy = None;
        assert_eq!(plan_relay_route(&server).to_string(), "");
    }
}
