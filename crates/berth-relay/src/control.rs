//! The control API, on a unix socket that Berth reaches only through its SSH session: hooks
//! in, deliveries and metrics out, and the claim/heartbeat/result cycle of attended deploys.
//!
//! ```text
//! GET    /v1/info                     RelayInfo
//! GET    /v1/hooks                    [HookSummary]
//! PUT    /v1/hooks/<uuid>             HookSpec → HookSummary
//! DELETE /v1/hooks/<uuid>
//! GET    /v1/deliveries?app=&before=&limit=   [Delivery], newest first
//! GET    /v1/deliveries/<id>          Delivery
//! GET    /v1/wait?after=N&timeout_ms=T         Changes, once a delivery newer than N exists
//! POST   /v1/claim                    ClaimRequest → [Claim]
//! POST   /v1/deliveries/<id>/heartbeat ClaimRequest
//! POST   /v1/deliveries/<id>/result   DeployReport → Delivery
//! POST   /v1/locks/<app>              LockRequest → {}, or 409 `locked` naming the holder
//! DELETE /v1/locks/<app>              LockRequest (its holder) → {"released": bool}
//! POST   /v1/locks/<app>/cancel       CancelAnswer (the relay's own work on the app stops)
//! PUT    /v1/monitor                  MonitorConfig (apps to watch, notifiers)
//! POST   /v1/deploys                  DeployRecord (a deploy Berth ran, for /metrics)
//! GET    /v1/stats?app=&since_ms=     AppStats
//! GET    /v1/host-stats?since_ms=&docker=   ServerStats
//! GET    /v1/alerts?after=            [Alert], oldest first
//! GET    /metrics                     Prometheus text
//! ```

use std::sync::Arc;
use std::time::Duration;

