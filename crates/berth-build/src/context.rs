//! The build context of a commit: `git archive` of the commit, filtered through its
//! `.dockerignore`, plus the generated Dockerfile, streamed as a tar in chunks.
//!
//! The tar is re-written entry by entry (never buffered whole): git's archive is read on a
//! background thread, every kept entry is written again with a plain header (root-owned, the
//! commit's mtime and modes), and the output is cut into ~64 KiB chunks sent through a bounded
//! channel, so a slow upload slows git down instead of filling memory. Dropping the stream
//! stops git.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::BuildError;
use crate::detect::{Detected, Runtime};
use crate::dockerignore::DockerIgnore;
use crate::git::{Commit, Repo};
use crate::gitcmd::{GitCmd, RunningGit};

/// Where a generated Dockerfile is put in the context.
pub const GENERATED_DOCKERFILE: &str = ".berth/Dockerfile";

/// Size of the chunks of a [`ContextStream`].
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Chunks buffered between the archiving thread and the consumer.
const CHANNEL_CHUNKS: usize = 8;

/// What the build API needs to know besides the context bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// Path of the Dockerfile inside the context (the build API's `dockerfile` parameter).
    pub dockerfile: String,
    pub runtime: Runtime,
    pub commit: Commit,
    /// Whether the Dockerfile is one Berth generated (at [`GENERATED_DOCKERFILE`]).
    pub generated: bool,
}

impl BuildContext {
    /// The context a detection outcome leads to.
    pub fn new(commit: &Commit, detected: &Detected) -> Result<Self, BuildError> {
        let generated = detected.dockerfile.is_some();
        if !generated && !matches!(detected.runtime, Runtime::Dockerfile { .. }) {
            return Err(BuildError::CannotGenerate {
                runtime: detected.runtime.to_string(),
                reason: "detection produced no Dockerfile".to_owned(),
            });
        }
        Ok(BuildContext {
            dockerfile: dockerfile_path(detected),
            runtime: detected.runtime.clone(),
            commit: commit.clone(),
            generated,
        })
    }
}

/// Path of the Dockerfile inside the context of `detected` (the build API's `dockerfile`):
/// the repository's own, or [`GENERATED_DOCKERFILE`].
pub fn dockerfile_path(detected: &Detected) -> String {
    match (&detected.dockerfile, &detected.runtime) {
        (None, Runtime::Dockerfile { path }) => path.clone(),
        _ => GENERATED_DOCKERFILE.to_owned(),
    }
}

/// The context as a stream of tar chunks, for a streamed request body. Errors of `git archive`
/// arrive as the last item.
#[derive(Debug)]
pub struct ContextStream {
    context: BuildContext,
    chunks: mpsc::Receiver<io::Result<Bytes>>,
}

impl ContextStream {
    /// The Dockerfile path and the rest of what the build API needs.
    pub fn context(&self) -> &BuildContext {
        &self.context
    }
}

impl Stream for ContextStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.chunks.poll_recv(cx)
    }
}

/// Starts archiving `commit` and returns at once; the tar is produced on a background thread.
/// A bad `.dockerignore` or a failure to start git is reported here; errors of `git archive`
/// itself arrive as an `Err` item at the end of the stream (wrapping a [`BuildError`]).
pub fn stream(
    repo: &Repo,
    commit: &Commit,
    detected: &Detected,
) -> Result<ContextStream, BuildError> {
    let context = BuildContext::new(commit, detected)?;
    let filter = Filter::new(&|path| repo.read_file(commit, path), &context, detected)?;
    start(repo.archive(commit)?, filter, context)
}

fn start(
    archive: GitCmd,
    filter: Filter,
    context: BuildContext,
) -> Result<ContextStream, BuildError> {
    let mut git = archive.spawn()?;
    let stdout = git
        .take_stdout()
        .ok_or_else(|| BuildError::io("read git archive", io::ErrorKind::BrokenPipe.into()))?;
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    std::thread::Builder::new()
        .name("berth-build-context".to_owned())
        .spawn(move || pump(git, stdout, &filter, tx))
        .map_err(|e| BuildError::io("start the build context thread", e))?;
    Ok(ContextStream {
        context,
        chunks: rx,
    })
}

