//! Integration tests of the store: round trips, constraints, activation, migrations, concurrency.

// Fixture helpers are not `#[test]` functions, which clippy's allow-unwrap-in-tests misses.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use berth_model::{
    App, BaseImages, Deployment, DeploymentKind, DeploymentStatus, EnvVar, HealthCheck, Limits,
    Server, SshTarget, Step, StepOutcome, StepTiming, TransportKind, Volume,
};
use berth_store::{AuditEntry, Store, StoreError};
use expect_test::{Expect, expect};

fn ssh_server(name: &str) -> Server {
    Server {
        name: name.into(),
        transport: TransportKind::Embedded,
        ssh: Some(SshTarget {
            user: Some("deploy".into()),
            host: "203.0.113.5".into(),
            port: Some(2222),
        }),
        identity: Some("/home/me/.ssh/id_ed25519".into()),
        docker_socket: Server::DEFAULT_DOCKER_SOCKET.into(),
        base_images: BaseImages {
            build: Some("golang:1.23-bookworm".into()),
            run: None,
        },
        base_domain: Some("apps.example.com".into()),
        proxy: None,
        relay: None,
        created_at: 1_700_000_000_000,
    }
}

fn local_server(name: &str) -> Server {
    Server {
        name: name.into(),
        transport: TransportKind::Local,
        ssh: None,
        identity: None,
        docker_socket: "/run/user/1000/docker.sock".into(),
        base_images: BaseImages::default(),
        base_domain: None,
        proxy: None,
        relay: None,
        created_at: 1,
    }
}

fn app(name: &str, server: &str) -> App {
    App {
        name: name.into(),
        server: server.into(),
        project: None,
        git: "https://example.com/me/hello.git".into(),
        branch: "main".into(),
        image: None,
        dockerfile: Some("deploy/Dockerfile".into()),
        port: 3000,
        health: HealthCheck {
            path: "/healthz".into(),
            interval_ms: 250,
            timeout_ms: 2_000,
            deadline_ms: 60_000,
        },
        limits: Limits {
            cpus: Some(0.5),
            memory_bytes: Some(256 << 20),
        },
        volumes: vec![
            Volume::parse("data:/var/lib/app").unwrap(),
            Volume::parse("/srv/static:/static:ro").unwrap(),
        ],
        base_images: BaseImages {
            build: None,
            run: Some("debian:bookworm-slim".into()),
        },
        stop_grace_secs: 15,
        drain_timeout_secs: 20,
        monitor: berth_model::Monitor {
            interval_secs: 15,
            unhealthy_after: 5,
        },
        release_command: Some("bin/migrate && echo done".into()),
        service: None,
        publish: None,
        start_command: Some("bin/serve --fast".into()),
        read_only_app_dir: true,
        build_env: vec!["VITE_API".into()],
        created_at: 1_700_000_000_500,
    }
}

fn minimal_app(name: &str, server: &str) -> App {
    App {
        dockerfile: None,
        limits: Limits::default(),
        volumes: vec![],
        base_images: BaseImages::default(),
        ..app(name, server)
    }
}

fn deployment(id: &str, app: &str, started_at: i64) -> Deployment {
    Deployment::start(
        id.into(),
        app,
        DeploymentKind::Deploy,
        "main".into(),
        started_at,
    )
}

/// A store with server `prod` and app `hello` on it.
fn store_with_app() -> Store {
    let store = Store::open_in_memory().unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    store.insert_app(&app("hello", "prod")).unwrap();
    store
}

fn check_err(err: StoreError, expect: Expect) {
    expect.assert_eq(&err.to_string());
}

