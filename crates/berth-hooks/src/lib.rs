//! Webhook deliveries from git hosts: verifying their signatures or tokens, parsing them into
//! push events, and deciding with a branch/tag filter whether a push deploys.
//!
//! Everything here is pure: no I/O, no clock, no async. The relay calls, for every request:
//!
//! 1. [`verify`] (answer [`Rejection::status`] if it fails),
//! 2. [`parse`] into an [`Event`],
//! 3. for an [`Event::Push`], [`decide`] with the hook's [`WebhookFilter`];
//!
//! and records [`delivery_id`] and [`event_name`] whatever the outcome.
//!
//! | provider | authentication | event header |
//! | --- | --- | --- |
//! | GitHub | `X-Hub-Signature-256: sha256=<hex hmac-sha256 of the body>` | `X-GitHub-Event` |
//! | Gitea, Forgejo | `X-Gitea-Signature: <hex hmac>` (or `X-Forgejo-Signature`) | `X-Gitea-Event` |
//! | GitLab | `X-Gitlab-Token: <secret>` | `X-Gitlab-Event` |
//! | generic | `Authorization: Bearer <secret>` | none: always a push |

mod error;
mod filter;
pub mod fixtures;
mod headers;
mod image;
mod parse;
mod text;
mod verify;

pub use berth_model::webhook::{Provider, WebhookFilter};
pub use error::Rejection;
pub use filter::{decide, decide_image, glob_match, validate_pattern};
pub use headers::Headers;
pub use parse::{body_digest, delivery_id, event_name, parse};
pub use verify::{sign_gitea, sign_github, verify};

/// What a verified request is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The provider's test delivery (GitHub's `ping`, a generic `{"ping": true}`).
    Ping,
    /// Commits pushed to, or a ref created or deleted.
    Push(Push),
    /// An image pushed to a registry (a registry's notification, a GitHub or Gitea package
    /// event, a generic `{"image": …}`).
    Image(ImagePush),
    /// Anything else (issues, stars, merge requests …), named as [`event_name`] names it.
    Other { event: String },
}

/// A push, reduced to what a deploy needs and what a delivery record shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2`.
    pub git_ref: String,
    /// The head commit's sha, lowercase (40 or 64 hex digits); `None` if the ref was deleted or
    /// the body named no commit.
    pub commit: Option<String>,
    /// The branch or tag was deleted.
    pub deleted: bool,
    /// First line of the head commit's message, at most 200 characters.
    pub message: Option<String>,
    /// Who pushed (login where the provider sends one).
    pub pusher: Option<String>,
    /// The repository's full name, e.g. `octo/hello`.
    pub repository: Option<String>,
}

/// An image push, reduced to what a deploy needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePush {
    /// `registry/org/app` as the sender names it (the registry host when it gives one).
    pub repository: String,
    pub tag: String,
    /// The manifest digest, when the sender gives it.
    pub digest: Option<String>,
    /// Who pushed, where the sender says.
    pub pusher: Option<String>,
}

impl ImagePush {
    /// `repository:tag`: what a delivery records and a deploy pulls.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

impl Push {
    /// The branch name for a `refs/heads/…` ref.
    pub fn branch(&self) -> Option<&str> {
        self.git_ref
            .strip_prefix("refs/heads/")
            .filter(|b| !b.is_empty())
    }

    /// The tag name for a `refs/tags/…` ref.
    pub fn tag(&self) -> Option<&str> {
        self.git_ref
            .strip_prefix("refs/tags/")
            .filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests;
