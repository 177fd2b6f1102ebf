//! Notifiers: where deploy results are announced besides the desktop — an ntfy topic, a
//! Slack-compatible incoming webhook, or any URL that takes the result as JSON. Their URLs are
//! kept in the secrets store (they often carry a token); the database keeps a shortened form.

use std::sync::Arc;
use std::time::Duration;

use berth_model::{DeployNotice, Notifier, NotifierKind};
use berth_secrets::{Sensitive, notifier_key};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

use crate::Berth;
use crate::error::ApiError;

/// How long one notification may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `https://ntfy.sh/…`: the scheme and host, without the path and query that often carry the
/// token.
fn shown(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let rest = if uri.path().len() > 1 || uri.query().is_some() {
        "/…"
    } else {
        ""
    };
    format!("{scheme}://{host}{rest}")
}

fn parse_url(url: &str) -> Result<Uri, ApiError> {
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e| ApiError::Invalid(format!("`{url}` is not a URL: {e}")))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => {
            return Err(ApiError::Invalid(format!(
                "`{url}` is not an http:// or https:// URL"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(ApiError::Invalid(format!("`{url}` has no host")));
    }
    Ok(uri)
}

/// The request a notifier gets for `notice`.
fn request(
    kind: NotifierKind,
    uri: &Uri,
    notice: &DeployNotice,
) -> Result<Request<Full<Bytes>>, String> {
    let ok = notice.status == "deployed";
    let builder = Request::post(uri.clone())
        .header(
            hyper::header::HOST,
            uri.authority().map(|a| a.as_str()).unwrap_or(""),
        )
        .header(
            hyper::header::USER_AGENT,
            concat!("berth/", env!("CARGO_PKG_VERSION")),
        );
    let (builder, body) = match kind {
        NotifierKind::Ntfy => {
            let mut b = builder
                .header(
                    "Title",
                    format!(
                        "Berth: {} {}",
                        notice.app,
                        if ok { "deployed" } else { "deploy failed" }
                    ),
                )
                .header("Tags", if ok { "white_check_mark" } else { "x" })
                .header("Priority", if ok { "default" } else { "high" })
                .header(hyper::header::CONTENT_TYPE, "text/plain; charset=utf-8");
            if let Some(url) = notice.url.as_deref().filter(|_| ok) {
                b = b.header("Click", url);
            }
            (
                b,
                format!("{}\n{}", notice.summary(), notice.trigger).into_bytes(),
            )
        }
        NotifierKind::Slack => {
            let mark = if ok { ":white_check_mark:" } else { ":x:" };
            let text = format!(
                "{mark} {} (on {}, {})",
                notice.summary(),
                notice.server,
                notice.trigger
            );
            (
                builder.header(hyper::header::CONTENT_TYPE, "application/json"),
                serde_json::to_vec(&serde_json::json!({ "text": text }))
                    .map_err(|e| e.to_string())?,
            )
        }
        NotifierKind::Webhook => (
            builder.header(hyper::header::CONTENT_TYPE, "application/json"),
            serde_json::to_vec(&serde_json::json!({
                "event": "deploy",
                "summary": notice.summary(),
                "notice": notice,
            }))
            .map_err(|e| e.to_string())?,
        ),
    };
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err("no trusted root certificates found on this machine".to_owned());
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs `notice` to one notifier; `Err` says why it did not arrive.
async fn send(kind: NotifierKind, url: &str, notice: &DeployNotice) -> Result<(), String> {
    let uri = parse_url(url).map_err(|e| e.to_string())?;
    let req = request(kind, &uri, notice)?;
    let host = uri.host().unwrap_or("").trim_matches(['[', ']']).to_owned();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let status = if https {
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("`{host}`: {e}"))?;
            let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {host}: {e}"))?;
            post(TokioIo::new(tls), req).await?
        } else {
            post(TokioIo::new(tcp), req).await?
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{host} answered HTTP {status}"))
        }
    };
    tokio::time::timeout(SEND_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{host} did not answer within {} s", SEND_TIMEOUT.as_secs()))?
}

async fn post<T>(io: T, req: Request<Full<Bytes>>) -> Result<hyper::StatusCode, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    Ok(status)
}

impl Berth {
    /// Adds a notifier; every deploy result from a webhook (and `berth notify test`) goes to it.
    pub fn notify_add(&self, kind: NotifierKind, url: &str) -> Result<Notifier, ApiError> {
        let uri = parse_url(url)?;
        let shown = shown(&uri);
        let id = self.store.insert_notifier(kind, &shown, self.now())?;
        if let Err(e) = self
            .secrets()
            .set(&notifier_key(id), &Sensitive::new(url.trim().to_owned()))
        {
            let _ = self.store.delete_notifier(id);
            return Err(e.into());
        }
        self.audit("notify.add", &id.to_string(), &format!("{kind} {shown}"));
        Ok(Notifier {
            id,
            kind,
            url: shown,
        })
    }

    pub fn notifiers(&self) -> Result<Vec<Notifier>, ApiError> {
        Ok(self.store.notifiers()?)
    }

    pub fn notify_rm(&self, id: i64) -> Result<(), ApiError> {
        if !self.store.delete_notifier(id)? {
            return Err(ApiError::Invalid(format!(
                "there is no notifier {id} (see `berth notify ls`)"
            )));
        }
        self.secrets().delete(&notifier_key(id))?;
        self.audit("notify.rm", &id.to_string(), "");
        Ok(())
    }

    /// Sends `notice` to every notifier; what happened at each.
    pub async fn notify_all(&self, notice: &DeployNotice) -> Vec<(Notifier, Result<(), String>)> {
        let notifiers = match self.store.notifiers() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("cannot read the notifiers: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for n in notifiers {
            let result = match self.secrets().get(&notifier_key(n.id)) {
                Ok(Some(url)) => send(n.kind, url.expose(), notice).await,
                Ok(None) => {
                    Err("its URL is missing from the secrets store; add it again".to_owned())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = &result {
                tracing::warn!(notifier = n.id, kind = %n.kind, "notification failed: {e}");
            }
            out.push((n, result));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> DeployNotice {
        DeployNotice {
            app: "hello".into(),
            server: "prod".into(),
            status: "deployed".into(),
            deployment: Some("d1".into()),
            commit: Some("1a2b3c4d5e".into()),
            duration_ms: Some(4200),
            url: Some("https://hello.example.com".into()),
            failed_step: None,
            error: None,
            trigger: "webhook #3 (github push to main)".into(),
        }
    }

    #[test]
    fn urls_are_checked_and_shown_without_their_token() {
        let uri = parse_url("https://hooks.slack.com/services/T0/B0/XXXX").expect("url");
        assert_eq!(shown(&uri), "https://hooks.slack.com/…");
        assert_eq!(
            shown(&parse_url("http://10.0.0.5:8080").expect("url")),
            "http://10.0.0.5:8080"
        );
        assert!(
            parse_url("ftp://x")
                .unwrap_err()
                .to_string()
                .contains("http://")
        );
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn each_kind_gets_its_shape() {
        let uri = parse_url("https://ntfy.sh/berth").expect("url");
        let r = request(NotifierKind::Ntfy, &uri, &notice()).expect("request");
        assert_eq!(r.headers()["Title"], "Berth: hello deployed");
        assert_eq!(r.headers()["Click"], "https://hello.example.com");
        let r = request(NotifierKind::Slack, &uri, &notice()).expect("request");
        assert_eq!(r.headers()[hyper::header::CONTENT_TYPE], "application/json");
    }
}
