//! The webhook relay end to end: the real relay container (built FROM scratch on the server
//! through the Docker API over SSH), real Caddy in front of it, signed GitHub/GitLab/Gitea push
//! payloads over real HTTP, attended deploys by the real `berth watch`.
//!
//! One `berth-relay` (and one `berth-proxy`) per Docker host: these tests hold the proxy lock
//! and remove the relay (container, volume, socket dir, images) when they end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_model::Provider;
use berth_testkit::docker::{AppGuard, CADDY, ensure_caddy, gateway, remove_relay};
use berth_testkit::{
    Berth, LoginUser, Sshd, free_port, git, http_get, http_get_host, http_post,
    notification_sink_on, unique,
};

use crate::routing::ProxyGuard;

/// The proxy lock (one Caddy and one relay per host), and the relay removed on both ends.
pub(crate) struct RelayGuard {
    _proxy: ProxyGuard,
}

impl RelayGuard {
    pub(crate) fn take() -> RelayGuard {
        let proxy = ProxyGuard::take();
        remove_relay();
        RelayGuard { _proxy: proxy }
    }
}

impl Drop for RelayGuard {
    fn drop(&mut self) {
        remove_relay();
    }
}

struct Setup {
    _guard: RelayGuard,
    _sshd: Sshd,
    b: Berth,
    /// The relay's loopback port.
    relay: u16,
}

/// A server over embedded SSH with the relay installed (and, with `proxy_port`, Caddy in
/// front of it on `hooks.test`).
fn setup(proxy_port: Option<u16>) -> Setup {
    let guard = RelayGuard::take();
    berth_testkit::docker::ensure_busybox();
    let sshd = Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("prod", &sshd);
    let relay = free_port();
    let mut install = vec![
        "server".to_owned(),
        "relay".to_owned(),
        "install".to_owned(),
        "prod".to_owned(),
        "--listen-port".to_owned(),
        relay.to_string(),
    ];
    if let Some(http) = proxy_port {
        ensure_caddy();
        b.ok(&[
            "server",
            "proxy",
            "install",
            "prod",
            "--image",
            CADDY,
            "--tls",
            "off",
            "--http-port",
            &http.to_string(),
            "--https-port",
            &free_port().to_string(),
        ]);
        install.extend(["--hooks-domain".to_owned(), "hooks.test".to_owned()]);
    }
    let args: Vec<&str> = install.iter().map(String::as_str).collect();
    b.ok(&args);
    Setup {
        _guard: guard,
        _sshd: sshd,
        b,
        relay,
    }
}

/// `app create APP` on `prod` from `repo`, serving on 8080 with a health check.
fn create_app(b: &Berth, app: &str, repo: &git::Repo) {
    create_app_from(b, app, &repo.path_str(), &[]);
}

/// The same from a git source `git` (a path or a URL), with `env` for `berth`.
fn create_app_from(b: &Berth, app: &str, git: &str, env: &[(&str, &str)]) {
    let args = [
        "app",
        "create",
        app,
        "--server",
        "prod",
        "--git",
        git,
        "--port",
        "8080",
        "--health-path",
        "/healthz",
    ];
    let created = b.run_with_env(&args, env);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
}

/// Enables a webhook and returns (path, secret).
fn enable(b: &Berth, app: &str, provider: &str) -> (String, String) {
    let w = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            app,
            "--provider",
            provider,
            "--json",
        ])
        .json();
    hook_of(&w)
}

/// (path, secret) of `app webhook enable --json`'s answer.
pub(crate) fn hook_of(w: &serde_json::Value) -> (String, String) {
    let url = w["url"].as_str().unwrap();
    let path = url[url.find("/hooks/").unwrap()..].to_owned();
    (path, w["secret"].as_str().unwrap().to_owned())
}

fn body_for(provider: Provider, git_ref: &str, commit: &str) -> Vec<u8> {
    use berth_hooks::fixtures;
    match provider {
        Provider::Github => fixtures::github_push(git_ref, commit, "a commit"),
        Provider::Gitlab => fixtures::gitlab_push(git_ref, commit, "a commit"),
        Provider::Gitea => fixtures::gitea_push(git_ref, commit, "a commit"),
        Provider::Generic => fixtures::generic_push(git_ref, commit),
    }
}

/// POSTs a push as `provider` would sign it; (status, answer).
/// Where a delivery goes: an address, the `Host` header, the hook's path.
struct To<'a>(&'a str, &'a str, &'a str);

fn push(
    to: &To<'_>,
    provider: Provider,
    secret: &str,
    delivery: &str,
    git_ref: &str,
    commit: &str,
) -> (u16, serde_json::Value) {
    let body = body_for(provider, git_ref, commit);
    let headers =
        berth_hooks::fixtures::headers(provider, "push", delivery, secret.as_bytes(), &body);
    let (status, answer) = http_post(to.0, to.1, to.2, &headers, &body).unwrap();
    (status, serde_json::from_str(&answer).unwrap_or_default())
}

