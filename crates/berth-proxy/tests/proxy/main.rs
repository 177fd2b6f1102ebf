//! Integration tests of berth-proxy against a real Caddy (Debian's 2.6.2): routes through the
//! admin API over a unix socket and TCP, restarts, draining, initial configs and certificates.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_proxy::certs::{self, CertState};
use berth_proxy::{HttpServer, ProxyError, Route, SERVER, TlsMode, route_id};
use serde_json::json;
use support::{Admin, CaddyProcess, Upstream, eventually, http_get, https_get};

fn route(app: &str, host: &str, upstream: &Upstream) -> Route {
    Route::new(route_id(app), vec![host.to_owned()], upstream.dial.clone())
}

fn route_count(config: &serde_json::Value) -> usize {
    config
        .pointer("/apps/http/servers/berth/routes")
        .and_then(|r| r.as_array())
        .map_or(0, Vec::len)
}

#[tokio::test]
async fn routes_are_created_replaced_and_deleted_over_a_unix_socket() {
    let v1 = Upstream::start("v1", Duration::ZERO).await;
    let v2 = Upstream::start("v2", Duration::ZERO).await;
    let other = Upstream::start("other", Duration::ZERO).await;
    let caddy = CaddyProcess::start(Admin::Socket, TlsMode::Off, &[]).await;
    let port = caddy.settings.http_port;
    let client = caddy.client();
    let before = caddy.connects.load(Ordering::SeqCst);
    client.ping().await.expect("ping");

    let id = route_id("a");
    assert_eq!(client.route(&id).await.expect("route"), None);
    assert!(!client.delete_route(&id).await.expect("delete unknown"));

    // Created, and serving.
    client
        .put_route(SERVER, &route("a", "A.test.", &v1))
        .await
        .expect("create");
    let stored = client.route(&id).await.expect("route").expect("exists");
    assert_eq!(
        stored,
        Route::new(&id, vec!["a.test".into()], v1.dial.clone())
    );
    assert_eq!(http_get(port, "a.test").await.2, "v1");

    // Replaced in place: still one route, now serving v2.
    client
        .put_route(SERVER, &route("a", "a.test", &v2))
        .await
        .expect("replace");
    let config = client.config().await.expect("config");
    assert_eq!(route_count(&config), 1, "{config:#}");
    let stored = client.route(&id).await.expect("route").expect("exists");
    assert_eq!(stored.upstream, v2.dial);
    assert_eq!(http_get(port, "a.test").await.2, "v2");

    // A new route goes first.
    client
        .put_route(SERVER, &route("b", "b.test", &other))
        .await
        .expect("create b");
    let config = client.config().await.expect("config");
    assert_eq!(
        config.pointer("/apps/http/servers/berth/routes/0/@id"),
        Some(&json!("berth-app-b"))
    );
    assert_eq!(route_count(&config), 2);
    assert_eq!(http_get(port, "b.test").await.2, "other");
    assert_eq!(http_get(port, "a.test").await.2, "v2");

    // Invalid input is refused before anything reaches Caddy.
    let bad = Route::new(&id, vec!["bad..host".into()], v1.dial.clone());
    let err = client.put_route(SERVER, &bad).await.expect_err("bad host");
    assert!(matches!(err, ProxyError::InvalidDomain(_)), "{err}");
    let bad = Route::new(&id, vec!["a.test".into()], "bad host:x:y");
    let err = client.put_route(SERVER, &bad).await.expect_err("bad dial");
    assert!(matches!(err, ProxyError::InvalidRoute(_)), "{err}");
    let err = client
        .put_route("nosuch", &route("c", "c.test", &v1))
        .await
        .expect_err("unknown server");
    assert!(matches!(err, ProxyError::UnknownServer { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "caddy has no http server named `nosuch`; load Berth's config first or adopt one of the existing servers"
    );

    // A change Caddy refuses leaves what it served before.
    let mut broken = client.config().await.expect("config");
    broken["apps"]["http"]["servers"]["berth"]["routes"][1]["handle"][0]["handler"] =
        json!("nosuch");
    let err = client.load(&broken).await.expect_err("refused");
    let ProxyError::Refused { status, message } = &err else {
        panic!("not refused: {err}");
    };
    assert!(*status >= 400, "{status}");
    assert!(
        message.contains("unknown module: http.handlers.nosuch"),
        "{message}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "caddy refused the change ({status}): loading config"
        )),
        "{err}"
    );
    assert_eq!(http_get(port, "a.test").await.2, "v2");
    assert_eq!(
        client
            .route(&id)
            .await
            .expect("route")
            .expect("kept")
            .upstream,
        v2.dial
    );

    // Caddy's view of servers and upstreams.
    assert_eq!(
        client.servers().await.expect("servers"),
        [HttpServer {
            name: "berth".into(),
            listen: vec![format!(":{port}")],
        }]
    );
    let upstreams = client.upstreams().await.expect("upstreams");
    assert!(
        upstreams
            .iter()
            .any(|u| u.address == v2.dial && u.num_requests == 0)
    );
    // v1 is held (idle) in the route until drained.
    assert!(
        upstreams.iter().any(|u| u.address == v1.dial),
        "{upstreams:?}"
    );
    let left = client
        .drain(&v1.dial, Duration::from_secs(5), Duration::from_millis(20))
        .await
        .expect("drain");
    assert_eq!(left, 0);
    let upstreams = client.upstreams().await.expect("upstreams");
    assert!(
        !upstreams.iter().any(|u| u.address == v1.dial),
        "{upstreams:?}"
    );

    // Deleted.
    assert!(client.delete_route(&id).await.expect("delete"));
    assert_eq!(client.route(&id).await.expect("route"), None);
    assert!(!client.delete_route(&id).await.expect("delete again"));
    assert_ne!(http_get(port, "a.test").await.2, "v2");
    assert_eq!(http_get(port, "b.test").await.2, "other");

    // Every copy of a duplicated id goes (Caddy 2.6 accepts duplicate ids).
    let mut config = client.config().await.expect("config");
    let dup = route("d", "d.test", &v1).to_json();
    let routes = config["apps"]["http"]["servers"]["berth"]["routes"]
        .as_array_mut()
        .expect("routes");
    routes.push(dup.clone());
    routes.push(dup);
    client.load(&config).await.expect("load duplicates");
    assert!(client.delete_route(&route_id("d")).await.expect("delete"));
    let config = client.config().await.expect("config");
    assert_eq!(route_count(&config), 1, "{config:#}");

    // Keep-alive: a whole session of calls used a handful of connections (Caddy closes one
    // after each config change).
    let connects = caddy.connects.load(Ordering::SeqCst) - before;
    assert!(connects <= 16, "{connects} connections");
}

