//! Engine errors: what failed, in words a user can act on.

use berth_build::BuildError;
use berth_docker::DockerError;
use berth_relay_proto::client::ClientError;
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
    #[error(transparent)]
    Relay(#[from] ClientError),
    /// A backup, restore or verification failed; the message says where and why.
    #[error("{0}")]
    Backup(String),
    #[error("the container {container} is not running")]
    NotRunning { container: String },
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
    /// The server's Docker could not pull an image app's image (unknown image or tag, no
    /// access, registry unreachable). Nothing was changed.
    #[error("{server} could not pull {reference}: {message}")]
    Pull {
        reference: String,
        server: String,
        message: String,
    },
    /// The registry refused a login tried through the server's Docker, or could not be reached.
    #[error("{server} could not log in to {registry} as `{username}`: {message}")]
    RegistryLogin {
        registry: String,
        username: String,
        server: String,
        message: String,
    },
    /// The registry's v2 API (tags, manifests) refused or failed.
    #[error(transparent)]
    Registry(#[from] berth_registry::RegistryError),
    #[error("{container} did not start ({source}); {hint}")]
    ServiceDidNotStart {
        container: String,
        hint: String,
        #[source]
        source: DockerError,
    },
    /// A one-shot task of an install exited with `status`.
    #[error("could not {what} (it exited with status {status}){}", service_logs(.output))]
    TaskFailed {
        what: String,
        status: i64,
        output: Vec<String>,
    },
    #[error("{what} did not answer on {at} ({error}){}{}", if *.exited { "; its container exited" } else { "" }, service_logs(.logs))]
    ServiceNotReady {
        what: String,
        at: String,
        error: String,
        exited: bool,
        logs: Vec<String>,
    },
    /// A companion process (a Procfile's `worker:`) exited right after it started.
    #[error(
        "the Procfile's `{process}` process did not keep running ({container}: {why}); the serving version is untouched"
    )]
    WorkerExited {
        process: String,
        container: String,
        why: String,
        logs: Vec<String>,
    },
    /// A service's new container did not become ready: its probe kept failing, or it exited.
    #[error("{container} did not become ready: {why}")]
    NotReady {
        container: String,
        why: String,
        logs: Vec<String>,
    },
    #[error("cancelled")]
    Cancelled,
    /// What the user asked for does not fit what the server has; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// A pushed commit that does not descend from the one serving: history was rewritten
    /// (a force-push) or an old push came again. Not deployed unless the app's webhook allows
    /// force-pushes.
    #[error(
        "commit {} does not descend from {}, the commit {app} serves now: a force-push, or an \
         old push sent again — not deployed. Deploy it by hand (`berth deploy {app} --ref {}`), \
         or let pushes rewrite history (`berth app webhook enable {app} … --allow-force-push`)",
        short(commit),
        short(serving),
        short(commit)
    )]
    NotADescendant {
        app: String,
        commit: String,
        serving: String,
    },
    /// Not available on this platform.
    #[error("{0}")]
    Unsupported(String),
    #[error("could not record the deployment: {0}")]
    Record(String),
    #[error("a background task failed: {0}")]
    Task(String),
}

impl EngineError {
    /// A stable kebab-case code front ends branch on.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::Ssh(e) => match e {
                SshError::Unreachable { .. } | SshError::Timeout { .. } => "unreachable",
                SshError::HostKeyUnknown { .. } => "host-key-unknown",
                SshError::HostKeyChanged { .. } => "host-key-changed",
                SshError::AuthFailed { .. } => "auth-failed",
                SshError::PassphraseRequired { .. } => "passphrase-required",
                SshError::WrongPassphrase { .. } => "wrong-passphrase",
                SshError::IdentityFile { .. } => "identity-file",
                _ => "ssh",
            },
            EngineError::Docker(e) => match e {
                DockerError::NotRunning { .. } => "docker-not-running",
                DockerError::PermissionDenied { .. } => "docker-permission-denied",
                DockerError::Build { .. } => "build-failed",
                DockerError::NotFound { .. } => "not-found",
                _ => "docker",
            },
            EngineError::Build(e) => match e {
                BuildError::NotARepo { .. } | BuildError::SourceMissing { .. } => "not-a-repo",
                BuildError::RefNotFound { .. } => "ref-not-found",
                _ => "build",
            },
            EngineError::Proxy(e) => match e {
                berth_proxy::ProxyError::Unreachable { .. } => "proxy-unreachable",
                berth_proxy::ProxyError::Refused { .. } => "proxy-refused",
                _ => "proxy",
            },
            EngineError::Relay(e) => match e {
                ClientError::Unreachable { .. } => "relay-unreachable",
                ClientError::Refused { .. } => "relay-refused",
                _ => "relay",
            },
            EngineError::ContainerExited { .. } => "container-exited",
            EngineError::Unhealthy { .. } => "unhealthy",
            EngineError::Cancelled => "cancelled",
            EngineError::NotADescendant { .. } => "not-a-descendant",
            EngineError::Pull { .. } => "pull-failed",
            EngineError::RegistryLogin { .. } => "registry-unauthorized",
            EngineError::Registry(e) => match e {
                berth_registry::RegistryError::Unauthorized { .. } => "registry-unauthorized",
                berth_registry::RegistryError::NotFound { .. } => "not-found",
                berth_registry::RegistryError::Unreachable { .. } => "registry-unreachable",
                _ => "registry",
            },
            EngineError::Invalid(_)
            | EngineError::ImageUnavailable { .. }
            | EngineError::ServiceDidNotStart { .. }
            | EngineError::TaskFailed { .. }
            | EngineError::ServiceNotReady { .. }
            | EngineError::NotReady { .. }
            | EngineError::WorkerExited { .. } => "invalid",
            EngineError::Unsupported(_) => "unsupported",
            _ => "engine",
        }
    }

    /// The last lines the app's container printed, when the failure is the app's (it exited,
    /// or never answered its health check): for the deploy log, never for the message.
    pub fn app_output(&self) -> &[String] {
        match self {
            EngineError::ContainerExited { logs, .. }
            | EngineError::Unhealthy { logs, .. }
            | EngineError::NotReady { logs, .. }
            | EngineError::WorkerExited { logs, .. } => logs,
            _ => &[],
        }
    }

    /// The identity file is encrypted and no passphrase was given: ask for one (or look it
    /// up) and open the session again.
    pub fn needs_passphrase(&self) -> bool {
        matches!(self, EngineError::Ssh(SshError::PassphraseRequired { .. }))
    }
}

fn service_logs(logs: &[String]) -> String {
    if logs.is_empty() {
        String::new()
    } else {
        format!("; its last output:\n  {}", logs.join("\n  "))
    }
}

/// Where the app's output is: never in the message itself, which is stored with the
/// deployment and sent to notifiers (an app that prints its config when it crashes would put
/// its secrets there). The output goes to the deploy log ([`EngineError::app_output`]).
fn tail(logs: &[String]) -> String {
    if logs.is_empty() {
        " (it printed nothing)".to_owned()
    } else {
        "; its last output is in the deploy log".to_owned()
    }
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

/// The first 12 hex digits of a commit, as messages show it.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
