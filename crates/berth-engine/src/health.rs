//! Health checks: HTTP GET on the app's health path through the host's transport, first as
//! soon as the container runs, then every interval until healthy, the deadline passes, or the
//! container exits.

use std::time::{Duration, Instant};

use berth_model::HealthCheck;
use berth_ssh::{Forward, RemoteTarget};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::host::Host;

/// How a successful health check went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub probes: u32,
    pub elapsed_ms: u64,
    pub status: u16,
    /// The published port on the server's loopback that answered.
    pub host_port: u16,
}

/// Lines of container output quoted in health-check errors.
const LOG_TAIL: usize = 20;

/// Sends `GET path` over `stream` and returns the HTTP status code.
pub async fn probe_http<S>(mut stream: S, path: &str) -> Result<u16, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: berth-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("could not send the request: {e}"))?;
    stream.flush().await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        if let Some(end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..end]).into_owned();
            return parse_status_line(&line);
        }
        if buf.len() > 8192 {
            return Err("the response has no status line".to_owned());
        }
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        if n == 0 {
            return Err(if buf.is_empty() {
                "connection closed without a response (is the app listening on its port?)"
                    .to_owned()
            } else {
                "connection closed in the middle of the response".to_owned()
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn parse_status_line(line: &str) -> Result<u16, String> {
    let mut parts = line.split_whitespace();
    match (
        parts.next(),
        parts.next().and_then(|c| c.parse::<u16>().ok()),
    ) {
        (Some(v), Some(code)) if v.starts_with("HTTP/") => Ok(code),
        _ => Err(format!(
            "not an HTTP response: `{}`",
            line.chars().take(60).collect::<String>()
        )),
    }
}

/// Waits until `container` answers 2xx/3xx on `health.path`, failing early if it exits.
pub(crate) async fn wait_healthy(
    host: &Host,
    container: &str,
    port: u16,
    health: &HealthCheck,
    cancel: &CancellationToken,
) -> Result<HealthReport, EngineError> {
    let start = Instant::now();
    let deadline = start + Duration::from_millis(health.deadline_ms);
    let interval = Duration::from_millis(health.interval_ms.max(10));
    let per_probe = Duration::from_millis(health.timeout_ms.max(100));
    let mut forward: Option<(String, Forward)> = None;
    let mut last = "the container did not start".to_owned();
    let mut probes = 0u32;
    // Restarts by the restart policy during the check mean the app crashed.
    let mut baseline_restarts: Option<i64> = None;
    loop {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let info = host.docker().inspect_container(container).await?;
        let Some(info) = info else {
            return Err(EngineError::ContainerExited {
                container: container.to_owned(),
                exit_code: None,
                oom_killed: false,
                logs: vec!["(the container was removed)".to_owned()],
            });
        };
        let baseline = *baseline_restarts.get_or_insert(info.restart_count);
        let exited = !info.running && matches!(info.status.as_str(), "exited" | "dead");
        if exited || info.status == "restarting" || info.restart_count > baseline {
            let logs = host
                .docker()
                .last_log_lines(container, LOG_TAIL)
                .await
                .unwrap_or_default();
            return Err(EngineError::ContainerExited {
                container: container.to_owned(),
                exit_code: info.exit_code,
                oom_killed: info.oom_killed,
                logs,
            });
        }
        if info.running {
            let host_port = info.published_port;
            // From a desktop: the published loopback port, through the session. From inside
            // the host's own network (the relay): the container's address on that network.
            let target = match host.probe_network() {
                Some(network) => {
                    let ip = info.addresses.get(network).ok_or_else(|| {
                        EngineError::NoPublishedPort {
                            container: container.to_owned(),
                            port,
                        }
                    })?;
                    RemoteTarget::Tcp {
                        host: ip.clone(),
                        port,
                    }
                }
                None => RemoteTarget::Tcp {
                    host: "127.0.0.1".to_owned(),
                    port: host_port.ok_or_else(|| EngineError::NoPublishedPort {
                        container: container.to_owned(),
                        port,
                    })?,
                },
            };
            let key = target.to_string();
            if forward.as_ref().map(|(k, _)| k) != Some(&key) {
                let f = host.transport().forward(target).await?;
                forward = Some((key, f));
            }
            if let Some((_, f)) = &forward {
                probes += 1;
                let remaining = deadline.saturating_duration_since(Instant::now());
                let attempt = async {
                    let stream = f
                        .connect()
                        .await
                        .map_err(|e| format!("connection failed: {e}"))?;
                    probe_http(stream, &health.path).await
                };
                match tokio::time::timeout(
                    per_probe.min(remaining.max(Duration::from_millis(100))),
                    attempt,
                )
                .await
                {
                    Ok(Ok(status)) if (200..400).contains(&status) => {
                        return Ok(HealthReport {
                            probes,
                            elapsed_ms: start.elapsed().as_millis() as u64,
                            status,
                            host_port: host_port.unwrap_or(port),
                        });
                    }
                    Ok(Ok(status)) => last = format!("HTTP {status}"),
                    Ok(Err(e)) => last = e,
                    Err(_) => last = format!("no answer within {} ms", per_probe.as_millis()),
                }
            }
        }
        if Instant::now() >= deadline {
            let logs = host
                .docker()
                .last_log_lines(container, LOG_TAIL)
                .await
                .unwrap_or_default();
            return Err(EngineError::Unhealthy {
                path: health.path.clone(),
                port,
                deadline_ms: health.deadline_ms,
                last,
                logs,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))) => {}
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
        }
    }
}

/// Waits until a service is ready: `command` run inside `container` exits 0 (or, without a
/// command, the container still runs two seconds in). Fails at once when the container stops,
/// and at the deadline with the probe's last word — both with the container's last output.
/// Returns how many probes ran.
pub(crate) async fn wait_probe(
    host: &Host,
    container: &str,
    command: Option<&[String]>,
    interval_ms: u64,
    deadline_ms: u64,
    cancel: &CancellationToken,
) -> Result<u32, EngineError> {
    let docker = host.docker();
    let started = Instant::now();
    let deadline = started + Duration::from_millis(deadline_ms);
    let interval = Duration::from_millis(interval_ms.max(100));
    let logs = || async {
        docker
            .last_log_lines(container, 20)
            .await
            .unwrap_or_default()
    };
    let mut probes = 0u32;
    loop {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let info = docker.inspect_container(container).await?;
        if !info.as_ref().is_some_and(|i| i.running) {
            return Err(EngineError::NotReady {
                container: container.to_owned(),
                why: match info.and_then(|i| i.exit_code) {
                    Some(code) => format!("it exited with status {code}"),
                    None => "it is not running".to_owned(),
                },
                logs: logs().await,
            });
        }
        let Some(cmd) = command else {
            if started.elapsed() >= Duration::from_secs(2) {
                return Ok(0);
            }
            tokio::time::sleep(interval).await;
            continue;
        };
        probes += 1;
        let mut output = Vec::new();
        let status = docker
            .exec(container, cmd, &[], &mut |_, bytes: &[u8]| {
                if output.len() < 4096 {
                    output.extend_from_slice(bytes);
                }
            })
            .await;
        let last = match status {
            Ok(0) => return Ok(probes),
            Ok(code) => match String::from_utf8_lossy(&output).trim() {
                "" => format!("the probe exited {code}"),
                out => format!("the probe exited {code}: {out}"),
            },
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(EngineError::NotReady {
                container: container.to_owned(),
                why: format!(
                    "its probe still failed after {} s ({last})",
                    deadline_ms / 1000
                ),
                logs: logs().await,
            });
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probes_parse_the_status_line() {
        let (client, mut server) = tokio::io::duplex(1024);
        let server_task = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let n = server.read(&mut buf).await.unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            server
                .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            req
        });
        assert_eq!(probe_http(client, "/healthz").await, Ok(204));
        let req = server_task.await.unwrap();
        assert!(req.starts_with("GET /healthz HTTP/1.1\r\n"), "{req}");
    }

    #[tokio::test]
    async fn a_closed_connection_is_not_healthy() {
        let (client, server) = tokio::io::duplex(1024);
        drop(server);
        assert!(probe_http(client, "/").await.is_err());
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line("HTTP/1.0 302 Found"), Ok(302));
        assert!(parse_status_line("SSH-2.0-OpenSSH").is_err());
    }
}
