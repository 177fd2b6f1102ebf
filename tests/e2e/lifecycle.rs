//! Deploys that go wrong: a failing health check keeps the old version serving, Ctrl-C cancels
//! cleanly, and two deploys of one app never interleave.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, BUSYBOX, containers_of, ensure_busybox};
use berth_testkit::{Berth, Sshd, git, http_get};

/// A server over embedded SSH and an app deployed at v1. Returns (sshd, berth, app, repo).
fn deployed(prefix: &str) -> (Sshd, Berth, String, git::Repo, AppGuard) {
    ensure_busybox();
    let sshd = Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("prod", &sshd);
    let app = berth_testkit::unique(prefix);
    let guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
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
    ]);
    b.ok(&["deploy", &app]);
    (sshd, b, app, repo, guard)
}

/// Commits a version of the web app that waits `secs` before it serves: its deploy sits in
/// the health check that long.
fn commit_slow_start(repo: &git::Repo, secs: u32) {
    repo.commit(
        &[(
            "Dockerfile",
            &format!("FROM {BUSYBOX}\nCOPY www /www\nCMD [\"sh\", \"-c\", \"sleep {secs}; exec httpd -f -p 8080 -h /www\"]\n"),
        )],
        &format!("starts after {secs} s"),
    );
}

/// Starts `berth deploy APP` in the background, its stderr read line by line.
fn spawn_deploy(
    b: &Berth,
    app: &str,
) -> (
    std::process::Child,
    std::io::Lines<BufReader<std::process::ChildStderr>>,
) {
    let mut child = b
        .cmd(&["deploy", app])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    (child, BufReader::new(stderr).lines())
}

fn serving(b: &Berth, app: &str) -> String {
    b.serving(app)
}

#[test]
fn failing_health_check_keeps_the_old_version_serving() {
    let (_sshd, b, app, repo, _guard) = deployed("unhealthy");
    let before = containers_of(&app);
    // Notifiers routed by app and kind: this app's deploys; another app's; new images only.
    let other = berth_testkit::unique("other");
    let _other_guard = AppGuard(other.clone());
    b.ok(&["app", "create", &other, "--git", &repo.path_str()]);
    let sink = |route: &[&str]| {
        let (port, heard) = berth_testkit::notification_sink_on("127.0.0.1");
        let mut args = vec!["notify", "add", "webhook", "-"];
        args.extend_from_slice(route);
        b.ok_with_input(&args, &format!("http://127.0.0.1:{port}/notice\n"));
        heard
    };
    let mine = sink(&["--app", &app, "--events", "deploy"]);
    let others = sink(&["--app", &other]);
    let images = sink(&["--events", "image"]);
    let listed = b.ok(&["notify", "ls"]).stdout;
    assert!(listed.contains(&format!("{app} · deploy")), "{listed}");
    assert!(listed.contains("every app · image"), "{listed}");
    // v2 no longer answers /healthz (404).
    repo.commit_version("v2");
    repo.remove("www/healthz", "drop healthz");
    let r = b.fails(&["deploy", &app]);
    assert!(
        r.stderr.contains("failed at step health-check"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("GET /healthz"), "{}", r.stderr);
    assert!(r.stderr.contains("HTTP 404"), "{}", r.stderr);
    assert_eq!(serving(&b, &app), "hello v1");
    assert_eq!(containers_of(&app), before, "no leftover container");
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history[0]["status"], "failed");
    assert_eq!(history[0]["failed_step"], "health-check");
    assert_eq!(history[1]["status"], "active");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["last_deploy"]["status"], "failed");

    // The CLI's deploy result reached the notifier routed to it, and only that one.
    let notice = |heard: &std::sync::mpsc::Receiver<String>| {
        let body = heard
            .recv_timeout(Duration::from_secs(10))
            .expect("a notice");
        serde_json::from_str::<serde_json::Value>(&body).expect("JSON notice")["notice"].clone()
    };
    let failed = notice(&mine);
    assert_eq!(failed["status"], "failed", "{failed:#}");
    assert_eq!(failed["failed_step"], "health-check", "{failed:#}");
    assert_eq!(failed["trigger"], "deploy by cli", "{failed:#}");
    // Routed anew to every kind, the image-only notifier hears a restart too.
    let id = b.ok(&["notify", "ls", "--json"]).json()[2]["id"]
        .as_i64()
        .expect("id");
    b.ok(&["notify", "route", &id.to_string(), "--all-events"]);
    b.ok(&["restart", &app]);
    for heard in [&mine, &images] {
        let restarted = notice(heard);
        assert_eq!(restarted["status"], "deployed", "{restarted:#}");
        assert_eq!(restarted["trigger"], "restart by cli", "{restarted:#}");
    }
    assert!(
        others.recv_timeout(Duration::from_millis(500)).is_err(),
        "another app's notifier heard nothing"
    );
    assert!(mine.try_recv().is_err(), "one notice per result");

    // A release command runs before the switch, in a new container from the new image with
    // the app's env: failing fails the deploy, with its output, and v1 serves on…
    b.ok(&[
        "app",
        "set",
        &app,
        "--release-command",
        "echo \"migrating as $(id -u)\"; exit 7",
    ]);
    let shown = b.ok(&["app", "show", &app]).stdout;
    assert!(shown.contains("release      echo"), "{shown}");
    repo.commit_version("v3");
    let r = b.fails(&["deploy", &app]);
    assert!(
        r.stderr.contains("release command") && r.stderr.contains("status 7"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("migrating as 0"), "{}", r.stderr);
    assert_eq!(serving(&b, &app), "hello v1");
    // …succeeding, the new version goes live, and nothing of the release is left.
    b.ok(&[
        "app",
        "set",
        &app,
        "--release-command",
        "test -f /www/index.html && echo migrated",
    ]);
    let r = b.ok(&["deploy", &app]);
    assert!(r.stderr.contains("migrated"), "{}", r.stderr);
    assert_eq!(serving(&b, &app), "hello v3");
    let left = berth_testkit::run(std::process::Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=berth.run-of={app}"),
    ]));
    assert!(left.trim().is_empty(), "{left}");
    let bad = b.fails(&["app", "set", &app, "--release-command", "a\nb"]);
    assert!(bad.stderr.contains("one line"), "{}", bad.stderr);
}

