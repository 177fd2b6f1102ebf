//! Projects and what deployments ran with: a project's variables (a secret one too) reach its
//! apps' containers under the apps' own values, every create flag can be changed with `app
//! set`, and a rollback restores the image and the env, limits and secrets that ran.

use berth_testkit::docker::{AppGuard, containers_of, ensure_busybox, inspect};
use berth_testkit::{Berth, git, unique};

/// The env of the app's one running container, as `KEY=VALUE` lines.
fn container_env(app: &str) -> Vec<String> {
    let containers = containers_of(app);
    assert_eq!(
        containers.len(),
        1,
        "one container of {app}: {containers:?}"
    );
    let json = inspect(&containers[0], "{{json .Config.Env}}");
    serde_json::from_str(&json).unwrap()
}

fn memory_limit(app: &str) -> String {
    inspect(&containers_of(app)[0], "{{.HostConfig.Memory}}")
}

/// What `cmd` prints when it runs on a terminal (`script`'s pseudo-terminal), its input
/// ending at once.
fn on_a_terminal(cmd: std::process::Command) -> String {
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let mut outer = std::process::Command::new("script");
    outer
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(std::process::Stdio::null());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => outer.env(k, v),
            None => outer.env_remove(k),
        };
    }
    let out = outer.output().expect("script runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn has(env: &[String], pair: &str) -> bool {
    env.iter().any(|e| e == pair)
}

