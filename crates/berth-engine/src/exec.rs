//! One-off commands: in an app's serving container (`berth exec`), or in a fresh container
//! made like it (`berth run`: the serving image, env, network, limits and volumes, no port,
//! removed after). Not plans: they change nothing Berth keeps track of — the user's own command,
//! run where the app runs — so each is one call whose output is handed on as it comes, ending
//! with the command's exit code.

use std::collections::HashMap;

use berth_docker::{ContainerSpec, LogStream, PortPublish, labels};
use tokio_util::sync::CancellationToken;

use crate::error::EngineError;
use crate::host::Host;

/// Which of the command's outputs a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

/// `on_output` as berth-docker hands output on.
fn relay_output(
    on_output: &mut (dyn FnMut(OutputStream, &[u8]) + Send),
) -> impl FnMut(LogStream, &[u8]) + Send + '_ {
    move |stream, bytes| {
        on_output(
            match stream {
                LogStream::Stdout => OutputStream::Stdout,
                LogStream::Stderr => OutputStream::Stderr,
            },
            bytes,
        )
    }
}

/// Runs `cmd` in `container` (its user, working directory and env), handing output to
/// `on_output`; the command's exit code.
pub async fn exec(
    host: &Host,
    container: &str,
    cmd: &[String],
    on_output: &mut (dyn FnMut(OutputStream, &[u8]) + Send),
) -> Result<i64, EngineError> {
    let mut on_output = relay_output(on_output);
    match host
        .docker()
        .exec(container, cmd, &[], &mut on_output)
        .await
    {
        Err(berth_docker::DockerError::ContainerNotRunning { .. }) => {
            Err(EngineError::NotRunning {
                container: container.to_owned(),
            })
        }
        other => Ok(other?),
    }
}

/// Runs `cmd` in `container` with a TTY: `input` is typed into it, each `(rows, cols)` of
/// `sizes` resizes it, its output (a terminal's one stream) goes to `on_output`; the command's
/// exit code.
pub async fn exec_tty(
    host: &Host,
    container: &str,
    cmd: &[String],
    input: tokio::sync::mpsc::Receiver<Vec<u8>>,
    sizes: tokio::sync::mpsc::Receiver<(u16, u16)>,
    on_output: &mut (dyn FnMut(OutputStream, &[u8]) + Send),
) -> Result<i64, EngineError> {
    let mut on_output = relay_output(on_output);
    match host
        .docker()
        .exec_tty(container, cmd, input, sizes, &mut on_output)
        .await
    {
        Err(berth_docker::DockerError::ContainerNotRunning { .. }) => {
            Err(EngineError::NotRunning {
                container: container.to_owned(),
            })
        }
        other => Ok(other?),
    }
}

/// What a `berth run` container is made from: the serving container's spec under a new name,
/// labelled as a task of `app` (not as the app: the monitor and reconcile leave it alone).
pub fn task_spec(serving: ContainerSpec, app: &str, name: String) -> ContainerSpec {
    ContainerSpec {
        name,
        labels: HashMap::from([
            (labels::MANAGED.to_owned(), "true".to_owned()),
            (labels::ROLE.to_owned(), "run".to_owned()),
            (RUN_OF.to_owned(), app.to_owned()),
        ]),
        // Not reached by the app's name nor at its published port: those stay the app's.
        alias: None,
        publish: PortPublish::Private,
        ..serving
    }
}

/// The label naming the app a `berth run` container belongs to.
pub const RUN_OF: &str = "berth.run-of";

/// Runs `cmd` in a fresh container made like `serving` (see [`task_spec`]), handing output to
/// `on_output`, and removes it afterwards — also when `cancel` fires (exit code 130 then).
pub async fn run(
    host: &Host,
    serving: &str,
    app: &str,
    cmd: &[String],
    on_output: &mut (dyn FnMut(OutputStream, &[u8]) + Send),
    cancel: &CancellationToken,
) -> Result<i64, EngineError> {
    let docker = host.docker();
    let Some(spec) = docker.container_spec(serving).await? else {
        return Err(EngineError::NotRunning {
            container: serving.to_owned(),
        });
    };
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let spec = task_spec(spec, app, format!("{app}-run-{stamp}"));
    let name = spec.name.clone();
    let mut on_output = relay_output(on_output);
    let ran = tokio::select! {
        r = docker.run_task(&spec, cmd, &mut on_output) => r.map_err(EngineError::from),
        () = cancel.cancelled() => Ok(130),
    };
    if let Err(e) = docker.remove_container(&name, true).await {
        tracing::warn!("could not remove the task container {name}: {e}");
    }
    ran
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_made_like_the_serving_container_but_is_not_the_app() {
        let serving = ContainerSpec {
            name: "web-d2".into(),
            image: "berth/web:d2".into(),
            env: vec!["DATABASE_URL=postgres://db/web".into()],
            labels: HashMap::from([
                (labels::APP.to_owned(), "web".to_owned()),
                (labels::DEPLOYMENT.to_owned(), "d2".to_owned()),
            ]),
            port: 8080,
            network: "berth".into(),
            cpus: Some(0.5),
            memory_bytes: None,
            volumes: Vec::new(),
            stop_grace_secs: 10,
            cmd: None,
            alias: Some("web".into()),
            publish: PortPublish::LoopbackAt(8080),
        };
        let task = task_spec(serving.clone(), "web", "web-run-1".into());
        assert_eq!(task.name, "web-run-1");
        assert_eq!(
            (&task.image, &task.env, &task.network, task.cpus),
            (&serving.image, &serving.env, &serving.network, serving.cpus)
        );
        assert!(!task.labels.contains_key(labels::APP));
        assert_eq!(task.labels.get(RUN_OF).map(String::as_str), Some("web"));
    }
}
