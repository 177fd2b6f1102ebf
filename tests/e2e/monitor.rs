//! After the deploy, with the laptop closed: the relay samples every app and the host, its
//! monitor restarts a hung app and stops a crash loop (alerting once), its reconcile starts or
//! re-creates a container stopped or removed behind Berth's back, and Berth reads what it kept
//! over the SSH session.

use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, NamedGuard, VolumeGuard, ensure_busybox, gateway};
use berth_testkit::{
    Berth, Registry, S3Server, Sshd, free_port, git, notification_sink_on, unique,
};

use crate::webhooks::RelayGuard;

/// The app's one container (running or not).
fn container_of(app: &str) -> String {
    let names = berth_testkit::docker::containers_of(app);
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn docker(args: &[&str]) -> String {
    berth_testkit::run(Command::new("docker").args(args))
        .trim()
        .to_owned()
}

/// Waits for a notice whose JSON names `app` with `status`; the notices heard on the way.
fn wait_notice(
    heard: &mpsc::Receiver<String>,
    app: &str,
    status: &str,
    within: Duration,
) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(body) = heard.recv_timeout(left) else {
            break;
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let hit = v["notice"]["app"] == app && v["notice"]["status"] == status;
        seen.push(v);
        if hit {
            return seen;
        }
    }
    let logs = Command::new("docker")
        .args(["logs", "--tail", "80", "berth-relay"])
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default();
    panic!("no `{status}` notice for {app} within {within:?}; heard {seen:#?}\nrelay log:\n{logs}");
}

/// `backup verify SERVICE latest --from TARGET`: the restored copy holds its keys.
fn verify_latest(b: &Berth, service: &str, target: &str) {
    let verified = b
        .ok(&[
            "backup", "verify", service, "latest", "--from", target, "--json",
        ])
        .json();
    assert!(
        verified["found"]
            .as_str()
            .is_some_and(|f| f.ends_with(" keys")),
        "{verified:#}"
    );
}

