//! The upload-pack conversation (protocol v0/v1), independent of the transport: what to ask for
//! and how to read the answer back into a pack.

use tokio::io::AsyncRead;

use crate::oid::Oid;
use crate::pktline::{self, FLUSH, Pkt, PktReader, WireError};
use crate::refs::Advertisement;

pub(crate) const AGENT: &str = "agent=berth/0.1";

/// The request bytes (wants, deepen, flush, done) and whether the answer is side-band framed.
pub(crate) fn build_request(adv: &Advertisement, want: Oid, depth: u32) -> (Vec<u8>, bool) {
    let mut caps: Vec<&str> = Vec::new();
    let sideband = if adv.has_capability("side-band-64k") {
        caps.push("side-band-64k");
        true
    } else if adv.has_capability("side-band") {
        caps.push("side-band");
        true
    } else {
        false
    };
    for cap in ["ofs-delta", "shallow", "no-progress"] {
        if adv.has_capability(cap) {
            caps.push(cap);
        }
    }
    if adv.capabilities.iter().any(|c| c.starts_with("agent=")) {
        caps.push(AGENT);
    }
    let mut out = Vec::new();
    pktline::encode_into(
        &mut out,
        format!("want {want} {}\n", caps.join(" ")).as_bytes(),
    );
    if adv.has_capability("shallow") {
        pktline::encode_into(&mut out, format!("deepen {depth}\n").as_bytes());
    } else {
        tracing::warn!("the server does not support shallow fetches; fetching full history");
    }
    out.extend_from_slice(FLUSH);
    pktline::encode_into(&mut out, b"done\n");
    (out, sideband)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ResponseError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("{0}")]
    Server(String),
    #[error("the pack is over the size limit")]
    TooLarge,
}

/// Reads the server's answer to [`build_request`]: the shallow-update section, `NAK`, then the
/// pack (demultiplexed when `sideband`). Returns the raw pack bytes.
pub(crate) async fn read_pack<R: AsyncRead + Unpin>(
    reader: &mut PktReader<R>,
    sideband: bool,
    limit: u64,
) -> Result<Vec<u8>, ResponseError> {
    loop {
        match reader.read_required().await? {
            Pkt::Flush => continue,
            Pkt::Data(payload) => {
                let line = pktline::text(&payload);
                if line == "NAK" || line.starts_with("ACK ") {
                    break;
                }
                if line.starts_with("shallow ") || line.starts_with("unshallow ") {
                    continue;
                }
                if let Some(msg) = line.strip_prefix("ERR ") {
                    return Err(ResponseError::Server(msg.to_owned()));
                }
                // Some servers report fatal errors on band 3 before any NAK.
                if sideband && payload.first() == Some(&3) {
                    return Err(ResponseError::Server(pktline::text(&payload[1..])));
                }
                return Err(WireError::Malformed(format!(
                    "expected NAK or shallow lines, got {:?}",
                    truncate(&line)
                ))
                .into());
            }
        }
    }
    let mut pack = Vec::new();
    if !sideband {
        return if reader.read_to_end_limited(&mut pack, limit).await? {
            Ok(pack)
        } else {
            Err(ResponseError::TooLarge)
        };
    }
    loop {
        let payload = match reader.read().await? {
            None | Some(Pkt::Flush) => return Ok(pack),
            Some(Pkt::Data(payload)) => payload,
        };
        match payload.split_first() {
            Some((1, data)) => {
                if (pack.len() + data.len()) as u64 > limit {
                    return Err(ResponseError::TooLarge);
                }
                pack.extend_from_slice(data);
            }
            Some((2, progress)) => {
                tracing::debug!(progress = %pktline::text(progress).trim(), "git server");
            }
            Some((3, message)) => {
                return Err(ResponseError::Server(pktline::text(message)));
            }
            _ => {
                let line = pktline::text(&payload);
                if let Some(msg) = line.strip_prefix("ERR ") {
                    return Err(ResponseError::Server(msg.to_owned()));
                }
                return Err(WireError::Malformed(format!(
                    "unknown side-band channel in {:?}",
                    truncate(&line)
                ))
                .into());
            }
        }
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adv(caps: &str) -> Advertisement {
        Advertisement {
            refs: Vec::new(),
            capabilities: caps.split(' ').map(str::to_owned).collect(),
        }
    }

    const WANT: &str = "ce013625030ba8dba906f756967f9e9ca394464a";

    #[test]
    fn request_picks_offered_capabilities() {
        let want = Oid::from_hex(WANT).unwrap_or(Oid::ZERO);
        let (req, sideband) = build_request(
            &adv("multi_ack side-band side-band-64k ofs-delta shallow no-progress agent=git/2"),
            want,
            1,
        );
        assert!(sideband);
        assert_eq!(
            String::from_utf8_lossy(&req),
            format!(
                "006ewant {WANT} side-band-64k ofs-delta shallow no-progress agent=berth/0.1\n\
                 000ddeepen 1\n00000009done\n"
            )
        );
        let (req, sideband) = build_request(&adv("ofs-delta"), want, 50);
        assert!(!sideband);
        assert_eq!(
            String::from_utf8_lossy(&req),
            format!("003cwant {WANT} ofs-delta\n00000009done\n")
        );
    }

    fn wire(parts: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in parts {
            if p.is_empty() {
                out.extend_from_slice(FLUSH);
            } else {
                pktline::encode_into(&mut out, p);
            }
        }
        out
    }

    #[tokio::test]
    async fn reads_shallow_section_then_sideband_pack() {
        let data = wire(&[
            format!("shallow {WANT}\n").as_bytes(),
            b"",
            b"NAK\n",
            b"\x02Counting objects: 3\r",
            b"\x01PACK",
            b"\x01rest",
            b"",
        ]);
        let pack = read_pack(&mut PktReader::new(&data[..]), true, 1 << 20).await;
        assert_eq!(pack.ok().as_deref(), Some(&b"PACKrest"[..]));
    }

    #[tokio::test]
    async fn reads_raw_pack_without_sideband() {
        let mut data = wire(&[b"", b"NAK\n"]);
        data.extend_from_slice(b"PACK raw bytes");
        let pack = read_pack(&mut PktReader::new(&data[..]), false, 1 << 20).await;
        assert_eq!(pack.ok().as_deref(), Some(&b"PACK raw bytes"[..]));
    }

    #[tokio::test]
    async fn reports_server_errors_and_limits() {
        let data = wire(&[b"ERR upload-pack: not our ref\n"]);
        let err = read_pack(&mut PktReader::new(&data[..]), true, 1 << 20).await;
        assert!(
            matches!(err, Err(ResponseError::Server(ref m)) if m == "upload-pack: not our ref"),
            "{err:?}"
        );
        let data = wire(&[b"NAK\n", b"\x03fatal: out of memory\n"]);
        let err = read_pack(&mut PktReader::new(&data[..]), true, 1 << 20).await;
        assert!(
            matches!(err, Err(ResponseError::Server(ref m)) if m == "fatal: out of memory"),
            "{err:?}"
        );
        let data = wire(&[b"NAK\n", b"\x01PACKPACKPACK"]);
        let err = read_pack(&mut PktReader::new(&data[..]), true, 8).await;
        assert!(matches!(err, Err(ResponseError::TooLarge)), "{err:?}");
        let err = read_pack(&mut PktReader::new(&b""[..]), true, 8).await;
        assert!(matches!(err, Err(ResponseError::Wire(_))), "{err:?}");
    }
}
