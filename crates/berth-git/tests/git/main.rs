//! Integration tests against real servers on loopback: git daemon, git http-backend behind a
//! small HTTP server, and OpenSSH's sshd. Each test starts its own and stops it when done.

mod daemon;
mod http;
mod ssh;
mod support;

use berth_git::Snapshot;

/// `path mode size` per file, for assertions that read like a listing.
pub fn listing(snapshot: &Snapshot) -> Vec<String> {
    snapshot
        .files
        .iter()
        .map(|f| format!("{} {:o} {}", f.path, f.mode, f.data.len()))
        .collect()
}

pub fn file<'a>(snapshot: &'a Snapshot, path: &str) -> &'a [u8] {
    &snapshot
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} not in {:?}", listing(snapshot)))
        .data
}

/// The tip of `main` in [`support::Fixture`].
pub fn assert_second_commit(snapshot: &Snapshot, fixture: &support::Fixture) {
    assert_eq!(snapshot.commit, fixture.second);
    assert_eq!(snapshot.subject, "second commit");
    let big = support::big_text().len();
    assert_eq!(
        listing(snapshot),
        [
            "README.md 100644 10".to_owned(),
            format!("big.bin 100644 {big}"),
            "link 120000 9".to_owned(),
            "run.sh 100755 18".to_owned(),
            "sub/deeper/x.txt 100644 5".to_owned(),
        ]
    );
    assert_eq!(file(snapshot, "README.md"), b"# demo v2\n");
    assert_eq!(file(snapshot, "link"), b"README.md");
    let mut expected = support::big_text();
    expected[600_000..600_008].copy_from_slice(b"CHANGED!");
    assert!(
        file(snapshot, "big.bin") == expected.as_slice(),
        "big.bin differs"
    );
}

/// The first commit of `main` (also `v1.0` and `light`).
pub fn assert_first_commit(snapshot: &Snapshot, fixture: &support::Fixture) {
    assert_eq!(snapshot.commit, fixture.first);
    assert_eq!(snapshot.subject, "first commit");
    assert_eq!(file(snapshot, "README.md"), b"# demo v1\n");
    assert!(
        file(snapshot, "big.bin") == support::big_text().as_slice(),
        "big.bin differs"
    );
    assert_eq!(snapshot.files.len(), 5, "{:?}", listing(snapshot));
}
