//! Watching the server while nobody's laptop is open: every `--sample-every` seconds a stats
//! sample of each app's container (Docker's stats, one reading each) and of the host; on each
//! app's own interval a health probe through the `berth` network, judged by the engine's
//! monitor (restart a hung app with back-off, stop a crash loop, note a recovery); every
//! `--reconcile-every` seconds a look for apps drifted from what was deployed (the engine's
//! reconcile: a serving container stopped or removed behind Berth's back is started or created
//! again as it ran, health-checked and routed; an orphan removed; a route put back), fixed when
//! seen twice in a row. Every event is recorded for Berth (`GET /v1/alerts`) and sent to the
//! notifiers routed to it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use berth_engine::monitor::{self, Counters, Seen, WatchState, Watched};
use berth_engine::reconcile::{self, AppRecord, Kept};
use berth_engine::{Host, NETWORK};
use berth_model::{Alert, AlertKind, ContainerSample, HealthCheck, HostSample};

use crate::proto::{MonitorConfig, MonitoredApp, NotifierSpec};
use crate::{Relay, hostinfo, stats};

/// How often the loop looks whether something is due.
const TICK: Duration = Duration::from_secs(1);
/// A filesystem above this share of use is alerted (once, until it drops below
/// [`DISK_CLEAR_PCT`]).
const DISK_ALERT_PCT: f64 = 90.0;
const DISK_CLEAR_PCT: f64 = 85.0;
/// How often samples are rolled up and pruned.
const ROLLUP: i64 = 60_000;
/// After a failed fix the app's drift is left alone this long (then tried again).
const FIX_BACKOFF_MS: i64 = 30 * 60_000;

/// The file Berth's monitor config is kept in (notifier URLs: 0600 like the secrets).
pub(crate) const CONFIG_FILE: &str = "monitor.json";

/// An app's state for `/metrics`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gauge {
    pub cpu_pct: f64,
    pub mem_bytes: u64,
    pub restarts: u32,
    /// 1 healthy, 0 unhealthy, -1 stopped as a crash loop; `None`: not probed yet.
    pub health: Option<i8>,
}

/// What the engine's monitor needs of an app Berth listed.
fn watched_of(app: &MonitoredApp) -> Watched {
    Watched {
        app: app.app.clone(),
        monitor: app.monitor,
        port: app.port,
        health_path: app.health_path.clone(),
        timeout_ms: app.timeout_ms,
        stop_grace_secs: app.stop_grace_secs,
    }
}

/// Loads the config Berth last gave (none yet: nothing to watch).
pub(crate) fn load_config(data: &Path) -> MonitorConfig {
    match std::fs::read(data.join(CONFIG_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            tracing::warn!("ignoring an unreadable {CONFIG_FILE}: {e}");
            MonitorConfig::default()
        }),
        Err(_) => MonitorConfig::default(),
    }
}

/// Keeps `config` (0600, replaced atomically).
pub(crate) fn save_config(data: &Path, config: &MonitorConfig) -> std::io::Result<()> {
    let path = data.join(CONFIG_FILE);
    let tmp = data.join(format!("{CONFIG_FILE}.tmp"));
    let bytes = serde_json::to_vec(config).map_err(std::io::Error::other)?;
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(tmp, path)
}

/// Records an event of this server (or of one app on it) and tells the notifiers that hear it.
pub(crate) async fn raise(
    relay: &Relay,
    app: Option<&str>,
    kind: AlertKind,
    why: String,
    notifiers: &[NotifierSpec],
    server: &str,
) {
    let at = crate::now_ms();
    tracing::warn!(app = app.unwrap_or("-"), %kind, %why, "monitor event");
    relay
        .metrics
        .monitor_event(app.unwrap_or(""), kind.as_str());
    let (a, w) = (app.map(str::to_owned), why.clone());
    let id = match relay
        .stats
        .with(move |c| stats::add_alert(c, at, a.as_deref(), kind, &w))
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!("cannot record the event: {e}");
            0
        }
    };
    let alert = Alert {
        id,
        at,
        server: server.to_owned(),
        app: app.map(str::to_owned),
        kind,
        why,
    };
    let notice = alert.notice();
    for n in notifiers.iter().filter(|n| n.hears(&notice)) {
        if let Err(e) = berth_notify::send(n.kind, &n.url, &notice).await {
            tracing::warn!(kind = %n.kind, "notification failed: {e}");
        }
    }
}

