//! SSH against a real sshd with a deploy key from `generate_deploy_key`.

use berth_git::{Auth, GitError, Source, fetch, generate_deploy_key};

use crate::assert_second_commit;
use berth_testkit::Sshd;

use crate::support::{Fixture, fingerprint_of};

fn user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".to_owned())
}

fn source(sshd: &Sshd, fixture: &Fixture, private_key: &str, host_key: Option<String>) -> Source {
    Source {
        url: format!(
            "ssh://{}@127.0.0.1:{}{}/repo.git",
            user(),
            sshd.port,
            fixture.srv().display()
        ),
        auth: Auth::SshKey {
            private_key: private_key.to_owned(),
            host_key,
        },
    }
}

#[tokio::test]
async fn fetches_over_ssh_and_reports_the_host_key() {
    let fixture = Fixture::new();
    let (private, public) = generate_deploy_key("berth-test").expect("keygen");
    let sshd = Sshd::start();
    sshd.authorize(&public);

    // Trust on first use: the presented key comes back.
    let snapshot = fetch(&source(&sshd, &fixture, &private, None), "main", None)
        .await
        .expect("fetch over ssh");
    assert_second_commit(&snapshot, &fixture);
    let presented = snapshot.host_key.clone().expect("host key reported");
    let without_comment: Vec<&str> = sshd.host_public_key.split(' ').take(2).collect();
    assert_eq!(presented, without_comment.join(" "));

    // Pinned to that key: accepted.
    let pinned = fetch(
        &source(
            &sshd,
            &fixture,
            &private,
            Some(sshd.host_public_key.clone()),
        ),
        "v1.0",
        None,
    )
    .await
    .expect("fetch with pinned key");
    assert_eq!(pinned.commit, fixture.first);
}

#[tokio::test]
async fn wrong_pinned_host_key_is_refused_naming_both_fingerprints() {
    let fixture = Fixture::new();
    let (private, public) = generate_deploy_key("berth-test").expect("keygen");
    let sshd = Sshd::start();
    sshd.authorize(&public);
    let (_, other_public) = generate_deploy_key("not-the-host").expect("keygen");
    let other_file = fixture.dir.path().join("other.pub");
    std::fs::write(&other_file, format!("{other_public}\n")).expect("write");

    let err = fetch(
        &source(&sshd, &fixture, &private, Some(other_public)),
        "main",
        None,
    )
    .await
    .expect_err("wrong host key");
    assert!(matches!(err, GitError::HostKeyMismatch { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&fingerprint_of(&other_file)), "{message}");
    assert!(message.contains(&sshd.host_fingerprint()), "{message}");
}

#[tokio::test]
async fn a_key_the_server_does_not_know_is_rejected_clearly() {
    let fixture = Fixture::new();
    let (_, public) = generate_deploy_key("authorized").expect("keygen");
    let (stranger, _) = generate_deploy_key("stranger").expect("keygen");
    let sshd = Sshd::start();
    sshd.authorize(&public);
    let err = fetch(&source(&sshd, &fixture, &stranger, None), "main", None)
        .await
        .expect_err("unknown key");
    assert!(matches!(err, GitError::DeployKeyRejected { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("the server refused the deploy key"),
        "{err}"
    );
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");

    let err = fetch(&source(&sshd, &fixture, "not a key", None), "main", None)
        .await
        .expect_err("garbage key");
    assert!(matches!(err, GitError::InvalidKey { .. }), "{err:?}");
}

#[tokio::test]
async fn missing_repository_reports_what_the_server_said() {
    let fixture = Fixture::new();
    let (private, public) = generate_deploy_key("berth-test").expect("keygen");
    let sshd = Sshd::start();
    sshd.authorize(&public);
    let mut src = source(&sshd, &fixture, &private, None);
    src.url = src.url.replace("repo.git", "missing.git");
    let err = fetch(&src, "main", None).await.expect_err("missing repo");
    assert!(matches!(err, GitError::Server { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.git"), "{err}");
}
