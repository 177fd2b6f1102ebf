//! The Servers and Apps screens in a real window: adding a server through the dialog (a bad
//! target is refused inline, "This computer" is added and checked live), creating an app
//! through the form (a bad name is refused inline) and editing it. Screenshots of each step.

use std::time::{Duration, Instant};

use berth_testkit::git::web_app;
use fantoccini::Locator;
use serde_json::json;

use crate::harness::{DesktopApp, Theme};

/// Types into a field (real key presses).
async fn type_into(app: &DesktopApp, css: &str, text: &str) {
    app.wait_for(css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
}

/// Waits until nothing matches `css`.
async fn wait_gone(app: &DesktopApp, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.client.find(Locator::Css(css)).await.is_ok() {
        assert!(Instant::now() < deadline, "`{css}` never went away");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits for a toast (any of those shown) that says `text`.
async fn wait_for_toast(app: &DesktopApp, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen.clear();
        for toast in app
            .client
            .find_all(Locator::Css("[data-testid=toast]"))
            .await
            .unwrap_or_default()
        {
            if let Ok(t) = toast.text().await {
                if t.contains(text) {
                    return;
                }
                seen.push(t);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no toast said {text:?}; shown: {seen:?}")
}

async fn value_of(app: &DesktopApp, css: &str) -> String {
    app.wait_for(css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

async fn server_names(app: &DesktopApp) -> Vec<String> {
    let servers = app.invoke("servers", json!({})).await;
    servers["ok"]
        .as_array()
        .unwrap_or_else(|| panic!("servers: {servers}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn adds_a_server_and_creates_and_edits_an_app() {
    let app = DesktopApp::launch("screens").await;
    let repo = web_app("v1");

    // --- Servers: the empty state leads to the dialog.
    app.click("[data-testid=nav-servers]").await;
    let empty = app
        .wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    assert!(empty.contains("add one"), "{empty}");
    app.click("[data-testid=add-server]").await;
    app.wait_for("[data-testid=add-server-dialog]").await;
    app.screenshot("add-server-dialog").await;

    // A target that cannot be parsed is refused in the dialog, before any call.
    type_into(&app, "[data-testid=server-name]", "edge").await;
    type_into(&app, "[data-testid=server-ssh]", "root@").await;
    app.click("[data-testid=server-continue]").await;
    let error = app
        .wait_for_text("[data-testid=add-server-dialog] .field-error", "no host")
        .await;
    assert!(error.contains("USER@HOST[:PORT]"), "{error}");
    // One that parses but answers nobody is refused with the backend's message.
    app.fill("[data-testid=server-ssh]", "root@127.0.0.1:1")
        .await;
    app.click("[data-testid=server-continue]").await;
    let error = app
        .wait_for_text("[data-testid=dialog-error]", "unreachable")
        .await;
    assert!(error.contains("127.0.0.1"), "{error}");
    app.screenshot("add-server-error").await;
    assert!(server_names(&app).await.is_empty(), "nothing was added");

    // "This computer" needs no SSH fields.
    app.click("[data-testid=server-kind-local]").await;
    wait_gone(&app, "[data-testid=server-ssh]").await;
    app.fill("[data-testid=server-name]", "local").await;
    app.click("[data-testid=server-continue]").await;
    wait_gone(&app, "[data-testid=add-server-dialog]").await;
    wait_for_toast(&app, "Server local added — Docker").await;
    assert_eq!(server_names(&app).await, ["local"]);

    // The card checks the server by itself.
    app.screenshot("servers-added").await;
    let card = "[data-testid=server-card][data-server=local]";
    app.wait_for_text(&format!("{card} [data-testid=server-status]"), "Connected")
        .await;
    let facts = app
        .wait_for_text(&format!("{card} [data-testid=server-facts]"), "Docker")
        .await;
    assert!(facts.contains("free of"), "{facts}");
    assert!(facts.contains(" ms"), "{facts}");
    app.wait_for_text(&format!("{card} [data-testid=server-proxy]"), "No proxy")
        .await;
    app.screenshot("servers-live").await;
    // Reclaim disk: a dry run first, saying what stays and why.
    app.click_clear(&format!("{card} [data-testid=server-reclaim]"))
        .await;
    app.wait_for_text(
        &format!("{card} [data-testid=server-reclaim-preview]"),
        "stay",
    )
    .await;
    let total = app
        .wait_for_text(&format!("{card} [data-testid=reclaim-total]"), "ree")
        .await;
    assert!(
        total.contains("Would free") || total.contains("Nothing to free"),
        "{total}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.screenshot("server-reclaim").await;
    // Drift against Berth's records: none yet.
    app.click_clear(&format!("{card} [data-testid=server-drift]"))
        .await;
    app.wait_for_text(
        &format!("{card} [data-testid=drift-none]"),
        "every app runs as Berth recorded it",
    )
    .await;

    // --- Apps: the form refuses a bad name in place, then creates the app.
    app.click("[data-testid=nav-apps]").await;
    app.wait_for_text("[data-testid=empty-apps]", "No apps yet")
        .await;
    app.click("[data-testid=new-app]").await;
    app.wait_for("[data-testid=app-form]").await;
    type_into(&app, "[data-testid=app-name]", "my app").await;
    type_into(&app, "[data-testid=app-git]", &repo.path_str()).await;
    // The only server is chosen already.
    app.wait_for_text("[data-testid=app-server]", "local").await;
    app.click("[data-testid=app-save]").await;
    let error = app
        .wait_for_text("[data-testid=app-form] .field-error", "`my app`")
        .await;
    assert!(error.contains("lowercase"), "{error}");
    app.screenshot("app-form").await;
    let apps = app.invoke("apps", json!({})).await;
    assert_eq!(apps["ok"], json!([]), "nothing was created");

    app.fill("[data-testid=app-name]", "hello").await;
    type_into(&app, "[data-testid=app-port]", "8080").await;
    type_into(&app, "[data-testid=app-env]", "GREETING=hi").await;
    app.click("[data-testid=app-save]").await;
    wait_gone(&app, "[data-testid=app-form]").await;
    wait_for_toast(&app, "App hello created").await;

    // It is in the list (the form went on to the app's page).
    app.click("[data-testid=nav-apps]").await;
    let row = "[data-testid=app-row][data-app=hello]";
    app.wait_for_text(&format!("{row} [data-testid=app-state]"), "Not deployed")
        .await;
    app.screenshot("apps-list").await;
    // (`textContent`: WebDriver's visible text leaves out ellipsized cells.)
    let text = app
        .client
        .execute(
            "return document.querySelector(arguments[0]).textContent",
            vec![row.into()],
        )
        .await
        .unwrap();
    let text = text.as_str().unwrap_or_default();
    assert!(text.contains("hello") && text.contains("local"), "{text}");

    // --- Editing: the form shows the app as it is; a new port is saved.
    app.click(&format!("{row} [data-testid=app-edit]")).await;
    app.wait_for("[data-testid=app-form]").await;
    assert_eq!(value_of(&app, "[data-testid=app-port]").await, "8080");
    let name_disabled = app
        .wait_for("[data-testid=app-name]")
        .await
        .prop("disabled")
        .await
        .unwrap();
    assert_eq!(name_disabled.as_deref(), Some("true"), "the name is fixed");
    app.fill("[data-testid=app-port]", "3000").await;
    app.screenshot("app-form-edit").await;
    app.click("[data-testid=app-save]").await;
    wait_gone(&app, "[data-testid=app-form]").await;
    wait_for_toast(&app, "Settings of hello saved").await;
    let saved = app.invoke("app", json!({ "name": "hello" })).await;
    assert_eq!(saved["ok"]["port"], 3000, "{saved}");
    // Opened again, the form shows the change.
    app.click(&format!("{row} [data-testid=app-edit]")).await;
    app.wait_for("[data-testid=app-form]").await;
    assert_eq!(value_of(&app, "[data-testid=app-port]").await, "3000");
    app.click("[data-testid=app-form] .dialog-foot .button:not(.primary)")
        .await;
    wait_gone(&app, "[data-testid=app-form]").await;

    // --- Projects: one made here, hello moved in by the CLI, a shared variable added.
    app.click("[data-testid=nav-projects]").await;
    app.wait_for("[data-testid=empty-projects]").await;
    app.fill("[data-testid=project-name]", "shop").await;
    app.click("[data-testid=project-create]").await;
    wait_for_toast(&app, "Project shop created").await;
    let shop = "[data-testid=project][data-name=shop]";
    app.select(&format!("{shop} [data-testid=project-move-app]"), "hello")
        .await;
    app.click(&format!("{shop} [data-testid=project-move]"))
        .await;
    wait_for_toast(&app, "hello moved into shop").await;
    // A project made by mistake goes again (an empty one only: shop's Remove is disabled).
    app.fill("[data-testid=project-name]", "scratch").await;
    app.click("[data-testid=project-create]").await;
    let scratch = "[data-testid=project][data-name=scratch]";
    app.click(&format!("{scratch} [data-testid=project-rm]"))
        .await;
    app.click("[data-testid=confirm-ok]").await;
    wait_for_toast(&app, "Project scratch removed").await;
    wait_gone(&app, scratch).await;
    let disabled = app
        .wait_for(&format!("{shop} [data-testid=project-rm]"))
        .await
        .attr("disabled")
        .await
        .unwrap();
    assert!(
        disabled.is_some(),
        "a project with members cannot be removed"
    );
    app.fill(
        &format!("{shop} [data-testid=project-env-key]"),
        "LOG_LEVEL",
    )
    .await;
    app.fill(&format!("{shop} [data-testid=project-env-value]"), "info")
        .await;
    app.click(&format!("{shop} [data-testid=project-env-add]"))
        .await;
    app.wait_for_text(
        &format!("{shop} [data-testid=project-env]"),
        "LOG_LEVEL = info",
    )
    .await;
    app.wait_for_text(&format!("{shop} [data-testid=project-member]"), "hello")
        .await;
    app.screenshot("projects").await;
    let resolved = app.berth.ok(&["env", "ls", "hello", "--resolved"]).stdout;
    assert!(resolved.contains("project shop"), "{resolved}");

    // --- Settings → Import and export: the setup as YAML, previewed before an import.
    app.click("[data-testid=nav-settings]").await;
    app.click("[data-testid=export]").await;
    let yaml = value_of(&app, "[data-testid=export-yaml]").await;
    assert!(yaml.contains("- name: shop"), "{yaml}");
    let edited = yaml.replace("LOG_LEVEL: info", "LOG_LEVEL: debug");
    // Typed as a user would paste it: WebDriver types a new line as the Enter key.
    app.fill(
        "[data-testid=import-yaml]",
        &edited.replace('\n', "\u{E007}"),
    )
    .await;
    app.click("[data-testid=import-preview]").await;
    app.wait_for_text(
        "[data-testid=import-changes]",
        "update project shop: env LOG_LEVEL: info → debug",
    )
    .await;
    app.screenshot("settings-import-preview").await;
    app.click("[data-testid=import-apply]").await;
    wait_for_toast(&app, "Imported: 1 change").await;
    let env = app.berth.ok(&["env", "ls", "--project", "shop"]).stdout;
    assert!(env.contains("LOG_LEVEL=debug"), "{env}");

    // The smallest window the app allows: nothing runs off the side.
    app.client.set_window_size(1000, 700).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_fits(&app, "apps").await;
    app.screenshot("apps-list-small").await;
    app.click("[data-testid=nav-servers]").await;
    app.wait_for_text(&format!("{card} [data-testid=server-status]"), "Connected")
        .await;
    assert_fits(&app, "servers").await;
    app.screenshot("servers-small").await;
    // Import apps from the server's labels: `hello` was never deployed, so it is not among them
    // (whatever else runs on this machine's Docker is).
    app.click_clear(&format!("{card} [data-testid=server-import]"))
        .await;
    wait_for_toast(&app, "imported from local").await;

    app.quit().await;
}

/// Fails if the main area scrolls sideways.
async fn assert_fits(app: &DesktopApp, page: &str) {
    let sizes = app
        .client
        .execute(
            "const c = document.querySelector('.content'); return [c.scrollWidth, c.clientWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        sizes[0].as_i64() <= sizes[1].as_i64(),
        "the {page} page overflows sideways: {sizes}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_card_actions_in_the_dark() {
    let app = DesktopApp::launch_with("screens-dark", Theme::Dark).await;
    app.berth.ok(&["server", "add", "local", "--local"]);
    app.click("[data-testid=nav-servers]").await;
    let card = "[data-testid=server-card][data-server=local]";
    app.wait_for_text(&format!("{card} [data-testid=server-status]"), "Connected")
        .await;

    // The base domain is edited in place.
    app.click(&format!("{card} [data-testid=base-domain-edit]"))
        .await;
    type_into(&app, "[data-testid=base-domain-input]", "apps.example.test").await;
    app.click("[data-testid=base-domain-save]").await;
    app.wait_for_text(
        &format!("{card} [data-testid=server-base-domain]"),
        "*.apps.example.test",
    )
    .await;
    let shown = app.berth.ok(&["server", "ls", "--json"]).stdout;
    assert!(shown.contains("apps.example.test"), "{shown}");
    app.screenshot("servers").await;

    // The proxy dialog (not installed here: that is the scenario tests' job).
    app.click(&format!("{card} [data-testid=proxy-install]"))
        .await;
    app.wait_for("[data-testid=proxy-install-dialog]").await;
    app.click("[data-testid=proxy-mode-adopt]").await;
    app.wait_for("[data-testid=proxy-admin]").await;
    app.click("[data-testid=proxy-install-submit]").await;
    app.wait_for_text(
        "[data-testid=proxy-install-dialog] .field-error",
        "admin endpoint",
    )
    .await;
    app.screenshot("proxy-install-dialog").await;
    app.click("[data-testid=proxy-install-dialog] .dialog-foot .button:not(.primary)")
        .await;
    wait_gone(&app, "[data-testid=proxy-install-dialog]").await;

    app.click("[data-testid=add-server]").await;
    app.wait_for("[data-testid=add-server-dialog]").await;
    app.screenshot("add-server-dialog").await;
    app.click("[data-testid=add-server-dialog] .dialog-foot .button:not(.primary)")
        .await;
    wait_gone(&app, "[data-testid=add-server-dialog]").await;

    // Removing asks first, and offers to take Berth's services off the server (off by
    // default: nothing on the server is touched).
    app.click(&format!("{card} [data-testid=server-remove]"))
        .await;
    app.wait_for("[data-testid=confirm-dialog]").await;
    app.wait_for("[data-testid=confirm-dialog] [data-testid=server-remove-purge]")
        .await;
    app.screenshot("remove-server").await;
    app.click("[data-testid=confirm-ok]").await;
    app.wait_for_text("[data-testid=empty-servers]", "No servers yet")
        .await;
    wait_for_toast(&app, "Server local removed").await;

    app.quit().await;
}
