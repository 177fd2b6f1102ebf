//! The client of one Caddy's admin API: routes by `@id`, whole-config loads, upstream counters
//! and draining, over pooled keep-alive HTTP/1.1 connections on streams a [`Connect`] opens.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::time::Instant;

use crate::address::AdminAddress;
use crate::connect::{AdminConnector, Connect};
use crate::error::ProxyError;
use crate::route::{Route, dials, validate_id};

/// How long one admin request may take by default (a config load provisions every app).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Caddy closes idle admin connections after 60 s; drop ours before that.
const POOL_IDLE: Duration = Duration::from_secs(30);
/// The largest answer Berth reads (a whole config).
const MAX_BODY: usize = 32 << 20;
/// How many duplicates of one `@id` `delete_route` removes at most.
const MAX_DUPLICATES: usize = 16;

/// A client of one Caddy's admin API. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Caddy {
    http: Client<AdminConnector, Full<Bytes>>,
    host: HeaderValue,
    target: Arc<str>,
    timeout: Duration,
}

/// What Caddy reports about one upstream (`GET /reverse_proxy/upstreams`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    /// The dial address, as written in the route.
    pub address: String,
    /// Requests in flight to it right now.
    pub num_requests: u64,
    /// Recent failures counted by passive health checks.
    pub fails: u64,
}

/// An http server in Caddy's config, for adopting an existing Caddy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpServer {
    pub name: String,
    pub listen: Vec<String>,
}

/// An answer from the admin API.
struct Answer {
    status: StatusCode,
    body: Bytes,
}

impl Answer {
    fn error_message(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_owned())
    }

    fn is_unknown_id(&self) -> bool {
        !self.status.is_success() && self.error_message().starts_with("unknown object ID")
    }

    fn is_missing_path(&self) -> bool {
        !self.status.is_success() && self.error_message().contains("invalid traversal path")
    }

    fn refused(&self) -> ProxyError {
        ProxyError::Refused {
            status: self.status.as_u16(),
            message: self.error_message(),
        }
    }

    /// The body as JSON, or `Refused` for an error status.
    fn json(&self) -> Result<Value, ProxyError> {
        if !self.status.is_success() {
            return Err(self.refused());
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ProxyError::Protocol(format!(
                "the admin API answered {} with a body that is not JSON: {e}",
                self.status
            ))
        })
    }

    fn ok(&self) -> Result<(), ProxyError> {
        if self.status.is_success() {
            Ok(())
        } else {
            Err(self.refused())
        }
    }
}