struct Loop {
    relay: Arc<Relay>,
    host: Option<Arc<Host>>,
    states: HashMap<String, WatchState>,
    next_probe: HashMap<String, i64>,
    /// Per container id: the last reading and when.
    readings: HashMap<String, (i64, Counters)>,
    /// Per container: the monitor's own restarts (Docker's restart count misses them).
    restarted: HashMap<String, u32>,
    cpu: Option<hostinfo::CpuTimes>,
    disks_alerted: HashSet<String>,
    next_sample: i64,
    next_rollup: i64,
    /// Per app: how its serving container was created (in memory only: its env has secrets).
    kept: HashMap<String, Kept>,
    /// Per app: the drifts the last reconcile saw (fixed when seen again).
    drifts: HashMap<String, Vec<&'static str>>,
    /// Per app: no fix is tried before this (unix ms) after one failed.
    fix_after: HashMap<String, i64>,
    next_reconcile: i64,
}

/// Runs until `stopped`.
pub(crate) async fn run(relay: Arc<Relay>, mut stopped: tokio::sync::watch::Receiver<bool>) {
    let mut l = Loop {
        relay,
        host: None,
        states: HashMap::new(),
        next_probe: HashMap::new(),
        readings: HashMap::new(),
        restarted: HashMap::new(),
        // The first sample's CPU share is over the time since the relay started.
        cpu: hostinfo::parse_cpu(&std::fs::read_to_string("/proc/stat").unwrap_or_default()),
        disks_alerted: HashSet::new(),
        next_sample: 0,
        next_rollup: 0,
        kept: HashMap::new(),
        drifts: HashMap::new(),
        fix_after: HashMap::new(),
        next_reconcile: 0,
    };
    loop {
        l.turn().await;
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped.changed() => return,
        }
    }
}

impl Loop {
    async fn turn(&mut self) {
        let now = crate::now_ms();
        let config = self.relay.monitor_config();
        let sample_ms = i64::try_from(self.relay.settings.sample_every)
            .unwrap_or(0)
            .saturating_mul(1000);
        let sample_due = sample_ms > 0 && now >= self.next_sample;
        let due: Vec<&MonitoredApp> = config
            .apps
            .iter()
            .filter(|a| a.monitor.enabled())
            .filter(|a| self.next_probe.get(&a.app).is_none_or(|t| now >= *t))
            .collect();
        let reconcile_ms = i64::try_from(self.relay.settings.reconcile_every)
            .unwrap_or(0)
            .saturating_mul(1000);
        let reconcile_due = reconcile_ms > 0 && now >= self.next_reconcile;
        if !sample_due && due.is_empty() && !reconcile_due {
            self.maybe_rollup(now).await;
            return;
        }
        let Some(host) = self.host().await else {
            return;
        };
        let seen = match monitor::app_containers(&host).await {
            Ok(s) => {
                tracing::debug!(sample_due, due = due.len(), seen = s.len(), "monitor turn");
                s
            }
            Err(e) => {
                tracing::warn!("cannot list the apps' containers: {e}");
                self.host = None;
                return;
            }
        };
        if sample_due {
            self.next_sample = now + sample_ms;
            self.sample(&host, &seen, &config, now).await;
        }
        // Probe every due app at once (each may wait for its timeout), then judge in turn.
        let mut targets: Vec<(&MonitoredApp, &Seen, Watched)> = Vec::new();
        for app in due {
            self.next_probe.insert(
                app.app.clone(),
                now + i64::from(app.monitor.interval_secs) * 1000,
            );
            let Some(s) = seen.get(&app.app) else {
                // Not running (stopped on purpose, not deployed) or a deploy in progress.
                continue;
            };
            if self.relay.locks.held(&app.app) {
                continue;
            }
            targets.push((app, s, watched_of(app)));
        }
        let probed: Vec<(&Seen, &Watched)> = targets
            .iter()
            .filter(|(app, s, _)| {
                let state = self.states.get(&app.app);
                !state.is_some_and(|st| st.container == s.container && st.stopped)
            })
            .map(|(_, s, w)| (*s, w))
            .collect();
        let results = monitor::probe_all(&host, &probed, NETWORK).await;
        let mut probes: HashMap<String, Result<u16, String>> = probed
            .iter()
            .map(|(s, _)| s.container.clone())
            .zip(results)
            .collect();
        for (app, s, watched) in &targets {
            let probe = probes.remove(&s.container);
            self.watch(&host, app, s, watched, probe, &config).await;
        }
        if reconcile_due {
            self.next_reconcile = now + reconcile_ms;
            self.reconcile(&host, &config, now).await;
        }
        self.maybe_rollup(now).await;
    }