#[test]
fn ctrl_c_cancels_and_the_old_version_keeps_serving() {
    let (_sshd, b, app, repo, _guard) = deployed("cancel");
    let before = containers_of(&app);
    // v2 takes a long time to become healthy: plenty of time to press Ctrl-C.
    commit_slow_start(&repo, 120);
    let (mut child, mut lines) = spawn_deploy(&b, &app);
    let mut transcript = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        transcript.push_str(&line);
        transcript.push('\n');
        if line.contains("--> health-check") {
            break;
        }
    }
    assert!(transcript.contains("--> health-check"), "{transcript}");
    let started = Instant::now();
    berth_testkit::run(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]));
    for line in lines.map_while(Result::ok) {
        transcript.push_str(&line);
        transcript.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{transcript}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancel took {:?}",
        started.elapsed()
    );
    assert!(transcript.contains("cancelled"), "{transcript}");
    assert_eq!(containers_of(&app), before, "the new container is removed");
    assert_eq!(serving(&b, &app), "hello v1");
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history[0]["status"], "cancelled");
    assert_eq!(history[1]["status"], "active");
}

#[test]
fn a_second_deploy_of_the_same_app_fails_clearly_while_one_runs() {
    let (_sshd, b, app, repo, _guard) = deployed("concurrent");
    commit_slow_start(&repo, 4);
    let (mut first, mut lines) = spawn_deploy(&b, &app);
    for line in lines.by_ref() {
        if line.unwrap().contains("--> health-check") {
            break;
        }
    }
    let second = b.fails(&["deploy", &app]);
    assert!(second.stderr.contains("in progress"), "{}", second.stderr);
    let rollback = b.fails(&["rollback", &app, "--yes"]);
    assert!(
        rollback.stderr.contains("in progress"),
        "{}",
        rollback.stderr
    );
    for _ in lines.map_while(Result::ok) {}
    assert!(
        first.wait().unwrap().success(),
        "the first deploy completes"
    );
    assert_eq!(containers_of(&app).len(), 1);
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(
        history.as_array().unwrap().len(),
        2,
        "the refused deploy left no record"
    );

    // Another terminal cancels a deploy as Ctrl-C would: the serving version stays.
    let idle = b.ok(&["cancel", &app]);
    assert!(idle.stderr.contains("nothing runs"), "{}", idle.stderr);
    let serving = containers_of(&app);
    repo.commit_version("v3");
    commit_slow_start(&repo, 30);
    let (mut slow, mut lines) = spawn_deploy(&b, &app);
    for line in lines.by_ref() {
        if line.unwrap().contains("--> health-check") {
            break;
        }
    }
    let cancelled = b.ok(&["cancel", &app]);
    assert!(
        cancelled.stderr.contains("cancelled"),
        "{}",
        cancelled.stderr
    );
    for _ in lines.map_while(Result::ok) {}
    assert_eq!(
        slow.wait().unwrap().code(),
        Some(130),
        "the deploy ends as cancelled"
    );
    assert_eq!(
        containers_of(&app),
        serving,
        "the serving container stays, alone"
    );
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history[0]["status"], "cancelled");
}

