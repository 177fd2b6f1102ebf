//! The seam between Docker and the transport: a [`Dialer`] opens a byte stream to the server's
//! Docker socket, and a hyper connector turns those streams into pooled HTTP connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A bidirectional byte stream.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

pub type BoxStream = Box<dyn IoStream>;

/// Opens a new stream to the Docker socket of one server.
pub trait Dialer: Send + Sync + 'static {
    fn dial(&self) -> Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + '_>>;
    /// Where the stream goes, for error messages (`/var/run/docker.sock on prod`).
    fn describe(&self) -> String;
}

/// A dialed stream hyper can use as a connection.
pub(crate) struct Dialed(BoxStream);

impl AsyncRead for Dialed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Dialed {
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

impl Connection for Dialed {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

/// hyper connector that ignores the URI and dials the server's Docker socket.
#[derive(Clone)]
pub(crate) struct DialConnector(pub(crate) Arc<dyn Dialer>);

impl tower_service::Service<hyper::Uri> for DialConnector {
    type Response = TokioIo<Dialed>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: hyper::Uri) -> Self::Future {
        let dialer = self.0.clone();
        Box::pin(async move {
            let stream = dialer.dial().await?;
            Ok(TokioIo::new(Dialed(stream)))
        })
    }
}