/// `id status finished_at` per deployment, newest first, for readable assertions.
fn render(deployments: &[Deployment]) -> String {
    deployments
        .iter()
        .map(|d| {
            let finished = d.finished_at.map_or("-".to_owned(), |f| f.to_string());
            format!("{} {} {} {}\n", d.app, d.id, d.status, finished)
        })
        .collect()
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

// ---------------------------------------------------------------------------------------------
// servers

#[test]
fn servers_round_trip_and_list_by_name() {
    let store = Store::open_in_memory().unwrap();
    let prod = ssh_server("prod");
    let local = local_server("laptop");
    let no_user = Server {
        ssh: Some(SshTarget {
            user: None,
            host: "myalias".into(),
            port: None,
        }),
        transport: TransportKind::System,
        ..ssh_server("alias")
    };
    for s in [&prod, &local, &no_user] {
        store.insert_server(s).unwrap();
    }
    assert_eq!(store.server("prod").unwrap(), prod);
    assert_eq!(store.server("laptop").unwrap(), local);
    assert_eq!(store.server("alias").unwrap(), no_user);
    assert_eq!(store.servers().unwrap(), vec![no_user, local, prod.clone()]);

    let changed = Server {
        transport: TransportKind::System,
        ssh: Some(SshTarget {
            user: None,
            host: "prod.example.com".into(),
            port: None,
        }),
        identity: None,
        docker_socket: "/run/docker.sock".into(),
        base_images: BaseImages {
            build: None,
            run: Some("alpine:3".into()),
        },
        ..prod
    };
    store.update_server(&changed).unwrap();
    assert_eq!(store.server("prod").unwrap(), changed);

    store.delete_server("prod").unwrap();
    assert_eq!(store.servers().unwrap().len(), 2);
}

#[test]
fn server_constraints() {
    let store = Store::open_in_memory().unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    check_err(
        store.insert_server(&ssh_server("prod")).unwrap_err(),
        expect!["server `prod` already exists"],
    );
    check_err(
        store.server("nope").unwrap_err(),
        expect!["server `nope` not found (see `berth server ls`)"],
    );
    check_err(
        store.update_server(&ssh_server("nope")).unwrap_err(),
        expect!["server `nope` not found (see `berth server ls`)"],
    );
    check_err(
        store.delete_server("nope").unwrap_err(),
        expect!["server `nope` not found (see `berth server ls`)"],
    );
    check_err(
        store.insert_server(&ssh_server("Prod 1")).unwrap_err(),
        expect![
            "server name `Prod 1` may only contain lowercase letters a-z, digits 0-9 and `-` (found `P`)"
        ],
    );
}

#[test]
fn a_server_in_use_cannot_be_deleted() {
    let store = store_with_app();
    check_err(
        store.delete_server("prod").unwrap_err(),
        expect!["server `prod` is used by app hello: remove it first"],
    );
    store.insert_app(&minimal_app("web", "prod")).unwrap();
    store.insert_app(&minimal_app("api", "prod")).unwrap();
    let err = store.delete_server("prod").unwrap_err();
    check_err(
        err,
        expect!["server `prod` is used by apps api, hello, web: remove them first"],
    );
    match store.delete_server("prod").unwrap_err() {
        StoreError::InUse { kind, name, by } => {
            assert_eq!((kind, name.as_str()), ("server", "prod"));
            assert_eq!(by, ["api", "hello", "web"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    for a in ["api", "hello", "web"] {
        store.delete_app(a).unwrap();
    }
    store.delete_server("prod").unwrap();
}

// ---------------------------------------------------------------------------------------------
// apps

#[test]
fn apps_round_trip_and_list_by_name() {
    let store = Store::open_in_memory().unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    store.insert_server(&local_server("laptop")).unwrap();
    let full = app("hello", "prod");
    let minimal = minimal_app("api", "prod");
    store.insert_app(&full).unwrap();
    store.insert_app(&minimal).unwrap();
    assert_eq!(store.app("hello").unwrap(), full);
    assert_eq!(store.app("api").unwrap(), minimal);
    let image_app = App {
        git: String::new(),
        branch: String::new(),
        image: Some("127.0.0.1:5000/acme/web:1.0".into()),
        ..minimal_app("img", "prod")
    };
    store.insert_app(&image_app).unwrap();
    assert_eq!(store.app("img").unwrap(), image_app);
    let mut pulled = deployment("d-img", "img", 5);
    pulled.digest = Some(format!("sha256:{}", "ab".repeat(32)));
    store.insert_deployment(&pulled).unwrap();
    assert_eq!(store.deployment("d-img").unwrap(), pulled);
    store.delete_app("img").unwrap();
    assert_eq!(store.apps().unwrap(), vec![minimal.clone(), full.clone()]);

    let moved = App {
        server: "laptop".into(),
        git: "/src/hello".into(),
        branch: "release/2".into(),
        port: 80,
        volumes: vec![],
        limits: Limits {
            cpus: None,
            memory_bytes: Some(1 << 30),
        },
        ..full
    };
    store.update_app(&moved).unwrap();
    assert_eq!(store.app("hello").unwrap(), moved);
}

#[test]
fn app_constraints() {
    let store = store_with_app();
    check_err(
        store.insert_app(&app("hello", "prod")).unwrap_err(),
        expect!["app `hello` already exists"],
    );
    check_err(
        store.insert_app(&app("web", "staging")).unwrap_err(),
        expect!["server `staging` not found (see `berth server ls`)"],
    );
    assert!(matches!(
        store.app("web").unwrap_err(),
        StoreError::NotFound { kind: "app", .. }
    ));
    check_err(
        store.app("nope").unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.update_app(&app("nope", "prod")).unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.update_app(&app("hello", "staging")).unwrap_err(),
        expect!["server `staging` not found (see `berth server ls`)"],
    );
    check_err(
        store.delete_app("nope").unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.insert_app(&app("my app", "prod")).unwrap_err(),
        expect![
            "app name `my app` may only contain lowercase letters a-z, digits 0-9 and `-` (found ` `)"
        ],
    );
}

#[test]
fn stopped_is_the_desired_state() {
    let store = store_with_app();
    assert!(!store.app_stopped("hello").unwrap());
    store.set_app_stopped("hello", true).unwrap();
    assert!(store.app_stopped("hello").unwrap());
    // Editing the app keeps what the user asked for.
    store.update_app(&app("hello", "prod")).unwrap();
    assert!(store.app_stopped("hello").unwrap());
    store.set_app_stopped("hello", false).unwrap();
    assert!(!store.app_stopped("hello").unwrap());
    check_err(
        store.set_app_stopped("nope", true).unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.app_stopped("nope").unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
}

// ---------------------------------------------------------------------------------------------
// projects

#[test]
fn projects_group_apps_and_keep_their_own_variables() {
    let store = store_with_app();
    let shop = berth_model::Project {
        name: "shop".into(),
        server: Some("prod".into()),
        created_at: 1,
    };
    store.insert_project(&shop).unwrap();
    check_err(
        store.insert_project(&shop).unwrap_err(),
        expect!["project `shop` already exists"],
    );
    store.set_project_env("shop", "LOG_LEVEL", "info").unwrap();
    store.set_project_secret("shop", "API_KEY", 3).unwrap();
    let env = store.project_env("shop").unwrap();
    assert_eq!(env[0].key, "API_KEY");
    assert_eq!((env[0].value.clone(), env[0].version), (None, 3));
    assert_eq!(env[1].value.as_deref(), Some("info"));
    let mut a = store.app("hello").unwrap();
    a.project = Some("nope".into());
    check_err(
        store.update_app(&a).unwrap_err(),
        expect!["project `nope` not found (see `berth project ls`)"],
    );
    a.project = Some("shop".into());
    store.update_app(&a).unwrap();
    assert_eq!(store.app("hello").unwrap().project.as_deref(), Some("shop"));
    assert_eq!(store.project_members("shop").unwrap(), ["hello"]);
    check_err(
        store.delete_project("shop").unwrap_err(),
        expect!["project `shop` is used by app hello: remove it first"],
    );
    a.project = None;
    store.update_app(&a).unwrap();
    store.delete_project("shop").unwrap();
    assert!(store.projects().unwrap().is_empty());
}

#[test]
fn a_secret_keeps_its_version() {
    let store = store_with_app();
    store.set_secret_env("hello", "TOKEN", 2).unwrap();
    assert_eq!(store.env("hello").unwrap()[0].version, 2);
    store
        .set_env("hello", "TOKEN", Some("plain"), false)
        .unwrap();
    assert_eq!(store.env("hello").unwrap()[0].version, 0);
}

// ---------------------------------------------------------------------------------------------
// env vars

#[test]
fn env_round_trip() {
    let store = store_with_app();
    store.set_env("hello", "PORT", Some("3000"), false).unwrap();
    store.set_env("hello", "DATABASE_URL", None, true).unwrap();
    store.set_env("hello", "EMPTY", Some(""), false).unwrap();
    store.set_env("hello", "PORT", Some("4000"), false).unwrap();
    assert_eq!(
        store.env("hello").unwrap(),
        vec![
            EnvVar {
                key: "DATABASE_URL".into(),
                value: None,
                secret: true,
                build: false,
                version: 0,
            },
            EnvVar {
                key: "EMPTY".into(),
                value: Some("".into()),
                secret: false,
                build: false,
                version: 0,
            },
            EnvVar {
                key: "PORT".into(),
                value: Some("4000".into()),
                secret: false,
                build: false,
                version: 0,
            },
        ]
    );
    assert!(store.unset_env("hello", "PORT").unwrap());
    assert!(!store.unset_env("hello", "PORT").unwrap());
    assert_eq!(store.env("hello").unwrap().len(), 2);
}

#[test]
fn env_refuses_bad_input() {
    let store = store_with_app();
    check_err(
        store
            .set_env("hello", "TOKEN", Some("hunter2"), true)
            .unwrap_err(),
        expect![
            "env `TOKEN` is secret: its value belongs in the secrets store, not the state database"
        ],
    );
    check_err(
        store.set_env("hello", "TOKEN", None, false).unwrap_err(),
        expect!["env `TOKEN` is not secret and needs a value"],
    );
    check_err(
        store.set_env("hello", "1X", Some("v"), false).unwrap_err(),
        expect![
            "env key `1X` must start with a letter or `_` and contain only letters, digits and `_`"
        ],
    );
    check_err(
        store.set_env("nope", "A", Some("v"), false).unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.env("nope").unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    check_err(
        store.unset_env("nope", "A").unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    assert_eq!(store.env("hello").unwrap(), vec![]);
}

#[test]
fn secret_env_never_has_a_value_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let store = Store::open(&path).unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    store.insert_app(&app("hello", "prod")).unwrap();
    // A value first stored as plain text, then turned secret, is erased from the row; one
    // stored as plain text and then unset is erased from the file.
    let leaked = "plain-then-secret-1b6f9c";
    let removed = "plain-then-unset-77d0e2";
    store.set_env("hello", "A", Some("a"), false).unwrap();
    store
        .set_env("hello", "API_TOKEN", Some(leaked), false)
        .unwrap();
    store
        .set_env("hello", "OLD_TOKEN", Some(removed), false)
        .unwrap();
    store.set_env("hello", "Z", Some("z"), false).unwrap();
    store.set_env("hello", "API_TOKEN", None, true).unwrap();
    assert!(store.unset_env("hello", "OLD_TOKEN").unwrap());
    store.set_env("hello", "DB_PASSWORD", None, true).unwrap();
    assert!(
        store
            .set_env("hello", "DB_PASSWORD", Some("hunter2"), true)
            .is_err()
    );

    let conn = raw(&path);
    let mut stmt = conn
        .prepare("SELECT key, value, secret FROM env_vars ORDER BY key")
        .unwrap();
    let rows: Vec<(String, Option<String>, bool)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            ("A".into(), Some("a".into()), false),
            ("API_TOKEN".into(), None, true),
            ("DB_PASSWORD".into(), None, true),
            ("Z".into(), Some("z".into()), false),
        ]
    );
    // The schema refuses a secret row with a value even from raw SQL.
    assert!(
        conn.execute(
            "UPDATE env_vars SET value = 'x' WHERE key = 'DB_PASSWORD'",
            []
        )
        .is_err()
    );
    // Nor do the old bytes linger in free space (secure_delete), once the WAL is checkpointed.
    drop(stmt);
    drop(conn);
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    let wal = std::fs::read(dir.path().join("berth.db-wal")).unwrap_or_default();
    for (name, content) in [("db", bytes), ("wal", wal)] {
        for old in [leaked, removed] {
            assert!(
                !content.windows(old.len()).any(|w| w == old.as_bytes()),
                "`{old}` is still in the {name} file"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// deployments

#[test]
fn deployments_round_trip() {
    let store = store_with_app();
    let mut d = deployment("d1", "hello", 1_000);
    store.insert_deployment(&d).unwrap();
    assert_eq!(store.deployment("d1").unwrap(), d);

    d.kind = DeploymentKind::Rollback;
    d.status = DeploymentStatus::Failed;
    d.git_ref = "v1.2.0".into();
    d.commit = Some("1a2b3c4d5e6f".into());
    d.commit_message = Some("add healthz\n\nlonger body".into());
    d.runtime = Some("go".into());
    d.image = Some("berth/hello:d1".into());
    d.container = Some("berth-hello-d1".into());
    d.source_deployment = Some("d0".into());
    d.started_at = 1_001;
    d.finished_at = Some(4_500);
    d.failed_step = Some(Step::HealthCheck);
    d.error = Some("container exited with code 1".into());
    d.steps = vec![
        StepTiming {
            step: Step::Resolve,
            started_at: 1_001,
            duration_ms: 20,
            outcome: StepOutcome::Ok,
        },
        StepTiming {
            step: Step::HealthCheck,
            started_at: 1_500,
            duration_ms: 3_000,
            outcome: StepOutcome::Failed,
        },
    ];
    store.update_deployment(&d).unwrap();
    assert_eq!(store.deployment("d1").unwrap(), d);

    check_err(
        store.deployment("nope").unwrap_err(),
        expect!["deployment `nope` not found"],
    );
    check_err(
        store
            .update_deployment(&deployment("nope", "hello", 1))
            .unwrap_err(),
        expect!["deployment `nope` not found"],
    );
    check_err(
        store.insert_deployment(&d).unwrap_err(),
        expect!["deployment `d1` already exists"],
    );
    check_err(
        store
            .insert_deployment(&deployment("d2", "nope", 1))
            .unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
}

#[test]
fn deployments_are_listed_newest_first() {
    let store = store_with_app();
    store.insert_app(&minimal_app("api", "prod")).unwrap();
    store
        .insert_deployment(&deployment("h1", "hello", 100))
        .unwrap();
    store
        .insert_deployment(&deployment("a1", "api", 150))
        .unwrap();
    store
        .insert_deployment(&deployment("h3", "hello", 300))
        .unwrap();
    store
        .insert_deployment(&deployment("h2", "hello", 200))
        .unwrap();
    // Same millisecond: the later insert counts as newer.
    store
        .insert_deployment(&deployment("h4", "hello", 300))
        .unwrap();

    expect![[r#"
        hello h4 in-progress -
        hello h3 in-progress -
        hello h2 in-progress -
        hello h1 in-progress -
    "#]]
    .assert_eq(&render(&store.deployments("hello", 10).unwrap()));
    expect![[r#"
        hello h4 in-progress -
        hello h3 in-progress -
    "#]]
    .assert_eq(&render(&store.deployments("hello", 2).unwrap()));
    expect![[r#"
        hello h4 in-progress -
        hello h3 in-progress -
        hello h2 in-progress -
        api a1 in-progress -
    "#]]
    .assert_eq(&render(&store.recent_deployments(4).unwrap()));
    assert_eq!(store.deployments("api", 0).unwrap(), vec![]);
    check_err(
        store.deployments("nope", 10).unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
}

#[test]
fn activate_supersedes_the_previous_deployment() {
    let store = store_with_app();
    store.insert_app(&minimal_app("api", "prod")).unwrap();
    assert_eq!(store.active_deployment("hello").unwrap(), None);

    store
        .insert_deployment(&deployment("d1", "hello", 100))
        .unwrap();
    store.activate("hello", "d1", 150).unwrap();
    assert_eq!(store.active_deployment("hello").unwrap().unwrap().id, "d1");

    // d2 already has its finish time: activate keeps it.
    let mut d2 = deployment("d2", "hello", 200);
    d2.finished_at = Some(240);
    store.insert_deployment(&d2).unwrap();
    store
        .insert_deployment(&deployment("a1", "api", 210))
        .unwrap();
    store.activate("api", "a1", 215).unwrap();
    store.activate("hello", "d2", 250).unwrap();
    // Activating the active deployment changes nothing.
    store.activate("hello", "d2", 999).unwrap();

    expect![[r#"
        hello d2 active 240
        hello d1 superseded 150
    "#]]
    .assert_eq(&render(&store.deployments("hello", 10).unwrap()));
    assert_eq!(store.active_deployment("api").unwrap().unwrap().id, "a1");

    // Rolling back to a superseded deployment.
    store.activate("hello", "d1", 300).unwrap();
    expect![[r#"
        hello d2 superseded 240
        hello d1 active 150
    "#]]
    .assert_eq(&render(&store.deployments("hello", 10).unwrap()));
}

#[test]
fn activate_refuses_what_cannot_serve() {
    let store = store_with_app();
    store.insert_app(&minimal_app("api", "prod")).unwrap();
    let mut failed = deployment("f1", "hello", 100);
    failed.status = DeploymentStatus::Failed;
    store.insert_deployment(&failed).unwrap();
    store
        .insert_deployment(&deployment("a1", "api", 100))
        .unwrap();
    check_err(
        store.activate("hello", "f1", 200).unwrap_err(),
        expect!["deployment `f1` is failed and cannot become the active deployment"],
    );
    check_err(
        store.activate("hello", "nope", 200).unwrap_err(),
        expect!["deployment `nope` not found"],
    );
    // A deployment of another app is not one of this app's.
    check_err(
        store.activate("hello", "a1", 200).unwrap_err(),
        expect!["deployment `a1` not found"],
    );
    check_err(
        store.activate("nope", "a1", 200).unwrap_err(),
        expect!["app `nope` not found (see `berth app ls`)"],
    );
    assert_eq!(store.active_deployment("hello").unwrap(), None);
    assert_eq!(store.active_deployment("api").unwrap(), None);
}

#[test]
fn at_most_one_active_deployment_per_app() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let store = Store::open(&path).unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    store.insert_app(&app("hello", "prod")).unwrap();
    let mut d1 = deployment("d1", "hello", 100);
    d1.status = DeploymentStatus::Active;
    store.insert_deployment(&d1).unwrap();

    let mut d2 = deployment("d2", "hello", 200);
    d2.status = DeploymentStatus::Active;
    check_err(
        store.insert_deployment(&d2).unwrap_err(),
        expect![
            "app `hello` already has an active deployment `d1`: use activate to switch to deployment `d2`"
        ],
    );
    d2.status = DeploymentStatus::InProgress;
    store.insert_deployment(&d2).unwrap();
    d2.status = DeploymentStatus::Active;
    assert!(matches!(
        store.update_deployment(&d2).unwrap_err(),
        StoreError::AlreadyActive { .. }
    ));
    // Rewriting the active one as active is fine.
    store.update_deployment(&d1).unwrap();

    // The partial unique index holds even against raw SQL.
    let conn = raw(&path);
    let err = conn
        .execute(
            "UPDATE deployments SET status = 'active' WHERE id = 'd2'",
            [],
        )
        .unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");
}

/// The relay's deployments arrive late: one that started before the active one was replaced
/// while Berth was away, so it never takes "active" from a newer deploy.
#[test]
fn a_finished_deployment_is_recorded_at_once_and_activates_only_if_newer() {
    let store = store_with_app();
    let mut manual = deployment("m1", "hello", 200);
    manual.status = DeploymentStatus::Active;
    store.insert_deployment(&manual).unwrap();

    let mut older = deployment("r1", "hello", 100);
    older.status = DeploymentStatus::Active;
    let log = vec!["Step 1/2 : FROM busybox".to_owned()];
    assert_eq!(
        store.record_finished_deployment(&older, &log).unwrap(),
        Some(false)
    );
    let mut newer = deployment("r2", "hello", 300);
    newer.status = DeploymentStatus::Active;
    assert_eq!(
        store.record_finished_deployment(&newer, &[]).unwrap(),
        Some(true)
    );
    let mut failed = deployment("r3", "hello", 400);
    failed.status = DeploymentStatus::Failed;
    assert_eq!(
        store.record_finished_deployment(&failed, &[]).unwrap(),
        Some(false)
    );
    assert_eq!(store.record_finished_deployment(&newer, &[]).unwrap(), None);
    expect![[r#"
        hello r3 failed -
        hello r2 active -
        hello m1 superseded -
        hello r1 superseded -
    "#]]
    .assert_eq(&render(&store.deployments("hello", 10).unwrap()));
    assert_eq!(store.build_log("r1").unwrap(), log);
}

#[test]
fn build_logs_append() {
    let store = store_with_app();
    store
        .insert_deployment(&deployment("d1", "hello", 1))
        .unwrap();
    store
        .insert_deployment(&deployment("d2", "hello", 2))
        .unwrap();
    assert_eq!(store.build_log("d1").unwrap(), Vec::<String>::new());
    store
        .append_build_log("d1", &["Step 1/3 : FROM golang".into(), "".into()])
        .unwrap();
    store.append_build_log("d2", &["other".into()]).unwrap();
    store.append_build_log("d1", &[]).unwrap();
    for i in 0..100 {
        store
            .append_build_log("d1", &[format!("line {i}")])
            .unwrap();
    }
    let log = store.build_log("d1").unwrap();
    assert_eq!(log.len(), 102);
    assert_eq!(log[..3], ["Step 1/3 : FROM golang", "", "line 0"]);
    assert_eq!(log[101], "line 99");
    assert_eq!(store.build_log("d2").unwrap(), ["other"]);
    check_err(
        store.append_build_log("nope", &["x".into()]).unwrap_err(),
        expect!["deployment `nope` not found"],
    );
    check_err(
        store.build_log("nope").unwrap_err(),
        expect!["deployment `nope` not found"],
    );
}

#[test]
fn delete_app_removes_everything_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let store = Store::open(&path).unwrap();
    store.insert_server(&ssh_server("prod")).unwrap();
    store.insert_app(&app("hello", "prod")).unwrap();
    store.insert_app(&minimal_app("api", "prod")).unwrap();
    for a in ["hello", "api"] {
        store.set_env(a, "A", Some("1"), false).unwrap();
        store.set_env(a, "S", None, true).unwrap();
        let id = format!("{a}-1");
        store.insert_deployment(&deployment(&id, a, 1)).unwrap();
        store.append_build_log(&id, &["built".into()]).unwrap();
        store.activate(a, &id, 2).unwrap();
    }
    store.delete_app("hello").unwrap();

    let conn = raw(&path);
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count("SELECT count(*) FROM env_vars WHERE app = 'hello'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM deployments WHERE app = 'hello'"),
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM build_log WHERE deployment = 'hello-1'"),
        0
    );
    // The other app is untouched.
    assert_eq!(count("SELECT count(*) FROM env_vars"), 2);
    assert_eq!(count("SELECT count(*) FROM deployments"), 1);
    assert_eq!(count("SELECT count(*) FROM build_log"), 1);
    assert_eq!(store.active_deployment("api").unwrap().unwrap().id, "api-1");
    assert!(matches!(
        store.deployment("hello-1").unwrap_err(),
        StoreError::NotFound {
            kind: "deployment",
            ..
        }
    ));
    // The name is free again, with a clean slate.
    store.insert_app(&app("hello", "prod")).unwrap();
    assert_eq!(store.env("hello").unwrap(), vec![]);
    assert_eq!(store.deployments("hello", 10).unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// audit log and settings

#[test]
fn audit_log_newest_first() {
    let store = Store::open_in_memory().unwrap();
    let entry = |at: i64, action: &str| AuditEntry {
        at,
        actor: "cli".into(),
        action: action.into(),
        target: "hello".into(),
        detail: format!("{action} at {at}"),
    };
    store.audit(&entry(10, "app.create")).unwrap();
    store.audit(&entry(30, "app.deploy")).unwrap();
    store.audit(&entry(20, "env.set")).unwrap();
    store.audit(&entry(30, "app.stop")).unwrap();
    assert_eq!(
        store.audit_log(10).unwrap(),
        vec![
            entry(30, "app.stop"),
            entry(30, "app.deploy"),
            entry(20, "env.set"),
            entry(10, "app.create"),
        ]
    );
    assert_eq!(store.audit_log(1).unwrap(), vec![entry(30, "app.stop")]);
    assert_eq!(store.audit_log(0).unwrap(), vec![]);
}

#[test]
fn settings() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(store.setting("default-server").unwrap(), None);
    store.set_setting("default-server", "prod").unwrap();
    store.set_setting("default-server", "staging").unwrap();
    store.set_setting("other", "").unwrap();
    assert_eq!(
        store.setting("default-server").unwrap().as_deref(),
        Some("staging")
    );
    assert_eq!(store.setting("other").unwrap().as_deref(), Some(""));
}

// ---------------------------------------------------------------------------------------------
// files, migrations, concurrency

#[test]
fn open_creates_parent_dirs_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/berth.db");
    {
        let store = Store::open(&path).unwrap();
        store.insert_server(&ssh_server("prod")).unwrap();
        store.insert_app(&app("hello", "prod")).unwrap();
        store.set_app_stopped("hello", true).unwrap();
    }
    // Opening again runs no migration twice and keeps the data.
    let version = |p: &Path| -> i64 {
        raw(p)
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    let before = version(&path);
    assert!(before >= 1);
    let store = Store::open(&path).unwrap();
    let again = Store::open(&path).unwrap();
    assert_eq!(version(&path), before);
    assert_eq!(store.app("hello").unwrap(), app("hello", "prod"));
    assert!(again.app_stopped("hello").unwrap());
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_database_from_a_newer_berth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    drop(Store::open(&path).unwrap());
    raw(&path).pragma_update(None, "user_version", 999).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "the state database was written by a newer berth (schema version 999, this berth knows up to "
        ),
        "{msg}"
    );
    assert!(msg.ends_with("): upgrade berth"), "{msg}");
    // Untouched.
    let version: i64 = raw(&path)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 999);
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    std::fs::write(
        &path,
        "this is not sqlite, just some text long enough to have a header....",
    )
    .unwrap();
    let err = Store::open(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "cannot use the state database {}: ",
            path.display()
        )),
        "{msg}"
    );
    assert!(matches!(err, StoreError::Database { .. }));
}

#[test]
fn two_handles_write_concurrently_without_busy_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let first = Arc::new(Store::open(&path).unwrap());
    first.insert_server(&ssh_server("prod")).unwrap();
    first.insert_app(&app("hello", "prod")).unwrap();
    first
        .insert_deployment(&deployment("d1", "hello", 1))
        .unwrap();
    let second = Arc::new(Store::open(&path).unwrap());

    const ROUNDS: i64 = 150;
    let mut threads = Vec::new();
    for (t, store) in [first.clone(), second.clone(), first.clone(), second.clone()]
        .into_iter()
        .enumerate()
    {
        threads.push(std::thread::spawn(move || {
            for i in 0..ROUNDS {
                store
                    .audit(&AuditEntry {
                        at: i,
                        actor: format!("thread-{t}"),
                        action: "test.write".into(),
                        target: "hello".into(),
                        detail: String::new(),
                    })
                    .unwrap();
                store.append_build_log("d1", &[format!("{t}:{i}")]).unwrap();
                store
                    .set_env("hello", &format!("T{t}_{}", i % 5), Some("v"), false)
                    .unwrap();
                // A read between writes (the desktop polls while the CLI deploys).
                store.deployments("hello", 5).unwrap();
                // Read-modify-write under one lock: a deploy id per round, never twice.
                let id = format!("t{t}-{i}");
                store
                    .insert_deployment(&deployment(&id, "hello", 10 + i))
                    .unwrap();
                store.activate("hello", &id, 10 + i).unwrap();
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let total = usize::try_from(ROUNDS).unwrap() * 4;
    assert_eq!(first.audit_log(10_000).unwrap().len(), total);
    assert_eq!(second.build_log("d1").unwrap().len(), total);
    assert_eq!(first.env("hello").unwrap().len(), 20);
    assert_eq!(
        second.deployments("hello", 10_000).unwrap().len(),
        total + 1
    );
    // Whatever the interleaving, exactly one deployment ended up active.
    let active = second
        .deployments("hello", 10_000)
        .unwrap()
        .into_iter()
        .filter(|d| d.status == DeploymentStatus::Active)
        .count();
    assert_eq!(active, 1);
    // Every line of each writer is there, in that writer's order.
    let log = first.build_log("d1").unwrap();
    for t in 0..4 {
        let mine: Vec<&String> = log
            .iter()
            .filter(|l| l.starts_with(&format!("{t}:")))
            .collect();
        let expected: Vec<String> = (0..ROUNDS).map(|i| format!("{t}:{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>());
    }
}

#[test]
fn many_handles_open_a_new_file_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("berth.db");
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let store = Store::open(&path).unwrap();
                store.set_setting(&format!("k{i}"), "v").unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = Store::open(&path).unwrap();
    for i in 0..6 {
        assert_eq!(
            store.setting(&format!("k{i}")).unwrap().as_deref(),
            Some("v")
        );
    }
}

/// Ids are 128-bit; people copy the first digits from a listing.
#[test]
fn a_deployment_is_found_by_a_unique_prefix_of_its_id() {
    let store = store_with_app();
    let a = deployment("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "hello", 100);
    let b = deployment("0a1b2c3dffff60718293a4b5c6d7e8f9", "hello", 200);
    store.insert_deployment(&a).unwrap();
    store.insert_deployment(&b).unwrap();
    assert_eq!(store.deployment(&a.id).unwrap().id, a.id);
    assert_eq!(store.deployment("0a1b2c3d4e5f").unwrap().id, a.id);
    assert_eq!(store.deployment("0A1B2C3DFF").unwrap().id, b.id);
    let err = store.deployment("0a1b2c3d").unwrap_err().to_string();
    assert!(err.contains("ambiguous"), "{err}");
    assert!(store.deployment("0a1").is_err(), "too short to be a prefix");
    assert!(store.deployment("ffff").is_err());
}
