//! Build sources: git resolution, the archive of a commit filtered by .dockerignore, runtime detection and generated Dockerfiles.
//!
//! The flow the engine drives:
//!
//! 1. [`git::open`] a source (a local repository, or a URL cloned into a cache) and
//!    [`git::Repo::resolve`] a ref to a [`git::Commit`];
//! 2. [`detect::detect_at`] decides how the commit is built: its own Dockerfile, or a generated
//!    one for Go, Node, Python, Rust or a static site;
//! 3. [`context::stream`] produces the build context — `git archive` of the commit filtered by
//!    its `.dockerignore`, plus the generated Dockerfile — as a stream of tar chunks for the
//!    Docker build API.
//!
//! Invariant: the source of a build is always a commit, never a work tree. `berth-build` knows
//! nothing about Docker's API or SSH, and only its `gitcmd` module starts processes.

pub mod context;
pub mod detect;
pub mod dockerignore;
mod error;
pub mod git;
mod gitcmd;
pub mod procfile;
#[cfg(test)]
mod testing;

pub use context::{BuildContext, ContextStream, Snapshot, SnapshotFile};
pub use detect::{Detected, Options, Runtime};
pub use error::BuildError;
pub use git::{Commit, Repo};
pub use procfile::{Process, Procfile};
