//! The desktop issue's scenario, in a real window against the real sshd and dockerd: add the
//! loopback server over SSH (confirming its host key fingerprint), create an app from a fixture
//! repository, deploy it and see it running with its log, redeploy, roll back from the history.
//! Then close the window: it goes, with WebKit's web process, while Berth stays in the tray and a
//! deploy made with the CLI still gets its notification; the tray's "Open Berth" brings a new
//! window back. Every screen on the way is saved as a screenshot.

use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, ensure_busybox};
use berth_testkit::{Sshd, git, http_get, unique};

use crate::harness::DesktopApp;

/// The app's active commit, as the CLI reports it.
fn active_commit(app: &DesktopApp, name: &str) -> Option<String> {
    let st = app.berth.ok(&["status", name, "--json"]).json();
    st["commit"].as_str().map(str::to_owned)
}

/// Waits until the CLI reports `commit` as active and the app answers with `body`.
async fn wait_serving(app: &DesktopApp, name: &str, commit: &str, body: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if active_commit(app, name).as_deref() == Some(commit) {
            let st = app.berth.ok(&["status", name, "--json"]).json();
            if let Some(endpoint) = st["endpoint"].as_str()
                && let Some((200, got)) = http_get(endpoint, "/")
                && got.contains(body)
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} never served {body:?} from {commit}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until the window is shown with its web process, or until that process is gone.
async fn wait_window(app: &DesktopApp, shown: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = || {
        if shown {
            app.window_titled("Berth") && app.has_web_process()
        } else {
            !app.has_web_process()
        }
    };
    while !done() {
        assert!(
            Instant::now() < deadline,
            "the window is {}; the app's processes: {:?}",
            if shown { "not back" } else { "still there" },
            app.app_process_names()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the app's log has `times` lines containing `text`.
async fn wait_log(app: &DesktopApp, text: &str, times: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while app.app_log().matches(text).count() < times {
        assert!(
            Instant::now() < deadline,
            "the app did not log {text:?} {times} times; its log:\n{}",
            app.app_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn add_a_server_then_create_deploy_redeploy_and_roll_back_an_app() {
    ensure_busybox();
    let sshd = Sshd::start();
    let app = DesktopApp::launch("scenario").await;
    let name = unique("desk");
    let _guard = AppGuard(name.clone());
    let repo = git::web_app("v1");
    let v1 = repo.head();

    // --- Servers: add the loopback sshd, confirming the fingerprint it presents ---------------
    app.click("[data-testid=nav-servers]").await;
    app.click("[data-testid=add-server]").await;
    app.wait_for("[data-testid=add-server-dialog]").await;
    app.fill("[data-testid=server-name]", "loop").await;
    app.click("[data-testid=server-kind-ssh]").await;
    app.fill("[data-testid=server-ssh]", &sshd.target()).await;
    app.fill(
        "[data-testid=server-identity]",
        &sshd.user_key.display().to_string(),
    )
    .await;
    app.screenshot("add-server").await;
    app.click("[data-testid=server-continue]").await;
    let key = app
        .wait_for_text("[data-testid=host-key]", &sshd.host_fingerprint())
        .await;
    assert!(key.contains(&sshd.port.to_string()), "{key}");
    app.screenshot("add-server-fingerprint").await;
    app.click("[data-testid=server-trust]").await;
    let status = "[data-server=loop] [data-testid=server-status]";
    app.wait_for_text(status, "Connected").await;
    let card = app.wait_for_text("[data-server=loop]", "Docker").await;
    assert!(card.contains("ms"), "the card shows the latency: {card}");
    app.screenshot("servers-connected").await;
    // The CLI sees the server the window added, with the key the user confirmed.
    let check = app.berth.ok(&["server", "check", "loop", "--json"]).json();
    assert!(check["docker_version"].is_string(), "{check}");
    // The connection can change after adding: here to the system OpenSSH client and back,
    // each checked before it is kept.
    for (client, shown) in [("system", "via system"), ("embedded", "via embedded")] {
        app.click("[data-server=loop] [data-testid=connection-edit]")
            .await;
        app.select(
            "[data-server=loop] [data-testid=connection-transport]",
            client,
        )
        .await;
        if client == "system" {
            app.screenshot("server-connection").await;
        }
        app.click("[data-server=loop] [data-testid=connection-save]")
            .await;
        app.wait_for_text("[data-server=loop] [data-testid=server-connection]", shown)
            .await;
        let listed = app.berth.ok(&["server", "ls", "--json"]).json();
        let lp = listed
            .as_array()
            .and_then(|l| l.iter().find(|s| s["name"] == "loop"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(lp["transport"], client, "{listed}");
    }

    // --- Apps: create one from the fixture repository -----------------------------------------
    app.click("[data-testid=nav-apps]").await;
    app.click("[data-testid=new-app]").await;
    app.wait_for("[data-testid=app-form]").await;
    app.fill("[data-testid=app-name]", &name).await;
    app.select("[data-testid=app-server]", "loop").await;
    app.fill("[data-testid=app-git]", &repo.path_str()).await;
    app.fill("[data-testid=app-port]", "8080").await;
    app.fill("[data-testid=app-health]", "/healthz").await;
    app.screenshot("app-form").await;
    app.click("[data-testid=app-save]").await;

    // --- Deploy: steps stream in, the app reaches Running, its log shows ----------------------
    app.click("[data-testid=deploy]").await;
    app.wait_for("[data-testid=step]").await;
    app.screenshot("app-deploying").await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    wait_serving(&app, &name, &v1, "hello v1").await;
    app.wait_for("[data-testid=step][data-state=ok]").await;
    app.screenshot("app-running").await;
    app.click("[data-testid=tab-logs]").await;
    app.wait_for_text("[data-testid=container-log]", "serving v1")
        .await;
    app.screenshot("app-logs").await;
    let deployed = format!("notification: {name} deployed — live at");
    wait_log(&app, &deployed, 1).await;

    // --- Redeploy a new commit ------------------------------------------------------------------
    let v2 = repo.commit_version("v2");
    app.click("[data-testid=deploy]").await;
    wait_serving(&app, &name, &v2, "hello v2").await;
    // The log follows the new container (a deploy shows the Deploys tab: back to Logs).
    app.click("[data-testid=tab-logs]").await;
    app.wait_for_text("[data-testid=container-log]", "serving v2")
        .await;
    app.click("[data-testid=tab-deploys]").await;
    app.wait_for_text("[data-testid=history]", &v2[..7]).await;
    wait_log(&app, &deployed, 2).await;
    app.screenshot("app-redeployed").await;

    // --- Roll back to the first deployment, from the history -----------------------------------
    let deployments = app.berth.ok(&["deployments", &name, "--json"]).json();
    let first = deployments
        .as_array()
        .and_then(|l| l.iter().find(|d| d["commit"].as_str() == Some(v1.as_str())))
        .and_then(|d| d["id"].as_str())
        .expect("the first deployment is listed")
        .to_owned();
    app.click_clear(&format!(
        "[data-testid=deployment-row][data-id=\"{first}\"] [data-testid=rollback]"
    ))
    .await;
    app.wait_for("[data-testid=confirm-dialog]").await;
    app.screenshot("rollback-confirm").await;
    app.click("[data-testid=confirm-ok]").await;
    wait_serving(&app, &name, &v1, "hello v1").await;
    wait_log(&app, &format!("notification: {name} rolled back"), 1).await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    app.screenshot("app-rolled-back").await;
    // The app as the other screens show it.
    app.click("[data-testid=nav-apps]").await;
    app.wait_for_text(&format!("[data-app=\"{name}\"]"), "Running")
        .await;
    app.screenshot("apps").await;
    app.click("[data-testid=nav-overview]").await;
    app.wait_for_text("body", &name).await;
    app.screenshot("overview").await;

    // --- Close the window: Berth stays in the tray, and a deploy from the CLI still notifies ----
    assert!(app.window_titled("Berth"), "the window is shown");
    app.close_window().await;
    wait_log(&app, "window closed; Berth keeps running in the tray", 1).await;
    // The window's web content process goes with it: the tray alone holds little memory.
    wait_window(&app, false).await;
    assert!(
        app.app_pid().is_some(),
        "Berth quit instead of staying in the tray"
    );
    app.berth.ok(&["deploy", &name]);
    wait_log(&app, &deployed, 3).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        app.app_log().matches(&deployed).count(),
        3,
        "one notification per deploy:\n{}",
        app.app_log()
    );

    // The tray's "Open Berth" brings a new window (and its web process) back.
    if app.open_from_tray().await {
        wait_window(&app, true).await;
    }

    app.berth.ok(&["app", "rm", &name, "--purge"]);
    app.berth.ok(&["server", "rm", "loop"]);
    app.quit().await;
}
