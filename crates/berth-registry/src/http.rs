//! One HTTP/1.1 request on a stream the caller connects (TLS on top when the URL is https),
//! with the response body read whole (capped).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::HeaderMap;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;

use crate::{Connect, RegistryError};

/// Manifests, tag lists and image configs are small; anything bigger is not what we asked for.
const MAX_BODY: usize = 8 << 20;
const TIMEOUT: Duration = Duration::from_secs(30);

/// An absolute URL, split for connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) target: String,
}

impl Url {
    /// The registry at `registry` (`ghcr.io`, `127.0.0.1:5000`): plain HTTP on loopback
    /// (as Docker allows for 127.0.0.0/8), HTTPS everywhere else.
    pub(crate) fn registry(registry: &str, target: &str) -> Url {
        let (host, port) = split_host_port(registry);
        let tls = !is_loopback(&host);
        Url {
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            tls,
            host,
            target: target.to_owned(),
        }
    }

    /// Parses `https://host[:port]/path?query`.
    pub(crate) fn parse(url: &str) -> Option<Url> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let (host, port) = split_host_port(authority);
        Some(Url {
            port: port.unwrap_or(if tls { 443 } else { 80 }),
            tls,
            host,
            target,
        })
    }

    /// A `Location` header: absolute, or a path on this URL's host.
    pub(crate) fn join(&self, location: &str) -> Option<Url> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Url::parse(location);
        }
        location.starts_with('/').then(|| Url {
            target: location.to_owned(),
            ..self.clone()
        })
    }

    pub(crate) fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

fn split_host_port(authority: &str) -> (String, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (host.to_owned(), port);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host.to_owned(), port.parse().ok()),
        _ => (authority.to_owned(), None),
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A response, read whole.
pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends `GET url` with `headers` on a new connection.
pub(crate) async fn get(
    connect: &dyn Connect,
    url: &Url,
    headers: &[(&str, String)],
) -> Result<Response, RegistryError> {
    let registry = url.authority();
    let unreachable = |reason: String| RegistryError::Unreachable {
        registry: registry.clone(),
        via: connect.describe(),
        reason,
    };
    let mut request = Request::get(url.target.as_str()).header("host", url.authority());
    request = request.header("user-agent", concat!("berth/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request
        .body(Empty::<Bytes>::new())
        .map_err(|e| unreachable(format!("bad request: {e}")))?;
    let exchange = async {
        let stream = connect
            .connect(&url.host, url.port)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        if url.tls {
            let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| {
                RegistryError::Tls {
                    registry: registry.clone(),
                    message: format!("`{}` is not a valid TLS name: {e}", url.host),
                }
            })?;
            let config = tls_config().map_err(|message| RegistryError::Tls {
                registry: registry.clone(),
                message,
            })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await
                .map_err(|e| RegistryError::Tls {
                    registry: registry.clone(),
                    message: e.to_string(),
                })?;
            send(tls, request, &registry).await
        } else {
            send(stream, request, &registry).await
        }
    };
    tokio::time::timeout(TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", TIMEOUT.as_secs())))?
}

async fn send<T>(
    io: T,
    request: Request<Empty<Bytes>>,
    registry: &str,
) -> Result<Response, RegistryError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let protocol = |message: String| RegistryError::Protocol {
        registry: registry.to_owned(),
        message,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| protocol(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "registry connection ended with an error");
        }
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| protocol(format!("no HTTP answer: {e}")))?;
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| protocol(format!("reading the answer: {e}")))?
        .to_bytes();
    Ok(Response {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// The TLS client settings, built once: bundled webpki roots plus the system's.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let (added, _) =
                roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            tracing::debug!(system_roots = added, "registry TLS roots loaded");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("cannot set up TLS: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_plain_http_others_https() {
        let local = Url::registry("127.0.0.1:5000", "/v2/");
        assert_eq!(
            (local.tls, local.port, local.authority()),
            (false, 5000, "127.0.0.1:5000".into())
        );
        let ghcr = Url::registry("ghcr.io", "/v2/");
        assert_eq!(
            (ghcr.tls, ghcr.port, ghcr.authority()),
            (true, 443, "ghcr.io".into())
        );
        assert!(!Url::registry("localhost:5000", "/").tls);
        assert!(Url::registry("registry.example.com:5000", "/").tls);
    }

    #[test]
    fn urls_and_redirects() {
        let realm = Url::parse("https://auth.docker.io/token?service=x").unwrap();
        assert_eq!(
            (realm.host.as_str(), realm.target.as_str()),
            ("auth.docker.io", "/token?service=x")
        );
        let base = Url::registry("127.0.0.1:5000", "/v2/a/blobs/sha256:1");
        let same = base.join("/storage/blob").unwrap();
        assert_eq!(
            (same.authority(), same.target.as_str()),
            ("127.0.0.1:5000".into(), "/storage/blob")
        );
        let cdn = base.join("https://cdn.example/b?sig=1").unwrap();
        assert!(cdn.tls && cdn.host == "cdn.example");
        assert_eq!(Url::parse("ftp://x"), None);
        assert_eq!(Url::parse("https://u:p@x/"), None);
    }
}
