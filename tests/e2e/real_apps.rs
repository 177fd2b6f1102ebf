//! Real apps deploy as they are: sample apps written the way real Python and Node apps are
//! (`apps/`), built with the generated Dockerfiles on the official images' names — here Debian's
//! Python 3.11 and Node 18 standing in for python:3.11-slim and node:18-bookworm-slim
//! (`scripts/test-images.sh`), with real dependencies from PyPI and npm. Their Procfiles'
//! `release:` and `worker:` lines run, their runtime pins choose the image, they write into
//! their own folders, and a build-time variable ends up in a static page.

use std::time::{Duration, Instant};

use berth_testkit::docker::containers_of;
use berth_testkit::{Berth, git, http_get, http_post, test_image};

/// The app's active container's loopback endpoint (`status --json`).
fn endpoint(b: &Berth, app: &str) -> String {
    let st = b.ok(&["status", app, "--json"]).json();
    st["endpoint"].as_str().unwrap_or_default().to_owned()
}

fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let (code, body) = http_get(addr, path).unwrap_or_else(|| panic!("GET {path} on {addr}"));
    assert_eq!(code, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Waits until `check` holds for GET `path`, at most 20 s.
fn eventually(addr: &str, path: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = get_json(addr, path);
        if check(&got) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} never got there: {got:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `line` is in the deploy output.
fn said(out: &str, line: &str) {
    assert!(out.contains(line), "`{line}` not in:\n{out}");
}

#[test]
fn a_flask_app_with_a_procfile_deploys_unchanged() {
    test_image("python");
    let sample = git::SampleApp::create("notes-py", "notes", "/app/instance");
    let (b, app, repo) = (&sample.berth, sample.name.clone(), &sample.repo);
    // The Procfile's release creates the database before web and worker start; the pinned
    // Python chooses the image, and the log says why.
    let out = b.ok(&["deploy", &app]).stderr;
    said(
        &out,
        "python 3.11 (from .python-version): running on python:3.11-slim",
    );
    said(
        &out,
        "/app is owned by the app's user (10001:10001), so the app can write beside its code",
    );
    said(&out, "starting with the Procfile web command (line 2)");
    said(
        &out,
        "release: the Procfile's release line (line 1) runs before the switch",
    );
    said(&out, "database ready at /app/instance/notes.db");
    said(
        &out,
        "worker: `python worker.py` runs beside the app (Procfile line 3)",
    );
    let addr = endpoint(b, &app);
    let about = get_json(&addr, "/about");
    assert_eq!(about["uid"], 10001, "{about}");
    assert_eq!(about["python"], "3.11", "{about}");
    assert_eq!(
        about["writable"], true,
        "the app writes beside its code: {about}"
    );
    // What the web process adds, the worker processes.
    let (code, body) = http_post(&addr, "test", "/notes", &[], b"hello").unwrap();
    assert_eq!(code, 201, "{body}");
    eventually(&addr, "/notes", |n| n["notes"][0]["shouted"] == "HELLO");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["workers"][0]["process"], "worker", "{st:#}");
    assert_eq!(st["workers"][0]["running"], true, "{st:#}");
    let shown = b.ok(&["status", &app]).stdout;
    assert!(
        shown.contains("worker") && shown.contains("python worker.py"),
        "{shown}"
    );

    // A one-line change: the dependencies' layer is reused, the new version and its worker
    // replace the old ones, and the database (a volume) keeps its notes.
    let first = b.ok(&["deployments", &app, "--json"]).json()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let app_py = std::fs::read_to_string(repo.path().join("app.py")).unwrap();
    repo.commit(&[("app.py", &app_py.replace("notes v1", "notes v2"))], "v2");
    let out = b.ok(&["deploy", &app]).stderr;
    let pip = out
        .find("RUN pip install -r requirements.txt")
        .expect("the pip step in the build log");
    assert!(
        out[pip..]
            .lines()
            .nth(1)
            .unwrap_or("")
            .contains("Using cache"),
        "a source change reinstalls nothing:\n{out}"
    );
    let addr = endpoint(b, &app);
    assert_eq!(http_get(&addr, "/").unwrap().1, "notes v2");
    let notes = get_json(&addr, "/notes");
    assert_eq!(notes["notes"][0]["shouted"], "HELLO", "{notes}");
    assert_eq!(notes["releases"], 2, "the release ran again: {notes}");
    assert_eq!(
        containers_of(&app).len(),
        2,
        "one web and one worker container: {:?}",
        containers_of(&app)
    );

    // Stop and start take the worker along.
    b.ok(&["stop", &app]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["workers"][0]["running"], false, "{st:#}");
    b.ok(&["start", &app]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["workers"][0]["running"], true, "{st:#}");

    // A Procfile line that is not `type: command` is named, and nothing changes.
    let serving = b.ok(&["status", &app, "--json"]).json()["deployment_id"].clone();
    repo.commit(
        &[(
            "Procfile",
            "release: python manage.py init-db\nweb gunicorn app:app\n",
        )],
        "a typo",
    );
    let r = b.fails(&["deploy", &app]);
    said(
        &r.stderr,
        "Procfile line 2: `web gunicorn app:app` is not `type: command`",
    );
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["deployment_id"], serving, "{st:#}");
    assert_eq!(http_get(&endpoint(b, &app), "/").unwrap().1, "notes v2");
    // A release line that fails fails the deploy, named, and v2 serves on.
    repo.commit(
        &[(
            "Procfile",
            "release: python -c 'import sys; print(\"no database here\"); sys.exit(3)'\nweb: gunicorn --bind 0.0.0.0:$PORT app:app\n",
        )],
        "a release that fails",
    );
    let r = b.fails(&["deploy", &app]);
    said(&r.stderr, "the Procfile's release line (line 1)");
    said(&r.stderr, "status 3");
    said(&r.stderr, "no database here");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["deployment_id"], serving, "{st:#}");
    assert_eq!(
        st["workers"][0]["running"], true,
        "the worker serves on too: {st:#}"
    );
    assert_eq!(http_get(&endpoint(b, &app), "/").unwrap().1, "notes v2");

    // Rollback runs the first deployment's image with the worker it ran.
    b.ok(&["rollback", &app, "--to", &first, "--yes"]);
    let addr = endpoint(b, &app);
    assert_eq!(http_get(&addr, "/").unwrap().1, "notes v1");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["workers"][0]["running"], true, "{st:#}");
    let (code, _) = http_post(&addr, "test", "/notes", &[], b"again").unwrap();
    assert_eq!(code, 201);
    eventually(&addr, "/notes", |n| n["notes"][1]["shouted"] == "AGAIN");

    // Asked for, the app's folder stays root's: the app cannot write beside its code.
    repo.commit(
        &[(
            "Procfile",
            "release: python manage.py init-db\nweb: gunicorn --bind 0.0.0.0:$PORT app:app\nworker: python worker.py\n",
        )],
        "fix the typo",
    );
    // …and a start command of its own instead of the Procfile's web line.
    b.ok(&[
        "app",
        "set",
        &app,
        "--app-dir",
        "read-only",
        "--start-command",
        "gunicorn --bind 0.0.0.0:$PORT --workers 1 --env SITE_NAME=started-by-berth app:app",
    ]);
    let out = b.ok(&["deploy", &app]).stderr;
    said(
        &out,
        "/app stays owned by root (the app's directory is read-only): the app runs as 10001:10001",
    );
    said(&out, "starting with the app's start command");
    said(
        &out,
        "the Procfile's web line (line 2) is not used: the app's start command wins",
    );
    let about = get_json(&endpoint(b, &app), "/about");
    assert_eq!(about["writable"], false, "{about}");
    assert_eq!(about["site"], "started-by-berth", "{about}");
}