fn deliveries(b: &Berth, app: &str) -> Vec<serde_json::Value> {
    b.ok(&["app", "webhook", "deliveries", app, "--json"])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

fn deployments(b: &Berth, app: &str) -> usize {
    b.ok(&["deployments", app, "--json"])
        .json()
        .as_array()
        .unwrap()
        .len()
}

fn serving(b: &Berth, app: &str) -> String {
    b.serving(app)
}

/// An HTTP server on loopback that hands every request body it gets to the returned channel.
fn notification_sink() -> (u16, mpsc::Receiver<String>) {
    notification_sink_on("127.0.0.1")
}

#[test]
fn signed_pushes_from_github_gitlab_and_gitea_deploy_and_bad_ones_change_nothing() {
    let http = free_port();
    let s = setup(Some(http));
    let b = &s.b;
    let caddy = format!("127.0.0.1:{http}");
    let app = unique("hook");
    let _app_guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create_app(b, &app, &repo);
    let (sink, notices) = notification_sink();
    b.ok_with_input(
        &["notify", "add", "webhook", "-"],
        &format!("http://127.0.0.1:{sink}/berth\n"),
    );

    // GitHub, through Caddy on the hooks domain, deployed by `berth watch --once`.
    let (path, secret) = enable(b, &app, "github");
    let v1 = repo.head();
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-1",
        "refs/heads/main",
        &v1,
    );
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["verdict"], "queued");
    let out = b.ok(&["watch", "--once"]);
    assert!(
        out.stdout.contains(&format!("{app} deployed {}", &v1[..7])),
        "{}",
        out.stdout
    );
    assert_eq!(serving(b, &app), "hello v1");
    let notice = notices.recv_timeout(Duration::from_secs(10)).unwrap();
    let notice: serde_json::Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(notice["notice"]["app"], app.as_str());
    assert_eq!(notice["notice"]["status"], "deployed");

    // The relay's metrics on the hooks domain, for a Prometheus: only once published, only
    // with the bearer token, and a rotated token replaces the old one.
    let metrics = |token: Option<&str>| {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("Authorization", a)])
            .unwrap_or_default();
        berth_testkit::http_get_with(&caddy, "hooks.test", "/metrics", &headers)
            .map(|(status, _)| status)
    };
    assert_eq!(metrics(None), Some(404), "not published yet");
    let published = b
        .ok(&["server", "relay", "metrics-token", "prod", "--json"])
        .json();
    let token = published["token"].as_str().unwrap_or_default().to_owned();
    assert!(
        published["url"]
            .as_str()
            .is_some_and(|u| u.contains("//hooks.test") && u.ends_with("/metrics")),
        "{published:#}"
    );
    let (status, text) = berth_testkit::http_get_with(
        &caddy,
        "hooks.test",
        "/metrics",
        &[("Authorization", &format!("Bearer {token}"))],
    )
    .unwrap_or_default();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("berth_relay_"), "{text}");
    assert_eq!(metrics(None), Some(401));
    assert_eq!(metrics(Some("not-the-token")), Some(401));
    let rotated = b
        .ok(&[
            "server",
            "relay",
            "metrics-token",
            "prod",
            "--rotate",
            "--json",
        ])
        .json();
    assert_ne!(rotated["token"], published["token"]);
    assert_eq!(
        metrics(Some(&token)),
        Some(401),
        "the old token stops working"
    );
    assert_eq!(
        metrics(rotated["token"].as_str()),
        Some(200),
        "the new one works"
    );

    // Wrong branch: recorded as skipped with the reason; a forged signature: 401, recorded;
    // a body over the limit: 413. None of them deploys.
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-2",
        "refs/heads/feature",
        &v1,
    );
    assert_eq!((status, answer["verdict"].as_str()), (200, Some("skipped")));
    assert!(
        answer["reason"].as_str().unwrap().contains("feature"),
        "{answer}"
    );
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        "not-the-secret-at-all",
        "gh-3",
        "refs/heads/main",
        &v1,
    );
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (401, Some("rejected")),
        "{answer}"
    );
    // Pushes of many commits run to megabytes: 3 MiB is read, verified and judged (GitHub
    // sends up to 25 MB); past the limit it is 413.
    let mut large = body_for(Provider::Github, "refs/heads/feature", &v1);
    large.resize(large.len() + 3 * 1024 * 1024, b' ');
    let headers = berth_hooks::fixtures::headers(
        Provider::Github,
        "push",
        "gh-large",
        secret.as_bytes(),
        &large,
    );
    let (status, answer) = http_post(&caddy, "hooks.test", &path, &headers, &large).unwrap();
    assert_eq!(status, 200, "a 3 MiB push is judged, not refused: {answer}");
    assert!(answer.contains("skipped"), "{answer}");
    let big = vec![b' '; 26 * 1024 * 1024];
    let headers =
        berth_hooks::fixtures::headers(Provider::Github, "push", "gh-4", secret.as_bytes(), &big);
    let (status, _) = http_post(&caddy, "hooks.test", &path, &headers, &big).unwrap();
    assert_eq!(status, 413);
    let before = deployments(b, &app);
    b.ok(&["watch", "--once"]);
    assert_eq!(
        deployments(b, &app),
        before,
        "nothing deployed for bad deliveries"
    );
    let list = deliveries(b, &app);
    let verdicts: Vec<(&str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["verdict"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("rejected", "done"),
            ("skipped", "done"),
            ("rejected", "done"),
            ("skipped", "done"),
            ("queued", "deployed")
        ],
        "{list:#?}"
    );
    assert!(
        list[0]["reason"].as_str().unwrap().contains("limit"),
        "{:?}",
        list[0]
    );
    assert!(
        list[2]["reason"].as_str().unwrap().contains("signature"),
        "{:?}",
        list[2]
    );
    let shown = b.ok(&["app", "webhook", "deliveries", &app]).stdout;
    assert!(
        shown.contains("skipped") && shown.contains("feature"),
        "{shown}"
    );

    // GitLab, straight to the relay's loopback port, deployed by a running `berth watch`.
    let (path, secret) = enable(b, &app, "gitlab");
    let mut watch = b.cmd(&["watch", "--server", "prod"]);
    let mut watch = watch
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let v2 = repo.commit_version("v2");
    let relay = format!("127.0.0.1:{}", s.relay);
    let (status, answer) = push(
        &To(&relay, "relay", &path),
        Provider::Gitlab,
        &secret,
        "gl-1",
        "refs/heads/main",
        &v2,
    );
    assert_eq!(status, 202, "{answer}");
    // The running watch prints one line per result.
    let (lines_tx, lines) = mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let want = format!("{app} deployed {}", &v2[..7]);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.contains(&want)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("the running watch did not report {want:?}: {seen:?}"),
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(serving(b, &app), "hello v2");

    // Gitea, with a wrong token first.
    let (path, secret) = enable(b, &app, "gitea");
    let v3 = repo.commit_version("v3");
    let (status, _) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Gitea,
        "0123456789abcdef0123",
        "gt-0",
        "refs/heads/main",
        &v3,
    );
    assert_eq!(status, 401);
    let (status, _) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Gitea,
        &secret,
        "gt-1",
        "refs/heads/main",
        &v3,
    );
    assert_eq!(status, 202);
    b.ok(&["watch", "--once"]);
    assert_eq!(serving(b, &app), "hello v3");

    // A script's generic push (Bearer token): tag pushes deploy only with a tag pattern.
    let (path, secret) = enable(b, &app, "generic");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Generic,
        &secret,
        "ci-1",
        "refs/tags/v4",
        &v3,
    );
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (200, Some("skipped")),
        "{answer}"
    );
    assert!(
        answer["reason"].as_str().unwrap().contains("tag"),
        "{answer}"
    );
    b.ok(&[
        "app",
        "webhook",
        "enable",
        &app,
        "--provider",
        "generic",
        "--tags",
        "v*",
    ]);
    let v4 = repo.commit_version("v4");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Generic,
        &secret,
        "ci-2",
        "refs/tags/v4",
        &v4,
    );
    assert_eq!(
        status, 202,
        "same URL and secret after changing the filter: {answer}"
    );
    b.ok(&["watch", "--once"]);
    assert_eq!(serving(b, &app), "hello v4");

    // A ping is answered; metrics count what happened (they are served over SSH only).
    let (path, secret) = enable(b, &app, "github");
    let ping = berth_hooks::fixtures::github_ping();
    let headers =
        berth_hooks::fixtures::headers(Provider::Github, "ping", "gh-p", secret.as_bytes(), &ping);
    let (status, answer) = http_post(&caddy, "hooks.test", &path, &headers, &ping).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("\"ping\""), "{answer}");

    // Someone who captured the first push re-sends it with a fresh delivery id (the signature
    // covers only the body): answered 2xx, recorded as a replay, and v1 does not come back.
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-replayed-under-a-new-id",
        "refs/heads/main",
        &v1,
    );
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (200, Some("replay")),
        "{answer}"
    );
    b.ok(&["watch", "--once"]);
    assert_eq!(serving(b, &app), "hello v4", "a replay deploys nothing");
    let replayed = &deliveries(b, &app)[0];
    assert_eq!(replayed["verdict"], "replay", "{replayed:#}");
    assert!(
        replayed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("replay"),
        "{replayed:#}"
    );
    let metrics = b.ok(&["server", "relay", "metrics", "prod"]).stdout;
    assert!(
        metrics.contains(&format!(
            "berth_relay_deliveries_total{{provider=\"github\",app=\"{app}\",verdict=\"rejected\"}} 2"
        )),
        "{metrics}"
    );
    for line in [
        format!("berth_relay_deploy_duration_seconds_count{{app=\"{app}\"}} 4"),
        format!(
            "berth_relay_deploys_total{{app=\"{app}\",status=\"deployed\",trigger=\"webhook\"}}"
        ),
    ] {
        assert!(metrics.contains(&line), "{line}\n{metrics}");
    }

    // History rewritten (a force-push, or an old push of another line of history): a commit
    // that does not descend from the serving one is refused, recorded with the reason, and v4
    // keeps serving.
    let rewritten = repo.rewrite_main(&v1, "v5-rewritten");
    let (status, _) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-rewritten",
        "refs/heads/main",
        &rewritten,
    );
    assert_eq!(status, 202);
    b.run(&["watch", "--once"]);
    assert_eq!(
        serving(b, &app),
        "hello v4",
        "a rewritten history deploys nothing"
    );
    let refused = &deliveries(b, &app)[0];
    assert_eq!(refused["status"], "failed", "{refused:#}");
    let why = refused["result"].as_str().unwrap_or_default();
    assert!(
        why.contains("does not descend from") && why.contains("--allow-force-push"),
        "{refused:#}"
    );
    // Allowed for the app: a rewritten push deploys.
    let shown = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            &app,
            "--provider",
            "github",
            "--allow-force-push",
        ])
        .stdout;
    assert!(shown.contains("force-pushes deploy"), "{shown}");
    let forced = repo.rewrite_main(&v1, "v6-forced");
    let (status, _) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-forced",
        "refs/heads/main",
        &forced,
    );
    assert_eq!(status, 202);
    b.ok(&["watch", "--once"]);
    assert_eq!(serving(b, &app), "hello v6-forced");
    // Disabled: the URL is gone.
    b.ok(&["app", "webhook", "disable", &app]);
    let (status, _) = http_get_host(&caddy, "hooks.test", &path).unwrap();
    assert_eq!(status, 405);
    let (status, _) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "gh-9",
        "refs/heads/main",
        &v3,
    );
    assert_eq!(status, 404);
    // Requests to a hook that no longer exists are still recorded, server-wide.
    let all = b
        .ok(&["server", "relay", "deliveries", "prod", "--json"])
        .json();
    assert_eq!(all[0]["app"], serde_json::Value::Null, "{all:#}");
    assert_eq!(all[0]["http_status"], 404);
    let shown = b.ok(&["server", "relay", "deliveries", "prod"]).stdout;
    assert!(shown.contains("no webhook with this id"), "{shown}");

    // A server with apps is not removed, purge or not, and nothing on it is touched.
    let refused = b.fails(&["server", "rm", "prod", "--purge"]);
    assert!(refused.stderr.contains(&app), "{}", refused.stderr);
    assert!(exists("container", "berth-relay") && exists("container", "berth-proxy"));
    b.ok(&["app", "rm", &app, "--purge"]);
    // Purging the server takes Berth's proxy and relay off it, with their volumes and the
    // relay's image; the server is forgotten.
    let gone = b.ok(&["server", "rm", "prod", "--purge"]);
    assert!(gone.stderr.contains("taken off"), "{}", gone.stderr);
    for (kind, name) in [
        ("container", "berth-relay"),
        ("container", "berth-proxy"),
        ("volume", "berth-relay-data"),
        ("volume", "berth-proxy-data"),
        ("volume", "berth-proxy-config"),
    ] {
        assert!(!exists(kind, name), "{kind} {name} is still on the server");
    }
    let relay_images = berth_testkit::run(Command::new("docker").args([
        "images",
        "-q",
        "--filter",
        "label=berth.role=relay",
    ]));
    assert_eq!(relay_images.trim(), "", "the relay's image is still there");
    assert_eq!(
        b.ok(&["server", "ls", "--json"]).json(),
        serde_json::json!([])
    );
}

