//! Notifiers: where deploy results are announced besides the desktop — an ntfy topic, a
//! Slack-compatible incoming webhook, or any URL that takes the result as JSON. Used by Berth
//! (attended deploys, `berth notify test`) and by the relay (unattended deploys, in a
//! container without a system certificate store: Mozilla's roots are built in).
//!
//! Knows nothing about where URLs are kept (the caller's secrets store) or who deployed.

use std::sync::Arc;
use std::time::Duration;

use berth_model::{DeployNotice, NotifierKind};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;

/// How long one notification may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// `https://ntfy.sh/…`: the scheme and host, without the path and query that often carry the
/// token.
pub fn shown(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = uri.authority().map(|a| a.as_str()).unwrap_or("");
    let rest = if uri.path().len() > 1 || uri.query().is_some() {
        "/…"
    } else {
        ""
    };
    format!("{scheme}://{host}{rest}")
}

/// A notifier URL, checked: `http://` or `https://` with a host. `Err` says what is wrong.
pub fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("`{url}` is not an http:// or https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("`{url}` has no host"));
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
        // No system store (the relay's FROM-scratch container): Mozilla's roots, built in.
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
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
pub async fn send(kind: NotifierKind, url: &str, notice: &DeployNotice) -> Result<(), String> {
    let uri = parse_url(url)?;
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
        assert!(parse_url("ftp://x").unwrap_err().contains("http://"));
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
