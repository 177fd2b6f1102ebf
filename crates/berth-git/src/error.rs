//! The one error type of this crate: every variant names the (redacted) URL and says what to do.

/// Why a fetch (or key generation) failed. Every URL in here has already been through
/// [`crate::redact_url`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    #[error("`{url}` is not a git URL this client understands: {reason}")]
    InvalidUrl { url: String, reason: String },

    #[error("`{commit}` is not a commit id: expected 4 to 40 hexadecimal digits (a full id is 40)")]
    InvalidCommit { commit: String },

    #[error("could not connect to {address} for {url}: {source}")]
    Connect {
        url: String,
        address: String,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "connecting to {address} for {url} took longer than {seconds} s; is the host reachable?"
    )]
    ConnectTimeout {
        url: String,
        address: String,
        seconds: u64,
    },

    #[error("fetching {url} took longer than {seconds} s and was abandoned")]
    Timeout { url: String, seconds: u64 },

    #[error("TLS with {url} failed: {message}")]
    Tls { url: String, message: String },

    #[error("connection to {url} failed while {doing}: {source}")]
    Io {
        url: String,
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("authentication failed for {url}: {detail}")]
    AuthFailed { url: String, detail: String },

    #[error("repository {url} not found (or not readable with these credentials): {detail}")]
    RepositoryNotFound { url: String, detail: String },

    #[error("HTTP {status} from {url}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },

    #[error(
        "{url} does not speak the smart HTTP git protocol (content type `{content_type}`); only smart HTTP is supported"
    )]
    NotSmartHttp { url: String, content_type: String },

    #[error("the git server for {url} reported an error: {message}")]
    Server { url: String, message: String },

    #[error("the git server for {url} sent something this client did not expect: {message}")]
    Protocol { url: String, message: String },

    #[error("repository {url} is empty: push a commit first")]
    EmptyRepository { url: String },

    #[error("ref `{git_ref}` not found in {url}; {}", available_hint(.available))]
    RefNotFound {
        url: String,
        git_ref: String,
        available: Vec<String>,
    },

    #[error(
        "commit {commit} is not within the last {depth} commits of {git_ref} (tip {tip}) in {url}"
    )]
    CommitNotFound {
        url: String,
        git_ref: String,
        commit: String,
        tip: String,
        depth: u32,
    },

    #[error("commit prefix {commit} is ambiguous among the last commits of {git_ref} in {url}")]
    AmbiguousCommit {
        url: String,
        git_ref: String,
        commit: String,
    },

    #[error("the pack sent by {url} is larger than the limit of {limit} bytes")]
    PackTooLarge { url: String, limit: u64 },

    #[error("commit {commit} of {url} has more than {limit} files, which is over the limit")]
    TooManyFiles {
        url: String,
        commit: String,
        limit: usize,
    },

    #[error("the pack sent by {url} is corrupt: {message}")]
    CorruptPack { url: String, message: String },

    #[error("commit {commit} of {url} is malformed: {message}")]
    CorruptObject {
        url: String,
        commit: String,
        message: String,
    },

    #[error("ssh to {url} failed: {message}")]
    Ssh { url: String, message: String },

    #[error(
        "the ssh host key of {url} has changed or is not the pinned one: expected {expected}, the server presented {presented}; if the server's key was rotated on purpose, update the pinned host key"
    )]
    HostKeyMismatch {
        url: String,
        expected: String,
        presented: String,
    },

    #[error(
        "the server refused the deploy key for user `{user}` at {url}: add the public key to the repository's deploy keys (read access is enough)"
    )]
    DeployKeyRejected { url: String, user: String },

    #[error("the {what} is not usable: {reason}")]
    InvalidKey { what: &'static str, reason: String },

    #[error("could not generate a deploy key: {reason}")]
    KeyGeneration { reason: String },
}

fn available_hint(available: &[String]) -> String {
    if available.is_empty() {
        "the repository has no branches".to_owned()
    } else {
        format!("branches there include: {}", available.join(", "))
    }
}
