//! Smart HTTP against `git http-backend`, with and without a required token.

use berth_git::{Auth, GitError, Source, fetch};

use crate::support::{Fixture, HttpServer};
use crate::{assert_first_commit, assert_second_commit};

#[tokio::test]
async fn fetches_over_smart_http_without_auth() {
    let fixture = Fixture::new();
    let server = HttpServer::start(&fixture.srv(), None);
    let src = Source {
        url: server.url("repo.git"),
        auth: Auth::None,
    };
    let snapshot = fetch(&src, "main", None).await.expect("fetch main");
    assert_second_commit(&snapshot, &fixture);
    let older = fetch(&src, "v1.0", None).await.expect("fetch tag");
    assert_first_commit(&older, &fixture);
    let older = fetch(&src, "main", Some(&fixture.first))
        .await
        .expect("fetch older commit");
    assert_first_commit(&older, &fixture);
    let err = fetch(&src, "main", Some(&fixture.side))
        .await
        .expect_err("unreachable");
    assert!(matches!(err, GitError::CommitNotFound { .. }), "{err:?}");
    assert!(
        server
            .seen_auth
            .lock()
            .expect("lock")
            .iter()
            .all(Option::is_none),
        "no credentials were given, none may be sent"
    );
}

#[tokio::test]
async fn token_is_sent_as_basic_auth_and_a_wrong_one_fails_clearly() {
    let fixture = Fixture::new();
    // base64("x-access-token:s3cret")
    let expected = "Basic eC1hY2Nlc3MtdG9rZW46czNjcmV0".to_owned();
    let server = HttpServer::start(&fixture.srv(), Some(expected.clone()));

    let good = Source {
        url: server.url("repo.git"),
        auth: Auth::Token {
            user: None,
            token: "s3cret".into(),
        },
    };
    let snapshot = fetch(&good, "main", None).await.expect("fetch with token");
    assert_second_commit(&snapshot, &fixture);
    let seen = server.seen_auth.lock().expect("lock").clone();
    assert_eq!(
        seen,
        [Some(expected.clone()), Some(expected.clone())],
        "GET and POST"
    );

    let wrong = Source {
        url: server.url("repo.git"),
        auth: Auth::Token {
            user: None,
            token: "wrong-token".into(),
        },
    };
    let err = fetch(&wrong, "main", None).await.expect_err("wrong token");
    assert!(matches!(err, GitError::AuthFailed { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("authentication failed for http://127.0.0.1:"),
        "{message}"
    );
    assert!(
        message.contains("rejected the token (HTTP 401)"),
        "{message}"
    );
    assert!(!message.contains("wrong-token"), "{message}");

    let anonymous = Source {
        url: server.url("repo.git"),
        auth: Auth::None,
    };
    let err = fetch(&anonymous, "main", None).await.expect_err("no token");
    assert!(err.to_string().contains("needs credentials"), "{err}");

    // A token in the URL is used (and never shown).
    let in_url = Source {
        url: format!(
            "http://x-access-token:s3cret@127.0.0.1:{}/repo.git",
            server.port
        ),
        auth: Auth::None,
    };
    let snapshot = fetch(&in_url, "main", None).await.expect("token in URL");
    assert_eq!(snapshot.commit, fixture.second);
}

#[tokio::test]
async fn missing_repository_is_explained() {
    let fixture = Fixture::new();
    let server = HttpServer::start(&fixture.srv(), None);
    let err = fetch(
        &Source {
            url: server.url("missing.git"),
            auth: Auth::None,
        },
        "main",
        None,
    )
    .await
    .expect_err("missing repo");
    assert!(
        matches!(err, GitError::RepositoryNotFound { .. }),
        "{err:?}"
    );
}