/// The relay container's capability drops, security options and root filesystem mode.
fn relay_confinement() -> String {
    berth_testkit::run(Command::new("docker").args([
        "inspect",
        "-f",
        "caps {{.HostConfig.CapDrop}} opts {{.HostConfig.SecurityOpt}} readonly {{.HostConfig.ReadonlyRootfs}}",
        "berth-relay",
    ]))
    .trim()
    .to_owned()
}

/// The user and groups the relay's process really runs as (from /proc), `uid gid`, and its
/// capabilities (effective, hex).
fn relay_process() -> (String, String) {
    let pid = berth_testkit::run(Command::new("docker").args([
        "inspect",
        "-f",
        "{{.State.Pid}}",
        "berth-relay",
    ]));
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_default()
            .to_owned()
    };
    (
        format!("{} {}", field("Uid:"), field("Gid:")),
        field("CapEff:"),
    )
}

fn docker_gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/var/run/docker.sock").unwrap().gid()
}

/// What is mounted into the relay container (`SRC:DST` each).
fn relay_mounts() -> String {
    berth_testkit::run(Command::new("docker").args([
        "inspect",
        "-f",
        "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}",
        "berth-relay",
    ]))
}

/// Whether Docker has the `kind` (container, volume) `name`.
fn exists(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_delivery_accepted_before_the_relay_is_killed_deploys_exactly_once() {
    let s = setup(None);
    let b = &s.b;
    let app = unique("hookk");
    let _app_guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create_app(b, &app, &repo);
    let (path, secret) = enable(b, &app, "github");
    let relay = format!("127.0.0.1:{}", s.relay);
    let v1 = repo.head();
    let (status, _) = push(
        &To(&relay, "relay", &path),
        Provider::Github,
        &secret,
        "k-1",
        "refs/heads/main",
        &v1,
    );
    assert_eq!(status, 202);
    // SIGKILL: no chance to flush anything; the answer above was given after the commit.
    let killed = Command::new("docker")
        .args(["kill", "berth-relay"])
        .output()
        .unwrap();
    assert!(killed.status.success());
    let started = Command::new("docker")
        .args(["start", "berth-relay"])
        .output()
        .unwrap();
    assert!(started.status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_get(&relay, "/healthz").is_none_or(|(s, _)| s != 200) {
        assert!(Instant::now() < deadline, "the relay did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The git host redelivers (same delivery id): recorded, not queued again.
    let (status, answer) = push(
        &To(&relay, "relay", &path),
        Provider::Github,
        &secret,
        "k-1",
        "refs/heads/main",
        &v1,
    );
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (200, Some("duplicate")),
        "{answer}"
    );
    b.ok(&["watch", "--once"]);
    b.ok(&["watch", "--once"]);
    assert_eq!(deployments(b, &app), 1, "deployed exactly once");
    assert_eq!(serving(b, &app), "hello v1");
    let list = deliveries(b, &app);
    let states: Vec<(&str, &str)> = list
        .iter()
        .map(|d| {
            (
                d["verdict"].as_str().unwrap(),
                d["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("duplicate", "done"), ("queued", "deployed")]);
    b.ok(&["app", "rm", &app, "--purge"]);
}

#[test]
fn relay_commands_refuse_what_cannot_work() {
    let _guard = RelayGuard::take();
    let sshd = Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("prod", &sshd);
    let repo = git::web_app("v1");
    let app = unique("hookb");
    b.ok(&[
        "app",
        "create",
        &app,
        "--server",
        "prod",
        "--git",
        &repo.path_str(),
    ]);
    let r = b.fails(&["app", "webhook", "enable", &app, "--provider", "github"]);
    assert!(
        r.stderr.contains("berth server relay install prod"),
        "{}",
        r.stderr
    );
    let r = b.fails(&[
        "server",
        "relay",
        "install",
        "prod",
        "--hooks-domain",
        "hooks.test",
    ]);
    assert!(r.stderr.contains("has no proxy"), "{}", r.stderr);
    let r = b.fails(&[
        "server",
        "relay",
        "install",
        "prod",
        "--hooks-domain",
        "bad domain",
    ]);
    assert!(r.stderr.contains("bad domain"), "{}", r.stderr);
    let r = b.fails(&["watch", "--once"]);
    assert!(
        r.stderr.contains("no server has a webhook relay"),
        "{}",
        r.stderr
    );
    let r = b.run_with_input(&["notify", "add", "ntfy", "-"], "ftp://example.com/x\n");
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("http://"), "{}", r.stderr);
    // Notifier URLs carry their token: never on the command line.
    let r = b.fails(&["notify", "add", "ntfy", "https://ntfy.sh/my-secret-topic"]);
    assert!(r.stderr.contains("berth notify add ntfy -"), "{}", r.stderr);
    // A relay binary that is not a static executable is refused before anything changes.
    let fake = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(fake.path(), b"#!/bin/sh\n").unwrap();
    let r = b.run_with_env(
        &["server", "relay", "install", "prod"],
        &[("BERTH_RELAY_BIN", fake.path().to_str().unwrap())],
    );
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("not a Linux executable"), "{}", r.stderr);
    let ps = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", "name=^berth-relay$"])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "no relay container was created");
    let port = free_port().to_string();
    b.ok(&["server", "relay", "install", "prod", "--listen-port", &port]);
    // An upgrade whose new relay never answers (a static binary that is not the relay) leaves
    // the old one running: it is set aside until its successor answers, and put back.
    let r = b.run_with_env(
        &["server", "relay", "install", "prod", "--listen-port", &port],
        &[("BERTH_RELAY_BIN", "/bin/busybox")],
    );
    assert_ne!(r.code, Some(0));
    assert!(r.stderr.contains("put back"), "{}", r.stderr);
    let status = b
        .ok(&["server", "relay", "status", "prod", "--json"])
        .json();
    assert_eq!(status["answering"], true, "{status:#}");
    let aside = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", "name=^berth-relay-previous$"])
        .output()
        .unwrap();
    assert!(aside.stdout.is_empty(), "nothing left aside");
    let r = b.fails(&[
        "app",
        "webhook",
        "enable",
        &app,
        "--provider",
        "github",
        "--branch",
        "bad branch",
    ]);
    assert!(r.stderr.contains("--branch"), "{}", r.stderr);
    let r = b.fails(&["app", "webhook", "show", &app]);
    assert!(r.stderr.contains("has no webhook"), "{}", r.stderr);
    b.ok(&["app", "webhook", "enable", &app, "--provider", "github"]);
    let shown = b.ok(&["app", "webhook", "show", &app]).stdout;
    assert!(
        shown.contains("--reveal"),
        "secret hidden by default: {shown}"
    );
    let before = b
        .ok(&["app", "webhook", "show", &app, "--reveal", "--json"])
        .json();
    let after = b
        .ok(&["app", "webhook", "rotate-secret", &app, "--json"])
        .json();
    assert_eq!(before["url"], after["url"]);
    assert_ne!(before["secret"], after["secret"]);
}

/// Polls the app's deliveries until the newest has finished (the relay deployed on its own).
fn wait_finished(b: &Berth, app: &str, id: i64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let list = deliveries(b, app);
        if let Some(d) = list.iter().find(|d| d["id"] == id)
            && !matches!(d["status"].as_str(), Some("pending" | "running"))
        {
            return d.clone();
        }
        assert!(
            Instant::now() < deadline,
            "delivery #{id} did not finish: {list:#?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn unattended_pushes_deploy_from_the_git_url_while_berth_is_closed() {
    let http = free_port();
    let s = setup(Some(http));
    let b = &s.b;
    let caddy = format!("127.0.0.1:{http}");
    let app = unique("hooku");
    let _app_guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    let v1 = repo.head();
    // The relay's container reaches this machine's git daemon through the network gateway.
    let daemon = git::GitDaemon::serve(&repo);
    let url = daemon.url(&gateway("berth"));
    create_app_from(b, &app, &url, &[]);
    let host = format!("{app}.test");
    b.ok(&["domain", "add", &app, &host, "--apply"]);
    b.ok_with_input(
        &["env", "set", &app, "GREETING=-", "--secret"],
        "psst-unattended\n",
    );
    b.ok(&["deploy", &app]);
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v1"
    );
    let (sink, notices) = notification_sink_on("0.0.0.0");
    b.ok_with_input(
        &["notify", "add", "webhook", "-"],
        &format!("http://{}:{sink}/berth\n", gateway("berth")),
    );

    // The relay parses what anyone sends: no capability, no new privilege, a read-only root
    // filesystem. It has the Docker socket (it samples and monitors every app) and the host's
    // `/` read-only (its disks), and runs as uid 0 in the Docker socket's group (Caddy's
    // admin socket answers root alone) — still without any capability.
    let confinement = relay_confinement();
    assert_eq!(
        confinement, "caps [ALL] opts [no-new-privileges:true] readonly true",
        "{confinement}"
    );
    let mounts = relay_mounts();
    assert!(
        mounts.contains("docker.sock") && mounts.contains("/:/host "),
        "{mounts}"
    );
    assert_eq!(
        relay_process(),
        (format!("0 {}", docker_gid()), "0000000000000000".to_owned())
    );

    // A local path cannot be fetched by the server: refused, nothing changed.
    let local = unique("hookl");
    let _local_guard = AppGuard(local.clone());
    create_app(b, &local, &repo);
    let refused = b.fails(&[
        "app",
        "webhook",
        "enable",
        &local,
        "--provider",
        "github",
        "--unattended",
    ]);
    assert!(
        refused.stderr.contains("path on this machine"),
        "{}",
        refused.stderr
    );
    assert!(
        b.fails(&["app", "webhook", "show", &local])
            .stderr
            .contains("webhook")
    );

    let w = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            &app,
            "--provider",
            "github",
            "--unattended",
            "--json",
        ])
        .json();
    assert_eq!(w["mode"], "unattended");
    assert_eq!(w["git_url"], url.as_str());
    let st = b
        .ok(&["server", "relay", "status", "prod", "--json"])
        .json();
    assert_eq!(
        (st["unattended"].as_u64(), st["docker"].as_bool()),
        (Some(1), Some(true)),
        "{st:#}"
    );
    // The relay kept its confinement.
    assert_eq!(relay_confinement(), confinement);
    let (path, secret) = hook_of(&w);

    // No `berth watch`, no desktop: the relay fetches, builds, health-checks and switches.
    let v2 = repo.commit_version("v2");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-1",
        "refs/heads/main",
        &v2,
    );
    assert_eq!(status, 202, "{answer}");
    let id = answer["delivery"].as_i64().unwrap();
    let done = wait_finished(b, &app, id);
    assert_eq!(done["status"], "deployed", "{done:#}");
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v2"
    );
    // The secret env value reached the container, and never the relay's log.
    assert_eq!(
        http_get_host(&caddy, &host, "/greeting.txt")
            .unwrap()
            .1
            .trim(),
        "psst-unattended"
    );
    let logs = Command::new("docker")
        .args(["logs", "berth-relay"])
        .output()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&logs.stdout),
        String::from_utf8_lossy(&logs.stderr)
    );
    assert!(!logs.contains("psst-unattended"), "{logs}");
    assert!(!logs.contains(&secret), "{logs}");
    let notice = notices.recv_timeout(Duration::from_secs(20)).unwrap();
    let notice: serde_json::Value = serde_json::from_str(&notice).unwrap();
    assert_eq!(notice["notice"]["status"], "deployed", "{notice:#}");
    assert_eq!(notice["notice"]["commit"], v2.as_str());

    // The next time Berth connects, the relay's deployment joins the history as the active one.
    let out = b.ok(&["watch", "--once"]);
    assert!(
        out.stdout
            .contains(&format!("{app} {} deployed by the relay", &v2[..7])),
        "{}",
        out.stdout
    );
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["commit"], v2.as_str(), "{st:#}");
    assert_eq!(st["deployment_id"], done["deployment"], "{st:#}");
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history:#}");

    // A commit the git host does not have: the delivery fails naming why; v2 keeps serving.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-2",
        "refs/heads/main",
        missing,
    );
    assert_eq!(status, 202, "{answer}");
    let failed = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(
        failed["result"].as_str().unwrap().contains("fetch"),
        "{failed:#}"
    );
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v2"
    );
    let notice = notices.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(notice.contains("\"failed\""), "{notice}");

    // Six unattended deploys that fail after building keep no image and push no healthy one
    // out: after the next good one, `rollback` runs v2 again without a rebuild.
    for i in 1..=6 {
        let broken = repo.commit_crashing(&format!("broken{i}"));
        let (status, answer) = push(
            &To(&caddy, "hooks.test", &path),
            Provider::Github,
            &secret,
            &format!("b-{i}"),
            "refs/heads/main",
            &broken,
        );
        assert_eq!(status, 202, "{answer}");
        let failed = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
        assert_eq!(failed["status"], "failed", "{failed:#}");
    }
    let fixed = repo.commit_version("v2.1");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-3",
        "refs/heads/main",
        &fixed,
    );
    assert_eq!(status, 202, "{answer}");
    let done = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    assert_eq!(done["status"], "deployed", "{done:#}");
    assert_eq!(
        berth_testkit::docker::images_of(&app).len(),
        3,
        "v1, v2 and v2.1: failed deploys left no image"
    );
    b.ok(&["watch", "--once"]);
    let r = b.ok(&["rollback", &app, "--yes"]);
    assert!(!r.stderr.contains("Step 1/"), "{}", r.stderr);
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v2"
    );

    // `berth cancel` reaches the relay's own deploy: a commit that never turns healthy is
    // stopped before its health check gives up, and v2 keeps serving.
    let unhealthy = repo.remove("www/healthz", "no health check");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "c-1",
        "refs/heads/main",
        &unhealthy,
    );
    assert_eq!(status, 202, "{answer}");
    let asked = Instant::now();
    loop {
        let r = b.ok(&["cancel", &app]);
        if r.stderr.contains("cancelled what ran") {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(90),
            "the relay's deploy was never there to cancel: {}",
            r.stderr
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let cancelled = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    assert_eq!(cancelled["status"], "failed", "{cancelled:#}");
    assert!(cancelled.to_string().contains("cancelled"), "{cancelled:#}");
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v2"
    );

    // A push and a `berth deploy` of the same app at once never interleave: one waits for the
    // other (or the manual one is refused, naming the relay), and one container serves.
    let v4 = repo.commit_version("v4");
    let manual = b
        .cmd(&["deploy", &app])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-4",
        "refs/heads/main",
        &v4,
    );
    assert_eq!(status, 202, "{answer}");
    let done = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    let manual = manual.wait_with_output().unwrap();
    let manual_err = String::from_utf8_lossy(&manual.stderr);
    assert!(
        manual.status.success() || manual_err.contains("unattended deploy by the server's relay"),
        "{manual_err}"
    );
    assert_eq!(done["status"], "deployed", "{done:#}");
    let running = Command::new("docker")
        .args([
            "ps",
            "--filter",
            &format!("label=berth.app={app}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    let running = String::from_utf8_lossy(&running.stdout).into_owned();
    assert_eq!(
        running.lines().count(),
        1,
        "one serving container: {running}"
    );
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["container"].as_str(), running.lines().next(), "{st:#}");
    assert_eq!(st["commit"], v4.as_str(), "{st:#}");
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v4"
    );

    // A force-push rewrites main from v1: the relay refuses the pushed commit (it does not
    // descend from v4, which serves), records why, and v4 keeps serving…
    let rewritten = repo.rewrite_main(&v1, "v5-rewritten");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-5",
        "refs/heads/main",
        &rewritten,
    );
    assert_eq!(status, 202, "{answer}");
    let refused = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    assert_eq!(refused["status"], "failed", "{refused:#}");
    assert!(
        refused["result"]
            .as_str()
            .unwrap_or_default()
            .contains("does not descend from"),
        "{refused:#}"
    );
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v4"
    );
    // …until the app's webhook lets force-pushes deploy.
    b.ok(&[
        "app",
        "webhook",
        "enable",
        &app,
        "--provider",
        "github",
        "--unattended",
        "--allow-force-push",
    ]);
    let forced = repo.rewrite_main(&v1, "v6-forced");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Github,
        &secret,
        "u-6",
        "refs/heads/main",
        &forced,
    );
    assert_eq!(status, 202, "{answer}");
    let done = wait_finished(b, &app, answer["delivery"].as_i64().unwrap());
    assert_eq!(done["status"], "deployed", "{done:#}");
    assert_eq!(
        http_get_host(&caddy, &host, "/").unwrap().1.trim(),
        "hello v6-forced"
    );

    // Over SSH with the app's own deploy key: Berth makes it and shows its public half; the
    // relay trusts the git server's host key on first use and pins it.
    let git_sshd = Sshd::start_public();
    let ssh_app = unique("hooks");
    let _ssh_guard = AppGuard(ssh_app.clone());
    let ssh_url = format!(
        "ssh://root@{}:{}{}",
        gateway("berth"),
        git_sshd.port,
        repo.path_str()
    );
    // The user's own git access (for `app create`'s check) is their ssh setup.
    let git_ssh = format!(
        "ssh -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        git_sshd.user_key.display()
    );
    create_app_from(b, &ssh_app, &ssh_url, &[("GIT_SSH_COMMAND", &git_ssh)]);
    let w = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            &ssh_app,
            "--provider",
            "gitea",
            "--unattended",
            "--json",
        ])
        .json();
    let deploy_key = w["deploy_key"].as_str().unwrap().to_owned();
    assert!(deploy_key.starts_with("ssh-ed25519 "), "{w:#}");
    assert_eq!(w["git_auth"], "deploy key");
    let shown = b.ok(&["app", "webhook", "show", &ssh_app]).stdout;
    assert!(shown.contains(&deploy_key), "{shown}");
    let (path, secret) = hook_of(&w);
    let v3 = repo.commit_version("v3");
    // Before the key is added to the repository: a clear failure, nothing deployed.
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Gitea,
        &secret,
        "s-1",
        "refs/heads/main",
        &v3,
    );
    assert_eq!(status, 202, "{answer}");
    let failed = wait_finished(b, &ssh_app, answer["delivery"].as_i64().unwrap());
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert!(
        failed["result"].as_str().unwrap().contains("deploy key"),
        "{failed:#}"
    );
    // A new deploy key (the old one was never added): only the new one is authorized, and
    // the relay fetches with it from the next push on.
    let rotated = b
        .ok(&["app", "webhook", "rotate-deploy-key", &ssh_app, "--json"])
        .json();
    let new_key = rotated["deploy_key"].as_str().unwrap().to_owned();
    assert!(
        new_key.starts_with("ssh-ed25519 ") && new_key != deploy_key,
        "{rotated:#}"
    );
    git_sshd.authorize(&new_key);
    // The same push re-sent is a replay (its signed body was queued before), never a deploy:
    // the next push deploys.
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Gitea,
        &secret,
        "s-2",
        "refs/heads/main",
        &v3,
    );
    assert_eq!(
        (status, answer["verdict"].as_str()),
        (200, Some("replay")),
        "{answer}"
    );
    let v3b = repo.commit_version("v3b");
    let (status, answer) = push(
        &To(&caddy, "hooks.test", &path),
        Provider::Gitea,
        &secret,
        "s-3",
        "refs/heads/main",
        &v3b,
    );
    assert_eq!(status, 202, "{answer}");
    let done = wait_finished(b, &ssh_app, answer["delivery"].as_i64().unwrap());
    assert_eq!(done["status"], "deployed", "{done:#}");
    // `status` itself catches up with what the relay deployed.
    assert_eq!(serving(b, &ssh_app), "hello v3b");
    let st = b.ok(&["status", &ssh_app, "--json"]).json();
    assert_eq!(st["commit"], v3b.as_str(), "{st:#}");

    b.ok(&["app", "rm", &ssh_app, "--purge"]);
    b.ok(&["app", "rm", &app, "--purge"]);
    b.ok(&["app", "rm", &local, "--purge"]);
}

