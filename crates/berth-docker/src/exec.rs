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
        let options = CreateExecOptions {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(cmd.to_vec()),
            env: (!env.is_empty()).then(|| env.to_vec()),
            ..Default::default()
        };
        let (id, started) = self.start_exec(name, options).await?;
        if let StartExecResults::Attached { mut output, .. } = started {
            while let Some(chunk) = output.next().await {
                hand_on(chunk.map_err(|e| self.err(e))?, on_output);
            }
        }
        self.exit_code(&id).await
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

    /// Runs `cmd` in the running container `name` with a TTY: each chunk from `input` is typed
    /// into it, each `(rows, cols)` from `sizes` resizes it (send the first at once), and its
    /// output (one stream, as a terminal shows it) goes to `on_output`. Returns the command's
    /// exit code once its output ends.
    pub async fn exec_tty(
        &self,
        name: &str,
        cmd: &[String],
        mut input: tokio::sync::mpsc::Receiver<Vec<u8>>,
        mut sizes: tokio::sync::mpsc::Receiver<(u16, u16)>,
        on_output: &mut (dyn FnMut(LogStream, &[u8]) + Send),
    ) -> Result<i64, DockerError> {
        use tokio::io::AsyncWriteExt;
        let options = CreateExecOptions {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(true),
            cmd: Some(cmd.to_vec()),
            ..Default::default()
        };
        let (id, mut output, mut stdin) = self.start_attached(name, options).await?;
        // The first size at once, before any output is waited for (Docker 1.41 cannot take it
        // at the start; a program that asks at its very first instant may still see 0×0).
        if let Ok(first) = sizes.try_recv() {
            self.resize_exec(&id, first).await;
        }
        let mut typing = true;
        let mut resizing = true;
        loop {
            tokio::select! {
                chunk = output.next() => match chunk {
                    Some(chunk) => hand_on(chunk.map_err(|e| self.err(e))?, on_output),
                    None => break,
                },
                typed = input.recv(), if typing => match typed {
                    Some(bytes) => {
                        if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
                            typing = false;
                        }
                    }
                    None => {
                        typing = false;
                        let _ = stdin.shutdown().await;
                    }
                },
                size = sizes.recv(), if resizing => match size {
                    Some(size) => self.resize_exec(&id, size).await,
                    None => resizing = false,
                },
            }
        }
        self.exit_code(&id).await
    }

    /// The exit code of exec `id` (still running after its output closed — it closed its own
    /// stdout —: waited for).
    pub(crate) async fn exit_code(&self, id: &str) -> Result<i64, DockerError> {
        loop {
            let state = self
                .docker
                .inspect_exec(id)
                .await
                .map_err(|e| self.err(e))?;
            if state.running != Some(true) {
                return Ok(state.exit_code.unwrap_or(-1));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Creates an exec in `name` and starts it attached (a TTY when `options` asks for one).
    pub(crate) async fn start_exec(
        &self,
        name: &str,
        options: CreateExecOptions<String>,
    ) -> Result<(String, StartExecResults), DockerError> {
        let tty = options.tty.unwrap_or(false);
        let created = self
            .docker
            .create_exec(name, options)
            .await
            .map_err(|e| self.exec_error(name, e))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok((created.id, started))
    }

    /// Starts an exec that attaches stdin: its id, its output and its input.
    #[allow(clippy::type_complexity)]
    pub(crate) async fn start_attached(
        &self,
        name: &str,
        options: CreateExecOptions<String>,
    ) -> Result<
        (
            String,
            std::pin::Pin<
                Box<
                    dyn futures_util::Stream<Item = Result<LogOutput, bollard::errors::Error>>
                        + Send,
                >,
            >,
            std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
        ),
        DockerError,
    > {
        match self.start_exec(name, options).await? {
            (id, StartExecResults::Attached { output, input }) => Ok((id, output, input)),
            _ => Err(DockerError::Api {
                status: 0,
                message: "the exec did not attach".to_owned(),
            }),
        }
    }

    /// Resizes exec `id`'s TTY to `(rows, cols)`; a failure only logs (the session goes on).
    async fn resize_exec(&self, id: &str, (rows, cols): (u16, u16)) {
        let options = bollard::query_parameters::ResizeExecOptionsBuilder::default()
            .h(i32::from(rows))
            .w(i32::from(cols))
            .build();
        if let Err(e) = self.docker.resize_exec(id, options).await {
            tracing::debug!("could not resize the exec's TTY: {e}");
        }
    }

    /// An exec that could not be created: a stopped container says so.
    fn exec_error(&self, name: &str, e: bollard::errors::Error) -> DockerError {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            } => DockerError::ContainerNotRunning {
                container: name.to_owned(),
                message,
            },
            other => self.err(other),
        }
    }
}