use berth_model::{DeliveryStatus, WebhookMode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::Relay;
use crate::db::{self, Refusal};
use crate::proto::{
    Changes, ClaimRequest, ControlError, DeployReport, HookSpec, HookSummary, LockRequest,
    MetricsToken, RelayInfo,
};
use crate::public::json;

/// Largest control request body.
const CONTROL_BODY_LIMIT: usize = 256 * 1024;
/// Longest wait a client may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Longest lease on an app's deploy lock (a holder renews it while it deploys).
const MAX_LEASE: Duration = Duration::from_secs(10 * 60);

type Answer = Result<Response<Full<Bytes>>, (StatusCode, String, String)>;

fn fail(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> (StatusCode, String, String) {
    (status, code.to_owned(), message.into())
}

/// The Prometheus text, on the control socket and (behind its token) the public side.
pub(crate) async fn metrics(relay: &Arc<Relay>) -> Answer {
    let pending = pending(relay).await?;
    let mut body = relay.metrics.render(pending, relay.registry.count());
    crate::metrics::render_apps(&mut body, &relay.gauges());
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(r)
}

fn internal(e: impl std::fmt::Display) -> (StatusCode, String, String) {
    fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "relay-internal",
        e.to_string(),
    )
}

fn refused(e: Refusal) -> (StatusCode, String, String) {
    match e {
        Refusal::NoDelivery(_) => fail(StatusCode::NOT_FOUND, "no-delivery", e.to_string()),
        Refusal::NotRunning { .. } | Refusal::NotYours { .. } => {
            fail(StatusCode::CONFLICT, "not-claimed", e.to_string())
        }
        Refusal::Db(e) => internal(e),
    }
}

pub async fn handle(
    relay: Arc<Relay>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    let result = route(&relay, req, &method, &path, &query).await;
    Ok(match result {
        Ok(r) => r,
        Err((status, code, message)) => {
            if status.is_server_error() {
                tracing::error!(%method, %path, %message, "control request failed");
            }
            json(status, &ControlError { code, message })
        }
    })
}

async fn route(
    relay: &Arc<Relay>,
    req: Request<Incoming>,
    method: &Method,
    path: &str,
    query: &str,
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) => metrics(relay).await,
        (&Method::PUT, ["v1", "metrics-token"]) => {
            let req: MetricsToken = body(req).await?;
            let hash =
                (!req.token.is_empty()).then(|| berth_hooks::body_digest(req.token.as_bytes()));
            let stored = hash.clone();
            relay
                .db
                .run(move |c| db::set_setting(c, crate::METRICS_TOKEN, stored.as_deref()))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            *relay
                .metrics_token
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = hash;
            Ok(json(StatusCode::OK, &serde_json::json!({})))
        }
        (&Method::PUT, ["v1", "monitor"]) => {
            let config: crate::proto::MonitorConfig = body(req).await?;
            crate::watch::save_config(&relay.settings.data, &config).map_err(internal)?;
            tracing::info!(apps = config.apps.len(), "monitor config updated");
            relay.set_monitor_config(config);
            Ok(json(StatusCode::OK, &serde_json::json!({})))
        }
        (&Method::POST, ["v1", "deploys"]) => {
            let r: crate::proto::DeployRecord = body(req).await?;
            if berth_model::validate_app_name(&r.app).is_err()
                || !matches!(r.status.as_str(), "deployed" | "failed")
                || r.trigger.is_empty()
                || r.trigger.len() > 32
            {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "bad-deploy",
                    format!("not a deploy Berth ran: {r:?}"),
                ));
            }
            relay
                .metrics
                .deploy(&r.app, &r.status, &r.trigger, r.duration_ms);
            Ok(json(StatusCode::OK, &serde_json::json!({})))
        }
        (&Method::GET, ["v1", "stats"]) => {
            let app = param(query, "app")
                .filter(|a| berth_model::validate_app_name(a).is_ok())
                .ok_or_else(|| fail(StatusCode::BAD_REQUEST, "bad-request", "give ?app=NAME"))?
                .to_owned();
            let since = since(query);
            let (server, sample_ms) = (relay.monitor_config().server.clone(), sample_ms(relay));
            let now = crate::now_ms();
            let stats = relay
                .stats
                .with(move |c| {
                    let (step, samples) =
                        crate::stats::app_samples(c, &app, since, sample_ms, now)?;
                    let alerts = crate::stats::alerts_since(c, &server, Some(&app), now - since)?;
                    Ok(berth_model::AppStats {
                        app,
                        server,
                        step_secs: u32::try_from(step / 1000).unwrap_or(u32::MAX),
                        source: "relay".to_owned(),
                        samples,
                        alerts,
                    })
                })
                .await
                .map_err(internal)?;
            Ok(json(StatusCode::OK, &stats))
        }
        (&Method::GET, ["v1", "host-stats"]) => {
            let since = since(query);
            let (server, sample_ms) = (relay.monitor_config().server.clone(), sample_ms(relay));
            let now = crate::now_ms();
            let want_docker = param(query, "docker") == Some("true");
            let (step, samples) = relay
                .stats
                .with(move |c| crate::stats::host_samples(c, since, sample_ms, now))
                .await
                .map_err(internal)?;
            let docker = if want_docker {
                docker_disk(relay).await
            } else {
                None
            };
            Ok(json(
                StatusCode::OK,
                &berth_model::ServerStats {
                    server,
                    step_secs: u32::try_from(step / 1000).unwrap_or(u32::MAX),
                    source: "relay".to_owned(),
                    samples,
                    docker,
                },
            ))
        }
        (&Method::GET, ["v1", "alerts"]) => {
            let after: i64 = param(query, "after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let server = relay.monitor_config().server.clone();
            let list = relay
                .stats
                .with(move |c| {
                    crate::stats::alerts_after(c, &server, after, crate::proto::MAX_ALERTS)
                })
                .await
                .map_err(internal)?;
            Ok(json(StatusCode::OK, &list))
        }
        (&Method::GET, ["v1", "info"]) => {
            let info = RelayInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                started_at: relay.started_at,
                hooks: relay.registry.count(),
                unattended: relay.registry.unattended().len(),
                docker: relay.settings.docker.exists(),
                pending: pending(relay).await?,
                last_delivery: *relay.db.last_delivery().borrow(),
                body_limit: relay.settings.body_limit,
                rate_per_minute: relay.limit.per_minute(),
            };
            Ok(json(StatusCode::OK, &info))
        }
        (&Method::POST, ["v1", "locks", app]) => {
            let req: LockRequest = body(req).await?;
            let lease = Duration::from_millis(req.lease_ms).min(MAX_LEASE);
            match relay.locks.take(app, &req.owner, &req.holder, lease) {
                Ok(()) => Ok(json(StatusCode::OK, &serde_json::json!({}))),
                Err(holder) => Err(fail(StatusCode::CONFLICT, crate::proto::LOCKED, holder)),
            }
        }
        (&Method::POST, ["v1", "locks", app, "cancel"]) => {
            let found = relay.locks.cancel(app);
            let own = found
                .as_ref()
                .is_some_and(|(owner, _)| crate::RELAY_OWNERS.contains(&owner.as_str()));
            if own {
                tracing::info!(app, "cancel requested");
            }
            Ok(json(
                StatusCode::OK,
                &crate::proto::CancelAnswer {
                    cancelled: own,
                    holder: found.map(|(_, holder)| holder),
                },
            ))
        }
        (&Method::DELETE, ["v1", "locks", app]) => {
            let req: LockRequest = body(req).await?;
            let released = relay.locks.release(app, &req.owner);
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "released": released }),
            ))
        }
        (&Method::GET, ["v1", "hooks"]) => {
            let hooks = relay
                .db
                .run(|c| db::hooks(c))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            Ok(json(StatusCode::OK, &hooks))
        }
        (&Method::PUT, ["v1", "hooks", uuid]) => {
            let spec: HookSpec = body(req).await?;
            if spec.uuid != *uuid {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "the hook's uuid differs from the path",
                ));
            }
            put_hook(relay, spec).await
        }
        (&Method::DELETE, ["v1", "hooks", uuid]) => {
            let uuid = (*uuid).to_owned();
            let removed = relay.registry.remove(&uuid).map_err(internal)?;
            relay
                .db
                .run(move |c| db::delete_hook(c, &uuid))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "removed": removed }),
            ))
        }
        (&Method::GET, ["v1", "deliveries"]) => {
            let app = param(query, "app").map(str::to_owned);
            let before = param(query, "before").and_then(|v| v.parse().ok());
            let limit = param(query, "limit")
                .and_then(|v| v.parse().ok())
                .unwrap_or(50);
            let list = relay
                .db
                .run(move |c| db::deliveries(c, app.as_deref(), before, limit))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            Ok(json(StatusCode::OK, &list))
        }
        (&Method::GET, ["v1", "deliveries", id]) => {
            let id = delivery_id(id)?;
            let d = relay
                .db
                .run(move |c| db::get(c, id))
                .await
                .map_err(internal)?
                .map_err(internal)?
                .ok_or_else(|| refused(Refusal::NoDelivery(id)))?;
            Ok(json(StatusCode::OK, &d))
        }
        (&Method::GET, ["v1", "deployments"]) => {
            let after: i64 = param(query, "after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let list = relay
                .db
                .run(move |c| db::deployments_after(c, after, 200))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            Ok(json(StatusCode::OK, &list))
        }
        (&Method::GET, ["v1", "wait"]) => {
            let after: i64 = param(query, "after")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let timeout = param(query, "timeout_ms")
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis)
                .unwrap_or(Duration::from_secs(25))
                .min(MAX_WAIT);
            let mut last = relay.db.last_delivery();
            let _ = tokio::time::timeout(timeout, last.wait_for(|n| *n > after)).await;
            let last_delivery = *last.borrow();
            Ok(json(StatusCode::OK, &Changes { last_delivery }))
        }
        (&Method::POST, ["v1", "claim"]) => {
            let c: ClaimRequest = body(req).await?;
            let now = crate::now_ms();
            let claims = relay
                .db
                .run(move |conn| db::claim(conn, &c.client, c.lease_ms, now, WebhookMode::Attended))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            for claim in &claims {
                tracing::info!(
                    id = claim.delivery.id,
                    app = claim.delivery.app.as_deref().unwrap_or(""),
                    by = claim.delivery.handled_by.as_deref().unwrap_or(""),
                    superseded = claim.superseded.len(),
                    "delivery claimed"
                );
            }
            Ok(json(StatusCode::OK, &claims))
        }
        (&Method::POST, ["v1", "deliveries", id, "heartbeat"]) => {
            let id = delivery_id(id)?;
            let c: ClaimRequest = body(req).await?;
            let now = crate::now_ms();
            relay
                .db
                .run(move |conn| db::heartbeat(conn, id, &c.client, c.lease_ms, now))
                .await
                .map_err(internal)?
                .map_err(refused)?;
            Ok(json(StatusCode::OK, &serde_json::json!({ "ok": true })))
        }
        (&Method::POST, ["v1", "deliveries", id, "result"]) => {
            let id = delivery_id(id)?;
            let report: DeployReport = body(req).await?;
            if !matches!(
                report.status,
                DeliveryStatus::Deployed | DeliveryStatus::Failed | DeliveryStatus::Done
            ) {
                return Err(fail(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "a result is `deployed`, `failed` or `done` (handled without a deploy)",
                ));
            }
            let now = crate::now_ms();
            let status = report.status;
            let duration = report.duration_ms;
            let d = relay
                .db
                .run(move |conn| db::report(conn, id, &report, now))
                .await
                .map_err(internal)?
                .map_err(refused)?;
            if status != DeliveryStatus::Done {
                relay.metrics.deploy(
                    d.app.as_deref().unwrap_or(""),
                    status.as_str(),
                    "webhook",
                    duration,
                );
            }
            tracing::info!(id, status = %status, "deploy result recorded");
            Ok(json(StatusCode::OK, &d))
        }
        _ => Err(fail(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("no control endpoint {method} {path}"),
        )),
    }
}

