//! The app page in a real window, against this machine's Docker: deploy and watch the steps,
//! the coloured build log and the container's output; search the log; set a secret variable
//! (masked, then revealed) and see the app get it on the next deploy; roll back from the
//! history; try a domain on a server without a proxy; stop and start.

use std::time::{Duration, Instant};

use berth_testkit::docker::{AppGuard, BUSYBOX, ensure_busybox};
use berth_testkit::git::Repo;
use fantoccini::Locator;

use crate::harness::DesktopApp;

/// A web app whose build prints a coloured line and whose container prints one too.
fn commit_app(repo: &Repo, version: &str) -> String {
    let dockerfile = format!(
        "FROM {BUSYBOX}\nCOPY www /www\nRUN printf '\\033[1;32massets ready\\033[0m \\033[33m(2 files)\\033[0m\\n'\nEXPOSE 8080\nCMD [\"sh\", \"-c\", \"printf '\\\\033[36mserving {version}\\\\033[0m\\\\n'; echo \\\"greeting=$GREETING\\\"; exec httpd -f -vv -p 8080 -h /www\"]\n"
    );
    let index = format!("hello {version}\n");
    repo.commit(
        &[
            ("Dockerfile", dockerfile.as_str()),
            ("www/index.html", index.as_str()),
            ("www/healthz", "ok\n"),
            // A worker beside the web process, as a Procfile says.
            ("Procfile", "worker: sh -c 'while sleep 1; do :; done'\n"),
        ],
        &format!("web app {version}"),
    )
}

