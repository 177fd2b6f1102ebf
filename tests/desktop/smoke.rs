//! The app starts, shows the Overview's empty state, and reads the same data dir as the CLI:
//! a server added with `berth` appears after a refresh. Every screen is saved as a screenshot.

use serde_json::json;

use crate::harness::{DesktopApp, Theme};

#[tokio::test(flavor = "multi_thread")]
async fn launches_and_shares_the_data_dir_with_the_cli() {
    let app = DesktopApp::launch("smoke").await;

    // First screen: nothing yet, and it says what to do.
    let empty = app
        .wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    assert!(empty.contains("add one"), "{empty}");
    app.wait_for_text("[data-testid=empty-apps]", "No apps yet")
        .await;
    app.screenshot("overview-empty").await;

    // A command's Err reaches the page as a value with a code, never as a crash.
    let missing = app.invoke("app", json!({ "name": "nope" })).await;
    assert_eq!(missing["err"]["code"], "not-found", "{missing}");
    assert!(
        missing["err"]["message"].as_str().unwrap().contains("nope"),
        "{missing}"
    );

    // The CLI and the window share one data dir: a server added with `berth` shows up.
    app.berth.ok(&["server", "add", "local", "--local"]);
    app.click("[data-testid=refresh]").await;
    let card = app
        .wait_for_text("[data-testid=server-card]", "local")
        .await;
    assert!(card.contains("This computer's Docker"), "{card}");
    app.wait_for_text("[data-testid=empty-apps]", "create one")
        .await;
    app.screenshot("overview-server").await;
    // The tray icon's menu (when a tray host is installed: scripts/setup.sh installs trayer).
    app.screenshot_tray_menu("tray-menu").await;

    // The other screens render (their own screenshots).
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=server-card]", "local")
        .await;
    app.screenshot("servers").await;
    app.click("[data-testid=nav-apps]").await;
    app.wait_for_text("[data-testid=empty-apps]", "No apps yet")
        .await;
    app.screenshot("apps").await;
    app.click("[data-testid=nav-settings]").await;
    let secrets = app
        .wait_for_text("[data-testid=secrets]", "secrets.json")
        .await;
    assert!(
        secrets.contains(&app.berth.data.path().display().to_string()),
        "{secrets}"
    );
    // About names the same build as `berth --version`, and the relays it carries.
    let version = app.berth.ok(&["--version"]).stdout;
    let commit = version
        .split("(commit ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no commit in {version:?}"));
    let about = app.wait_for_text("[data-testid=about]", commit).await;
    assert!(
        about.contains(&format!("Berth {}", env!("CARGO_PKG_VERSION"))),
        "{about}"
    );
    assert!(about.contains("x86_64 and aarch64 servers"), "{about}");
    app.screenshot("settings").await;

    // Settings → Notifications: a webhook notifier added for deploys, tested (the endpoint
    // hears it), routed to alerts too, removed — the CLI sees each step.
    let (port, heard) = berth_testkit::notification_sink_on("127.0.0.1");
    app.wait_for("[data-testid=empty-notifiers]").await;
    app.select("[data-testid=notifier-kind]", "webhook").await;
    app.fill(
        "[data-testid=notifier-url]",
        &format!("http://127.0.0.1:{port}/hook"),
    )
    .await;
    app.click("[data-testid=notifier-event-deploy]").await;
    app.click("[data-testid=notifier-add]").await;
    app.wait_for_text("[data-testid=notifier-routing]", "every app · deploy")
        .await;
    app.click_clear("[data-testid=notifier-test]").await;
    app.wait_for_text("[data-testid=notifier-test-result]", "test notice taken")
        .await;
    let body = heard
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the test notice");
    assert!(body.contains("berth notify test (desktop)"), "{body}");
    app.click("[data-testid=notifier-route]").await;
    app.click("[data-testid=notifier-route-event-alert]").await;
    // The window paints a moment after the page changed.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("notifications").await;
    app.click("[data-testid=notifier-route-save]").await;
    app.wait_for_text(
        "[data-testid=notifier-routing]",
        "every app · deploy, alert",
    )
    .await;
    let listed = app.berth.ok(&["notify", "ls", "--json"]).json();
    assert_eq!(listed[0]["events"], serde_json::json!(["deploy", "alert"]));
    app.click_clear("[data-testid=notifier-rm]").await;
    app.click("[data-testid=confirm-ok]").await;
    app.wait_for("[data-testid=empty-notifiers]").await;
    assert_eq!(
        app.berth.ok(&["notify", "ls", "--json"]).json(),
        serde_json::json!([])
    );

    app.quit().await;
}

