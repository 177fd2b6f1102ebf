//! `git://` against `git daemon`.

use berth_git::{Auth, GitError, Source, fetch, fetch_since};

use crate::support::{Fixture, GitDaemon};
use crate::{assert_first_commit, assert_second_commit};

fn source(url: String) -> Source {
    Source {
        url,
        auth: Auth::None,
    }
}

#[tokio::test]
async fn fetches_branch_tip_with_modes_symlink_subdirs_and_large_file() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let src = source(daemon.url_of("127.0.0.1", "repo.git"));
    let snapshot = fetch(&src, "main", None).await.expect("fetch main");
    assert_second_commit(&snapshot, &fixture);
    assert_eq!(snapshot.host_key, None);
    // Full ref names and the commit given explicitly give the same result.
    let again = fetch(&src, "refs/heads/main", Some(&fixture.second))
        .await
        .expect("fetch refs/heads/main");
    assert_eq!(again, snapshot);
}

#[tokio::test]
async fn fetches_an_older_commit_within_fifty_through_deltas() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let src = source(daemon.url_of("127.0.0.1", "repo.git"));
    let snapshot = fetch(&src, "main", Some(&fixture.first))
        .await
        .expect("fetch first commit");
    assert_first_commit(&snapshot, &fixture);
    // An abbreviated id works too.
    let short = fetch(&src, "main", Some(&fixture.first[..10].to_uppercase()))
        .await
        .expect("fetch by prefix");
    assert_eq!(short.commit, fixture.first);
}

#[tokio::test]
async fn fetches_annotated_and_lightweight_tags() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let src = source(daemon.url_of("127.0.0.1", "repo.git"));
    for git_ref in ["v1.0", "refs/tags/v1.0", "light"] {
        let snapshot = fetch(&src, git_ref, None)
            .await
            .unwrap_or_else(|e| panic!("fetch {git_ref}: {e}"));
        assert_first_commit(&snapshot, &fixture);
    }
}

#[tokio::test]
async fn missing_ref_names_the_branches_that_exist() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let err = fetch(
        &source(daemon.url_of("127.0.0.1", "repo.git")),
        "nope",
        None,
    )
    .await
    .expect_err("missing ref");
    assert!(matches!(err, GitError::RefNotFound { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "ref `nope` not found in {}; branches there include: main, side",
            daemon.url_of("127.0.0.1", "repo.git")
        )
    );
}

#[tokio::test]
async fn unreachable_or_too_old_commits_are_refused_clearly() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let src = source(daemon.url_of("127.0.0.1", "repo.git"));
    let err = fetch(&src, "main", Some(&fixture.side))
        .await
        .expect_err("commit on another branch");
    assert_eq!(
        err.to_string(),
        format!(
            "commit {} is not within the last 50 commits of main (tip {}) in {}",
            fixture.side,
            fixture.second,
            daemon.url_of("127.0.0.1", "repo.git")
        )
    );
    // 49 newer commits make the second commit the 50th from the tip and the first the 51st.
    let tip = fixture.extend_main(49);
    let err = fetch(&src, "main", Some(&fixture.first))
        .await
        .expect_err("commit too old");
    assert!(
        matches!(&err, GitError::CommitNotFound { tip: t, .. } if *t == tip),
        "{err:?}"
    );
    let snapshot = fetch(&src, "main", Some(&fixture.second))
        .await
        .expect("the 50th commit is still within reach");
    assert_eq!(snapshot.commit, fixture.second);
}

#[tokio::test]
async fn empty_and_missing_repositories_are_explained() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let err = fetch(
        &source(daemon.url_of("127.0.0.1", "empty.git")),
        "main",
        None,
    )
    .await
    .expect_err("empty repo");
    assert!(matches!(err, GitError::EmptyRepository { .. }), "{err:?}");
    assert!(err.to_string().contains("push a commit first"), "{err}");

    let err = fetch(
        &source(daemon.url_of("127.0.0.1", "missing.git")),
        "main",
        None,
    )
    .await
    .expect_err("missing repo");
    assert!(matches!(err, GitError::Server { .. }), "{err:?}");
    assert!(err.to_string().contains("not exported"), "{err}");

    let err = fetch(
        &source(daemon.url_of("127.0.0.1", "repo.git")),
        "main",
        Some("xyz"),
    )
    .await
    .expect_err("bad commit");
    assert!(matches!(err, GitError::InvalidCommit { .. }), "{err:?}");
}

#[tokio::test]
async fn connection_refused_names_the_address() {
    let port = crate::support::free_port();
    let err = fetch(
        &source(format!("git://127.0.0.1:{port}/repo.git")),
        "main",
        None,
    )
    .await
    .expect_err("nothing listens");
    assert!(matches!(err, GitError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test]
async fn tells_whether_the_pushed_commit_descends_from_the_serving_one() {
    let fixture = Fixture::new();
    let daemon = GitDaemon::serve_dir(&fixture.srv());
    let src = source(daemon.url_of("127.0.0.1", "repo.git"));
    // main's tip (second) descends from first, and from itself.
    for (since, expected) in [
        (&fixture.first, true),
        (&fixture.second, true),
        (&fixture.side, false),
    ] {
        let snapshot = fetch_since(&src, "main", None, Some(since))
            .await
            .expect("fetch");
        assert_eq!(snapshot.commit, fixture.second);
        assert_eq!(snapshot.descends, Some(expected), "since {since}");
    }
    // The side branch forked at first: second is not in its history (a force-push to it).
    let side = fetch_since(&src, "side", None, Some(&fixture.second))
        .await
        .expect("fetch side");
    assert_eq!(side.descends, Some(false));
    // Not asked: not said.
    assert_eq!(
        fetch(&src, "main", None).await.expect("fetch").descends,
        None
    );
    let err = fetch_since(&src, "main", None, Some("abc"))
        .await
        .expect_err("a short since");
    assert!(err.to_string().contains("abc"), "{err}");
}
