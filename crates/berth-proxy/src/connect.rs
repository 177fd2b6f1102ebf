//! The seam between Caddy and the transport: a [`Connect`] opens a byte stream to the admin
//! endpoint, and a hyper connector turns those streams into pooled HTTP connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::address::AdminAddress;

/// A bidirectional byte stream.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

pub type BoxStream = Box<dyn IoStream>;

/// Opens a new byte stream to Caddy's admin endpoint on one host (over SSH, or directly).
pub trait Connect: Send + Sync + 'static {
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>>;
    /// Where the stream goes, for messages: `the Caddy admin socket /run/berth-proxy/admin.sock on prod`.
    fn describe(&self) -> String;
}

/// Connects to an admin endpoint on this machine: a local Caddy (the relay, tests).
#[derive(Debug, Clone)]
pub struct LocalConnect {
    address: AdminAddress,
}

impl LocalConnect {
    pub fn new(address: AdminAddress) -> LocalConnect {
        LocalConnect { address }
    }
}

impl Connect for LocalConnect {
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>> {
        Box::pin(async move {
            match &self.address {
                #[cfg(unix)]
                AdminAddress::Unix(path) => {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok(Box::new(stream) as BoxStream)
                }
                #[cfg(not(unix))]
                AdminAddress::Unix(_) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "unix sockets are not supported on this system",
                )),
                AdminAddress::Tcp { host, port } => {
                    let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                    stream.set_nodelay(true)?;
                    Ok(Box::new(stream) as BoxStream)
                }
            }
        })
    }

    fn describe(&self) -> String {
        match &self.address {
            AdminAddress::Unix(path) => format!("the Caddy admin socket {path}"),
            AdminAddress::Tcp { .. } => format!("the Caddy admin endpoint {}", self.address),
        }
    }
}

/// A connected stream hyper can use as a connection.
pub(crate) struct AdminStream(BoxStream);

impl AsyncRead for AdminStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for AdminStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl Connection for AdminStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// hyper connector that ignores the URI and opens a stream to the admin endpoint.
#[derive(Clone)]
pub(crate) struct AdminConnector(pub(crate) Arc<dyn Connect>);

impl tower_service::Service<hyper::Uri> for AdminConnector {
    type Response = TokioIo<AdminStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: hyper::Uri) -> Self::Future {
        let connect = self.0.clone();
        Box::pin(async move {
            let stream = connect.connect().await?;
            tracing::debug!(target_endpoint = %connect.describe(), "caddy admin connection opened");
            Ok(TokioIo::new(AdminStream(stream)))
        })
    }
}
