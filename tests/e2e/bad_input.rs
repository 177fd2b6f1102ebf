//! Bad input gets a clear, specific error and changes nothing.

use std::process::Command;

use berth_testkit::docker::{AppGuard, BUSYBOX, containers_of, ensure_busybox};
use berth_testkit::{Berth, LoginUser, Sshd, free_port, git, run, unique};

fn assert_mentions(r: &berth_testkit::Run, needles: &[&str]) {
    for n in needles {
        assert!(r.stderr.contains(n), "expected {n:?} in:\n{}", r.stderr);
    }
}

#[test]
fn names_and_unknown_things() {
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let repo = git::web_app("v1");
    let r = b.fails(&["app", "create", "my app", "--git", &repo.path_str()]);
    assert_mentions(&r, &["app name `my app`", "lowercase"]);
    let r = b.fails(&["app", "create", "Hello", "--git", &repo.path_str()]);
    assert_mentions(&r, &["`Hello`"]);
    let r = b.fails(&["server", "add", "bad name", "--local"]);
    assert_mentions(&r, &["server name `bad name`"]);
    let r = b.fails(&[
        "app",
        "create",
        "web",
        "--server",
        "nope",
        "--git",
        &repo.path_str(),
    ]);
    assert_mentions(&r, &["server `nope` not found"]);
    let r = b.fails(&["deploy", "ghost"]);
    assert_mentions(&r, &["app `ghost` not found"]);
    let r = b.fails(&["status", "ghost", "--json"]);
    assert_eq!(r.json()["code"], "not-found");
    let r = b.fails(&[
        "app",
        "create",
        "web",
        "--git",
        &repo.path_str(),
        "--memory",
        "lots",
    ]);
    assert_mentions(&r, &["memory `lots`"]);
    let r = b.fails(&[
        "app",
        "create",
        "web",
        "--git",
        &repo.path_str(),
        "--health-path",
        "healthz",
    ]);
    assert_mentions(&r, &["health path `healthz` must start with `/`"]);
    let r = b.fails(&["env", "set", "web", "1BAD=x"]);
    assert!(
        r.stderr.contains("env key `1BAD`") || r.stderr.contains("not found"),
        "{}",
        r.stderr
    );
    assert_eq!(b.ok(&["app", "ls", "--json"]).json(), serde_json::json!([]));
    b.ok(&["app", "create", "web", "--git", &repo.path_str()]);
    let r = b.fails(&["app", "create", "web", "--git", &repo.path_str()]);
    assert_mentions(&r, &["app `web` already exists"]);
    let r = b.fails(&["rollback", "web"]);
    assert_mentions(&r, &["no earlier healthy deployment"]);
    let r = b.fails(&["server", "rm", "here"]);
    assert_mentions(&r, &["used by app web"]);
}

#[test]
fn unreachable_hosts_and_wrong_keys() {
    let b = Berth::new();
    let sshd = Sshd::start();
    let key = sshd.user_key.display().to_string();
    let closed = format!("root@127.0.0.1:{}", free_port());
    for transport in ["embedded", "system"] {
        let r = b.fails(&[
            "server",
            "add",
            "x",
            "--ssh",
            &closed,
            "--transport",
            transport,
            "--accept-new",
        ]);
        assert!(
            r.stderr.contains("cannot reach") || r.stderr.contains("refused"),
            "{transport}: {}",
            r.stderr
        );
    }
    // A key the server does not accept.
    let other = tempfile::tempdir().unwrap();
    let other_key = other.path().join("id_ed25519");
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other_key));
    for transport in ["embedded", "system"] {
        let r = b.fails(&[
            "server",
            "add",
            "x",
            "--ssh",
            &sshd.target(),
            "--identity",
            &other_key.display().to_string(),
            "--transport",
            transport,
            "--accept-new",
        ]);
        assert!(
            r.stderr.contains("authentication")
                || r.stderr.contains("denied")
                || r.stderr.contains("accepted none"),
            "{transport}: {}",
            r.stderr
        );
    }
    // A missing identity file.
    let r = b.fails(&[
        "server",
        "add",
        "x",
        "--ssh",
        &sshd.target(),
        "--identity",
        "/nonexistent/key",
        "--accept-new",
    ]);
    assert_mentions(&r, &["/nonexistent/key"]);
    // Nothing was stored, no key left pinned.
    assert_eq!(
        b.ok(&["server", "ls", "--json"]).json(),
        serde_json::json!([])
    );
    let known = std::fs::read_to_string(b.data.path().join("known_hosts")).unwrap_or_default();
    assert!(!known.contains("ssh-ed25519"), "{known}");
    // The right key works afterwards.
    b.ok(&[
        "server",
        "add",
        "x",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
    ]);
}

