//! Domains: the names an app answers to through its server's proxy, and their TLS state.

use serde::{Deserialize, Serialize};

/// A domain of an app, as stored. The automatic `<app>.<base-domain>` is not stored: it
/// follows the server's base domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domain {
    pub app: String,
    pub name: String,
    pub primary: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// What the proxy's certificate for a domain looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsStatus {
    /// `off`, `pending`, `issued`, `error` or `unknown` (the proxy could not be asked).
    pub state: String,
    /// A sentence for people: "issued by Caddy Local Authority, valid until 2026-12-01".
    pub detail: String,
    pub issuer: Option<String>,
    /// Unix seconds.
    pub not_after: Option<i64>,
}

/// A domain in `berth status` and `berth domain ls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStatus {
    pub domain: String,
    pub primary: bool,
    /// Derived from the server's base domain rather than added by hand.
    pub auto: bool,
    pub url: String,
    pub tls: TlsStatus,
    /// A change the route does not have yet (`to add`, `to remove`, `to make primary`):
    /// applied with `berth apply` (or `--apply`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}
