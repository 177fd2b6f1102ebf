//! The webhook relay's figures: its executable's size, its resident memory idle and after load,
//! the throughput and latency of verified accepts (signed GitHub pushes answered 202 after the
//! group commit), and that nothing answered 202 is missing from its database, also after a
//! SIGKILL.
//!
//! The relay runs as a local process (the static executable `scripts/build-relay.sh` builds;
//! `BERTH_RELAY_EXE` overrides), with its data dir on the normal filesystem so that the fsync of
//! every commit is part of the figures, and with the rate limit off: all the load comes from
//! 127.0.0.1. The load generator runs in this process: N keep-alive HTTP/1.1 connections, each
//! sending requests back to back for `BENCH_RELAY_SECONDS` (default 10) per setting; every
//! request has its own commit, delivery id and signature. Both share the machine's cores, so
//! the CPU each used is printed with the figures.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_hooks::fixtures;
use berth_model::{Provider, WebhookFilter, WebhookMode};
use berth_relay::client::{ControlClient, LocalDial};
use berth_relay::proto::{HookSpec, RelayInfo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HOOK: &str = "5e1a7b3c-0d2f-4e6a-9b8c-7d6e5f4a3b2c";
const SECRET: &str = "berth-bench-relay-secret";
/// The commit in the body template, replaced by each request's own.
const PLACEHOLDER: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
/// Targets of the relay issue.
const TARGET_BINARY_MB: f64 = 10.0;
const TARGET_IDLE_MB: f64 = 10.0;
const TARGET_RATE: f64 = 2000.0;
const TARGET_P99_MS: f64 = 20.0;
/// USER_HZ: the unit of the CPU times in /proc (fixed at 100 on Linux).
const TICKS_PER_SEC: f64 = 100.0;

fn seconds() -> u64 {
    std::env::var("BENCH_RELAY_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|s| *s > 0)
        .unwrap_or(10)
}

/// `BENCH_RELAY_CONNECTIONS=16,64` (the default).
fn connection_counts() -> Vec<usize> {
    std::env::var("BENCH_RELAY_CONNECTIONS")
        .ok()
        .map(|v| {
            v.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .filter(|n| *n > 0)
                .collect::<Vec<usize>>()
        })
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![16, 64])
}

/// `BERTH_RELAY_EXE`, else what `scripts/build-relay.sh` builds, under the workspace's target dir.
pub(crate) fn relay_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("BERTH_RELAY_EXE") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join(format!(
        "{}-unknown-linux-gnu/relay/berth-relay",
        std::env::consts::ARCH
    ))
}

/// A running `berth-relay serve`, killed (SIGKILL) when dropped.
pub(crate) struct RelayProcess {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl RelayProcess {
    fn start(exe: &Path, dir: &Path) -> RelayProcess {
        Self::start_with(exe, dir, &[])
    }

