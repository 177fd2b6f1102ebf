//! pkt-line framing: four hex digits of length (including themselves), then the payload;
//! `0000` is a flush packet.

use tokio::io::{AsyncRead, AsyncReadExt, BufReader};

/// The largest pkt-line the protocol allows (`LARGE_PACKET_MAX`).
pub(crate) const MAX_PKT_LEN: usize = 65520;

pub(crate) const FLUSH: &[u8] = b"0000";

/// One decoded packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pkt {
    Flush,
    Data(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Malformed(String),
}

/// Appends `payload` as one pkt-line to `out`.
pub(crate) fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    debug_assert!(payload.len() + 4 <= MAX_PKT_LEN);
    out.extend_from_slice(format!("{:04x}", payload.len() + 4).as_bytes());
    out.extend_from_slice(payload);
}

/// `payload` as one pkt-line.
pub(crate) fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    encode_into(&mut out, payload);
    out
}

/// The length a 4-byte pkt-line header announces, or why it is not one.
pub(crate) fn parse_len(header: &[u8; 4]) -> Result<usize, WireError> {
    let text = std::str::from_utf8(header)
        .ok()
        .filter(|t| t.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(text) = text else {
        return Err(WireError::Malformed(format!(
            "bad pkt-line length {:?}",
            String::from_utf8_lossy(header)
        )));
    };
    let len = usize::from_str_radix(text, 16)
        .map_err(|e| WireError::Malformed(format!("bad pkt-line length {text:?}: {e}")))?;
    if len != 0 && !(4..=MAX_PKT_LEN).contains(&len) {
        // 0001 (delim) and 0002 (response-end) belong to protocol v2, which is never requested.
        return Err(WireError::Malformed(format!(
            "pkt-line length {len} is out of range"
        )));
    }
    Ok(len)
}

/// Reads pkt-lines (and, after a pack starts without side-band, raw bytes) from a byte stream.
pub(crate) struct PktReader<R> {
    inner: BufReader<R>,
}

impl<R: AsyncRead + Unpin> PktReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        PktReader {
            inner: BufReader::with_capacity(128 * 1024, inner),
        }
    }

    /// The next packet, or `None` if the stream ended cleanly between packets.
    pub(crate) async fn read(&mut self) -> Result<Option<Pkt>, WireError> {
        let mut header = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            let n = self.inner.read(&mut header[got..]).await?;
            if n == 0 {
                if got == 0 {
                    return Ok(None);
                }
                return Err(WireError::Malformed(
                    "the stream ended inside a pkt-line header".to_owned(),
                ));
            }
            got += n;
        }
        let len = parse_len(&header)?;
        if len == 0 {
            return Ok(Some(Pkt::Flush));
        }
        let mut payload = vec![0u8; len - 4];
        self.inner.read_exact(&mut payload).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                WireError::Malformed("the stream ended inside a pkt-line".to_owned())
            } else {
                WireError::Io(e)
            }
        })?;
        Ok(Some(Pkt::Data(payload)))
    }

    /// Like [`Self::read`], but a stream end is an error.
    pub(crate) async fn read_required(&mut self) -> Result<Pkt, WireError> {
        self.read().await?.ok_or_else(|| {
            WireError::Malformed("the connection closed before the server finished".to_owned())
        })
    }

    /// Appends everything left in the stream to `out`; `Ok(false)` once `out` would exceed
    /// `limit` bytes.
    pub(crate) async fn read_to_end_limited(
        &mut self,
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<bool, WireError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.inner.read(&mut buf).await?;
            if n == 0 {
                return Ok(true);
            }
            if (out.len() + n) as u64 > limit {
                return Ok(false);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }
}

/// A packet's payload as text without its trailing newline (lossy), for comparisons and messages.
pub(crate) fn text(payload: &[u8]) -> String {
    let s = String::from_utf8_lossy(payload);
    s.strip_suffix('\n').unwrap_or(&s).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_hex_length_including_header() {
        assert_eq!(encode(b"want x\n"), b"000bwant x\n");
        assert_eq!(encode(b""), b"0004");
        let mut out = Vec::new();
        encode_into(&mut out, b"done\n");
        out.extend_from_slice(FLUSH);
        assert_eq!(out, b"0009done\n0000");
    }

    #[test]
    fn parses_lengths_and_rejects_garbage() {
        assert_eq!(parse_len(b"0000").ok(), Some(0));
        assert_eq!(parse_len(b"001e").ok(), Some(30));
        assert_eq!(parse_len(b"fff0").ok(), Some(MAX_PKT_LEN));
        for bad in [b"fff1", b"0001", b"0003", b"zzzz", b"00 4"] {
            assert!(
                parse_len(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn decodes_a_stream_of_packets() {
        let mut wire = Vec::new();
        encode_into(&mut wire, b"# service=git-upload-pack\n");
        wire.extend_from_slice(FLUSH);
        encode_into(&mut wire, &[1, 2, 3, 0, 255]);
        wire.extend_from_slice(b"raw tail");
        let mut reader = PktReader::new(&wire[..]);
        assert_eq!(
            reader.read().await.ok().flatten(),
            Some(Pkt::Data(b"# service=git-upload-pack\n".to_vec()))
        );
        assert_eq!(reader.read().await.ok().flatten(), Some(Pkt::Flush));
        assert_eq!(
            reader.read().await.ok().flatten(),
            Some(Pkt::Data(vec![1, 2, 3, 0, 255]))
        );
        let mut rest = Vec::new();
        assert!(matches!(
            reader.read_to_end_limited(&mut rest, 100).await,
            Ok(true)
        ));
        assert_eq!(rest, b"raw tail");
    }

    #[tokio::test]
    async fn truncated_packets_are_errors_and_clean_end_is_none() {
        assert!(matches!(PktReader::new(&b""[..]).read().await, Ok(None)));
        assert!(PktReader::new(&b"00"[..]).read().await.is_err());
        assert!(PktReader::new(&b"0010abc"[..]).read().await.is_err());
        let mut big = Vec::new();
        assert!(matches!(
            PktReader::new(&b"0123456789"[..])
                .read_to_end_limited(&mut big, 4)
                .await,
            Ok(false)
        ));
    }
}
