//! End-to-end tests: each provider's request as the fixtures build it, verified and parsed;
//! tampered, unsigned and hostile requests.

use expect_test::expect;

use crate::*;

const SECRET: &[u8] = b"9c1e4b2f-hook-secret";
const SHA: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const MESSAGE: &str = "Fix the login form\n\nThe button was hidden on small screens.";

type Pairs = Vec<(String, String)>;

fn push_body(provider: Provider, git_ref: &str, commit: &str) -> Vec<u8> {
    match provider {
        Provider::Github => fixtures::github_push(git_ref, commit, MESSAGE),
        Provider::Gitlab => fixtures::gitlab_push(git_ref, commit, MESSAGE),
        Provider::Gitea => fixtures::gitea_push(git_ref, commit, MESSAGE),
        Provider::Generic => fixtures::generic_push(git_ref, commit),
    }
}

fn request(provider: Provider, git_ref: &str, commit: &str) -> (Pairs, Vec<u8>) {
    let body = push_body(provider, git_ref, commit);
    let event = if git_ref.starts_with("refs/tags/") {
        "tag_push"
    } else {
        "push"
    };
    let headers = fixtures::headers(provider, event, "delivery-1", SECRET, &body);
    (headers, body)
}

fn set_header(headers: &mut Pairs, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

fn remove_header(headers: &mut Pairs, name: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

fn push_of(event: Result<Event, Rejection>) -> Push {
    match event {
        Ok(Event::Push(push)) => push,
        other => panic!("expected a push, got {other:?}"),
    }
}

fn main_only() -> WebhookFilter {
    WebhookFilter {
        branch: "main".into(),
        tags: Some("v*".into()),
    }
}

#[test]
fn every_provider_verifies_and_parses_its_push() {
    for provider in Provider::ALL {
        let (headers, body) = request(provider, "refs/heads/main", SHA);
        assert_eq!(
            verify(provider, SECRET, &headers, &body),
            Ok(()),
            "{provider}"
        );
        let push = push_of(parse(provider, &headers, &body));
        let described = provider != Provider::Generic;
        let expected = Push {
            git_ref: "refs/heads/main".into(),
            commit: Some(SHA.into()),
            deleted: false,
            message: described.then(|| "Fix the login form".into()),
            pusher: described.then(|| "octo".into()),
            repository: described.then(|| "octo/hello".into()),
        };
        assert_eq!(push, expected, "{provider}");
        assert_eq!(push.branch(), Some("main"));
        assert_eq!(push.tag(), None);
        assert_eq!(decide(&push, &main_only()), Ok("push to main".into()));
        assert_eq!(delivery_id(provider, &headers, &body), "delivery-1");
        assert_eq!(event_name(provider, &headers), "push");
    }
}

#[test]
fn every_provider_parses_tag_pushes_and_deletions() {
    for provider in Provider::ALL {
        let (headers, body) = request(provider, "refs/tags/v1.2", SHA);
        assert_eq!(
            verify(provider, SECRET, &headers, &body),
            Ok(()),
            "{provider}"
        );
        let push = push_of(parse(provider, &headers, &body));
        assert_eq!(push.tag(), Some("v1.2"), "{provider}");
        assert_eq!(push.commit.as_deref(), Some(SHA), "{provider}");
        assert_eq!(
            decide(&push, &main_only()),
            Ok("tag v1.2 matches v*".into())
        );
        if provider != Provider::Generic {
            assert_eq!(
                push.message.as_deref(),
                Some("Fix the login form"),
                "{provider}"
            );
        }

        let zeros = "0".repeat(40);
        let (headers, body) = request(provider, "refs/heads/main", &zeros);
        let push = push_of(parse(provider, &headers, &body));
        assert!(push.deleted, "{provider}");
        assert_eq!(push.commit, None, "{provider}");
        assert_eq!(
            decide(&push, &main_only()),
            Err("branch main was deleted".into())
        );
    }
    assert_eq!(
        event_name(
            Provider::Gitlab,
            &request(Provider::Gitlab, "refs/tags/v1", SHA).0
        ),
        "tag_push"
    );
}

#[test]
fn sha256_repositories_and_uppercase_shas_are_accepted() {
    let long = "AB".repeat(32);
    for provider in Provider::ALL {
        let (headers, body) = request(provider, "refs/heads/main", &long);
        let push = push_of(parse(provider, &headers, &body));
        assert_eq!(push.commit, Some("ab".repeat(32)), "{provider}");
    }
}

#[test]
fn a_changed_body_byte_breaks_the_signature() {
    for provider in [Provider::Github, Provider::Gitea] {
        let (headers, mut body) = request(provider, "refs/heads/main", SHA);
        if let Some(byte) = body.get_mut(10) {
            *byte ^= 0x01;
        }
        let err = verify(provider, SECRET, &headers, &body).unwrap_err();
        assert_eq!(err, Rejection::BadSignature, "{provider}");
        assert_eq!(err.status(), 401);
        assert_eq!(
            err.to_string(),
            "signature does not match the webhook's secret"
        );
    }
}

#[test]
fn a_wrong_or_empty_secret_is_refused() {
    for provider in Provider::ALL {
        let (headers, body) = request(provider, "refs/heads/main", SHA);
        for secret in [&b"another-secret"[..], b""] {
            let err = verify(provider, secret, &headers, &body).unwrap_err();
            assert_eq!(err.status(), 401, "{provider}");
            assert!(
                matches!(err, Rejection::BadSignature | Rejection::BadToken),
                "{provider}: {err:?}"
            );
        }
        // Signed or sent with an empty secret, it still does not verify against the empty secret.
        let headers = fixtures::headers(provider, "push", "d", b"", &body);
        assert!(
            verify(provider, b"", &headers, &body).is_err(),
            "{provider}"
        );
    }
}

#[test]
fn a_missing_header_is_named() {
    let cases = [
        (
            Provider::Github,
            "X-Hub-Signature-256",
            "missing X-Hub-Signature-256 header (set the webhook's secret on github)",
        ),
        (
            Provider::Gitea,
            "X-Gitea-Signature",
            "missing X-Gitea-Signature header (set the webhook's secret on gitea)",
        ),
        (
            Provider::Gitlab,
            "X-Gitlab-Token",
            "missing X-Gitlab-Token header (set the webhook's secret token on gitlab)",
        ),
        (
            Provider::Generic,
            "Authorization",
            "missing Authorization header (send `Authorization: Bearer <secret>`)",
        ),
    ];
    for (provider, header, message) in cases {
        let (mut headers, body) = request(provider, "refs/heads/main", SHA);
        remove_header(&mut headers, header);
        let err = verify(provider, SECRET, &headers, &body).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.status(), 401);
    }
}

/// A signature that is not even well-formed answers 401 like a wrong one (see [`Rejection`]).
#[test]
fn garbage_signatures_are_malformed() {
    let cases = [
        (Provider::Github, "X-Hub-Signature-256", "sha1=abcdef"),
        (Provider::Github, "X-Hub-Signature-256", "sha256=xyz"),
        (
            Provider::Github,
            "X-Hub-Signature-256",
            &format!("sha256={}", "g".repeat(64)),
        ),
        (Provider::Github, "X-Hub-Signature-256", &"a".repeat(64)),
        (Provider::Gitea, "X-Gitea-Signature", "sha256=abc"),
        (Provider::Gitea, "X-Gitea-Signature", "ÿ"),
        (Provider::Generic, "Authorization", "Basic b2N0bzpzZWNyZXQ="),
    ];
    for (provider, header, value) in cases {
        let (mut headers, body) = request(provider, "refs/heads/main", SHA);
        set_header(&mut headers, header, value);
        let err = verify(provider, SECRET, &headers, &body).unwrap_err();
        assert_eq!(err.status(), 401, "{value}");
        assert!(
            matches!(
                err,
                Rejection::MalformedSignature { .. } | Rejection::MalformedToken { .. }
            ),
            "{value}: {err:?}"
        );
    }
    let (mut headers, body) = request(Provider::Github, "refs/heads/main", SHA);
    set_header(&mut headers, "X-Hub-Signature-256", "nope");
    expect![[r#"malformed X-Hub-Signature-256 header (expected `sha256=` and 64 hex digits)"#]]
        .assert_eq(
            &verify(Provider::Github, SECRET, &headers, &body)
                .unwrap_err()
                .to_string(),
        );
}

#[test]
fn a_wrong_token_is_refused() {
    for (provider, header, value) in [
        (Provider::Gitlab, "X-Gitlab-Token", "9c1e4b2f-hook-secreT"),
        (Provider::Gitlab, "X-Gitlab-Token", "9c1e4b2f-hook-secret "),
        (Provider::Generic, "Authorization", "Bearer 9c1e4b2f"),
    ] {
        let (mut headers, body) = request(provider, "refs/heads/main", SHA);
        set_header(&mut headers, header, value);
        let err = verify(provider, SECRET, &headers, &body).unwrap_err();
        assert_eq!(err, Rejection::BadToken);
        assert_eq!(err.to_string(), "token does not match the webhook's secret");
    }
}

#[test]
fn github_ping() {
    let body = fixtures::github_ping();
    let headers = fixtures::headers(Provider::Github, "ping", "p-1", SECRET, &body);
    assert_eq!(verify(Provider::Github, SECRET, &headers, &body), Ok(()));
    assert_eq!(parse(Provider::Github, &headers, &body), Ok(Event::Ping));
    assert_eq!(event_name(Provider::Github, &headers), "ping");
}

#[test]
fn generic_ping_and_bodies() {
    let headers = [("Authorization", "Bearer x")];
    let parse = |body: &str| parse(Provider::Generic, &headers, body.as_bytes());
    assert_eq!(parse(r#"{"ping": true}"#), Ok(Event::Ping));

    let push = push_of(parse(r#"{"branch": "main", "message": "Ship it\nmore"}"#));
    assert_eq!(push.git_ref, "refs/heads/main");
    assert_eq!(push.commit, None);
    assert_eq!(push.message.as_deref(), Some("Ship it"));
    assert_eq!(
        decide(&push, &main_only()),
        Err("push has no commit".into())
    );

    let push = push_of(parse(&format!(r#"{{"tag": "v2", "after": "{SHA}"}}"#)));
    assert_eq!(
        (push.git_ref.as_str(), push.commit.as_deref()),
        ("refs/tags/v2", Some(SHA))
    );
    assert_eq!(
        push_of(parse(r#"{"ref": "main"}"#)).git_ref,
        "refs/heads/main"
    );
    assert_eq!(
        push_of(parse(r#"{"branch": "refs/heads/dev"}"#)).git_ref,
        "refs/heads/dev"
    );

    let needs_ref = Err(Rejection::MalformedBody {
        reason: "generic body needs `ref`, `branch` or `tag`".into(),
    });
    assert_eq!(parse(""), needs_ref);
    assert_eq!(parse("{}"), needs_ref);
    assert_eq!(parse(r#"{"ping": false}"#), needs_ref);
    let err = parse(r#"{"branch": "main", "tag": "v1"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed body: give only one of `ref`, `branch` or `tag`"
    );
    assert_eq!(err.status(), 400);
    let err = parse(r#"{"branch": "main", "commit": "HEAD"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed body: `commit` is not a commit sha (40 or 64 hex digits): `HEAD`"
    );
    let err = parse(r#"{"branch": "two words"}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed body: `ref` is not a git ref: `refs/heads/two words`"
    );
    let err = parse("null").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed body: the body is not a push payload: invalid type: null, expected a JSON object at line 1 column 4"
    );
}

#[test]
fn github_form_encoded_payload() {
    let json = fixtures::github_push("refs/heads/main", SHA, MESSAGE);
    let mut body = b"payload=".to_vec();
    for &byte in &json {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => body.push(byte),
            b' ' => body.push(b'+'),
            _ => body.extend(format!("%{byte:02X}").bytes()),
        }
    }
    let mut headers = fixtures::headers(Provider::Github, "push", "f-1", SECRET, &body);
    set_header(
        &mut headers,
        "Content-Type",
        "application/x-www-form-urlencoded",
    );
    assert_eq!(verify(Provider::Github, SECRET, &headers, &body), Ok(()));
    let push = push_of(parse(Provider::Github, &headers, &body));
    assert_eq!(push.commit.as_deref(), Some(SHA));
    assert_eq!(push.message.as_deref(), Some("Fix the login form"));

    let err = parse(Provider::Github, &headers, b"other=1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "malformed body: the form-encoded body has no `payload` field"
    );
    // `curl -d '{…}'` sends raw JSON as a form.
    let push = push_of(parse(Provider::Github, &headers, &json));
    assert_eq!(push.commit.as_deref(), Some(SHA));
}

#[test]
fn content_types_that_are_not_json_are_refused() {
    let (mut headers, body) = request(Provider::Github, "refs/heads/main", SHA);
    set_header(&mut headers, "Content-Type", "text/plain; charset=utf-8");
    assert!(parse(Provider::Github, &headers, &body).is_ok());
    set_header(&mut headers, "Content-Type", "application/xml");
    let err = parse(Provider::Github, &headers, &body).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported content type `application/xml` (send application/json)"
    );
    assert_eq!(err.status(), 415);
}

#[test]
fn other_events_and_missing_event_headers() {
    let cases = [
        (Provider::Github, "X-GitHub-Event", "issues", "issues"),
        (Provider::Gitea, "X-Gitea-Event", "create", "create"),
        (Provider::Gitea, "X-Gitea-Event", "delete", "delete"),
        (
            Provider::Gitlab,
            "X-Gitlab-Event",
            "Merge Request Hook",
            "merge_request",
        ),
    ];
    for (provider, header, value, event) in cases {
        let headers = [(header, value)];
        assert_eq!(
            parse(provider, &headers, b"not even json"),
            Ok(Event::Other {
                event: event.into()
            })
        );
    }
    let err = parse(
        Provider::Github,
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing X-GitHub-Event header (is this request really from github?)"
    );
    assert_eq!(err.status(), 400);
}

#[test]
fn gitlab_system_hook_pushes() {
    let body = fixtures::gitlab_push("refs/heads/main", SHA, MESSAGE);
    let headers = [("X-Gitlab-Event", "System Hook")];
    assert_eq!(
        push_of(parse(Provider::Gitlab, &headers, &body))
            .commit
            .as_deref(),
        Some(SHA)
    );
    assert_eq!(
        parse(
            Provider::Gitlab,
            &headers,
            br#"{"object_kind": "user_create"}"#
        ),
        Ok(Event::Other {
            event: "system".into()
        })
    );
}

#[test]
fn delivery_ids() {
    let body = b"{\"ref\": \"refs/heads/main\"}";
    let fallback = delivery_id(Provider::Github, &[("X-Other", "1")], body);
    expect!["sha256:de8f76d95575c8847b54bf5cf76580e7fe80c3f61f3a0b4cbd7bef955917193e"]
        .assert_eq(&fallback);
    assert_eq!(
        delivery_id(Provider::Github, &[("X-Other", "1")], body),
        fallback
    );
    let bad = [
        ("X-GitHub-Delivery", "  "),
        ("X-GitHub-Delivery", "tab\there"),
        ("X-GitHub-Delivery", "ünïcode"),
    ];
    for header in bad {
        assert_eq!(
            delivery_id(Provider::Github, &[header], body),
            fallback,
            "{header:?}"
        );
    }
    let long = "x".repeat(201);
    assert_eq!(
        delivery_id(
            Provider::Github,
            &[("X-GitHub-Delivery", long.as_str())],
            body
        ),
        fallback
    );
    let cases = [
        (
            Provider::Github,
            vec![("x-github-delivery", " 72d3162e-cc78 ")],
            "72d3162e-cc78",
        ),
        (Provider::Gitea, vec![("X-Gitea-Delivery", "g-1")], "g-1"),
        (Provider::Gitea, vec![("X-Forgejo-Delivery", "f-1")], "f-1"),
        (Provider::Gitlab, vec![("Idempotency-Key", "i-1")], "i-1"),
        (
            Provider::Gitlab,
            vec![("X-Gitlab-Event-UUID", "\u{7}"), ("Idempotency-Key", "i-2")],
            "i-2",
        ),
        (
            Provider::Generic,
            vec![("X-Berth-Delivery", "ci-42")],
            "ci-42",
        ),
        (Provider::Generic, vec![("Idempotency-Key", "k")], "k"),
    ];
    for (provider, headers, expected) in cases {
        assert_eq!(delivery_id(provider, &headers, body), expected);
    }
}

#[test]
fn messages_are_first_lines_cut_and_cleaned() {
    let long = format!("{}\nsecond line", "ä".repeat(500));
    let body = fixtures::github_push("refs/heads/main", SHA, &long);
    let headers = fixtures::headers(Provider::Github, "push", "d", SECRET, &body);
    let message = push_of(parse(Provider::Github, &headers, &body))
        .message
        .unwrap();
    assert_eq!(message.chars().count(), 200);
    assert!(message.ends_with("ä…"));

    let body = fixtures::gitea_push("refs/heads/main", SHA, "\u{1b}[2J\tclear\r\nscreen");
    let headers = fixtures::headers(Provider::Gitea, "push", "d", SECRET, &body);
    let message = push_of(parse(Provider::Gitea, &headers, &body)).message;
    assert_eq!(message.as_deref(), Some("[2J clear"));
}

#[test]
fn hostile_inputs_never_panic() {
    let deep_array = "[".repeat(100_000);
    let deep_object = r#"{"ref":"#.repeat(50_000);
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff, 0xfe, 0x00, 0x80],
        b"{\"ref\": \"refs/heads/m\xffain\", \"after\": null}".to_vec(),
        deep_array.into_bytes(),
        deep_object.into_bytes(),
        b"{\"ref\": 1}".to_vec(),
        b"{\"ref\": \"refs/heads/main\", \"after\": \"\\u0000\"}".to_vec(),
        b"{\"ref\": \"refs/heads/main\", \"commits\": [{\"id\": 7}]}".to_vec(),
        b"{\"ref\": \"\", \"after\": \"\"}".to_vec(),
        b"payload=%".to_vec(),
        b"payload=%7B%22ref%22%3A%22%E2%82%AC%22%7D".to_vec(),
        "{\"ref\": \"refs/heads/main\", \"after\": \"ééééééééééééééééééééé\"}".into(),
    ];
    let header_sets: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![
            ("X-GitHub-Event", "push"),
            ("X-Gitea-Event", "push"),
            ("X-Gitlab-Event", "Push Hook"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Hub-Signature-256", "sha256=é"),
            ("X-Gitea-Signature", "ééééééééééééééééééééééééééééééééé"),
            ("Authorization", "Bearer"),
        ],
        vec![
            ("X-GitHub-Event", "ping"),
            ("X-Gitlab-Event", "System Hook"),
            ("Content-Type", ";;;"),
        ],
    ];
    let filter = main_only();
    for provider in Provider::ALL {
        for headers in &header_sets {
            for body in &bodies {
                let _ = verify(provider, SECRET, headers, body);
                if let Ok(Event::Push(push)) = parse(provider, headers, body) {
                    let _ = decide(&push, &filter);
                } else if let Err(err) = parse(provider, headers, body) {
                    assert!(err.to_string().len() < 300, "{err}");
                }
                let id = delivery_id(provider, headers, body);
                assert!(id.len() <= 200 && id.is_ascii());
                let event = event_name(provider, headers);
                assert!(event.len() <= 64 && event.is_ascii());
            }
        }
    }
}

mod images {
    use super::*;

    const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn parsed(provider: Provider, event: &str, body: &[u8]) -> Event {
        let headers = fixtures::headers(provider, event, "d-1", SECRET, body);
        verify(provider, SECRET, &headers, body).expect("verified");
        parse(provider, &headers, body).expect("parsed")
    }

    fn image(repository: &str, tag: &str, digest: Option<&str>, pusher: &str) -> Event {
        Event::Image(ImagePush {
            repository: repository.into(),
            tag: tag.into(),
            digest: digest.map(str::to_owned),
            pusher: Some(pusher.into()),
        })
    }

    #[test]
    fn every_sender_of_image_pushes_is_read() {
        let body = fixtures::registry_push("127.0.0.1:5000", "acme/web", "dev-4f2a", DIGEST);
        assert_eq!(
            parsed(Provider::Generic, "push", &body),
            image("127.0.0.1:5000/acme/web", "dev-4f2a", Some(DIGEST), "ci")
        );
        let body = fixtures::github_package("Acme", "web", "1.4.1", DIGEST);
        assert_eq!(
            parsed(Provider::Github, "package", &body),
            image("ghcr.io/acme/web", "1.4.1", Some(DIGEST), "octocat")
        );
        let body = fixtures::gitea_package("git.example.com", "acme", "web", "1.4.1");
        assert_eq!(
            parsed(Provider::Gitea, "package", &body),
            image("git.example.com/acme/web", "1.4.1", None, "acme")
        );
        let body = fixtures::generic_image("registry.example.com/acme/web:2.0");
        let Event::Image(push) = parsed(Provider::Generic, "push", &body) else {
            panic!("not an image push");
        };
        assert_eq!(push.reference(), "registry.example.com/acme/web:2.0");
    }

    #[test]
    fn image_events_that_are_not_tag_pushes_deploy_nothing() {
        // Gitea records a digest-named version per manifest; only tags deploy.
        let body = fixtures::gitea_package("git.example.com", "acme", "web", DIGEST);
        assert!(matches!(
            parsed(Provider::Gitea, "package", &body),
            Event::Other { .. }
        ));
        let body =
            br#"{"events":[{"action":"pull","target":{"repository":"acme/web","tag":"1"}}]}"#;
        assert!(matches!(
            parsed(Provider::Generic, "push", body),
            Event::Other { .. }
        ));
        let bad = fixtures::generic_image("Not An Image");
        let headers = fixtures::headers(Provider::Generic, "push", "d", SECRET, &bad);
        let err = parse(Provider::Generic, &headers, &bad).unwrap_err();
        assert!(err.to_string().contains("image reference"), "{err}");
        // A git push through the generic provider is still one.
        let git = fixtures::generic_push("refs/heads/main", SHA);
        assert!(matches!(
            parsed(Provider::Generic, "push", &git),
            Event::Push(_)
        ));
    }

    #[test]
    fn image_pushes_deploy_the_apps_repository_and_stage_tags() {
        let filter = WebhookFilter {
            branch: "127.0.0.1:5000/acme/web".into(),
            tags: Some("dev-*, v*".into()),
        };
        let push = |repository: &str, tag: &str| ImagePush {
            repository: repository.into(),
            tag: tag.into(),
            digest: None,
            pusher: None,
        };
        assert!(decide_image(&push("registry.local:5000/acme/web", "dev-1"), &filter).is_ok());
        assert!(decide_image(&push("127.0.0.1:5000/acme/web", "v1.2"), &filter).is_ok());
        let err = decide_image(&push("127.0.0.1:5000/acme/web", "latest"), &filter).unwrap_err();
        assert!(err.contains("matches none"), "{err}");
        let err = decide_image(&push("127.0.0.1:5000/acme/api", "dev-1"), &filter).unwrap_err();
        assert!(err.contains("not this app's"), "{err}");
    }
}
