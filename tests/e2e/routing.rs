//! Routing through a real Caddy (built FROM scratch out of Debian's caddy): domains, the
//! zero-downtime switch under load, failed deploys keeping the old route, Caddy restarts,
//! bad input, an adopted Caddy, TLS state.
//!
//! One `berth-proxy` per Docker host: these tests take a lock and remove the proxy (container,
//! volumes, admin socket dir) when they end.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, CADDY, containers_of, ensure_caddy};
use berth_testkit::{Berth, Sshd, free_port, git, http_get_host, unique};

static PROXY: Mutex<()> = Mutex::new(());

/// Holds the proxy lock; removes the proxy and its volumes when dropped.
pub(crate) struct ProxyGuard {
    _lock: MutexGuard<'static, ()>,
}

fn remove_proxy() {
    let _ = Command::new("docker")
        .args(["rm", "-f", "berth-proxy", "berth-proxy-previous"])
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

impl ProxyGuard {
    pub(crate) fn take() -> ProxyGuard {
        let lock = PROXY.lock().unwrap_or_else(|e| e.into_inner());
        remove_proxy();
        ProxyGuard { _lock: lock }
    }
}

impl Drop for ProxyGuard {
    fn drop(&mut self) {
        remove_proxy();
    }
}

/// A server over embedded SSH with the proxy installed (plain HTTP on a free port).
struct Routed {
    _guard: ProxyGuard,
    _sshd: Sshd,
    b: Berth,
    http: u16,
}

fn routed(tls: &str) -> Routed {
    let guard = ProxyGuard::take();
    ensure_caddy();
    berth_testkit::docker::ensure_busybox();
    let sshd = Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("prod", &sshd);
    let http = free_port();
    let https = free_port();
    b.ok(&[
        "server",
        "proxy",
        "install",
        "prod",
        "--image",
        CADDY,
        "--tls",
        tls,
        "--http-port",
        &http.to_string(),
        "--https-port",
        &https.to_string(),
    ]);
    Routed {
        _guard: guard,
        _sshd: sshd,
        b,
        http,
    }
}

/// Runs `during` under three request loops through Caddy at `host`; asserts none failed and
/// returns the bodies seen, in the order they changed (the same for every loop).
fn under_load(http: u16, host: &str, during: impl FnOnce()) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            let host = host.to_owned();
            std::thread::spawn(move || {
                let (mut ok, mut failed, mut seen) = (0u32, Vec::new(), Vec::<String>::new());
                while !stop.load(Ordering::Relaxed) {
                    match through_caddy(http, &host) {
                        Some((200, body)) => {
                            ok += 1;
                            if seen.last() != Some(&body) {
                                seen.push(body);
                            }
                        }
                        other => failed.push(format!("{other:?}")),
                    }
                }
                (ok, failed, seen)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    during();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for load in loads {
        let (ok, failed, seen) = load.join().unwrap();
        assert!(
            failed.is_empty(),
            "{} failed requests during the switch: {failed:?}",
            failed.len()
        );
        assert!(ok > 20, "only {ok} requests ran during the switch");
        all.push(seen);
    }
    all.dedup();
    assert_eq!(all.len(), 1, "every loop saw the same: {all:?}");
    all.remove(0)
}

fn through_caddy(port: u16, host: &str) -> Option<(u16, String)> {
    http_get_host(&format!("127.0.0.1:{port}"), host, "/")
        .map(|(s, body)| (s, body.trim().to_owned()))
}

#[test]
fn zero_downtime_switch_under_load_and_failed_deploys_keep_the_route() {
    let r = routed("off");
    let b = &r.b;
    let app = unique("web");
    let _app = AppGuard(app.clone());
    let repo = git::web_app("v1");
    b.ok(&[
        "server",
        "set",
        "prod",
        "--base-domain",
        "apps.example.test",
    ]);
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
        "--health-timeout",
        "8",
        "--drain-timeout",
        "5",
    ]);
    b.ok(&[
        "domain",
        "add",
        &app,
        "www.example.test",
        "--primary",
        "--apply",
    ]);
    b.ok(&["deploy", &app]);
    let auto = format!("{app}.apps.example.test");
    assert_eq!(
        through_caddy(r.http, "www.example.test"),
        Some((200, "hello v1".into()))
    );
    assert_eq!(through_caddy(r.http, &auto), Some((200, "hello v1".into())));

    let st = b.ok(&["status", &app, "--json"]).json();
    let urls: Vec<&str> = st["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!("http://www.example.test:{}", r.http),
            format!("http://{auto}:{}", r.http)
        ]
    );
    assert_eq!(st["domains"][0]["tls"]["state"], "off");

    // Redeploy under continuous request loops: nothing fails, v1 turns into v2. Adding and
    // removing a domain meanwhile changes Caddy's config too: each change swaps its listening
    // socket, and a connection queued on the old one must still be answered.
    repo.commit_version("v2");
    let seen = under_load(r.http, "www.example.test", || {
        b.ok(&["domain", "add", &app, "extra.example.test", "--apply"]);
        b.ok(&["deploy", &app]);
        b.ok(&["domain", "rm", &app, "extra.example.test", "--apply"]);
    });
    assert_eq!(
        seen,
        ["hello v1", "hello v2"],
        "responses switch once, from v1 to v2"
    );
    assert_eq!(containers_of(&app).len(), 1);

    // Edits wait, shown by `plan`; `apply` restarts blue-green under the same load.
    b.ok(&["env", "set", &app, "GREETING=applied"]);
    let set = b.ok(&["app", "set", &app, "--memory", "64m"]);
    assert!(
        set.stderr.contains(&format!("berth apply {app}")),
        "{}",
        set.stderr
    );
    let plan = b.ok(&["plan", &app, "--json"]).json();
    assert_eq!(plan["diff"]["effect"], "restart", "{plan}");
    let fields: Vec<&str> = plan["diff"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["memory", "env GREETING"]);
    let before = containers_of(&app);
    let seen = under_load(r.http, "www.example.test", || {
        let applied = b.ok(&["apply", &app, "--yes"]);
        assert!(
            applied.stderr.contains("memory: - → 64 MiB"),
            "{}",
            applied.stderr
        );
    });
    assert_eq!(seen, ["hello v2"], "the same image serves throughout");
    let after = containers_of(&app);
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "a new container runs the new settings");
    assert_eq!(
        berth_testkit::docker::inspect(&after[0], "{{.HostConfig.Memory}}"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        b.ok(&["plan", &app, "--json"]).json()["diff"]["changes"],
        serde_json::json!([])
    );

    // An apply that fails (a port the app does not listen on) leaves what serves, and the
    // change pending until discarded.
    b.ok(&["app", "set", &app, "--port", "9090"]);
    let failed = b.fails(&["apply", &app, "--yes"]);
    assert!(failed.stderr.contains("health-check"), "{}", failed.stderr);
    assert_eq!(containers_of(&app), after, "the serving container stays");
    assert_eq!(
        through_caddy(r.http, "www.example.test"),
        Some((200, "hello v2".into()))
    );
    let plan = b.ok(&["plan", &app]).stderr;
    assert!(plan.contains("port: 8080 → 9090"), "{plan}");
    b.ok(&["discard", &app]);
    assert_eq!(b.ok(&["app", "show", &app, "--json"]).json()["port"], 8080);
    assert!(b.ok(&["plan", &app]).stderr.contains("nothing pending"));

    // A deploy that fails its health check leaves the route on the serving container.
    repo.remove("www/healthz", "drop healthz");
    let failed = b.fails(&["deploy", &app]);
    assert!(
        failed.stderr.contains("failed at step health-check"),
        "{}",
        failed.stderr
    );
    assert_eq!(
        through_caddy(r.http, "www.example.test"),
        Some((200, "hello v2".into()))
    );
    assert_eq!(containers_of(&app).len(), 1);

    // Routes survive a restart of the Caddy container.
    berth_testkit::run(Command::new("docker").args(["restart", "-t", "2", "berth-proxy"]));
    let deadline = Instant::now() + Duration::from_secs(15);
    while through_caddy(r.http, "www.example.test") != Some((200, "hello v2".into())) {
        assert!(
            Instant::now() < deadline,
            "the route did not come back after a Caddy restart"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = b
        .ok(&["server", "proxy", "status", "prod", "--json"])
        .json();
    assert_eq!(status["reachable"], true);
    assert_eq!(
        status["routes"],
        serde_json::json!([format!("berth-app-{app}")])
    );

    // A domain added to a deployed app is a pending change: not routed until applied, and
    // applying it is a route change only (the same container serves).
    let added = b.ok(&["domain", "add", &app, "shop.example.test"]);
    assert!(added.stderr.contains("once applied"), "{}", added.stderr);
    assert_ne!(
        through_caddy(r.http, "shop.example.test"),
        Some((200, "hello v2".into()))
    );
    let listed = b.ok(&["domain", "ls", &app, "--json"]).json();
    let shop = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "shop.example.test")
        .cloned()
        .unwrap_or_default();
    assert_eq!(shop["pending"], "to add", "{listed:#}");
    let plan = b.ok(&["plan", &app, "--json"]).json();
    assert_eq!(plan["diff"]["effect"], "route", "{plan}");
    let serving = containers_of(&app);
    b.ok(&["apply", &app, "--yes"]);
    assert_eq!(
        through_caddy(r.http, "shop.example.test"),
        Some((200, "hello v2".into()))
    );
    assert_eq!(containers_of(&app), serving, "a route change only");
    // Removing a domain unroutes it; removing the app removes its route.
    // Another domain becomes the primary one (its URL comes first), and back.
    let r2 = b.fails(&["domain", "primary", &app, "nowhere.example.test", "--apply"]);
    assert!(r2.stderr.contains("is not a domain of"), "{}", r2.stderr);
    b.ok(&["domain", "primary", &app, "shop.example.test", "--apply"]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert!(
        st["urls"][0]
            .as_str()
            .unwrap()
            .contains("shop.example.test"),
        "{st}"
    );
    assert!(b.ok(&["plan", &app]).stderr.contains("nothing pending"));
    b.ok(&["domain", "primary", &app, "www.example.test", "--apply"]);
    b.ok(&["domain", "rm", &app, "shop.example.test", "--apply"]);
    assert_ne!(
        through_caddy(r.http, "shop.example.test"),
        Some((200, "hello v2".into()))
    );
    b.ok(&["app", "rm", &app, "--purge"]);
    let status = b
        .ok(&["server", "proxy", "status", "prod", "--json"])
        .json();
    assert_eq!(status["routes"], serde_json::json!([]));
}

#[test]
fn bad_domains_conflicts_and_missing_proxies_are_refused() {
    let r = routed("off");
    let b = &r.b;
    let (web, api) = (unique("web"), unique("api"));
    let _g1 = AppGuard(web.clone());
    let _g2 = AppGuard(api.clone());
    let repo = git::web_app("v1");
    b.ok(&["app", "create", &web, "--git", &repo.path_str()]);
    b.ok(&["app", "create", &api, "--git", &repo.path_str()]);
    for bad in [
        "exa mple.com",
        "-bad.example.com",
        "https://example.com",
        "example.com/path",
        "localhost",
        "a..b.com",
        "ünï.example.com",
        "127.0.0.1",
    ] {
        let r = b.fails(&["domain", "add", &web, bad, "--apply"]);
        assert!(r.stderr.contains("domain"), "{bad}: {}", r.stderr);
    }
    b.ok(&[
        "domain",
        "add",
        &web,
        "www.example.test",
        "--primary",
        "--apply",
    ]);
    let taken = b.fails(&["domain", "add", &api, "WWW.example.test", "--apply"]);
    assert!(
        taken.stderr.contains(&format!("used by app `{web}`")),
        "{}",
        taken.stderr
    );
    let primary = b.fails(&["domain", "rm", &web, "www.example.test", "--apply"]);
    assert!(
        primary.stderr.contains("primary domain"),
        "{}",
        primary.stderr
    );
    b.ok(&[
        "server",
        "set",
        "prod",
        "--base-domain",
        "apps.example.test",
    ]);
    let auto = b.fails(&[
        "domain",
        "add",
        &web,
        &format!("{api}.apps.example.test"),
        "--apply",
    ]);
    assert!(
        auto.stderr.contains(&format!("used by app `{api}`")),
        "{}",
        auto.stderr
    );
    let list = b.ok(&["domain", "ls", &web, "--json"]).json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "www.example.test".to_owned(),
            format!("{web}.apps.example.test")
        ]
    );

    // A server without a proxy, and a proxy whose admin endpoint cannot be reached.
    b.ok(&["server", "add", "bare", "--local"]);
    b.ok(&[
        "app",
        "create",
        "lonely",
        "--server",
        "bare",
        "--git",
        &repo.path_str(),
    ]);
    let none = b.fails(&["domain", "add", "lonely", "lonely.example.test", "--apply"]);
    assert!(none.stderr.contains("has no proxy"), "{}", none.stderr);
    let unreachable = b.fails(&[
        "server",
        "proxy",
        "install",
        "bare",
        "--admin",
        "unix:/run/berth-no-such-caddy.sock",
    ]);
    assert!(
        unreachable.stderr.contains("berth-no-such-caddy.sock"),
        "{}",
        unreachable.stderr
    );
    let remote = b.fails(&[
        "server",
        "proxy",
        "install",
        "bare",
        "--admin",
        "203.0.113.5:2019",
    ]);
    assert!(remote.stderr.contains("loopback"), "{}", remote.stderr);
    berth_testkit::run(Command::new("docker").args(["stop", "-t", "1", "berth-proxy"]));
    let down = b.fails(&["domain", "add", &web, "down.example.test", "--apply"]);
    assert!(
        down.stderr.to_lowercase().contains("caddy"),
        "{}",
        down.stderr
    );
    let list = b.ok(&["domain", "ls", &web, "--json"]).json();
    assert_eq!(list.as_array().unwrap().len(), 2, "nothing was recorded");
}

