//! The control API's client, over byte streams someone else opens (a stream channel of the SSH
//! session to the relay's socket, or the socket itself on this machine). One connection per
//! request: control calls are few, and a fresh channel never finds a stale connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use berth_model::Delivery;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{
    Changes, Claim, ClaimRequest, ControlError, DeployReport, HookSpec, HookSummary, LockRequest,
    RelayDeployment, RelayInfo,
};

/// A bidirectional byte stream.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}
pub type BoxStream = Box<dyn IoStream>;

/// Opens a new byte stream to the relay's control socket.
pub trait Dial: Send + Sync + 'static {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>>;
    /// `the relay on prod`, for messages.
    fn describe(&self) -> String;
}

/// Dials a control socket on this machine.
#[cfg(unix)]
pub struct LocalDial(pub std::path::PathBuf);

#[cfg(unix)]
impl Dial for LocalDial {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(async move {
            let s = tokio::net::UnixStream::connect(&self.0).await?;
            Ok(Box::new(s) as BoxStream)
        })
    }
    fn describe(&self) -> String {
        format!("the relay's control socket {}", self.0.display())
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("cannot reach {what}: {source}")]
    Unreachable {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{what} broke off: {message}")]
    Http { what: String, message: String },
    #[error("{what} refused: {message}")]
    Refused {
        what: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{what} answered something unexpected: {message}")]
    BadAnswer { what: String, message: String },
}

/// How long one control request may take (a `wait` adds its own timeout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct ControlClient {
    dial: Arc<dyn Dial>,
}

impl ControlClient {
    pub fn new(dial: Arc<dyn Dial>) -> ControlClient {
        ControlClient { dial }
    }

    pub fn describe(&self) -> String {
        self.dial.describe()
    }

    pub async fn info(&self) -> Result<RelayInfo, ClientError> {
        self.call(Method::GET, "/v1/info", None::<&()>, REQUEST_TIMEOUT)
            .await
    }

    pub async fn hooks(&self) -> Result<Vec<HookSummary>, ClientError> {
        self.call(Method::GET, "/v1/hooks", None::<&()>, REQUEST_TIMEOUT)
            .await
    }

    pub async fn put_hook(&self, spec: &HookSpec) -> Result<HookSummary, ClientError> {
        self.call(
            Method::PUT,
            &format!("/v1/hooks/{}", spec.uuid),
            Some(spec),
            REQUEST_TIMEOUT,
        )
        .await
    }