fn pump(git: RunningGit, stdout: impl Read, filter: &Filter, tx: mpsc::Sender<io::Result<Bytes>>) {
    let written = filter
        .write(stdout, Chunks::new(tx.clone()))
        .and_then(Chunks::finish);
    let failure = match written {
        Ok(()) => git.finish().err().map(io::Error::other),
        // The consumer went away (a cancelled build): stop git, nobody is listening.
        Err(_) if tx.is_closed() => {
            git.kill();
            None
        }
        // git's own failure explains a broken archive better than the tar reader does.
        Err(e) => Some(git.finish().err().map_or(e, io::Error::other)),
    };
    if let Some(e) = failure {
        let _ = tx.blocking_send(Err(e));
    }
}

/// The same bytes as [`stream`], collected (tests, small repositories).
pub fn to_vec(repo: &Repo, commit: &Commit, detected: &Detected) -> Result<Vec<u8>, BuildError> {
    let context = BuildContext::new(commit, detected)?;
    let filter = Filter::new(&|path| repo.read_file(commit, path), &context, detected)?;
    let mut git = repo.archive(commit)?.spawn()?;
    let stdout = git
        .take_stdout()
        .ok_or_else(|| BuildError::io("read git archive", io::ErrorKind::BrokenPipe.into()))?;
    let written = filter.write(stdout, Vec::new());
    git.finish()?;
    written.map_err(|e| BuildError::io("write the build context", e))
}

/// One file of a commit fetched without a local repository (the relay's unattended deploys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// `dir/name`, `/`-separated.
    pub path: String,
    /// git's mode: `0o100644`, `0o100755` or `0o120000` (a symlink; `data` is its target).
    pub mode: u32,
    pub data: Vec<u8>,
}

/// A commit's files, fetched (the relay has no git and no clone).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub commit: Commit,
    pub files: Vec<SnapshotFile>,
}

impl Snapshot {
    /// The paths of its files, as detection wants them.
    pub fn paths(&self) -> Vec<String> {
        self.files.iter().map(|f| f.path.clone()).collect()
    }

    /// A file's bytes.
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        let path = path.trim_start_matches("./");
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.data.as_slice())
    }

    /// How it is built: its own Dockerfile or a generated one.
    pub fn detect(&self, options: &crate::detect::Options) -> Result<Detected, BuildError> {
        let read = |path: &str| {
            self.read(path)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        crate::detect::detect(&self.paths(), &read, options)
    }

    /// Its build context (filtered by its `.dockerignore`, with the generated Dockerfile), as
    /// the same kind of stream a repository's commit gives.
    pub fn context(&self, detected: &Detected) -> Result<ContextStream, BuildError> {
        let context = BuildContext::new(&self.commit, detected)?;
        let read = |path: &str| Ok(self.read(path).map(<[u8]>::to_vec));
        let filter = Filter::new(&read, &context, detected)?;
        let bytes = filter
            .write_snapshot(&self.files, Vec::new())
            .map_err(|e| BuildError::io("write the build context", e))?;
        let chunks: Vec<Bytes> = bytes
            .chunks(CHUNK_SIZE)
            .map(Bytes::copy_from_slice)
            .collect();
        let (tx, rx) = mpsc::channel(chunks.len().max(1));
        for chunk in chunks {
            // The channel holds every chunk: this never waits.
            let _ = tx.try_send(Ok(chunk));
        }
        Ok(ContextStream {
            context,
            chunks: rx,
        })
    }
}

/// Reads a file of the commit being built (`None`: it has no such file).
type ReadFile<'a> = dyn Fn(&str) -> Result<Option<Vec<u8>>, BuildError> + 'a;

/// Which archive entries go into the context, and what is added.
#[derive(Debug)]
struct Filter {
    ignore: DockerIgnore,
    /// Always kept, ignored or not (as the docker CLI does): the Dockerfile and `.dockerignore`.
    keep: Vec<String>,
    generated: Option<String>,
}

impl Filter {
    fn new(
        read: &ReadFile<'_>,
        context: &BuildContext,
        detected: &Detected,
    ) -> Result<Self, BuildError> {
        // Like BuildKit, `<dockerfile>.dockerignore` beside the repository's own Dockerfile
        // takes precedence over the root `.dockerignore`.
        let mut candidates = Vec::new();
        if !context.generated {
            candidates.push(format!("{}.dockerignore", context.dockerfile));
        }
        candidates.push(".dockerignore".to_owned());
        let mut ignore = DockerIgnore::default();
        for name in candidates {
            if let Some(bytes) = read(&name)? {
                ignore =
                    DockerIgnore::parse(&String::from_utf8_lossy(&bytes)).map_err(|e| match e {
                        BuildError::BadDockerignore { line, reason, .. } => {
                            BuildError::BadDockerignore {
                                file: name.clone(),
                                line,
                                reason,
                            }
                        }
                        other => other,
                    })?;
                break;
            }
        }
        Ok(Filter {
            ignore,
            keep: vec![".dockerignore".to_owned(), context.dockerfile.clone()],
            generated: detected.dockerfile.clone(),
        })
    }

