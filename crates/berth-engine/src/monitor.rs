//! Watching apps after the deploy: what the host shows of each app's container (state,
//! restarts, one stats reading), one health probe through the host's network, and the pure
//! judgement of what the monitor does about it — nothing, restart the container (a hung
//! process, not only a dead one), or stop it for good when it keeps dying (a crash loop) —
//! with the alerts each turn raises. Restarts and stops are plans, run by the one runner.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use berth_docker::labels;
use berth_model::{AlertKind, Monitor, Step};
use berth_ssh::RemoteTarget;
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::{Action, Plan, PlannedAction};

/// What the monitor watches of one app (Berth's record of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub app: String,
    pub monitor: Monitor,
    pub port: u16,
    pub health_path: String,
    pub timeout_ms: u64,
    pub stop_grace_secs: u32,
}

/// An app's container as the host shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub container: String,
    pub id: String,
    /// `running`, `restarting`, `exited`, …
    pub status: String,
    pub running: bool,
    pub restart_count: i64,
    /// Its address on each network.
    pub addresses: BTreeMap<String, String>,
}

/// Every app's container the monitor may watch: per app, the one running (or restarting)
/// container; apps with several running (a deploy between start and switch) or none (stopped
/// on purpose, not deployed) are left out.
pub async fn app_containers(host: &Host) -> Result<BTreeMap<String, Seen>, EngineError> {
    let docker = host.docker();
    let mut per_app: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    for name in docker
        .containers_with_labels(&[(labels::MANAGED, "true")])
        .await?
    {
        let Some(info) = docker.inspect_container(&name).await? else {
            continue;
        };
        let Some(app) = info.labels.get(labels::APP).cloned() else {
            continue;
        };
        // A worker is not the app's serving container (nor sampled as it).
        if !(info.running || info.status == "restarting")
            || info.labels.contains_key(labels::PROCESS)
        {
            continue;
        }
        per_app.entry(app).or_default().push(Seen {
            container: info.name,
            id: info.id,
            status: info.status,
            running: info.running,
            restart_count: info.restart_count,
            addresses: info.addresses.into_iter().collect(),
        });
    }
    Ok(per_app
        .into_iter()
        .filter_map(|(app, mut seen)| (seen.len() == 1).then(|| (app, seen.remove(0))))
        .collect())
}

/// One `GET` of the app's health path at the container's address on `network`: `Ok` with a
/// 2xx/3xx status, else why not.
pub async fn probe(
    host: &Host,
    seen: &Seen,
    watched: &Watched,
    network: &str,
) -> Result<u16, String> {
    if seen.status == "restarting" {
        return Err("the container is restarting (its process exited)".to_owned());
    }
    let ip = seen
        .addresses
        .get(network)
        .ok_or_else(|| format!("the container has no address on the {network} network"))?;
    let target = RemoteTarget::Tcp {
        host: ip.clone(),
        port: watched.port,
    };
    let timeout = Duration::from_millis(watched.timeout_ms.max(100));
    let attempt = async {
        let forward = host
            .transport()
            .forward(target)
            .await
            .map_err(|e| format!("cannot reach it: {e}"))?;
        let stream = forward
            .connect()
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        crate::health::probe_http(stream, &watched.health_path).await
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(status)) if (200..400).contains(&status) => Ok(status),
        Ok(Ok(status)) => Err(format!(
            "GET {} answered HTTP {status}",
            watched.health_path
        )),
        Ok(Err(e)) => Err(format!("GET {}: {e}", watched.health_path)),
        Err(_) => Err(format!(
            "GET {}: no answer within {}",
            watched.health_path,
            berth_model::format::duration(watched.timeout_ms)
        )),
    }
}

/// [`probe`] of several apps at once (each may wait for its timeout).
pub async fn probe_all(
    host: &Host,
    targets: &[(&Seen, &Watched)],
    network: &str,
) -> Vec<Result<u16, String>> {
    futures_util::future::join_all(
        targets
            .iter()
            .map(|(seen, watched)| probe(host, seen, watched, network)),
    )
    .await
}