/// How many elements match `css` right now.
async fn count(app: &DesktopApp, css: &str) -> usize {
    app.client
        .find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Waits until `css` matches exactly `n` elements.
async fn wait_count(app: &DesktopApp, css: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = count(app, css).await;
        if c == n {
            return;
        }
        assert!(Instant::now() < deadline, "`{css}`: {c} elements, want {n}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Waits for a text with a longer limit than the harness's (deploys build images).
async fn wait_long(app: &DesktopApp, css: &str, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = app.client.find(Locator::Css(css)).await
            && let Ok(t) = el.text().await
        {
            if t.contains(text) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("`{css}` never showed {text:?}; last text: {last:?}")
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_watch_configure_and_roll_back() {
    ensure_busybox();
    let app = DesktopApp::launch("page").await;
    let name = berth_testkit::unique("uipage");
    let _guard = AppGuard(name.clone());
    let repo = Repo::new();
    let v1 = commit_app(&repo, "v1");
    app.berth.ok(&["server", "add", "local", "--local"]);
    app.berth.ok(&[
        "app",
        "create",
        &name,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);

    // From the Overview's row to the app's page.
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=app-row]", &name).await;
    app.click("[data-testid=app-row] button.link").await;
    app.wait_for_text("[data-testid=app-state]", "Not deployed")
        .await;
    app.wait_for("[data-testid=empty-history]").await;
    app.screenshot("app-new").await;

    // Deploy: the steps appear and run, the build log streams with its colours.
    app.click("[data-testid=deploy]").await;
    app.wait_for("[data-testid=progress] [data-testid=step][data-step=build]")
        .await;
    assert_eq!(
        count(&app, "[data-testid=progress] [data-testid=step]").await,
        7
    );
    app.screenshot("app-deploying").await;
    wait_long(&app, "[data-testid=app-state]", "Running").await;
    let outcome = app.wait_for_text("[data-testid=outcome]", "Live").await;
    assert!(outcome.contains(" in "), "{outcome}");
    for step in ["resolve", "build", "start", "health-check", "cleanup"] {
        let css = format!("[data-testid=step][data-step={step}]");
        let state = app.wait_for(&css).await.attr("data-state").await.unwrap();
        assert_eq!(state.as_deref(), Some("ok"), "{step}");
    }
    let build = app
        .wait_for_text("[data-testid=build-log]", "assets ready")
        .await;
    assert!(!build.contains("\u{1b}["), "escapes are rendered: {build}");
    let green = app
        .wait_for("[data-testid=build-log] .ansi-fg2.ansi-b")
        .await;
    assert_eq!(green.text().await.unwrap(), "assets ready");
    wait_count(&app, "[data-testid=deployment-row]", 1).await;
    // The Procfile's worker runs beside it, and the header says so.
    let worker = wait_long(&app, "[data-testid=app-worker]", "running").await;
    assert!(worker.contains("worker"), "{worker}");
    app.screenshot("app-running").await;

    // The container's output, live, and searchable.
    app.click("[data-testid=tab-logs]").await;
    wait_long(&app, "[data-testid=container-log]", "serving v1").await;
    app.wait_for("[data-testid=container-log] .ansi-fg6").await;
    app.wait_for_text("[data-testid=log-status]", "Live").await;
    wait_long(&app, "[data-testid=container-log]", "healthz").await;
    app.fill("[data-testid=log-search]", "HEALTHZ").await;
    app.wait_for_text("[data-testid=log-matches]", "match")
        .await;
    app.wait_for("[data-testid=container-log] mark.log-hit")
        .await;
    let filtered = app
        .wait_for("[data-testid=container-log]")
        .await
        .text()
        .await
        .unwrap();
    assert!(!filtered.contains("serving v1"), "{filtered}");
    app.screenshot("app-logs").await;
    app.fill("[data-testid=log-search]", "").await;

    // No relay on this server: the running desktop samples the app itself.
    app.click("[data-testid=tab-metrics]").await;
    let memory = wait_long(&app, "[data-testid=metrics-memory]", "iB").await;
    assert!(!memory.starts_with("0 B"), "{memory}");
    app.wait_for_text("[data-testid=metrics-source]", "taken by this app")
        .await;

    // A secret variable: refused with a bad key, then saved, masked, revealed, hidden.
    app.click("[data-testid=tab-env]").await;
    app.wait_for("[data-testid=empty-env]").await;
    app.fill("[data-testid=env-key]", "1BAD").await;
    app.click("[data-testid=env-add]").await;
    app.wait_for_text("[data-testid=env-key-error]", "must start with a letter")
        .await;
    app.fill("[data-testid=env-key]", "GREETING").await;
    app.fill("[data-testid=env-value]", "hello from the keychain")
        .await;
    app.click("[data-testid=env-secret]").await;
    app.click("[data-testid=env-add]").await;
    let row = "[data-testid=env-row][data-key=GREETING]";
    let masked = app.wait_for_text(row, "••••••").await;
    assert!(!masked.contains("hello from the keychain"), "{masked}");
    app.wait_for_text("[data-testid=env-note]", "pending").await;
    // The change waits, shown above the tabs with what it changes (a secret by version only).
    app.wait_for_text("[data-testid=pending-banner]", "1 pending change")
        .await;
    app.click("[data-testid=pending-toggle]").await;
    let diff = app
        .wait_for_text("[data-testid=pending-diff]", "env GREETING")
        .await;
    assert!(diff.contains("secret v1"), "{diff}");
    assert!(!diff.contains("hello from the keychain"), "{diff}");
    app.screenshot("app-pending").await;
    app.click(&format!("{row} [data-testid=env-reveal]")).await;
    app.wait_for_text(row, "hello from the keychain").await;
    app.screenshot("app-env").await;
    app.click(&format!("{row} [data-testid=env-reveal]")).await;
    app.wait_for_text(row, "••••••").await;
    // A variable passed to builds too.
    app.fill("[data-testid=env-key]", "SITE_NAME").await;
    app.fill("[data-testid=env-value]", "shop").await;
    app.click("[data-testid=env-build]").await;
    app.click("[data-testid=env-add]").await;
    app.wait_for("[data-testid=env-row][data-key=SITE_NAME] [data-testid=env-build-pill]")
        .await;
    // A build variable takes a new image: the banner says so.
    app.wait_for_text("[data-testid=pending-banner]", "a redeploy")
        .await;
    let env = app.berth.ok(&["env", "ls", &name]).stdout;
    assert!(!env.contains("hello from the keychain"), "{env}");

    // Redeploy a new commit: the new container has the secret.
    let v2 = commit_app(&repo, "v2");
    app.click("[data-testid=tab-deploys]").await;
    app.click("[data-testid=deploy]").await;
    app.wait_for_text("[data-testid=app-state]", "Deploying")
        .await;
    wait_count(&app, "[data-testid=deployment-row]", 2).await;
    wait_long(&app, "[data-testid=outcome]", "Live").await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    let st = app.berth.ok(&["status", &name, "--json"]).json();
    assert_eq!(st["commit"], v2.as_str());
    // The deploy applied what was pending.
    wait_count(&app, "[data-testid=pending-banner]", 0).await;
    app.click("[data-testid=tab-logs]").await;
    wait_long(
        &app,
        "[data-testid=container-log]",
        "greeting=hello from the keychain",
    )
    .await;

    // Roll back to the first deployment from the history.
    app.click("[data-testid=tab-deploys]").await;
    let history = app.berth.ok(&["deployments", &name, "--json"]).json();
    let first = history[1]["id"].as_str().unwrap().to_owned();
    let first_row = format!("[data-testid=deployment-row][data-id='{first}']");
    // Only the replaced healthy deployment offers a rollback.
    wait_count(&app, "[data-testid=rollback]", 1).await;
    app.click_clear(&format!("{first_row} [data-testid=rollback]"))
        .await;
    app.wait_for_text("[data-testid=confirm-dialog]", "Roll back")
        .await;
    // It says what else comes back: the first deployment ran without the variables.
    app.wait_for_text("[data-testid=rollback-diff]", "env GREETING: secret v1 → -")
        .await;
    app.screenshot("rollback-diff").await;
    app.click("[data-testid=confirm-ok]").await;
    wait_count(&app, "[data-testid=deployment-row]", 3).await;
    wait_long(&app, "[data-testid=outcome]", "Live").await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    let st = app.berth.ok(&["status", &name, "--json"]).json();
    assert_eq!(st["commit"], v1.as_str(), "{st:#}");
    // The first deployment's stored build log and steps, opened from its row.
    app.click_clear(&format!("{first_row} .h-what")).await;
    app.wait_for_text("[data-testid=stored-build-log]", "assets ready")
        .await;
    app.wait_for(
        "[data-testid=deployment-detail] [data-testid=step][data-step=build][data-state=ok]",
    )
    .await;
    app.screenshot("app-history").await;

    // A small window: nothing overflows sideways (long log lines wrap inside their box).
    app.client.set_window_size(1000, 700).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let overflow = app
        .client
        .execute(
            "const c = document.querySelector('.content'); return c.scrollWidth - c.clientWidth",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(overflow, 0, "the page scrolls sideways at 1000×700");
    app.client
        .execute("document.querySelector('.content').scrollTop = 0", vec![])
        .await
        .unwrap();
    app.screenshot("app-small-window").await;

    // Domains need a proxy: the page says so, and the backend's refusal is shown.
    app.click("[data-testid=tab-domains]").await;
    app.wait_for("[data-testid=no-proxy]").await;
    app.fill("[data-testid=domain-input]", "ui.example.test")
        .await;
    app.click_clear("[data-testid=domain-add]").await;
    app.wait_for_text("[data-testid=domain-error]", "proxy")
        .await;
    app.screenshot("app-domains").await;

    // Stop and start again.
    app.click_clear("[data-testid=stop]").await;
    app.click("[data-testid=confirm-ok]").await;
    wait_long(&app, "[data-testid=app-state]", "Stopped").await;
    app.click("[data-testid=tab-logs]").await;
    app.wait_for_text("[data-testid=container-log]", "stopped")
        .await;
    app.click("[data-testid=start]").await;
    wait_long(&app, "[data-testid=app-state]", "Running").await;
    wait_long(&app, "[data-testid=container-log]", "serving v1").await;
    app.screenshot("app-restarted").await;

    // Deploy a chosen commit (v2's), then delete the app from its page.
    app.click_clear("[data-testid=deploy-ref]").await;
    app.fill("[data-testid=deploy-ref-input]", &v2).await;
    app.screenshot("deploy-ref").await;
    app.click("[data-testid=deploy-ref-ok]").await;
    wait_long(&app, "[data-testid=outcome]", "Live").await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    let st = app.berth.ok(&["status", &name, "--json"]).json();
    assert_eq!(st["commit"], v2.as_str(), "{st:#}");
    app.click_clear("[data-testid=delete-app]").await;
    app.click("[data-testid=delete-purge]").await;
    app.click("[data-testid=confirm-ok]").await;
    // Back on the list, without it.
    app.wait_for("[data-testid=empty-apps]").await;
    let apps = app.berth.ok(&["app", "ls", "--json"]).json();
    assert_eq!(apps, serde_json::json!([]), "deleted from the window");
    app.quit().await;
}