    /// A tar with the generated Dockerfile, if any, to which the kept files are added.
    fn begin<W: Write>(&self, out: W) -> io::Result<tar::Builder<W>> {
        let mut tar = tar::Builder::new(out);
        if let Some(text) = &self.generated {
            let mut dir = header(tar::EntryType::Directory, 0o755, 0, 0);
            tar.append_data(&mut dir, ".berth/", io::empty())?;
            let mut file = header(tar::EntryType::Regular, 0o644, 0, text.len() as u64);
            tar.append_data(&mut file, GENERATED_DOCKERFILE, text.as_bytes())?;
        }
        Ok(tar)
    }

    fn write<R: Read, W: Write>(&self, input: R, out: W) -> io::Result<W> {
        let mut tar = self.begin(out)?;
        let mut archive = tar::Archive::new(input);
        for entry in archive.entries()? {
            let mut entry = entry?;
            let kind = entry.header().entry_type();
            // git archive also writes a pax global header (the commit id): not a file.
            if !(kind.is_file() || kind.is_dir() || kind.is_symlink()) {
                continue;
            }
            let path = entry.path()?.into_owned();
            let lossy = path.to_string_lossy();
            let name = lossy.trim_end_matches('/');
            if name.is_empty() || !self.keeps(name) {
                continue;
            }
            let mode = entry.header().mode()?;
            let mtime = entry.header().mtime()?;
            if kind.is_symlink() {
                let target = entry
                    .link_name()?
                    .ok_or_else(|| io::Error::other(format!("symlink `{name}` has no target")))?
                    .into_owned();
                tar.append_link(&mut header(kind, mode, mtime, 0), &path, target)?;
            } else if kind.is_dir() {
                tar.append_data(&mut header(kind, mode, mtime, 0), &path, io::empty())?;
            } else {
                let size = entry.size();
                tar.append_data(&mut header(kind, mode, mtime, size), &path, &mut entry)?;
            }
        }
        // git pads the archive to whole records after the end marker the reader stops at:
        // drain it, or git dies of a broken pipe and reports failure.
        io::copy(&mut archive.into_inner(), &mut io::sink())?;
        tar.into_inner()
    }

    /// The context of a fetched snapshot: its files, in path order, root-owned.
    fn write_snapshot<W: Write>(&self, files: &[SnapshotFile], out: W) -> io::Result<W> {
        let mut tar = self.begin(out)?;
        for f in files {
            let name = f.path.trim_matches('/');
            if name.is_empty() || !self.keeps(name) {
                continue;
            }
            if f.mode & 0o170000 == 0o120000 {
                let target = String::from_utf8_lossy(&f.data).into_owned();
                let mut h = header(tar::EntryType::Symlink, 0o777, 0, 0);
                tar.append_link(&mut h, name, target)?;
            } else {
                let mode = if f.mode & 0o111 != 0 { 0o755 } else { 0o644 };
                let mut h = header(tar::EntryType::Regular, mode, 0, f.data.len() as u64);
                tar.append_data(&mut h, name, f.data.as_slice())?;
            }
        }
        tar.into_inner()
    }

    fn keeps(&self, name: &str) -> bool {
        if self.generated.is_some() && (name == ".berth" || name == GENERATED_DOCKERFILE) {
            // Replaced by the generated one.
            return false;
        }
        self.keep.iter().any(|k| k == name) || !self.ignore.is_excluded(name)
    }
}

