//! Docker errors, classified into what a user can act on.

/// What went wrong talking to a server's Docker engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    #[error(
        "docker is not running or not listening at {target}: {reason} (start dockerd, or set the server's docker socket path)"
    )]
    NotRunning { target: String, reason: String },
    #[error(
        "permission denied on the Docker socket {target}: the login user needs access to it (add it to the `docker` group, or log in as root)"
    )]
    PermissionDenied { target: String },
    #[error("cannot reach docker at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    #[error("docker refused the request ({status}): {message}")]
    Api { status: u16, message: String },
    #[error("{what} not found on the server")]
    NotFound { what: String },
    #[error("the container {container} is not running ({message})")]
    ContainerNotRunning { container: String, message: String },
    #[error("{}", build_message(.message, .step.as_deref(), .output))]
    Build {
        message: String,
        /// The Dockerfile step that failed (`Step 3/5 : RUN make`), when known.
        step: Option<String>,
        /// The output of the failing step, last lines.
        output: Vec<String>,
    },
    /// The registry refused the login (401), or Docker could not reach it to try.
    #[error("{registry}: {message}")]
    Login { registry: String, message: String },
    #[error("docker did not answer within {secs} s")]
    Timeout { secs: u64 },
    #[error("unexpected answer from docker: {0}")]
    Protocol(String),
    /// A stream to or from a container broke off.
    #[error("copying {what} failed: {reason}")]
    Transfer { what: String, reason: String },
}

fn build_message(message: &str, step: Option<&str>, output: &[String]) -> String {
    let mut s = match step {
        Some(step) => format!("the Dockerfile failed at `{step}`: {message}"),
        None => format!("the image build failed: {message}"),
    };
    if !output.is_empty() {
        s.push_str("\noutput of the failing step:");
        for line in output {
            s.push_str("\n  ");
            s.push_str(line);
        }
    }
    s
}

impl DockerError {
    /// This error inside an I/O error (what a stream carries).
    pub(crate) fn into_io(self) -> std::io::Error {
        std::io::Error::other(self)
    }

    /// An I/O error of a transfer of `what`: the Docker error it carries, or what broke.
    pub fn from_io(what: &str, e: std::io::Error) -> DockerError {
        if e.get_ref().is_some_and(|inner| inner.is::<DockerError>()) {
            if let Some(inner) = e.into_inner() {
                match inner.downcast::<DockerError>() {
                    Ok(docker) => return *docker,
                    Err(other) => {
                        return DockerError::Transfer {
                            what: what.to_owned(),
                            reason: other.to_string(),
                        };
                    }
                }
            }
            return DockerError::Transfer {
                what: what.to_owned(),
                reason: "the stream broke".to_owned(),
            };
        }
        let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the stream ended early".to_owned()
        } else {
            e.to_string()
        };
        DockerError::Transfer {
            what: what.to_owned(),
            reason,
        }
    }

    /// Whether a build failed because a cached layer it reused was removed while it ran (the
    /// classic builder's cache is made of images, which another app's cleanup may delete):
    /// the same build again finds the cache as it is now.
    pub fn is_build_cache_race(&self) -> bool {
        match self {
            DockerError::Build { message, .. } => {
                let m = message.to_ascii_lowercase();
                m.contains("failed to get digest")
                    || (m.contains("no such image") && m.contains("sha256:"))
                    || m.contains("failed to get layer")
            }
            _ => false,
        }
    }

    /// Classifies a bollard error for calls to the engine at `target`.
    pub(crate) fn from_bollard(target: &str, err: bollard::errors::Error) -> DockerError {
        use bollard::errors::Error as B;
        match err {
            B::DockerResponseServerError {
                status_code,
                message,
            } => {
                if status_code == 404 {
                    DockerError::NotFound {
                        what: message.trim_start_matches("No such ").to_owned(),
                    }
                } else {
                    DockerError::Api {
                        status: status_code,
                        message,
                    }
                }
            }
            B::RequestTimeoutError => DockerError::Timeout { secs: 0 },
            B::DockerStreamError { error } => DockerError::Protocol(error),
            other => classify_io(target, &other),
        }
    }
}

/// Finds the I/O cause of a connection failure and says what it means.
fn classify_io(target: &str, err: &(dyn std::error::Error + 'static)) -> DockerError {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text = e.to_string();
        cur = e.source();
    }
    let lower = text.to_ascii_lowercase();
    let target = target.to_owned();
    if lower.contains("permission denied") {
        DockerError::PermissionDenied { target }
    } else if lower.contains("no such file")
        || lower.contains("connection refused")
        || lower.contains("not found")
    {
        DockerError::NotRunning {
            target,
            reason: text,
        }
    } else {
        DockerError::Unreachable {
            target,
            reason: text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_errors_say_what_to_do() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied");
        let e = classify_io("/var/run/docker.sock on prod", &io);
        assert!(matches!(e, DockerError::PermissionDenied { .. }));
        assert!(e.to_string().contains("docker` group"));
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = classify_io("/var/run/docker.sock on prod", &io);
        assert!(e.to_string().starts_with("docker is not running"));
    }

    #[test]
    fn build_errors_show_the_failing_step() {
        let race = DockerError::Build {
            message: "failed to get digest sha256:23bf: open /var/lib/docker/image/overlay2/imagedb/content/sha256/23bf: no such file or directory".into(),
            step: Some("Step 4/4 : LABEL berth.app=web".into()),
            output: vec![],
        };
        assert!(race.is_build_cache_race());
        let e = DockerError::Build {
            message: "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            step: Some("Step 2/3 : RUN false".into()),
            output: vec!["oops".into()],
        };
        assert!(!e.is_build_cache_race());
        assert_eq!(
            e.to_string(),
            "the Dockerfile failed at `Step 2/3 : RUN false`: The command '/bin/sh -c false' returned a non-zero code: 1\noutput of the failing step:\n  oops"
        );
    }
}