#[test]
fn project_variables_reach_apps_and_a_rollback_restores_what_ran() {
    ensure_busybox();
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let project = unique("shop");
    let app = unique("web");
    let _guard = AppGuard(app.clone());

    // A bad project name is refused, naming the rule.
    let bad = b.fails(&["project", "create", "my shop"]);
    assert!(bad.stderr.contains("may only contain"), "{}", bad.stderr);

    b.ok(&["project", "create", &project, "--server", "here"]);
    b.ok(&[
        "env",
        "set",
        "--project",
        &project,
        "LOG_LEVEL=info",
        "SHARED=yes",
    ]);
    b.ok_with_input(
        &["env", "set", "--project", &project, "API_KEY=-", "--secret"],
        "project-secret\n",
    );
    // No --server: the project's.
    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--project",
        &project,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    let shown = b.ok(&["app", "show", &app, "--json"]).json();
    assert_eq!(shown["project"], project.as_str());
    assert_eq!(shown["server"], "here");
    b.ok(&["env", "set", &app, "LOG_LEVEL=debug"]);
    b.ok_with_input(
        &["env", "set", &app, "TOKEN=-", "--secret"],
        "first-token\n",
    );

    // Where each variable comes from, secrets masked.
    let resolved = b.ok(&["env", "ls", &app, "--resolved", "--json"]).json();
    let var = |key: &str| {
        resolved
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} in {resolved}"))
    };
    assert_eq!(var("LOG_LEVEL")["value"], "debug");
    assert_eq!(var("LOG_LEVEL")["from"]["scope"], "app");
    assert_eq!(var("LOG_LEVEL")["overrides"], project.as_str());
    assert_eq!(var("SHARED")["from"]["project"], project.as_str());
    assert_eq!(var("API_KEY")["secret"], true);
    assert!(var("API_KEY")["value"].is_null());
    let table = b.ok(&["env", "ls", &app, "--resolved"]).stdout;
    assert!(
        table.contains(&format!("app (over project {project})")),
        "{table}"
    );
    assert!(!table.contains("project-secret"), "{table}");

    b.ok(&["deploy", &app]);
    let env = container_env(&app);
    for pair in [
        "LOG_LEVEL=debug",
        "SHARED=yes",
        "API_KEY=project-secret",
        "TOKEN=first-token",
    ] {
        assert!(has(&env, pair), "{pair} in {env:?}");
    }
    assert_eq!(memory_limit(&app), "0");
    // The deployment records what it ran with: values, and secrets by version only.
    let first = b.ok(&["deployments", &app, "--json"]).json()[0].clone();
    let first_id = first["id"].as_str().unwrap().to_owned();
    let spec = first["spec"].to_string();
    assert!(spec.contains("\"LOG_LEVEL\""), "{spec}");
    assert!(
        !spec.contains("first-token") && !spec.contains("project-secret"),
        "{spec}"
    );

    // Every create flag can be changed; a bad one changes nothing.
    let bad = b.fails(&["app", "set", &app, "--memory", "lots", "--port", "9090"]);
    assert!(bad.stderr.contains("lots"), "{}", bad.stderr);
    assert_eq!(
        b.ok(&["app", "show", &app, "--json"]).json()["port"],
        8080,
        "nothing changed"
    );
    let set = b.ok(&["app", "set", &app, "--memory", "64m"]);
    assert!(set.stderr.contains("memory: - → 64 MiB"), "{}", set.stderr);
    b.ok(&["env", "set", &app, "GREETING=second"]);
    b.ok_with_input(
        &["env", "set", &app, "TOKEN=-", "--secret"],
        "second-token\n",
    );
    // Pending, secrets by version only; then applied at once by the last edit.
    let plan = b.ok(&["plan", &app]).stderr;
    assert!(plan.contains("env TOKEN: secret v1 → secret v2"), "{plan}");
    assert!(!plan.contains("second-token"), "{plan}");
    b.ok(&["env", "set", &app, "LOG_LEVEL=trace", "--apply"]);
    let env = container_env(&app);
    assert!(has(&env, "TOKEN=second-token"), "{env:?}");
    assert!(has(&env, "GREETING=second"), "{env:?}");
    assert!(has(&env, "LOG_LEVEL=trace"), "{env:?}");
    assert_eq!(memory_limit(&app), (64u64 << 20).to_string());

    // Without a terminal to ask on, a rollback wants --yes, and changes nothing.
    let asked = b.fails(&["rollback", &app]);
    assert!(asked.stderr.contains("--yes"), "{}", asked.stderr);
    assert!(
        asked.stderr.contains("memory: 64 MiB → -"),
        "{}",
        asked.stderr
    );
    assert!(
        asked.stderr.contains("env TOKEN: secret v2 → secret v1"),
        "{}",
        asked.stderr
    );
    assert!(!asked.stderr.contains("first-token"), "{}", asked.stderr);
    assert!(has(&container_env(&app), "TOKEN=second-token"));

    let back = b.ok(&["rollback", &app, "--yes"]);
    assert!(back.stderr.contains(&first_id), "{}", back.stderr);
    assert!(back.stderr.contains("restored"), "{}", back.stderr);
    let env = container_env(&app);
    assert!(has(&env, "TOKEN=first-token"), "{env:?}");
    assert!(!env.iter().any(|e| e.starts_with("GREETING=")), "{env:?}");
    assert!(has(&env, "API_KEY=project-secret"), "{env:?}");
    assert_eq!(memory_limit(&app), "0");
    // The records are what runs: nothing left to differ.
    let shown = b.ok(&["app", "show", &app, "--json"]).json();
    assert!(shown["limits"]["memory_bytes"].is_null(), "{shown}");
    assert_eq!(
        b.ok(&["env", "get", &app, "TOKEN"]).stdout.trim(),
        "first-token"
    );
    // On a terminal a secret is shown only after a yes (here the answer is no: end of input).
    let screen = on_a_terminal(b.cmd(&["env", "get", &app, "TOKEN"]));
    assert!(
        screen.contains("show the value of secret TOKEN") && !screen.contains("first-token"),
        "{screen}"
    );
    let own = b.ok(&["env", "ls", &app]).stdout;
    assert!(!own.contains("GREETING"), "{own}");
    assert!(own.contains("LOG_LEVEL=debug"), "{own}");
    assert!(b.ok(&["plan", &app]).stderr.contains("nothing pending"));

    // A project's variable is pending for its members; discarding it at the project puts
    // back what they run with.
    b.ok(&["env", "set", "--project", &project, "SHARED=no"]);
    let plan = b.ok(&["plan", "--project", &project]).stderr;
    assert!(
        plan.contains(&format!(
            "env SHARED: yes (project {project}) → no (project {project})"
        )),
        "{plan}"
    );
    b.ok(&["discard", "--project", &project]);
    assert_eq!(
        b.ok(&["env", "get", "--project", &project, "SHARED"])
            .stdout
            .trim(),
        "yes"
    );
    // A project's apply goes member by member (by name); one that fails (a port its app
    // does not listen on) takes back those already applied: they serve what they ran
    // before, their changes still pending, and the failing one keeps serving.
    let late = unique("zz");
    let _late_guard = AppGuard(late.clone());
    b.ok(&[
        "app",
        "create",
        &late,
        "--project",
        &project,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
        "--health-timeout",
        "3",
    ]);
    b.ok(&["deploy", &late]);
    let late_serving = containers_of(&late);
    b.ok(&["env", "set", "--project", &project, "SHARED=applied"]);
    b.ok(&["app", "set", &late, "--port", "9090"]);
    let failed = b.fails(&["apply", "--project", &project, "--yes"]);
    assert!(
        failed.stderr.contains(&format!("stopped at {late}"))
            && failed.stderr.contains(&format!("{app} went back")),
        "{}",
        failed.stderr
    );
    assert!(
        has(&container_env(&app), "SHARED=yes"),
        "{:?}",
        container_env(&app)
    );
    assert_eq!(containers_of(&late), late_serving);
    assert!(
        b.ok(&["plan", &app]).stderr.contains("env SHARED"),
        "still pending"
    );
    // Without the bad port, the project's apply reaches each member's new container.
    b.ok(&["discard", &late]);
    let applied = b.ok(&["apply", "--project", &project, "--yes"]).stderr;
    assert!(applied.contains("env SHARED"), "{applied}");
    for member in [&app, &late] {
        assert!(
            has(&container_env(member), "SHARED=applied"),
            "{member}: {:?}",
            container_env(member)
        );
    }
    b.ok(&["app", "rm", &late, "--purge"]);

    // A project with members stays; out of it, it goes.
    let busy = b.fails(&["project", "rm", &project]);
    assert!(busy.stderr.contains(&app), "{}", busy.stderr);
    b.ok(&["app", "set", &app, "--project", ""]);
    b.ok(&["project", "rm", &project]);
    assert!(!b.ok(&["project", "ls"]).stdout.contains(&project));
}

