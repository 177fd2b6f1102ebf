//! Host keys: an unknown key is refused without a terminal unless --accept-new; a changed key
//! is always refused, naming both fingerprints; nothing is stored either way.

use berth_testkit::{Berth, Sshd};

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
