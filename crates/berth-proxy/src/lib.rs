//! Berth's side of Caddy: the admin API client, the Caddy config Berth manages, domain-name
//! validation and TLS certificate inspection.
//!
//! It speaks HTTP/1.1 (and TLS, for probes) over byte streams someone else opens through
//! [`Connect`]: over an SSH session for a remote host, directly for a local one
//! ([`LocalConnect`]). *Invariant: knows nothing about SSH or Docker.*

mod address;
pub mod certs;
mod client;
mod config;
mod connect;
pub mod domain;
mod error;
mod route;

pub use address::AdminAddress;
pub use client::{Caddy, HttpServer, UpstreamStatus};
pub use config::{ProxySettings, TlsMode, UnknownTlsMode, initial_config};
pub use connect::{BoxStream, Connect, IoStream, LocalConnect};
pub use error::ProxyError;
pub use route::{Route, SERVER, route_id};
