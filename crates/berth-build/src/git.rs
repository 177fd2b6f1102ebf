//! Git sources: open a local repository or a cached clone of a URL, resolve refs to commits and
//! read the tree of a commit. Everything reads the commit, never the work tree.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::BuildError;
use crate::gitcmd::{GitCmd, redact_url, stderr_text};

/// A git repository Berth builds from: a local repository (work tree or bare) or a bare clone of
/// a URL kept in the cache directory.
#[derive(Clone)]
pub struct Repo {
    /// The source as given, credentials redacted: what messages show.
    shown: String,
    git_dir: PathBuf,
    work_tree: Option<PathBuf>,
    /// For URL sources: the URL fetched before every resolve.
    remote: Option<String>,
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the remote URL itself: it may carry credentials.
        f.debug_struct("Repo")
            .field("source", &self.shown)
            .field("git_dir", &self.git_dir)
            .field("work_tree", &self.work_tree)
            .field("remote", &self.remote.is_some())
            .finish()
    }
}

/// A resolved commit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Commit {
    /// Full hex object name (40 characters; 64 in SHA-256 repositories).
    pub sha: String,
    /// First line of the commit message.
    pub subject: String,
}

impl Commit {
    /// The usual 7-character abbreviation.
    pub fn short(&self) -> &str {
        self.sha.get(..7).unwrap_or(&self.sha)
    }
}

impl fmt::Display for Commit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.short(), self.subject)
    }
}

/// Opens `source`: a local path to a git repository (work tree or bare) or a URL git can clone
/// (`https://`, `ssh://`, `git@host:path`, `file://`). A URL is cloned once, bare, into
/// `cache_dir/<name>-<hash of the url>` and fetched on every [`Repo::resolve`].
///
/// A local path must be the repository itself (its top level, or a bare repository): git does
/// not search the directories above it.
pub fn open(source: &str, cache_dir: &Path) -> Result<Repo, BuildError> {
    let source = source.trim();
    if source.is_empty() {
        return Err(BuildError::SourceMissing {
            path: PathBuf::new(),
        });
    }
    if is_url(source) {
        open_url(source, cache_dir)
    } else {
        open_local(Path::new(source))
    }
}

/// Whether git would treat `source` as a URL rather than a local path: `scheme://…`, or the
/// scp-like `[user@]host:path` with no `/` before the first `:` (git's own rule).
fn is_url(source: &str) -> bool {
    if let Some((scheme, _)) = source.split_once("://") {
        return !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c));
    }
    match source.find(':') {
        // A one-letter "host" is a Windows drive (`C:\src`).
        Some(colon) if colon > 1 => {
            !source[..colon].contains(['/', '\\']) && !Path::new(source).exists()
        }
        _ => false,
    }
}

