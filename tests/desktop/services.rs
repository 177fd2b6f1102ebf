//! The Services page in a real window: a PostgreSQL (the test image, pulled from a real
//! registry on this machine) created from the kind presets, started as a job, its Connect tab
//! naming where apps reach it, an app linked from there, a backup taken, restored and verified
//! from its Backups tab; the CLI sees the same service, link and backup.

use berth_testkit::Registry;
use berth_testkit::docker::{AppGuard, NamedGuard, VolumeGuard};

use crate::harness::DesktopApp;

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_is_created_from_its_preset_started_and_linked_in_the_window() {
    let pg = berth_testkit::test_image("postgres");
    let registry = Registry::start();
    let repo = format!("berth-test/{}", berth_testkit::unique("uipg"));
    let _pulled = NamedGuard(repo.clone());
    let reference = registry.push_local(&pg, &repo, "15");
    let app = DesktopApp::launch("services").await;
    let db = berth_testkit::unique("uidb");
    let web = berth_testkit::unique("uiweb");
    let _guards = (
        AppGuard(db.clone()),
        AppGuard(web.clone()),
        VolumeGuard(berth_model::data_volume(&db)),
    );
    app.berth.ok(&["server", "add", "local", "--local"]);
    app.berth.ok(&[
        "app", "create", &web, "--image", &reference, "--port", "5432",
    ]);

    app.click("[data-testid=nav-services]").await;
    app.wait_for("[data-testid=empty-services]").await;
    app.screenshot("services-empty").await;
    app.click("[data-testid=new-service]").await;
    app.click("[data-testid=kind-postgres]").await;
    app.fill("[data-testid=service-name]", &db).await;
    app.fill("[data-testid=service-image]", &reference).await;
    app.fill("[data-testid=service-memory]", "256m").await;
    app.screenshot("service-form").await;
    app.click("[data-testid=service-submit]").await;

    // Its page: started as a job, then running; the Connect tab says where apps reach it.
    app.wait_for_text("[data-testid=service-address]", &format!("{db}:5432"))
        .await;
    app.wait_for_text("[data-testid=app-state]", "Running")
        .await;
    app.wait_for_text("[data-testid=service-kind]", "postgres")
        .await;
    app.select("[data-testid=link-app]", &web).await;
    app.click("[data-testid=link-submit]").await;
    app.wait_for_text("[data-testid=service-link]", "DATABASE_URL")
        .await;
    app.screenshot("service-connect").await;

    // Backups: one now, restored after a confirmation that names what it overwrites, then
    // verified in a throwaway copy; a schedule wants the server's relay, and says so.
    let _backups = BackupDir(format!("{}/{db}", berth_model::backup::SERVER_BACKUP_DIR));
    let _holder = NamedGuard("berth-backups-backups-".to_owned());
    app.click("[data-testid=tab-backups]").await;
    app.wait_for("[data-testid=no-backups]").await;
    app.click("[data-testid=backup-now]").await;
    app.wait_for_text("[data-testid=backup-row]", "manual")
        .await;
    app.click_clear("[data-testid=backup-restore]").await;
    app.wait_for_text(
        "[data-testid=confirm-dialog]",
        &format!("The data of {db} is replaced"),
    )
    .await;
    app.screenshot("service-backup-restore").await;
    app.click("[data-testid=confirm-ok]").await;
    app.wait_for_text("[data-testid=toast]", "holds backup")
        .await;
    app.click_clear("[data-testid=backup-verify]").await;
    app.wait_for_text("[data-testid=toast]", "restores: checksum ok")
        .await;
    app.click_clear("[data-testid=backup-schedule-save]").await;
    app.wait_for_text("[data-testid=toast]", "relay install")
        .await;
    app.screenshot("service-backups").await;
    let backups = app.berth.ok(&["backup", "ls", &db, "--json"]).json();
    assert_eq!(backups.as_array().map(Vec::len), Some(1), "{backups:#}");

    let listed = app.berth.ok(&["service", "ls", "--json"]).json();
    assert_eq!(listed[0]["service"]["name"], db.as_str(), "{listed:#}");
    assert_eq!(listed[0]["links"][0]["app"], web.as_str(), "{listed:#}");
    let env = app.berth.ok(&["env", "ls", &web, "--json"]).stdout;
    assert!(env.contains("DATABASE_URL"), "{env}");

    // The list shows it with its link; the Apps page does not.
    app.click("[data-testid=nav-services]").await;
    app.wait_for_text("[data-testid=service-row-links]", &web)
        .await;
    app.screenshot("services-list").await;
    app.berth.ok(&["service", "unlink", &db, "--app", &web]);
    app.berth.ok(&["app", "rm", &web]);
    app.berth.ok(&["service", "rm", &db, "--purge"]);
    app.quit().await;
}

/// Removes a service's directory of backups (written as root by Docker) when dropped.
struct BackupDir(String);

impl Drop for BackupDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