#[test]
fn the_images_of_the_last_five_healthy_deployments_are_kept() {
    ensure_busybox();
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let app = berth_testkit::unique("keep");
    let _guard = AppGuard(app.clone());
    let repo = git::web_app("v0");
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    b.ok(&["deploy", &app]);
    for v in 1..=7 {
        repo.commit_version(&format!("v{v}"));
        b.ok(&["deploy", &app]);
    }
    let images = berth_testkit::docker::images_of(&app);
    // The active one and the five healthy ones before it.
    assert_eq!(images.len(), 6, "{images:?}");
    let history = b.ok(&["deployments", &app, "--json"]).json();
    for d in history.as_array().unwrap().iter().take(6) {
        let image = d["image"].as_str().unwrap();
        assert!(images.iter().any(|i| i == image), "{image} kept");
    }
    let oldest_kept = history[5]["id"].as_str().unwrap().to_owned();
    // Six deploys that fail after building leave no image, and push no healthy one out.
    for v in 1..=6 {
        repo.commit_crashing(&format!("broken{v}"));
        let r = b.fails(&["deploy", &app]);
        assert!(r.stderr.contains("health-check"), "{}", r.stderr);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(berth_testkit::docker::images_of(&app)),
        sorted(images.clone())
    );
    // `server prune` keeps every image a rollback can reach; a removed app's image stays for
    // an hour (a deploy somewhere may be about to use it).
    let gone = berth_testkit::unique("gone");
    let _gone_guard = AppGuard(gone.clone());
    let gone_repo = git::web_app("g1");
    b.ok(&["app", "create", &gone, "--git", &gone_repo.path_str()]);
    b.ok(&["deploy", &gone]);
    b.ok(&["app", "rm", &gone]);
    let left = berth_testkit::docker::images_of(&gone);
    assert_eq!(left.len(), 1, "{left:?}");
    let dry = b
        .ok(&["server", "prune", "here", "--dry-run", "--json"])
        .json();
    assert_eq!(dry["dry_run"], true);
    let listed: Vec<&str> = dry["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["app"].as_str())
        .collect();
    assert!(
        !listed.contains(&app.as_str()) && !listed.contains(&gone.as_str()),
        "{dry:#}"
    );
    assert!(dry["kept"].as_u64().unwrap_or(0) >= 7, "{dry:#}");
    let pruned = b.ok(&["server", "prune", "here"]);
    assert!(pruned.stderr.contains("kept"), "{}", pruned.stderr);
    assert_eq!(
        sorted(berth_testkit::docker::images_of(&app)),
        sorted(images.clone()),
        "every rollback target stays"
    );
    assert_eq!(
        berth_testkit::docker::images_of(&gone),
        left,
        "within the hour"
    );
    let r = b.ok(&["rollback", &app, "--yes"]);
    assert!(!r.stderr.contains("Step 1/"), "{}", r.stderr);
    assert_eq!(serving(&b, &app), "hello v6");
    // The oldest kept one is still a rollback target, without a rebuild.
    let r = b.ok(&["rollback", &app, "--to", &oldest_kept, "--yes"]);
    assert!(!r.stderr.contains("Step 1/"), "{}", r.stderr);
    assert_eq!(serving(&b, &app), "hello v2");

    // Behind Berth's back the serving container goes: `reconcile` reports it, `--fix` deploys
    // the recorded image again (no rebuild, with the env set since), and then nothing drifts.
    b.ok(&["env", "set", &app, "MODE=prod"]);
    b.ok_with_input(
        &["env", "set", &app, "TOKEN=-", "--secret"],
        "import-secret-value\n",
    );
    for c in containers_of(&app) {
        berth_testkit::run(std::process::Command::new("docker").args(["rm", "-f", &c]));
    }
    let drifts = b.ok(&["reconcile", "--json"]).json();
    assert_eq!(drifts[0]["app"], app.as_str(), "{drifts:#}");
    assert_eq!(drifts[0]["kind"], "missing", "{drifts:#}");
    let shown = b.ok(&["reconcile"]).stdout;
    assert!(
        shown.contains("--fix would: deploy the recorded image again"),
        "{shown}"
    );
    let fixed = b.ok(&["reconcile", "--fix"]);
    assert!(fixed.stdout.contains("✓ fixed"), "{}", fixed.stdout);
    assert!(!fixed.stderr.contains("Step 1/"), "{}", fixed.stderr);
    assert_eq!(serving(&b, &app), "hello v2");
    assert_eq!(b.ok(&["reconcile", "--json"]).json(), serde_json::json!([]));

    // A Berth with an empty data dir rebuilds its records of the app from the server alone;
    // the secret's value is listed to be set again, never read back.
    let fresh = Berth::new();
    fresh.ok(&["server", "add", "here", "--local"]);
    let imported = fresh.ok(&["server", "import", "here", "--json"]).json();
    let mine = imported
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["app"] == app.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{app} imported: {imported:#}"));
    assert!(mine["skipped"].is_null(), "{mine:#}");
    assert_eq!(mine["missing_secrets"], serde_json::json!(["TOKEN"]));
    let env = fresh.ok(&["env", "ls", &app]).stdout;
    assert!(env.contains("MODE") && env.contains("prod"), "{env}");
    assert!(!env.contains("import-secret-value"), "{env}");
    let shown = fresh.ok(&["app", "show", &app]).stdout;
    assert!(shown.contains("/healthz"), "{shown}");
    assert_eq!(fresh.serving(&app), "hello v2");
    let again = fresh.ok(&["server", "import", "here", "--json"]).json();
    assert!(
        again
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["app"] == app.as_str() && i["skipped"] == "already in Berth's records"),
        "{again:#}"
    );
}

#[test]
fn a_repository_without_a_dockerfile_is_detected_and_built_with_the_server_s_base_image() {
    berth_testkit::docker::ensure_caddy_sh();
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    b.ok(&[
        "server",
        "set",
        "here",
        "--run-image",
        berth_testkit::docker::CADDY_SH,
    ]);
    let app = berth_testkit::unique("static");
    let _guard = AppGuard(app.clone());
    let repo = git::Repo::new();
    repo.commit(
        &[
            ("public/index.html", "<h1>static site</h1>\n"),
            ("public/healthz", "ok\n"),
            ("README.md", "not served\n"),
        ],
        "a static site",
    );
    b.ok(&[
        "app",
        "create",
        &app,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    let r = b.ok(&["deploy", &app]);
    assert!(r.stderr.contains("(static runtime)"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("FROM {}", berth_testkit::docker::CADDY_SH)),
        "{}",
        r.stderr
    );
    let st = b.ok(&["status", &app, "--json"]).json();
    let addr = st["endpoint"].as_str().unwrap();
    let (status, body) = http_get(addr, "/").unwrap();
    assert_eq!((status, body.trim()), (200, "<h1>static site</h1>"));
    assert_eq!(
        http_get(addr, "/README.md").map(|(s, _)| s),
        Some(404),
        "only public/ is served"
    );
}