    /// One look at every app for drift; what was seen on the last look too is fixed.
    async fn reconcile(&mut self, host: &Host, config: &MonitorConfig, now: i64) {
        let listed: HashSet<&str> = config.apps.iter().map(|a| a.app.as_str()).collect();
        self.kept.retain(|a, _| listed.contains(a.as_str()));
        self.drifts.retain(|a, _| listed.contains(a.as_str()));
        for app in &config.apps {
            // A deploy, stop or start under way, or a crash loop the monitor stopped: as meant.
            if self.relay.locks.held(&app.app)
                || self.states.get(&app.app).is_some_and(|s| s.stopped)
            {
                self.drifts.remove(&app.app);
                continue;
            }
            if self.fix_after.get(&app.app).is_some_and(|t| now < *t) {
                continue;
            }
            let route = app.route.as_ref().map(crate::images::route_plan);
            let seen = match reconcile::observe_app(host, &app.app, route.as_ref()).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(app = %app.app, "cannot look for drift: {e}");
                    continue;
                }
            };
            // What serves now is what comes back if it goes.
            let loopback = app.route.as_ref().is_some_and(|r| !r.via_network);
            if let Some(name) = reconcile::serving_of(&seen, app.port, loopback)
                && self.kept.get(&app.app).is_none_or(|k| k.spec.name != name)
            {
                match reconcile::keep(host, name).await {
                    Ok(Some(k)) => {
                        self.kept.insert(app.app.clone(), k);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(app = %app.app, "cannot inspect {name}: {e}"),
                }
            }
            let Some(kept) = self.kept.get(&app.app) else {
                // Never seen serving since the relay started: nothing to put back.
                continue;
            };
            let record = AppRecord {
                app: app.app.clone(),
                active: Some((kept.deployment.clone(), kept.spec.name.clone())),
                stopped: app.stopped,
                stuck: Vec::new(),
                route,
                port: app.port,
            };
            let ready = match app.service {
                Some(kind) => reconcile::Readiness::Probe {
                    command: kind.probe(),
                    deadline_ms: app.deadline_ms,
                },
                None => reconcile::Readiness::Http(HealthCheck {
                    path: app.health_path.clone(),
                    timeout_ms: app.timeout_ms,
                    deadline_ms: app.deadline_ms,
                    ..HealthCheck::default()
                }),
            };
            let (drifts, plan) = reconcile::plan_relay_fix(&record, &seen, kept, &ready);
            let kinds: Vec<&'static str> = drifts.iter().map(|d| d.kind).collect();
            let before = self.drifts.insert(app.app.clone(), kinds.clone());
            if drifts.is_empty() {
                continue;
            }
            if before.as_ref() != Some(&kinds) {
                tracing::info!(app = %app.app, ?kinds, "drift seen; put back if it is still there at the next look");
                continue;
            }
            // Seen twice in a row: not a change in flight.
            self.drifts.remove(&app.app);
            let found: Vec<String> = drifts.iter().map(|d| d.problem.clone()).collect();
            let fixes: Vec<String> = plan
                .actions
                .iter()
                .map(|a| match &a.action {
                    berth_engine::plan::Action::HealthCheck { health, .. } => {
                        format!("it answered GET {}", health.path)
                    }
                    other => other.to_string(),
                })
                .collect();
            let (kind, why) = match reconcile::apply_relay_fix(host, plan).await {
                Ok(()) => (
                    AlertKind::Reconciled,
                    format!("{}; done: {}", found.join("; "), fixes.join("; ")),
                ),
                Err(e) => {
                    self.fix_after.insert(app.app.clone(), now + FIX_BACKOFF_MS);
                    (
                        AlertKind::Drifted,
                        format!(
                            "{}; putting it back failed ({e}); tried again in {} min, or `berth reconcile --fix`",
                            found.join("; "),
                            FIX_BACKOFF_MS / 60_000
                        ),
                    )
                }
            };
            self.alert(Some(&app.app), kind, why, &app.notifiers, config)
                .await;
        }
    }

    async fn host(&mut self) -> Option<Arc<Host>> {
        if let Some(h) = &self.host {
            return Some(h.clone());
        }
        let socket = &self.relay.settings.docker;
        if !socket.exists() {
            return None;
        }
        match Host::open_local("this server", &socket.display().to_string()).await {
            Ok(h) => {
                let h = Arc::new(h.probing_on_network(NETWORK));
                self.host = Some(h.clone());
                Some(h)
            }
            Err(e) => {
                tracing::warn!("the monitor cannot reach Docker: {e}");
                None
            }
        }
    }

    async fn watch(
        &mut self,
        host: &Host,
        app: &MonitoredApp,
        seen: &Seen,
        watched: &Watched,
        probe: Option<Result<u16, String>>,
        config: &MonitorConfig,
    ) {
        let state = self.states.entry(app.app.clone()).or_default();
        match &probe {
            Some(Err(why)) => {
                tracing::info!(app = %app.app, container = %seen.container, "health probe failed: {why}")
            }
            Some(Ok(status)) => {
                tracing::debug!(app = %app.app, container = %seen.container, status, "healthy")
            }
            None => {}
        }
        let now = crate::now_ms();
        let verdict = monitor::judge(state, watched, seen, probe, now);
        let health = if state.stopped {
            -1
        } else if state.unhealthy {
            0
        } else {
            1
        };
        let restarts_planned = verdict
            .plan
            .actions
            .iter()
            .filter(|a| a.action.kind() == "restart")
            .count();
        if let Err(e) = monitor::apply_verdict(host, verdict.plan).await {
            tracing::warn!(app = %app.app, "the monitor could not act: {e}");
        }
        if restarts_planned > 0 {
            *self.restarted.entry(seen.container.clone()).or_default() +=
                u32::try_from(restarts_planned).unwrap_or(1);
        }
        self.relay.set_health(&app.app, health);
        for (kind, why) in verdict.alerts {
            self.alert(Some(&app.app), kind, why, &app.notifiers, config)
                .await;
        }
    }

    async fn sample(
        &mut self,
        host: &Host,
        seen: &BTreeMap<String, Seen>,
        config: &MonitorConfig,
        now: i64,
    ) {
        let mut apps = Vec::new();
        let mut live = HashSet::new();
        let running: Vec<(&String, &Seen)> = seen.iter().filter(|(_, s)| s.running).collect();
        let ids: Vec<&str> = running.iter().map(|(_, s)| s.id.as_str()).collect();
        let readings = monitor::counters_all(host, &ids).await;
        for ((app, s), reading) in running.into_iter().zip(readings) {
            let c = match reading {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(%app, "no stats: {e}");
                    continue;
                }
            };
            live.insert(s.id.clone());
            let cpu_pct = match self.readings.get(&s.id) {
                Some((at, prev)) => monitor::cpu_percent(prev, &c, now - at),
                None => 0.0,
            };
            self.readings.insert(s.id.clone(), (now, c));
            let restarts = u32::try_from(s.restart_count).unwrap_or(0)
                + self.restarted.get(&s.container).copied().unwrap_or(0);
            let sample = ContainerSample {
                at: now,
                cpu_pct,
                mem_bytes: c.mem_bytes,
                mem_limit: c.mem_limit,
                net_rx: c.net_rx,
                net_tx: c.net_tx,
                blk_read: c.blk_read,
                blk_write: c.blk_write,
                restarts,
            };
            self.relay.set_usage(app, cpu_pct, c.mem_bytes, restarts);
            apps.push((app.clone(), sample));
        }
        self.readings.retain(|id, _| live.contains(id));
        // A container that is gone (a deploy replaced it) takes its restart count with it.
        let names: HashSet<&str> = seen.values().map(|s| s.container.as_str()).collect();
        self.restarted.retain(|c, _| names.contains(c.as_str()));
        let host_sample = hostinfo::sample(&self.relay.settings.host_root, &mut self.cpu, now);
        self.disk_alerts(&host_sample, config).await;
        let r = self
            .relay
            .stats
            .with(move |c| stats::record(c, &apps, Some(&host_sample)))
            .await;
        if let Err(e) = r {
            tracing::warn!("cannot record samples: {e}");
        }
    }

    async fn disk_alerts(&mut self, sample: &HostSample, config: &MonitorConfig) {
        for d in &sample.disks {
            let pct = d.percent();
            if pct >= DISK_ALERT_PCT && self.disks_alerted.insert(d.mount.clone()) {
                let why = format!(
                    "{} is {pct:.0} % full ({} of {})",
                    d.mount,
                    berth_model::format::bytes(d.used),
                    berth_model::format::bytes(d.total)
                );
                self.alert(None, AlertKind::DiskFull, why, &config.notifiers, config)
                    .await;
            } else if pct < DISK_CLEAR_PCT {
                self.disks_alerted.remove(&d.mount);
            }
        }
    }

    async fn alert(
        &self,
        app: Option<&str>,
        kind: AlertKind,
        why: String,
        notifiers: &[NotifierSpec],
        config: &MonitorConfig,
    ) {
        raise(&self.relay, app, kind, why, notifiers, &config.server).await;
    }

    async fn maybe_rollup(&mut self, now: i64) {
        if now < self.next_rollup {
            return;
        }
        self.next_rollup = now + ROLLUP;
        if let Err(e) = self.relay.stats.with(move |c| stats::rollup(c, now)).await {
            tracing::warn!("cannot roll up samples: {e}");
        }
    }
}
