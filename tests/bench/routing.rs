//! Routing figures: switch-over time (the new container healthy → the first request answered
//! by it through Caddy) and the throughput/latency cost of going through Caddy instead of the
//! container's own port, measured with wrk on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_testkit::docker::{
    AppGuard, CADDY, CADDY_SH, ensure_busybox, ensure_caddy, ensure_caddy_sh,
};
use berth_testkit::{Berth, free_port, git, http_get_host, run as sh, unique};

fn remove_proxy() {
    let _ = Command::new("docker")
        .args(["rm", "-f", "berth-proxy"])
        .output();
    let _ = Command::new("docker")
        .args([
            "volume",
            "rm",
            "-f",
            "berth-proxy-data",
            "berth-proxy-config",
        ])
        .output();
    let _ = std::fs::remove_dir_all("/run/berth-proxy");
}

struct Wrk {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Parses `Requests/sec:` and the `50%`/`99%` lines of `wrk --latency`.
fn wrk(url: &str, host: Option<&str>, secs: u32) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c16", &format!("-d{secs}s"), "--latency"]);
    if let Some(h) = host {
        cmd.args(["-H", &format!("Host: {h}")]);
    }
    let out = sh(cmd.arg(url));
    let ms = |v: &str| -> f64 {
        let v = v.trim();
        if let Some(x) = v.strip_suffix("us") {
            x.parse::<f64>().unwrap_or(0.0) / 1000.0
        } else if let Some(x) = v.strip_suffix("ms") {
            x.parse().unwrap_or(0.0)
        } else if let Some(x) = v.strip_suffix('s') {
            x.parse::<f64>().unwrap_or(0.0) * 1000.0
        } else {
            0.0
        }
    };
    let mut w = Wrk {
        rps: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
    };
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["Requests/sec:", v] => w.rps = v.parse().unwrap_or(0.0),
            ["50%", v] => w.p50_ms = ms(v),
            ["99%", v] => w.p99_ms = ms(v),
            _ => {}
        }
    }
    w
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Deploys and returns ms from the "healthy" line to the first response of `version`.
fn switch_over(b: &Berth, app: &str, http: u16, host: &str, version: &str) -> f64 {
    let seen: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (seen, stop, host, want) = (
            seen.clone(),
            stop.clone(),
            host.to_owned(),
            format!("hello {version}"),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((200, body)) = http_get_host(&format!("127.0.0.1:{http}"), &host, "/")
                    && body.trim() == want
                {
                    seen.lock().unwrap().get_or_insert(Instant::now());
                    return;
                }
            }
        })
    };
    let mut child = b
        .cmd(&["deploy", app])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut healthy = None;
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if healthy.is_none() && line.contains("healthy:") {
            healthy = Some(Instant::now());
        }
    }
    assert!(child.wait().unwrap().success(), "deploy failed");
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let _ = poller.join();
    let healthy = healthy.expect("a healthy line");
    let first = seen.lock().unwrap().expect("the new version answered");
    first.saturating_duration_since(healthy).as_secs_f64() * 1000.0
}

pub fn run() {
    remove_proxy();
    ensure_busybox();
    ensure_caddy();
    ensure_caddy_sh();
    let b = Berth::new();
    b.ok(&["server", "add", "local", "--local"]);
    let http = free_port();
    let https = free_port();
    b.ok(&[
        "server",
        "proxy",
        "install",
        "local",
        "--image",
        CADDY,
        "--tls",
        "off",
        "--http-port",
        &http.to_string(),
        "--https-port",
        &https.to_string(),
    ]);
    // A static site (no Dockerfile: detected, generated) served by Caddy's file server, so the
    // upstream is fast enough not to dominate the proxy's cost.
    b.ok(&["server", "set", "local", "--run-image", CADDY_SH]);
    let app = unique("rbench");
    let _guard = AppGuard(app.clone());
    let repo = git::Repo::new();
    let site = |v: &str| {
        repo.commit(
            &[
                ("public/index.html", &format!("hello {v}\n")),
                ("public/healthz", "ok\n"),
            ],
            v,
        )
    };
    site("v0");
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
        "--drain-timeout",
        "5",
    ]);
    let host = "bench.example.test";
    b.ok(&["domain", "add", &app, host, "--primary", "--apply"]);
    b.ok(&["deploy", &app]);

    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut switch = Vec::new();
    for round in 1..=rounds {
        let v = format!("v{round}");
        site(&v);
        switch.push(switch_over(&b, &app, http, host, &v));
    }

    let st = b.ok(&["status", &app, "--json"]).json();
    let direct = format!("http://{}/", st["endpoint"].as_str().unwrap());
    let caddy = format!("http://127.0.0.1:{http}/");
    let secs = 5;
    // Alternate, so the machine's load hits both alike.
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push((wrk(&direct, None, secs), wrk(&caddy, Some(host), secs)));
    }
    let d_rps = median(runs.iter().map(|r| r.0.rps).collect());
    let c_rps = median(runs.iter().map(|r| r.1.rps).collect());
    let d50 = median(runs.iter().map(|r| r.0.p50_ms).collect());
    let c50 = median(runs.iter().map(|r| r.1.p50_ms).collect());
    let d99 = median(runs.iter().map(|r| r.0.p99_ms).collect());
    let c99 = median(runs.iter().map(|r| r.1.p99_ms).collect());

    println!(
        "\nRouting through Caddy (local server, static site served by caddy file-server, tls off):"
    );
    println!(
        "  switch-over (new container healthy -> first request it answers through Caddy), median of {rounds}: {:.1} ms (min {:.1}, max {:.1})",
        median(switch.clone()),
        switch.iter().cloned().fold(f64::MAX, f64::min),
        switch.iter().cloned().fold(0.0, f64::max)
    );
    println!("  wrk -t2 -c16 -d{secs}s, median of 2 alternated runs:");
    println!(
        "    direct to the container's port   {d_rps:9.0} req/s   p50 {d50:6.2} ms   p99 {d99:6.2} ms"
    );
    println!(
        "    through Caddy (Host header)      {c_rps:9.0} req/s   p50 {c50:6.2} ms   p99 {c99:6.2} ms"
    );
    println!(
        "    overhead                         {:8.1} %          p50 +{:.2} ms   p99 +{:.2} ms",
        (1.0 - c_rps / d_rps) * 100.0,
        c50 - d50,
        c99 - d99
    );
    b.ok(&["app", "rm", &app, "--purge"]);
    remove_proxy();
}