/// A login user in the `docker` group, not root: deploys work; the relay's control socket
/// belongs to the Docker socket's group, so the relay answers them too; Berth's own Caddy,
/// whose admin socket only root may open, is refused before anything changes.
#[test]
fn a_docker_group_login_deploys_asks_the_relay_and_is_refused_berths_caddy() {
    use std::os::unix::fs::MetadataExt;
    let _guard = RelayGuard::take();
    berth_testkit::docker::ensure_busybox();
    let user = LoginUser::create(&["docker"]);
    let sshd = Sshd::start();
    let b = Berth::new();
    let key = sshd.user_key.display().to_string();
    b.ok(&[
        "server",
        "add",
        "prod",
        "--ssh",
        &sshd.target_for(&user.0),
        "--identity",
        &key,
        "--transport",
        "system",
        "--accept-new",
    ]);
    let app = unique("grouped");
    let _app = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create_app(&b, &app, &repo);
    b.ok(&["deploy", &app]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["state"], "running", "{st:#}");

    let r = b.fails(&[
        "server",
        "proxy",
        "install",
        "prod",
        "--image",
        CADDY,
        "--tls",
        "off",
        "--http-port",
        &free_port().to_string(),
        "--https-port",
        &free_port().to_string(),
    ]);
    for needle in [user.0.as_str(), "not root", "--admin 127.0.0.1:2019"] {
        assert!(r.stderr.contains(needle), "{needle}: {}", r.stderr);
    }
    let proxy = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", "name=^berth-proxy$"])
        .output()
        .unwrap();
    assert!(proxy.stdout.is_empty(), "nothing was installed");

    b.ok(&[
        "server",
        "relay",
        "install",
        "prod",
        "--listen-port",
        &free_port().to_string(),
    ]);
    let status = b
        .ok(&["server", "relay", "status", "prod", "--json"])
        .json();
    assert_eq!(status["answering"], true, "{status:#}");
    let docker_gid = std::fs::metadata("/var/run/docker.sock").unwrap().gid();
    let control = std::fs::metadata("/run/berth-relay/control.sock").unwrap();
    assert_eq!(
        (control.gid(), control.mode() & 0o777),
        (docker_gid, 0o660),
        "the control socket is the Docker socket's group's"
    );
}
