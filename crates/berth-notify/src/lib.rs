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

/// `https://ntfy.sh/…`: the scheme and host, without the credentials, path and query that
/// often carry the token.
pub fn shown(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or("https");
    let host = host_port(uri);
    let rest = if uri.path().len() > 1 || uri.query().is_some() {
        "/…"
    } else {
        ""
    };
    format!("{scheme}://{host}{rest}")
}

/// A notifier URL, checked: `http://` or `https://` with a host. `Err` says what is wrong
/// without repeating the URL (it may carry a token or a password).
pub fn parse_url(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .trim()
        .parse()
        .map_err(|e| format!("the notifier URL is not a URL ({e})"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err("the notifier URL is not an http:// or https:// URL".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("the notifier URL has no host".to_owned());
    }
    Ok(uri)
}

/// `host` or `host:port`: the authority without `user:password@`.
fn host_port(uri: &Uri) -> String {
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .to_owned()
}

/// The `Authorization: Basic …` value for a URL's `user:password@` (ntfy's access control,
/// a JSON endpoint behind basic auth); the credentials never go into the `Host` header.
fn basic_auth(uri: &Uri) -> Option<String> {
    use base64::Engine;
    let authority = uri.authority()?.as_str();
    let (userinfo, _) = authority.rsplit_once('@')?;
    let decoded = percent_decode(userinfo);
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(decoded)
    ))
}

/// `%40` → `@` (userinfo is percent-encoded in a URL).
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The request a notifier gets for `notice`.
fn request(
    kind: NotifierKind,
    uri: &Uri,
    notice: &DeployNotice,
) -> Result<Request<Full<Bytes>>, String> {
    let alert = berth_model::AlertKind::parse(&notice.status);
    // Good news: a deploy, a recovery.
    let ok = notice.status == "deployed" || alert.is_some_and(berth_model::AlertKind::is_good);
    let available = notice.status == "available";
    // The request line carries only the path: the credentials stay out of it and of `Host`.
    let target: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|e| format!("the notifier URL's path is not valid ({e})"))?;
    let mut builder = Request::post(target)
        .header(hyper::header::HOST, host_port(uri))
        .header(
            hyper::header::USER_AGENT,
            concat!("berth/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = basic_auth(uri) {
        builder = builder.header(hyper::header::AUTHORIZATION, auth);
    }
    let (builder, body) = match kind {
        NotifierKind::Ntfy => {
            let mut b = builder
                .header(
                    "Title",
                    format!(
                        "Berth: {} {}",
                        notice.app,
                        match alert {
                            Some(kind) => kind.as_str(),
                            None if ok => "deployed",
                            None if available => "new image",
                            None => "deploy failed",
                        }
                    ),
                )
                .header(
                    "Tags",
                    if ok {
                        "white_check_mark"
                    } else if available {
                        "package"
                    } else {
                        "x"
                    },
                )
                .header("Priority", if ok || available { "default" } else { "high" })
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
            let mark = if ok {
                ":white_check_mark:"
            } else if available {
                ":package:"
            } else {
                ":x:"
            };
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
                "event": notice.event().as_str(),
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
    fn credentials_in_a_url_become_basic_auth_and_are_never_shown() {
        let uri = parse_url("https://berth:s3cr%40t@ntfy.example.com:8443/deploys").expect("url");
        assert_eq!(shown(&uri), "https://ntfy.example.com:8443/…");
        let r = request(NotifierKind::Ntfy, &uri, &notice()).expect("request");
        assert_eq!(r.headers()[hyper::header::HOST], "ntfy.example.com:8443");
        // base64("berth:s3cr@t")
        assert_eq!(
            r.headers()[hyper::header::AUTHORIZATION],
            "Basic YmVydGg6czNjckB0"
        );
        assert_eq!(r.uri().to_string(), "/deploys");
        let err = parse_url("ftp://berth:s3cret@ntfy.example.com").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        let plain = parse_url("https://ntfy.sh/berth").expect("url");
        let r = request(NotifierKind::Ntfy, &plain, &notice()).expect("request");
        assert!(r.headers().get(hyper::header::AUTHORIZATION).is_none());
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
