//! The token flow against a fake registry served in-process (a real `docker-registry` with
//! Basic auth is the e2e test's; the bearer flow of ghcr.io and Docker Hub is not runnable
//! offline, so its HTTP exchange is pinned down here).

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::*;

const TOKEN: &str = "tok-123";

struct Fake {
    connections: AtomicUsize,
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Full::new(Bytes::from(body.to_owned())))
        .expect("response")
}

fn route(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    if let Some(query) = path.strip_prefix("/token?") {
        // me:secret
        if auth != "Basic bWU6c2VjcmV0" {
            return reply(401, &[], "{}");
        }
        assert!(query.contains("service=fake"), "{query}");
        return reply(200, &[], &format!("{{\"access_token\":\"{TOKEN}\"}}"));
    }
    if auth != format!("Bearer {TOKEN}") {
        let challenge = "Bearer realm=\"http://127.0.0.1:5000/token\",service=\"fake\"";
        return reply(401, &[("www-authenticate", challenge)], "{}");
    }
    let config = |created: &str| {
        format!("{{\"created\":\"{created}\",\"os\":\"linux\",\"architecture\":\"amd64\"}}")
    };
    match path {
        "/v2/" => reply(200, &[], "{}"),
        "/v2/acme/web/tags/list?n=1000" => reply(
            200,
            &[(
                "link",
                "</v2/acme/web/tags/list?last=1.0&n=1000>; rel=\"next\"",
            )],
            r#"{"name":"acme/web","tags":["1.0"]}"#,
        ),
        "/v2/acme/web/tags/list?last=1.0&n=1000" => {
            reply(200, &[], r#"{"name":"acme/web","tags":["2.0","old"]}"#)
        }
        "/v2/acme/web/manifests/1.0" | "/v2/acme/web/manifests/sha256:amd" => reply(
            200,
            &[("docker-content-digest", "sha256:one")],
            r#"{"config":{"digest":"sha256:c1"}}"#,
        ),
        "/v2/acme/web/manifests/2.0" => reply(
            200,
            &[("docker-content-digest", "sha256:two")],
            r#"{"manifests":[{"digest":"sha256:att","platform":{"os":"unknown","architecture":"unknown"}},{"digest":"sha256:amd","platform":{"os":"linux","architecture":"amd64"}},{"digest":"sha256:arm","platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#,
        ),
        "/v2/acme/web/manifests/old" => reply(
            200,
            &[("docker-content-digest", "sha256:old")],
            r#"{"config":{"digest":"sha256:c0"}}"#,
        ),
        "/v2/acme/web/blobs/sha256:c1" => reply(307, &[("location", "/storage/c1")], ""),
        "/v2/acme/web/blobs/sha256:c0" => reply(200, &[], &config("2026-01-01T00:00:00Z")),
        "/storage/c1" => reply(200, &[], &config("2026-12-06T13:00:00.5Z")),
        _ => reply(404, &[], r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
    }
}

impl Connect for Fake {
    fn connect<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>> {
        Box::pin(async move {
            assert_eq!((host, port), ("127.0.0.1", 5000));
            self.connections.fetch_add(1, Ordering::Relaxed);
            let (client, server) = tokio::io::duplex(64 << 10);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(route(&req))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(server), service)
                    .await;
            });
            Ok(Box::new(client) as BoxStream)
        })
    }

    fn describe(&self) -> String {
        "in the test".to_owned()
    }
}

fn client(login: Option<(&str, &str)>) -> Client {
    let fake = Arc::new(Fake {
        connections: AtomicUsize::new(0),
    });
    Client::new(
        fake,
        "127.0.0.1:5000",
        login.map(|(u, p)| Login {
            username: u.into(),
            password: p.into(),
        }),
    )
}

#[tokio::test]
async fn the_token_flow_lists_tags_newest_first_across_pages() {
    let c = client(Some(("me", "secret")));
    c.check().await.expect("check");
    let tags = c.tags_newest_first("acme/web").await.expect("tags");
    let summary: Vec<_> = tags
        .iter()
        .map(|t| {
            (
                t.tag.as_str(),
                t.digest.as_deref().unwrap_or(""),
                t.platforms.join(" "),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("2.0", "sha256:two", "linux/amd64 linux/arm64/v8".to_owned()),
            ("1.0", "sha256:one", "linux/amd64".to_owned()),
            ("old", "sha256:old", "linux/amd64".to_owned()),
        ],
        "2.0 and 1.0 share a build (the index's amd64 image is 1.0's): the higher name goes first"
    );
    assert_eq!(
        tags[0].created_ms,
        parse_rfc3339_ms("2026-12-06T13:00:00.500Z")
    );
}

#[tokio::test]
async fn logins_refused_or_missing_and_unknown_things_are_named() {
    let err = client(Some(("me", "wrong"))).check().await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::Unauthorized { username: Some(u), .. } if u == "me"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("refused the login of `me` (401 Unauthorized)"),
        "{err}"
    );
    let err = client(None).check().await.unwrap_err();
    assert!(err.to_string().contains("needs a login"), "{err}");
    let err = client(Some(("me", "secret")))
        .tag("acme/web", "9.9")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "tag 9.9 of acme/web not found on 127.0.0.1:5000"
    );
}
