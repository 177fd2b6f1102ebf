//! The webhook relay and the Webhook tab in a real window: install the relay from the server's
//! card, enable a webhook on an app, see
//! its URL and secret, then a signed GitHub push and a forged one arrive at the real relay; the
//! running desktop app deploys the push by itself (it follows the relay while open) and the tab
//! lists both deliveries with what happened.

use std::time::{Duration, Instant};

use berth_model::Provider;
use berth_testkit::docker::{AppGuard, ensure_busybox, remove_relay};
use berth_testkit::{free_port, git, http_post};
use fantoccini::Locator;

use crate::harness::DesktopApp;

/// One relay per Docker host: the tests that install one take turns.
static RELAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Holds the relay lock, with no relay left from before; removes the relay when dropped.
struct RelayGuard {
    _lock: std::sync::MutexGuard<'static, ()>,
}

impl RelayGuard {
    fn take() -> RelayGuard {
        let lock = RELAY.lock().unwrap_or_else(|e| e.into_inner());
        remove_relay();
        RelayGuard { _lock: lock }
    }
}

impl Drop for RelayGuard {
    fn drop(&mut self) {
        remove_relay();
    }
}

/// Waits until a delivery row with `verdict` shows `text`.
async fn wait_row(app: &DesktopApp, verdict: &str, text: &str) {
    let css = format!("[data-testid=delivery-row][data-verdict={verdict}]");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = app.client.find(Locator::Css(&css)).await
            && let Ok(t) = el.text().await
        {
            if t.contains(text) {
                return;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!(
        "no {verdict} delivery showing {text:?}; last: {last:?}\n{}",
        app.app_log()
    );
}

/// The app on a fresh data dir with this machine's Docker as the server `local`, no relay
/// left from before (and none after: the guard), and a unique app name (its containers
/// removed at the end).
async fn launch_on_local(test: &str, prefix: &str) -> (RelayGuard, DesktopApp, String, AppGuard) {
    ensure_busybox();
    let relay = RelayGuard::take();
    let app = DesktopApp::launch(test).await;
    let name = berth_testkit::unique(prefix);
    let guard = AppGuard(name.clone());
    app.berth.ok(&["server", "add", "local", "--local"]);
    (relay, app, name, guard)
}

/// Clicks *Enable* on the Webhook tab; the URL and the secret it then shows.
async fn enable_from_tab(app: &DesktopApp) -> (String, String) {
    app.click("[data-testid=webhook-enable]").await;
    let url = app
        .wait_for_text("[data-testid=webhook-url]", "/hooks/")
        .await;
    let secret = app
        .wait_for("[data-testid=webhook-secret]")
        .await
        .text()
        .await
        .unwrap();
    (url, secret)
}

/// Waits until the app showed a notification starting with `text`.
async fn wait_announced(app: &DesktopApp, text: &str, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let announced = format!("notification: {text}");
    while !app.app_log().contains(&announced) {
        assert!(
            Instant::now() < deadline,
            "no notification {text:?}:\n{}",
            app.app_log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// From the overview to the app's Webhook tab, which has no webhook yet.
async fn open_webhook_tab(app: &DesktopApp, name: &str) {
    app.click("[data-testid=nav-overview]").await;
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=app-row]", name).await;
    app.click("[data-testid=app-row] button.link").await;
    app.click("[data-testid=tab-webhook]").await;
    app.wait_for("[data-testid=empty-webhook]").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_deploys_while_the_app_is_open_and_every_delivery_is_listed() {
    let (_relay, app, name, _guard) = launch_on_local("webhook", "uihook").await;
    let repo = git::web_app("v1");
    let port = free_port();

    // The relay, installed from the server's card.
    app.click("[data-testid=nav-servers]").await;
    // Once the card's check is in (the facts it adds move the button down).
    app.wait_for_text("[data-testid=server-status]", "Connected")
        .await;
    app.click("[data-testid=server-relay] [data-testid=relay-install]")
        .await;
    app.fill("[data-testid=relay-port]", &port.to_string())
        .await;
    app.click("[data-testid=relay-install-submit]").await;
    app.wait_for_text("[data-testid=relay-facts]", "Relay answering")
        .await;
    app.screenshot("relay-installed").await;
    // Its metrics for a Prometheus: the token shown is the one the CLI prints.
    app.click_clear("[data-testid=relay-metrics-token]").await;
    let shown = app
        .wait_for_text("[data-testid=relay-metrics]", "Bearer token")
        .await;
    let cli = app
        .berth
        .ok(&["server", "relay", "metrics-token", "local", "--json"])
        .json();
    let token = cli["token"].as_str().unwrap_or_default();
    assert_eq!(token.len(), 64, "{cli}");
    assert!(shown.contains(token), "{shown}");
    app.berth.ok(&[
        "app",
        "create",
        &name,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);

    open_webhook_tab(&app, &name).await;
    app.screenshot("webhook-off").await;

    let (url, secret) = enable_from_tab(&app).await;
    assert_eq!(secret.len(), 64, "{secret}");
    app.wait_for("[data-testid=empty-deliveries]").await;

    // A forged push and a signed one, straight to the relay on this machine's loopback.
    let path = &url[url.find("/hooks/").unwrap()..];
    let addr = format!("127.0.0.1:{port}");
    let body = berth_hooks::fixtures::github_push("refs/heads/main", &repo.head(), "web app v1");
    let forged = berth_hooks::fixtures::headers(
        Provider::Github,
        "push",
        "ui-0",
        b"not the secret at all",
        &body,
    );
    let (status, _) = http_post(&addr, "relay", path, &forged, &body).unwrap();
    assert_eq!(status, 401);
    let signed =
        berth_hooks::fixtures::headers(Provider::Github, "push", "ui-1", secret.as_bytes(), &body);
    let (status, answer) = http_post(&addr, "relay", path, &signed, &body).unwrap();
    assert_eq!(status, 202, "{answer}");

    // The open app deploys it by itself, and says so.
    wait_row(&app, "queued", "deployed").await;
    wait_row(&app, "rejected", "signature").await;
    app.screenshot("webhook-deliveries").await;
    wait_announced(&app, &format!("{name} deployed"), 30).await;
    let history = app.berth.ok(&["deployments", &name, "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1);

    // The Metrics tab: the relay's samples of the running app, charted; the monitor's
    // settings changed in place are the CLI's too.
    app.click_clear("[data-testid=tab-metrics]").await;
    let memory = app
        .wait_for_text("[data-testid=metrics-memory]", "iB")
        .await;
    assert!(!memory.starts_with("0 B"), "{memory}");
    app.wait_for("[data-testid=chart-cpu] canvas").await;
    app.wait_for("[data-testid=chart-memory] canvas").await;
    // Hovering shows the values nearest the pointer.
    app.client
        .execute(
            "const c = document.querySelector('[data-testid=chart-memory] canvas'); \
             const r = c.getBoundingClientRect(); \
             c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.right - 12, clientY: r.top + 40, bubbles: true}));",
            vec![],
        )
        .await
        .unwrap();
    let tip = app
        .wait_for_text("[data-testid=chart-memory] .chart-tip", "Memory")
        .await;
    assert!(tip.contains("iB"), "{tip}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot("app-metrics").await;
    app.fill("[data-testid=monitor-interval]", "15s").await;
    app.fill("[data-testid=monitor-after]", "4").await;
    app.click_clear("[data-testid=monitor-save]").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let shown = app.berth.ok(&["app", "show", &name]).stdout;
        if shown.contains("every 15s, restart after 4 failed probes") {
            break;
        }
        assert!(Instant::now() < deadline, "{shown}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The server's card: the host over the last hour, its disks and Docker's disk use.
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text("[data-testid=server-disk]", "Disk /")
        .await;
    app.wait_for_text("[data-testid=server-docker-disk]", "reclaimable")
        .await;
    app.wait_for("[data-testid=chart-host] canvas").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.screenshot("server-host").await;
    app.quit().await;
}

/// Unattended: enabled from the Webhook tab, then the app is closed; a push arrives and the
/// relay deploys it on its own (fetching the commit from a `git daemon`); when the app opens
/// again, the deployment is in the history and announced.
#[tokio::test(flavor = "multi_thread")]
async fn an_unattended_push_while_the_app_is_closed_is_announced_when_it_opens() {
    let (_relay, app, name, _guard) = launch_on_local("webhook-unattended", "uiauto").await;
    let repo = git::web_app("v1");
    let port = free_port();
    app.berth.ok(&[
        "server",
        "relay",
        "install",
        "local",
        "--listen-port",
        &port.to_string(),
    ]);
    // The relay's container reaches this machine's git daemon through the network gateway.
    let daemon = git::GitDaemon::serve(&repo);
    let url = daemon.url(&berth_testkit::docker::gateway("berth"));
    app.berth.ok(&[
        "app",
        "create",
        &name,
        "--git",
        &url,
        "--health-path",
        "/healthz",
    ]);
    app.berth.ok(&["deploy", &name]);

    open_webhook_tab(&app, &name).await;
    app.click("[data-testid=webhook-unattended]").await;
    let (hook_url, secret) = enable_from_tab(&app).await;
    app.wait_for_text("[data-testid=webhook-mode]", "unattended")
        .await;
    app.screenshot("webhook-unattended").await;
    let berth = app.quit_keeping_data().await;

    // Berth is closed: the relay deploys the push by itself.
    let v2 = repo.commit_version("v2");
    let path = &hook_url[hook_url.find("/hooks/").unwrap()..];
    let body = berth_hooks::fixtures::github_push("refs/heads/main", &v2, "web app v2");
    let signed =
        berth_hooks::fixtures::headers(Provider::Github, "push", "ua-1", secret.as_bytes(), &body);
    let addr = format!("127.0.0.1:{port}");
    let (status, answer) = http_post(&addr, "relay", path, &signed, &body).unwrap();
    assert_eq!(status, 202, "{answer}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = berth
            .ok(&["app", "webhook", "deliveries", &name, "--json"])
            .json();
        if list[0]["status"] == "deployed" {
            break;
        }
        assert!(Instant::now() < deadline, "not deployed: {list:#}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Opened again: it catches up, announces the deploy and lists it in the history.
    let app = DesktopApp::launch_on("webhook-unattended", berth).await;
    wait_announced(&app, &format!("{name} deployed"), 60).await;
    app.click("[data-testid=nav-overview]").await;
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=app-row]", &name).await;
    app.screenshot("unattended-caught-up").await;
    let history = app.berth.ok(&["deployments", &name, "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history:#}");
    assert_eq!(history[0]["commit"], v2.as_str());
    app.quit().await;
}