impl Caddy {
    /// A client of the admin API at `address`, reached through `connect`. Connects lazily.
    pub fn new(connect: Arc<dyn Connect>, address: &AdminAddress) -> Caddy {
        let target: Arc<str> = connect.describe().into();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(4)
            .build(AdminConnector(connect));
        // `host_header` is `host:port` of a validated loopback address or empty: always a
        // valid header value.
        let host = HeaderValue::from_str(&address.host_header())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        Caddy {
            http,
            host,
            target,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another limit for each admin request.
    pub fn with_timeout(mut self, timeout: Duration) -> Caddy {
        self.timeout = timeout;
        self
    }

    /// Where this client is connected, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ProxyError> {
        let start = std::time::Instant::now();
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(format!("http://caddy-admin{path}"))
            .header(HOST, self.host.clone());
        let body = match body {
            Some(json) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                let bytes = serde_json::to_vec(json)
                    .map_err(|e| ProxyError::Protocol(format!("cannot encode the request: {e}")))?;
                Full::new(Bytes::from(bytes))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder
            .body(body)
            .map_err(|e| ProxyError::Protocol(format!("cannot build a request for {path}: {e}")))?;
        let unreachable = |reason: String| ProxyError::Unreachable {
            address: self.target.to_string(),
            reason,
        };
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| unreachable(error_chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| unreachable(format!("the answer broke off: {e}")))?
                .to_bytes();
            Ok::<_, ProxyError>(Answer { status, body })
        };
        let answer = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))??;
        tracing::debug!(
            target_endpoint = %self.target,
            %method,
            path,
            status = answer.status.as_u16(),
            elapsed_ms = start.elapsed().as_millis() as u64,
            "caddy admin request"
        );
        Ok(answer)
    }

    /// Checks that the admin API answers (`GET /config/`).
    pub async fn ping(&self) -> Result<(), ProxyError> {
        self.request(Method::GET, "/config/", None).await?.ok()
    }

    /// The whole running config (`null` for an empty one).
    pub async fn config(&self) -> Result<Value, ProxyError> {
        self.request(Method::GET, "/config/", None).await?.json()
    }

    /// Replaces the whole config (`POST /load`). Caddy applies it atomically or not at all.
    pub async fn load(&self, config: &Value) -> Result<(), ProxyError> {
        self.request(Method::POST, "/load", Some(config))
            .await?
            .ok()
    }

    /// The route with `@id` `id`, if there is one.
    pub async fn route(&self, id: &str) -> Result<Option<Route>, ProxyError> {
        validate_id(id)?;
        let answer = self
            .request(Method::GET, &format!("/id/{id}"), None)
            .await?;
        if answer.is_unknown_id() {
            return Ok(None);
        }
        match answer.json()? {
            Value::Null => Ok(None),
            value => Route::from_json(&value).map(Some),
        }
    }

    /// Creates the route, or replaces the route with its `@id` in place. A new route goes
    /// *first* in `server`'s route list, before any catch-all of an adopted config.
    ///
    /// When the replaced route served another upstream, that one stays in the route *after*
    /// the new one, under Caddy's `first` selection policy: it gets no new requests, but Caddy
    /// keeps counting the requests still in flight to it, so [`Caddy::drain`] can wait for
    /// them (Caddy forgets the counter of an upstream no route mentions, in-flight requests or
    /// not). `drain` then removes it from the route.
    ///
    /// Hosts are validated (Caddy does not) and normalized; invalid input sends nothing.
    /// Caddy applies each change atomically: if it refuses one ([`ProxyError::Refused`]), the
    /// routes it served before keep serving. Two concurrent calls for the same new id could
    /// both insert it (Caddy does not reject duplicate ids); callers hold the app's lock, and
    /// [`Caddy::delete_route`] removes every copy.
    pub async fn put_route(&self, server: &str, route: &Route) -> Result<(), ProxyError> {
        let route = route.validated()?;
        validate_server(server)?;
        let id = &route.id;
        let existing = self
            .request(Method::GET, &format!("/id/{id}"), None)
            .await?;
        let existing = if existing.is_unknown_id() {
            Value::Null
        } else {
            existing.json()?
        };
        if !existing.is_null() {
            let before = dials(&existing);
            let draining: Vec<String> = match before.split_first() {
                // Switching: the previous upstream drains.
                Some((serving, _)) if *serving != route.upstream => vec![serving.clone()],
                // Same upstream (a retry): whatever was draining still is.
                Some((_, draining)) => draining.to_vec(),
                None => Vec::new(),
            };
            let json = route.json_draining(&draining);
            let answer = self
                .request(Method::PATCH, &format!("/id/{id}"), Some(&json))
                .await?;
            if !answer.is_unknown_id() {
                answer.ok()?;
                tracing::debug!(%id, upstream = %route.upstream, ?draining, "route replaced");
                return Ok(());
            }
            // Deleted in the meantime: create it.
        }
        let json = route.to_json();
        let server_path = format!("/config/apps/http/servers/{server}");
        let current = self.request(Method::GET, &server_path, None).await?;
        if current.is_missing_path() {
            return Err(ProxyError::UnknownServer {
                server: server.to_owned(),
            });
        }
        let current = current.json()?;
        if current.is_null() {
            return Err(ProxyError::UnknownServer {
                server: server.to_owned(),
            });
        }
        let has_routes = current
            .get("routes")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        // Caddy 2.6 cannot PUT at index 0 of an empty array, so the first route is appended.
        let answer = if has_routes {
            self.request(Method::PUT, &format!("{server_path}/routes/0"), Some(&json))
                .await?
        } else {
            let many = Value::Array(vec![json]);
            self.request(
                Method::POST,
                &format!("{server_path}/routes/..."),
                Some(&many),
            )
            .await?
        };
        answer.ok()?;
        tracing::debug!(%id, upstream = %route.upstream, %server, "route created");
        Ok(())
    }

    /// Deletes the route with `@id` `id` (every copy, should it exist twice). `false` if there
    /// was none.
    pub async fn delete_route(&self, id: &str) -> Result<bool, ProxyError> {
        validate_id(id)?;
        let mut deleted = false;
        for _ in 0..MAX_DUPLICATES {
            let answer = self
                .request(Method::DELETE, &format!("/id/{id}"), None)
                .await?;
            if answer.is_unknown_id() {
                break;
            }
            answer.ok()?;
            deleted = true;
        }
        Ok(deleted)
    }

    /// Caddy's counters for every upstream some route mentions.
    pub async fn upstreams(&self) -> Result<Vec<UpstreamStatus>, ProxyError> {
        let value = self
            .request(Method::GET, "/reverse_proxy/upstreams", None)
            .await?
            .json()?;
        if value.is_null() {
            return Ok(Vec::new());
        }
        serde_json::from_value(value).map_err(|e| {
            ProxyError::Protocol(format!(
                "the upstream list is not in the expected shape: {e}"
            ))
        })
    }

    /// Waits until no request is in flight to `address` or `timeout` passes, asking Caddy every
    /// `poll`; returns how many were still in flight at the end (0: drained). Then removes
    /// `address` from the routes that kept it for draining (see [`Caddy::put_route`]); it is
    /// never removed where it is the serving upstream.
    ///
    /// An address no route mentions counts as 0.
    pub async fn drain(
        &self,
        address: &str,
        timeout: Duration,
        poll: Duration,
    ) -> Result<u64, ProxyError> {
        let start = Instant::now();
        let in_flight = loop {
            let in_flight: u64 = self
                .upstreams()
                .await?
                .iter()
                .filter(|u| u.address == address)
                .map(|u| u.num_requests)
                .sum();
            let elapsed = start.elapsed();
            if in_flight == 0 || elapsed >= timeout {
                tracing::debug!(address, in_flight, ?elapsed, "drain finished");
                break in_flight;
            }
            tokio::time::sleep(poll.min(timeout - elapsed)).await;
        };
        self.release(address).await?;
        Ok(in_flight)
    }

    /// Removes `address` from the draining upstreams (all but the first) of every route.
    async fn release(&self, address: &str) -> Result<(), ProxyError> {
        let config = self.config().await?;
        let Some(servers) = config
            .pointer("/apps/http/servers")
            .and_then(Value::as_object)
        else {
            return Ok(());
        };
        let holding: Vec<Value> = servers
            .values()
            .filter_map(|s| s.get("routes").and_then(Value::as_array))
            .flatten()
            .filter(|r| r.get("@id").and_then(Value::as_str).is_some())
            .filter(|r| dials(r).iter().skip(1).any(|d| d == address))
            .cloned()
            .collect();
        for mut route in holding {
            let id = route["@id"].as_str().unwrap_or_default().to_owned();
            if validate_id(&id).is_err() {
                continue;
            }
            let Some(handler) = route.pointer_mut("/handle/0") else {
                continue;
            };
            let kept: Vec<Value> = handler["upstreams"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .filter(|(i, u)| *i == 0 || u.get("dial").and_then(Value::as_str) != Some(address))
                .map(|(_, u)| u.clone())
                .collect();
            if kept.len() == 1
                && let Some(h) = handler.as_object_mut()
            {
                h.remove("load_balancing");
            }
            handler["upstreams"] = Value::Array(kept);
            let answer = self
                .request(Method::PATCH, &format!("/id/{id}"), Some(&route))
                .await?;
            // Deleted in the meantime: nothing holds the address any more.
            if !answer.is_unknown_id() {
                answer.ok()?;
            }
            tracing::debug!(%id, address, "drained upstream released");
        }
        Ok(())
    }

    /// The http servers of the running config, to adopt an existing Caddy.
    pub async fn servers(&self) -> Result<Vec<HttpServer>, ProxyError> {
        let answer = self
            .request(Method::GET, "/config/apps/http/servers", None)
            .await?;
        if answer.is_missing_path() {
            return Ok(Vec::new());
        }
        let Value::Object(servers) = answer.json()? else {
            return Ok(Vec::new());
        };
        Ok(servers
            .into_iter()
            .map(|(name, server)| HttpServer {
                name,
                listen: server
                    .get("listen")
                    .and_then(Value::as_array)
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }
}

fn validate_server(server: &str) -> Result<(), ProxyError> {
    validate_id(server).map_err(|_| {
        ProxyError::InvalidRoute(format!(
            "http server name `{server}` is invalid; use letters, digits, `-`, `_` or `.`"
        ))
    })
}

/// An error and its causes, without repeating a cause its parent already quotes.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_error_bodies() {
        let answer = Answer {
            status: StatusCode::NOT_FOUND,
            body: Bytes::from_static(br#"{"error":"unknown object ID 'x'"}"#),
        };
        assert!(answer.is_unknown_id());
        assert_eq!(
            answer.refused().to_string(),
            "caddy refused the change (404): unknown object ID 'x'"
        );
        let answer = Answer {
            status: StatusCode::BAD_REQUEST,
            body: Bytes::from_static(b"plain text\n"),
        };
        assert!(!answer.is_unknown_id());
        assert_eq!(answer.error_message(), "plain text");
    }
}