#[tokio::test]
async fn the_admin_api_over_loopback_tcp() {
    let v1 = Upstream::start("v1", Duration::ZERO).await;
    let caddy = CaddyProcess::start(Admin::Tcp, TlsMode::Off, &[]).await;
    let client = caddy.client();
    let before = caddy.connects.load(Ordering::SeqCst);
    for _ in 0..5 {
        client.ping().await.expect("ping");
    }
    assert_eq!(
        caddy.connects.load(Ordering::SeqCst) - before,
        1,
        "one pooled connection"
    );
    client
        .put_route(SERVER, &route("a", "a.test", &v1))
        .await
        .expect("create");
    assert_eq!(
        client
            .route(&route_id("a"))
            .await
            .expect("route")
            .expect("exists")
            .upstream,
        v1.dial
    );
    // Right after a config change a request can still meet the listener of the config
    // before (Caddy swaps its servers gracefully), more so on a loaded machine.
    let port = caddy.settings.http_port;
    let body = eventually(Duration::from_secs(5), || async move {
        Some(http_get(port, "a.test").await.2).filter(|b| b == "v1")
    })
    .await;
    assert_eq!(body.as_deref(), Some("v1"));
    assert!(client.delete_route(&route_id("a")).await.expect("delete"));
}

#[tokio::test]
async fn an_unreachable_admin_endpoint_says_where() {
    let dir = tempfile::tempdir().expect("temp dir");
    let address =
        berth_proxy::AdminAddress::Unix(dir.path().join("none.sock").display().to_string());
    let client = berth_proxy::Caddy::new(
        std::sync::Arc::new(berth_proxy::LocalConnect::new(address.clone())),
        &address,
    );
    let err = client.ping().await.expect_err("nothing listens");
    assert!(matches!(err, ProxyError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot reach the Caddy admin socket {}",
            dir.path().join("none.sock").display()
        )),
        "{text}"
    );
    assert!(text.contains("No such file or directory"), "{text}");
}

