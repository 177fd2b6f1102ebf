//! Entry points for the fuzz targets in `crates/berth-git/fuzz`: every parser that reads bytes
//! a git server sent (inside the relay, from any git URL an app names). Not an API: each takes
//! arbitrary bytes and must return — never panic, never allocate without a limit.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use crate::pack;
use crate::pktline::{Pkt, PktReader};
use crate::protocol::read_pack;
use crate::refs::Advertisement;
use crate::tree;

/// Runs a future that never waits (it reads from a byte slice) to its end.
fn finish<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The start of a conversation: pkt-lines, the ref advertisement they carry, and — read again
/// from the top — the answer to a fetch (shallow lines, NAK, a side-band pack), both ways.
pub fn wire(data: &[u8]) {
    finish(async {
        let mut reader = PktReader::new(data);
        let mut lines = Vec::new();
        while let Ok(Some(Pkt::Data(payload))) = reader.read().await {
            lines.push(payload);
            if lines.len() > 10_000 {
                break;
            }
        }
        if let Ok(adv) = Advertisement::parse(lines.iter().map(Vec::as_slice)) {
            let _ = adv.has_capability("side-band-64k");
            let _ = adv.resolve("main");
            let _ = adv.resolve("refs/tags/v1");
        }
        for sideband in [true, false] {
            let _ = read_pack(&mut PktReader::new(data), sideband, 1 << 20).await;
        }
    });
}

/// A pack: its entries, deltas resolved, and every commit's tree walked into files.
pub fn pack(data: &[u8]) {
    let Ok(objects) = pack::parse(data) else {
        return;
    };
    for oid in objects.commits().take(16).collect::<Vec<_>>() {
        if let Some((_, body)) = objects.get(&oid)
            && let Ok(commit) = tree::parse_commit(body)
        {
            let _ = tree::files(&objects, commit.tree, 1000);
        }
    }
}

/// A delta against a base: the first byte says how much of the rest is the base.
pub fn delta(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (base, delta) = rest.split_at(usize::from(n).min(rest.len()));
    let _ = pack::apply_delta(base, delta);
}

/// One object's body read as a commit, a tag and a tree.
pub fn objects(data: &[u8]) {
    let _ = tree::parse_commit(data);
    let _ = tree::tag_target(data);
    let _ = tree::parse_tree(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the fuzz targets run, on inputs that reach deep into each parser.
    #[test]
    fn every_entry_point_returns_on_odd_input() {
        for input in [
            &b""[..],
            b"0000",
            b"003f0123456789012345678901234567890123456789 HEAD\0side-band-64k\n0000",
            b"0008NAK\n0010\x01PACK\0\0\0\x02",
            b"PACK\0\0\0\x02\0\0\0\x01\x95\x0a",
            b"\x03abc\x03\x05\x90\x01",
            b"tree 0123456789012345678901234567890123456789\n\nsubject",
            b"100644 a\0\x01\x02",
        ] {
            wire(input);
            pack(input);
            delta(input);
            objects(input);
        }
    }
}