fn open_local(path: &Path) -> Result<Repo, BuildError> {
    if !path.exists() {
        return Err(BuildError::SourceMissing {
            path: path.to_owned(),
        });
    }
    if !path.is_dir() {
        return Err(BuildError::NotARepo {
            path: path.to_owned(),
        });
    }
    let abs = path
        .canonicalize()
        .map_err(|e| BuildError::io(format!("read `{}`", path.display()), e))?;
    let mut cmd =
        GitCmd::new(["rev-parse", "--absolute-git-dir", "--is-inside-work-tree"]).cwd(&abs);
    // Only `abs` itself may be the repository: never a directory above it.
    if let Some(parent) = abs.parent().filter(|p| !p.to_string_lossy().contains(':')) {
        cmd = cmd.env("GIT_CEILING_DIRECTORIES", parent);
    }
    let out = cmd.output()?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("not a git repository") {
            return Err(BuildError::NotARepo {
                path: path.to_owned(),
            });
        }
        return Err(cmd.failed(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let git_dir = PathBuf::from(lines.next().unwrap_or_default());
    let work_tree = (lines.next() == Some("true")).then(|| abs.clone());
    Ok(Repo {
        shown: path.display().to_string(),
        git_dir,
        work_tree,
        remote: None,
    })
}

fn open_url(url: &str, cache_dir: &Path) -> Result<Repo, BuildError> {
    let name = cache_name(url);
    let dir = cache_dir.join(&name);
    let repo = Repo {
        shown: redact_url(url),
        git_dir: dir.clone(),
        work_tree: None,
        remote: Some(url.to_owned()),
    };
    if is_git_dir(&dir)? {
        return Ok(repo);
    }
    std::fs::create_dir_all(cache_dir).map_err(|e| {
        BuildError::io(format!("create the git cache `{}`", cache_dir.display()), e)
    })?;
    if dir.exists() {
        // The leftover of an interrupted clone of ours: start again.
        remove_dir(&dir)?;
    }
    // Clone beside the final place and rename, so a failed clone never looks like a repository.
    let tmp = cache_dir.join(format!(".{name}.clone-{}", std::process::id()));
    if tmp.exists() {
        remove_dir(&tmp)?;
    }
    let cmd = GitCmd::new(["clone", "--bare", "--quiet", "--"])
        .args([url])
        .args([&tmp]);
    let out = cmd.output()?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(BuildError::CloneFailed {
            url: repo.shown,
            stderr: stderr_text(&out.stderr),
        });
    }
    if let Err(e) = std::fs::rename(&tmp, &dir) {
        let _ = std::fs::remove_dir_all(&tmp);
        // Another deploy of the same source cloned it meanwhile: use theirs.
        if !is_git_dir(&dir)? {
            return Err(BuildError::io(
                format!("move the clone into `{}`", dir.display()),
                e,
            ));
        }
    }
    Ok(repo)
}

fn remove_dir(dir: &Path) -> Result<(), BuildError> {
    std::fs::remove_dir_all(dir)
        .map_err(|e| BuildError::io(format!("remove `{}`", dir.display()), e))
}

fn is_git_dir(dir: &Path) -> Result<bool, BuildError> {
    if !dir.is_dir() {
        return Ok(false);
    }
    let out = GitCmd::in_repo(dir, ["rev-parse", "--git-dir"]).output()?;
    Ok(out.status.success())
}

/// `<sanitised last path segment>-<12 hex of a stable hash of the whole url>`.
fn cache_name(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let last = trimmed
        .rsplit(['/', ':'])
        .next()
        .unwrap_or_default()
        .trim_end_matches(".git");
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    if name.trim_matches('-').is_empty() {
        name = "repo".to_owned();
    }
    format!("{name}-{:012x}", fnv1a(url.as_bytes()) >> 16)
}

/// FNV-1a, 64 bits: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Refuses what git could read as an option or that cannot name a ref.
fn check_ref(git_ref: &str) -> Result<(), BuildError> {
    let reason = if git_ref.is_empty() {
        "it is empty"
    } else if git_ref.starts_with('-') {
        "it starts with `-`, which git would read as an option"
    } else if git_ref.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(BuildError::InvalidRef {
        git_ref: git_ref.to_owned(),
        reason: reason.to_owned(),
    })
}

fn check_sha(commit: &Commit) -> Result<(), BuildError> {
    let ok =
        matches!(commit.sha.len(), 40 | 64) && commit.sha.chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(BuildError::InvalidRef {
            git_ref: commit.sha.clone(),
            reason: "a resolved commit must be a full hex object name".to_owned(),
        })
    }
}

impl Repo {
    /// The source as given (credentials redacted).
    pub fn source(&self) -> &str {
        &self.shown
    }

    /// The repository's git directory (the cache clone for URL sources).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The work tree of a local non-bare repository.
    pub fn work_tree(&self) -> Option<&Path> {
        self.work_tree.as_deref()
    }

