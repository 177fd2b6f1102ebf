//! Watching after the deploy (issue 19's figures):
//!
//! 1. The stats history's size after 30 simulated days of 20 apps sampled every 10 s, written
//!    and rolled up exactly as the relay does (`berth_relay::simulate_stats_history`).
//! 2. The relay watching 20 running apps (the static executable as a local process, against
//!    this machine's dockerd): its resident memory and its share of a core while it samples
//!    every 10 s and probes each app every 30 s. Targets: ≤ 15 MB, ≤ 1 % of a core.
//! 3. The fleet view: 20 servers (20 sshd on loopback ports) checked at once from cold (a new
//!    `berth server check` process: every session new) and warm (a desktop's open sessions).
//!    Targets: ≤ 1 s cold, ≤ 200 ms warm.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use berth_relay::client::{ControlClient, LocalDial};
use berth_relay::proto::{MonitorConfig, MonitoredApp};
use berth_testkit::docker::ensure_busybox;
use berth_testkit::{Berth, Sshd, run};

use crate::relay::{RelayProcess, cpu_seconds, relay_exe, rss_mb};

const APPS: usize = 20;
const SERVERS: usize = 20;
const TARGET_RSS_MB: f64 = 15.0;
const TARGET_CPU_PCT: f64 = 1.0;
const TARGET_COLD_MS: f64 = 1000.0;
const TARGET_WARM_MS: f64 = 200.0;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

pub async fn run_all() {
    println!("\n== after the deploy: stats, monitor, fleet ==");
    stats_history();
    footprint().await;
    fleet().await;
}

fn stats_history() {
    let days = u32::try_from(env_u64("BENCH_STATS_DAYS", 30)).unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let bytes =
        berth_relay::simulate_stats_history(&dir.path().join("stats.db"), APPS, days, 10).unwrap();
    println!(
        "stats history, {APPS} apps sampled every 10 s for {days} days: {:.1} MB on disk (every sample for a day, 5-minute averages for 30 days; simulated in {:.0} s)",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
}

/// The bench's app containers, removed when dropped.
struct Containers(Vec<String>);

impl Drop for Containers {
    fn drop(&mut self) {
        let mut args = vec!["rm".to_owned(), "-f".to_owned()];
        args.extend(self.0.iter().cloned());
        let _ = Command::new("docker").args(&args).output();
    }
}

async fn footprint() {
    let exe = relay_exe();
    if !exe.exists() {
        println!(
            "relay watching {APPS} apps: skipped ({} missing: scripts/build-relay.sh)",
            exe.display()
        );
        return;
    }
    ensure_busybox();
    let _ = Command::new("docker")
        .args(["network", "create", berth_engine::NETWORK])
        .output();
    let names: Vec<String> = (0..APPS)
        .map(|i| format!("berth-bench-watch-{i:02}"))
        .collect();
    let containers = Containers(names.clone());
    for n in &names {
        let _ = Command::new("docker").args(["rm", "-f", n]).output();
        run(Command::new("docker").args([
            "run",
            "-d",
            "--name",
            n,
            "--network",
            berth_engine::NETWORK,
            "-l",
            "berth.managed=true",
            "-l",
            &format!("berth.app={n}"),
            berth_testkit::docker::BUSYBOX,
            "sh",
            "-c",
            "mkdir -p /www && echo ok > /www/healthz && exec httpd -f -p 8080 -h /www",
        ]));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut relay = RelayProcess::start_with(
        &exe,
        dir.path(),
        &[
            "--docker",
            "/var/run/docker.sock",
            "--host-root",
            "/",
            "--sample-every",
            "10",
        ],
    );
    let client = ControlClient::new(std::sync::Arc::new(LocalDial(
        dir.path().join("control.sock"),
    )));
    relay.ready(&client).await;
    let config = MonitorConfig {
        server: "bench".into(),
        apps: names
            .iter()
            .map(|n| MonitoredApp {
                app: n.clone(),
                monitor: berth_model::Monitor::default(),
                port: 8080,
                health_path: "/healthz".into(),
                timeout_ms: 5000,
                stop_grace_secs: 10,
                notifiers: Vec::new(),
                deadline_ms: 30_000,
                stopped: false,
                route: None,
                service: None,
            })
            .collect(),
        notifiers: Vec::new(),
        backups: Vec::new(),
        crons: Vec::new(),
    };
    client.put_monitor(&config).await.unwrap();
    // Let the first samples and probes settle, then measure a window.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let secs = env_u64("BENCH_MONITOR_SECONDS", 60);
    let stat = format!("/proc/{}/stat", relay.pid());
    let before = cpu_seconds(Path::new(&stat));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let used = cpu_seconds(Path::new(&stat)) - before;
    let rss = rss_mb(relay.pid());
    let samples = client.stats(&names[0], 3_600_000).await.unwrap();
    let alerts = client.alerts(0).await.unwrap();
    println!(
        "relay watching {APPS} apps (samples every 10 s, probes every 30 s): RSS {rss:.1} MB (target ≤ {TARGET_RSS_MB}), CPU {:.2} % of a core over {secs} s (target ≤ {TARGET_CPU_PCT}); {} samples of one app, {} alerts",
        used / secs as f64 * 100.0,
        samples.samples.len(),
        alerts.len()
    );
    relay.kill();
    drop(containers);
}

pub async fn fleet() {
    let b = Berth::new();
    let mut sshds = Vec::new();
    for i in 0..SERVERS {
        let sshd = Sshd::start();
        b.add_ssh_server(&format!("fleet-{i:02}"), &sshd);
        sshds.push(sshd);
    }
    // Cold: a new process, every session new (the median of 3).
    let mut cold = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let out = b.ok(&["server", "check", "--json"]).json();
        cold.push(started.elapsed().as_secs_f64() * 1000.0);
        let ok = out
            .as_array()
            .map(|a| a.iter().filter(|s| s.get("check").is_some()).count())
            .unwrap_or(0);
        assert_eq!(ok, SERVERS, "{out:#}");
    }
    // Warm: one process keeping its sessions, like the desktop's fleet view.
    let berth = berth_api::Berth::open(berth_api::Config {
        data_dir: b.data.path().to_path_buf(),
        secrets: Some(berth_api::SecretsChoice::File),
        actor: "bench".into(),
    })
    .unwrap();
    let first = Instant::now();
    let all = berth.server_check_all().await.unwrap();
    let first_ms = first.elapsed().as_secs_f64() * 1000.0;
    assert!(all.iter().all(|(_, r)| r.is_ok()));
    let connects: Vec<f64> = all
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(|c| c.connect_ms))
        .collect();
    let slowest_connect = connects.iter().copied().fold(0.0, f64::max);
    let mut warm = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let all = berth.server_check_all().await.unwrap();
        warm.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(all.iter().all(|(_, r)| r.is_ok()));
    }
    println!(
        "fleet of {SERVERS} servers checked at once: cold {:.0} ms as a new process (target ≤ {TARGET_COLD_MS:.0}), {first_ms:.0} ms in-process (connects: median {:.0} ms, slowest {slowest_connect:.0} ms); warm {:.0} ms (target ≤ {TARGET_WARM_MS:.0})",
        crate::median(cold),
        crate::median(connects),
        crate::median(warm)
    );
    drop(sshds);
}
