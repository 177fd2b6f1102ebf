//! The webhook relay and the Webhook tab in a real window: install the relay from the server's
//! card, enable a webhook on an app, see
//! its URL and secret, then a signed GitHub push and a forged one arrive at the real relay; the
//! running desktop app deploys the push by itself (it follows the relay while open) and the tab
//! lists both deliveries with what happened.

use std::time::{Duration, Instant};

use berth_e2e::docker::{AppGuard, ensure_busybox, remove_relay};
use berth_e2e::{free_port, git, http_post};
use berth_model::Provider;
use fantoccini::Locator;

use crate::harness::DesktopApp;

struct RelayGuard;

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

#[tokio::test(flavor = "multi_thread")]
async fn a_push_deploys_while_the_app_is_open_and_every_delivery_is_listed() {
    ensure_busybox();
    remove_relay();
    let _relay = RelayGuard;
    let app = DesktopApp::launch("webhook").await;
    let name = berth_e2e::unique("uihook");
    let _guard = AppGuard(name.clone());
    let repo = git::web_app("v1");
    let port = free_port();
    app.berth.ok(&["server", "add", "local", "--local"]);

    // The relay, installed from the server's card.
    app.click("[data-testid=nav-servers]").await;
    app.click("[data-testid=server-relay] [data-testid=relay-install]")
        .await;
    app.fill("[data-testid=relay-port]", &port.to_string())
        .await;
    app.click("[data-testid=relay-install-submit]").await;
    app.wait_for_text("[data-testid=relay-facts]", "Relay answering")
        .await;
    app.screenshot("relay-installed").await;
    app.berth.ok(&[
        "app",
        "create",
        &name,
        "--git",
        &repo.path_str(),
        "--health-path",
        "/healthz",
    ]);

    app.click("[data-testid=nav-overview]").await;
    app.click("[data-testid=refresh]").await;
    app.wait_for_text("[data-testid=app-row]", &name).await;
    app.click("[data-testid=app-row] button.link").await;
    app.click("[data-testid=tab-webhook]").await;
    app.wait_for("[data-testid=empty-webhook]").await;
    app.screenshot("webhook-off").await;

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
    let deadline = Instant::now() + Duration::from_secs(30);
    let announced = format!("notification: {name} deployed");
    while !app.app_log().contains(&announced) {
        assert!(
            Instant::now() < deadline,
            "no notification:\n{}",
            app.app_log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let history = app.berth.ok(&["deployments", &name, "--json"]).json();
    assert_eq!(history.as_array().unwrap().len(), 1);
    app.quit().await;
}
