//! Image apps in a real window, against a registry with a login on this machine: the
//! registry added in Settings (tested through the server's Docker, its tags browsed), Quick
//! Deploy from an image reference (port and health check read from the image, the app
//! created and deployed), and the Stages tab (a stage added, a tag from the registry's list
//! deployed as an instance that runs).

use berth_testkit::Registry;
use berth_testkit::docker::{AppGuard, ensure_busybox};

use crate::harness::DesktopApp;

#[tokio::test(flavor = "multi_thread")]
async fn registries_quick_deploy_and_stages() {
    ensure_busybox();
    let registry = Registry::start_with_login("alice", "s3cret");
    let repo = format!("acme/{}", berth_testkit::unique("qd"));
    let first = registry.push_web(&repo, "1.0", "v1");
    registry.push_web(&repo, "dev-1", "d1");
    registry.push_web(&repo, "dev-2", "d2");
    let name = repo.rsplit('/').next().unwrap().to_owned();
    let _guard = AppGuard(name.clone());
    // Its stage instances and the pulled images, whatever happens.
    let _named = berth_testkit::docker::NamedGuard(name.clone());
    let app = DesktopApp::launch("images").await;
    app.berth.ok(&["server", "add", "local", "--local"]);

    // Settings → Registries: the login saved, tested through the server, its tags listed.
    app.click("[data-testid=nav-settings]").await;
    app.wait_for("[data-testid=empty-registries]").await;
    app.fill("[data-testid=registry-name]", "loc").await;
    app.fill("[data-testid=registry-url]", &registry.addr).await;
    app.fill("[data-testid=registry-user]", "alice").await;
    app.fill("[data-testid=registry-password]", "s3cret").await;
    app.click("[data-testid=registry-add]").await;
    app.wait_for_text("[data-testid=registry-row]", &registry.addr)
        .await;
    app.click("[data-testid=registry-test]").await;
    app.wait_for_text("[data-testid=registry-test-result]", "local logged in")
        .await;
    // How often registries are polled: set here, the CLI sees it.
    app.fill("[data-testid=poll-secs]", "120").await;
    app.click("[data-testid=poll-save]").await;
    app.wait_for_text("body", "registries are polled every 120 s")
        .await;
    let shown = app.berth.ok(&["registry", "poll"]).stdout;
    assert!(shown.contains("every 120 s"), "{shown}");
    app.click("[data-testid=registry-tags]").await;
    app.fill("[data-testid=tags-repository]", &repo).await;
    app.click_clear("[data-testid=tags-list]").await;
    app.wait_for("[data-testid=tag-row][data-tag=dev-2]").await;
    let shown = app.wait_for_text("[data-testid=tag-browser]", "1.0").await;
    let order: Vec<_> = ["dev-2", "dev-1", "1.0"]
        .iter()
        .map(|t| shown.find(t).unwrap())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "newest first: {shown}"
    );
    app.screenshot("registries").await;

    // Quick Deploy: the image read on the server fills the form; Deploy creates and runs it.
    app.click("[data-testid=nav-apps]").await;
    app.click("[data-testid=quick-deploy]").await;
    app.fill("[data-testid=qd-image]", &first).await;
    app.click("[data-testid=qd-inspect]").await;
    app.wait_for_text("[data-testid=qd-port-from]", "8080 (from EXPOSE)")
        .await;
    app.wait_for_text(
        "[data-testid=qd-health-from]",
        "/healthz (from label berth.health-path)",
    )
    .await;
    let suggested = app
        .wait_for("[data-testid=qd-name]")
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(suggested, name, "the name comes from the repository");
    app.screenshot("quick-deploy").await;
    app.click("[data-testid=qd-deploy]").await;
    app.wait_for_text_within(
        "[data-testid=app-state]",
        "Running",
        std::time::Duration::from_secs(120),
    )
    .await;
    let st = app.berth.ok(&["status", &name, "--json"]).json();
    assert_eq!(st["tag"], "1.0");
    assert!(st["digest"].as_str().unwrap().starts_with("sha256:"));

    // Stages: add dev from the tab, deploy dev-2 from the registry's tags.
    app.click("[data-testid=tab-stages]").await;
    app.wait_for("[data-testid=empty-stages]").await;
    app.fill("[data-testid=stage-name]", "dev").await;
    app.fill("[data-testid=stage-tags]", "dev-*").await;
    app.fill("[data-testid=stage-max]", "2").await;
    app.click("[data-testid=stage-auto]").await;
    app.click("[data-testid=stage-add]").await;
    app.wait_for("[data-testid=stage][data-stage=dev] [data-testid=no-instances]")
        .await;
    app.wait_for("[data-testid=stage-tag-select] option[value=dev-2]")
        .await;
    app.select("[data-testid=stage-tag-select]", "dev-2").await;
    app.click("[data-testid=stage-deploy]").await;
    app.wait_for_text("[data-testid=outcome]", "Live").await;
    app.click("[data-testid=tab-stages]").await;
    app.wait_for("[data-testid=instance][data-tag=dev-2][data-state=running]")
        .await;
    app.wait_for("[data-testid=stage-tag-select] option[value=dev-1]")
        .await;
    app.click_clear("[data-testid=stage][data-stage=dev]").await;
    app.screenshot("stages").await;
    let st = app.berth.ok(&["status", &name, "--json"]).json();
    assert_eq!(st["stages"][0]["instances"][0]["tag"], "dev-2", "{st:#}");

    app.berth.ok(&["app", "rm", &name, "--purge"]);
    registry.remove_local(&repo);
}
