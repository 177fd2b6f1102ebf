//! The public endpoint: `POST /hooks/<uuid>` and `GET /healthz`, behind Caddy on the hooks
//! domain and on the host's loopback. Every request to a hook is answered with JSON saying what
//! happened and why, and recorded (after the commit) before the answer goes out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_hooks::Event;
use berth_model::{Verdict, WebhookMode};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};

use crate::Relay;
use crate::db::NewDelivery;
use crate::proto::HookAnswer;

/// How many bytes past the limit an oversized body is read (and discarded) before answering
/// 413, so a proxy still sending it gets the answer instead of a reset.
const DRAIN_SLACK: u64 = 16 * 1024 * 1024;
/// How long a client may take to send its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn handle(
    relay: Arc<Relay>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req.uri().path().to_owned();
    let answer = match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/metrics") => public_metrics(&relay, &req).await,
        (&Method::GET, "/") => text(
            StatusCode::OK,
            "berth relay: POST /hooks/<id> with a signed webhook\n",
        ),
        (method, p) if p.starts_with("/hooks/") => {
            if method == Method::POST {
                hook(&relay, peer, req, &p["/hooks/".len()..]).await
            } else {
                let mut r = json(
                    StatusCode::METHOD_NOT_ALLOWED,
                    &answer(None, "rejected", "webhooks are delivered with POST"),
                );
                r.headers_mut().insert(
                    hyper::header::ALLOW,
                    hyper::header::HeaderValue::from_static("POST"),
                );
                r
            }
        }
        _ => json(
            StatusCode::NOT_FOUND,
            &answer(
                None,
                "rejected",
                "no such endpoint (webhooks go to /hooks/<id>)",
            ),
        ),
    };
    Ok(answer)
}

