//! Reading a server without changing it: what a container is doing, what it printed. Front
//! ends see these shapes, never Docker's.

use futures_util::{Stream, StreamExt};

use crate::error::EngineError;
use crate::host::Host;

/// What a container is doing now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub running: bool,
    /// Docker's word for it: `running`, `exited`, `restarting`, …
    pub status: String,
    /// Set once it stopped.
    pub exit_code: Option<i64>,
    /// The loopback port its app port is published at, when it is.
    pub published_port: Option<u16>,
}

/// The state of the container `name`, or `None` when the server has no such container.
pub async fn container_state(
    host: &Host,
    name: &str,
) -> Result<Option<ContainerState>, EngineError> {
    Ok(host
        .docker()
        .inspect_container(name)
        .await?
        .map(|i| ContainerState {
            running: i.running,
            status: i.status,
            exit_code: i.exit_code,
            published_port: i.published_port,
        }))
}

/// One line a container printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub text: String,
    /// Printed on stderr rather than stdout.
    pub stderr: bool,
}

/// What `container` printed: the last `tail` lines (all without one), then, with `follow`,
/// each new line until it stops.
pub fn container_output<'a>(
    host: &'a Host,
    container: &'a str,
    tail: Option<usize>,
    follow: bool,
) -> impl Stream<Item = Result<OutputLine, EngineError>> + Send + 'a {
    host.docker()
        .logs(container, tail, follow)
        .map(|line| match line {
            Ok(l) => Ok(OutputLine {
                stderr: l.stream == berth_docker::LogStream::Stderr,
                text: l.text,
            }),
            Err(e) => Err(EngineError::from(e)),
        })
}