async fn put_hook(relay: &Arc<Relay>, spec: HookSpec) -> Answer {
    if spec.secret.len() < 16 {
        return Err(fail(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "a hook secret has at least 16 characters",
        ));
    }
    for pattern in std::iter::once(&spec.filter.branch).chain(spec.filter.tags.as_ref()) {
        berth_hooks::validate_pattern(pattern)
            .map_err(|e| fail(StatusCode::BAD_REQUEST, "bad-request", e))?;
    }
    let summary = crate::registry::summary(&spec);
    let replaced = relay.registry.put(&spec).map_err(internal)?;
    let saved = summary.clone();
    relay
        .db
        .run(move |c| {
            for uuid in &replaced {
                db::delete_hook(c, uuid)?;
            }
            db::put_hook(c, &saved)
        })
        .await
        .map_err(internal)?
        .map_err(internal)?;
    tracing::info!(app = %summary.app, provider = %summary.provider, mode = %summary.mode, "hook saved");
    Ok(json::<HookSummary>(StatusCode::OK, &summary))
}

async fn pending(relay: &Relay) -> Result<usize, (StatusCode, String, String)> {
    relay
        .db
        .run(|c| db::pending_count(c))
        .await
        .map_err(internal)?
        .map_err(internal)
}

fn delivery_id(s: &str) -> Result<i64, (StatusCode, String, String)> {
    s.parse().map_err(|_| {
        fail(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("`{s}` is not a delivery id"),
        )
    })
}