#[test]
fn a_node_app_with_a_build_time_variable_and_a_worker_deploys_unchanged() {
    test_image("node");
    let sample = git::SampleApp::create("board-node", "board", "/app/data");
    let (b, app) = (&sample.berth, sample.name.clone());
    // A secret never goes into a build; a plain variable marked for the build does.
    let r = b.fails(&[
        "env",
        "set",
        &app,
        "VITE_GREETING=hi",
        "--build",
        "--secret",
    ]);
    said(&r.stderr, "secrets are never passed to builds");
    b.ok(&[
        "env",
        "set",
        &app,
        "VITE_GREETING=Hello from the build",
        "--build",
    ]);
    let listed = b.ok(&["env", "ls", &app]).stdout;
    assert!(
        listed.contains("VITE_GREETING") && listed.contains("(build)"),
        "{listed}"
    );
    let r = b.run_with_input(&["env", "set", &app, "VITE_GREETING=-", "--secret"], "x\n");
    assert_ne!(r.code, Some(0), "{}", r.stderr);
    said(&r.stderr, "is passed to");

    let out = b.ok(&["deploy", &app]).stderr;
    said(
        &out,
        "node 18 (.nvmrc `18`): building on node:18-bookworm-slim",
    );
    said(&out, "build-time env: VITE_GREETING");
    said(&out, "data folder ready");
    let addr = endpoint(b, &app);
    let (code, page) = http_get(&addr, "/").unwrap();
    assert_eq!(code, 200);
    assert_eq!(page, "<h1>Hello from the build</h1>\n");
    let about = get_json(&addr, "/about");
    assert_eq!(about["uid"], 1000, "{about}");
    assert_eq!(about["node"], "18", "{about}");
    assert_eq!(about["writable"], true, "{about}");
    let (code, body) = http_post(&addr, "test", "/jobs", &[], b"ship it").unwrap();
    assert_eq!(code, 201, "{body}");
    eventually(&addr, "/jobs", |j| {
        j["done"][0] == "SHIP IT" && j["schema"] == "1"
    });
}
