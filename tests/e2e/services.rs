//! Services against a real PostgreSQL (Debian's, built once per machine by
//! `scripts/test-images.sh postgres` with the official image's env contract, pushed to a real
//! registry on this machine so Berth pulls it as it would `postgres:16`): created with
//! generated credentials, private to the server's network, linked to an app that writes a row
//! through the connection string it was given, restarted with its data kept, and removed.

use std::process::Command;

use berth_testkit::docker::{self, AppGuard, NamedGuard, VolumeGuard, inspect};
use berth_testkit::{Berth, Registry, S3Server, git, run, unique};

/// Removes a directory (a backup target's, written as root by Docker) when dropped.
pub(crate) struct DirGuard(pub String);

impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running containers of `app`.
fn running(app: &str) -> Vec<String> {
    run(Command::new("docker").args([
        "ps",
        "--filter",
        &format!("label=berth.app={app}"),
        "--format",
        "{{.Names}}",
    ]))
    .lines()
    .map(str::to_owned)
    .collect()
}

#[test]
fn a_postgres_service_keeps_its_data_and_an_app_linked_to_it_writes_through_its_url() {
    let pg = berth_testkit::test_image("postgres");
    let registry = Registry::start();
    let repo = format!("berth-test/{}", unique("pg"));
    let _pulled = NamedGuard(repo.clone());
    let pg_ref = registry.push_local(&pg, &repo, "15");
    docker::ensure_busybox();

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let db = unique("pg");
    let web = unique("pgweb");
    let _guards = (
        AppGuard(db.clone()),
        AppGuard(web.clone()),
        VolumeGuard(berth_model::data_volume(&db)),
    );

    // A kind that does not exist: said so, nothing stored.
    let r = b.fails(&["service", "create", &db, "--kind", "mongo"]);
    assert!(
        r.stderr.contains("no service kind `mongo`") && r.stderr.contains("--image"),
        "{}",
        r.stderr
    );
    assert_eq!(
        b.ok(&["service", "ls", "--json"]).json(),
        serde_json::json!([])
    );

    let created = b.ok(&[
        "service", "create", &db, "--kind", "postgres", "--image", &pg_ref, "--memory", "256m",
    ]);
    assert!(
        created.stderr.contains("ready: its probe passed")
            && created.stderr.contains(&format!("reach it at {db}:5432")),
        "{}",
        created.stderr
    );
    let serving = running(&db);
    assert_eq!(serving.len(), 1, "{serving:?}");
    let container = &serving[0];
    // Private: on the berth network under its own name, no port on the server, its data in a
    // named volume, its password nowhere in the container's command.
    let bindings = inspect(container, "{{json .HostConfig.PortBindings}}");
    assert!(matches!(bindings.as_str(), "null" | "{}"), "{bindings}");
    assert!(
        inspect(
            container,
            "{{json .NetworkSettings.Networks.berth.Aliases}}"
        )
        .contains(&format!("\"{db}\"")),
        "reachable by its name"
    );
    assert!(
        inspect(container, "{{range .Mounts}}{{.Name}} {{end}}")
            .contains(&berth_model::data_volume(&db))
    );
    assert_eq!(inspect(container, "{{.HostConfig.Memory}}"), "268435456");
    let shown = b.ok(&["service", "show", &db, "--json"]).json();
    assert_eq!(shown["service"]["service"], "postgres");
    let env = shown["env"].as_array().cloned().unwrap_or_default();
    let password = env
        .iter()
        .find(|e| e["key"] == "POSTGRES_PASSWORD")
        .unwrap_or_else(|| panic!("{shown:#}"));
    assert_eq!(password["secret"], true);
    assert_eq!(
        password["value"],
        serde_json::Value::Null,
        "kept in the keychain"
    );

    // An app that writes a row at start, through the connection string the link gives it.
    let user = berth_model::ServiceKind::db_name(&db);
    let app_repo = git::Repo::new();
    app_repo.commit(
        &[(
            "Dockerfile",
            &format!(
                "FROM {pg}\nCOPY --from={busybox} /bin/busybox /bin/busybox\nENTRYPOINT []\nCMD [\"sh\", \"-c\", \"psql \\\"$DATABASE_URL\\\" -v ON_ERROR_STOP=1 -c \\\"CREATE TABLE IF NOT EXISTS notes (body text); INSERT INTO notes VALUES ('written by the app')\\\" && mkdir -p /tmp/www && echo ok > /tmp/www/healthz && exec busybox httpd -f -p 8080 -h /tmp/www\"]\n",
                busybox = docker::BUSYBOX
            ),
        )],
        "an app that writes to its database",
    );
    b.ok(&[
        "app",
        "create",
        &web,
        "--git",
        &app_repo.path_str(),
        "--health-path",
        "/healthz",
    ]);
    let linked = b.ok(&["service", "link", &db, "--app", &web]);
    assert!(linked.stderr.contains("DATABASE_URL"), "{}", linked.stderr);
    let url = b.ok(&["env", "ls", &web, "--json"]).json();
    assert!(
        url.to_string().contains("DATABASE_URL"),
        "the app has the variable, secret: {url}"
    );
    b.ok(&["deploy", &web]);
    let rows = |b: &Berth| {
        b.ok(&[
            "exec",
            &db,
            "--",
            "sh",
            "-c",
            "psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tAc 'SELECT body FROM notes'",
        ])
        .stdout
    };
    assert_eq!(rows(&b).trim(), "written by the app");
    assert!(
        b.ok(&["exec", &db, "--", "sh", "-c", "echo \"$POSTGRES_USER\""])
            .stdout
            .contains(&user)
    );

    // A restart: the old container stops before the new one starts on the same data.
    let restarted = b.ok(&["service", "restart", &db]);
    assert!(restarted.stderr.contains("ready"), "{}", restarted.stderr);
    let now = running(&db);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(&now[0], container, "a new container");
    assert_eq!(rows(&b).trim(), "written by the app", "the data stayed");

    // Backups. A target that cannot be written is refused when it is added.
    let r = b.fails(&["backup", "target", "add", "nope", "local:/proc/berth-nope"]);
    assert!(r.stderr.contains("cannot be written"), "{}", r.stderr);
    assert_eq!(
        b.ok(&["backup", "target", "ls", "--json"]).json(),
        serde_json::json!([])
    );
    // A directory on the server (through its Docker engine), and one on this machine.
    let dir = format!("/tmp/{}", unique("backups"));
    let _dir = DirGuard(dir.clone());
    let _holder = NamedGuard(dir.trim_start_matches("/tmp/").to_owned());
    b.ok(&[
        "backup",
        "target",
        "add",
        "srv",
        &format!("ssh://here{dir}"),
    ]);
    let laptop = tempfile::tempdir().expect("tempdir");
    let laptop_dir = laptop.path().to_string_lossy().into_owned();
    b.ok(&[
        "backup",
        "target",
        "add",
        "lap",
        &format!("local:{laptop_dir}"),
    ]);

    let first = b
        .ok(&["backup", "create", &db, "--to", "srv", "--json"])
        .json();
    assert_eq!(first["backup"]["result"], "ok", "{first:#}");
    let drop_table = |b: &Berth| {
        b.ok(&[
            "exec",
            &db,
            "--",
            "sh",
            "-c",
            "psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -c 'DROP TABLE notes'",
        ]);
    };
    drop_table(&b);
    // Restoring over the service wants a yes; without one, nothing changes.
    let r = b.fails(&["backup", "restore", &db, "latest", "--from", "srv"]);
    assert!(
        r.stderr.contains(&format!("overwrites the data of {db}")) && r.stderr.contains("--yes"),
        "{}",
        r.stderr
    );
    let r = b.fails(&[
        "exec",
        &db,
        "--",
        "sh",
        "-c",
        "psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tAc 'SELECT body FROM notes'",
    ]);
    assert!(
        r.stderr.contains("does not exist"),
        "still dropped: {}",
        r.stderr
    );
    b.ok(&["backup", "restore", &db, "latest", "--from", "srv", "--yes"]);
    assert_eq!(rows(&b).trim(), "written by the app", "the row is back");

    // Retention keeps the newest N good ones; verify restores into a throwaway copy.
    let second = b
        .ok(&[
            "backup", "create", &db, "--to", "srv", "--keep", "1", "--json",
        ])
        .json();
    assert_eq!(second["removed"][0], first["backup"]["id"], "{second:#}");
    let listed = b.ok(&["backup", "ls", &db, "--in", "srv", "--json"]).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    assert_eq!(listed[0]["id"], second["backup"]["id"]);
    let verified = b
        .ok(&["backup", "verify", &db, "latest", "--from", "srv", "--json"])
        .json();
    assert_eq!(verified["found"], "1 tables", "{verified:#}");
    // A damaged file is caught before anything is restored.
    let file = format!(
        "{dir}/{db}/{}",
        second["backup"]["file"].as_str().unwrap_or_default()
    );
    std::fs::write(&file, b"not a backup").expect("damage the backup");
    let r = b.fails(&["backup", "verify", &db, "latest", "--from", "srv"]);
    assert!(r.stderr.contains("is damaged"), "{}", r.stderr);
    let r = b.fails(&["backup", "restore", &db, "latest", "--from", "srv", "--yes"]);
    assert!(r.stderr.contains("nothing was restored"), "{}", r.stderr);
    assert_eq!(rows(&b).trim(), "written by the app");
    // On this machine: the same, listed there.
    b.ok(&["backup", "create", &db, "--to", "lap"]);
    let listed = b.ok(&["backup", "ls", &db, "--in", "lap", "--json"]).json();
    assert_eq!(listed[0]["result"], "ok", "{listed:#}");
    // Into another service of the kind, a copy to look at: asked first too, the service
    // itself untouched.
    let copy = unique("pgcopy");
    let _copy = (
        AppGuard(copy.clone()),
        VolumeGuard(berth_model::data_volume(&copy)),
    );
    b.ok(&[
        "service", "create", &copy, "--kind", "postgres", "--image", &pg_ref,
    ]);
    let r = b.fails(&[
        "backup", "restore", &db, "latest", "--from", "lap", "--into", &copy,
    ]);
    assert!(
        r.stderr.contains(&format!("overwrites the data of {copy}")),
        "{}",
        r.stderr
    );
    b.ok(&[
        "backup", "restore", &db, "latest", "--from", "lap", "--into", &copy, "--yes",
    ]);
    let copied = b.ok(&[
        "exec",
        &copy,
        "--",
        "sh",
        "-c",
        "psql -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" -tAc 'SELECT body FROM notes'",
    ]);
    assert_eq!(copied.stdout.trim(), "written by the app");
    b.ok(&["service", "rm", &copy, "--purge"]);
    // A target forgotten: its backups stay where they are.
    b.ok(&["backup", "target", "rm", "lap"]);
    let targets = b.ok(&["backup", "target", "ls", "--json"]).json();
    assert_eq!(targets.as_array().map(Vec::len), Some(1), "{targets:#}");
    assert!(std::path::Path::new(&laptop_dir).join(&db).exists());

    // Not while linked; and never behind the proxy.
    let r = b.fails(&["service", "rm", &db]);
    assert!(
        r.stderr.contains(&format!("linked to {web}")) && r.stderr.contains("unlink"),
        "{}",
        r.stderr
    );
    assert_eq!(running(&db).len(), 1, "nothing removed");
    let r = b.fails(&["domain", "add", &db, "db.example.test"]);
    assert!(r.stderr.contains("is a service"), "{}", r.stderr);
    let listed = b.ok(&["service", "ls", "--json"]).json();
    assert_eq!(listed[0]["links"][0]["app"], web.as_str(), "{listed:#}");
    let apps = b.ok(&["app", "ls", "--json"]).json();
    assert_eq!(
        apps.as_array().map(Vec::len),
        Some(1),
        "services are not apps in the list: {apps}"
    );

    b.ok(&["service", "unlink", &db, "--app", &web]);
    assert!(
        !b.ok(&["env", "ls", &web, "--json"])
            .stdout
            .contains("DATABASE_URL")
    );
    b.ok(&["app", "rm", &web]);
    b.ok(&["service", "rm", &db, "--purge"]);
    assert!(running(&db).is_empty());
    assert!(
        !docker::volume_exists(&berth_model::data_volume(&db)),
        "--purge removed its data"
    );
}