#[tokio::test]
async fn routes_survive_a_restart() {
    let v1 = Upstream::start("v1", Duration::ZERO).await;
    let mut caddy = CaddyProcess::start(Admin::Socket, TlsMode::Off, &[]).await;
    caddy
        .client()
        .put_route(SERVER, &route("a", "a.test", &v1))
        .await
        .expect("create");
    caddy.restart().await;
    let client = caddy.client();
    let stored = client
        .route(&route_id("a"))
        .await
        .expect("route")
        .expect("restored");
    assert_eq!(stored.upstream, v1.dial);
    // Right after a config change a request can still meet the listener of the config
    // before (Caddy swaps its servers gracefully), more so on a loaded machine.
    let port = caddy.settings.http_port;
    let body = eventually(Duration::from_secs(5), || async move {
        Some(http_get(port, "a.test").await.2).filter(|b| b == "v1")
    })
    .await;
    assert_eq!(body.as_deref(), Some("v1"));
}

fn dials(config: &serde_json::Value) -> Vec<&str> {
    config
        .pointer("/apps/http/servers/berth/routes/0/handle/0/upstreams")
        .and_then(|u| u.as_array())
        .into_iter()
        .flatten()
        .filter_map(|u| u["dial"].as_str())
        .collect()
}

/// Waits until Caddy counts one request in flight to `dial`.
async fn one_in_flight(client: &berth_proxy::Caddy, dial: &str) {
    eventually(Duration::from_secs(5), || async {
        let ups = client.upstreams().await.expect("upstreams");
        ups.iter()
            .any(|u| u.address == dial && u.num_requests == 1)
            .then_some(())
    })
    .await
    .expect("the slow request reached caddy");
}

#[tokio::test]
async fn drain_waits_for_requests_in_flight_to_the_old_upstream() {
    let slow = Upstream::start("old", Duration::from_secs(1)).await;
    let fast = Upstream::start("new", Duration::ZERO).await;
    let caddy =
        CaddyProcess::start(Admin::Socket, TlsMode::Off, &[route("a", "a.test", &slow)]).await;
    let port = caddy.settings.http_port;
    let client = caddy.client();
    let poll = Duration::from_millis(20);

    for (timeout, expected) in [
        (Duration::from_secs(10), 0),
        (Duration::from_millis(150), 1),
    ] {
        client
            .put_route(SERVER, &route("a", "a.test", &slow))
            .await
            .expect("serve the slow one");
        let in_flight = tokio::spawn(async move { http_get(port, "a.test").await.2 });
        one_in_flight(&client, &slow.dial).await;

        // The switch keeps the old upstream in the route, after the new one, while it drains.
        client
            .put_route(SERVER, &route("a", "a.test", &fast))
            .await
            .expect("switch");
        let config = client.config().await.expect("config");
        assert_eq!(dials(&config), [fast.dial.as_str(), slow.dial.as_str()]);
        assert_eq!(
            client
                .route(&route_id("a"))
                .await
                .expect("route")
                .expect("exists"),
            route("a", "a.test", &fast)
        );
        assert_eq!(
            http_get(port, "a.test").await.2,
            "new",
            "new requests go to the new upstream"
        );
        // Writing the same route again keeps the drain going.
        client
            .put_route(SERVER, &route("a", "a.test", &fast))
            .await
            .expect("again");
        let config = client.config().await.expect("config");
        assert_eq!(dials(&config), [fast.dial.as_str(), slow.dial.as_str()]);

        let started = std::time::Instant::now();
        let left = client
            .drain(&slow.dial, timeout, poll)
            .await
            .expect("drain");
        assert_eq!(left, expected, "timeout {timeout:?}");
        if expected == 0 {
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "drain waited for the slow request"
            );
        } else {
            assert!(started.elapsed() >= timeout);
        }
        assert_eq!(
            in_flight.await.expect("request"),
            "old",
            "the slow request got its answer"
        );

        // Drained (or given up on): the route no longer holds the old upstream.
        let config = client.config().await.expect("config");
        assert_eq!(dials(&config), [fast.dial.as_str()], "{config:#}");
        assert!(
            config
                .pointer("/apps/http/servers/berth/routes/0/handle/0/load_balancing")
                .is_none()
        );
        let ups = client.upstreams().await.expect("upstreams");
        assert!(!ups.iter().any(|u| u.address == slow.dial), "{ups:?}");
        assert_eq!(http_get(port, "a.test").await.2, "new");
    }
}

