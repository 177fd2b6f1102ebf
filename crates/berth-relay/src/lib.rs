//! `berth-relay`: the one long-running Berth process on a server. It answers git hosts'
//! webhooks on a public port (behind Caddy), verifies and records every delivery durably
//! before answering, and serves Berth a control API on a unix socket that Berth reaches only
//! through its SSH session. The control protocol and its client live in `berth-relay-proto`,
//! which `berth-api` uses without linking this daemon.
//!
//! Like kamal-proxy: flags and `BERTH_RELAY_*` env vars, no config file, state restored from
//! its data directory at boot, control over a unix socket.

mod backups;
mod control;
mod db;
mod forwarded;
mod hostinfo;
mod images;
mod locks;
mod metrics;
#[cfg(unix)]
mod own;
mod poll;
mod public;
mod ratelimit;
mod registry;
mod settings;
pub(crate) mod stats;
mod watch;
mod worker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};

pub use berth_relay_proto::{client, proto};
pub use settings::{Settings, SettingsError};
pub use stats::{StatsError, simulate_history as simulate_stats_history};

/// Unix milliseconds now, from the one clock every driver uses.
pub(crate) fn now_ms() -> i64 {
    berth_engine::Clock::now_ms(&berth_engine::SystemClock)
}

/// Everything a request handler needs.
pub(crate) struct Relay {
    settings: Settings,
    db: db::Db,
    registry: registry::Registry,
    metrics: metrics::Metrics,
    limit: ratelimit::RateLimit,
    /// Whose `X-Forwarded-For` names the client.
    trusted: forwarded::TrustedProxies,
    started_at: i64,
    /// Each app's deploy lock: Berth's deploys and the relay's own never interleave.
    locks: locks::AppLocks,
    /// The SHA-256 (hex) of the bearer token `GET /metrics` wants on the public side; `None`:
    /// metrics are not published there.
    metrics_token: std::sync::RwLock<Option<String>>,
    /// The stats history and the monitor's events.
    stats: stats::Stats,
    /// What to watch and whom to tell, as Berth last said.
    monitor: std::sync::RwLock<Arc<proto::MonitorConfig>>,
    /// Each app's latest figures and health, for `/metrics`.
    gauges: std::sync::Mutex<std::collections::BTreeMap<String, watch::Gauge>>,
}

impl Relay {
    pub(crate) fn monitor_config(&self) -> Arc<proto::MonitorConfig> {
        self.monitor
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_monitor_config(&self, config: proto::MonitorConfig) {
        let apps: std::collections::HashSet<String> =
            config.apps.iter().map(|a| a.app.clone()).collect();
        self.gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|app, _| apps.contains(app));
        *self
            .monitor
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
    }

    fn gauge<T>(&self, app: &str, f: impl FnOnce(&mut watch::Gauge) -> T) -> T {
        let mut g = self
            .gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(g.entry(app.to_owned()).or_default())
    }

    pub(crate) fn set_health(&self, app: &str, health: i8) {
        self.gauge(app, |g| g.health = Some(health));
    }

    pub(crate) fn set_usage(&self, app: &str, cpu_pct: f64, mem_bytes: u64, restarts: u32) {
        self.gauge(app, |g| {
            g.cpu_pct = cpu_pct;
            g.mem_bytes = mem_bytes;
            g.restarts = restarts;
        });
    }

    pub(crate) fn gauges(&self) -> std::collections::BTreeMap<String, watch::Gauge> {
        self.gauges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The settings key of the metrics token's hash.
/// The owners of app locks that are the relay's own work (unattended deploys, scheduled
/// backups): a cancel request reaches them.
pub(crate) const RELAY_OWNERS: [&str; 2] = [worker::LOCK_OWNER, backups::OWNER];

pub(crate) const METRICS_TOKEN: &str = "metrics-token-sha256";

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the data directory {path}: {source}")]
    Data {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Stats(#[from] stats::StatsError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// A started relay: its addresses, and a handle to stop it (tests, benchmarks).
pub struct Running {
    pub public: SocketAddr,
    pub control: std::path::PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests in flight finish (up to 5 s).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Opens the data directory and starts both listeners.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let data_err = |source| StartError::Data {
        path: settings.data.clone(),
        source,
    };
    std::fs::create_dir_all(&settings.data).map_err(data_err)?;
    let db = db::Db::open(&settings.data.join("relay.db"))?;
    let stats = stats::Stats::open(&settings.data.join("stats.db"))?;
    let monitor = watch::load_config(&settings.data);
    let summaries = db
        .run(|c| db::hooks(c))
        .await
        .map_err(|e| data_err(std::io::Error::other(e)))??;
    let registry = registry::Registry::load(summaries, &settings.data.join("secrets.json"))
        .map_err(data_err)?;
    let metrics_token = db
        .run(|c| db::setting(c, METRICS_TOKEN))
        .await
        .map_err(|e| data_err(std::io::Error::other(e)))??;

    let public = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.listen.clone(),
            source,
        })?;
    let public_addr = public.local_addr().map_err(|source| StartError::Listen {
        addr: settings.listen.clone(),
        source,
    })?;
    #[cfg(unix)]
    let control = bind_control(&settings.control, settings.control_group).map_err(|source| {
        StartError::Listen {
            addr: settings.control.display().to_string(),
            source,
        }
    })?;

    let relay = Arc::new(Relay {
        limit: ratelimit::RateLimit::new(settings.rate_per_minute),
        trusted: forwarded::TrustedProxies::new(settings.trusted_proxies.clone()),
        metrics: metrics::Metrics::default(),
        registry,
        db,
        started_at: now_ms(),
        locks: locks::AppLocks::default(),
        metrics_token: std::sync::RwLock::new(metrics_token),
        stats,
        monitor: std::sync::RwLock::new(Arc::new(monitor)),
        gauges: Default::default(),
        settings: settings.clone(),
    });
    tracing::info!(
        public = %public_addr,
        control = %settings.control.display(),
        hooks = relay.registry.count(),
        "berth-relay listening"
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    relay.trusted.refresh().await;
    let mut tasks = vec![tokio::spawn(refresh_trusted(
        relay.clone(),
        stopped.clone(),
    ))];
    tasks.push(tokio::spawn(serve_public(
        public,
        relay.clone(),
        stopped.clone(),
    )));
    tasks.push(tokio::spawn(worker::run(relay.clone(), stopped.clone())));
    tasks.push(tokio::spawn(poll::run(relay.clone(), stopped.clone())));
    tasks.push(tokio::spawn(watch::run(relay.clone(), stopped.clone())));
    tasks.push(tokio::spawn(backups::run(relay.clone(), stopped.clone())));
    #[cfg(unix)]
    tasks.push(tokio::spawn(serve_control(control, relay, stopped)));
    Ok(Running {
        public: public_addr,
        control: settings.control.clone(),
        stop,
        tasks,
    })
}

#[cfg(unix)]
fn bind_control(
    path: &std::path::Path,
    group: Option<u32>,
) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    // Owner and group only: on the host, root and — given the Docker socket's group — whoever
    // may use Docker anyway (the relay is a member of it: no capability needed).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    if let Some(gid) = group {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    Ok(listener)
}

/// Resolves the trusted proxies' names again now and then (a reinstalled proxy has a new
/// address).
async fn refresh_trusted(relay: Arc<Relay>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(forwarded::REFRESH) => relay.trusted.refresh().await,
            _ = stopped.changed() => return,
        }
    }
}

