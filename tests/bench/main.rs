//! `berth-bench`: the figures of the core issue, measured in one run on this machine.
//!
//! 1. Median latency of a Docker API call (`/_ping`): through Berth's open SSH session
//!    (embedded and system transports), directly on the local socket, and `docker -H ssh://`
//!    per call; plus the SSH connect time of each transport.
//! 2. A redeploy of a small cached app: `berth deploy` against the bare docker CLI steps it
//!    replaces (`git archive | docker build`, `docker run`, poll health, remove the old
//!    container), alternated round by round.
//! 3. Routing (`routing.rs`): switch-over time and Caddy's overhead.
//! 4. The desktop app (`desktop.rs`): launch → first interactive screen, idle memory.
//! 5. The webhook relay (`relay.rs`): executable size, idle and loaded memory, verified
//!    accepts per second with their latency, and nothing answered lost (also after SIGKILL).
//! 6. Image apps (`images.rs`): `berth deploy --tag` of a tag in a local registry against the
//!    bare docker CLI steps (`docker pull`, `docker run`, poll health, remove the old
//!    container), both pulling an image not on this machine, alternated round by round.
//!
//! 7. After the deploy (`monitor.rs`): the stats history's size after 30 days of 20 apps, the
//!    relay's memory and CPU while it watches 20 apps, and 20 servers checked at once, cold
//!    and warm.
//!
//! 8. Backups (`backups.rs`): `berth backup create`/`restore` of a 1 GB PostgreSQL database
//!    over SSH against `pg_dump | ssh` by hand, and Berth's peak memory while it streams.
//!
//! 9. Redeploys (`redeploys.rs`): a Flask app with real dependencies redeployed after a
//!    one-line change against a redeploy with no change.
//!
//! `berth-bench [core|routing|desktop|relay|images|monitor|backups|redeploys]` runs one part; no
//! argument runs all.
//! Needs dockerd and sshd (`scripts/bench.sh` prepares both); the relay part needs only the
//! relay's executable (`scripts/build-relay.sh`). Prints a table; exits non-zero
//! only if something could not be measured, never because of a figure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_engine::Host;
use berth_ssh::hostkey::{KnownHosts, fetch_host_key};
use berth_ssh::{Destination, SshOptions, Transport};
use berth_testkit::docker::{AppGuard, ensure_busybox};
use berth_testkit::{Berth, Sshd, git, http_get, run, unique};

mod backups;
mod desktop;
mod images;
mod monitor;
mod redeploys;
mod relay;
mod routing;

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Ssh {
    sshd: Sshd,
    known_hosts: std::path::PathBuf,
    runtime: tempfile::TempDir,
}

impl Ssh {
    async fn new() -> Ssh {
        let sshd = Sshd::start();
        let runtime = tempfile::Builder::new().prefix("bb-").tempdir().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o700))
                .unwrap();
        }
        let known_hosts = runtime.path().join("known_hosts");
        let key = fetch_host_key("127.0.0.1", sshd.port, Duration::from_secs(5))
            .await
            .unwrap();
        KnownHosts::new(&known_hosts)
            .pin("127.0.0.1", sshd.port, &key)
            .unwrap();
        Ssh {
            sshd,
            known_hosts,
            runtime,
        }
    }

    fn options(&self) -> SshOptions {
        let mut o = SshOptions::new(
            Destination::new(Some("root"), "127.0.0.1", Some(self.sshd.port)),
            self.known_hosts.clone(),
            self.runtime.path().to_path_buf(),
        );
        o.identity = Some(self.sshd.user_key.clone());
        o
    }

    async fn connect(&self, system: bool) -> Arc<dyn Transport> {
        if system {
            berth_ssh::connect_system(self.options()).await.unwrap()
        } else {
            berth_ssh::connect_embedded(self.options()).await.unwrap()
        }
    }
}

async fn ping_latency(host: &Host, n: usize) -> f64 {
    for _ in 0..20 {
        host.docker().ping().await.unwrap();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(ms(host.docker().ping().await.unwrap()));
    }
    median(v)
}

/// A call a deploy makes: list this machine's Berth-managed images (what pruning reads).
async fn list_latency(host: &Host, n: usize) -> f64 {
    let labels = [("berth.managed", "true")];
    for _ in 0..5 {
        host.docker().images_with_labels(&labels).await.unwrap();
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        host.docker().images_with_labels(&labels).await.unwrap();
        v.push(ms(t.elapsed()));
    }
    median(v)
}

