//! The three ways to reach upload-pack: `git://`, smart HTTP(S) and SSH. Stream transports
//! (`git://`, SSH) share [`converse`]; HTTP splits the same conversation into two requests.

pub(crate) mod git;
pub(crate) mod http;
pub(crate) mod ssh;

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::pktline::{Pkt, PktReader};
use crate::{CONNECT_TIMEOUT, GitError, Job, MAX_PACK_BYTES, Snapshot, protocol};

/// Opens a TCP connection, giving up after [`CONNECT_TIMEOUT`].
pub(crate) async fn connect_tcp(job: &Job, host: &str, port: u16) -> Result<TcpStream, GitError> {
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host, port))).await {
        Ok(Ok(tcp)) => {
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
        Ok(Err(source)) => Err(GitError::Connect {
            url: job.url.clone(),
            address,
            source,
        }),
        Err(_) => Err(GitError::ConnectTimeout {
            url: job.url.clone(),
            address,
            seconds: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

/// Reads pkt-lines up to the flush that ends a ref advertisement.
pub(crate) async fn read_advertisement<R: AsyncRead + Unpin>(
    job: &Job,
    reader: &mut PktReader<R>,
) -> Result<Vec<Vec<u8>>, GitError> {
    let mut lines = Vec::new();
    loop {
        match reader.read().await {
            Ok(Some(Pkt::Flush)) => return Ok(lines),
            Ok(Some(Pkt::Data(line))) => {
                // An `ERR` line ends the advertisement early (git daemon refusing a path).
                let err = line.starts_with(b"ERR ");
                lines.push(line);
                if err || lines.len() > 1_000_000 {
                    return Ok(lines);
                }
            }
            Ok(None) if lines.is_empty() => {
                return Err(job.protocol(
                    "the server closed the connection without listing any refs; is this a git repository?",
                ));
            }
            Ok(None) => return Ok(lines),
            Err(e) => return Err(job.wire("reading the ref advertisement", e)),
        }
    }
}

/// The whole upload-pack conversation over one bidirectional byte stream.
pub(crate) async fn converse<R, W>(
    job: &Job,
    reader: R,
    writer: &mut W,
    host_key: Option<String>,
) -> Result<Snapshot, GitError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = PktReader::new(reader);
    let lines = read_advertisement(job, &mut reader).await?;
    let (adv, plan) = job.plan(&lines)?;
    let (request, sideband) = protocol::build_request(&adv, plan.tip, plan.depth);
    writer
        .write_all(&request)
        .await
        .map_err(|e| job.io("sending the request", e))?;
    writer
        .flush()
        .await
        .map_err(|e| job.io("sending the request", e))?;
    let pack = protocol::read_pack(&mut reader, sideband, MAX_PACK_BYTES)
        .await
        .map_err(|e| job.response(e))?;
    job.finish(&plan, &pack, host_key)
}

/// Where a [`ChunkReader`] gets its bytes: an HTTP response body, an SSH channel's output.
pub(crate) trait Chunks: Unpin {
    /// The next piece; `None` at the end.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<std::io::Result<Bytes>>>;
}

/// Pieces of bytes read as one byte stream.
pub(crate) struct ChunkReader<C> {
    source: C,
    chunk: Bytes,
}

impl<C> ChunkReader<C> {
    pub(crate) fn new(source: C) -> Self {
        ChunkReader {
            source,
            chunk: Bytes::new(),
        }
    }
}

impl<C: Chunks> AsyncRead for ChunkReader<C> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        while this.chunk.is_empty() {
            match ready!(this.source.poll_chunk(cx)) {
                Some(Ok(data)) => this.chunk = data,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = buf.remaining().min(this.chunk.len());
        buf.put_slice(&this.chunk.split_to(n));
        Poll::Ready(Ok(()))
    }
}