/// One way to open Berth for every front end: with no keychain service, the user keeps secrets
/// in a file from the window's banner, and from then on the CLI — given no `--secrets` —
/// reads and writes the same secrets on that data dir.
#[tokio::test(flavor = "multi_thread")]
async fn the_secrets_backend_chosen_in_the_window_is_the_cli_s_too() {
    let app = DesktopApp::launch_without_a_keychain("secrets-choice").await;
    let banner = app
        .wait_for_text("[data-testid=keychain-banner]", "No keychain service")
        .await;
    assert!(banner.contains("Keep secrets in a file"), "{banner}");
    app.wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    // The window paints its first frames a moment after the page is ready.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    app.screenshot("keychain-banner").await;
    app.click("[data-testid=keychain-banner] button").await;
    app.click("[data-testid=nav-settings]").await;
    app.wait_for_text("[data-testid=secrets]", "secrets.json")
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    app.screenshot("file-chosen").await;

    let repo = berth_testkit::git::web_app("v1");
    app.berth.ok(&["server", "add", "local", "--local"]);
    let name = berth_testkit::unique("secrets");
    app.berth.ok(&[
        "app",
        "create",
        &name,
        "--server",
        "local",
        "--git",
        &repo.path_str(),
    ]);
    // The CLI as a user runs it: no BERTH_SECRETS, no flag.
    let cli = |args: &[&str]| {
        let out = app
            .berth
            .cmd(args)
            .env_remove("BERTH_SECRETS")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "berth {args:?}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let set = app
        .invoke(
            "env_set",
            json!({ "app": name, "key": "API_TOKEN", "value": "from-the-window", "secret": true }),
        )
        .await;
    assert!(set.get("err").is_none(), "{set}");
    let got = cli(&["env", "get", &name, "API_TOKEN"]);
    assert_eq!(got.trim(), "from-the-window");
    let out = app
        .berth
        .cmd(&["env", "set", &name, "DB_PASSWORD=-", "--secret"])
        .env_remove("BERTH_SECRETS")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(b"from-the-cli\n")?;
            }
            child.wait_with_output()
        })
        .expect("berth env set");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = app
        .invoke("env_reveal", json!({ "app": name, "key": "DB_PASSWORD" }))
        .await;
    assert_eq!(shown["ok"], "from-the-cli", "{shown}");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn follows_a_dark_desktop_theme() {
    let app = DesktopApp::launch_with("dark", Theme::Dark).await;
    app.wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    let background = app
        .client
        .execute(
            "return getComputedStyle(document.documentElement).backgroundColor",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(background, "rgb(20, 23, 29)", "the dark palette applies");
    app.screenshot("overview-empty").await;
    app.quit().await;
}

/// As shipped on Linux (no accelerated compositing) nothing in the app process draws with GL,
/// so no GL driver is loaded into it — Mesa's, with LLVM, is about 50 MB resident — while the
/// page still renders and answers. (The other desktop tests turn compositing on for
/// WebDriver's screenshots, which brings WebKit's GL defaults back.)
#[tokio::test(flavor = "multi_thread")]
async fn as_shipped_the_app_process_loads_no_gl_driver() {
    let app = DesktopApp::launch_as_shipped("shipped").await;
    app.wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    app.click("[data-testid=nav-settings]").await;
    app.wait_for_text("[data-testid=secrets]", "secrets.json")
        .await;

    let pid = app.app_pid().expect("berth-desktop is running");
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let drivers: std::collections::BTreeSet<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| {
            path.contains("/dri/") || path.contains("libLLVM") || path.contains("_mesa.so")
        })
        .collect();
    assert!(
        drivers.is_empty(),
        "the app process loaded a GL driver: {drivers:?}"
    );
    app.quit().await;
}