/// Why a switched route keeps the old upstream while it drains: Caddy drops an upstream's
/// counter as soon as no route mentions it, even with a request still in flight.
#[tokio::test]
async fn caddy_forgets_the_counter_of_an_upstream_no_route_mentions() {
    let slow = Upstream::start("old", Duration::from_secs(1)).await;
    let fast = Upstream::start("new", Duration::ZERO).await;
    let caddy =
        CaddyProcess::start(Admin::Socket, TlsMode::Off, &[route("a", "a.test", &slow)]).await;
    let port = caddy.settings.http_port;
    let client = caddy.client();
    let in_flight = tokio::spawn(async move { http_get(port, "a.test").await.2 });
    one_in_flight(&client, &slow.dial).await;
    // Switch behind put_route's back.
    let mut config = client.config().await.expect("config");
    config["apps"]["http"]["servers"]["berth"]["routes"][0] = route("a", "a.test", &fast).to_json();
    client.load(&config).await.expect("load");
    let ups = client.upstreams().await.expect("upstreams");
    assert!(!ups.iter().any(|u| u.address == slow.dial), "{ups:?}");
    assert!(!in_flight.is_finished());
    assert_eq!(in_flight.await.expect("request"), "old");
}

#[tokio::test]
async fn the_off_config_serves_plain_http() {
    let v1 = Upstream::start("v1", Duration::ZERO).await;
    let caddy =
        CaddyProcess::start(Admin::Socket, TlsMode::Off, &[route("a", "a.test", &v1)]).await;
    let (status, _, body) = http_get(caddy.settings.http_port, "a.test").await;
    assert_eq!((status, body.as_str()), (200, "v1"));
    let ups = caddy.client().upstreams().await.expect("upstreams");
    assert_eq!(ups.len(), 1);
    assert_eq!(ups[0].address, v1.dial);
}

#[tokio::test]
async fn the_internal_config_serves_https_and_the_probe_reads_its_certificate() {
    let v1 = Upstream::start("v1", Duration::ZERO).await;
    let caddy = CaddyProcess::start(
        Admin::Socket,
        TlsMode::Internal,
        &[route("a", "a.test", &v1)],
    )
    .await;
    let https = caddy.settings.https_port;
    let probe = |domain: &'static str| async move {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", https))
            .await
            .expect("connect");
        certs::probe(Box::new(stream), domain).await
    };

    // Caddy obtains the certificate in the background right after loading.
    let issued = eventually(Duration::from_secs(15), || async {
        match probe("a.test").await {
            state @ CertState::Issued { .. } => Some(state),
            _ => None,
        }
    })
    .await
    .unwrap_or_else(|| panic!("no certificate; caddy's log:\n{}", caddy.log()));
    let CertState::Issued {
        issuer,
        subject,
        not_after,
        internal,
    } = &issued
    else {
        unreachable!()
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(*internal, "{issued:?}");
    assert!(issuer.starts_with("Caddy Local Authority"), "{issuer}");
    assert_eq!(subject, "a.test");
    assert!(*not_after > now, "{issued:?}");
    assert!(
        issued
            .to_string()
            .starts_with("issued by Caddy Local Authority - ECC Intermediate, valid until 20"),
        "{issued}"
    );

    // It serves the app over HTTPS, and redirects plain HTTP there.
    let (status, _, body) = https_get(https, "a.test").await;
    assert_eq!((status, body.as_str()), (200, "v1"));
    let (status, head, _) = http_get(caddy.settings.http_port, "a.test").await;
    assert_eq!(status, 308, "{head}");
    assert!(head.contains("Location: https://a.test/"), "{head}");

    // A name Caddy has no certificate for.
    let pending = probe("nope.test").await;
    assert_eq!(
        pending,
        CertState::Pending {
            reason: "the server has no certificate for `nope.test` (it ended the handshake with alert internal_error)".into()
        }
    );
    // The plain HTTP port does not speak TLS.
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", caddy.settings.http_port))
        .await
        .expect("connect");
    let state = certs::probe(Box::new(stream), "a.test").await;
    assert!(matches!(state, CertState::Error { .. }), "{state}");
}