    /// Whether this is a clone of a URL (fetched on every resolve).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    fn git<I, S>(&self, args: I) -> GitCmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        GitCmd::in_repo(&self.git_dir, args)
    }

    /// The `git archive` of a commit, as a tar on stdout.
    pub(crate) fn archive(&self, commit: &Commit) -> Result<GitCmd, BuildError> {
        check_sha(commit)?;
        Ok(self.git(["archive", "--format=tar", commit.sha.as_str()]))
    }

    /// Resolves a branch, tag, or full or abbreviated commit name to a commit. Branches win
    /// over tags of the same name. URL sources are fetched first.
    pub fn resolve(&self, git_ref: &str) -> Result<Commit, BuildError> {
        check_ref(git_ref)?;
        if let Some(url) = &self.remote {
            self.fetch(url)?;
        }
        let candidates = [
            format!("refs/heads/{git_ref}"),
            format!("refs/tags/{git_ref}"),
            git_ref.to_owned(),
        ];
        for candidate in candidates {
            let out = self
                .git(["rev-parse", "--verify", "--quiet", "--end-of-options"])
                .args([format!("{candidate}^{{commit}}")])
                .output()?;
            if out.status.success() {
                let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                let subject = self
                    .git(["log", "-1", "--format=%s", sha.as_str(), "--"])
                    .run()?;
                let subject = String::from_utf8_lossy(&subject).trim_end().to_owned();
                return Ok(Commit { sha, subject });
            }
        }
        Err(BuildError::RefNotFound {
            git_ref: git_ref.to_owned(),
            repo: self.shown.clone(),
            branches: self.branches()?,
        })
    }

    /// Whether `ancestor` is `commit` or one of its ancestors (`git merge-base --is-ancestor`).
    /// A name the repository does not know counts as no: the history cannot show it.
    pub fn is_ancestor(&self, ancestor: &str, commit: &Commit) -> Result<bool, BuildError> {
        check_sha(commit)?;
        if ancestor.is_empty() || !ancestor.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let out = self
            .git(["merge-base", "--is-ancestor", "--end-of-options"])
            .args([ancestor, commit.sha.as_str()])
            .output()?;
        Ok(out.status.success())
    }

    /// Local branch names (for a URL source: the remote's branches as of the last fetch).
    pub fn branches(&self) -> Result<Vec<String>, BuildError> {
        let out = self
            .git(["for-each-ref", "--format=%(refname:short)", "refs/heads/"])
            .run()?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    fn fetch(&self, url: &str) -> Result<(), BuildError> {
        let cmd = self.git([
            "fetch",
            "--quiet",
            "--prune",
            "origin",
            "+refs/heads/*:refs/heads/*",
            "+refs/tags/*:refs/tags/*",
        ]);
        let out = cmd.output()?;
        if out.status.success() {
            Ok(())
        } else {
            Err(BuildError::FetchFailed {
                url: redact_url(url),
                stderr: stderr_text(&out.stderr),
            })
        }
    }

    /// The contents of the file at `path` ('/'-separated, relative to the root) in `commit`;
    /// `None` when there is no such file (or it is a directory).
    pub fn read_file(&self, commit: &Commit, path: &str) -> Result<Option<Vec<u8>>, BuildError> {
        check_sha(commit)?;
        let path = path.trim_start_matches("./").trim_start_matches('/');
        if path.is_empty() {
            return Ok(None);
        }
        let out = self
            .git([
                "--literal-pathspecs",
                "ls-tree",
                "-z",
                commit.sha.as_str(),
                "--",
                path,
            ])
            .run()?;
        // Each record: "<mode> <type> <oid>\t<path>\0".
        let listing = String::from_utf8_lossy(&out);
        let blob = listing.split('\0').find_map(|record| {
            let (meta, name) = record.split_once('\t')?;
            let mut meta = meta.split(' ');
            let (_mode, kind, oid) = (meta.next()?, meta.next()?, meta.next()?);
            (name == path && kind == "blob").then(|| oid.to_owned())
        });
        match blob {
            Some(oid) => Ok(Some(self.git(["cat-file", "blob", oid.as_str()]).run()?)),
            None => Ok(None),
        }
    }

    /// Every file path of `commit` ('/'-separated, from the root), directories excluded.
    pub fn list_files(&self, commit: &Commit) -> Result<Vec<String>, BuildError> {
        check_sha(commit)?;
        let out = self
            .git([
                "ls-tree",
                "-r",
                "-z",
                "--full-tree",
                "--name-only",
                commit.sha.as_str(),
            ])
            .run()?;
        Ok(String::from_utf8_lossy(&out)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Whether a local work tree has uncommitted changes or untracked files (which a build of a
    /// commit does not include). Always `false` for bare repositories and URL sources.
    pub fn is_dirty(&self) -> bool {
        let Some(work_tree) = &self.work_tree else {
            return false;
        };
        let out = self
            .git(["--no-optional-locks", "status", "--porcelain", "-z"])
            .env("GIT_WORK_TREE", work_tree)
            .cwd(work_tree)
            .run();
        match out {
            Ok(out) => !out.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "could not tell whether the work tree is dirty");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Fixture;

    fn cache() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn resolves_branches_tags_and_shas() {
        let fx = Fixture::new();
        fx.write("a.txt", "one\n");
        let first = fx.commit("first commit");
        fx.git(&["tag", "v1"]);
        fx.git(&["checkout", "-q", "-b", "dev"]);
        fx.write("b.txt", "two\n");
        let second = fx.commit("second commit\n\nwith a body");
        let repo = open(fx.path_str(), cache().path()).unwrap();

        let cases = [
            ("main", &first, "first commit"),
            ("dev", &second, "second commit"),
            ("v1", &first, "first commit"),
            (&first[..8], &first, "first commit"),
            (second.as_str(), &second, "second commit"),
            ("HEAD", &second, "second commit"),
        ];
        for (git_ref, sha, subject) in cases {
            let c = repo.resolve(git_ref).unwrap();
            assert_eq!((&c.sha, c.subject.as_str()), (sha, subject), "{git_ref}");
        }
        assert_eq!(repo.resolve("main").unwrap().short(), &first[..7]);
    }

    #[test]
    fn branch_wins_over_tag_of_the_same_name() {
        let fx = Fixture::new();
        fx.write("a", "1");
        let first = fx.commit("one");
        fx.git(&["tag", "release"]);
        fx.git(&["checkout", "-q", "-b", "release"]);
        fx.write("a", "2");
        let second = fx.commit("two");
        let repo = open(fx.path_str(), cache().path()).unwrap();
        assert_eq!(repo.resolve("release").unwrap().sha, second);
        assert_eq!(repo.resolve("refs/tags/release").unwrap().sha, first);
    }

    #[test]
    fn unknown_ref_lists_branches() {
        let fx = Fixture::with_files(&[("a", "1")]);
        fx.git(&["branch", "dev"]);
        let repo = open(fx.path_str(), cache().path()).unwrap();
        let err = repo.resolve("mian").unwrap_err();
        assert!(
            matches!(&err, BuildError::RefNotFound { branches, .. } if branches == &["dev", "main"]),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "`mian` is not a branch, tag or commit of `{}` (its branches are dev, main)",
                fx.path_str()
            )
        );
    }

    #[test]
    fn option_like_refs_are_refused() {
        let fx = Fixture::with_files(&[("a", "1")]);
        let repo = open(fx.path_str(), cache().path()).unwrap();
        let marker = fx.path().join("pwned");
        for git_ref in [
            "--upload-pack=x".to_owned(),
            format!("--output={}", marker.display()),
            "-h".to_owned(),
            String::new(),
            "main branch".to_owned(),
        ] {
            let err = repo.resolve(&git_ref).unwrap_err();
            assert!(
                matches!(err, BuildError::InvalidRef { .. }),
                "{git_ref}: {err:?}"
            );
        }
        assert!(!marker.exists());
        assert_eq!(
            repo.resolve("--upload-pack=x").unwrap_err().to_string(),
            "`--upload-pack=x` is not a usable git ref: it starts with `-`, which git would read as an option"
        );
        // Something odd that is not option-like just is not found.
        assert!(matches!(
            repo.resolve("main:a").unwrap_err(),
            BuildError::RefNotFound { .. }
        ));
    }

    #[test]
    fn bad_sources_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = open(missing.to_str().unwrap(), cache().path()).unwrap_err();
        assert!(matches!(err, BuildError::SourceMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("does not exist"));

        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        let err = open(plain.to_str().unwrap(), cache().path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "`{}` is not a git repository (run `git init` there, or give a URL)",
                plain.display()
            )
        );

        // A directory inside a repository is not that repository.
        let fx = Fixture::with_files(&[("sub/a", "1")]);
        let err = open(fx.path().join("sub").to_str().unwrap(), cache().path()).unwrap_err();
        assert!(matches!(err, BuildError::NotARepo { .. }), "{err:?}");

        let file = fx.path().join("sub/a");
        let err = open(file.to_str().unwrap(), cache().path()).unwrap_err();
        assert!(matches!(err, BuildError::NotARepo { .. }), "{err:?}");
    }

    #[test]
    fn reads_files_of_the_commit_not_the_work_tree() {
        let fx = Fixture::with_files(&[("a.txt", "committed\n"), ("dir/b.txt", "b\n")]);
        let repo = open(fx.path_str(), cache().path()).unwrap();
        let commit = repo.resolve("main").unwrap();
        assert!(!repo.is_dirty());

        fx.write("a.txt", "changed\n");
        fx.write("untracked.txt", "u\n");
        assert!(repo.is_dirty());

        let read = |p: &str| {
            repo.read_file(&commit, p)
                .unwrap()
                .map(|b| String::from_utf8(b).unwrap())
        };
        assert_eq!(read("a.txt").as_deref(), Some("committed\n"));
        assert_eq!(read("./dir/b.txt").as_deref(), Some("b\n"));
        assert_eq!(read("untracked.txt"), None);
        assert_eq!(read("dir"), None);
        assert_eq!(read("d*/b.txt"), None);
        assert_eq!(read("-x"), None);
        assert_eq!(repo.list_files(&commit).unwrap(), ["a.txt", "dir/b.txt"]);
    }

    #[test]
    fn bare_repositories_open_and_are_never_dirty() {
        let fx = Fixture::with_files(&[("a", "1")]);
        let bare = tempfile::tempdir().unwrap();
        let bare_path = bare.path().join("app.git");
        crate::testing::git_in(
            bare.path(),
            &[
                "clone",
                "-q",
                "--bare",
                fx.path_str(),
                bare_path.to_str().unwrap(),
            ],
        );
        let repo = open(bare_path.to_str().unwrap(), cache().path()).unwrap();
        assert!(repo.work_tree().is_none());
        assert!(!repo.is_dirty());
        let c = repo.resolve("main").unwrap();
        assert_eq!(repo.list_files(&c).unwrap(), ["a"]);
    }

    #[test]
    fn urls_are_cloned_once_and_fetched_on_resolve() {
        let origin = Fixture::with_files(&[("a", "1")]);
        let cache = cache();
        let url = format!("file://{}", origin.path_str());
        let repo = open(&url, cache.path()).unwrap();
        assert!(repo.is_remote());
        assert!(repo.git_dir().starts_with(cache.path()));
        let name = repo
            .git_dir()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let dir_name = origin.path().file_name().unwrap().to_str().unwrap();
        assert!(
            name.starts_with(&format!("{}-", dir_name.replace('.', "-"))),
            "{name}"
        );
        let first = repo.resolve("main").unwrap();

        let second = {
            origin.write("b", "2");
            origin.commit("second")
        };
        // Opening again reuses the clone; resolve fetches.
        let again = open(&url, cache.path()).unwrap();
        assert_eq!(again.git_dir(), repo.git_dir());
        let resolved = again.resolve("main").unwrap();
        assert_eq!(resolved.sha, second);
        assert_ne!(resolved.sha, first.sha);
        assert_eq!(resolved.subject, "second");
        assert_eq!(again.read_file(&resolved, "b").unwrap().unwrap(), b"2");

        // Branches deleted at the origin disappear; new ones appear.
        origin.git(&["branch", "feature"]);
        assert_eq!(again.resolve("feature").unwrap().sha, second);
        origin.git(&["branch", "-D", "feature"]);
        assert!(matches!(
            again.resolve("feature").unwrap_err(),
            BuildError::RefNotFound { .. }
        ));
        // Only the clone is in the cache (no temporary left behind).
        let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
        assert_eq!(entries.len(), 1);
    }

    #[test]
    fn failed_clone_leaves_nothing_and_says_why() {
        let cache = cache();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/missing", dir.path().display());
        let err = open(&url, cache.path()).unwrap_err();
        assert!(matches!(err, BuildError::CloneFailed { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("could not clone `{url}`: ")),
            "{err}"
        );
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn credentials_never_reach_messages_or_debug_output() {
        let url = "https://deploy:s3cret@127.0.0.1:1/app.git";
        let err = open(url, cache().path()).unwrap_err();
        assert!(matches!(err, BuildError::CloneFailed { .. }), "{err:?}");
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(
                shown.contains("https://deploy:***@127.0.0.1:1/app.git"),
                "{shown}"
            );
        }
        let repo = Repo {
            shown: redact_url(url),
            git_dir: "/cache/app".into(),
            work_tree: None,
            remote: Some(url.to_owned()),
        };
        assert!(!format!("{repo:?}").contains("s3cret"));
        let cmd = GitCmd::new(["clone", "--", url]);
        assert!(!format!("{cmd:?}").contains("s3cret"));
    }

    #[test]
    fn url_detection_follows_git() {
        let cases = [
            ("https://github.com/a/b.git", true),
            ("ssh://git@host:22/a/b", true),
            ("git@github.com:a/b.git", true),
            ("file:///srv/git/app", true),
            ("host.example:app.git", true),
            ("/srv/app", false),
            ("./app", false),
            ("app", false),
            ("./a:b", false),
            ("C:\\src\\app", false),
        ];
        for (source, url) in cases {
            assert_eq!(is_url(source), url, "{source}");
        }
    }

    #[test]
    fn cache_names_are_readable_and_distinct() {
        let a = cache_name("https://github.com/acme/shop.git");
        let b = cache_name("https://gitlab.com/acme/shop.git");
        assert!(a.starts_with("shop-") && b.starts_with("shop-"), "{a} {b}");
        assert_ne!(a, b);
        assert_eq!(a, cache_name("https://github.com/acme/shop.git"));
        assert!(cache_name("git@host:team/my.app").starts_with("my-app-"));
        assert!(cache_name("https://host/").starts_with("host-"));
        assert!(cache_name("file:///").starts_with("repo-"));
        assert_eq!(a.len(), "shop-".len() + 12);
    }
}