#[test]
fn a_redis_service_wants_its_password_and_a_linked_app_s_url_reaches_it() {
    let image = berth_testkit::test_image("redis");
    let registry = Registry::start();
    let repo = format!("berth-test/{}", unique("redis"));
    let _pulled = NamedGuard(repo.clone());
    let reference = registry.push_local(&image, &repo, "7");

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let cache = unique("cache");
    let web = unique("cacheweb");
    let plain = unique("plain");
    let files = format!("{plain}-files");
    let _guards = (
        AppGuard(cache.clone()),
        AppGuard(web.clone()),
        AppGuard(plain.clone()),
        VolumeGuard(berth_model::data_volume(&cache)),
        VolumeGuard(files.clone()),
    );
    let created = b.ok(&[
        "service", "create", &cache, "--kind", "redis", "--image", &reference,
    ]);
    assert!(created.stderr.contains("REDIS_URL"), "{}", created.stderr);
    let container = running(&cache).pop().unwrap_or_default();
    let password = b.ok(&["env", "get", &cache, "REDIS_PASSWORD"]).stdout;
    let password = password.trim();
    assert_eq!(password.len(), 32);
    // The password reaches redis-server through the entrypoint's shell, not its command line.
    let cmd = inspect(&container, "{{json .Config.Cmd}}");
    assert!(!cmd.contains(password), "{cmd}");
    let noauth = b.run(&["exec", &cache, "--", "redis-cli", "SET", "k", "v"]);
    assert!(noauth.stdout.contains("NOAUTH"), "{}", noauth.stdout);

    // The app's REDIS_URL, used from the berth network (the service's own container is on it).
    b.ok(&[
        "app", "create", &web, "--image", &reference, "--port", "6379",
    ]);
    b.ok(&["service", "link", &cache, "--app", &web]);
    let url = b.ok(&["env", "get", &web, "REDIS_URL"]).stdout;
    let url = url.trim();
    assert_eq!(url, format!("redis://default:{password}@{cache}:6379/0"));
    b.ok(&[
        "exec",
        &cache,
        "--",
        "redis-cli",
        "-u",
        url,
        "SET",
        "k",
        "v",
    ]);
    let got = b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "GET", "k"]);
    assert_eq!(got.stdout.trim(), "v");
    // Its data is in the volume (append-only file on): a restart keeps it.
    b.ok(&["service", "restart", &cache]);
    let got = b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "GET", "k"]);
    assert_eq!(got.stdout.trim(), "v");

    // A backup into the service's own server (its default target): saved, copied while
    // paused; the key deleted; restored; and a throwaway copy holds it too.
    let _dir = DirGuard(format!(
        "{}/{cache}",
        berth_model::backup::SERVER_BACKUP_DIR
    ));
    let _holder = NamedGuard("berth-backups-backups-".to_owned());
    let taken = b.ok(&["backup", "create", &cache, "--json"]).json();
    assert_eq!(taken["backup"]["format"], "tar", "{taken:#}");
    b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "DEL", "k"]);
    b.ok(&["backup", "restore", &cache, "latest", "--yes"]);
    let got = b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "GET", "k"]);
    assert_eq!(got.stdout.trim(), "v", "the key is back");
    let verified = b
        .ok(&["backup", "verify", &cache, "latest", "--json"])
        .json();
    assert_eq!(verified["found"], "1 keys", "{verified:#}");

    // An S3 target: a real S3-compatible server on loopback that checks every signature.
    // Wrong keys are refused when the target is added; with the right ones, backups go there
    // sealed, retention removes there, and a restore comes back from there.
    let s3 = S3Server::start();
    let location = format!("s3://{}/berth", s3.bucket);
    let add = |secret: &str| {
        b.run_with_env(
            &[
                "backup",
                "target",
                "add",
                "bucket",
                &location,
                "--endpoint",
                &s3.endpoint,
                "--encrypt",
            ],
            &[
                ("AWS_ACCESS_KEY_ID", s3.access_key_id.as_str()),
                ("AWS_SECRET_ACCESS_KEY", secret),
            ],
        )
    };
    let r = add("not-the-secret");
    assert!(
        r.code != Some(0) && r.stderr.contains("cannot be written"),
        "{}",
        r.stderr
    );
    let r = add(&s3.secret_access_key);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let first = b
        .ok(&["backup", "create", &cache, "--to", "bucket", "--json"])
        .json();
    let second = b
        .ok(&[
            "backup", "create", &cache, "--to", "bucket", "--keep", "1", "--json",
        ])
        .json();
    assert_eq!(second["removed"][0], first["backup"]["id"], "{second:#}");
    let listed = b
        .ok(&["backup", "ls", &cache, "--in", "bucket", "--json"])
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    assert!(
        listed[0]["sealed_to"]
            .as_str()
            .is_some_and(|r| r.starts_with("age1"))
    );
    let file = second["backup"]["file"].as_str().unwrap_or_default();
    assert!(
        s3.keys("berth/").contains(&format!("berth/{cache}/{file}")),
        "{:?}",
        s3.keys("")
    );
    b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "DEL", "k"]);
    b.ok(&[
        "backup", "restore", &cache, "latest", "--from", "bucket", "--yes",
    ]);
    let got = b.ok(&["exec", &cache, "--", "redis-cli", "-u", url, "GET", "k"]);
    assert_eq!(got.stdout.trim(), "v", "the key is back from S3");

    // A plain image's volume (an app's likewise), as files: copied while it is paused, put
    // back with what was written since removed, and unpacked into a copy that never starts.
    b.ok(&[
        "service",
        "create",
        &plain,
        "--image",
        &reference,
        "--port",
        "6379",
        "--volume",
        &format!("{files}:/srv/files"),
    ]);
    let _plain_backups = DirGuard(format!(
        "{}/{plain}",
        berth_model::backup::SERVER_BACKUP_DIR
    ));
    let sh = |b: &Berth, script: &str| b.ok(&["exec", &plain, "--", "sh", "-c", script]).stdout;
    sh(
        &b,
        "echo kept > /srv/files/a.txt && mkdir /srv/files/sub && echo deep > /srv/files/sub/b",
    );
    let taken = b.ok(&["backup", "create", &plain, "--json"]).json();
    assert_eq!(taken["backup"]["format"], "tar", "{taken:#}");
    assert_eq!(taken["backup"]["kind"], "image", "{taken:#}");
    sh(
        &b,
        "echo changed > /srv/files/a.txt && echo new > /srv/files/later.txt",
    );
    let refused = b.fails(&["backup", "restore", &plain, "latest"]);
    assert!(
        refused
            .stderr
            .contains("overwrites the files in /srv/files of"),
        "{}",
        refused.stderr
    );
    b.ok(&["backup", "restore", &plain, "latest", "--yes"]);
    let listed = sh(&b, "cat /srv/files/a.txt /srv/files/sub/b; ls /srv/files");
    assert_eq!(listed, "kept\ndeep\na.txt\nsub\n", "restored as it was");
    let verified = b
        .ok(&["backup", "verify", &plain, "latest", "--json"])
        .json();
    assert_eq!(verified["found"], "2 files, 10 B", "{verified:#}");
    // More than one 8 MiB piece, incompressible: a multipart upload to S3, and back whole.
    let sum = sh(
        &b,
        "head -c 9000000 /dev/urandom > /srv/files/big && sha256sum /srv/files/big",
    );
    b.ok(&["backup", "create", &plain, "--to", "bucket"]);
    sh(&b, "rm /srv/files/big");
    b.ok(&[
        "backup", "restore", &plain, "latest", "--from", "bucket", "--yes",
    ]);
    assert_eq!(sh(&b, "sha256sum /srv/files/big"), sum);
    b.ok(&["backup", "target", "rm", "bucket"]);
    // Something without volumes has nothing to back up: said so.
    let r = b.fails(&["backup", "create", &web]);
    assert!(r.stderr.contains("has no volumes"), "{}", r.stderr);
    b.ok(&["service", "rm", &plain, "--purge"]);

    b.ok(&["service", "unlink", &cache, "--app", &web]);
    b.ok(&["app", "rm", &web]);
    b.ok(&["service", "rm", &cache, "--purge"]);
}

