//! Packfiles (version 2 and 3): entries, zlib streams, OFS/REF deltas, and the objects they hold.

use std::collections::HashMap;

use flate2::{Decompress, FlushDecompress, Status};
use sha1::{Digest, Sha1};

use crate::oid::{ObjectKind, Oid};

/// Every object of a pack, by id, fully resolved.
#[derive(Default)]
pub(crate) struct Objects {
    map: HashMap<Oid, (ObjectKind, Vec<u8>)>,
}

impl Objects {
    pub(crate) fn get(&self, oid: &Oid) -> Option<(ObjectKind, &[u8])> {
        self.map.get(oid).map(|(k, d)| (*k, d.as_slice()))
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Ids of every commit in the pack.
    pub(crate) fn commits(&self) -> impl Iterator<Item = Oid> + '_ {
        self.map
            .iter()
            .filter(|(_, (k, _))| *k == ObjectKind::Commit)
            .map(|(oid, _)| *oid)
    }
}

enum EntryKind {
    Whole(ObjectKind),
    /// Delta against the entry with this index (an earlier offset in the pack).
    OfsDelta(usize),
    RefDelta(Oid),
}

struct Entry {
    kind: EntryKind,
    /// Inflated data: the object itself, or the delta instructions.
    data: Vec<u8>,
}

/// Reads a whole pack held in memory. Errors are plain descriptions of what is wrong.
pub(crate) fn parse(pack: &[u8]) -> Result<Objects, String> {
    if pack.len() < 12 + 20 {
        return Err(format!("only {} bytes, too short for a pack", pack.len()));
    }
    if &pack[..4] != b"PACK" {
        return Err("it does not start with the PACK signature".to_owned());
    }
    let version = u32::from_be_bytes([pack[4], pack[5], pack[6], pack[7]]);
    if version != 2 && version != 3 {
        return Err(format!("unsupported pack version {version}"));
    }
    let count = u32::from_be_bytes([pack[8], pack[9], pack[10], pack[11]]) as usize;

    let mut entries: Vec<Entry> = Vec::with_capacity(count.min(1 << 20));
    let mut index_at_offset: HashMap<usize, usize> = HashMap::with_capacity(count.min(1 << 20));
    let mut pos = 12;
    for n in 0..count {
        let start = pos;
        let byte = |pos: &mut usize| -> Result<u8, String> {
            let b = *pack
                .get(*pos)
                .ok_or_else(|| format!("entry {n} at offset {start} is cut off"))?;
            *pos += 1;
            Ok(b)
        };
        let mut c = byte(&mut pos)?;
        let type_bits = (c >> 4) & 7;
        let mut size = (c & 15) as u64;
        let mut shift = 4;
        while c & 0x80 != 0 {
            c = byte(&mut pos)?;
            if shift > 57 {
                return Err(format!(
                    "entry {n} at offset {start} has an oversized length"
                ));
            }
            size |= ((c & 0x7f) as u64) << shift;
            shift += 7;
        }
        let size = usize::try_from(size)
            .map_err(|_| format!("entry {n} at offset {start} is too large"))?;
        let kind = match type_bits {
            1 => EntryKind::Whole(ObjectKind::Commit),
            2 => EntryKind::Whole(ObjectKind::Tree),
            3 => EntryKind::Whole(ObjectKind::Blob),
            4 => EntryKind::Whole(ObjectKind::Tag),
            6 => {
                let mut c = byte(&mut pos)?;
                let mut back = (c & 0x7f) as usize;
                while c & 0x80 != 0 {
                    c = byte(&mut pos)?;
                    back = back
                        .checked_add(1)
                        .and_then(|b| b.checked_mul(128))
                        .map(|b| b + (c & 0x7f) as usize)
                        .ok_or_else(|| format!("entry {n} has an oversized base offset"))?;
                }
                let base = start
                    .checked_sub(back)
                    .filter(|_| back > 0)
                    .and_then(|off| index_at_offset.get(&off))
                    .ok_or_else(|| {
                        format!("entry {n} at offset {start} is a delta against a missing offset")
                    })?;
                EntryKind::OfsDelta(*base)
            }
            7 => {
                let raw = pack
                    .get(pos..pos + 20)
                    .ok_or_else(|| format!("entry {n} at offset {start} is cut off"))?;
                pos += 20;
                EntryKind::RefDelta(Oid::from_slice(raw).unwrap_or(Oid::ZERO))
            }
            t => return Err(format!("entry {n} at offset {start} has unknown type {t}")),
        };
        let (data, used) =
            inflate(&pack[pos..], size).map_err(|e| format!("entry {n} at offset {start}: {e}"))?;
        pos += used;
        index_at_offset.insert(start, entries.len());
        entries.push(Entry { kind, data });
    }

    let trailer = pack
        .get(pos..pos + 20)
        .ok_or_else(|| "the pack ends without its checksum".to_owned())?;
    let digest: [u8; 20] = Sha1::digest(&pack[..pos]).into();
    if digest != trailer {
        return Err("the pack checksum does not match its content".to_owned());
    }
    resolve(entries)
}

