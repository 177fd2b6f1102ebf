//! Object ids (SHA-1) and object kinds.

use sha1::{Digest, Sha1};

/// A 20-byte SHA-1 object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Oid(pub(crate) [u8; 20]);

impl Oid {
    pub(crate) const ZERO: Oid = Oid([0; 20]);

    /// Parses exactly 40 hex digits.
    pub(crate) fn from_hex(hex: &str) -> Option<Oid> {
        let bytes = hex.as_bytes();
        if bytes.len() != 40 {
            return None;
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Oid(out))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Oid> {
        Some(Oid(bytes.try_into().ok()?))
    }

    /// The id git gives an object of `kind` with this content.
    pub(crate) fn of(kind: ObjectKind, data: &[u8]) -> Oid {
        let mut hasher = Sha1::new();
        hasher.update(kind.name().as_bytes());
        hasher.update(b" ");
        hasher.update(data.len().to_string().as_bytes());
        hasher.update([0u8]);
        hasher.update(data);
        Oid(hasher.finalize().into())
    }

    pub(crate) fn to_hex(self) -> String {
        let mut s = String::with_capacity(40);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The four kinds of stored objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    Commit,
    Tree,
    Blob,
    Tag,
}

impl ObjectKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ObjectKind::Commit => "commit",
            ObjectKind::Tree => "tree",
            ObjectKind::Blob => "blob",
            ObjectKind::Tag => "tag",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_like_git() {
        // `git hash-object -t blob /dev/null` and `printf 'hello\n' | git hash-object --stdin`.
        assert_eq!(
            Oid::of(ObjectKind::Blob, b"").to_hex(),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
        assert_eq!(
            Oid::of(ObjectKind::Blob, b"hello\n").to_hex(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        // The empty tree.
        assert_eq!(
            Oid::of(ObjectKind::Tree, b"").to_hex(),
            "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let hex = "ce013625030ba8dba906f756967f9e9ca394464a";
        assert_eq!(Oid::from_hex(hex).map(Oid::to_hex).as_deref(), Some(hex));
        assert!(Oid::from_hex("CE013625030BA8DBA906F756967F9E9CA394464A").is_some());
        assert!(Oid::from_hex(&hex[..39]).is_none());
        assert!(Oid::from_hex("g e013625030ba8dba906f756967f9e9ca394464").is_none());
    }
}
