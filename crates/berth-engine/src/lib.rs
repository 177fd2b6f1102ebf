//! The deploy pipeline, written once for every front end (CLI, desktop, relay).
//!
//! A deployment is planned as data ([`plan::Plan`], a list of steps rendered as text and
//! unit-tested as such) from the desired app spec and what was observed on the host, then
//! executed by a thin runner ([`run`]) against Docker through the host's transport. The
//! engine reports through a [`DeploySink`] and never touches the store, the UI or the CLI.
//!
//! Invariants: the serving container keeps serving until its successor is healthy and
//! switched to; a failed or cancelled deploy removes only what it created (its container and
//! the image it built); one retention rule ([`kept_images`]) decides which images stay.

mod apply;
pub mod backup;
pub mod connect;
mod error;
pub mod exec;
#[cfg(test)]
mod fixtures;
mod health;
mod host;
pub mod images;
pub mod import;
pub mod monitor;
pub mod observe;
mod outcome;
pub mod plan;
pub mod power;
pub mod proxy;
pub mod prune;
pub mod reconcile;
pub mod registry;
pub mod relay;
pub mod removal;
mod retention;
pub mod routes;
mod run;
pub mod service;
pub mod settle;
pub mod stages;

pub use connect::ConnectPaths;

/// The stack each async worker thread gets in Berth's programs (the CLI, the relay, the
/// desktop). A deploy's futures nest deep (a watcher polls a delivery that polls a deploy that
/// polls the plan's runner), and in a debug build their frames outgrow tokio's 2 MiB default:
/// the desktop died of it with a bare SIGSEGV (WebKit's signal handlers hide Rust's
/// stack-overflow message). Only the pages a thread touches are ever resident.
pub const WORKER_STACK_BYTES: usize = 8 << 20;

/// The multi-threaded async runtime Berth's programs run on: `workers` threads (`None`: one
/// per core) with [`WORKER_STACK_BYTES`] of stack each.
pub fn runtime(workers: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder
        .thread_stack_size(WORKER_STACK_BYTES)
        .enable_all()
        .build()
}
pub use error::EngineError;
pub use health::{HealthReport, probe_http};
pub use host::{Host, HostFacts};
pub use observe::serving_deployment;
pub use outcome::{DeployOutcome, Ended};
pub use plan::{RoutePlan, UpstreamVia};
pub use power::{start_app, stop_app};
pub use removal::{purge_server, remove_app};
pub use retention::{KEEP_IMAGES, kept_images, kept_images_on_host};
pub use routes::{drop_route, repair_route, sync_route};
pub use run::{
    Clock, DeployFailure, DeployJob, DeploySink, JobSource, SystemClock, container_name, image_tag,
    new_deployment_id, run_deploy,
};
pub use service::{Readiness, ServiceFile, ServiceImage, ServiceInstall, install_service};
pub use settle::{SettleJob, Settled, settle};

/// Name of the Docker network every app container joins.
pub const NETWORK: &str = "berth";