/// Turns entries into objects, applying each delta once its base is known.
fn resolve(entries: Vec<Entry>) -> Result<Objects, String> {
    let mut objects = Objects::default();
    let mut by_base_index: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut by_base_oid: HashMap<Oid, Vec<usize>> = HashMap::new();
    let mut ready: Vec<(usize, Oid)> = Vec::new();
    let mut deltas: Vec<Option<Vec<u8>>> = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        match entry.kind {
            EntryKind::Whole(kind) => {
                let oid = Oid::of(kind, &entry.data);
                objects.map.insert(oid, (kind, entry.data));
                ready.push((i, oid));
                deltas.push(None);
            }
            EntryKind::OfsDelta(base) => {
                by_base_index.entry(base).or_default().push(i);
                deltas.push(Some(entry.data));
            }
            EntryKind::RefDelta(base) => {
                by_base_oid.entry(base).or_default().push(i);
                deltas.push(Some(entry.data));
            }
        }
    }
    let mut pending = deltas.iter().filter(|d| d.is_some()).count();
    tracing::debug!(entries = deltas.len(), deltas = pending, "resolving pack");
    while let Some((index, oid)) = ready.pop() {
        let mut children = by_base_index.remove(&index).unwrap_or_default();
        children.extend(by_base_oid.remove(&oid).unwrap_or_default());
        if children.is_empty() {
            continue;
        }
        let Some((kind, base)) = objects.map.get(&oid) else {
            continue;
        };
        let kind = *kind;
        let mut made = Vec::with_capacity(children.len());
        for child in children {
            let Some(delta) = deltas[child].take() else {
                continue;
            };
            let data = apply_delta(base, &delta)?;
            made.push((child, Oid::of(kind, &data), data));
        }
        for (child, child_oid, data) in made {
            objects.map.insert(child_oid, (kind, data));
            ready.push((child, child_oid));
            pending -= 1;
        }
    }
    if pending > 0 {
        let missing: Vec<String> = by_base_oid.keys().take(3).map(|o| o.to_hex()).collect();
        return Err(format!(
            "{pending} deltas have bases that are not in the pack (for example {})",
            if missing.is_empty() {
                "an unknown offset".to_owned()
            } else {
                missing.join(", ")
            }
        ));
    }
    Ok(objects)
}

/// Inflates one zlib stream at the start of `input` that must produce exactly `size` bytes.
/// Returns the data and how many input bytes the stream used.
fn inflate(input: &[u8], size: usize) -> Result<(Vec<u8>, usize), String> {
    const STEP: usize = 64 << 20;
    let mut z = Decompress::new(true);
    let mut out = Vec::with_capacity(size.min(STEP) + 1);
    loop {
        if out.len() == out.capacity() {
            let extra = if out.len() >= size {
                1
            } else {
                (size - out.len()).min(STEP)
            };
            out.reserve_exact(extra);
        }
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let consumed = in_before as usize;
        let status = z
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::None)
            .map_err(|e| format!("bad zlib data: {e}"))?;
        if out.len() > size {
            return Err(format!(
                "the data is longer than the {size} bytes announced"
            ));
        }
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if z.total_in() == in_before && z.total_out() == out_before {
                    return Err("the compressed data is cut off".to_owned());
                }
            }
        }
    }
    if out.len() != size {
        return Err(format!(
            "{} bytes inflated but {size} were announced",
            out.len()
        ));
    }
    Ok((out, z.total_in() as usize))
}

