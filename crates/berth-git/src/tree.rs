//! Commits, tags and trees: from a commit id to the sorted list of files it contains.

use crate::File;
use crate::oid::{ObjectKind, Oid};
use crate::pack::Objects;

/// The parts of a commit this crate uses.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) tree: Oid,
    pub(crate) subject: String,
}

pub(crate) fn parse_commit(data: &[u8]) -> Result<Commit, String> {
    let (headers, message) = match find(data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let tree = headers
        .split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"tree "))
        .and_then(|hex| Oid::from_hex(std::str::from_utf8(hex).ok()?))
        .ok_or("the commit has no tree line")?;
    let message = String::from_utf8_lossy(message);
    let subject = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .trim_end()
        .to_owned();
    Ok(Commit { tree, subject })
}

/// The parents a commit names (none for a root commit).
pub(crate) fn commit_parents(data: &[u8]) -> Vec<Oid> {
    let headers = match find(data, b"\n\n") {
        Some(i) => &data[..i],
        None => data,
    };
    headers
        .split(|b| *b == b'\n')
        .filter_map(|line| line.strip_prefix(b"parent "))
        .filter_map(|hex| Oid::from_hex(std::str::from_utf8(hex).ok()?))
        .collect()
}

/// The object an annotated tag points at.
pub(crate) fn tag_target(data: &[u8]) -> Option<Oid> {
    data.split(|b| *b == b'\n')
        .find_map(|line| line.strip_prefix(b"object "))
        .and_then(|hex| Oid::from_hex(std::str::from_utf8(hex).ok()?))
}

/// One entry of a tree object.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TreeEntry<'a> {
    pub(crate) mode: u32,
    pub(crate) name: &'a [u8],
    pub(crate) oid: Oid,
}

pub(crate) fn parse_tree(data: &[u8]) -> Result<Vec<TreeEntry<'_>>, String> {
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("a tree entry has no mode")?;
        let mode = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|m| u32::from_str_radix(m, 8).ok())
            .ok_or("a tree entry has a bad mode")?;
        rest = &rest[space + 1..];
        let nul = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or("a tree entry has no name terminator")?;
        let name = &rest[..nul];
        let oid = rest
            .get(nul + 1..nul + 21)
            .and_then(Oid::from_slice)
            .ok_or("a tree entry is cut off")?;
        rest = &rest[nul + 21..];
        entries.push(TreeEntry { mode, name, oid });
    }
    Ok(entries)
}

const MODE_TREE: u32 = 0o040000;
const MODE_SUBMODULE: u32 = 0o160000;
const MODE_SYMLINK: u32 = 0o120000;
const MODE_EXECUTABLE: u32 = 0o100755;
const MODE_FILE: u32 = 0o100644;

#[derive(Debug)]
pub(crate) enum WalkError {
    TooManyFiles,
    Corrupt(String),
}

/// Every blob under `tree`, recursively, sorted by path; submodules are skipped.
pub(crate) fn files(objects: &Objects, tree: Oid, limit: usize) -> Result<Vec<File>, WalkError> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), tree, 0usize)];
    while let Some((prefix, oid, depth)) = stack.pop() {
        if depth > 256 {
            return Err(WalkError::Corrupt(format!(
                "directories are nested too deeply at `{prefix}`"
            )));
        }
        let data = match objects.get(&oid) {
            Some((ObjectKind::Tree, data)) => data,
            Some((kind, _)) => {
                return Err(WalkError::Corrupt(format!(
                    "`{prefix}` should be a tree but {oid} is a {}",
                    kind.name()
                )));
            }
            None => {
                return Err(WalkError::Corrupt(format!(
                    "tree {oid} for `{prefix}` is not in the pack"
                )));
            }
        };
        let entries =
            parse_tree(data).map_err(|e| WalkError::Corrupt(format!("tree {oid}: {e}")))?;
        for entry in entries {
            let name = std::str::from_utf8(entry.name).map_err(|_| {
                WalkError::Corrupt(format!(
                    "a name in `{prefix}` is not UTF-8: {:?}",
                    String::from_utf8_lossy(entry.name)
                ))
            })?;
            if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                return Err(WalkError::Corrupt(format!(
                    "unsafe file name {name:?} in `{prefix}`"
                )));
            }
            let path = if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let mode = match entry.mode {
                MODE_TREE => {
                    stack.push((path, entry.oid, depth + 1));
                    continue;
                }
                MODE_SUBMODULE => {
                    tracing::debug!(%path, "skipping submodule");
                    continue;
                }
                MODE_SYMLINK => MODE_SYMLINK,
                m if m & 0o170000 == 0o100000 => {
                    if m & 0o111 != 0 {
                        MODE_EXECUTABLE
                    } else {
                        MODE_FILE
                    }
                }
                m => {
                    return Err(WalkError::Corrupt(format!(
                        "`{path}` has unknown mode {m:o}"
                    )));
                }
            };
            let data = match objects.get(&entry.oid) {
                Some((ObjectKind::Blob, data)) => data.to_vec(),
                Some((kind, _)) => {
                    return Err(WalkError::Corrupt(format!(
                        "`{path}` should be a blob but {} is a {}",
                        entry.oid,
                        kind.name()
                    )));
                }
                None => {
                    return Err(WalkError::Corrupt(format!(
                        "blob {} for `{path}` is not in the pack",
                        entry.oid
                    )));
                }
            };
            if out.len() >= limit {
                return Err(WalkError::TooManyFiles);
            }
            out.push(File { path, mode, data });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commit_tree_and_subject() {
        let data = b"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\
parent ce013625030ba8dba906f756967f9e9ca394464a\n\
author A <a@x> 1 +0000\ncommitter A <a@x> 1 +0000\n\n\
Fix the thing  \n\nLonger body.\n";
        let commit = parse_commit(data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            commit.tree.to_hex(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
        assert_eq!(commit.subject, "Fix the thing");
        assert!(parse_commit(b"author x\n\nmsg").is_err());
    }

    #[test]
    fn parses_tree_entries() {
        let oid = [7u8; 20];
        let mut data = b"100644 a.txt\0".to_vec();
        data.extend_from_slice(&oid);
        data.extend_from_slice(b"40000 dir\0");
        data.extend_from_slice(&oid);
        let entries = parse_tree(&data).unwrap_or_default();
        assert_eq!(
            entries,
            [
                TreeEntry {
                    mode: 0o100644,
                    name: b"a.txt",
                    oid: Oid(oid)
                },
                TreeEntry {
                    mode: 0o40000,
                    name: b"dir",
                    oid: Oid(oid)
                },
            ]
        );
        data.pop();
        assert!(parse_tree(&data).is_err());
    }

    #[test]
    fn reads_tag_targets() {
        let tag = b"object ce013625030ba8dba906f756967f9e9ca394464a\ntype commit\ntag v1\n\nmsg\n";
        assert_eq!(
            tag_target(tag).map(Oid::to_hex).as_deref(),
            Some("ce013625030ba8dba906f756967f9e9ca394464a")
        );
    }
}