    pub async fn delete_hook(&self, uuid: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &format!("/v1/hooks/{uuid}"),
                None::<&()>,
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn deliveries(
        &self,
        app: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Delivery>, ClientError> {
        let path = match app {
            Some(app) => format!("/v1/deliveries?app={app}&limit={limit}"),
            None => format!("/v1/deliveries?limit={limit}"),
        };
        self.call(Method::GET, &path, None::<&()>, REQUEST_TIMEOUT)
            .await
    }

    pub async fn delivery(&self, id: i64) -> Result<Delivery, ClientError> {
        self.call(
            Method::GET,
            &format!("/v1/deliveries/{id}"),
            None::<&()>,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// Waits until a delivery newer than `after` exists, or `timeout` ran out; returns the
    /// newest delivery id.
    pub async fn wait(&self, after: i64, timeout: Duration) -> Result<i64, ClientError> {
        let ms = timeout.as_millis();
        let changes: Changes = self
            .call(
                Method::GET,
                &format!("/v1/wait?after={after}&timeout_ms={ms}"),
                None::<&()>,
                timeout + REQUEST_TIMEOUT,
            )
            .await?;
        Ok(changes.last_delivery)
    }

    pub async fn claim(&self, req: &ClaimRequest) -> Result<Vec<Claim>, ClientError> {
        self.call(Method::POST, "/v1/claim", Some(req), REQUEST_TIMEOUT)
            .await
    }

    pub async fn heartbeat(&self, id: i64, req: &ClaimRequest) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call(
                Method::POST,
                &format!("/v1/deliveries/{id}/heartbeat"),
                Some(req),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    pub async fn report(&self, id: i64, report: &DeployReport) -> Result<Delivery, ClientError> {
        self.call(
            Method::POST,
            &format!("/v1/deliveries/{id}/result"),
            Some(report),
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// Deployments the relay ran on its own after `after` (a [`RelayDeployment::seq`]),
    /// oldest first.
    pub async fn deployments(&self, after: i64) -> Result<Vec<RelayDeployment>, ClientError> {
        self.call(
            Method::GET,
            &format!("/v1/deployments?after={after}"),
            None::<&()>,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// The Prometheus text.
    /// Takes or renews `app`'s deploy lock on the server for `lease`. Refused with code
    /// [`crate::proto::LOCKED`] while another holder's lease runs.
    pub async fn lock(
        &self,
        app: &str,
        owner: &str,
        holder: &str,
        lease: Duration,
    ) -> Result<(), ClientError> {
        let req = LockRequest {
            owner: owner.to_owned(),
            holder: holder.to_owned(),
            lease_ms: lease.as_millis() as u64,
        };
        let _: serde_json::Value = self
            .call(
                Method::POST,
                &format!("/v1/locks/{app}"),
                Some(&req),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Releases `app`'s deploy lock if `owner` holds it.
    pub async fn unlock(&self, app: &str, owner: &str) -> Result<(), ClientError> {
        let req = LockRequest {
            owner: owner.to_owned(),
            holder: String::new(),
            lease_ms: 0,
        };
        let _: serde_json::Value = self
            .call(
                Method::DELETE,
                &format!("/v1/locks/{app}"),
                Some(&req),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Asks the relay's own deploy of `app` (or whatever of its own holds the app's lock) to
    /// stop; what it found.
    pub async fn cancel(&self, app: &str) -> Result<crate::proto::CancelAnswer, ClientError> {
        self.call::<(), _>(
            Method::POST,
            &format!("/v1/locks/{app}/cancel"),
            None,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// Publishes `GET /metrics` on the public side behind `token` (empty: stops publishing).
    pub async fn put_metrics_token(&self, token: &str) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call(
                Method::PUT,
                "/v1/metrics-token",
                Some(&crate::proto::MetricsToken {
                    token: token.to_owned(),
                }),
                REQUEST_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Tells the relay about a deploy Berth ran on its server (counted in its metrics).
    pub async fn record_deploy(
        &self,
        record: &crate::proto::DeployRecord,
    ) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call(Method::POST, "/v1/deploys", Some(record), REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    /// Gives the relay the apps to watch and whom to tell (replacing what it had).
    pub async fn put_monitor(
        &self,
        config: &crate::proto::MonitorConfig,
    ) -> Result<(), ClientError> {
        let _: serde_json::Value = self
            .call(Method::PUT, "/v1/monitor", Some(config), REQUEST_TIMEOUT)
            .await?;
        Ok(())
    }

    /// An app's samples over the last `since_ms`.
    pub async fn stats(
        &self,
        app: &str,
        since_ms: i64,
    ) -> Result<berth_model::AppStats, ClientError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/stats?app={app}&since_ms={since_ms}"),
            None,
            REQUEST_TIMEOUT,
        )
        .await
    }

    /// The host's samples over the last `since_ms`, and (`docker`) what Docker's data takes.
    pub async fn host_stats(
        &self,
        since_ms: i64,
        docker: bool,
    ) -> Result<berth_model::ServerStats, ClientError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/host-stats?since_ms={since_ms}&docker={docker}"),
            None,
            Duration::from_secs(120),
        )
        .await
    }

    /// The monitor's events after sequence number `after`, oldest first.
    pub async fn alerts(&self, after: i64) -> Result<Vec<berth_model::Alert>, ClientError> {
        self.call::<(), _>(
            Method::GET,
            &format!("/v1/alerts?after={after}"),
            None,
            REQUEST_TIMEOUT,
        )
        .await
    }

    pub async fn metrics(&self) -> Result<String, ClientError> {
        let (status, body) = self
            .send(Method::GET, "/metrics", None, REQUEST_TIMEOUT)
            .await?;
        if status != StatusCode::OK {
            return Err(self.refused(status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ClientError::BadAnswer {
                what: self.describe(),
                message: e.to_string(),
            })?),
            None => None,
        };
        let (status, bytes) = self.send(method, path, body, timeout).await?;
        if !status.is_success() {
            return Err(self.refused(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadAnswer {
            what: self.describe(),
            message: format!("{e} (is the relay the same version as Berth?)"),
        })
    }

    fn refused(&self, status: StatusCode, body: &[u8]) -> ClientError {
        match serde_json::from_slice::<ControlError>(body) {
            Ok(e) => ClientError::Refused {
                what: self.describe(),
                status: status.as_u16(),
                code: e.code,
                message: e.message,
            },
            Err(_) => ClientError::Refused {
                what: self.describe(),
                status: status.as_u16(),
                code: "http".to_owned(),
                message: format!(
                    "HTTP {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
            },
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let what = self.describe();
        let http = |message: String| ClientError::Http {
            what: what.clone(),
            message,
        };
        let exchange = async {
            let stream = self
                .dial
                .dial()
                .await
                .map_err(|source| ClientError::Unreachable {
                    what: what.clone(),
                    source,
                })?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| http(e.to_string()))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let mut req = Request::builder()
                .method(method)
                .uri(path)
                .header(hyper::header::HOST, "relay");
            if body.is_some() {
                req = req.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            let req = req
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .map_err(|e| http(e.to_string()))?;
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| http(e.to_string()))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| http(e.to_string()))?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| http(format!("no answer within {} s", timeout.as_secs())))?
    }
}
