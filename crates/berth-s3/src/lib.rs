//! Backups kept in S3-compatible object storage (AWS S3, MinIO, Garage, Ceph, Backblaze B2,
//! Cloudflare R2, …): the few calls Berth needs — put (a file in 8 MiB multipart pieces, never
//! whole in memory), get (streamed), list, delete — signed with AWS Signature Version 4 and
//! sent over hyper, with rustls for `https`.
//!
//! An endpoint given by the user is addressed path-style (`https://host/bucket/key`), which
//! every S3-compatible server understands; AWS itself (no endpoint) virtual-hosted
//! (`https://bucket.s3.REGION.amazonaws.com/key`).

pub mod sigv4;
mod xml;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Pieces of a multipart upload (S3 wants at least 5 MiB but for the last).
const PART: usize = 8 * 1024 * 1024;
/// How long a server has to accept a connection and answer a request's headers.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong talking to the storage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum S3Error {
    #[error(
        "`{0}` is not an S3 endpoint: give its URL, like https://s3.example.com or http://127.0.0.1:9000"
    )]
    Endpoint(String),
    #[error("cannot reach {host}: {message}")]
    Unreachable { host: String, message: String },
    #[error("{host} did not answer within {} s", ANSWER_TIMEOUT.as_secs())]
    Timeout { host: String },
    #[error("{key} is not in bucket {bucket}")]
    NotFound { bucket: String, key: String },
    #[error("{host} refused: {code} ({status}){}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Refused {
        host: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("reading {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Access to one bucket.
#[derive(Clone)]
pub struct Bucket {
    https: bool,
    host: String,
    port: u16,
    bucket: String,
    region: String,
    path_style: bool,
    access_key_id: String,
    secret_access_key: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bucket({} on {})", self.bucket, self.host)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
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

impl Bucket {
    /// `bucket` at `endpoint` (`None`: AWS in `region`), signed as `access_key_id`.
    pub fn new(
        endpoint: Option<&str>,
        bucket: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> Result<Bucket, S3Error> {
        let (https, host, port, path_style) = match endpoint {
            Some(url) => {
                let bad = || S3Error::Endpoint(url.to_owned());
                let uri: hyper::Uri = url.trim().parse().map_err(|_| bad())?;
                let https = match uri.scheme_str() {
                    Some("https") => true,
                    Some("http") => false,
                    _ => return Err(bad()),
                };
                if !uri.path().trim_matches('/').is_empty() {
                    return Err(bad());
                }
                let host = uri.host().ok_or_else(bad)?.to_owned();
                let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
                (https, host, port, true)
            }
            None => (
                true,
                format!("{bucket}.s3.{region}.amazonaws.com"),
                443,
                false,
            ),
        };
        Ok(Bucket {
            https,
            host,
            port,
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            path_style,
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
        })
    }

    /// The `Host` header: the port only when it is not the scheme's.
    fn host_header(&self) -> String {
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The request path of `key` (encoded), `None`: the bucket itself.
    fn path(&self, key: Option<&str>) -> String {
        let key = key.map(|k| sigv4::uri_encode(k, true)).unwrap_or_default();
        if self.path_style {
            match key.is_empty() {
                true => format!("/{}", sigv4::uri_encode(&self.bucket, false)),
                false => format!("/{}/{key}", sigv4::uri_encode(&self.bucket, false)),
            }
        } else {
            format!("/{key}")
        }
    }

    /// Sends one signed request; a 404 is [`S3Error::NotFound`], any other failure status the
    /// service's own code and message.
    async fn send(
        &self,
        method: Method,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response<Incoming>, S3Error> {
        let path = self.path(key);
        let query = sigv4::canonical_query(query);
        let payload = sigv4::sha256_hex(&body);
        let date = sigv4::amz_date(now_ms());
        let host = self.host_header();
        let auth = sigv4::authorization(
            &sigv4::Credentials {
                access_key_id: &self.access_key_id,
                secret_access_key: &self.secret_access_key,
                region: &self.region,
            },
            method.as_str(),
            &path,
            &query,
            &[
                ("host", &host),
                ("x-amz-content-sha256", &payload),
                ("x-amz-date", &date),
            ],
            &payload,
            &date,
        );
        let uri = match query.is_empty() {
            true => path,
            false => format!("{path}?{query}"),
        };
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(hyper::header::HOST, &host)
            .header("x-amz-content-sha256", &payload)
            .header("x-amz-date", &date)
            .header(hyper::header::AUTHORIZATION, auth)
            .header(hyper::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body))
            .map_err(|e| S3Error::Endpoint(e.to_string()))?;
        let exchange = async {
            let unreachable = |message: String| S3Error::Unreachable {
                host: self.host.clone(),
                message,
            };
            let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            let _ = tcp.set_nodelay(true);
            if self.https {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| unreachable(e.to_string()))?;
                let tls = tokio_rustls::TlsConnector::from(tls_config().map_err(unreachable)?)
                    .connect(name, tcp)
                    .await
                    .map_err(|e| unreachable(format!("TLS: {e}")))?;
                send_on(TokioIo::new(tls), req).await.map_err(unreachable)
            } else {
                send_on(TokioIo::new(tcp), req).await.map_err(unreachable)
            }
        };
        let resp = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
            .await
            .map_err(|_| S3Error::Timeout {
                host: self.host.clone(),
            })??;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status == StatusCode::NOT_FOUND {
            return Err(S3Error::NotFound {
                bucket: self.bucket.clone(),
                key: key.unwrap_or_default().to_owned(),
            });
        }
        let body = read_small(resp).await.unwrap_or_default();
        Err(self.refused(status.as_u16(), &body))
    }

    fn refused(&self, status: u16, body: &str) -> S3Error {
        S3Error::Refused {
            host: self.host.clone(),
            status,
            code: xml::first(body, "Code").unwrap_or_else(|| "an error".to_owned()),
            message: xml::first(body, "Message").unwrap_or_default(),
        }
    }

    /// Writes `bytes` as `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), S3Error> {
        self.send(Method::PUT, Some(key), &[], bytes).await?;
        Ok(())
    }

    /// Writes the file at `path` as `key`: one request for a small file, a multipart upload
    /// of 8 MiB pieces for a larger one (aborted if a piece fails), never whole in memory.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), S3Error> {
        let io = |source| S3Error::Io {
            what: path.display().to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let size = file.metadata().await.map_err(io)?.len();
        if size <= PART as u64 {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await.map_err(io)?;
            return self.put(key, Bytes::from(bytes)).await;
        }
        let started = self
            .send(Method::POST, Some(key), &[("uploads", "")], Bytes::new())
            .await?;
        let body = read_small(started).await.unwrap_or_default();
        let upload_id = xml::first(&body, "UploadId").ok_or_else(|| self.refused(200, &body))?;
        let uploaded = self.upload_parts(key, &upload_id, &mut file).await;
        let completed = match uploaded {
            Ok(etags) => self.complete(key, &upload_id, &etags).await,
            Err(e) => Err(e),
        };
        if completed.is_err() {
            let _ = self
                .send(
                    Method::DELETE,
                    Some(key),
                    &[("uploadId", &upload_id)],
                    Bytes::new(),
                )
                .await;
        }
        completed
    }

    async fn upload_parts(
        &self,
        key: &str,
        upload_id: &str,
        file: &mut tokio::fs::File,
    ) -> Result<Vec<String>, S3Error> {
        let mut etags = Vec::new();
        loop {
            let mut part = Vec::with_capacity(PART);
            (&mut *file)
                .take(PART as u64)
                .read_to_end(&mut part)
                .await
                .map_err(|source| S3Error::Io {
                    what: "the spooled backup".to_owned(),
                    source,
                })?;
            if part.is_empty() {
                return Ok(etags);
            }
            let number = (etags.len() + 1).to_string();
            let resp = self
                .send(
                    Method::PUT,
                    Some(key),
                    &[("partNumber", &number), ("uploadId", upload_id)],
                    Bytes::from(part),
                )
                .await?;
            let etag = resp
                .headers()
                .get(hyper::header::ETAG)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            etags.push(etag);
        }
    }

    async fn complete(&self, key: &str, upload_id: &str, etags: &[String]) -> Result<(), S3Error> {
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (i, etag) in etags.iter().enumerate() {
            doc.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                i + 1,
                xml::escape(etag)
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let resp = self
            .send(
                Method::POST,
                Some(key),
                &[("uploadId", upload_id)],
                Bytes::from(doc),
            )
            .await?;
        // S3 may answer 200 and still have failed: the error is in the body.
        let body = read_small(resp).await.unwrap_or_default();
        if body.contains("<Error>") {
            return Err(self.refused(200, &body));
        }
        Ok(())
    }

    /// The object `key`: its size and a reader of it, streamed.
    pub async fn get(
        &self,
        key: &str,
    ) -> Result<(u64, Box<dyn AsyncRead + Send + Unpin>), S3Error> {
        let resp = self.send(Method::GET, Some(key), &[], Bytes::new()).await?;
        let size = resp
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let stream =
            http_body_util::BodyDataStream::new(resp.into_body()).map_err(std::io::Error::other);
        Ok((size, Box::new(tokio_util::io::StreamReader::new(stream))))
    }

    /// The keys under `prefix`, in the order the service gives (by key).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix)];
            if let Some(t) = &token {
                query.push(("continuation-token", t));
            }
            let resp = self.send(Method::GET, None, &query, Bytes::new()).await?;
            let body = read_small(resp).await.map_err(|e| S3Error::Unreachable {
                host: self.host.clone(),
                message: e,
            })?;
            keys.extend(xml::all(&body, "Key"));
            match xml::first(&body, "NextContinuationToken") {
                Some(next) if xml::first(&body, "IsTruncated").as_deref() == Some("true") => {
                    token = Some(next);
                }
                _ => return Ok(keys),
            }
        }
    }

    /// Removes `key` (a missing one is no error: S3 says the same).
    pub async fn delete(&self, key: &str) -> Result<(), S3Error> {
        match self
            .send(Method::DELETE, Some(key), &[], Bytes::new())
            .await
        {
            Ok(_) | Err(S3Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

async fn send_on<T>(io: T, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("s3 connection: {e}");
        }
    });
    sender.send_request(req).await.map_err(|e| e.to_string())
}

/// A response body that is a small document (an error, a listing), as text.
async fn read_small(resp: Response<Incoming>) -> Result<String, String> {
    let limited = http_body_util::Limited::new(resp.into_body(), 16 * 1024 * 1024);
    let bytes = limited
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