fn alert_kinds(b: &Berth, app: &str) -> Vec<String> {
    let list = b.ok(&["alerts", "--app", app, "--json"]).json();
    let mut kinds: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

#[test]
fn the_relay_samples_restarts_a_hung_app_stops_a_crash_loop_and_puts_back_drift() {
    let _relay = RelayGuard::take();
    ensure_busybox();
    let sshd = Sshd::start();
    let mut b = Berth::new();
    b.set_env("BERTH_RELAY_LOG", "debug,hyper=info,bollard=info");
    // The relay looks for drift every 2 s instead of every minute.
    b.set_env("BERTH_RELAY_RECONCILE_EVERY", "2");
    b.add_ssh_server("prod", &sshd);
    b.ok(&[
        "server",
        "relay",
        "install",
        "prod",
        "--listen-port",
        &free_port().to_string(),
    ]);
    // Alerts go to a real HTTP endpoint (routed: alerts only).
    let (sink, heard) = notification_sink_on("0.0.0.0");
    b.ok_with_input(
        &["notify", "add", "webhook", "-", "--events", "alert"],
        &format!("http://{}:{sink}/alerts\n", gateway("berth")),
    );

    // A Redis backed up by the relay every minute into a directory of the server, keeping
    // one: a backup taken by hand first is the one retention removes.
    let image = berth_testkit::test_image("redis");
    let registry = Registry::start();
    let cache = unique("kept");
    let _pulled = NamedGuard(cache.clone());
    let reference = registry.push_local(&image, &format!("berth-test/{cache}"), "7");
    let _cache_guards = (
        AppGuard(cache.clone()),
        VolumeGuard(berth_model::data_volume(&cache)),
    );
    b.ok(&[
        "service", "create", &cache, "--kind", "redis", "--image", &reference,
    ]);
    let dir = format!("/tmp/{}", unique("scheduled"));
    let _dir = crate::services::DirGuard(dir.clone());
    let _holder = NamedGuard(dir.trim_start_matches("/tmp/").to_owned());
    b.ok(&[
        "backup",
        "target",
        "add",
        "disk",
        &format!("ssh://prod{dir}"),
        "--encrypt",
    ]);
    let recipient = b.ok(&["backup", "key", "show"]).stdout.trim().to_owned();
    // An S3 bucket the relay's container reaches (the server listens on the network's
    // gateway), sealed too.
    let s3 = S3Server::start_on(&gateway("berth"));
    let added = b.run_with_env(
        &[
            "backup",
            "target",
            "add",
            "bucket",
            &format!("s3://{}", s3.bucket),
            "--endpoint",
            &s3.endpoint,
            "--encrypt",
        ],
        &[
            ("AWS_ACCESS_KEY_ID", s3.access_key_id.as_str()),
            ("AWS_SECRET_ACCESS_KEY", s3.secret_access_key.as_str()),
        ],
    );
    assert_eq!(added.code, Some(0), "{}", added.stderr);
    let r = b.fails(&["backup", "schedule", &cache, "--cron", "0 25 * * *"]);
    assert!(
        r.stderr.contains("`25` is not a number from 0 to 23"),
        "{}",
        r.stderr
    );
    // By hand into a directory on the server, over the SSH session; proven to restore.
    let by_hand = b
        .ok(&["backup", "create", &cache, "--to", "disk", "--json"])
        .json();
    assert_eq!(by_hand["backup"]["sealed_to"], recipient.as_str());
    verify_latest(&b, &cache, "disk");
    let scheduled = b.ok(&[
        "backup",
        "schedule",
        &cache,
        "--cron",
        "* * * * *",
        "--keep",
        "1",
        "--to",
        "bucket",
    ]);
    assert!(scheduled.stderr.contains("(next: "), "{}", scheduled.stderr);
    let schedule_set = Instant::now();
    let schedules = b.ok(&["backup", "schedules", "--json"]).json();
    assert_eq!(schedules[0]["service"], cache.as_str(), "{schedules:#}");
    assert_eq!(schedules[0]["target"], "bucket", "{schedules:#}");
    // A cron job the relay runs every minute, in a fresh container made like the service's.
    let r = b.fails(&[
        "cron",
        "add",
        &cache,
        "tick",
        "--schedule",
        "nope",
        "--",
        "true",
    ]);
    assert!(
        r.stderr.contains("is not a cron expression"),
        "{}",
        r.stderr
    );
    b.ok(&[
        "cron",
        "add",
        &cache,
        "tick",
        "--schedule",
        "* * * * *",
        "--",
        "sh",
        "-c",
        "echo tick from cron",
    ]);

    let hung = unique("hung");
    let _hung_guard = AppGuard(hung.clone());
    let repo = git::web_app("v1");
    let create = |app: &str, repo: &git::Repo| {
        b.ok(&[
            "app",
            "create",
            app,
            "--git",
            &repo.path_str(),
            "--health-path",
            "/healthz",
            "--monitor-interval",
            "1s",
            "--unhealthy-after",
            "2",
        ]);
    };
    create(&hung, &repo);
    let shown = b.ok(&["app", "show", &hung]).stdout;
    assert!(
        shown.contains("every 1s, restart after 2 failed probes"),
        "{shown}"
    );
    b.ok(&["deploy", &hung]);
    let container = container_of(&hung);

    // Its process hangs (SIGSTOP; PID 1 is Docker's init): Docker sees nothing wrong, the
    // monitor does.
    docker(&["exec", &container, "killall", "-STOP", "httpd"]);
    let heard_first = wait_notice(&heard, &hung, "restarted", Duration::from_secs(60));
    assert!(
        heard_first
            .iter()
            .any(|n| n["notice"]["status"] == "unhealthy"
                && n["notice"]["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("2 probes in a row")),
        "{heard_first:#?}"
    );
    wait_notice(&heard, &hung, "recovered", Duration::from_secs(60));
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &container]),
        "running"
    );
    assert_eq!(b.serving(&hung), "hello v1");
    assert_eq!(
        alert_kinds(&b, &hung),
        ["unhealthy", "restarted", "recovered"]
    );
    let table = b.ok(&["alerts"]).stdout;
    assert!(
        table.contains(&hung) && table.contains("restarted"),
        "{table}"
    );

    // Stats: samples with real memory figures, the restart counted; the host and Docker.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let s = b.ok(&["stats", &hung, "--json"]).json();
        let samples = s["samples"].as_array().cloned().unwrap_or_default();
        if samples
            .last()
            .is_some_and(|x| x["mem_bytes"].as_u64() > Some(0) && x["restarts"].as_u64() >= Some(1))
        {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no samples after a restart: {s:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(stats["source"], "relay");
    assert!(
        stats["alerts"].as_array().is_some_and(|a| a.len() == 3),
        "alerts in the window mark the charts: {stats:#}"
    );
    let text = b.ok(&["stats", &hung]).stdout;
    assert!(
        text.contains("MEMORY / LIMIT") && text.contains("iB / "),
        "{text}"
    );
    let host = b
        .ok(&["server", "stats", "prod", "--since", "24h", "--json"])
        .json();
    let last = host["samples"].as_array().and_then(|s| s.last()).cloned();
    let last = last.unwrap_or_else(|| panic!("no host samples: {host:#}"));
    assert!(last["mem_total"].as_u64() > Some(0), "{host:#}");
    assert!(
        last["disks"].as_array().is_some_and(|d| d
            .iter()
            .any(|d| d["mount"] == "/" && d["total"].as_u64() > Some(0))),
        "{host:#}"
    );
    assert!(host["docker"]["images"].as_u64() > Some(0), "{host:#}");

    // Drift behind Berth's back, put back by the relay on its own: a stopped container is
    // started again…
    docker(&["stop", &container]);
    let heard_fix = wait_notice(&heard, &hung, "reconciled", Duration::from_secs(60));
    let why = heard_fix.last().unwrap()["notice"]["error"].to_string();
    assert!(
        why.contains("not running") && why.contains("answered GET /healthz"),
        "{why}"
    );
    assert_eq!(b.serving(&hung), "hello v1");
    // …a removed one is created again as it ran (same name, env and labels), health-checked.
    docker(&["rm", "-f", &container]);
    let heard_fix = wait_notice(&heard, &hung, "reconciled", Duration::from_secs(60));
    let why = heard_fix.last().unwrap()["notice"]["error"].to_string();
    assert!(
        why.contains("is gone") && why.contains("again from"),
        "{why}"
    );
    assert_eq!(container_of(&hung), container);
    assert_eq!(b.serving(&hung), "hello v1");
    // What `berth stop` stopped stays stopped.
    b.ok(&["stop", &hung]);
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &container]),
        "exited"
    );
    b.ok(&["start", &hung]);

    // A crash loop: stopped and alerted once, not restarted forever.
    let crashy = unique("crashy");
    let _crashy_guard = AppGuard(crashy.clone());
    let fragile = git::Repo::new();
    fragile.commit_fragile("v1");
    create(&crashy, &fragile);
    b.ok(&["deploy", &crashy]);
    let container = container_of(&crashy);
    docker(&["exec", &container, "touch", "/www/crash"]);
    wait_notice(&heard, &crashy, "crash-loop", Duration::from_secs(60));
    let stopped_at = docker(&["inspect", "-f", "{{.RestartCount}}", &container]);
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}}",
            &container
        ]),
        format!("exited {stopped_at}")
    );
    let kinds = alert_kinds(&b, &crashy);
    assert_eq!(
        kinds.iter().filter(|k| *k == "crash-loop").count(),
        1,
        "{kinds:?}"
    );
    let st = b.ok(&["status", &crashy, "--json"]).json();
    assert_ne!(st["state"], "running", "{st:#}");

    // Prometheus sees the same.
    let metrics = b.ok(&["server", "relay", "metrics", "prod"]).stdout;
    for needle in [
        format!("berth_app_healthy{{app=\"{crashy}\"}} -1"),
        format!("berth_app_healthy{{app=\"{hung}\"}} 1"),
        format!("berth_relay_monitor_events_total{{app=\"{crashy}\",kind=\"crash-loop\"}} 1"),
        format!("berth_app_memory_bytes{{app=\"{hung}\"}}"),
        format!("berth_relay_monitor_events_total{{app=\"{hung}\",kind=\"reconciled\"}} 2"),
        // Deploys from the CLI are counted too, by trigger, with their durations.
        format!(
            "berth_relay_deploys_total{{app=\"{hung}\",status=\"deployed\",trigger=\"deploy\"}} 1"
        ),
        format!("berth_relay_deploy_duration_seconds_count{{app=\"{hung}\"}} 1"),
    ] {
        assert!(metrics.contains(&needle), "{needle}\n{metrics}");
    }

    // The relay's scheduled backup, in S3, found where `berth backup ls` reads: one kept
    // (keep 1) however many minutes passed, the event in the service's alerts.
    let listed = loop {
        let listed = b
            .ok(&["backup", "ls", &cache, "--in", "bucket", "--json"])
            .json();
        let list = listed.as_array().cloned().unwrap_or_default();
        if list.iter().any(|r| r["trigger"] == "schedule") {
            break list;
        }
        assert!(
            schedule_set.elapsed() < Duration::from_secs(150),
            "no scheduled backup: {listed:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["result"], "ok", "{listed:#?}");
    assert_ne!(listed[0]["id"], by_hand["backup"]["id"]);
    assert!(alert_kinds(&b, &cache).contains(&"backed-up".to_owned()));
    // Sealed by the relay with the public half only; it opens with this machine's key.
    assert_eq!(listed[0]["sealed_to"], recipient.as_str(), "{listed:#?}");
    verify_latest(&b, &cache, "bucket");
    // The cron job ran (at least once while the app was up), its output in the event.
    loop {
        let list = b.ok(&["alerts", "--app", &cache, "--json"]).json();
        let ran = list
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .any(|a| {
                a["kind"] == "cron-ran"
                    && a["why"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("tick from cron")
            });
        if ran {
            break;
        }
        assert!(
            schedule_set.elapsed() < Duration::from_secs(200),
            "the cron job never ran: {list:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    // The setup as a file carries the schedule, the cron job, both targets (no keys) and the
    // notifier (its URL cut: it may hold a token); read back here, it changes nothing.
    let exported = b.ok(&["export"]).stdout;
    for part in [
        "keep: 1",
        "target: bucket",
        "name: tick",
        "echo tick from cron",
        &format!("location: ssh://prod{dir}"),
        &format!("location: s3://{}", s3.bucket),
        "encrypt: true",
        "/…",
    ] {
        assert!(exported.contains(part), "{part} in {exported}");
    }
    assert!(!exported.contains(&s3.secret_access_key), "{exported}");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &exported).unwrap();
    let path = file.path().display().to_string();
    let again = b.ok(&["import", &path]).stderr;
    assert!(again.contains("nothing to change"), "{again}");
    // A teammate whose Berth knows the server but not its relay is told what to do first,
    // on the service's line, and nothing changes.
    let mate = Berth::new();
    mate.add_ssh_server("prod", &sshd);
    let refused = mate.fails(&["import", &path]);
    let line = exported
        .lines()
        .position(|l| l.trim_start_matches("- ").trim() == format!("name: {cache}"))
        .unwrap()
        + 1;
    assert!(
        refused.stderr.contains(&format!("line {line}:"))
            && refused.stderr.contains("berth server relay install prod"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        mate.ok(&["app", "ls", "--json"]).json(),
        serde_json::json!([])
    );
    b.ok(&["cron", "rm", &cache, "tick"]);
    assert_eq!(
        b.ok(&["cron", "ls", "--json"]).json(),
        serde_json::json!([])
    );
    b.ok(&["backup", "unschedule", &cache]);
    b.ok(&["service", "rm", &cache, "--purge"]);
}
