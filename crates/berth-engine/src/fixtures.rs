//! Servers the unit tests plan against.

use berth_model::{
    BaseImages, ProxyConfig, ProxyMode, RelayConfig, Server, TlsSetting, TransportKind,
};

/// `prod`, this machine's Docker, nothing installed.
pub(crate) fn server() -> Server {
    Server {
        name: "prod".into(),
        transport: TransportKind::Local,
        ssh: None,
        identity: None,
        docker_socket: Server::DEFAULT_DOCKER_SOCKET.into(),
        base_images: BaseImages::default(),
        base_domain: None,
        proxy: None,
        relay: None,
        created_at: 0,
    }
}

/// `prod` with Berth's Caddy and the relay (on `hooks_domain`, when given).
pub(crate) fn server_with_proxy_and_relay(hooks_domain: Option<&str>) -> Server {
    Server {
        proxy: Some(ProxyConfig {
            mode: ProxyMode::Managed {
                image: "caddy:2".into(),
                http_port: 80,
                https_port: 443,
            },
            admin: "unix:/run/berth-proxy/admin.sock".into(),
            tls: TlsSetting::Internal,
            http_server: "berth".into(),
            installed_at: 0,
        }),
        relay: Some(RelayConfig {
            image: "berth/relay:x".into(),
            listen_port: 9080,
            hooks_domain: hooks_domain.map(str::to_owned),
            body_limit: 1 << 20,
            rate_per_minute: 60,
            installed_at: 0,
            synced: 0,
        }),
        ..server()
    }
}