fn docker_cli_ssh(ssh: &Ssh, home: &std::path::Path, n: usize) -> f64 {
    let url = format!("ssh://root@127.0.0.1:{}", ssh.sshd.port);
    let mut v = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        let path = format!(
            "{}:{}",
            home.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(Command::new("docker").env("PATH", path).args([
            "-H",
            &url,
            "version",
            "--format",
            "{{.Server.APIVersion}}",
        ]));
        v.push(ms(t.elapsed()));
    }
    median(v)
}

fn docker_cli_local(n: usize) -> f64 {
    let mut v = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        run(Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]));
        v.push(ms(t.elapsed()));
    }
    median(v)
}

/// A directory with an `ssh` wrapper for the docker CLI (OpenSSH reads `~/.ssh/config` from
/// the passwd entry, not `$HOME`): the harness key and the pinned host key.
fn cli_home(ssh: &Ssh) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("ssh_config");
    let wrapper = home.path().join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec /usr/bin/ssh -F {} \"$@\"\n",
            config.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(
        &config,
        format!(
            "Host 127.0.0.1\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n",
            ssh.sshd.user_key.display(),
            ssh.known_hosts.display()
        ),
    )
    .unwrap();
    home
}

/// Makes the next system-transport command start its own master: the records of the masters
/// earlier commands left are removed (the masters themselves idle out).
fn forget_shared_masters() {
    let mut dirs = Vec::new();
    if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") {
        dirs.push(std::path::PathBuf::from(x).join("berth-ssh"));
    }
    if let Ok(id) = Command::new("id").arg("-u").output() {
        let uid = String::from_utf8_lossy(&id.stdout).trim().to_owned();
        dirs.push(std::env::temp_dir().join(format!("berth-ssh-{uid}")));
    }
    for dir in dirs {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().extension().is_some_and(|e| e == "ctl") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Prints how long one bare step took when `BENCH_TRACE` is set, and starts the next lap.
pub(crate) fn lap(what: &str, since: &mut Instant) {
    if std::env::var_os("BENCH_TRACE").is_some() {
        println!("    bare {what}: {:.0} ms", ms(since.elapsed()));
    }
    *since = Instant::now();
}

/// The docker CLI steps after the image is there: `docker run` of `image` as `name` on a
/// loopback port, poll its health the way Berth probes it, remove the previous container.
pub(crate) fn bare_switch(
    app: &str,
    name: String,
    image: &str,
    previous: &mut Option<String>,
    since: &mut Instant,
) {
    run(Command::new("docker").args([
        "run",
        "-d",
        "--init",
        "--name",
        &name,
        "--label",
        &format!("berth-bench.app={app}"),
        "-p",
        "127.0.0.1::8080",
        image,
    ]));
    lap("run", since);
    let port = run(Command::new("docker").args(["port", &name, "8080/tcp"]));
    let addr = port
        .lines()
        .next()
        .unwrap()
        .trim()
        .replace("0.0.0.0", "127.0.0.1");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if matches!(http_get(&addr, "/healthz"), Some((200, _))) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bare container never became healthy"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    lap("port + health", since);
    if let Some(old) = previous.replace(name) {
        run(Command::new("docker").args(["rm", "-f", &old]));
    }
    lap("rm -f old", since);
}

/// The docker CLI steps a redeploy replaces, with the same health probing as Berth.
fn bare_redeploy(repo: &git::Repo, app: &str, round: usize, previous: &mut Option<String>) -> f64 {
    let t = Instant::now();
    let mut since = Instant::now();
    let tag = format!("berth-bench/{app}:{round}");
    let script = format!(
        "git -C '{}' archive --format=tar HEAD | DOCKER_BUILDKIT=0 docker build -q --label berth-bench.app={app} -t {tag} - >/dev/null",
        repo.path_str()
    );
    run(Command::new("sh").args(["-c", &script]));
    lap("build", &mut since);
    bare_switch(
        app,
        format!("{app}-bare-{round}"),
        &tag,
        previous,
        &mut since,
    );
    ms(t.elapsed())
}

/// `berth deploy APP EXTRA…`, timed from the command's start to its exit 0.
pub(crate) fn berth_redeploy(b: &Berth, app: &str, extra: &[&str]) -> f64 {
    let t = Instant::now();
    let mut args = vec!["deploy", app];
    args.extend_from_slice(extra);
    b.ok(&args);
    ms(t.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".to_owned());
    if which == "all" || which == "core" {
        core().await;
    }
    if which == "all" || which == "routing" {
        routing::run();
    }
    if which == "all" || which == "desktop" {
        desktop::run().await;
    }
    if which == "all" || which == "relay" {
        relay::run().await;
    }
    if which == "all" || which == "images" {
        images::run();
    }
    if which == "all" || which == "monitor" {
        monitor::run_all().await;
    }
    if which == "all" || which == "backups" {
        backups::run();
    }
    if which == "all" || which == "redeploys" {
        redeploys::run();
    }
    if which == "fleet" {
        monitor::fleet().await;
    }
}

async fn core() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let pings = 300;
    let verbose = std::env::args().any(|a| a == "-v" || a == "--verbose");
    println!("berth-bench: {pings} pings per path, {rounds} redeploy rounds\n");

    // --- Docker API latency -------------------------------------------------------------
    let local = Host::connect(
        "local",
        berth_ssh::local(),
        "/var/run/docker.sock",
        Instant::now(),
    )
    .await
    .unwrap();
    let ssh = Ssh::new().await;
    let mut connect_embedded = Vec::new();
    let mut connect_system = Vec::new();
    if std::env::var_os("BENCH_TRACE").is_some() {
        for _ in 0..3 {
            let t = Instant::now();
            let tr = ssh.connect(false).await;
            let a = ms(t.elapsed());
            let f = tr
                .forward(berth_ssh::RemoteTarget::Unix("/var/run/docker.sock".into()))
                .await
                .unwrap();
            let b = ms(t.elapsed());
            drop(f);
            tr.close().await;
            println!("    embedded: session {a:.1} ms, + forward {b:.1} ms");
        }
    }
    for _ in 0..5 {
        let t = Instant::now();
        let tr = ssh.connect(false).await;
        let h = Host::connect("bench", tr, "/var/run/docker.sock", t)
            .await
            .unwrap();
        connect_embedded.push(ms(t.elapsed()));
        h.close().await;
        let t = Instant::now();
        let tr = ssh.connect(true).await;
        let h = Host::connect("bench", tr, "/var/run/docker.sock", t)
            .await
            .unwrap();
        connect_system.push(ms(t.elapsed()));
        h.close().await;
    }
    let embedded = Host::connect(
        "bench",
        ssh.connect(false).await,
        "/var/run/docker.sock",
        Instant::now(),
    )
    .await
    .unwrap();
    let system = Host::connect(
        "bench",
        ssh.connect(true).await,
        "/var/run/docker.sock",
        Instant::now(),
    )
    .await
    .unwrap();
    // Alternate the paths so load on the machine hits them alike.
    let (mut d, mut e, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        d.push(ping_latency(&local, pings / 5).await);
        e.push(ping_latency(&embedded, pings / 5).await);
        s.push(ping_latency(&system, pings / 5).await);
    }
    let (direct, emb, sys) = (median(d), median(e), median(s));
    let (mut ld, mut le, mut ls) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        ld.push(list_latency(&local, 20).await);
        le.push(list_latency(&embedded, 20).await);
        ls.push(list_latency(&system, 20).await);
    }
    let (ldirect, lemb, lsys) = (median(ld), median(le), median(ls));
    let home = cli_home(&ssh);
    let cli_ssh = docker_cli_ssh(&ssh, home.path(), 9);
    let cli_local = docker_cli_local(9);
    embedded.close().await;
    system.close().await;

    println!("Docker API call (GET /_ping), median:");
    println!("  direct on the local socket          {direct:8.3} ms   1.00x");
    println!(
        "  berth, open session (embedded ssh)  {emb:8.3} ms   {:.2}x",
        emb / direct
    );
    println!(
        "  berth, open session (system ssh)    {sys:8.3} ms   {:.2}x",
        sys / direct
    );
    println!(
        "  docker -H ssh:// (CLI, per call)    {cli_ssh:8.1} ms   {:.0}x",
        cli_ssh / direct
    );
    println!(
        "  docker CLI on the local socket      {cli_local:8.1} ms   (process start-up included)"
    );
    println!(
        "  docker -H ssh:// vs local CLI       {:.1}x",
        cli_ssh / cli_local
    );
    println!("Docker API call a deploy makes (GET /images/json?filters=label…), median:");
    println!("  direct on the local socket          {ldirect:8.3} ms   1.00x");
    println!(
        "  berth, open session (embedded ssh)  {lemb:8.3} ms   {:.2}x",
        lemb / ldirect
    );
    println!(
        "  berth, open session (system ssh)    {lsys:8.3} ms   {:.2}x",
        lsys / ldirect
    );
    println!("SSH connect + Docker version negotiation, median of 5:");
    println!(
        "  embedded ssh                        {:8.1} ms",
        median(connect_embedded)
    );
    println!(
        "  system ssh (resuming the live master) {:6.1} ms",
        median(connect_system)
    );

    if std::env::var("BENCH_ONLY").as_deref() == Ok("api") {
        return;
    }

    // --- Redeploy -------------------------------------------------------------------------
    ensure_busybox();
    let repo = git::web_app("v1");
    let app = unique("bench");
    let _guard = AppGuard(app.clone());
    let b = Berth::new();
    b.ok(&["server", "add", "local", "--local"]);
    let key = ssh.sshd.user_key.display().to_string();
    b.ok(&[
        "server",
        "add",
        "ssh",
        "--ssh",
        &ssh.sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
    ]);
    // The default transport, as a new user has it: the system OpenSSH client.
    b.ok(&[
        "server",
        "add",
        "sys",
        "--ssh",
        &ssh.sshd.target(),
        "--identity",
        &key,
        "--transport",
        "system",
        "--accept-new",
    ]);
    let app_ssh = format!("{app}-ssh");
    let _guard_ssh = AppGuard(app_ssh.clone());
    let app_sys = format!("{app}-sys");
    let _guard_sys = AppGuard(app_sys.clone());
    b.ok(&[
        "app",
        "create",
        &app,
        "--server",
        "local",
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    b.ok(&[
        "app",
        "create",
        &app_ssh,
        "--server",
        "ssh",
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    b.ok(&[
        "app",
        "create",
        &app_sys,
        "--server",
        "sys",
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    // Warm every cache once.
    b.ok(&["deploy", &app]);
    b.ok(&["deploy", &app_ssh]);
    b.ok(&["deploy", &app_sys]);
    let mut previous = None;
    bare_redeploy(&repo, &app, 0, &mut previous);
    let (mut bare, mut local_d, mut ssh_d) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sys_warm, mut sys_cold) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        bare.push(bare_redeploy(&repo, &app, round, &mut previous));
        local_d.push(berth_redeploy(&b, &app, &[]));
        ssh_d.push(berth_redeploy(&b, &app_ssh, &[]));
        // Warm: the master the previous command left is reused.
        sys_warm.push(berth_redeploy(&b, &app_sys, &[]));
        // Cold: no live master (the first command after a while, or after a reboot).
        forget_shared_masters();
        sys_cold.push(berth_redeploy(&b, &app_sys, &[]));
        if verbose {
            println!(
                "  round {round}: bare {:.0} ms, berth local {:.0} ms, berth ssh {:.0} ms, system ssh warm {:.0} ms, cold {:.0} ms",
                bare[round - 1],
                local_d[round - 1],
                ssh_d[round - 1],
                sys_warm[round - 1],
                sys_cold[round - 1]
            );
        }
    }
    if let Some(old) = previous {
        run(Command::new("docker").args(["rm", "-f", &old]));
    }
    if verbose {
        for a in [&app, &app_ssh] {
            let last = &b.ok(&["deployments", a, "--limit", "1", "--json"]).json()[0];
            let steps: Vec<String> = last["steps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| format!("{} {}", s["step"].as_str().unwrap(), s["duration_ms"]))
                .collect();
            println!("  last berth deploy of {a}: {}", steps.join(", "));
        }
    }
    let (bare, local_d, ssh_d) = (median(bare), median(local_d), median(ssh_d));
    let (sys_warm, sys_cold) = (median(sys_warm), median(sys_cold));
    println!("Redeploy of a small cached app (busybox httpd), median of {rounds}, alternated:");
    println!("  bare docker CLI steps               {bare:8.0} ms   1.00x");
    println!(
        "  berth deploy, local server          {local_d:8.0} ms   {:.2}x",
        local_d / bare
    );
    println!(
        "  berth deploy, over embedded ssh     {ssh_d:8.0} ms   {:.2}x",
        ssh_d / bare
    );
    println!(
        "  berth deploy, system ssh, warm      {sys_warm:8.0} ms   {:.2}x",
        sys_warm / bare
    );
    println!(
        "  berth deploy, system ssh, cold      {sys_cold:8.0} ms   {:.2}x",
        sys_cold / bare
    );
    b.ok(&["app", "rm", &app, "--purge"]);
    b.ok(&["app", "rm", &app_ssh, "--purge"]);
    b.ok(&["app", "rm", &app_sys, "--purge"]);
    forget_shared_masters();
    for round in 0..=rounds {
        let _ = Command::new("docker")
            .args(["rmi", &format!("berth-bench/{app}:{round}")])
            .output();
    }
}