/// `GET /metrics` for a scraper: the bearer token Berth set (`berth server relay metrics-token`),
/// compared by its SHA-256 in constant time; 404 while none is set.
async fn public_metrics(relay: &Arc<Relay>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(want) = relay
        .metrics_token
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
    else {
        return text(
            StatusCode::NOT_FOUND,
            "metrics are not published here: `berth server relay metrics-token SERVER` publishes them\n",
        );
    };
    let given = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| berth_hooks::body_digest(t.trim().as_bytes()));
    let matches = given.is_some_and(|g| {
        g.len() == want.len()
            && g.bytes()
                .zip(want.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if !matches {
        let mut r = text(StatusCode::UNAUTHORIZED, "a bearer token is needed\n");
        r.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
        return r;
    }
    match crate::control::metrics(relay).await {
        Ok(r) => r,
        Err((status, _, message)) => json(status, &answer(None, "rejected", &message)),
    }
}

fn valid_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

async fn hook(
    relay: &Relay,
    peer: SocketAddr,
    req: Request<Incoming>,
    uuid: &str,
) -> Response<Full<Bytes>> {
    let now = crate::now_ms();
    let ip = relay.trusted.client_ip(peer, req.headers());
    if let Err(wait) = relay.limit.check(ip, Instant::now()) {
        relay.metrics.rate_limited();
        let mut r = json(
            StatusCode::TOO_MANY_REQUESTS,
            &answer(
                None,
                "rejected",
                &format!("too many requests from {ip}; retry in {wait} s"),
            ),
        );
        if let Ok(v) = hyper::header::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(RETRY_AFTER, v);
        }
        return r;
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let hook = if valid_uuid(uuid) {
        relay.registry.get(uuid)
    } else {
        None
    };
    let provider = hook.as_ref().map(|h| h.provider);
    let mut record = NewDelivery {
        hook: uuid.chars().take(64).collect(),
        app: hook.as_ref().map(|h| h.app.clone()),
        provider,
        mode: hook.as_ref().map(|h| h.mode),
        delivery_id: None,
        received_at: now,
        remote: ip.to_string(),
        event: provider.map_or_else(
            || "unknown".to_owned(),
            |p| berth_hooks::event_name(p, &headers),
        ),
        git_ref: None,
        commit: None,
        message: None,
        verdict: Verdict::Rejected,
        reason: String::new(),
        http_status: 400,
        body_digest: None,
    };
    let Some(hook) = hook else {
        record.reason = "no webhook with this id (it was disabled, or the URL is wrong)".into();
        record.http_status = 404;
        return finish(relay, record).await;
    };
    let limit = relay.settings.body_limit;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body over the limit is still read (and thrown away) up to DRAIN_CAP, so the answer
    // reaches a proxy that is still sending it instead of a reset connection.
    let too_large = |mut record: NewDelivery| {
        relay.metrics.too_large();
        record.reason = match declared {
            Some(len) => format!("body of {len} bytes is over the relay's limit of {limit} bytes"),
            None => format!("body is over the relay's limit of {limit} bytes"),
        };
        record.http_status = 413;
        finish(relay, record)
    };
    if declared.is_some_and(|len| len > drain_cap(limit)) {
        return too_large(record).await;
    }
    let body = match read_body(req.into_body(), limit).await {
        Body::Read(bytes) => bytes,
        Body::TooLarge => return too_large(record).await,
        Body::Failed(e) => {
            record.reason = format!("the body could not be read: {e}");
            return finish(relay, record).await;
        }
        Body::TimedOut => {
            record.reason = format!("the body took longer than {} s", BODY_TIMEOUT.as_secs());
            record.http_status = 408;
            return finish(relay, record).await;
        }
    };
    record.delivery_id = Some(berth_hooks::delivery_id(hook.provider, &headers, &body));
    if let Err(rejection) = berth_hooks::verify(hook.provider, hook.secret(), &headers, &body) {
        record.reason = rejection.to_string();
        record.http_status = rejection.status();
        return finish(relay, record).await;
    }
    record.body_digest = Some(berth_hooks::body_digest(&body));
    match berth_hooks::parse(hook.provider, &headers, &body) {
        Err(rejection) => {
            record.reason = rejection.to_string();
            record.http_status = rejection.status();
        }
        Ok(Event::Ping) => {
            record.verdict = Verdict::Ping;
            record.reason = format!(
                "ping answered; pushes to {} will deploy {}",
                hook.filter.branch, hook.app
            );
            record.http_status = 200;
        }
        Ok(Event::Other { event }) => {
            record.verdict = Verdict::Ignored;
            record.reason = format!("`{event}` events do not deploy; only pushes do");
            record.http_status = 200;
        }
        Ok(Event::Image(push)) => {
            record.git_ref = Some(push.reference());
            record.message = push.digest.as_ref().map(|d| format!("digest {d}"));
            match berth_hooks::decide_image(&push, &hook.filter) {
                Ok(reason) => {
                    record.verdict = Verdict::Queued;
                    record.reason = match hook.mode {
                        WebhookMode::Unattended => {
                            format!("{reason}; unattended: the relay takes it")
                        }
                        WebhookMode::Attended => reason,
                    };
                    record.http_status = 202;
                }
                Err(reason) => {
                    record.verdict = Verdict::Skipped;
                    record.reason = reason;
                    record.http_status = 200;
                }
            }
        }
        Ok(Event::Push(push)) => {
            record.git_ref = Some(push.git_ref.clone());
            record.commit = push.commit.clone();
            record.message = push.message.clone();
            match berth_hooks::decide(&push, &hook.filter) {
                Ok(reason) => {
                    record.verdict = Verdict::Queued;
                    record.reason = match hook.mode {
                        WebhookMode::Unattended => {
                            format!("{reason}; unattended: the relay deploys it")
                        }
                        WebhookMode::Attended => reason,
                    };
                    record.http_status = 202;
                }
                Err(reason) => {
                    record.verdict = Verdict::Skipped;
                    record.reason = reason;
                    record.http_status = 200;
                }
            }
        }
    }
    finish(relay, record).await
}

/// What reading a request body came to.
enum Body {
    Read(Bytes),
    TooLarge,
    Failed(String),
    TimedOut,
}

/// Reads the body, keeping at most `limit` bytes; past the limit it reads on (discarding) up
/// to [`DRAIN_CAP`] and says it was too large.
/// The most bytes read of a body whose limit is `limit`.
fn drain_cap(limit: usize) -> u64 {
    (limit as u64).saturating_add(DRAIN_SLACK)
}

async fn read_body(mut body: Incoming, limit: usize) -> Body {
    let read = async {
        let mut kept = Vec::new();
        let mut seen: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = match frame {
                Ok(f) => f,
                Err(e) => return Body::Failed(e.to_string()),
            };
            if let Ok(data) = frame.into_data() {
                seen += data.len() as u64;
                if seen > drain_cap(limit) {
                    return Body::TooLarge;
                }
                if seen <= limit as u64 {
                    kept.extend_from_slice(&data);
                }
            }
        }
        if seen > limit as u64 {
            Body::TooLarge
        } else {
            Body::Read(Bytes::from(kept))
        }
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .unwrap_or(Body::TimedOut)
}

/// Records the request, then answers with what was recorded.
async fn finish(relay: &Relay, record: NewDelivery) -> Response<Full<Bytes>> {
    let provider = record.provider;
    let app = record.app.clone();
    match relay.db.insert(record).await {
        Ok(recorded) => {
            relay
                .metrics
                .delivery(provider, app.as_deref(), recorded.verdict);
            if recorded.verdict == Verdict::Rejected {
                tracing::info!(id = recorded.id, reason = %recorded.reason, "rejected a delivery");
            } else {
                tracing::debug!(id = recorded.id, verdict = %recorded.verdict, "recorded a delivery");
            }
            let status =
                StatusCode::from_u16(recorded.http_status).unwrap_or(StatusCode::BAD_REQUEST);
            json(
                status,
                &answer(
                    Some(recorded.id),
                    recorded.verdict.as_str(),
                    &recorded.reason,
                ),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "could not record a delivery");
            json(
                StatusCode::SERVICE_UNAVAILABLE,
                &answer(
                    None,
                    "rejected",
                    "the relay could not record the delivery; retry later",
                ),
            )
        }
    }
}

fn answer(delivery: Option<i64>, verdict: &str, reason: &str) -> HookAnswer {
    HookAnswer {
        delivery,
        verdict: verdict.to_owned(),
        reason: reason.to_owned(),
    }
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(bytes)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_ids_are_uuids() {
        assert!(valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!valid_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
        assert!(!valid_uuid("../../etc/passwd"));
    }
}