/// What the monitor remembers of one app between turns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchState {
    /// The container watched (a new one — a deploy — starts afresh).
    pub container: String,
    /// Failed probes in a row.
    pub failures: u32,
    /// Whether an `unhealthy` alert is out (a healthy probe then is a recovery).
    pub unhealthy: bool,
    /// When it was restarted lately (the monitor's restarts and Docker's), unix ms.
    pub restarts: VecDeque<i64>,
    /// Docker's restart count when last seen.
    pub restart_count: i64,
    /// No probe counts before this (unix ms): back-off after a restart.
    pub quiet_until: i64,
    /// The current back-off, doubled by each restart in the crash window.
    pub backoff_ms: i64,
    /// The container was stopped as a crash loop: left alone until a new deployment.
    pub stopped: bool,
}

/// What one turn decided.
#[derive(Debug, Default)]
pub struct Verdict {
    pub plan: Plan,
    pub alerts: Vec<(AlertKind, String)>,
}

/// Longest back-off between restarts.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;

/// One turn of the monitor for an app: what was `seen` and how the probe went (`None`: not
/// probed this turn) → what to do and what to say. Pure: the state is updated in place.
pub fn judge(
    state: &mut WatchState,
    watched: &Watched,
    seen: &Seen,
    probe: Option<Result<u16, String>>,
    now: i64,
) -> Verdict {
    let mut v = Verdict::default();
    if state.container != seen.container {
        *state = WatchState {
            container: seen.container.clone(),
            restart_count: seen.restart_count,
            ..WatchState::default()
        };
    }
    if state.stopped {
        return v;
    }
    // Docker restarted it (the process exited): each counts towards a crash loop.
    if seen.restart_count > state.restart_count {
        let n = (seen.restart_count - state.restart_count).min(Monitor::CRASH_RESTARTS as i64);
        for _ in 0..n {
            state.restarts.push_back(now);
        }
    }
    state.restart_count = seen.restart_count;
    while state
        .restarts
        .front()
        .is_some_and(|t| now - t > Monitor::CRASH_WINDOW_MS)
    {
        state.restarts.pop_front();
    }
    let crash_loop = |state: &mut WatchState, v: &mut Verdict, last: &str| {
        state.stopped = true;
        v.plan.actions.push(PlannedAction {
            step: Step::Drain,
            action: Action::Stop {
                container: seen.container.clone(),
                grace_secs: watched.stop_grace_secs,
            },
        });
        v.alerts.push((
            AlertKind::CrashLoop,
            format!(
                "{} restarts within {} min; stopped until the next deploy (last: {last})",
                state.restarts.len(),
                Monitor::CRASH_WINDOW_MS / 60_000
            ),
        ));
    };
    if state.restarts.len() >= Monitor::CRASH_RESTARTS {
        let last = match &probe {
            Some(Err(why)) => why.clone(),
            _ => format!(
                "the process exited; Docker restarted it {} times",
                seen.restart_count
            ),
        };
        crash_loop(state, &mut v, &last);
        return v;
    }
    if now < state.quiet_until {
        return v;
    }
    match probe {
        None => {}
        Some(Ok(status)) => {
            state.failures = 0;
            if state.unhealthy {
                state.unhealthy = false;
                v.alerts.push((
                    AlertKind::Recovered,
                    format!("GET {} answers HTTP {status} again", watched.health_path),
                ));
            }
        }
        Some(Err(why)) => {
            state.failures += 1;
            if state.failures < watched.monitor.unhealthy_after {
                return v;
            }
            let failures = state.failures;
            state.failures = 0;
            if !state.unhealthy {
                state.unhealthy = true;
                v.alerts.push((
                    AlertKind::Unhealthy,
                    format!("{why} ({failures} probes in a row)"),
                ));
            }
            if state.restarts.len() + 1 >= Monitor::CRASH_RESTARTS {
                state.restarts.push_back(now);
                crash_loop(state, &mut v, &why);
                return v;
            }
            state.restarts.push_back(now);
            state.backoff_ms = (state.backoff_ms * 2)
                .max(i64::from(watched.monitor.interval_secs) * 2000)
                .min(MAX_BACKOFF_MS);
            state.quiet_until = now + state.backoff_ms;
            v.plan.actions.push(PlannedAction {
                step: Step::Start,
                action: Action::Restart {
                    container: seen.container.clone(),
                    grace_secs: watched.stop_grace_secs,
                },
            });
            v.alerts.push((
                AlertKind::Restarted,
                format!(
                    "restarted after {failures} failed probes; next probe counts in {}",
                    berth_model::format::duration(u64::try_from(state.backoff_ms).unwrap_or(0))
                ),
            ));
        }
    }
    v
}

