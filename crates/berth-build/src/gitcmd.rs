//! The one place that spawns processes: every `git` this crate runs is built and started here.
//!
//! Each invocation gets a predictable environment: no inherited repository variables (a
//! `GIT_DIR` left by a hook would point git elsewhere), no terminal prompts, the C locale (so
//! stderr can be recognised) and a closed stdin. Arguments and stderr are redacted before they
//! can reach an error message.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::thread::JoinHandle;

use crate::BuildError;

/// Variables that would make git look at another repository than the one we name.
const INHERITED_REPO_VARS: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_CEILING_DIRECTORIES",
    "GIT_CONFIG_PARAMETERS",
];

/// Lines of git's stderr kept in an error message.
const STDERR_LINES: usize = 20;

/// One `git` invocation, built up and then run, or spawned with its stdout streamed.
#[derive(Clone, Default)]
pub(crate) struct GitCmd {
    args: Vec<OsString>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
}

impl std::fmt::Debug for GitCmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Arguments may hold a URL with credentials: only ever show them redacted.
        f.debug_struct("GitCmd")
            .field("args", &self.shown_args())
            .field("cwd", &self.cwd)
            .finish_non_exhaustive()
    }
}

impl GitCmd {
    pub(crate) fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        GitCmd::default().args(args)
    }

    /// A command against the repository whose git directory is `git_dir` (no discovery).
    pub(crate) fn in_repo<I, S>(git_dir: &Path, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        GitCmd::new(args).env("GIT_DIR", git_dir)
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn cwd(mut self, dir: &Path) -> Self {
        self.cwd = Some(dir.to_owned());
        self
    }

    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The arguments as they may be shown to a user (credentials in URLs redacted).
    pub(crate) fn shown_args(&self) -> Vec<String> {
        self.args
            .iter()
            .map(|a| redact_url(&a.to_string_lossy()))
            .collect()
    }

    // The only process spawn of the crate (a `disallowed-methods` rule on `Command::new` can
    // point here).
    #[allow(clippy::disallowed_methods)]
    fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        for var in INHERITED_REPO_VARS {
            cmd.env_remove(var);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.args(&self.args).stdin(Stdio::null());
        cmd
    }

    /// Runs to completion whatever the exit status; the caller reads it.
    pub(crate) fn output(&self) -> Result<Output, BuildError> {
        tracing::debug!(args = ?self.shown_args(), "git");
        self.command().output().map_err(spawn_error)
    }

    /// Runs to completion; a non-zero exit becomes [`BuildError::Git`] with git's stderr.
    pub(crate) fn run(&self) -> Result<Vec<u8>, BuildError> {
        let out = self.output()?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(self.failed(&out.stderr))
        }
    }

    /// The error for this command having failed with `stderr`.
    pub(crate) fn failed(&self, stderr: &[u8]) -> BuildError {
        BuildError::Git {
            args: self.shown_args(),
            stderr: stderr_text(stderr),
        }
    }

    /// Starts the command with stdout piped to the caller; stderr is collected on a thread so
    /// a chatty git cannot block on a full pipe.
    pub(crate) fn spawn(&self) -> Result<RunningGit, BuildError> {
        tracing::debug!(args = ?self.shown_args(), "git (streamed)");
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take().map(|mut pipe| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                // A read error only loses diagnostics; the exit status still tells the story.
                let _ = pipe.read_to_end(&mut buf);
                buf
            })
        });
        Ok(RunningGit {
            cmd: self.clone(),
            child: Some(child),
            stdout,
            stderr,
        })
    }
}

/// A spawned git whose stdout is being read by the caller.
#[derive(Debug)]
pub(crate) struct RunningGit {
    cmd: GitCmd,
    child: Option<Child>,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl RunningGit {
    /// The child's stdout; `None` after the first call.
    pub(crate) fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.stdout.take()
    }

    /// Waits for git to exit; a non-zero exit becomes [`BuildError::Git`] with its stderr.
    pub(crate) fn finish(mut self) -> Result<(), BuildError> {
        // Close our end first so a git still writing gets EPIPE instead of blocking forever.
        drop(self.stdout.take());
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .wait()
            .map_err(|e| BuildError::io("wait for git", e))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(self.cmd.failed(&stderr))
        }
    }

    /// Stops git (used when the consumer went away).
    pub(crate) fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.stdout.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RunningGit {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn_error(e: io::Error) -> BuildError {
    if e.kind() == io::ErrorKind::NotFound {
        BuildError::GitNotInstalled
    } else {
        BuildError::io("run git", e)
    }
}

/// git's stderr as one readable, redacted string: the last lines, trimmed.
pub(crate) fn stderr_text(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = lines.len().saturating_sub(STDERR_LINES);
    let joined = lines[start..].join("\n");
    let joined = if joined.is_empty() {
        "git printed nothing".to_owned()
    } else {
        joined
    };
    redact_text(&joined)
}

/// `url` with the password (or a bare token) of its userinfo replaced by `***`.
///
/// `https://user:token@host/x` → `https://user:***@host/x`; `https://token@host/x` →
/// `https://***@host/x`; `ssh://git@host/x` and `git@host:x` are unchanged (a user name is
/// not a secret there).
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None if scheme.starts_with("http") => "***".to_owned(),
        None => userinfo.to_owned(),
    };
    format!("{scheme}://{shown}{}", &rest[at..])
}

/// Redacts every URL-looking word of a free text (git sometimes echoes the remote URL).
pub(crate) fn redact_text(text: &str) -> String {
    if !text.contains("://") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || c == '\'' || c == '"' {
            out.push_str(&redact_url(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&redact_url(&word));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        let cases = [
            (
                "https://user:s3cret@example.com/a.git",
                "https://user:***@example.com/a.git",
            ),
            (
                "https://ghp_token@github.com/a/b",
                "https://***@github.com/a/b",
            ),
            ("ssh://git@example.com/a.git", "ssh://git@example.com/a.git"),
            ("git@github.com:a/b.git", "git@github.com:a/b.git"),
            ("https://example.com/a@b", "https://example.com/a@b"),
            ("/local/path", "/local/path"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want, "{url}");
        }
        assert_eq!(
            redact_text("fatal: repository 'https://u:pw@h/x/' not found"),
            "fatal: repository 'https://u:***@h/x/' not found"
        );
    }

    #[test]
    fn stderr_keeps_the_last_lines() {
        let many: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let text = stderr_text(many.as_bytes());
        assert!(text.starts_with("line 10\n"), "{text}");
        assert!(text.ends_with("line 29"));
        assert_eq!(stderr_text(b"\n"), "git printed nothing");
    }
}
