//! Files in and out of containers as streams: one file uploaded into a (possibly never started)
//! container's directory, a file or directory of a container downloaded as the tar Docker
//! sends, commands fed from a stream, and containers paused for a consistent copy. Backups
//! move through these; nothing is held whole in memory.

use std::io;
use std::pin::Pin;
use std::time::Duration;

use bollard::exec::CreateExecOptions;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::client::DockerClient;
use crate::container::LogStream;
use crate::error::DockerError;

/// Long transfers (a database's dump) are not bound by the API's request timeout.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A byte stream read from a container.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send>>;

/// The tar header of one regular file (`name`, `size` bytes, mode 0600).
fn file_header(name: &str, size: u64) -> Result<[u8; 512], DockerError> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(name)
        .map_err(|e| DockerError::Protocol(format!("file name `{name}`: {e}")))?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    let mut bytes = [0u8; 512];
    bytes.copy_from_slice(header.as_bytes());
    Ok(bytes)
}

/// A container of `image` without a network, with `binds` (`(source, target)`) mounted: the
/// holders files are copied through, and the throwaway tools run on them.
fn offline_body(
    image: &str,
    binds: &[(String, String)],
    labels: std::collections::HashMap<String, String>,
) -> bollard::models::ContainerCreateBody {
    bollard::models::ContainerCreateBody {
        image: Some(image.to_owned()),
        labels: Some(labels),
        network_disabled: Some(true),
        host_config: Some(bollard::models::HostConfig {
            binds: Some(binds.iter().map(|(s, t)| format!("{s}:{t}")).collect()),
            network_mode: Some("none".to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A tool container's labels: Berth's, nothing else.
fn tool_labels() -> std::collections::HashMap<String, String> {
    std::collections::HashMap::from([(crate::labels::MANAGED.to_owned(), "true".to_owned())])
}

/// Zero bytes that pad a tar entry of `size` bytes to its 512-byte block.
fn padding(size: u64) -> usize {
    let rest = (size % 512) as usize;
    if rest == 0 { 0 } else { 512 - rest }
}

impl DockerClient {
    /// Makes `reference` (`repo:tag`) an image holding only the empty directories `dirs`: a
    /// container to mount volumes into and copy files through, which never runs. Nothing is
    /// pulled.
    pub async fn import_empty_image(
        &self,
        reference: &str,
        dirs: &[&str],
    ) -> Result<(), DockerError> {
        let mut builder = tar::Builder::new(Vec::new());
        for dir in dirs {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{dir}/"), io::empty())
                .map_err(|e| DockerError::Protocol(format!("image layer: {e}")))?;
        }
        let layer = builder
            .into_inner()
            .map_err(|e| DockerError::Protocol(format!("image layer: {e}")))?;
        let (repo, tag) = reference.rsplit_once(':').unwrap_or((reference, "latest"));
        let options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repo)
            .tag(tag)
            .build();
        let mut answers = self.docker.create_image(
            Some(options),
            Some(bollard::body_full(Bytes::from(layer))),
            None,
        );
        while let Some(answer) = answers.next().await {
            let answer = answer.map_err(|e| self.err(e))?;
            if let Some(detail) = answer.error_detail {
                return Err(DockerError::Api {
                    status: 0,
                    message: detail.message.unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// Creates (never starts) container `name` from `image` with each `(source, target)` of
    /// `binds` mounted (a host directory, created if missing, or a named volume): files are
    /// copied through it. One that exists already is left as it is.
    pub async fn create_holder(
        &self,
        name: &str,
        image: &str,
        binds: &[(String, String)],
        labels: &std::collections::HashMap<String, String>,
    ) -> Result<(), DockerError> {
        let body = bollard::models::ContainerCreateBody {
            cmd: Some(vec!["/never-started".to_owned()]),
            ..offline_body(image, binds, labels.clone())
        };
        let options = bollard::query_parameters::CreateContainerOptionsBuilder::default()
            .name(name)
            .build();
        match self.docker.create_container(Some(options), body).await {
            Ok(_) => Ok(()),
            Err(e) if crate::container::is_status(&e, 409) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Runs `cmd` (as the entrypoint, without a network) in a throwaway container `name` from
    /// `image` with `binds` mounted, waits for it and removes it: its exit code and output
    /// (stdout and stderr together, the last few KiB).
    pub async fn run_tool(
        &self,
        name: &str,
        image: &str,
        binds: &[(String, String)],
        cmd: &[String],
    ) -> Result<(i64, String), DockerError> {
        self.run_tool_body(name, offline_body(image, binds, tool_labels()), cmd)
            .await
    }

    /// Runs `cmd` like [`Self::run_tool`] with every volume of `container` mounted where it
    /// has them (its anonymous ones too), from `image`.
    pub async fn run_tool_on_volumes_of(
        &self,
        name: &str,
        container: &str,
        image: &str,
        cmd: &[String],
    ) -> Result<(i64, String), DockerError> {
        let mut body = offline_body(image, &[], tool_labels());
        if let Some(host) = body.host_config.as_mut() {
            host.binds = None;
            host.volumes_from = Some(vec![container.to_owned()]);
        }
        self.run_tool_body(name, body, cmd).await
    }

    async fn run_tool_body(
        &self,
        name: &str,
        body: bollard::models::ContainerCreateBody,
        cmd: &[String],
    ) -> Result<(i64, String), DockerError> {
        let body = bollard::models::ContainerCreateBody {
            entrypoint: Some(cmd.to_vec()),
            cmd: Some(Vec::new()),
            user: Some("0".to_owned()),
            ..body
        };
        let options = bollard::query_parameters::CreateContainerOptionsBuilder::default()
            .name(name)
            .build();
        self.docker
            .create_container(Some(options), body)
            .await
            .map_err(|e| self.err(e))?;
        let ran = async {
            self.start_container(name).await?;
            let wait = bollard::query_parameters::WaitContainerOptionsBuilder::default()
                .condition("not-running")
                .build();
            let mut waited = Box::pin(self.docker.wait_container(name, Some(wait)));
            let code = match waited.next().await {
                Some(Ok(r)) => r.status_code,
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
                Some(Err(e)) => return Err(self.err(e)),
                None => -1,
            };
            let output = self.last_log_lines(name, 20).await.unwrap_or_default();
            Ok((code, output.join("\n")))
        }
        .await;
        if let Err(e) = self.remove_container(name, true).await {
            tracing::warn!("could not remove the tool container {name}: {e}");
        }
        ran
    }

    /// Writes the file `name` of `size` bytes, read from `body`, into directory `dir` of
    /// container `container` (which need not be running: a created container's volumes are
    /// mounted for the copy). `body` must give exactly `size` bytes.
    pub async fn upload_file(
        &self,
        container: &str,
        dir: &str,
        name: &str,
        size: u64,
        body: impl AsyncRead + Send + Unpin + 'static,
    ) -> Result<(), DockerError> {
        let header = Bytes::copy_from_slice(&file_header(name, size)?);
        let tail = Bytes::from(vec![0u8; padding(size) + 1024]);
        let content = tokio_util::io::ReaderStream::with_capacity(body.take(size), 256 * 1024);
        let tar = futures_util::stream::once(async move { Ok::<_, io::Error>(header) })
            .chain(content)
            .chain(futures_util::stream::once(async move { Ok(tail) }));
        self.upload_tar(container, dir, Box::pin(tar)).await
    }

    /// Writes a tar stream (as [`DockerClient::download`] gives) into directory `dir` of
    /// `container` — a directory put back where it was copied from.
    pub async fn upload_tar(
        &self,
        container: &str,
        dir: &str,
        tar: ByteStream,
    ) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default().path(dir).build();
        self.docker
            .clone()
            .with_timeout(TRANSFER_TIMEOUT)
            .upload_to_container(container, Some(options), bollard::body_try_stream(tar))
            .await
            .map_err(|e| self.err(e))
    }

    /// `path` in `container` (a file or a directory, with everything under it) as the tar
    /// stream Docker sends.
    pub fn download(&self, container: &str, path: &str) -> ByteStream {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let target = self.target.clone();
        Box::pin(
            self.docker
                .clone()
                .with_timeout(TRANSFER_TIMEOUT)
                .download_from_container(container, Some(options))
                .map_err(move |e| DockerError::from_bollard(&target, e).into_io()),
        )
    }

    /// The one file at `path` in `container`, as a reader of its bytes, and its size. A path
    /// that is missing is [`DockerError::NotFound`].
    pub async fn download_file(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(u64, impl AsyncRead + Send + Unpin + use<>), DockerError> {
        let mut tar = tokio_util::io::StreamReader::new(self.download(container, path));
        let mut header = [0u8; 512];
        if let Err(e) = tar.read_exact(&mut header).await {
            return Err(DockerError::from_io(path, e));
        }
        let parsed = tar::Header::from_byte_slice(&header);
        let size = parsed
            .entry_size()
            .map_err(|e| DockerError::Protocol(format!("the copy of {path}: {e}")))?;
        if !parsed.entry_type().is_file() {
            return Err(DockerError::Protocol(format!("{path} is not a file")));
        }
        Ok((size, tar.take(size)))
    }

    /// Pauses every process of `container` (a consistent copy of its files), or lets them go on.
    pub async fn pause(&self, container: &str, paused: bool) -> Result<(), DockerError> {
        let done = if paused {
            self.docker.pause_container(container).await
        } else {
            self.docker.unpause_container(container).await
        };
        done.map_err(|e| self.err(e))
    }

    /// Runs `cmd` in the running container `name` with `input` as its stdin (closed at its
    /// end), stdout handed to `on_stdout` as it comes (an error there stops the command) and
    /// stderr to `on_output`; the exit code.
    pub async fn exec_piped(
        &self,
        name: &str,
        cmd: &[String],
        input: Option<Box<dyn AsyncRead + Send + Unpin>>,
        on_output: &mut (dyn FnMut(LogStream, &[u8]) -> io::Result<()> + Send),
    ) -> Result<i64, DockerError> {
        let options = CreateExecOptions {
            attach_stdin: Some(input.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(cmd.to_vec()),
            ..Default::default()
        };
        let (id, mut output, mut stdin) = self.start_attached(name, options).await?;
        let feed = async move {
            if let Some(mut input) = input {
                let copied = tokio::io::copy(&mut input, &mut stdin).await;
                let _ = stdin.shutdown().await;
                copied.map(|_| ())
            } else {
                Ok(())
            }
        };
        let drain = async {
            while let Some(chunk) = output.next().await {
                let (stream, bytes) = match chunk.map_err(|e| self.err(e))? {
                    bollard::container::LogOutput::StdErr { message } => {
                        (LogStream::Stderr, message)
                    }
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message }
                    | bollard::container::LogOutput::StdIn { message } => {
                        (LogStream::Stdout, message)
                    }
                };
                on_output(stream, &bytes).map_err(|e| DockerError::from_io(name, e))?;
            }
            Ok::<_, DockerError>(())
        };
        let (fed, drained) = tokio::join!(feed, drain);
        drained?;
        if let Err(e) = fed {
            // The command stopped reading (it failed): its exit code and output say why.
            tracing::debug!("stdin of the exec closed early: {e}");
        }
        self.exit_code(&id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_entry_is_a_header_and_padded_content() {
        let header = file_header("db-20261207.pgdump.zst", 700).expect("header");
        let parsed = tar::Header::from_byte_slice(&header);
        assert_eq!(parsed.entry_size().ok(), Some(700));
        assert_eq!(
            parsed.path().ok().as_deref(),
            Some(std::path::Path::new("db-20261207.pgdump.zst"))
        );
        assert_eq!(padding(700), 324);
        assert_eq!(padding(1024), 0);
    }
}