/// Runs the monitor's plan (restarts, stops) by the one runner.
pub async fn apply_verdict(host: &Host, plan: Plan) -> Result<(), EngineError> {
    if plan.actions.is_empty() {
        return Ok(());
    }
    tracing::info!("monitor on {}:\n{plan}", host.name());
    crate::power::apply(host, plan, &CancellationToken::new()).await
}

/// One stats reading of a container.
pub async fn reading(
    host: &Host,
    container: &str,
) -> Result<berth_docker::StatsReading, EngineError> {
    Ok(host.docker().stats_once(container).await?)
}

/// The counters of a reading the monitor keeps (the engine's surface, not berth-docker's).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    pub cpu_total_ns: u64,
    pub system_ns: u64,
    pub online_cpus: u32,
    pub mem_bytes: u64,
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
}

/// One stats reading of `container`'s counters.
pub async fn counters(host: &Host, container: &str) -> Result<Counters, EngineError> {
    let r = reading(host, container).await?;
    Ok(Counters {
        cpu_total_ns: r.cpu_total_ns,
        system_ns: r.system_ns,
        online_cpus: r.online_cpus,
        mem_bytes: r.mem_bytes,
        mem_limit: r.mem_limit,
        net_rx: r.net_rx,
        net_tx: r.net_tx,
        blk_read: r.blk_read,
        blk_write: r.blk_write,
    })
}

/// [`counters`] of several containers at once (Docker answers each within its collector's
/// next tick, up to a second: one after the other, 20 apps would take 20 s).
pub async fn counters_all(host: &Host, containers: &[&str]) -> Vec<Result<Counters, EngineError>> {
    futures_util::future::join_all(containers.iter().map(|c| counters(host, c))).await
}

/// CPU use between two readings, in percent of one core (`elapsed_ms` apart).
pub fn cpu_percent(prev: &Counters, now: &Counters, elapsed_ms: i64) -> f64 {
    if elapsed_ms <= 0 || now.cpu_total_ns < prev.cpu_total_ns {
        return 0.0;
    }
    let used = (now.cpu_total_ns - prev.cpu_total_ns) as f64;
    used / (elapsed_ms as f64 * 1_000_000.0) * 100.0
}

