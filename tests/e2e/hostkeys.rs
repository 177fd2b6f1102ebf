//! Host keys: an unknown key is refused without a terminal unless --accept-new; a changed key
//! is always refused, naming both fingerprints; nothing is stored either way.

use berth_testkit::docker::{AppGuard, ensure_busybox};
use berth_testkit::{Berth, Netns, Sshd, git, http_get, unique};

#[test]
fn unknown_host_key_is_refused_without_accept_new() {
    let sshd = Sshd::start();
    let b = Berth::new();
    let key = sshd.user_key.display().to_string();
    for transport in ["embedded", "system"] {
        let r = b.fails(&[
            "server",
            "add",
            "prod",
            "--ssh",
            &sshd.target(),
            "--identity",
            &key,
            "--transport",
            transport,
        ]);
        assert!(
            r.stderr.contains(&sshd.host_fingerprint()),
            "{transport}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("--accept-new"), "{}", r.stderr);
        assert_eq!(
            b.ok(&["server", "ls", "--json"]).json(),
            serde_json::json!([])
        );
        let known = std::fs::read_to_string(b.data.path().join("known_hosts")).unwrap_or_default();
        assert!(
            !known.contains("ssh-ed25519"),
            "nothing may be pinned: {known}"
        );
    }
}

#[test]
fn changed_host_key_is_refused_naming_both_fingerprints() {
    let mut sshd = Sshd::start();
    let b = Berth::new();
    let key = sshd.user_key.display().to_string();
    let port = sshd.port;
    let old_fp = sshd.host_fingerprint();
    b.ok(&[
        "server",
        "add",
        "prod",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
    ]);
    sshd.stop();
    let new = Sshd::start_with_new_host_key(port);
    let new_fp = new.host_fingerprint();
    // Authorise the old user key on the new server too, so only the host key differs.
    std::fs::copy(
        sshd.dir.path().join("id_ed25519.pub"),
        new.dir.path().join("authorized_keys"),
    )
    .unwrap();

    let r = b.fails(&["server", "check", "prod"]);
    assert!(
        r.stderr.contains(&old_fp) && r.stderr.contains(&new_fp),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("changed"), "{}", r.stderr);

    // --accept-new never accepts a changed key, for either transport.
    for transport in ["embedded", "system"] {
        let r = b.fails(&[
            "server",
            "add",
            "other",
            "--ssh",
            &new.target(),
            "--identity",
            &key,
            "--transport",
            transport,
            "--accept-new",
        ]);
        assert!(
            r.stderr.contains(&old_fp) && r.stderr.contains(&new_fp),
            "{transport}: {}",
            r.stderr
        );
    }
    let servers = b.ok(&["server", "ls", "--json"]).json();
    assert_eq!(servers.as_array().unwrap().len(), 1);
}

/// Runs `berth ARGS` on a pseudo-terminal (util-linux `script`), typing `answer`.
fn on_a_terminal(b: &Berth, args: &[&str], answer: &str) -> berth_testkit::Run {
    use std::io::Write;
    let bin = berth_testkit::berth_bin();
    let mut line = format!("'{}'", bin.display());
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("BERTH_DATA_DIR", b.data.path())
        .env("BERTH_SECRETS", "file")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script`");
    // Give berth time to print the prompt before answering.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(answer.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    berth_testkit::Run {
        code: out.status.code(),
        // On a pty, everything the program wrote arrives on script's stdout.
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
    }
}

#[test]
fn on_a_terminal_the_fingerprint_is_shown_and_asked_for() {
    let sshd = Sshd::start();
    let b = Berth::new();
    let key = sshd.user_key.display().to_string();
    let add = [
        "server",
        "add",
        "prod",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
    ];
    let no = on_a_terminal(&b, &add, "n\n");
    assert!(
        no.stderr.contains(&sshd.host_fingerprint()),
        "{}",
        no.stderr
    );
    assert!(no.stderr.contains("Trust this host key"), "{}", no.stderr);
    assert_ne!(no.code, Some(0), "{}", no.stderr);
    assert_eq!(
        b.ok(&["server", "ls", "--json"]).json(),
        serde_json::json!([])
    );

    let yes = on_a_terminal(&b, &add, "y\n");
    assert_eq!(yes.code, Some(0), "{}", yes.stderr);
    assert!(yes.stderr.contains("server prod added"), "{}", yes.stderr);
    // Pinned now: no question the second time.
    b.ok(&["server", "check", "prod"]);
}

#[test]
fn an_encrypted_key_s_passphrase_is_kept_in_the_secrets_store() {
    let sshd = Sshd::start();
    let b = Berth::new();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id_locked");
    berth_testkit::run(
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "correct horse", "-f"])
            .arg(&key),
    );
    let public = std::fs::read_to_string(dir.path().join("id_locked.pub")).unwrap();
    let authorized = sshd.dir.path().join("authorized_keys");
    let mut keys = std::fs::read_to_string(&authorized).unwrap();
    keys.push_str(&public);
    std::fs::write(&authorized, keys).unwrap();
    let key = key.display().to_string();
    let add = [
        "server",
        "add",
        "prod",
        "--ssh",
        &sshd.target(),
        "--identity",
        &key,
        "--transport",
        "embedded",
        "--accept-new",
    ];
    let r = b.fails(&add);
    assert!(r.stderr.contains("is encrypted"), "{}", r.stderr);
    let r = b.run_with_env(&add, &[("BERTH_SSH_PASSPHRASE", "wrong")]);
    assert!(r.stderr.contains("wrong passphrase"), "{}", r.stderr);
    let r = b.run_with_env(&add, &[("BERTH_SSH_PASSPHRASE", "correct horse")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // Later commands find the passphrase in the secrets store, never in the database.
    b.ok(&["server", "check", "prod"]);
    let secrets = std::fs::read_to_string(b.data.path().join("secrets.json")).unwrap();
    assert!(secrets.contains("correct horse"));
    let db = std::fs::read(b.data.path().join("berth.db")).unwrap();
    assert!(!String::from_utf8_lossy(&db).contains("correct horse"));
    b.ok(&["server", "rm", "prod"]);
    let secrets = std::fs::read_to_string(b.data.path().join("secrets.json")).unwrap_or_default();
    assert!(
        !secrets.contains("correct horse"),
        "server rm forgets the passphrase"
    );
}

/// A server only a jump host reaches, named in an ssh_config with `ProxyJump` and
/// `HostKeyAlias`: its key is fetched through the jump and pinned under the alias ssh looks
/// up, an app deploys through it, and a changed key behind the jump is refused. Berth runs in
/// a network namespace of its own: the server's sshd (with Docker, on this machine's loopback)
/// is out of its reach; the jump host's, on the namespace's link, is not.
#[test]
fn a_server_behind_a_jump_host_is_pinned_under_its_alias_and_deployed_through() {
    ensure_busybox();
    let ns = Netns::create();
    let jump = Sshd::start_on(&ns.outer);
    let behind = Sshd::start();
    let mut b = Berth::new();
    b.set_netns(&ns);
    let dir = b.data.path().join("ssh");
    std::fs::create_dir_all(&dir).unwrap();
    // The jump host is trusted the way the user's own ssh trusts it.
    let jump_known = dir.join("jump_known_hosts");
    std::fs::write(
        &jump_known,
        format!("[{}]:{} {}\n", ns.outer, jump.port, jump.host_public_key),
    )
    .unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "Host berth-jump\n  HostName {}\n  Port {}\n  User root\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  StrictHostKeyChecking yes\n\n\
             Host behind\n  HostName 127.0.0.1\n  Port {}\n  User root\n  ProxyJump berth-jump\n  \
             HostKeyAlias behind.internal\n  IdentityFile {}\n  IdentitiesOnly yes\n",
            ns.outer,
            jump.port,
            jump.user_key.display(),
            jump_known.display(),
            behind.port,
            behind.user_key.display(),
        ),
    )
    .unwrap();
    b.set_env("BERTH_SSH_CONFIG", &config.display().to_string());

    // Unknown: refused, showing the key of the server behind the jump (not the jump's).
    let r = b.fails(&[
        "server",
        "add",
        "prod",
        "--ssh",
        "behind",
        "--transport",
        "system",
    ]);
    assert!(
        r.stderr.contains(&behind.host_fingerprint()),
        "{}",
        r.stderr
    );
    b.ok(&[
        "server",
        "add",
        "prod",
        "--ssh",
        "behind",
        "--transport",
        "system",
        "--accept-new",
    ]);
    let known = std::fs::read_to_string(b.data.path().join("known_hosts")).unwrap();
    let key_part = behind
        .host_public_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        known.contains(&format!("behind.internal {key_part}")),
        "pinned under the alias ssh looks up: {known}"
    );

    let app = unique("jumped");
    let _guard = AppGuard(app.clone());
    let repo = git::web_app("v1");
    b.ok(&[
        "app",
        "create",
        &app,
        "--server",
        "prod",
        "--git",
        &repo.path_str(),
        "--port",
        "8080",
        "--health-path",
        "/healthz",
    ]);
    b.ok(&["deploy", &app]);
    let st = b.ok(&["status", &app, "--json"]).json();
    assert_eq!(st["state"], "running", "{st:#}");
    let endpoint = st["endpoint"].as_str().expect("endpoint");
    assert_eq!(
        http_get(endpoint, "/").map(|(s, body)| (s, body.trim().to_owned())),
        Some((200, "hello v1".to_owned()))
    );

    // The server behind the jump comes back with another key: every command is refused,
    // naming both keys; nothing is re-pinned.
    let old_fp = behind.host_fingerprint();
    let behind = behind.with_new_host_key();
    let r = b.fails(&["deploy", &app]);
    assert!(
        r.stderr.contains(&behind.host_fingerprint()) && r.stderr.contains(&old_fp),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("host key of behind.internal"),
        "{}",
        r.stderr
    );
    let still = std::fs::read_to_string(b.data.path().join("known_hosts")).unwrap();
    assert_eq!(still, known, "a changed key is never pinned");
}
