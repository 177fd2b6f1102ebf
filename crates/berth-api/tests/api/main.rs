//! Integration tests of the app-facing API that the CLI's end-to-end tests do not reach: the
//! desktop's background jobs (progress, completion, cancellation) and followed logs, against
//! this machine's real Docker.

// Test code: a panic with the location is the failure report we want.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_api::desktop::{Desktop, Notice};
use berth_api::{Berth, Config, SecretsChoice};
use berth_model::view::JobKind;
use berth_model::{AppDraft, DeployEvent, Step};
use berth_testkit::docker::{AppGuard, BUSYBOX, ensure_busybox};
use berth_testkit::{git, unique};

struct Fixture {
    data: tempfile::TempDir,
    desktop: Arc<Desktop>,
    notices: Arc<Mutex<Vec<Notice>>>,
}

async fn fixture() -> Fixture {
    ensure_busybox();
    let data = tempfile::tempdir().unwrap();
    let berth = Berth::open(Config {
        data_dir: data.path().to_path_buf(),
        secrets: Some(SecretsChoice::File),
        actor: "test".into(),
    })
    .unwrap();
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = notices.clone();
    let desktop = Desktop::new(berth, move |n| sink.lock().unwrap().push(n));
    desktop
        .berth()
        .server_add(
            berth_api::AddServer {
                name: "here".into(),
                ssh: None,
                transport: berth_model::TransportKind::Local,
                identity: None,
                passphrase: None,
                accept_new: false,
                docker_socket: None,
                trusted_fingerprint: None,
            },
            &|_| false,
        )
        .await
        .unwrap();
    Fixture {
        data,
        desktop,
        notices,
    }
}

async fn create(f: &Fixture, app: &str, repo: &git::Repo) {
    f.desktop
        .berth()
        .app_create(AppDraft {
            name: app.into(),
            git: repo.path_str(),
            health_path: Some("/healthz".into()),
            ..AppDraft::default()
        })
        .await
        .unwrap();
}

