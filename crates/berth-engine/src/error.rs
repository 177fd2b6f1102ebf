//! Engine errors: what failed, in words a user can act on.

use berth_build::BuildError;
use berth_docker::DockerError;
use berth_ssh::SshError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Ssh(#[from] SshError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Proxy(#[from] berth_proxy::ProxyError),
    #[error("{}", exited_message(.container, *.exit_code, *.oom_killed, .logs))]
    ContainerExited {
        container: String,
        exit_code: Option<i64>,
        oom_killed: bool,
        logs: Vec<String>,
    },
    #[error("{}", unhealthy_message(.path, *.port, *.deadline_ms, .last, .logs))]
    Unhealthy {
        path: String,
        port: u16,
        deadline_ms: u64,
        last: String,
        logs: Vec<String>,
    },
    #[error("container {container} publishes no port: does the app listen on port {port}?")]
    NoPublishedPort { container: String, port: u16 },
    #[error(
        "the image {image} of deployment {deployment} is no longer on the server; deploy the commit again instead"
    )]
    ImageMissing { image: String, deployment: String },
    #[error("the server has no image {image} and could not pull it ({source})")]
    ImageUnavailable {
        image: String,
        #[source]
        source: DockerError,
    },
    #[error("{container} did not start ({source}); {hint}")]
    ServiceDidNotStart {
        container: String,
        hint: String,
        #[source]
        source: DockerError,
    },
    #[error("{what} did not answer on {at} ({error}){}{}", if *.exited { "; its container exited" } else { "" }, service_logs(.logs))]
    ServiceNotReady {
        what: String,
        at: String,
        error: String,
        exited: bool,
        logs: Vec<String>,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("could not record the deployment: {0}")]
    Record(String),
    #[error("a background task failed: {0}")]
    Task(String),
}

fn service_logs(logs: &[String]) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; its last output:\n  {}", logs.join("\n  "))
    }
}

fn tail(logs: &[String]) -> String {
    if logs.is_empty() {
        return " (it printed nothing)".to_owned();
    }
    let mut s = String::from("; its last output:");
    for l in logs {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

fn exited_message(container: &str, code: Option<i64>, oom: bool, logs: &[String]) -> String {
    let how = match (code, oom) {
        (_, true) => "was killed for using more memory than its limit".to_owned(),
        (Some(c), _) => format!("exited with code {c}"),
        (None, _) => "stopped".to_owned(),
    };
    format!(
        "container {container} {how} before it became healthy{}",
        tail(logs)
    )
}

fn unhealthy_message(
    path: &str,
    port: u16,
    deadline_ms: u64,
    last: &str,
    logs: &[String],
) -> String {
    format!(
        "GET {path} on port {port} did not answer 2xx/3xx within {} s (last attempt: {last}){}",
        deadline_ms as f64 / 1000.0,
        tail(logs)
    )
}