async fn serve_public(
    listener: tokio::net::TcpListener,
    relay: Arc<Relay>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    // At most this many connections are served at once; more wait in the kernel's backlog.
    let slots = Arc::new(tokio::sync::Semaphore::new(relay.settings.max_connections));
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => return,
            },
            _ = stopped.changed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let _ = stream.set_nodelay(true);
        let relay = relay.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = service_fn(move |req| public::handle(relay.clone(), peer, req));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}

#[cfg(unix)]
async fn serve_control(
    listener: tokio::net::UnixListener,
    relay: Arc<Relay>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "control accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped.changed() => return,
        };
        let relay = relay.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| control::handle(relay.clone(), req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "control connection ended with an error");
            }
        });
    }
}

/// `main`: parse the settings, run until SIGTERM/SIGINT.
pub fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("version") {
        println!("berth-relay {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("healthcheck") {
        return healthcheck(&args[1..]);
    }
    #[cfg(unix)]
    if args.first().map(String::as_str) == Some("own") {
        return own::run(&args[1..]);
    }
    // What the relay creates stays its own and its group's (see `own`).
    #[cfg(unix)]
    set_umask();
    let settings = match Settings::from_args(&args, |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("berth-relay: {e}\n\n{}", settings::USAGE);
            return std::process::ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_RELAY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .init();
    let runtime = match berth_engine::runtime(Some(2)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("berth-relay: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let running = match start(settings).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        shutdown_signal().await;
        tracing::info!("stopping");
        running.stop().await;
        std::process::ExitCode::SUCCESS
    })
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn set_umask() {
    // SAFETY: umask(2) only sets the process's file mode mask; it cannot fail and touches no
    // memory. Called before any thread starts.
    unsafe {
        libc::umask(0o007);
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `berth-relay healthcheck [ADDR]`: exit 0 when `/healthz` answers (for Docker's HEALTHCHECK
/// in an image without curl).
fn healthcheck(args: &[String]) -> std::process::ExitCode {
    use std::io::{Read, Write};
    let addr = args
        .first()
        .cloned()
        .unwrap_or_else(|| format!("127.0.0.1:{}", proto::LISTEN_PORT));
    let ok = (|| -> std::io::Result<bool> {
        let mut s = std::net::TcpStream::connect(&addr)?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET /healthz HTTP/1.0\r\nHost: relay\r\n\r\n")?;
        let mut buf = [0u8; 32];
        let n = s.read(&mut buf)?;
        Ok(buf[..n].starts_with(b"HTTP/1.0 200") || buf[..n].starts_with(b"HTTP/1.1 200"))
    })()
    .unwrap_or(false);
    if ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    /// Connections past `--max-connections` wait to be served instead of each taking memory
    /// and a task: a flood of idle connections cannot starve the relay.
    #[tokio::test]
    async fn connections_past_the_cap_wait_their_turn() {
        let dir = tempfile::tempdir().expect("tempdir");
        let running = start(Settings {
            listen: "127.0.0.1:0".into(),
            control: dir.path().join("control.sock"),
            data: dir.path().join("data"),
            trusted_proxies: Vec::new(),
            max_connections: 2,
            ..Settings::default()
        })
        .await
        .expect("start");
        let idle_a = TcpStream::connect(running.public).await.expect("connect");
        let _idle_b = TcpStream::connect(running.public).await.expect("connect");
        let mut third = TcpStream::connect(running.public).await.expect("connect");
        third
            .write_all(b"GET /healthz HTTP/1.0\r\nHost: relay\r\n\r\n")
            .await
            .expect("write");
        let mut answer = Vec::new();
        let waited =
            tokio::time::timeout(Duration::from_millis(300), third.read_to_end(&mut answer)).await;
        assert!(waited.is_err(), "served past the cap: {answer:?}");
        drop(idle_a);
        tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer))
            .await
            .expect("served once a slot is free")
            .expect("read");
        assert!(
            String::from_utf8_lossy(&answer).starts_with("HTTP/1.0 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        running.stop().await;
    }
}
