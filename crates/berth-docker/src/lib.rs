//! Typed Docker Engine API calls Berth needs, over whatever byte stream a [`Dialer`] opens.
//!
//! The crate knows nothing about SSH: the engine hands it a dialer that opens a stream to the
//! server's Docker socket (a channel of the one SSH session, or the local socket). HTTP
//! connections are pooled and kept alive, so a burst of API calls reuses a few streams instead
//! of opening one per call. The API version is negotiated with the server (Debian 12's dockerd
//! speaks 1.41).

mod archive;
mod build;
mod client;
mod container;
mod dial;
mod error;
mod exec;
mod proxy;
mod prune;
mod registry;
mod stats;

pub use archive::ByteStream;
pub use build::{BuildLine, BuildOutcome};
pub use client::{DockerClient, EngineInfo};
pub use container::{
    ContainerEnv, ContainerInfo, ContainerSpec, ImageFacts, ImageInfo, LogLine, LogStream,
    PortPublish,
};
pub use dial::{BoxStream, Dialer, IoStream};
pub use error::DockerError;
pub use proxy::{Publish, ServiceSpec, TaskEnd};
pub use registry::RegistryLogin;
pub use stats::{DiskUsage, StatsReading};

/// Labels every object Berth creates carries, so a host's state can be read back from Docker.
pub mod labels {
    pub const MANAGED: &str = "berth.managed";
    pub const APP: &str = "berth.app";
    pub const DEPLOYMENT: &str = "berth.deployment";
    pub const COMMIT: &str = "berth.commit";
    /// An image app's image, pinned: `repository@sha256:…`.
    pub const IMAGE: &str = "berth.image";
    /// What a non-app container is for (`proxy`).
    pub const ROLE: &str = "berth.role";
    /// The process type of an app's companion container (a Procfile's `worker`); the web
    /// container has none.
    pub const PROCESS: &str = "berth.process";
}
