//! The whole user scenario of the core issue, once per transport: add the server, create an
//! app, deploy, status, logs, env, redeploy, rollback, stop/start/restart, remove.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, containers_of, ensure_busybox, images_of, inspect};
use berth_testkit::{Berth, Sshd, git, http_get, run, unique};

fn endpoint(b: &Berth, app: &str) -> String {
    let st = b.ok(&["status", app, "--json"]).json();
    assert_eq!(st["state"], "running", "{st:#}");
    st["endpoint"].as_str().expect("endpoint").to_owned()
}

fn body(addr: &str, path: &str) -> String {
    let (status, body) =
        http_get(addr, path).unwrap_or_else(|| panic!("no answer from {addr}{path}"));
    assert_eq!(status, 200, "GET {path} on {addr}: {body}");
    body.trim().to_owned()
}

fn scenario(b: &Berth, server_args: &[&str]) {
    ensure_busybox();
    let app = unique("hello");
    let _guard = AppGuard(app.clone());
    let mut add = vec!["server", "add", "prod"];
    add.extend_from_slice(server_args);
    b.ok(&add);
    let servers = b.ok(&["server", "ls", "--json"]).json();
    assert_eq!(servers[0]["name"], "prod");
    let check = b.ok(&["server", "check", "prod", "--json"]).json();
    assert_eq!(check["api_version"], "1.41", "{check:#}");
    assert!(check["latency_ms"].as_f64().unwrap() > 0.0);

    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--server",
        "prod",
        "--git",
        &repo.path_str(),
        "--port",
        "8080",
        "--health-path",
        "/healthz",
        "--memory",
        "256m",
        "--cpus",
        "0.5",
        "--env",
        "GREETING=hi",
    ]);

    // First deploy: streams steps and the build log, exits 0 once healthy and active.
    let deploy = b.ok(&["deploy", &app]);
    for expected in [
        "--> build",
        "Step 1/",
        "--> health-check",
        "--> switch",
        "is live",
    ] {
        assert!(
            deploy.stderr.contains(expected),
            "missing {expected:?} in:\n{}",
            deploy.stderr
        );
    }
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["state"], "running");
    assert_eq!(st["commit"], repo.head().as_str());
    let container = st["container"].as_str().unwrap().to_owned();
    assert!(
        container.starts_with(&format!("berth-{app}-")),
        "{container}"
    );
    // Deployment ids are 128 random bits; the container carries the first 12 digits (a name
    // Docker's DNS serves, for the longest app name too).
    let id = st["deployment_id"].as_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert_eq!(st["container"], format!("berth-{app}-{}", &id[..12]));
    assert_eq!(
        st["image"],
        format!("berth/{app}:{}", st["deployment_id"].as_str().unwrap())
    );
    let v1 = endpoint(b, &app);
    assert!(v1.starts_with("127.0.0.1:"), "{v1}");
    assert_eq!(body(&v1, "/"), "hello v1");
    assert_eq!(body(&v1, "/greeting.txt"), "hi");

    // The container runs as the issue says: limits, init, restart policy, labels, network.
    assert_eq!(inspect(&container, "{{.HostConfig.Memory}}"), "268435456");
    assert_eq!(inspect(&container, "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(inspect(&container, "{{.HostConfig.Init}}"), "true");
    assert_eq!(
        inspect(&container, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"berth.managed\"}}"),
        "true"
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"berth.app\"}}"),
        app
    );
    assert_eq!(
        inspect(&container, "{{index .Config.Labels \"berth.commit\"}}"),
        repo.head()
    );
    assert!(inspect(&container, "{{json .NetworkSettings.Networks}}").contains("\"berth\""));

    // Logs and history.
    let logs = b.ok(&["logs", &app, "--tail", "100"]);
    assert!(logs.stdout.contains("serving v1"), "{}", logs.stdout);
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["status"], "active");
    let build_log = b.ok(&["build-log", history[0]["id"].as_str().unwrap()]);
    assert!(build_log.stdout.contains("Step 1/"), "{}", build_log.stdout);

    // Env: plain and secret; the secret never reaches SQLite.
    b.ok(&["env", "set", &app, "GREETING=hello again"]);
    // A secret never goes on the command line: refused there, read from stdin as `KEY=-`.
    let refused = b.fails(&["env", "set", &app, "API_TOKEN=s3cr3t-value", "--secret"]);
    assert!(refused.stderr.contains("API_TOKEN=-"), "{}", refused.stderr);
    b.ok_with_input(
        &["env", "set", &app, "API_TOKEN=-", "--secret"],
        "s3cr3t-value\n",
    );
    let env = b.ok(&["env", "ls", &app]);
    assert!(
        env.stdout.contains("API_TOKEN=******** (secret)"),
        "{}",
        env.stdout
    );
    assert!(!env.stdout.contains("s3cr3t-value"));
    let db = std::fs::read(b.data.path().join("berth.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("s3cr3t-value"));

    // Redeploy: exactly one container left, the new version served, new env in effect.
    repo.commit_version("v2");
    b.ok(&["deploy", &app]);
    let v2 = endpoint(b, &app);
    assert_eq!(body(&v2, "/"), "hello v2");
    assert_eq!(body(&v2, "/greeting.txt"), "hello again");
    assert_eq!(containers_of(&app).len(), 1, "{:?}", containers_of(&app));
    let secret_in_container = inspect(&containers_of(&app)[0], "{{json .Config.Env}}");
    assert!(secret_in_container.contains("API_TOKEN=s3cr3t-value"));

    // A one-off command in the serving container: its output as it comes (stdout and stderr
    // apart), the app's env, and its exit code as Berth's.
    let r = b.ok(&[
        "exec",
        &app,
        "--",
        "sh",
        "-c",
        "echo \"token=$API_TOKEN\"; echo oops >&2",
    ]);
    assert_eq!(r.stdout.trim(), "token=s3cr3t-value");
    assert!(r.stderr.contains("oops"), "{}", r.stderr);
    let r = b.run(&["exec", &app, "--", "sh", "-c", "exit 3"]);
    assert_eq!(r.code, Some(3), "{}", r.stderr);
    let r = b.fails(&["exec", &app]);
    assert!(r.stderr.contains("COMMAND"), "{}", r.stderr);

    // Rollback: the v1 image again, no rebuild.
    let rb = b.ok(&["rollback", &app, "--yes"]);
    assert!(
        !rb.stderr.contains("Step 1/"),
        "a rollback must not build:\n{}",
        rb.stderr
    );
    let v1b = endpoint(b, &app);
    assert_eq!(body(&v1b, "/"), "hello v1");
    assert_eq!(containers_of(&app).len(), 1);
    let history = b.ok(&["deployments", &app, "--json"]).json();
    assert_eq!(history[0]["kind"], "rollback");
    assert_eq!(history[0]["status"], "active");
    assert_eq!(history[1]["status"], "superseded");
    // …with what v1 ran with: the variables set since are gone again.
    let env = b.ok(&["env", "ls", &app]).stdout;
    assert!(
        !env.contains("API_TOKEN") && env.contains("GREETING=hi"),
        "{env}"
    );

    // In a terminal (-it): typed into, sized like the user's (asked once it has been typed
    // into: the size follows the start), its exit code as Berth's.
    let r = b.in_terminal(
        &[
            "exec",
            &app,
            "-it",
            "--",
            "sh",
            "-c",
            "tty; read x; stty size; echo \"got:$x\"; exit 5",
        ],
        40,
        100,
        "hello\n",
    );
    assert_eq!(r.code, Some(5), "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("/dev/pts/"), "{}", r.stdout);
    assert!(r.stdout.contains("40 100"), "{}", r.stdout);
    assert!(r.stdout.contains("got:hello"), "{}", r.stdout);
    let r = b.fails(&["exec", &app, "-it", "--", "sh"]);
    assert!(r.stderr.contains("needs a terminal"), "{}", r.stderr);
    // The same in a fresh container made like the serving one, removed afterwards.
    let serving_host = b
        .ok(&["exec", &app, "--", "hostname"])
        .stdout
        .trim()
        .to_owned();
    let r = b.run(&[
        "run",
        &app,
        "--",
        "sh",
        "-c",
        "echo \"greeting=$GREETING\"; hostname; test -x /bin/busybox && echo image; exit 4",
    ]);
    assert_eq!(r.code, Some(4), "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"greeting=hi"), "{}", r.stdout);
    assert_ne!(lines.get(1), Some(&serving_host.as_str()), "{}", r.stdout);
    assert_eq!(lines.get(2), Some(&"image"), "{}", r.stdout);
    let left = run(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=berth.run-of={app}"),
    ]));
    assert!(
        left.trim().is_empty(),
        "the task's container is removed: {left}"
    );

    // Stop, start, restart.
    b.ok(&["stop", &app]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["state"], "stopped");
    assert!(st["endpoint"].is_null());
    let r = b.fails(&["exec", &app, "--", "true"]);
    assert!(
        r.stderr.contains("is not running") && r.stderr.contains("berth start"),
        "{}",
        r.stderr
    );
    b.ok(&["start", &app]);
    assert_eq!(body(&endpoint(b, &app), "/"), "hello v1");
    let before = containers_of(&app);
    b.ok(&["restart", &app]);
    let after = containers_of(&app);
    assert_eq!(after.len(), 1);
    assert_ne!(before, after, "restart replaces the container");
    assert_eq!(body(&endpoint(b, &app), "/"), "hello v1");

    // Follow the log while a request arrives.
    let mut follow = b
        .cmd(&["logs", &app, "--tail", "0", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let addr = endpoint(b, &app);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        let _ = http_get(&addr, "/followed-request");
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            seen = line.contains("followed-request");
        }
    }
    // Ctrl-C ends the follow cleanly (and closes the SSH session).
    run(std::process::Command::new("kill").args(["-INT", &follow.id().to_string()]));
    let status = follow.wait().unwrap();
    assert!(seen, "logs --follow did not show the new request");
    assert!(
        status.success(),
        "logs --follow exits 0 on Ctrl-C: {status}"
    );

    // Remove everything: containers, images, records.
    b.ok(&["app", "rm", &app, "--purge"]);
    assert!(containers_of(&app).is_empty());
    assert!(images_of(&app).is_empty(), "{:?}", images_of(&app));
    b.ok(&["server", "rm", "prod"]);
}

#[test]
fn embedded_ssh_transport() {
    let sshd = Sshd::start();
    let b = Berth::with_spaces();
    let key = sshd.user_key.display().to_string();
    scenario(
        &b,
        &[
            "--ssh",
            &sshd.target(),
            "--identity",
            &key,
            "--transport",
            "embedded",
            "--accept-new",
        ],
    );
}

#[test]
fn system_openssh_transport() {
    let sshd = Sshd::start();
    let b = Berth::with_spaces();
    let key = sshd.user_key.display().to_string();
    scenario(
        &b,
        &[
            "--ssh",
            &sshd.target(),
            "--identity",
            &key,
            "--transport",
            "system",
            "--accept-new",
        ],
    );
}

#[test]
fn local_docker_without_ssh() {
    let b = Berth::new();
    scenario(&b, &["--local"]);
}

#[test]
fn a_server_s_connection_can_be_changed_after_it_was_added() {
    let sshd = Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("prod", &sshd);
    let server = |b: &Berth| b.ok(&["server", "ls", "--json"]).json()[0].clone();
    let before = server(&b);
    assert_eq!(before["transport"], "embedded");
    // A target that answers nobody is refused, and nothing changes.
    let bad = b.fails(&["server", "set", "prod", "--ssh", "root@127.0.0.1:1"]);
    assert!(bad.stderr.contains("127.0.0.1"), "{}", bad.stderr);
    assert_eq!(server(&b), before);
    // The other SSH client, with the same key: checked, then kept.
    let key = sshd.user_key.display().to_string();
    let moved = b.ok(&[
        "server",
        "set",
        "prod",
        "--transport",
        "system",
        "--identity",
        &key,
    ]);
    assert!(moved.stderr.contains("via system"), "{}", moved.stderr);
    assert_eq!(server(&b)["transport"], "system");
    b.ok(&["server", "check", "prod"]);
}