    /// Started with `extra` flags besides the bench's own.
    pub(crate) fn start_with(exe: &Path, dir: &Path, extra: &[&str]) -> RelayProcess {
        let addr: SocketAddr = format!("127.0.0.1:{}", berth_testkit::free_port())
            .parse()
            .unwrap();
        let log = dir.join("relay.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(exe)
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--control")
            .arg(dir.join("control.sock"))
            .arg("--data")
            .arg(dir.join("data"))
            .args(["--rate-limit", "0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        RelayProcess { child, addr, log }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the control API answers (and the public port accepts).
    pub(crate) async fn ready(&mut self, client: &ControlClient) -> RelayInfo {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "berth-relay exited ({status}) at start:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(info) = client.info().await
                && TcpStream::connect(self.addr).await.is_ok()
            {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "berth-relay did not answer within 15 s:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// VmRSS of `pid`, in MB.
pub(crate) fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// utime + stime (seconds) from a `/proc/.../stat` file.
pub(crate) fn cpu_seconds(stat: &Path) -> f64 {
    let Ok(text) = std::fs::read_to_string(stat) else {
        return 0.0;
    };
    let Some(close) = text.rfind(')') else {
        return 0.0;
    };
    // After the command: state is field 3 of the file; utime and stime are 14 and 15.
    let fields: Vec<&str> = text[close + 2..].split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    ticks(11).unwrap_or(0.0) / TICKS_PER_SEC + ticks(12).unwrap_or(0.0) / TICKS_PER_SEC
}

/// CPU seconds used so far: the relay's (all threads), its database thread's, and this
/// process's (the load generator).
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    relay: f64,
    db: f64,
    bench: f64,
}

fn cpu(pid: u32) -> Cpu {
    let mut db = 0.0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() == "berth-relay-db" {
                db += cpu_seconds(&t.path().join("stat"));
            }
        }
    }
    Cpu {
        relay: cpu_seconds(Path::new(&format!("/proc/{pid}/stat"))),
        db,
        bench: cpu_seconds(Path::new("/proc/self/stat")),
    }
}

/// A signed GitHub push body whose commit (at `at`) each request replaces.
struct Template {
    body: Vec<u8>,
    at: Vec<usize>,
    /// Tells this run's delivery ids apart from another run's.
    nonce: u32,
    next: AtomicU64,
}

impl Template {
    fn new() -> Template {
        let body = fixtures::github_push("refs/heads/main", PLACEHOLDER, "bench: a push");
        let at: Vec<usize> = body
            .windows(PLACEHOLDER.len())
            .enumerate()
            .filter(|(_, w)| *w == PLACEHOLDER.as_bytes())
            .map(|(i, _)| i)
            .collect();
        assert!(!at.is_empty(), "the push fixture does not name its commit");
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            ^ std::process::id();
        Template {
            body,
            at,
            nonce,
            next: AtomicU64::new(1),
        }
    }

    /// The next request, written into `out`: its own commit, delivery id and signature.
    fn request(&self, out: &mut Vec<u8>, body: &mut Vec<u8>) {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let commit = format!("{n:040x}");
        body.clear();
        body.extend_from_slice(&self.body);
        for &i in &self.at {
            body[i..i + commit.len()].copy_from_slice(commit.as_bytes());
        }
        let delivery = format!(
            "{:08x}-{:04x}-4000-8000-{:012x}",
            self.nonce,
            (n >> 48) & 0xffff,
            n & 0xffff_ffff_ffff
        );
        let headers =
            fixtures::headers(Provider::Github, "push", &delivery, SECRET.as_bytes(), body);
        out.clear();
        out.extend_from_slice(
            format!(
                "POST /hooks/{HOOK} HTTP/1.1\r\nHost: hooks.bench\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
        for (k, v) in &headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
    }
}

/// What one connection saw.
#[derive(Default)]
struct ConnStats {
    latencies_us: Vec<u32>,
    /// When each answer came, in ms since the run's start (for the `-v` timeline).
    done_ms: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    /// Delivery ids answered 202.
    accepted: Vec<i64>,
    /// Answers that carried a delivery id, whatever their status.
    recorded: u64,
    errors: u64,
    first_error: Option<String>,
    finished: Option<Instant>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends one request and reads its answer: the status and the `delivery` id of the JSON body.
async fn exchange(
    s: &mut TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> io::Result<(u16, Option<i64>)> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_owned());
    s.write_all(req).await?;
    buf.clear();
    loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("non-UTF-8 head"))?;
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("no status line"))?;
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .ok_or_else(|| bad("no Content-Length"))?;
            let total = end + 4 + length;
            while buf.len() < total {
                if s.read_buf(buf).await? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            let body = &buf[end + 4..total];
            let id = find(body, b"\"delivery\":").and_then(|i| {
                let rest = &body[i + b"\"delivery\":".len()..];
                let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
                std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
            });
            return Ok((status, id));
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("answer head over 64 KiB"));
        }
        if s.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// One keep-alive connection sending requests back to back until `deadline`.
async fn connection(
    addr: SocketAddr,
    template: Arc<Template>,
    start: Instant,
    deadline: Instant,
) -> ConnStats {
    let mut stats = ConnStats::default();
    let mut stream: Option<TcpStream> = None;
    let (mut req, mut body, mut buf) = (Vec::new(), Vec::new(), Vec::with_capacity(4096));
    while Instant::now() < deadline {
        let s = match &mut stream {
            Some(s) => s,
            None => match TcpStream::connect(addr).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    stream.insert(s)
                }
                Err(e) => {
                    stats.errors += 1;
                    stats.first_error.get_or_insert(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        template.request(&mut req, &mut body);
        let t = Instant::now();
        match tokio::time::timeout(Duration::from_secs(30), exchange(s, &req, &mut buf)).await {
            Ok(Ok((status, id))) => {
                let us = t.elapsed().as_micros();
                stats
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                let at = start.elapsed().as_millis();
                stats.done_ms.push(u32::try_from(at).unwrap_or(u32::MAX));
                *stats.statuses.entry(status).or_default() += 1;
                if let Some(id) = id {
                    stats.recorded += 1;
                    if status == 202 {
                        stats.accepted.push(id);
                    }
                }
            }
            Ok(Err(e)) => {
                stats.errors += 1;
                stats.first_error.get_or_insert(e.to_string());
                stream = None;
            }
            Err(_) => {
                stats.errors += 1;
                stats
                    .first_error
                    .get_or_insert("no answer within 30 s".to_owned());
                stream = None;
            }
        }
    }
    stats.finished = Some(Instant::now());
    stats
}

fn verbose() -> bool {
    std::env::args().any(|a| a == "-v" || a == "--verbose")
        || std::env::var_os("BENCH_TRACE").is_some()
}

/// `-v`: answers, their median and slowest latency, per second of the run.
fn timeline(all: &[ConnStats]) {
    let mut by_second: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for s in all {
        for (at, us) in s.done_ms.iter().zip(&s.latencies_us) {
            by_second.entry(at / 1000).or_default().push(*us);
        }
    }
    for (second, mut v) in by_second {
        v.sort_unstable();
        println!(
            "      second {second:>3}: {:>6} answers, median {:>6.1} ms, max {:>6.1} ms",
            v.len(),
            f64::from(v[v.len() / 2]) / 1000.0,
            f64::from(v[v.len() - 1]) / 1000.0
        );
    }
}

/// One setting's result.
struct Load {
    connections: usize,
    requests: u64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    non_202: u64,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
    first_error: Option<String>,
    /// Percent of one core over the run.
    cpu_relay: f64,
    cpu_db: f64,
    cpu_bench: f64,
}

/// Totals over every load run, for the zero-lost check.
#[derive(Default)]
struct Totals {
    accepted: Vec<i64>,
    recorded: u64,
}

async fn load(
    addr: SocketAddr,
    pid: u32,
    template: &Arc<Template>,
    connections: usize,
    duration: Duration,
    totals: &mut Totals,
) -> Load {
    let before = cpu(pid);
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(connection(addr, template.clone(), start, deadline)))
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.push(t.await.unwrap());
    }
    let end = all
        .iter()
        .filter_map(|s| s.finished)
        .max()
        .unwrap_or_else(Instant::now);
    let wall = end.duration_since(start).as_secs_f64();
    let after = cpu(pid);
    let mut latencies: Vec<u32> = Vec::new();
    let mut statuses = BTreeMap::new();
    let (mut errors, mut first_error) = (0, None);
    if verbose() {
        timeline(&all);
    }
    for s in all {
        latencies.extend_from_slice(&s.latencies_us);
        for (k, v) in s.statuses {
            *statuses.entry(k).or_default() += v;
        }
        errors += s.errors;
        if first_error.is_none() {
            first_error = s.first_error;
        }
        totals.recorded += s.recorded;
        totals.accepted.extend(s.accepted);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        f64::from(latencies[i]) / 1000.0
    };
    let requests = latencies.len() as u64;
    let accepts = statuses.get(&202).copied().unwrap_or(0);
    let pct_core = |a: f64, b: f64| (b - a) / wall * 100.0;
    Load {
        connections,
        requests,
        rate: accepts as f64 / wall,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: latencies.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
        non_202: requests - accepts,
        statuses,
        errors,
        first_error,
        cpu_relay: pct_core(before.relay, after.relay),
        cpu_db: pct_core(before.db, after.db),
        cpu_bench: pct_core(before.bench, after.bench),
    }
}

/// `12345.6` → `12,346`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `lost: 0`, or how many answered 202 are not recorded.
fn lost(accepted: u64, info: &RelayInfo, recorded: u64) -> (u64, String) {
    let pending = info.pending as u64;
    let missing = accepted.saturating_sub(pending);
    let mut s = format!(
        "{} answered 202, {pending} pending in the database; newest #{} for {} answers with an id → lost: {missing}",
        thousands(accepted as f64),
        info.last_delivery,
        thousands(recorded as f64)
    );
    if u64::try_from(info.last_delivery).unwrap_or(0) != recorded {
        s.push_str(&format!(
            " (newest id ≠ answers with an id: {} vs {recorded})",
            info.last_delivery
        ));
    }
    (missing, s)
}

pub async fn run() {
    println!("\n== webhook relay ==");
    let exe = relay_exe();
    let binary_mb = match std::fs::metadata(&exe) {
        Ok(m) => m.len() as f64 / (1024.0 * 1024.0),
        Err(e) => panic!(
            "{}: {e} (build it with scripts/build-relay.sh, or set BERTH_RELAY_EXE)",
            exe.display()
        ),
    };
    let secs = seconds();
    let counts = connection_counts();
    println!("executable: {}", exe.display());
    println!(
        "rate limit off (--rate-limit 0): all the load comes from 127.0.0.1; data dir on the normal filesystem (WAL, synchronous=FULL)"
    );
    println!(
        "load: signed GitHub pushes, each with its own delivery id, commit and signature; {secs} s per setting; generator and relay share {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let dir = tempfile::Builder::new()
        .prefix("berth-bench-relay-")
        .tempdir()
        .unwrap();
    let client = ControlClient::new(Arc::new(LocalDial(dir.path().join("control.sock"))));
    let mut relay = RelayProcess::start(&exe, dir.path());
    relay.ready(&client).await;
    client
        .put_hook(&HookSpec {
            uuid: HOOK.to_owned(),
            app: "bench".to_owned(),
            provider: Provider::Github,
            filter: WebhookFilter {
                branch: "main".into(),
                tags: None,
            },
            mode: WebhookMode::Attended,
            secret: SECRET.to_owned(),
            unattended: None,
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_mb = rss_mb(relay.pid());

    let template = Arc::new(Template::new());
    let mut totals = Totals::default();
    // Warm-up (not reported): connections, the statement cache, the WAL file.
    load(
        relay.addr,
        relay.pid(),
        &template,
        4,
        Duration::from_secs(1),
        &mut totals,
    )
    .await;
    println!(
        "\n{:>5} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}   {:>18} {:>7}",
        "conns",
        "rows",
        "accepts/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "requests",
        "non-202",
        "errors",
        "CPU relay (db thr)",
        "CPU gen"
    );
    let mut results = Vec::new();
    for &n in &counts {
        // Deliveries already in the database (every one stays pending: nobody claims them).
        let rows = client.info().await.map_or(0, |i| i.last_delivery);
        let r = load(
            relay.addr,
            relay.pid(),
            &template,
            n,
            Duration::from_secs(secs),
            &mut totals,
        )
        .await;
        println!(
            "{:>5} {:>8} {:>10} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>7} {:>7}   {:>9} {:>8} {:>7}",
            r.connections,
            rows,
            thousands(r.rate),
            r.p50_ms,
            r.p99_ms,
            r.max_ms,
            r.requests,
            r.non_202,
            r.errors,
            format!("{:.0}%", r.cpu_relay),
            format!("({:.0}%)", r.cpu_db),
            format!("{:.0}%", r.cpu_bench),
        );
        if r.non_202 > 0 {
            println!("      answers by status: {:?}", r.statuses);
        }
        if let Some(e) = &r.first_error {
            println!("      first error: {e}");
        }
        results.push(r);
    }
    println!(
        "      (rows: deliveries in the database when the setting started; CPU: percent of one core over the run, {} cores in all)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let loaded_mb = rss_mb(relay.pid());

    // --- zero lost, and after a crash ----------------------------------------------------
    let accepted = totals.accepted.len() as u64;
    let mut ids = totals.accepted.clone();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() as u64 != accepted {
        println!(
            "!! {} delivery ids were answered 202 more than once",
            accepted - ids.len() as u64
        );
    }
    let info = client.info().await.unwrap();
    let (lost_live, text) = lost(accepted, &info, totals.recorded);
    println!("\nrecorded: {text}");
    if let Ok(newest) = client.deliveries(Some("bench"), 1).await
        && let Some(d) = newest.first()
    {
        println!(
            "  newest delivery of `bench`: #{} {} ({})",
            d.id,
            d.verdict.as_str(),
            d.delivery_id.as_deref().unwrap_or("-")
        );
    }
    relay.kill();
    let mut restarted = RelayProcess::start(&exe, dir.path());
    let info = restarted.ready(&client).await;
    let (lost_crash, text) = lost(accepted, &info, totals.recorded);
    println!("after SIGKILL and a restart on the same data dir: {text}");
    restarted.kill();
    drop(relay);

    println!(
        "\nbinary {binary_mb:.1} MB (target < {TARGET_BINARY_MB} MB), idle RSS {idle_mb:.1} MB (target < {TARGET_IDLE_MB} MB), RSS after the load {loaded_mb:.1} MB"
    );
    let best = results.iter().max_by(|a, b| a.rate.total_cmp(&b.rate));
    for r in &results {
        let meets = r.rate >= TARGET_RATE && r.p99_ms < TARGET_P99_MS;
        println!(
            "  {} connections: {} accepts/s, p99 {:.1} ms: {} (target ≥ {} /s with p99 < {TARGET_P99_MS} ms)",
            r.connections,
            thousands(r.rate),
            r.p99_ms,
            if meets { "meets" } else { "misses" },
            thousands(TARGET_RATE)
        );
    }
    let last = results.last();
    print!(
        "relay: {binary_mb:.1} MB binary, idle RSS {idle_mb:.1} MB ({loaded_mb:.1} MB after load)"
    );
    if let Some(r) = last {
        print!(
            "; {} connections: {} accepts/s, p50 {:.1} ms, p99 {:.1} ms",
            r.connections,
            thousands(r.rate),
            r.p50_ms,
            r.p99_ms
        );
    }
    if let Some(b) = best
        && last.is_some_and(|l| l.connections != b.connections)
    {
        print!(
            " (best: {} connections, {} accepts/s)",
            b.connections,
            thousands(b.rate)
        );
    }
    println!(", {lost_live} lost, {lost_crash} lost after SIGKILL");
}
