//! One-off commands in a running container (`berth exec`): output handed on as it comes,
//! stdout and stderr apart, and the command's exit code at the end.

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures_util::StreamExt;

use crate::client::DockerClient;
use crate::container::{ContainerSpec, LogStream};
use crate::error::DockerError;

fn hand_on(output: LogOutput, on_output: &mut (dyn FnMut(LogStream, &[u8]) + Send)) {
    match output {
        LogOutput::StdErr { message } => on_output(LogStream::Stderr, &message),
        LogOutput::StdOut { message }
        | LogOutput::Console { message }
        | LogOutput::StdIn { message } => on_output(LogStream::Stdout, &message),
    }
}

impl DockerClient {
    /// Runs `cmd` in the running container `name` (as its own user, in its working directory,
    /// with its env plus `env`), handing each chunk of output to `on_output` as it arrives.
    /// Returns the command's exit code. A container that is not running is
    /// [`DockerError::ContainerNotRunning`].
    pub async fn exec(
        &self,
        name: &str,
        cmd: &[String],
        env: &[String],
        on_output: &mut (dyn FnMut(LogStream, &[u8]) + Send),
    ) -> Result<i64, DockerError> {
        let created = self
            .docker
            .create_exec(
                name,
                CreateExecOptions {
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    cmd: Some(cmd.to_vec()),
                    env: (!env.is_empty()).then(|| env.to_vec()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| match e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 409,
                    message,
                } => DockerError::ContainerNotRunning {
                    container: name.to_owned(),
                    message,
                },
                other => self.err(other),
            })?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| self.err(e))?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                hand_on(chunk.map_err(|e| self.err(e))?, on_output);
            }
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| self.err(e))?;
        // Still running after its output closed: it closed its own stdout; wait for it.
        let mut state = inspected;
        while state.running == Some(true) {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            state = self
                .docker
                .inspect_exec(&created.id)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(state.exit_code.unwrap_or(-1))
    }

    /// Creates `spec`'s container with `cmd` as its command (after the image's entrypoint, as
    /// `docker run IMAGE CMD` does), without a published port and never restarted, starts it,
    /// hands its output on as it comes and waits for its end; the exit code. The container is
    /// left for the caller to remove.
    pub async fn run_task(
        &self,
        spec: &ContainerSpec,
        cmd: &[String],
        on_output: &mut (dyn FnMut(LogStream, &[u8]) + Send),
    ) -> Result<i64, DockerError> {
        let mut body = spec.to_body();
        body.cmd = Some(cmd.to_vec());
        body.exposed_ports = None;
        if let Some(host) = body.host_config.as_mut() {
            host.port_bindings = None;
        }
        let options = CreateContainerOptionsBuilder::default()
            .name(&spec.name)
            .build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| self.err(e))?;
        self.start_container(&spec.name).await?;
        let logs = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .build();
        let mut output = self.docker.logs(&spec.name, Some(logs));
        while let Some(chunk) = output.next().await {
            hand_on(chunk.map_err(|e| self.err(e))?, on_output);
        }
        let wait = WaitContainerOptionsBuilder::default()
            .condition("not-running")
            .build();
        let mut waited = Box::pin(self.docker.wait_container(&spec.name, Some(wait)));
        Ok(match waited.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(self.err(e)),
            None => -1,
        })
    }
}