#[test]
fn internal_tls_shows_the_certificate_caddy_serves() {
    let r = routed("internal");
    let b = &r.b;
    let app = unique("tls");
    let _g = AppGuard(app.clone());
    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    b.ok(&[
        "domain",
        "add",
        &app,
        "secure.example.test",
        "--primary",
        "--apply",
    ]);
    b.ok(&["deploy", &app]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let st = b.ok(&["status", &app, "--json"]).json();
        let tls = &st["domains"][0]["tls"];
        if tls["state"] == "issued" {
            assert!(
                tls["issuer"]
                    .as_str()
                    .unwrap()
                    .contains("Caddy Local Authority"),
                "{tls:#}"
            );
            assert!(tls["not_after"].as_i64().unwrap() > 0);
            assert!(
                st["urls"][0]
                    .as_str()
                    .unwrap()
                    .starts_with("https://secure.example.test:")
            );
            break;
        }
        assert!(Instant::now() < deadline, "no certificate issued: {tls:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn an_existing_caddy_can_be_adopted() {
    let _guard = ProxyGuard::take();
    berth_testkit::docker::ensure_busybox();
    // A Caddy on the host (not in Docker), admin on a unix socket, one site of its own.
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.sock");
    let http = free_port();
    let config = serde_json::json!({
        "admin": {"listen": format!("unix/{}", admin.display())},
        "apps": {"http": {"servers": {"main": {
            "listen": [format!(":{http}")],
            "automatic_https": {"disable": true},
            "routes": [{"handle": [{"handler": "static_response", "body": "the user's own site"}]}]
        }}}}
    });
    std::fs::write(dir.path().join("caddy.json"), config.to_string()).unwrap();
    let mut caddy = Command::new("caddy")
        .args(["run", "--config"])
        .arg(dir.path().join("caddy.json"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !admin.exists() {
        assert!(Instant::now() < deadline, "caddy did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let adopted = b.ok(&[
        "server",
        "proxy",
        "install",
        "here",
        "--admin",
        &format!("unix:{}", admin.display()),
        "--tls",
        "off",
        "--json",
    ]);
    assert_eq!(adopted.json()["mode"], "adopted");
    let app = unique("adopt");
    let _g = AppGuard(app.clone());
    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    b.ok(&["domain", "add", &app, "adopted.example.test", "--apply"]);
    b.ok(&["deploy", &app]);
    assert_eq!(
        through_caddy(http, "adopted.example.test"),
        Some((200, "hello v1".into()))
    );
    assert_eq!(
        through_caddy(http, "other.example.test"),
        Some((200, "the user's own site".into()))
    );
    repo.commit_version("v2");
    b.ok(&["deploy", &app]);
    assert_eq!(
        through_caddy(http, "adopted.example.test"),
        Some((200, "hello v2".into()))
    );
    // The adopted Caddy dials the container's published loopback port, which Docker picks
    // anew each time it starts: `berth start` re-points the route, and so does the next
    // `status` after Docker restarted it behind Berth's back.
    let port_of = |b: &Berth| b.ok(&["status", &app, "--json"]).json()["endpoint"].clone();
    let before = port_of(&b);
    b.ok(&["stop", &app]);
    b.ok(&["start", &app]);
    assert_ne!(port_of(&b), before, "Docker published a new port");
    assert_eq!(
        through_caddy(http, "adopted.example.test"),
        Some((200, "hello v2".into()))
    );
    let container = b.ok(&["status", &app, "--json"]).json()["container"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = port_of(&b);
    berth_testkit::run(Command::new("docker").args(["restart", "-t", "1", &container]));
    b.ok(&["status", &app]);
    assert_ne!(port_of(&b), before, "Docker published a new port");
    assert_eq!(
        through_caddy(http, "adopted.example.test"),
        Some((200, "hello v2".into()))
    );
    let _ = caddy.kill();
    let _ = caddy.wait();
}

/// Runs `berth deploy APP` until it says it paused after `action` (the debug build's
/// `BERTH_PAUSE_AFTER` hook), then kills it with SIGKILL: no clean-up, no unlock but the OS's.
fn deploy_killed_after(b: &Berth, app: &str, action: &str) {
    use std::io::{BufRead, BufReader};
    let mut child = b
        .cmd(&["deploy", app])
        .env("BERTH_PAUSE_AFTER", action)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(&format!("paused after {action}")) {
            break;
        }
    }
    assert!(
        seen.contains(&format!("paused after {action}")),
        "the deploy ended before pausing after {action}:\n{seen}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_deploy_killed_at_any_step_leaves_one_serving_version() {
    let r = routed("off");
    let b = &r.b;
    let app = unique("killed");
    let _app = AppGuard(app.clone());
    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
        "--drain-timeout",
        "2",
    ]);
    b.ok(&["domain", "add", &app, "killed.example.test", "--apply"]);
    b.ok(&["deploy", &app]);
    let serving = || through_caddy(r.http, "killed.example.test");
    assert_eq!(serving(), Some((200, "hello v1".into())));

    // (where the deploy is killed, what serves afterwards, what the record says)
    let cases = [
        ("start", "v1", "interrupted"),
        ("route", "v3", "active"),
        ("activate", "v4", "active"),
    ];
    for (i, (action, serves, recorded)) in cases.into_iter().enumerate() {
        let version = format!("v{}", i + 2);
        let commit = repo.commit_version(&version);
        deploy_killed_after(b, &app, action);
        // The app keeps answering through Caddy right after the kill.
        assert_eq!(
            serving(),
            Some((200, format!("hello {serves}"))),
            "killed after {action}"
        );
        // The next status settles what the dead process left and tells the truth.
        let st = b.ok(&["status", &app, "--json"]).json();
        assert_eq!(st["state"], "running", "killed after {action}: {st:#}");
        assert_eq!(
            st["last_deploy"]["status"], recorded,
            "killed after {action}: {st:#}"
        );
        let endpoint = st["endpoint"].as_str().unwrap();
        assert_eq!(
            berth_testkit::http_get(endpoint, "/").map(|(_, body)| body.trim().to_owned()),
            Some(format!("hello {serves}")),
            "status names the container Caddy serves (killed after {action})"
        );
        if recorded == "active" {
            assert_eq!(st["commit"], commit.as_str(), "{st:#}");
        }
        if action != "activate" {
            assert_eq!(
                containers_of(&app).len(),
                1,
                "killed after {action}: one container left"
            );
        }
    }
    // The next deploy goes through and leaves one container.
    repo.commit_version("v5");
    b.ok(&["deploy", &app]);
    assert_eq!(serving(), Some((200, "hello v5".into())));
    assert_eq!(containers_of(&app).len(), 1);
    let history = b.ok(&["deployments", &app, "--json"]).json();
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "active",
            "superseded",
            "superseded",
            "interrupted",
            "superseded"
        ],
        "{history:#}"
    );
    assert_eq!(
        berth_testkit::docker::images_of(&app).len(),
        4,
        "the interrupted deploy's image was removed"
    );
}