/// What Docker's data takes on the host.
pub async fn docker_disk(host: &Host) -> Result<berth_model::DockerDisk, EngineError> {
    let d = host.docker().disk_usage().await?;
    Ok(berth_model::DockerDisk {
        images: d.images,
        containers: d.containers,
        volumes: d.volumes,
        build_cache: d.build_cache,
        reclaimable: d.images_reclaimable + d.build_cache_reclaimable,
    })
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;

    fn watched() -> Watched {
        Watched {
            app: "web".into(),
            monitor: Monitor {
                interval_secs: 10,
                unhealthy_after: 3,
            },
            port: 8080,
            health_path: "/healthz".into(),
            timeout_ms: 2000,
            stop_grace_secs: 5,
        }
    }

    fn seen(restarts: i64) -> Seen {
        Seen {
            container: "web-1".into(),
            id: "c1".into(),
            status: "running".into(),
            running: true,
            restart_count: restarts,
            addresses: BTreeMap::new(),
        }
    }

    fn fail() -> Option<Result<u16, String>> {
        Some(Err("GET /healthz: no answer within 2.0 s".into()))
    }

    fn kinds(v: &Verdict) -> Vec<AlertKind> {
        v.alerts.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn a_hung_app_is_restarted_after_the_threshold_then_recovers() {
        let (w, mut st) = (watched(), WatchState::default());
        assert!(
            judge(&mut st, &w, &seen(0), fail(), 0)
                .plan
                .actions
                .is_empty()
        );
        assert!(
            judge(&mut st, &w, &seen(0), fail(), 10_000)
                .plan
                .actions
                .is_empty()
        );
        let v = judge(&mut st, &w, &seen(0), fail(), 20_000);
        expect![[r#"
            start        restart web-1 (grace 5s)
        "#]]
        .assert_eq(&v.plan.to_string());
        assert_eq!(kinds(&v), [AlertKind::Unhealthy, AlertKind::Restarted]);
        assert!(
            v.alerts[0]
                .1
                .contains("no answer within 2.0 s (3 probes in a row)")
        );
        // Back-off: probes during it do not count.
        let v = judge(&mut st, &w, &seen(0), fail(), 30_000);
        assert!(v.plan.actions.is_empty() && v.alerts.is_empty());
        let v = judge(&mut st, &w, &seen(0), Some(Ok(200)), 41_000);
        assert_eq!(kinds(&v), [AlertKind::Recovered]);
        assert!(
            judge(&mut st, &w, &seen(0), Some(Ok(200)), 51_000)
                .alerts
                .is_empty()
        );
    }

    #[test]
    fn a_crash_loop_is_stopped_and_alerted_once() {
        let (w, mut st) = (watched(), WatchState::default());
        judge(&mut st, &w, &seen(0), Some(Ok(200)), 0);
        // Docker restarted the exiting process three times since the last turn.
        let v = judge(&mut st, &w, &seen(3), fail(), 10_000);
        expect![[r#"
            drain        stop web-1 (grace 5s)
        "#]]
        .assert_eq(&v.plan.to_string());
        assert_eq!(kinds(&v), [AlertKind::CrashLoop]);
        assert!(
            v.alerts[0].1.contains("3 restarts within 10 min"),
            "{}",
            v.alerts[0].1
        );
        // Left alone afterwards, whatever it shows.
        for t in 1..5 {
            let v = judge(&mut st, &w, &seen(3 + t), fail(), 10_000 + t * 10_000);
            assert!(v.plan.actions.is_empty() && v.alerts.is_empty());
        }
        // A new deployment is watched afresh.
        let mut next = seen(0);
        next.container = "web-2".into();
        let v = judge(&mut st, &w, &next, Some(Ok(200)), 100_000);
        assert!(v.plan.actions.is_empty() && v.alerts.is_empty());
        assert!(!st.stopped);
    }

    #[test]
    fn restarts_that_do_not_help_become_a_crash_loop() {
        let mut w = watched();
        w.monitor.unhealthy_after = 1;
        let mut st = WatchState::default();
        let mut t = 0;
        let mut seen_kinds = Vec::new();
        for _ in 0..20 {
            let v = judge(&mut st, &w, &seen(0), fail(), t);
            seen_kinds.extend(kinds(&v));
            t += 10_000;
        }
        assert_eq!(
            seen_kinds,
            [
                AlertKind::Unhealthy,
                AlertKind::Restarted,
                AlertKind::Restarted,
                AlertKind::CrashLoop
            ]
        );
    }

    #[test]
    fn cpu_is_a_share_of_one_core() {
        let a = Counters {
            cpu_total_ns: 1_000_000_000,
            ..Counters::default()
        };
        let b = Counters {
            cpu_total_ns: 6_000_000_000,
            ..Counters::default()
        };
        assert!((cpu_percent(&a, &b, 10_000) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&b, &a, 10_000), 0.0);
    }
}