/// `since_ms=` of a stats request: 1 h by default, at most what is kept.
fn since(query: &str) -> i64 {
    param(query, "since_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_600_000)
        .clamp(60_000, crate::stats::COARSE_MS)
}

fn sample_ms(relay: &Relay) -> i64 {
    i64::try_from(relay.settings.sample_every.max(1))
        .unwrap_or(10)
        .saturating_mul(1000)
}

/// What Docker's data takes, when the relay can ask Docker.
async fn docker_disk(relay: &Relay) -> Option<berth_model::DockerDisk> {
    if !relay.settings.docker.exists() {
        return None;
    }
    let socket = relay.settings.docker.display().to_string();
    let host = match berth_engine::Host::open_local("this server", &socket).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("cannot reach Docker for its disk use: {e}");
            return None;
        }
    };
    let d = berth_engine::monitor::docker_disk(&host).await;
    host.close().await;
    match d {
        Ok(d) => Some(d),
        Err(e) => {
            tracing::warn!("cannot read Docker's disk use: {e}");
            None
        }
    }
}

fn param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

async fn body<T: DeserializeOwned>(
    req: Request<Incoming>,
) -> Result<T, (StatusCode, String, String)> {
    let bytes = Limited::new(req.into_body(), CONTROL_BODY_LIMIT)
        .collect()
        .await
        .map_err(|e| {
            fail(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("reading the body: {e}"),
            )
        })?
        .to_bytes();
    serde_json::from_slice(&bytes).map_err(|e| {
        fail(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("bad JSON: {e}"),
        )
    })
}
