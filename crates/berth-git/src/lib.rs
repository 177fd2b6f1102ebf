//! Fetches one commit's file tree from a remote git repository over `git://`, smart HTTP(S) and
//! SSH, entirely in Rust: no git binary, no shell, no CA files on disk. It speaks the
//! upload-pack protocol (v0/v1) with a shallow fetch, parses the pack in memory and walks the
//! commit's tree into a sorted list of files.
//!
//! Entry points: [`fetch`], [`generate_deploy_key`], [`redact_url`].
//!
//! Invariant: `berth-git` knows nothing about Docker, Berth's apps or the relay; it turns a URL,
//! credentials and a ref into files, and never logs a token or a key.

mod error;
#[doc(hidden)]
pub mod fuzzing;
mod keys;
mod oid;
mod pack;
mod pktline;
mod protocol;
mod refs;
mod transport;
mod tree;
mod url;

use std::time::Duration;

pub use error::GitError;
pub use keys::generate_deploy_key;
pub use url::redact_url;

use oid::{ObjectKind, Oid};
use refs::{Advertisement, AdvertisementError};
use url::Remote;

/// Where to fetch from and with which credentials.
#[derive(Clone)]
pub struct Source {
    pub url: String,
    pub auth: Auth,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("url", &redact_url(&self.url))
            .field("auth", &self.auth)
            .finish()
    }
}

/// Credentials for a [`Source`].
#[derive(Clone)]
pub enum Auth {
    None,
    /// HTTPS token: sent as HTTP Basic auth `user:token`; user defaults to the URL's userinfo
    /// user, else "x-access-token".
    Token {
        user: Option<String>,
        token: String,
    },
    /// SSH deploy key: private key in OpenSSH PEM format ("-----BEGIN OPENSSH PRIVATE KEY-----"),
    /// and the server host key we expect, as an OpenSSH public key line ("ssh-ed25519 AAAA...");
    /// None = accept the first key seen (trust on first use) and report it in
    /// [`Snapshot::host_key`].
    SshKey {
        private_key: String,
        host_key: Option<String>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Token { user, .. } => f
                .debug_struct("Token")
                .field("user", user)
                .field("token", &"<redacted>")
                .finish(),
            Auth::SshKey { host_key, .. } => f
                .debug_struct("SshKey")
                .field("private_key", &"<redacted>")
                .field("host_key", host_key)
                .finish(),
        }
    }
}

/// One commit's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The commit id, 40 lowercase hex digits.
    pub commit: String,
    /// The first line of the commit message.
    pub subject: String,
    /// Every blob of the commit's tree, recursively, sorted by path.
    pub files: Vec<File>,
    /// ssh only: the host key the server presented (OpenSSH public key line).
    pub host_key: Option<String>,
    /// Asked with [`fetch_since`]: whether `since` is the commit or one of its ancestors
    /// within the last [`COMMIT_SEARCH_DEPTH`] commits. `None` when not asked.
    pub descends: Option<bool>,
}

/// One file of a [`Snapshot`].
#[derive(Clone, PartialEq, Eq)]
pub struct File {
    /// `dir/sub/name`, with `/` separators.
    pub path: String,
    /// `0o100644`, `0o100755` or `0o120000` (a symlink, whose `data` is its target).
    pub mode: u32,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("path", &self.path)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("len", &self.data.len())
            .finish()
    }
}

/// Packs larger than this are refused.
pub const MAX_PACK_BYTES: u64 = 1 << 30;
/// Trees with more files than this are refused.
pub const MAX_FILES: usize = 100_000;
/// How far back a requested `commit` may be behind the ref's tip.
pub const COMMIT_SEARCH_DEPTH: u32 = 50;
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// Fetches `commit` if given (it must be reachable from `git_ref`), else the tip of `git_ref`.
/// `git_ref` is a branch name ("main"), a full ref ("refs/heads/main", "refs/tags/v1"), or a tag
/// name.
pub async fn fetch(
    source: &Source,
    git_ref: &str,
    commit: Option<&str>,
) -> Result<Snapshot, GitError> {
    fetch_since(source, git_ref, commit, None).await
}