#[test]
fn a_mariadb_service_is_dumped_restored_and_verified() {
    let image = berth_testkit::test_image("mariadb");
    let registry = Registry::start();
    let repo = format!("berth-test/{}", unique("mariadb"));
    let _pulled = NamedGuard(repo.clone());
    let reference = registry.push_local(&image, &repo, "11");

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let db = unique("maria");
    let _guards = (
        AppGuard(db.clone()),
        VolumeGuard(berth_model::data_volume(&db)),
    );
    let created = b.ok(&[
        "service", "create", &db, "--kind", "mariadb", "--image", &reference,
    ]);
    assert!(
        created.stderr.contains(&format!("reach it at {db}:3306")),
        "{}",
        created.stderr
    );
    let sql = |b: &Berth, statement: &str| {
        b.run(&[
            "exec",
            &db,
            "--",
            "sh",
            "-c",
            &format!(
                "MYSQL_PWD=\"$MARIADB_PASSWORD\" mariadb -N -h 127.0.0.1 -u\"$MARIADB_USER\" \"$MARIADB_DATABASE\" -e '{statement}'"
            ),
        ])
    };
    let r = sql(
        &b,
        "CREATE TABLE notes (body text); INSERT INTO notes VALUES (\"kept\")",
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);

    let dir = format!("/tmp/{}", unique("mbackups"));
    let _dir = DirGuard(dir.clone());
    let _holder = NamedGuard(dir.trim_start_matches("/tmp/").to_owned());
    // An encrypted target: sealed with this machine's backup key (age), made on the way.
    let added = b.ok(&[
        "backup",
        "target",
        "add",
        "srv",
        &format!("ssh://here{dir}"),
        "--encrypt",
    ]);
    assert!(added.stderr.contains("sealed to age1"), "{}", added.stderr);
    let recipient = b.ok(&["backup", "key", "show"]).stdout.trim().to_owned();
    let taken = b
        .ok(&["backup", "create", &db, "--to", "srv", "--json"])
        .json();
    assert_eq!(taken["backup"]["format"], "sql", "{taken:#}");
    assert_eq!(taken["backup"]["sealed_to"], recipient.as_str());
    let file = taken["backup"]["file"].as_str().unwrap_or_default();
    assert!(file.ends_with(".sql.zst.age"), "{file}");
    // The age tool opens it with the exported key (a zstd stream inside): no Berth needed.
    let key = b.ok(&["backup", "key", "export"]).stdout;
    let _keys = DirGuard(format!("{dir}-keys"));
    std::fs::create_dir_all(format!("{dir}-keys")).expect("keys dir");
    let key_file = format!("{dir}-keys/key.txt");
    std::fs::write(&key_file, &key).expect("key file");
    let opened = Command::new("age")
        .args(["-d", "-i", &key_file, &format!("{dir}/{db}/{file}")])
        .output()
        .expect("age");
    assert!(
        opened.status.success() && opened.stdout.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "{}",
        String::from_utf8_lossy(&opened.stderr)
    );
    sql(&b, "DROP TABLE notes");
    // Another key here: the backup does not open, and nothing is touched; the right one back.
    let other = run(&mut Command::new("age-keygen"));
    let r = b.run_with_input(&["backup", "key", "import"], &other);
    assert!(r.stderr.contains("--replace"), "{}", r.stderr);
    b.ok_with_input(&["backup", "key", "import", "--replace"], &other);
    let r = b.fails(&["backup", "restore", &db, "latest", "--from", "srv", "--yes"]);
    assert!(
        r.stderr.contains(&format!("sealed to {recipient}")),
        "{}",
        r.stderr
    );
    b.ok_with_input(&["backup", "key", "import", "--replace"], &key);
    b.ok(&["backup", "restore", &db, "latest", "--from", "srv", "--yes"]);
    assert_eq!(sql(&b, "SELECT body FROM notes").stdout.trim(), "kept");
    let verified = b
        .ok(&["backup", "verify", &db, "latest", "--from", "srv", "--json"])
        .json();
    assert_eq!(verified["found"], "1 tables", "{verified:#}");
    b.ok(&["service", "rm", &db, "--purge"]);
}
