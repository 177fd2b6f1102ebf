//! Image apps against a real registry on this machine (Debian's `docker-registry`): created
//! from an image with the port and health check read from it, deployed by pulling on the
//! server, another tag deployed, and a rollback that runs the digest a deployment pulled even
//! after its tag was pushed again to point elsewhere.

use berth_testkit::{Berth, Registry, docker};

#[test]
fn an_image_app_deploys_tags_and_rolls_back_by_digest() {
    let registry = Registry::start();
    let repo = format!("acme/{}", berth_testkit::unique("web"));
    let _pulled = docker::NamedGuard(repo.clone());
    let v1 = registry.push_web(&repo, "1.0", "v1");
    registry.push_web(&repo, "2.0", "v2");

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let app = berth_testkit::unique("img");

    // Nothing given but the image: port and health check come from it, and the user sees so.
    let created = b.ok(&["app", "create", &app, "--image", &v1]);
    assert!(
        created.stderr.contains("port 8080 (from EXPOSE)"),
        "{}",
        created.stderr
    );
    assert!(
        created
            .stderr
            .contains("health check GET /healthz (from label berth.health-path)"),
        "{}",
        created.stderr
    );
    assert!(
        created
            .stderr
            .contains("env GREETING=hello (from label berth.env.GREETING"),
        "{}",
        created.stderr
    );
    let env = b.ok(&["env", "ls", &app, "--json"]).json();
    assert!(
        env.to_string().contains("GREETING"),
        "the image's env default: {env}"
    );
    let shown = b.ok(&["app", "show", &app, "--json"]).json();
    assert_eq!(shown["image"], v1.as_str());
    assert_eq!(shown["health"]["path"], "/healthz");

    b.ok(&["deploy", &app]);
    assert_eq!(b.serving(&app), "v1");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["tag"], "1.0");
    assert_eq!(st["source_image"], v1.as_str());
    let v1_digest = st["digest"].as_str().unwrap_or_default().to_owned();
    assert!(v1_digest.starts_with("sha256:"), "{st:#}");

    b.ok(&["deploy", &app, "--tag", "2.0"]);
    assert_eq!(b.serving(&app), "v2");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["tag"], "2.0");
    assert_ne!(st["digest"], v1_digest.as_str());

    // Tag 1.0 now points to other content: a rollback still runs what 1.0 was.
    registry.push_web(&repo, "1.0", "v3");
    b.ok(&["rollback", &app, "--yes"]);
    assert_eq!(b.serving(&app), "v1", "the rollback ran the pinned digest");
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["digest"], v1_digest.as_str());
    // A deploy of the tag takes what it points to now.
    b.ok(&["deploy", &app]);
    assert_eq!(b.serving(&app), "v3");

    // A tag that does not exist: the deploy fails at resolve, v3 keeps serving.
    let r = b.fails(&["deploy", &app, "--tag", "9.9"]);
    assert!(
        r.stderr.contains("could not pull") && r.stderr.contains(":9.9"),
        "{}",
        r.stderr
    );
    assert_eq!(b.serving(&app), "v3");
    // An image that does not exist: no app is created.
    let missing = format!("{}/acme/missing:1.0", registry.addr);
    let r = b.fails(&["app", "create", "nothing", "--image", &missing]);
    assert!(r.stderr.contains("could not pull"), "{}", r.stderr);
    assert!(
        b.fails(&["app", "show", "nothing"])
            .stderr
            .contains("nothing")
    );
    // A malformed reference is refused before anything is pulled.
    let r = b.fails(&["app", "create", "bad", "--image", "Acme/Web"]);
    assert!(r.stderr.contains("lowercase"), "{}", r.stderr);

    b.ok(&["app", "rm", &app, "--purge"]);
    assert!(docker::containers_of(&app).is_empty());
    assert!(docker::images_of(&app).is_empty());
    registry.remove_local(&repo);
}