/// [`fetch`], also telling whether the fetched commit descends from `since` (a full commit
/// id: the one serving) — [`Snapshot::descends`]. The history is fetched
/// [`COMMIT_SEARCH_DEPTH`] commits deep to look; further back counts as no.
pub async fn fetch_since(
    source: &Source,
    git_ref: &str,
    commit: Option<&str>,
    since: Option<&str>,
) -> Result<Snapshot, GitError> {
    let url = redact_url(&source.url);
    let started = std::time::Instant::now();
    let since = since.map(|s| s.trim().to_ascii_lowercase());
    let result = tokio::time::timeout(
        FETCH_TIMEOUT,
        fetch_inner(source, &url, git_ref, commit, since),
    )
    .await
    .unwrap_or_else(|_| {
        Err(GitError::Timeout {
            url: url.clone(),
            seconds: FETCH_TIMEOUT.as_secs(),
        })
    });
    match &result {
        Ok(s) => tracing::info!(
            %url, git_ref, commit = %s.commit, files = s.files.len(),
            elapsed_ms = started.elapsed().as_millis() as u64, "fetched"
        ),
        Err(e) => tracing::debug!(%url, git_ref, error = %e, "fetch failed"),
    }
    result
}

async fn fetch_inner(
    source: &Source,
    url: &str,
    git_ref: &str,
    commit: Option<&str>,
    since: Option<String>,
) -> Result<Snapshot, GitError> {
    let remote = Remote::parse(&source.url)?;
    let commit = commit.map(|c| c.trim().to_ascii_lowercase());
    if let Some(c) = &commit
        && (c.len() < 4 || c.len() > 40 || !c.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(GitError::InvalidCommit { commit: c.clone() });
    }
    if let Some(s) = &since
        && (s.len() != 40 || !s.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(GitError::InvalidCommit { commit: s.clone() });
    }
    let job = Job {
        url: url.to_owned(),
        git_ref: git_ref.to_owned(),
        commit,
        since,
    };
    match remote {
        Remote::Git { host, port, path } => {
            if !matches!(source.auth, Auth::None) {
                return Err(job.invalid_auth("git:// has no authentication; use https or ssh"));
            }
            transport::git::fetch(&job, &host, port, &path).await
        }
        Remote::Http {
            tls,
            ref host,
            ref password,
            ref user,
            ..
        } => {
            if matches!(source.auth, Auth::SshKey { .. }) {
                return Err(job.invalid_auth("a deploy key needs an ssh URL (git@host:org/repo)"));
            }
            // Fail closed: a token never travels in clear over a network (this machine's own
            // loopback is no network).
            let credentials =
                matches!(source.auth, Auth::Token { .. }) || password.is_some() || user.is_some();
            if !tls && credentials && !is_loopback(host) {
                return Err(job.invalid_auth(
                    "a token would travel in clear over http://: use the https:// URL",
                ));
            }
            transport::http::fetch(&job, &remote, &source.auth).await
        }
        Remote::Ssh {
            user,
            host,
            port,
            path,
        } => {
            let Auth::SshKey {
                private_key,
                host_key,
            } = &source.auth
            else {
                return Err(job.invalid_auth("ssh URLs need a deploy key (Auth::SshKey)"));
            };
            let target = transport::ssh::Target {
                user: user.as_deref().unwrap_or("git"),
                host: &host,
                port,
                path: &path,
            };
            transport::ssh::fetch(&job, target, private_key, host_key.as_deref()).await
        }
    }
}

/// What one fetch is after, and the context every error message needs.
pub(crate) struct Job {
    /// Redacted.
    pub(crate) url: String,
    pub(crate) git_ref: String,
    /// Lowercase hex, 4 to 40 digits.
    pub(crate) commit: Option<String>,
    /// 40 lowercase hex digits: report whether the commit descends from it.
    pub(crate) since: Option<String>,
}