#[test]
fn docker_not_running_or_not_permitted() {
    let b = Berth::new();
    let sshd = Sshd::start();
    let key = sshd.user_key.display().to_string();
    let r = b.fails(&[
        "server",
        "add",
        "x",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
        "--docker-socket",
        "/run/berth-no-such-docker.sock",
    ]);
    assert_mentions(
        &r,
        &["docker is not running", "/run/berth-no-such-docker.sock"],
    );
    let r = b.fails(&[
        "server",
        "add",
        "y",
        "--local",
        "--docker-socket",
        "/run/berth-no-such-docker.sock",
    ]);
    assert_mentions(&r, &["docker is not running"]);

    // A login user without access to the Docker socket.
    let user = LoginUser::create(&[]);
    let r = b.fails(&[
        "server",
        "add",
        "z",
        "--ssh",
        &sshd.target_for(&user.0),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
    ]);
    assert_mentions(
        &r,
        &["permission denied on the Docker socket", "docker` group"],
    );
    assert_eq!(
        b.ok(&["server", "ls", "--json"]).json(),
        serde_json::json!([])
    );
}

#[test]
fn git_sources_that_cannot_be_built() {
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let plain = tempfile::tempdir().unwrap();
    let r = b.fails(&[
        "app",
        "create",
        "web",
        "--git",
        &plain.path().display().to_string(),
    ]);
    assert_mentions(&r, &["is not a git repository"]);
    let r = b.fails(&["app", "create", "web", "--git", "/nonexistent/repo"]);
    assert_mentions(&r, &["/nonexistent/repo"]);
    let repo = git::web_app("v1");
    let r = b.fails(&[
        "app",
        "create",
        "web",
        "--git",
        &repo.path_str(),
        "--branch",
        "nope",
    ]);
    assert_mentions(&r, &["nope", "main"]);
    assert_eq!(b.ok(&["app", "ls", "--json"]).json(), serde_json::json!([]));

    let app = unique("gitref");
    let _guard = AppGuard(app.clone());
    b.ok(&["app", "create", &app, "--git", &repo.path_str()]);
    let r = b.fails(&["deploy", &app, "--ref", "no-such-ref"]);
    assert_mentions(&r, &["failed at step resolve", "no-such-ref"]);
    assert!(containers_of(&app).is_empty());
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["state"], "failed");
    assert!(st["deployment_id"].is_null());
}

/// Deploys `files` as a new commit of a healthy app and expects it to fail with `needles`;
/// the healthy version must keep serving and no container may be left behind.
fn failing_version(
    b: &Berth,
    app: &str,
    repo: &git::Repo,
    files: &[(&str, &str)],
    needles: &[&str],
) {
    let before = containers_of(app);
    repo.commit(files, "broken version");
    let r = b.fails(&["deploy", app]);
    assert_mentions(&r, needles);
    assert_eq!(containers_of(app), before);
    let st = b.ok(&["status", app, "--json"]).json();
    assert_eq!(st["state"], "running");
    let (_, body) = berth_testkit::http_get(st["endpoint"].as_str().unwrap(), "/").unwrap();
    assert_eq!(body.trim(), "hello v1");
}

#[test]
fn broken_builds_and_containers() {
    ensure_busybox();
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let app = unique("broken");
    let _guard = AppGuard(app.clone());
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
        "4",
    ]);
    b.ok(&["deploy", &app]);

    let dockerfile = format!(
        "FROM {BUSYBOX}\nRUN sh -c 'echo compiling; echo \"error: missing semicolon\" >&2; exit 3'\n"
    );
    failing_version(
        &b,
        &app,
        &repo,
        &[("Dockerfile", &dockerfile)],
        &[
            "failed at step build",
            "Step 2/",
            "error: missing semicolon",
            "returned a non-zero code: 3",
        ],
    );

    let dockerfile = format!(
        "FROM {BUSYBOX}\nCMD [\"sh\", \"-c\", \"echo bang; echo 'stderr error' >&2; exit 42\"]\n"
    );
    failing_version(
        &b,
        &app,
        &repo,
        &[("Dockerfile", &dockerfile)],
        &[
            "failed at step health-check",
            "exited with code 42",
            "bang",
            "stderr error",
        ],
    );
    // The app's output is in the deploy log, where the user looks on purpose; the error kept
    // with the deployment (and sent to notifiers) only says where it is: an app that prints its
    // config when it crashes does not put its secrets there.
    let crashed = &b.ok(&["deployments", &app, "--json"]).json()[0];
    let error = crashed["error"].as_str().unwrap_or_default();
    assert!(error.contains("exited with code 42"), "{crashed:#}");
    assert!(error.contains("deploy log"), "{error}");
    assert!(
        !error.contains("bang") && !error.contains("stderr error"),
        "{error}"
    );
    let id = crashed["id"].as_str().unwrap_or_default().to_owned();
    let log = b.ok(&["build-log", &id]);
    assert!(
        log.stdout.contains("bang") && log.stdout.contains("stderr error"),
        "{}",
        log.stdout
    );

    let dockerfile = format!("FROM {BUSYBOX}\nCMD [\"sleep\", \"3600\"]\n");
    failing_version(
        &b,
        &app,
        &repo,
        &[("Dockerfile", &dockerfile)],
        &[
            "failed at step health-check",
            "did not answer 2xx/3xx within 4 s",
        ],
    );
    let history = b.ok(&["deployments", &app, "--json"]).json();
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "active"]);
}