fn header(kind: tar::EntryType, mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// A writer that cuts what it is given into [`CHUNK_SIZE`] pieces for the channel.
struct Chunks {
    buf: Vec<u8>,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Chunks {
    fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Chunks {
            buf: Vec::with_capacity(CHUNK_SIZE),
            tx,
        }
    }

    fn send(&mut self, chunk: Vec<u8>) -> io::Result<()> {
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the build context stream was dropped",
            )
        })
    }

    /// Sends what is left.
    fn finish(mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.buf);
        self.send(rest)
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK_SIZE {
            let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_SIZE));
            self.send(full)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Options, detect_at};
    use crate::testing::Fixture;
    use futures_util::StreamExt;

    /// (path, kind, contents or link target) of every entry, in order.
    fn entries(tar_bytes: &[u8]) -> Vec<(String, char, String)> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let kind = e.header().entry_type();
                let (tag, body) = if kind.is_dir() {
                    ('d', String::new())
                } else if kind.is_symlink() {
                    (
                        'l',
                        e.link_name()
                            .unwrap()
                            .unwrap()
                            .to_string_lossy()
                            .into_owned(),
                    )
                } else {
                    let mut s = String::new();
                    e.read_to_string(&mut s).unwrap();
                    ('f', s)
                };
                (path.trim_end_matches('/').to_owned(), tag, body)
            })
            .collect()
    }

    fn paths(tar_bytes: &[u8]) -> Vec<String> {
        entries(tar_bytes)
            .into_iter()
            .filter(|(_, kind, _)| *kind != 'd')
            .map(|(p, _, _)| p)
            .collect()
    }

    struct Built {
        _fx: Fixture,
        repo: Repo,
        _cache: tempfile::TempDir,
    }

    fn open(fx: Fixture) -> Built {
        let cache = tempfile::tempdir().unwrap();
        let repo = crate::git::open(fx.path_str(), cache.path()).unwrap();
        Built {
            _fx: fx,
            repo,
            _cache: cache,
        }
    }

    fn context_of(repo: &Repo, git_ref: &str) -> (BuildContext, Vec<u8>) {
        let commit = repo.resolve(git_ref).unwrap();
        let detected = detect_at(repo, &commit, &Options::default()).unwrap();
        let context = BuildContext::new(&commit, &detected).unwrap();
        (context, to_vec(repo, &commit, &detected).unwrap())
    }

    #[test]
    fn only_the_commit_is_archived() {
        let fx = Fixture::with_files(&[("Dockerfile", "FROM scratch\n"), ("a.txt", "committed\n")]);
        fx.git(&["tag", "first"]);
        fx.write("later.txt", "later\n");
        fx.commit("second");
        fx.write("a.txt", "dirty\n");
        fx.write("untracked.txt", "untracked\n");
        let b = open(fx);

        let (context, first) = context_of(&b.repo, "first");
        assert_eq!(context.dockerfile, "Dockerfile");
        assert!(!context.generated);
        assert_eq!(paths(&first), ["Dockerfile", "a.txt"]);

        let (_, second) = context_of(&b.repo, "main");
        assert_eq!(
            entries(&second),
            [
                ("Dockerfile".into(), 'f', "FROM scratch\n".into()),
                ("a.txt".into(), 'f', "committed\n".into()),
                ("later.txt".into(), 'f', "later\n".into()),
            ]
        );
    }

    #[test]
    fn dockerignore_is_applied_but_never_to_the_dockerfile() {
        let ignore = "\
# build outputs
node_modules
*.log
!keep.log
secrets/
Dockerfile
.dockerignore
docs/**/*.md
";
        let b = open(Fixture::with_files(&[
            ("Dockerfile", "FROM scratch\n"),
            (".dockerignore", ignore),
            ("app.js", ""),
            ("node_modules/x/index.js", ""),
            ("web/node_modules/y.js", ""),
            ("debug.log", ""),
            ("keep.log", ""),
            ("logs/deep.log", ""),
            ("secrets/key.pem", ""),
            ("docs/guide/a.md", ""),
            ("docs/guide/a.png", ""),
        ]));
        let (_, tar_bytes) = context_of(&b.repo, "main");
        assert_eq!(
            paths(&tar_bytes),
            [
                ".dockerignore",
                "Dockerfile",
                "app.js",
                "docs/guide/a.png",
                "keep.log",
                "logs/deep.log",
                "web/node_modules/y.js",
            ]
        );
        // Excluded directories are gone as entries too.
        let all: Vec<String> = entries(&tar_bytes).into_iter().map(|e| e.0).collect();
        assert!(
            !all.iter()
                .any(|p| p.starts_with("node_modules") || p.starts_with("secrets")),
            "{all:?}"
        );
    }

    #[test]
    fn an_app_dockerfile_keeps_its_own_ignore_file() {
        let b = open(Fixture::with_files(&[
            ("deploy/Dockerfile", "FROM scratch\n"),
            ("deploy/Dockerfile.dockerignore", "deploy\n*.txt\n"),
            (".dockerignore", "*.js\n"),
            ("a.txt", ""),
            ("b.js", ""),
        ]));
        let commit = b.repo.resolve("main").unwrap();
        let options = Options {
            dockerfile: Some("deploy/Dockerfile".into()),
            ..Options::default()
        };
        let detected = detect_at(&b.repo, &commit, &options).unwrap();
        let tar_bytes = to_vec(&b.repo, &commit, &detected).unwrap();
        assert_eq!(
            paths(&tar_bytes),
            [".dockerignore", "b.js", "deploy/Dockerfile"]
        );
    }

    #[test]
    fn a_bad_dockerignore_is_named() {
        let b = open(Fixture::with_files(&[
            ("Dockerfile", "FROM scratch\n"),
            ("Dockerfile.dockerignore", "ok\n[oops\n"),
        ]));
        let commit = b.repo.resolve("main").unwrap();
        let detected = detect_at(&b.repo, &commit, &Options::default()).unwrap();
        let err = stream(&b.repo, &commit, &detected).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Dockerfile.dockerignore line 2: pattern `[oops` has a malformed `[...]` class"
        );
    }

    #[test]
    fn generated_dockerfile_is_added() {
        let b = open(Fixture::with_files(&[
            ("go.mod", "module m\n"),
            ("main.go", "package main\n"),
            (".berth/Dockerfile", "FROM evil\n"),
            (".berth/notes.md", "kept\n"),
            (".dockerignore", ".berth\n"),
        ]));
        let (context, tar_bytes) = context_of(&b.repo, "main");
        assert_eq!(context.dockerfile, ".berth/Dockerfile");
        assert!(context.generated);
        assert_eq!(context.runtime, Runtime::Go);
        let got = entries(&tar_bytes);
        let names: Vec<(&str, char)> = got.iter().map(|(p, k, _)| (p.as_str(), *k)).collect();
        assert_eq!(
            names,
            [
                (".berth", 'd'),
                (".berth/Dockerfile", 'f'),
                (".dockerignore", 'f'),
                ("go.mod", 'f'),
                ("main.go", 'f'),
            ]
        );
        assert!(
            got[1].2.starts_with("# generated by berth for a go app"),
            "{}",
            got[1].2
        );
    }

    #[cfg(unix)]
    #[test]
    fn modes_symlinks_and_long_paths_survive() {
        let long = format!("{}/{}.txt", "d".repeat(90), "f".repeat(120));
        let fx = Fixture::with_files(&[
            ("Dockerfile", "FROM scratch\n"),
            ("run.sh", "#!/bin/sh\n"),
            (&long, "long\n"),
        ]);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            fx.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("run.sh", fx.path().join("link")).unwrap();
        fx.commit("more");
        let b = open(fx);
        let (_, tar_bytes) = context_of(&b.repo, "main");
        let got = entries(&tar_bytes);
        assert!(
            got.contains(&("link".into(), 'l', "run.sh".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&(long.clone(), 'f', "long\n".into())),
            "{got:?}"
        );

        let mut archive = tar::Archive::new(&tar_bytes[..]);
        for e in archive.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let h = e.header();
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.mtime().unwrap(), 1_714_564_800, "{path}");
            match path.as_str() {
                "run.sh" => assert_eq!(h.mode().unwrap() & 0o111, 0o111),
                "Dockerfile" => assert_eq!(h.mode().unwrap() & 0o111, 0),
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn the_stream_yields_the_same_bytes_in_chunks() {
        // ~300 KiB of poorly compressible text so there are several chunks.
        let big: String = (0..40_000u32)
            .map(|i| format!("{:07}\n", i.wrapping_mul(2_654_435_761)))
            .collect();
        let b = open(Fixture::with_files(&[
            ("index.html", "<h1>hi</h1>\n"),
            ("big.txt", &big),
        ]));
        let commit = b.repo.resolve("main").unwrap();
        let detected = detect_at(&b.repo, &commit, &Options::default()).unwrap();
        let expected = to_vec(&b.repo, &commit, &detected).unwrap();

        let mut s = stream(&b.repo, &commit, &detected).unwrap();
        assert_eq!(s.context().dockerfile, ".berth/Dockerfile");
        assert_eq!(s.context().runtime, Runtime::Static);
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk.unwrap();
            sizes.push(chunk.len());
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, expected);
        assert!(sizes.len() >= 5, "{sizes:?}");
        let (last, full) = sizes.split_last().unwrap();
        assert!(full.iter().all(|n| *n == CHUNK_SIZE), "{sizes:?}");
        assert!(*last > 0 && *last <= CHUNK_SIZE);
        let files = paths(&got);
        assert_eq!(files, [".berth/Dockerfile", "big.txt", "index.html"]);
    }

    #[tokio::test]
    async fn git_failures_end_the_stream() {
        let b = open(Fixture::with_files(&[("Dockerfile", "FROM scratch\n")]));
        let commit = b.repo.resolve("main").unwrap();
        let detected = detect_at(&b.repo, &commit, &Options::default()).unwrap();
        let context = BuildContext::new(&commit, &detected).unwrap();
        let filter = Filter::new(&|p| b.repo.read_file(&commit, p), &context, &detected).unwrap();
        let missing = "0123456789012345678901234567890123456789";
        let archive = GitCmd::in_repo(b.repo.git_dir(), ["archive", "--format=tar", missing]);

        let items: Vec<io::Result<Bytes>> =
            start(archive, filter, context).unwrap().collect().await;
        let (last, rest) = items.split_last().unwrap();
        assert!(rest.iter().all(Result::is_ok));
        let err = last.as_ref().unwrap_err();
        let build_err = err.get_ref().and_then(|e| e.downcast_ref::<BuildError>());
        assert!(matches!(build_err, Some(BuildError::Git { .. })), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("`git archive --format=tar 0123"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_work() {
        let big = "x".repeat(4 * 1024 * 1024);
        let b = open(Fixture::with_files(&[
            ("Dockerfile", "FROM scratch\n"),
            ("big.txt", &big),
        ]));
        let commit = b.repo.resolve("main").unwrap();
        let detected = detect_at(&b.repo, &commit, &Options::default()).unwrap();
        let mut s = stream(&b.repo, &commit, &detected).unwrap();
        assert!(s.next().await.unwrap().is_ok());
        drop(s);
        // Nothing to observe but that this returns and the background thread does not panic.
    }

    fn file(path: &str, mode: u32, data: &str) -> SnapshotFile {
        SnapshotFile {
            path: path.to_owned(),
            mode,
            data: data.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn a_fetched_snapshot_builds_like_a_commit() {
        let snapshot = Snapshot {
            commit: Commit {
                sha: "a".repeat(40),
                subject: "fetched".to_owned(),
            },
            files: vec![
                file(".dockerignore", 0o100644, "secrets/\n*.log\n"),
                file("bin/run", 0o100755, "#!/bin/sh\n"),
                file("current", 0o120000, "bin/run"),
                file("debug.log", 0o100644, "noise"),
                file("index.html", 0o100644, "<h1>hi</h1>"),
                file("secrets/key", 0o100644, "nope"),
            ],
        };
        let detected = snapshot.detect(&Options::default()).expect("detect");
        assert_eq!(detected.runtime, Runtime::Static);
        let mut stream = snapshot.context(&detected).expect("context");
        assert_eq!(stream.context().dockerfile, GENERATED_DOCKERFILE);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.expect("chunk"));
        }
        let got = entries(&bytes);
        let names: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                ".berth",
                GENERATED_DOCKERFILE,
                ".dockerignore",
                "bin/run",
                "current",
                "index.html"
            ]
        );
        assert!(got.contains(&("current".to_owned(), 'l', "bin/run".to_owned())));
        let mut archive = tar::Archive::new(bytes.as_slice());
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            if entry.path().expect("path").to_string_lossy() == "bin/run" {
                assert_eq!(entry.header().mode().expect("mode"), 0o755);
            }
        }
    }

    #[test]
    fn a_snapshot_without_the_apps_dockerfile_says_so() {
        let snapshot = Snapshot {
            commit: Commit {
                sha: "b".repeat(40),
                subject: "x".to_owned(),
            },
            files: vec![file("index.html", 0o100644, "x")],
        };
        let err = snapshot
            .detect(&Options {
                dockerfile: Some("deploy/Dockerfile".into()),
                ..Options::default()
            })
            .expect_err("missing");
        assert!(err.to_string().contains("deploy/Dockerfile"), "{err}");
    }

    #[test]
    fn the_stream_is_send_unpin_static() {
        fn check<T: Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static>() {}
        check::<ContextStream>();
    }
}
