//! The errors of talking to Caddy, each with what a user needs to act on it.

use crate::domain::InvalidDomain;

/// Why a call to Caddy's admin API did not do what was asked.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No stream could be opened to the admin endpoint, or it broke before Caddy answered.
    #[error("cannot reach {address}: {reason}; is the berth-proxy container running?")]
    Unreachable { address: String, reason: String },
    /// Caddy answered with an error status: it did not apply the change.
    #[error("caddy refused the change ({status}): {message}")]
    Refused { status: u16, message: String },
    /// Caddy answered something Berth cannot make sense of.
    #[error("unexpected answer from caddy: {0}")]
    Protocol(String),
    /// An admin address that cannot be used (see [`crate::AdminAddress::parse`]).
    #[error("{0}")]
    InvalidAddress(String),
    /// The named http server does not exist in Caddy's config.
    #[error(
        "caddy has no http server named `{server}`; load Berth's config first or adopt one of the existing servers"
    )]
    UnknownServer { server: String },
    /// A route with a host that is not a valid domain name; nothing was sent to Caddy.
    #[error(transparent)]
    InvalidDomain(#[from] InvalidDomain),
    /// A route Berth was asked to write is malformed (its id or upstream); nothing was sent.
    #[error("{0}")]
    InvalidRoute(String),
}