#[test]
fn the_setup_round_trips_through_a_file_and_a_bad_line_is_named() {
    ensure_busybox();
    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let project = unique("team");
    let app = unique("api");
    let other = unique("worker");
    let (_app_guard, _other_guard) = (AppGuard(app.clone()), AppGuard(other.clone()));
    let repo = git::web_app("v1");
    b.ok(&["project", "create", &project, "--server", "here"]);
    b.ok(&["env", "set", "--project", &project, "REGION=eu"]);
    b.ok_with_input(
        &[
            "env",
            "set",
            "--project",
            &project,
            "SHARED_KEY=-",
            "--secret",
        ],
        "never-in-the-file\n",
    );
    b.ok(&[
        "app",
        "create",
        &app,
        "--project",
        &project,
        "--git",
        &repo.path_str(),
        "--memory",
        "128m",
        "--volume",
        "uploads:/uploads",
        "--health-path",
        "/healthz",
        "--start-command",
        "httpd -f -p 8080 -h /www",
    ]);
    b.ok(&["env", "set", &app, "MODE=prod"]);
    b.ok(&["env", "set", &app, "PUBLIC_URL=https://x.test", "--build"]);
    b.ok_with_input(
        &["env", "set", &app, "TOKEN=-", "--secret"],
        "token-value\n",
    );
    b.ok(&["app", "create", &other, "--git", &repo.path_str()]);
    // What stands beside the apps travels too: an image app's stages, a backup target, a
    // notifier whose URL has nothing to hide.
    let site = unique("site");
    let _site_guard = AppGuard(site.clone());
    // (An image app written by hand: creating one on the command line pulls its image.)
    let by_hand = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        by_hand.path(),
        format!(
            "berth: 1
apps:
- name: {site}
  server: here
  image: registry.example.test/site:1
  port: 8080
  health_path: /
  health_timeout_secs: 30
  drain_timeout_secs: 5
  stop_grace_secs: 10
  monitor_interval_secs: 0
  unhealthy_after: 3
  stages:
  - name: dev
    tags: dev-*
    auto_deploy: true
    max_instances: 2
  - name: prod
    tags: v*
    promote_from: dev
    confirm: true
"
        ),
    )
    .unwrap();
    b.ok(&["import", &by_hand.path().display().to_string()]);
    let stages = b.ok(&["app", "stage", "ls", &site, "--json"]).json();
    assert_eq!(stages[1]["promote_from"], "dev", "{stages:#}");
    let kept = tempfile::tempdir().unwrap();
    b.ok(&[
        "backup",
        "target",
        "add",
        "nightly",
        &format!("local:{}", kept.path().display()),
    ]);
    b.ok_with_input(
        &[
            "notify", "add", "webhook", "-", "--app", &app, "--events", "deploy",
        ],
        "http://127.0.0.1:9\n",
    );
    let exported = b.ok(&["export"]).stdout;
    for part in [
        "promote_from: dev",
        "max_instances: 2",
        "name: nightly",
        "url: http://127.0.0.1:9",
    ] {
        assert!(exported.contains(part), "{part} in {exported}");
    }
    assert!(exported.starts_with("berth: 1\n"), "{exported}");
    assert!(
        exported.contains("SHARED_KEY:\n      secret: true"),
        "{exported}"
    );
    assert!(!exported.contains("never-in-the-file") && !exported.contains("token-value"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.yaml");
    std::fs::write(&file, &exported).unwrap();
    let path = file.display().to_string();

    // A teammate's empty Berth: the dry run says what it would do and does nothing.
    let mate = Berth::new();
    let dry = mate.ok(&["import", &path, "--dry-run"]).stderr;
    for line in [
        "add server here".to_owned(),
        format!("create project {project}"),
        format!("create app {app}"),
        format!("create app {other}"),
    ] {
        assert!(dry.contains(&line), "{line} in {dry}");
    }
    assert_eq!(
        mate.ok(&["app", "ls", "--json"]).json(),
        serde_json::json!([])
    );
    let imported = mate.ok(&["import", &path]).stderr;
    assert!(
        imported.contains(&format!(
            "berth env set --project {project} SHARED_KEY=- --secret"
        )),
        "{imported}"
    );
    assert!(
        imported.contains(&format!("berth env set {app} TOKEN=- --secret")),
        "{imported}"
    );
    assert_eq!(
        mate.ok(&["export"]).stdout,
        exported,
        "export → import → export is exact"
    );
    // Once more: nothing to change.
    assert!(
        mate.ok(&["import", &path])
            .stderr
            .contains("nothing to change")
    );
    // A notifier whose URL has a path is written cut (it may hold a token): a teammate is
    // told to add it with the whole URL.
    b.ok_with_input(
        &["notify", "add", "ntfy", "-"],
        "https://ntfy.example.test/team-topic-s3cr3t\n",
    );
    let with_cut = b.ok(&["export"]).stdout;
    assert!(!with_cut.contains("s3cr3t"), "{with_cut}");
    std::fs::write(&file, &with_cut).unwrap();
    let told = mate.ok(&["import", &path]).stderr;
    assert!(told.contains("berth notify add ntfy URL"), "{told}");
    std::fs::write(&file, &exported).unwrap();

    // A bad line is named, and nothing changes.
    let broken = exported.replacen("  port: 8080", "  prot: 8080", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("prot: 8080"))
        .unwrap()
        + 1;
    std::fs::write(&file, &broken).unwrap();
    let bad = mate.fails(&["import", &path]);
    assert!(
        bad.stderr.contains(&format!("line {line}:")),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("unknown field `prot`"),
        "{}",
        bad.stderr
    );
    let renamed = exported.replacen(&format!("name: {app}"), "name: my api", 1);
    let line = renamed
        .lines()
        .position(|l| l.contains("name: my api"))
        .unwrap()
        + 1;
    std::fs::write(&file, &renamed).unwrap();
    let bad = mate.fails(&["import", &path]);
    assert!(
        bad.stderr.contains(&format!("line {line}: app `my api`")),
        "{}",
        bad.stderr
    );
    assert_eq!(mate.ok(&["export"]).stdout, exported, "nothing changed");

    // Updates show what changes; without --prune nothing goes, with it what the file
    // leaves out does.
    mate.ok(&["app", "rm", &other]);
    let alone = mate.ok(&["export"]).stdout;
    b.ok(&["app", "set", &app, "--memory", "256m"]);
    std::fs::write(&file, b.ok(&["export"]).stdout).unwrap();
    let update = mate.ok(&["import", &path]).stderr;
    assert!(
        update.contains(&format!("update app {app}: memory: 128 MiB → 256 MiB")),
        "{update}"
    );
    assert!(update.contains(&format!("create app {other}")), "{update}");
    std::fs::write(&file, &alone).unwrap();
    let back = mate.ok(&["import", &path]).stderr;
    assert!(back.contains("memory: 256 MiB → 128 MiB"), "{back}");
    assert!(!back.contains(&format!("remove app {other}")), "{back}");
    let pruned = mate.ok(&["import", &path, "--prune"]).stderr;
    assert!(pruned.contains(&format!("remove app {other}")), "{pruned}");
    assert_eq!(mate.ok(&["export"]).stdout, alone);
}