/// The ref to fetch and how deep, decided from the advertisement.
pub(crate) struct Plan {
    pub(crate) tip: Oid,
    pub(crate) depth: u32,
}

impl Job {
    fn invalid_auth(&self, reason: &str) -> GitError {
        GitError::InvalidUrl {
            url: self.url.clone(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn protocol(&self, message: impl Into<String>) -> GitError {
        GitError::Protocol {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn server(&self, message: impl Into<String>) -> GitError {
        GitError::Server {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    pub(crate) fn io(&self, doing: &'static str, source: std::io::Error) -> GitError {
        GitError::Io {
            url: self.url.clone(),
            doing,
            source,
        }
    }

    pub(crate) fn wire(&self, doing: &'static str, e: pktline::WireError) -> GitError {
        match e {
            pktline::WireError::Io(source) => self.io(doing, source),
            pktline::WireError::Malformed(m) => self.protocol(format!("{m} (while {doing})")),
        }
    }

    pub(crate) fn response(&self, e: protocol::ResponseError) -> GitError {
        match e {
            protocol::ResponseError::Wire(w) => self.wire("receiving the pack", w),
            protocol::ResponseError::Server(m) => self.server(m),
            protocol::ResponseError::TooLarge => GitError::PackTooLarge {
                url: self.url.clone(),
                limit: MAX_PACK_BYTES,
            },
        }
    }

    /// Parses the advertisement lines and decides what to ask for.
    pub(crate) fn plan(&self, lines: &[Vec<u8>]) -> Result<(Advertisement, Plan), GitError> {
        let adv = Advertisement::parse(lines.iter().map(Vec::as_slice)).map_err(|e| match e {
            AdvertisementError::Server(m) => self.server(m),
            AdvertisementError::Malformed(m) => {
                self.protocol(format!("bad ref advertisement: {m}"))
            }
        })?;
        if adv.refs.is_empty() {
            return Err(GitError::EmptyRepository {
                url: self.url.clone(),
            });
        }
        let found = adv
            .resolve(&self.git_ref)
            .map_err(|available| GitError::RefNotFound {
                url: self.url.clone(),
                git_ref: self.git_ref.clone(),
                available,
            })?;
        let tip = found.target();
        let behind_tip = self
            .commit
            .as_ref()
            .is_some_and(|c| !tip.to_hex().starts_with(c.as_str()));
        // Whether the commit descends from `since` takes its history.
        let ancestry = self.since.as_ref().is_some_and(|s| *s != tip.to_hex());
        let depth = if behind_tip || ancestry {
            COMMIT_SEARCH_DEPTH
        } else {
            1
        };
        tracing::debug!(
            url = %self.url, git_ref = %self.git_ref, resolved = %found.name, %tip, depth,
            "ref resolved"
        );
        Ok((adv, Plan { tip, depth }))
    }

    /// Turns the received pack into the snapshot of the wanted commit.
    pub(crate) fn finish(
        &self,
        plan: &Plan,
        pack: &[u8],
        host_key: Option<String>,
    ) -> Result<Snapshot, GitError> {
        let objects = pack::parse(pack).map_err(|message| GitError::CorruptPack {
            url: self.url.clone(),
            message,
        })?;
        tracing::debug!(url = %self.url, bytes = pack.len(), objects = objects.len(), "pack parsed");
        // Peel tags (a ref to an annotated tag the server did not peel for us).
        let mut tip = plan.tip;
        for _ in 0..8 {
            match objects.get(&tip) {
                Some((ObjectKind::Tag, data)) => {
                    tip = tree::tag_target(data)
                        .ok_or_else(|| self.protocol(format!("tag {tip} has no object line")))?;
                }
                _ => break,
            }
        }
        let wanted = match &self.commit {
            Some(c) if !tip.to_hex().starts_with(c.as_str()) => {
                let mut matches = objects
                    .commits()
                    .filter(|o| o.to_hex().starts_with(c.as_str()));
                let first = matches.next();
                if matches.next().is_some() {
                    return Err(GitError::AmbiguousCommit {
                        url: self.url.clone(),
                        git_ref: self.git_ref.clone(),
                        commit: c.clone(),
                    });
                }
                first.ok_or_else(|| GitError::CommitNotFound {
                    url: self.url.clone(),
                    git_ref: self.git_ref.clone(),
                    commit: c.clone(),
                    tip: tip.to_hex(),
                    depth: plan.depth,
                })?
            }
            _ => tip,
        };
        let commit_data = match objects.get(&wanted) {
            Some((ObjectKind::Commit, data)) => data,
            Some((kind, _)) => {
                return Err(self.protocol(format!(
                    "{} points at a {} ({wanted}), not a commit",
                    self.git_ref,
                    kind.name()
                )));
            }
            None => {
                return Err(self.protocol(format!("the pack does not contain commit {wanted}")));
            }
        };
        let corrupt = |message: String| GitError::CorruptObject {
            url: self.url.clone(),
            commit: wanted.to_hex(),
            message,
        };
        let commit = tree::parse_commit(commit_data).map_err(|m| corrupt(m.to_owned()))?;
        let descends = self
            .since
            .as_ref()
            .map(|since| descends_from(&objects, wanted, since));
        let files = tree::files(&objects, commit.tree, MAX_FILES).map_err(|e| match e {
            tree::WalkError::TooManyFiles => GitError::TooManyFiles {
                url: self.url.clone(),
                commit: wanted.to_hex(),
                limit: MAX_FILES,
            },
            tree::WalkError::Corrupt(m) => corrupt(m),
        })?;
        Ok(Snapshot {
            commit: wanted.to_hex(),
            subject: commit.subject,
            files,
            host_key,
            descends,
        })
    }
}

/// Whether `since` (full hex) is `commit` or one of its ancestors among the fetched commits
/// (a shallow fetch ends where the pack's history does).
fn descends_from(objects: &pack::Objects, commit: Oid, since: &str) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut queue = std::collections::VecDeque::from([commit]);
    while let Some(oid) = queue.pop_front() {
        if oid.to_hex() == since {
            return true;
        }
        if !seen.insert(oid) {
            continue;
        }
        if let Some((ObjectKind::Commit, data)) = objects.get(&oid) {
            queue.extend(tree::commit_parents(data));
        }
    }
    false
}

/// Whether a token for `url` would travel in clear over a network: an `http://` URL to
/// another machine. (Berth refuses such a token before the relay ever tries.)
pub fn token_in_clear(url: &str) -> bool {
    matches!(Remote::parse(url), Ok(Remote::Http { tls: false, host, .. }) if !is_loopback(&host))
}

/// `localhost`, `127.x.x.x`, `::1`: this machine, where nothing travels over a network.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_is_never_sent_over_plain_http() {
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("localhost"));
        assert!(!is_loopback("203.0.113.9") && !is_loopback("git.example.com"));
        assert!(!token_in_clear("http://127.0.0.1:3000/me/app.git"));
        assert!(!token_in_clear("http://tok@[::1]:3000/me/app.git"));
        assert!(!token_in_clear("https://git.example.com/me/app.git"));
        assert!(token_in_clear("http://git.example.com/me/app.git"));
        for (url, auth) in [
            (
                "http://203.0.113.9:9/acme/web.git",
                Auth::Token {
                    user: None,
                    token: "ghp_s3cret".into(),
                },
            ),
            (
                "http://berth:s3cret@git.example.com/acme/web.git",
                Auth::None,
            ),
        ] {
            let source = Source {
                url: url.into(),
                auth,
            };
            let err = fetch(&source, "main", None).await.unwrap_err();
            assert!(
                err.to_string().contains("travel in clear"),
                "refused before connecting: {err}"
            );
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }
}
