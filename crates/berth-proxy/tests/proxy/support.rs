//! Test harness: a real `caddy run --resume` per test in a private temp dir (killed on drop),
//! tiny HTTP upstreams that answer fixed bodies, and raw HTTP/HTTPS requests to Caddy.

use std::io;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_proxy::{
    AdminAddress, BoxStream, Caddy, Connect, LocalConnect, ProxySettings, Route, TlsMode,
    initial_config,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A free loopback port (the kernel's choice; there is a small window before Caddy binds it).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Where the admin API of a test Caddy listens.
pub enum Admin {
    Socket,
    Tcp,
}

/// A real Caddy, started from Berth's initial config, with its state in a temp dir.
pub struct CaddyProcess {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub settings: ProxySettings,
    pub connects: Arc<AtomicUsize>,
}

impl CaddyProcess {
    /// Starts Caddy with `routes` and waits until its admin API answers.
    pub async fn start(admin: Admin, tls: TlsMode, routes: &[Route]) -> CaddyProcess {
        let mut dir = tempfile::Builder::new()
            .prefix("berth-proxy-")
            .tempdir()
            .expect("temp dir");
        let mut last_log = String::new();
        for _ in 0..3 {
            let admin = match admin {
                Admin::Socket => AdminAddress::parse(&format!(
                    "unix:{}",
                    dir.path().join("admin.sock").display()
                ))
                .expect("socket address"),
                Admin::Tcp => AdminAddress::Tcp {
                    host: "127.0.0.1".into(),
                    port: free_port(),
                },
            };
            let settings = ProxySettings {
                admin,
                tls: tls.clone(),
                http_port: free_port(),
                https_port: free_port(),
            };
            let config = initial_config(&settings, routes);
            std::fs::write(
                dir.path().join("init.json"),
                serde_json::to_vec_pretty(&config).expect("json"),
            )
            .expect("write config");
            let mut caddy = CaddyProcess {
                dir,
                child: None,
                settings,
                connects: Arc::new(AtomicUsize::new(0)),
            };
            if caddy.spawn().await {
                return caddy;
            }
            // Most likely a port was taken in the meantime: try other ports.
            last_log = caddy.log();
            dir = caddy.into_dir();
        }
        panic!("caddy did not start; its log:\n{last_log}");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `caddy run --resume` and waits up to 15 s for its admin API; false if it exited.
    async fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("caddy.log"))
            .expect("log file");
        let child = Command::new("caddy")
            .args(["run", "--resume", "--config"])
            .arg(self.path("init.json"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_DATA_HOME", self.path("data"))
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("caddy is installed (apt-get install caddy)");
        self.child = Some(child);
        let client = self.client().with_timeout(Duration::from_secs(2));
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && child.try_wait().expect("try_wait").is_some()
            {
                self.child = None;
                return false;
            }
            if client.ping().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "caddy's admin API did not answer within 15 s; log:\n{}",
            self.log()
        );
    }

    fn into_dir(mut self) -> tempfile::TempDir {
        self.kill();
        let dir = tempfile::Builder::new()
            .prefix("berth-proxy-")
            .tempdir()
            .expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("caddy.log")).unwrap_or_default()
    }

    /// A client of this Caddy's admin API over a fresh [`LocalConnect`], counting connections.
    pub fn client(&self) -> Caddy {
        let connect = Counting {
            inner: LocalConnect::new(self.settings.admin.clone()),
            count: self.connects.clone(),
        };
        Caddy::new(Arc::new(connect), &self.settings.admin)
    }

    /// Kills Caddy and starts it again on the same state (`--resume`).
    pub async fn restart(&mut self) {
        self.kill();
        assert!(self.spawn().await, "caddy did not restart:\n{}", self.log());
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for CaddyProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Counts the streams opened, to see that connections are reused.
struct Counting {
    inner: LocalConnect,
    count: Arc<AtomicUsize>,
}

impl Connect for Counting {
    fn connect(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.inner.connect()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// An HTTP server on a loopback port answering every request with `body` after `delay`.
pub struct Upstream {
    pub dial: String,
    task: JoinHandle<()>,
}

impl Upstream {
    pub async fn start(body: &'static str, delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let dial = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    tokio::time::sleep(delay).await;
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Upstream { dial, task }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `GET /` with `Host: host` over `stream`: the status and the body.
async fn get_over<S>(mut stream: S, host: &str) -> (u16, String, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut response = Vec::new();
    // A TLS peer may end without close_notify; what was read is what counts.
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// A plain HTTP request to Caddy on `port`: status, head, body.
pub async fn http_get(port: u16, host: &str) -> (u16, String, String) {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to caddy");
    tokio::time::timeout(Duration::from_secs(10), get_over(stream, host))
        .await
        .expect("caddy answered within 10 s")
}

/// An HTTPS request to Caddy on `port` with SNI `host`, trusting any certificate.
pub async fn https_get(port: u16, host: &str) -> (u16, String, String) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("tls versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to caddy");
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .expect("tls handshake");
    tokio::time::timeout(Duration::from_secs(10), get_over(tls, host))
        .await
        .expect("caddy answered within 10 s")
}

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