/// Waits for the job-done notice of `app`.
async fn done(f: &Fixture, app: &str) -> berth_model::view::JobDone {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Some(d) = f.notices.lock().unwrap().iter().find_map(|n| match n {
            Notice::Done(d) if d.app == app => Some((**d).clone()),
            _ => None,
        }) {
            return d;
        }
        assert!(Instant::now() < deadline, "no job-done for {app}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_job_reports_progress_then_its_result() {
    let f = fixture().await;
    let app = unique("job");
    let _guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create(&f, &app, &repo).await;
    f.desktop
        .start_job(&app, JobKind::Deploy, None, None)
        .unwrap();
    assert_eq!(f.desktop.running(), std::slice::from_ref(&app));
    assert_eq!(
        f.desktop.overview().unwrap().apps[0].state,
        berth_model::AppState::Deploying
    );
    let second = f
        .desktop
        .start_job(&app, JobKind::Deploy, None, None)
        .unwrap_err();
    assert_eq!(second.code(), "busy");
    let d = done(&f, &app).await;
    assert!(d.ok, "{}", d.message);
    assert!(
        d.message
            .starts_with(&format!("{app} is live at http://127.0.0.1:")),
        "{}",
        d.message
    );
    let notices = f.notices.lock().unwrap();
    let steps: Vec<Step> = notices
        .iter()
        .filter_map(|n| match n {
            Notice::Progress(p) => match p.event {
                DeployEvent::StepStarted { step } => Some(step),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            Step::Resolve,
            Step::Build,
            Step::Start,
            Step::HealthCheck,
            Step::Switch,
            Step::Cleanup
        ]
    );
    assert!(notices.iter().any(|n| matches!(n, Notice::Progress(p) if matches!(&p.event, DeployEvent::BuildLine { line } if line.starts_with("Step 1/")))));
    drop(notices);
    assert!(f.desktop.running().is_empty());
    assert_eq!(
        f.desktop.overview().unwrap().apps[0].state,
        berth_model::AppState::Running
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_can_be_cancelled_and_logs_can_be_followed() {
    let f = fixture().await;
    let app = unique("jobcancel");
    let _guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create(&f, &app, &repo).await;
    f.desktop
        .start_job(&app, JobKind::Deploy, None, None)
        .unwrap();
    assert!(done(&f, &app).await.ok);
    f.notices.lock().unwrap().clear();

    // Follow the log, make the app print something, see it arrive.
    let stream = f.desktop.follow_logs(&app, 10).unwrap();
    let st = f.desktop.berth().status(&app).await.unwrap();
    let endpoint = st.endpoint.unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let _ = berth_testkit::http_get(&endpoint, "/followed-by-the-window");
        let seen = f.notices.lock().unwrap().iter().any(|n| {
            matches!(n, Notice::Log(l) if l.stream == stream && l.text.contains("followed-by-the-window"))
        });
        if seen {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the followed log never showed the request"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    f.desktop.stop_logs(&stream);

    // A slow version, cancelled while it waits for its health check.
    repo.commit(
        &[(
            "Dockerfile",
            &format!("FROM {BUSYBOX}\nCOPY www /www\nCMD [\"sh\", \"-c\", \"sleep 60; exec httpd -f -p 8080 -h /www\"]\n"),
        )],
        "slow",
    );
    f.notices.lock().unwrap().clear();
    f.desktop
        .start_job(&app, JobKind::Deploy, None, None)
        .unwrap();
    // It builds first: on a loaded machine (the lints and fuzzers build beside the tests)
    // that can take a while.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !f.notices.lock().unwrap().iter().any(|n| {
        matches!(n, Notice::Progress(p) if p.event == DeployEvent::StepStarted { step: Step::HealthCheck })
    }) {
        assert!(Instant::now() < deadline, "the health check never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(f.desktop.cancel(&app));
    let d = done(&f, &app).await;
    assert!(!d.ok && d.cancelled, "{d:?}");
    let st = f.desktop.berth().status(&app).await.unwrap();
    assert_eq!(
        st.state,
        berth_model::AppState::Running,
        "the previous version keeps serving"
    );
    assert_eq!(berth_testkit::docker::containers_of(&app).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploys_by_other_processes_are_announced_once() {
    let f = fixture().await;
    let app = unique("jobwatch");
    let _guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    create(&f, &app, &repo).await;
    tokio::spawn(
        f.desktop
            .clone()
            .watch_other_processes(Duration::from_millis(200)),
    );
    // Let the watcher take its first look (nothing ended yet: nothing to announce).
    tokio::time::sleep(Duration::from_millis(300)).await;

    // "The CLI": another Berth on the same data dir deploys the app.
    let cli = Berth::open(Config {
        data_dir: f.data.path().to_path_buf(),
        secrets: Some(SecretsChoice::File),
        actor: "cli".into(),
    })
    .unwrap();
    let deployed = cli
        .deploy(
            &app,
            None,
            &|_| {},
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .unwrap();
    let d = done(&f, &app).await;
    assert!(d.ok, "{d:?}");
    assert_eq!(d.kind, JobKind::Deploy);
    assert_eq!(
        d.deployment.as_ref().map(|x| x.id.as_str()),
        Some(deployed.id.as_str())
    );
    assert!(
        d.url.is_some(),
        "the notice says where the app answers: {d:?}"
    );

    // A deploy from this window is announced by its job only, not a second time.
    f.notices.lock().unwrap().clear();
    repo.commit_version("v2");
    f.desktop
        .start_job(&app, JobKind::Deploy, None, None)
        .unwrap();
    assert!(done(&f, &app).await.ok);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let dones = f
        .notices
        .lock()
        .unwrap()
        .iter()
        .filter(|n| matches!(n, Notice::Done(_)))
        .count();
    assert_eq!(dones, 1, "one notice per deployment");
}

/// Every front end opens Berth with one `Config`: a backend chosen in the window is what the
/// next process on the data dir uses when it is given none, and an explicit choice still wins.
#[test]
fn the_saved_secrets_backend_opens_with_the_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let open = |secrets: Option<&str>| {
        Berth::open(Config::resolve("test", Some(data.path().to_path_buf()), secrets).unwrap())
            .unwrap()
    };
    assert_eq!(open(None).secrets_info().backend, "keyring");
    let window = open(None);
    window.use_file_secrets().unwrap();
    drop(window);
    let cli = open(None);
    assert_eq!(cli.secrets_info().backend, "file");
    assert!(cli.secrets_file().is_some());
    assert_eq!(open(Some("keyring")).secrets_info().backend, "keyring");
    let bad = Config::resolve("test", Some(data.path().to_path_buf()), Some("vault"));
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("unknown secrets backend `vault`"),
        "a clear error"
    );
}