/// A registry that wants a login, on the server's loopback, reached over a real SSH session:
/// kept in Berth's secrets, tried through the server's Docker, used for its tags and for pulls — and a refused one named as such, with nothing changed.
#[test]
fn registries_with_a_login_list_tags_and_pull() {
    let registry = Registry::start_with_login("alice", "s3cret");
    let repo = format!("acme/{}", berth_testkit::unique("priv"));
    // 2.0 is built first: "newest first" is by build time, not by name.
    registry.push_web(&repo, "2.0", "v2");
    registry.push_web(&repo, "1.0", "v1");

    // Over a real SSH session: the login test, the tag listing (the registry API reached from
    // the server, here on its loopback) and the pulls all go through it.
    let sshd = berth_testkit::Sshd::start();
    let b = Berth::new();
    b.add_ssh_server("here", &sshd);
    let add = |password: &str| {
        b.ok_with_input(
            &[
                "registry",
                "add",
                "loc",
                "--url",
                &format!("http://{}/", registry.addr),
                "--username",
                "alice",
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    };

    // A wrong token: the test, the tags and a pull say the registry refused it.
    add("wrong");
    let r = b.fails(&["registry", "test", "loc"]);
    assert!(
        r.stderr.contains("401 Unauthorized") && r.stderr.contains("`alice`"),
        "{}",
        r.stderr
    );
    let r = b.fails(&["registry", "tags", "loc", &repo]);
    assert!(
        r.stderr
            .contains("refused the login of `alice` (401 Unauthorized)"),
        "{}",
        r.stderr
    );
    let app = berth_testkit::unique("priv");
    let r = b.fails(&[
        "app",
        "create",
        &app,
        "--image",
        &format!("{repo}:1.0"),
        "--registry",
        "loc",
    ]);
    assert!(
        r.stderr
            .contains("refused the login of `alice` (401 Unauthorized)"),
        "{}",
        r.stderr
    );
    assert!(
        b.ok(&["app", "ls", "--json"])
            .json()
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // The right one replaces it.
    add("s3cret");
    // An image built for another architecture is refused before anything is created.
    let arm = registry.push_for_arch(&repo, "arm", "arm64");
    let r = b.fails(&["app", "create", "armed", "--image", &arm]);
    assert!(
        r.stderr
            .contains("built for linux/arm64, but the server runs linux/amd64"),
        "{}",
        r.stderr
    );
    let listed = b.ok(&["registry", "ls", "--json"]).json();
    assert_eq!(listed[0]["host"], registry.addr.as_str());
    assert!(
        !listed.to_string().contains("s3cret"),
        "no password in the listing"
    );
    assert!(
        b.ok(&["registry", "test", "loc"])
            .stdout
            .contains("ok here logged in")
    );
    let tags = b.ok(&["registry", "tags", "loc", &repo, "--json"]).json();
    let names: Vec<_> = tags
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["tag"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["1.0", "2.0", "arm"],
        "newest build first, undated last: {tags:#}"
    );
    assert_eq!(tags[2]["platforms"][0], "linux/arm64", "{tags:#}");
    assert!(
        tags[0]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );

    // `--registry` names the host; pulls carry the login, and nothing is stored on the server.
    b.ok(&[
        "app",
        "create",
        &app,
        "--image",
        &format!("{repo}:1.0"),
        "--registry",
        "loc",
    ]);
    b.ok(&["deploy", &app]);
    assert_eq!(b.serving(&app), "v1");
    b.ok(&["deploy", &app, "--tag", "2.0"]);
    assert_eq!(b.serving(&app), "v2");
    let docker_config = std::env::var("HOME")
        .map(|h| format!("{h}/.docker/config.json"))
        .unwrap_or_default();
    let stored = std::fs::read_to_string(docker_config).unwrap_or_default();
    assert!(
        !stored.contains(&registry.addr),
        "no docker login on the server"
    );
    let r = b.fails(&["registry", "rm", "loc"]);
    assert!(
        r.stderr.contains(&format!("used by app {app}")),
        "{}",
        r.stderr
    );

    b.ok(&["app", "rm", &app, "--purge"]);
    b.ok(&["registry", "rm", "loc"]);
    assert!(
        b.fails(&["registry", "test", "loc"])
            .stderr
            .contains("not found")
    );
    registry.remove_local(&repo);
}

/// Stages through a real Caddy and the relay: three image pushes to dev arrive by webhook
/// (a generic `{"image"}`, a registry's notification) and dev keeps its two newest tags side
/// by side at their own subdomains (its own name follows the newest; the oldest is drained
/// and removed); a tag pushed without a webhook is found by polling; prod takes only what ran
/// healthy in dev, by digest, and only with a yes — a push for it waits.
#[test]
fn stages_run_tags_side_by_side_and_promote_by_digest() {
    use berth_hooks::{Provider, fixtures};
    let _relay = crate::webhooks::RelayGuard::take();
    berth_testkit::docker::ensure_caddy();
    // With a login (the relay gets it for unattended pulls), reachable from the relay's
    // container (it polls).
    let password = "stage-registry-pw";
    let registry = Registry::start_for_containers("ci", password);
    let repo = format!("acme/{}", berth_testkit::unique("st"));
    let app = berth_testkit::unique("st");
    let _instances = docker::NamedGuard(app.clone());
    let _pulled = docker::NamedGuard(repo.clone());
    let first = registry.push_web(&repo, "dev-1", "v1");
    registry.push_web(&repo, "dev-2", "v2");
    registry.push_web(&repo, "dev-3", "v3");

    let b = Berth::new();
    b.ok(&["server", "add", "here", "--local"]);
    let http = berth_testkit::free_port();
    let https = berth_testkit::free_port();
    b.ok(&[
        "server",
        "proxy",
        "install",
        "here",
        "--image",
        berth_testkit::docker::CADDY,
        "--tls",
        "off",
        "--http-port",
        &http.to_string(),
        "--https-port",
        &https.to_string(),
    ]);
    b.ok(&["server", "set", "here", "--base-domain", "apps.test"]);
    let relay = format!("127.0.0.1:{}", berth_testkit::free_port());
    b.ok(&[
        "server",
        "relay",
        "install",
        "here",
        "--listen-port",
        relay.rsplit(':').next().unwrap_or_default(),
    ]);
    let through = |label: &str| {
        berth_testkit::http_get_host(
            &format!("127.0.0.1:{http}"),
            &format!("{label}.apps.test"),
            "/",
        )
        .map(|(s, body)| (s, body.trim().to_owned()))
    };
    b.ok_with_input(
        &[
            "registry",
            "add",
            "ci",
            "--url",
            &registry.addr,
            "--username",
            "ci",
            "--password-stdin",
        ],
        &format!("{password}\n"),
    );
    b.ok(&["app", "create", &app, "--image", &first]);
    let r = b.fails(&["app", "stage", "add", &app, "dev", "--tags", "dev/*"]);
    assert!(r.stderr.contains("not a tag pattern"), "{}", r.stderr);
    b.ok(&[
        "app",
        "stage",
        "add",
        &app,
        "dev",
        "--tags",
        "dev-*",
        "--auto-deploy",
        "--max-instances",
        "2",
    ]);
    b.ok(&[
        "app",
        "stage",
        "add",
        &app,
        "prod",
        "--tags",
        "v*",
        "--promote-from",
        "dev",
        "--confirm",
        "--subdomain",
        &app,
    ]);
    let hook = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            &app,
            "--provider",
            "generic",
            "--json",
        ])
        .json();
    let (path, secret) = crate::webhooks::hook_of(&hook);
    let sent = std::cell::Cell::new(0);
    let deliver = |body: Vec<u8>| {
        sent.set(sent.get() + 1);
        let id = format!("delivery-{}", sent.get());
        let headers = fixtures::headers(Provider::Generic, "push", &id, secret.as_bytes(), &body);
        let (status, answer) =
            berth_testkit::http_post(&relay, "relay", &path, &headers, &body).unwrap();
        (status, answer)
    };

    // Three pushes by webhook, deployed by `berth watch` in the order they came.
    let host = registry.addr.clone();
    assert_eq!(
        deliver(fixtures::generic_image(&format!("{host}/{repo}:dev-1"))).0,
        202
    );
    let digest = format!("sha256:{}", "0".repeat(64));
    let (status, answer) = deliver(fixtures::registry_push(&host, &repo, "dev-2", &digest));
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        deliver(fixtures::generic_image(&format!("{host}/{repo}:dev-3"))).0,
        202
    );
    let (status, answer) = deliver(fixtures::generic_image(&format!("{host}/{repo}:latest")));
    assert!(status == 200 && answer.contains("matches none"), "{answer}");
    let watched = b.ok(&["watch", "--once", "--poll", "0"]);
    assert_eq!(watched.stdout.matches('✓').count(), 3, "{}", watched.stdout);
    let dev = |tag: &str| format!("stage-dev-{app}-{tag}");
    assert_eq!(
        through(&format!("stage-dev-{app}")),
        Some((200, "v3".into())),
        "the stage follows the newest"
    );
    assert_eq!(through(&dev("dev-3")), Some((200, "v3".into())));
    assert_eq!(
        through(&dev("dev-2")),
        Some((200, "v2".into())),
        "the two newest side by side"
    );
    assert!(
        docker::containers_of(&dev("dev-1")).is_empty(),
        "the oldest was removed"
    );

    // A tag pushed without a webhook: the first poll is the baseline, the next finds it.
    b.ok(&["watch", "--once", "--poll", "1"]);
    registry.push_web(&repo, "dev-4", "v4");
    let polled = b.ok(&["watch", "--once", "--poll", "1"]);
    assert!(
        polled.stdout.contains("new tag dev-4 (polling)"),
        "{}",
        polled.stdout
    );
    assert_eq!(
        through(&format!("stage-dev-{app}")),
        Some((200, "v4".into()))
    );
    assert!(
        docker::containers_of(&dev("dev-2")).is_empty(),
        "dev-2 drained in turn"
    );

    // A tag that is not there: nothing is left of the instance it would have been.
    let r = b.fails(&["deploy", &app, "--tag", "dev-9"]);
    assert!(r.stderr.contains("could not pull"), "{}", r.stderr);
    assert!(
        b.fails(&["status", &dev("dev-9")])
            .stderr
            .contains("not found")
    );
    assert_eq!(
        through(&format!("stage-dev-{app}")),
        Some((200, "v4".into()))
    );
    let st = b.ok(&["status", &app, "--json"]).json();
    let tags: Vec<_> = st["stages"][0]["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["tag"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tags, ["dev-4", "dev-3"], "{st:#}");
    assert_eq!(st["stages"][0]["instances"][0]["state"], "running");

    // prod: a push waits for a yes; a tag that never ran in dev, one prod's pattern does not
    // take, no yes — all refused.
    registry.push_web(&repo, "v1", "release");
    assert_eq!(
        deliver(fixtures::generic_image(&format!("{host}/{repo}:v1"))).0,
        202
    );
    let waited = b.ok(&["watch", "--once", "--poll", "0"]);
    assert!(
        waited
            .stdout
            .contains("has a new image: tag v1 for stage prod"),
        "{}",
        waited.stdout
    );
    assert!(
        through(&app).is_none_or(|(_, body)| body.is_empty()),
        "nothing in prod yet"
    );
    let r = b.fails(&["promote", &app, "--to", "prod", "--tag", "dev-9", "--yes"]);
    assert!(
        r.stderr.contains("never ran healthy in stage dev"),
        "{}",
        r.stderr
    );
    let r = b.fails(&["deploy", &app, "--stage", "prod", "--tag", "dev-3", "--yes"]);
    assert!(
        r.stderr.contains("does not match stage prod's tags `v*`"),
        "{}",
        r.stderr
    );
    let r = b.fails(&["promote", &app, "--to", "prod", "--tag", "dev-1"]);
    assert!(
        r.stderr.contains("deploys only with confirmation"),
        "{}",
        r.stderr
    );

    // dev-1 was pushed again to other content: promotion runs what ran healthy in dev.
    registry.push_web(&repo, "dev-1", "v9");
    b.ok(&["promote", &app, "--to", "prod", "--tag", "dev-1", "--yes"]);
    assert_eq!(
        through(&app),
        Some((200, "v1".into())),
        "promoted by digest"
    );
    assert_eq!(
        through(&dev("dev-4")),
        Some((200, "v4".into())),
        "dev untouched"
    );

    // Unattended: the relay deploys dev on its own (Berth closed), with the registry's login,
    // and polls the registry itself; Berth catches up with what it did.
    let polling = b.ok(&["registry", "poll", "2"]);
    assert!(polling.stdout.contains("every 2 s"), "{}", polling.stdout);
    let hook = b
        .ok(&[
            "app",
            "webhook",
            "enable",
            &app,
            "--provider",
            "generic",
            "--unattended",
            "--json",
        ])
        .json();
    assert_eq!(hook["mode"], "unattended", "{hook:#}");
    let until = |what: &str, ok: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    until("the relay's first look at the registry", &|| {
        relay_logs().contains("baseline taken")
    });
    registry.push_web(&repo, "dev-5", "v5");
    let (status, answer) = deliver(fixtures::generic_image(&format!("{host}/{repo}:dev-5")));
    assert!(
        status == 202 && answer.contains("the relay takes it"),
        "{answer}"
    );
    // Done when the relay has closed the delivery (the stage settled, the record kept).
    let relay_deployed = |tag: &str| {
        b.ok(&["app", "webhook", "deliveries", &app, "--json"])
            .json()
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| {
                d["git_ref"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(&format!(":{tag}")))
                    && d["status"] == "deployed"
            })
    };
    until("the relay deploys dev-5", &|| relay_deployed("dev-5"));
    assert_eq!(
        through(&format!("stage-dev-{app}")),
        Some((200, "v5".into()))
    );
    assert_eq!(through(&dev("dev-5")), Some((200, "v5".into())));
    assert_eq!(through(&dev("dev-4")), Some((200, "v4".into())));
    assert!(
        docker::containers_of(&dev("dev-3")).is_empty(),
        "the relay drained the oldest beyond 2"
    );
    // Pushed without a webhook: the relay's polling finds it.
    registry.push_web(&repo, "dev-6", "v6");
    until("the relay polls dev-6 and deploys it", &|| {
        relay_deployed("dev-6")
    });
    assert_eq!(
        through(&format!("stage-dev-{app}")),
        Some((200, "v6".into()))
    );
    // Berth catches up: the relay's instances are in its records, healthy for promotion.
    let st = b.ok(&["status", &app, "--json"]).json();
    let tags: Vec<_> = st["stages"][0]["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["tag"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tags, ["dev-6", "dev-5"], "{st:#}");
    assert!(
        st["stages"][0]["url"]
            .as_str()
            .is_some_and(|u| u.contains(&format!("stage-dev-{app}.apps.test"))),
        "{st:#}"
    );
    // prod waits for a yes, unattended too: the push is closed as waiting, nothing deployed.
    registry.push_web(&repo, "v2", "release-2");
    assert_eq!(
        deliver(fixtures::generic_image(&format!("{host}/{repo}:v2"))).0,
        202
    );
    until("the relay closes the v2 push as waiting", &|| {
        b.ok(&["app", "webhook", "deliveries", &app, "--json"])
            .json()
            .as_array()
            .into_iter()
            .flatten()
            .any(|d| {
                d["git_ref"].as_str().is_some_and(|r| r.ends_with(":v2"))
                    && d["status"] == "done"
                    && d["result"]
                        .as_str()
                        .is_some_and(|r| r.contains("waiting: tag v2 for stage prod"))
            })
    });
    assert!(
        docker::containers_of(&format!("stage-prod-{app}-v2")).is_empty(),
        "nothing deployed to prod"
    );
    b.ok(&["promote", &app, "--to", "prod", "--tag", "dev-6", "--yes"]);
    assert_eq!(through(&app), Some((200, "v6".into())), "promoted");
    let logs = relay_logs();
    assert!(!logs.contains(password), "{logs}");

    b.ok(&["app", "rm", &app, "--purge"]);
    for label in [
        dev("dev-5"),
        dev("dev-6"),
        format!("stage-prod-{app}-dev-1"),
        format!("stage-prod-{app}-dev-6"),
    ] {
        assert!(
            docker::containers_of(&label).is_empty(),
            "{label} removed with its app"
        );
    }
    assert!(
        b.fails(&["status", &dev("dev-6")])
            .stderr
            .contains("not found")
    );
    registry.remove_local(&repo);
}

/// The relay's log.
fn relay_logs() -> String {
    let out = std::process::Command::new("docker")
        .args(["logs", "berth-relay"])
        .output()
        .expect("docker logs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