/// Applies git delta instructions to `base`.
pub(crate) fn apply_delta(base: &[u8], delta: &[u8]) -> Result<Vec<u8>, String> {
    let mut pos = 0;
    let varint = |pos: &mut usize| -> Result<usize, String> {
        let mut value = 0usize;
        let mut shift = 0;
        loop {
            let c = *delta.get(*pos).ok_or("the delta header is cut off")?;
            *pos += 1;
            if shift > 56 {
                return Err("the delta header is oversized".to_owned());
            }
            value |= ((c & 0x7f) as usize) << shift;
            shift += 7;
            if c & 0x80 == 0 {
                return Ok(value);
            }
        }
    };
    let base_size = varint(&mut pos)?;
    let result_size = varint(&mut pos)?;
    if base_size != base.len() {
        return Err(format!(
            "a delta expects a base of {base_size} bytes but the base has {}",
            base.len()
        ));
    }
    // The result can be at most ~64 KiB per copy instruction byte pair; cap the reservation.
    let mut out = Vec::with_capacity(result_size.min(delta.len().saturating_mul(0x10000)));
    while pos < delta.len() {
        let op = delta[pos];
        pos += 1;
        if op & 0x80 != 0 {
            let mut fields = [0usize; 7];
            for (bit, field) in fields.iter_mut().enumerate() {
                if op & (1 << bit) != 0 {
                    *field = *delta
                        .get(pos)
                        .ok_or("a delta copy instruction is cut off")?
                        as usize;
                    pos += 1;
                }
            }
            let offset = fields[0] | fields[1] << 8 | fields[2] << 16 | fields[3] << 24;
            let mut len = fields[4] | fields[5] << 8 | fields[6] << 16;
            if len == 0 {
                len = 0x10000;
            }
            let chunk = offset
                .checked_add(len)
                .and_then(|end| base.get(offset..end))
                .ok_or("a delta copies from outside its base")?;
            out.extend_from_slice(chunk);
        } else if op != 0 {
            let len = op as usize;
            let chunk = delta
                .get(pos..pos + len)
                .ok_or("a delta insert instruction is cut off")?;
            out.extend_from_slice(chunk);
            pos += len;
        } else {
            return Err("a delta uses the reserved instruction 0".to_owned());
        }
        if out.len() > result_size {
            return Err("a delta produces more data than it announces".to_owned());
        }
    }
    if out.len() != result_size {
        return Err(format!(
            "a delta produced {} bytes but announced {result_size}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn delta(base_len: usize, result_len: usize, ops: &[u8]) -> Vec<u8> {
        let mut d = Vec::new();
        varint(base_len, &mut d);
        varint(result_len, &mut d);
        d.extend_from_slice(ops);
        d
    }

    #[test]
    fn applies_copy_and_insert_instructions() {
        let base = b"hello, world\n";
        // copy offset 0 len 7 ("hello, "), insert "git", copy offset 12 len 1 ("\n").
        let ops = [0x90, 7, 3, b'g', b'i', b't', 0x91, 12, 1];
        let out = apply_delta(base, &delta(base.len(), 11, &ops));
        assert_eq!(out.as_deref(), Ok(&b"hello, git\n"[..]));
    }

    #[test]
    fn copy_length_zero_means_64k_and_offsets_use_all_bytes() {
        let base: Vec<u8> = (0..0x30000u32).map(|i| (i % 251) as u8).collect();
        // copy offset 0x010203 with size 0 → 0x10000 bytes.
        let ops = [0x87, 0x03, 0x02, 0x01];
        let out = apply_delta(&base, &delta(base.len(), 0x10000, &ops)).unwrap_or_default();
        assert_eq!(out, &base[0x010203..0x010203 + 0x10000]);
    }

    #[test]
    fn rejects_bad_deltas() {
        let base = b"abc";
        for (what, d) in [
            ("wrong base size", delta(4, 1, &[1, b'x'])),
            ("copy outside base", delta(3, 4, &[0x91, 1, 4])),
            ("reserved op", delta(3, 1, &[0])),
            ("short insert", delta(3, 5, &[5, b'x'])),
            ("size mismatch", delta(3, 2, &[1, b'x'])),
            ("overlong", delta(3, 1, &[2, b'x', b'y'])),
            ("cut header", vec![0x80]),
        ] {
            assert!(apply_delta(base, &d).is_err(), "{what}");
        }
    }

    /// Runs git in `dir` with a fixed identity and no user or system configuration.
    fn git(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let mut child = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "T")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "T")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin.unwrap_or_default())
                .unwrap_or_else(|e| panic!("git {args:?} stdin: {e}"));
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
        assert!(out.status.success(), "git {args:?} failed");
        out.stdout
    }

    /// A repository whose history makes `git pack-objects` emit deltas: a large file changed
    /// slightly between two commits, plus an annotated tag.
    fn repo_with_deltas() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"], None);
        let mut big = String::new();
        let mut x: u64 = 1;
        while big.len() < 1_200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            big.push_str(&format!("line {:016x}\n", x >> 8));
        }
        std::fs::write(d.join("big.txt"), &big).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.join("small.txt"), "hello\n").unwrap_or_else(|e| panic!("{e}"));
        git(d, &["add", "."], None);
        git(d, &["commit", "-q", "-m", "first"], None);
        big.replace_range(600_000..600_010, "CHANGED!!!");
        std::fs::write(d.join("big.txt"), &big).unwrap_or_else(|e| panic!("{e}"));
        git(d, &["commit", "-q", "-am", "second"], None);
        git(d, &["tag", "-a", "v1", "-m", "release"], None);
        dir
    }

    fn pack_and_check(ofs_delta: bool) {
        let dir = repo_with_deltas();
        let d = dir.path();
        let list = git(d, &["rev-list", "--objects", "--all"], None);
        let mut args = vec!["pack-objects", "--stdout", "-q"];
        if ofs_delta {
            args.push("--delta-base-offset");
        }
        let pack = git(d, &args, Some(&list));
        let objects = parse(&pack).unwrap_or_else(|e| panic!("parse: {e}"));

        // `git verify-pack` agrees that this pack has deltas of the expected kind.
        std::fs::write(d.join("t.pack"), &pack).unwrap_or_else(|e| panic!("{e}"));
        git(d, &["index-pack", "t.pack"], None);
        let verify =
            String::from_utf8_lossy(&git(d, &["verify-pack", "-v", "t.pack"], None)).into_owned();
        assert!(verify.contains("chain length = 1"), "{verify}");

        let ids: Vec<&str> = std::str::from_utf8(&list)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').next())
            .collect();
        assert_eq!(objects.len(), ids.len(), "every object, the tag included");
        for id in &ids {
            let oid = Oid::from_hex(id).unwrap_or_else(|| panic!("bad id {id}"));
            let (kind, data) = objects.get(&oid).unwrap_or_else(|| panic!("{id} missing"));
            let expected = git(d, &["cat-file", kind.name(), id], None);
            assert!(
                data == expected.as_slice(),
                "{id} differs from git cat-file"
            );
        }
        let tag = String::from_utf8_lossy(&git(d, &["rev-parse", "v1"], None))
            .trim()
            .to_owned();
        let tag = Oid::from_hex(&tag).unwrap_or(Oid::ZERO);
        assert!(matches!(objects.get(&tag), Some((ObjectKind::Tag, _))));
        assert_eq!(objects.commits().count(), 2);
    }

    #[test]
    fn parses_a_real_pack_with_ofs_deltas() {
        pack_and_check(true);
    }

    #[test]
    fn parses_a_real_pack_with_ref_deltas() {
        pack_and_check(false);
    }

    #[test]
    fn rejects_non_packs() {
        assert!(parse(b"short").is_err());
        let mut not_pack = b"PACX\0\0\0\x02\0\0\0\0".to_vec();
        not_pack.extend_from_slice(&[0; 20]);
        assert!(parse(&not_pack).is_err());
        // An empty v2 pack with a wrong checksum.
        let mut empty = b"PACK\0\0\0\x02\0\0\0\0".to_vec();
        empty.extend_from_slice(&[0; 20]);
        assert_eq!(
            parse(&empty).err().as_deref(),
            Some("the pack checksum does not match its content")
        );
        // ...and with the right one.
        let mut good = b"PACK\0\0\0\x02\0\0\0\0".to_vec();
        let sum: [u8; 20] = Sha1::digest(&good).into();
        good.extend_from_slice(&sum);
        assert_eq!(parse(&good).map(|o| o.len()).ok(), Some(0));
    }
}
