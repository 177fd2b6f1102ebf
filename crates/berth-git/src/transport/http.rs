//! Smart HTTP(S): `GET …/info/refs?service=git-upload-pack` for the advertisement, then one
//! stateless `POST …/git-upload-pack` carrying the whole request. TLS is rustls with the
//! bundled webpki roots (plus the system's, when there are any).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt;

use crate::pktline::{Pkt, PktReader};
use crate::url::Remote;
use crate::{Auth, CONNECT_TIMEOUT, GitError, Job, MAX_PACK_BYTES, Snapshot, protocol};

const USER_AGENT: &str = "git/berth-0.1";
const MAX_REDIRECTS: usize = 5;
const ADVERTISEMENT_LIMIT: u64 = 64 << 20;

/// An HTTP(S) repository base: requests go to `{path}/info/refs` and `{path}/git-upload-pack`.
#[derive(Clone, PartialEq, Eq)]
struct Endpoint {
    tls: bool,
    host: String,
    port: u16,
    path: String,
}

impl Endpoint {
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

pub(crate) async fn fetch(job: &Job, remote: &Remote, auth: &Auth) -> Result<Snapshot, GitError> {
    let Remote::Http {
        tls,
        host,
        port,
        path,
        user,
        password,
    } = remote
    else {
        return Err(job.protocol("internal: not an HTTP remote"));
    };
    let origin = Endpoint {
        tls: *tls,
        host: host.clone(),
        port: *port,
        path: path.clone(),
    };
    let credentials = match auth {
        Auth::Token { user: u, token } => {
            let u = u.clone().or_else(|| user.clone());
            Some(basic(u.as_deref().unwrap_or("x-access-token"), token))
        }
        _ => user
            .as_deref()
            .map(|u| basic(u, password.as_deref().unwrap_or_default())),
    };

    // The advertisement, following redirects (credentials only go to the original host).
    let mut endpoint = origin.clone();
    let mut redirects = 0;
    let response = loop {
        let auth_header = credentials
            .as_deref()
            .filter(|_| endpoint.host == origin.host && endpoint.port == origin.port);
        let request = request(
            &endpoint,
            Method::GET,
            "/info/refs?service=git-upload-pack",
            auth_header,
            None,
        )?;
        let response = send(job, &endpoint, request).await?;
        if !response.status().is_redirection() {
            break response;
        }
        redirects += 1;
        let location = response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location.filter(|_| redirects <= MAX_REDIRECTS) else {
            return Err(job.protocol(format!(
                "too many or broken redirects (HTTP {})",
                response.status().as_u16()
            )));
        };
        endpoint = redirect_target(&endpoint, &location).ok_or_else(|| {
            job.protocol(format!("redirect to an unusable location {location:?}"))
        })?;
        tracing::debug!(url = %job.url, host = %endpoint.host, path = %endpoint.path, "following redirect");
    };
    let response = check_status(job, response, credentials.is_some()).await?;
    let kind = content_type(&response);
    if kind != "application/x-git-upload-pack-advertisement" {
        return Err(GitError::NotSmartHttp {
            url: job.url.clone(),
            content_type: kind,
        });
    }
    let mut reader = PktReader::new(super::ChunkReader::new(response.into_body()));
    // `# service=git-upload-pack`, flush, then the advertisement proper.
    match reader.read().await {
        Ok(Some(Pkt::Data(first))) if first.starts_with(b"# service=git-upload-pack") => {
            match reader.read().await {
                Ok(Some(Pkt::Flush)) => {}
                Ok(_) => return Err(job.protocol("no flush after the service announcement")),
                Err(e) => return Err(job.wire("reading the ref advertisement", e)),
            }
        }
        Ok(_) => return Err(job.protocol("the advertisement does not announce git-upload-pack")),
        Err(e) => return Err(job.wire("reading the ref advertisement", e)),
    }
    let lines = super::read_advertisement(job, &mut reader).await?;
    if lines.iter().map(Vec::len).sum::<usize>() as u64 > ADVERTISEMENT_LIMIT {
        return Err(job.protocol("the ref advertisement is unreasonably large"));
    }
    drop(reader);
    let (adv, plan) = job.plan(&lines)?;
    let (body, sideband) = protocol::build_request(&adv, plan.tip, plan.depth);

    let auth_header = credentials
        .as_deref()
        .filter(|_| endpoint.host == origin.host && endpoint.port == origin.port);
    let request = request(
        &endpoint,
        Method::POST,
        "/git-upload-pack",
        auth_header,
        Some(body),
    )?;
    let response = send(job, &endpoint, request).await?;
    let response = check_status(job, response, credentials.is_some()).await?;
    let kind = content_type(&response);
    if kind != "application/x-git-upload-pack-result" {
        return Err(job.protocol(format!(
            "the upload-pack response has content type `{kind}`"
        )));
    }
    let mut reader = PktReader::new(super::ChunkReader::new(response.into_body()));
    let pack = protocol::read_pack(&mut reader, sideband, MAX_PACK_BYTES)
        .await
        .map_err(|e| job.response(e))?;
    job.finish(&plan, &pack, None)
}

fn basic(user: &str, secret: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
    format!("Basic {encoded}")
}

fn request(
    endpoint: &Endpoint,
    method: Method,
    suffix: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Result<Request<Full<Bytes>>, GitError> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("{}{suffix}", endpoint.path))
        .header(hyper::header::HOST, endpoint.host_header())
        .header(hyper::header::USER_AGENT, USER_AGENT)
        .header("Git-Protocol", "version=0");
    if let Some(value) = authorization {
        let mut value =
            hyper::header::HeaderValue::from_str(value).map_err(|_| GitError::InvalidKey {
                what: "token",
                reason: "it contains characters that cannot be sent in an HTTP header".to_owned(),
            })?;
        value.set_sensitive(true);
        builder = builder.header(hyper::header::AUTHORIZATION, value);
    }
    let body = match body {
        Some(body) => {
            builder = builder
                .header(
                    hyper::header::CONTENT_TYPE,
                    "application/x-git-upload-pack-request",
                )
                .header(
                    hyper::header::ACCEPT,
                    "application/x-git-upload-pack-result",
                );
            Bytes::from(body)
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .map_err(|e| GitError::InvalidUrl {
            url: format!(
                "{}://{}{}",
                if endpoint.tls { "https" } else { "http" },
                endpoint.host_header(),
                endpoint.path
            ),
            reason: format!("cannot build a request for it: {e}"),
        })
}

/// A redirect's `Location` (absolute or absolute-path) as a new repository base.
fn redirect_target(current: &Endpoint, location: &str) -> Option<Endpoint> {
    let suffix = "/info/refs?service=git-upload-pack";
    let (mut next, path) = if location.starts_with('/') {
        (current.clone(), location.to_owned())
    } else {
        match Remote::parse(location).ok()? {
            Remote::Http {
                tls,
                host,
                port,
                path,
                ..
            } => {
                // Remote::parse dropped the query; the path still ends in `/info/refs`.
                (
                    Endpoint {
                        tls,
                        host,
                        port,
                        path: String::new(),
                    },
                    format!("{path}?service=git-upload-pack"),
                )
            }
            _ => return None,
        }
    };
    // Never downgrade from https to http.
    if current.tls && !next.tls {
        return None;
    }
    let base = path.strip_suffix(suffix).or_else(|| {
        path.split('?')
            .next()
            .and_then(|p| p.strip_suffix("/info/refs"))
    })?;
    next.path = base.trim_end_matches('/').to_owned();
    Some(next)
}

fn content_type(response: &Response<Incoming>) -> String {
    response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Passes 2xx responses through; turns the rest into errors with the server's words.
async fn check_status(
    job: &Job,
    response: Response<Incoming>,
    sent_credentials: bool,
) -> Result<Response<Incoming>, GitError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let mut text = Vec::new();
    let _ = super::ChunkReader::new(response.into_body())
        .take(2048)
        .read_to_end(&mut text)
        .await;
    let said = String::from_utf8_lossy(&text)
        .trim()
        .chars()
        .take(300)
        .collect::<String>();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!("; the server said: {said}")
    };
    let code = status.as_u16();
    Err(match status {
        StatusCode::UNAUTHORIZED if sent_credentials => GitError::AuthFailed {
            url: job.url.clone(),
            detail: format!(
                "the server rejected the token (HTTP {code}); check that it is valid and can read this repository{said}"
            ),
        },
        StatusCode::UNAUTHORIZED => GitError::AuthFailed {
            url: job.url.clone(),
            detail: format!(
                "the repository needs credentials (HTTP {code}); add an access token{said}"
            ),
        },
        StatusCode::FORBIDDEN => GitError::AuthFailed {
            url: job.url.clone(),
            detail: format!("access denied (HTTP {code}){said}"),
        },
        StatusCode::NOT_FOUND => GitError::RepositoryNotFound {
            url: job.url.clone(),
            detail: format!("HTTP {code}{said}"),
        },
        _ => GitError::Http {
            url: job.url.clone(),
            status: code,
            message: format!(
                "{}{said}",
                status.canonical_reason().unwrap_or("unexpected status")
            ),
        },
    })
}

/// Opens a connection (TLS when asked) and sends one request on it.
async fn send(
    job: &Job,
    endpoint: &Endpoint,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, GitError> {
    let tcp = super::connect_tcp(job, &endpoint.host, endpoint.port).await?;
    if !endpoint.tls {
        return send_on(job, tcp, request).await;
    }
    let tls_error = |message: String| GitError::Tls {
        url: job.url.clone(),
        message,
    };
    let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
        .map_err(|e| tls_error(format!("`{}` is not a valid TLS name: {e}", endpoint.host)))?;
    let connector = tokio_rustls::TlsConnector::from(tls_config().map_err(tls_error)?);
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| {
            tls_error(format!(
                "the handshake took longer than {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| tls_error(e.to_string()))?;
    send_on(job, tls, request).await
}

async fn send_on<T>(
    job: &Job,
    io: T,
    request: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, GitError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let http_error = |doing: &'static str, e: hyper::Error| job.io(doing, std::io::Error::other(e));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| http_error("starting HTTP", e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "git HTTP connection ended with an error");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| http_error("sending an HTTP request", e))
}

/// The TLS client settings, built once: bundled webpki roots plus any system roots.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let native = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(native.certs);
            tracing::debug!(system_roots = added, "TLS roots loaded");
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

impl super::Chunks for Incoming {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>> {
        loop {
            match ready!(Pin::new(&mut *self).poll_frame(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(std::io::Error::other(e)))),
                // Trailers and other frames carry no body bytes.
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(tls: bool, host: &str, path: &str) -> Endpoint {
        Endpoint {
            tls,
            host: host.into(),
            port: if tls { 443 } else { 80 },
            path: path.into(),
        }
    }

    #[test]
    fn follows_absolute_and_relative_redirects_without_downgrading() {
        let here = ep(true, "old.example", "/org/repo");
        let next = redirect_target(
            &here,
            "https://new.example/org/renamed.git/info/refs?service=git-upload-pack",
        );
        assert!(next == Some(ep(true, "new.example", "/org/renamed.git")));
        let next = redirect_target(&here, "/org/moved/info/refs?service=git-upload-pack");
        assert!(next == Some(ep(true, "old.example", "/org/moved")));
        assert!(redirect_target(&here, "http://old.example/org/repo/info/refs").is_none());
        assert!(redirect_target(&here, "https://x.example/login").is_none());
    }

    #[test]
    fn basic_auth_and_host_header() {
        assert_eq!(
            basic("x-access-token", "t0k"),
            "Basic eC1hY2Nlc3MtdG9rZW46dDBr"
        );
        assert_eq!(ep(true, "h", "").host_header(), "h");
        let mut e = ep(false, "::1", "");
        e.port = 8080;
        assert_eq!(e.host_header(), "[::1]:8080");
    }

    #[test]
    fn tls_config_has_roots_and_alpn() {
        let config = tls_config().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
