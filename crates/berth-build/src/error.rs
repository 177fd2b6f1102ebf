//! Everything that can stop a build source from becoming a build context, in words a user can act on.

use std::io;
use std::path::PathBuf;

/// Why a source could not be opened, resolved, detected or archived.
///
/// URLs in these errors have their credentials redacted, so they are safe to show and log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("git is not installed or not on PATH (install git and try again)")]
    GitNotInstalled,
    #[error(
        "`{}` does not exist (give the path of a git repository, or a URL git can clone)",
        .path.display()
    )]
    SourceMissing { path: PathBuf },
    #[error("`{}` is not a git repository (run `git init` there, or give a URL)", .path.display())]
    NotARepo { path: PathBuf },
    #[error("could not clone `{url}`: {stderr}")]
    CloneFailed { url: String, stderr: String },
    #[error("could not fetch `{url}`: {stderr}")]
    FetchFailed { url: String, stderr: String },
    /// `repo` is the source as the user gave it (a field named `source` would be taken by
    /// `thiserror` as the underlying error).
    #[error("{}", ref_not_found(.git_ref, .repo, .branches))]
    RefNotFound {
        git_ref: String,
        repo: String,
        branches: Vec<String>,
    },
    #[error("`{git_ref}` is not a usable git ref: {reason}")]
    InvalidRef { git_ref: String, reason: String },
    #[error("`git {}` failed: {stderr}", .args.join(" "))]
    Git { args: Vec<String>, stderr: String },
    #[error("dockerfile `{path}` is not in the commit (check the path, or commit the file)")]
    DockerfileMissing { path: String },
    #[error(
        "nothing to build: the commit has none of {} (add a Dockerfile, or point --dockerfile at one)",
        .looked_for.join(", ")
    )]
    NothingToBuild { looked_for: Vec<String> },
    #[error("{file} line {line}: {reason}")]
    BadDockerignore {
        /// `.dockerignore`, or `<dockerfile>.dockerignore` when that one is used.
        file: String,
        line: usize,
        reason: String,
    },
    #[error("Procfile line {line}: {reason}")]
    Procfile { line: usize, reason: String },
    #[error(
        "cannot generate a Dockerfile for this {runtime} app: {reason} (add a Dockerfile, or point --dockerfile at one)"
    )]
    CannotGenerate { runtime: String, reason: String },
    #[error("could not {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        BuildError::Io {
            action: action.into(),
            source,
        }
    }
}

fn ref_not_found(git_ref: &str, repo: &str, branches: &[String]) -> String {
    let known = if branches.is_empty() {
        "it has no branches yet: commit something first".to_owned()
    } else {
        format!("its branches are {}", branches.join(", "))
    };
    format!("`{git_ref}` is not a branch, tag or commit of `{repo}` ({known})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_well() {
        let cases = [
            (
                BuildError::NotARepo { path: "/x".into() },
                "`/x` is not a git repository (run `git init` there, or give a URL)",
            ),
            (
                BuildError::RefNotFound {
                    git_ref: "mian".into(),
                    repo: "/src/app".into(),
                    branches: vec!["main".into(), "dev".into()],
                },
                "`mian` is not a branch, tag or commit of `/src/app` (its branches are main, dev)",
            ),
            (
                BuildError::RefNotFound {
                    git_ref: "main".into(),
                    repo: "/src/app".into(),
                    branches: vec![],
                },
                "`main` is not a branch, tag or commit of `/src/app` (it has no branches yet: commit something first)",
            ),
            (
                BuildError::NothingToBuild {
                    looked_for: vec!["Dockerfile".into(), "go.mod".into()],
                },
                "nothing to build: the commit has none of Dockerfile, go.mod (add a Dockerfile, or point --dockerfile at one)",
            ),
            (
                BuildError::Git {
                    args: vec!["archive".into(), "--format=tar".into()],
                    stderr: "fatal: boom".into(),
                },
                "`git archive --format=tar` failed: fatal: boom",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
