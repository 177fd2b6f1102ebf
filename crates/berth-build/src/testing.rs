//! Test fixtures: real git repositories in temporary directories, made with a hermetic git.

use std::path::Path;

use crate::gitcmd::GitCmd;

/// Runs git in `dir` with no user or system configuration and fixed identity and dates, and
/// returns its trimmed stdout; panics with git's stderr on failure.
pub(crate) fn git_in(dir: &Path, args: &[&str]) -> String {
    let cmd = GitCmd::new([
        "-c",
        "user.name=Berth Test",
        "-c",
        "user.email=test@berth.invalid",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "tag.gpgsign=false",
    ])
    .args(args)
    .cwd(dir)
    .env("GIT_CONFIG_GLOBAL", "/dev/null")
    .env("GIT_CONFIG_NOSYSTEM", "1")
    .env("GIT_AUTHOR_DATE", "2024-05-01T12:00:00Z")
    .env("GIT_COMMITTER_DATE", "2024-05-01T12:00:00Z");
    match cmd.run() {
        Ok(out) => String::from_utf8(out).unwrap().trim().to_owned(),
        Err(e) => panic!("{e}"),
    }
}

/// A work tree repository on branch `main`.
pub(crate) struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        git_in(dir.path(), &["init", "-q"]);
        Fixture { dir }
    }

    /// A repository with one commit ("initial") holding `files`.
    pub(crate) fn with_files(files: &[(&str, &str)]) -> Self {
        let fx = Fixture::new();
        for (path, text) in files {
            fx.write(path, text);
        }
        fx.commit("initial");
        fx
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path_str(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    pub(crate) fn write(&self, path: &str, text: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        git_in(self.dir.path(), args)
    }

    /// Stages everything and commits; returns the new commit's sha.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}
