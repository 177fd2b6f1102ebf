//! Host keys: an unknown key is refused without a terminal unless --accept-new; a changed key
//! is always refused, naming both fingerprints; nothing is stored either way.

use berth_e2e::{Berth, Sshd};

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
