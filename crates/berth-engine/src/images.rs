//! Image apps: pulling an image on the server and reading from it how to run it (port,
//! health check), for `app create --image` and the window's Quick Deploy.

use crate::error::EngineError;
use crate::host::Host;
use crate::registry::RegistryCredentials;
use berth_docker::ImageFacts;

/// Labels an image can carry to tell Berth how to run it.
pub const PORT_LABEL: &str = "berth.port";
pub const HEALTH_PATH_LABEL: &str = "berth.health-path";

/// What Berth read from an image, and where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    pub port: Option<(u16, String)>,
    pub health_path: Option<(String, String)>,
    /// Env defaults from `berth.env.KEY=value` labels (keys that are valid env keys), by key.
    pub env: Vec<(String, String)>,
}

/// Labels `berth.env.KEY=value` give an app created from the image its env defaults.
pub const ENV_LABEL_PREFIX: &str = "berth.env.";

/// Pulls `reference` on the host (through its Docker API, like every pull) and reads the image.
pub async fn inspect_image(
    host: &Host,
    reference: &str,
    creds: Option<&RegistryCredentials>,
) -> Result<ImageFacts, EngineError> {
    pull(host, reference, creds).await
}

/// Pulls `reference` on the server with `creds` (passed per request, never stored there) and
/// checks the image can run there: a refused login and an image built for another
/// architecture are named as such.
pub(crate) async fn pull(
    host: &Host,
    reference: &str,
    creds: Option<&RegistryCredentials>,
) -> Result<ImageFacts, EngineError> {
    let docker = host.docker();
    let failed = |message: String| EngineError::Pull {
        reference: reference.to_owned(),
        server: host.name().to_owned(),
        message,
    };
    let login = creds.map(RegistryCredentials::docker);
    docker
        .pull_image(reference, login.as_ref())
        .await
        .map_err(|e| match e {
            berth_docker::DockerError::NotFound { .. } => failed(format!(
                "the registry has no such image or tag (list its tags with `berth registry tags`): {}",
                e.to_string().trim_end_matches(" not found on the server")
            )),
            e => failed(pull_failure(&e.to_string(), creds)),
        })?;
    let facts = docker
        .image_facts(reference)
        .await?
        .ok_or_else(|| failed("it was pulled but is not on the server".to_owned()))?;
    let arch = docker.info().await?.arch;
    let server_platform = format!("linux/{}", docker_arch(&arch));
    if !facts.platform.is_empty() && facts.platform != server_platform {
        return Err(failed(format!(
            "the image is built for {}, but the server runs {server_platform}: push an image for {server_platform} (docker buildx build --platform {server_platform})",
            facts.platform
        )));
    }
    Ok(facts)
}

/// Docker's `Architecture` (`x86_64`) as image platforms name it (`amd64`).
fn docker_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7l" => "arm",
        other => other,
    }
}

/// Docker's pull error, with a refused or missing login said plainly.
fn pull_failure(message: &str, creds: Option<&RegistryCredentials>) -> String {
    let lower = message.to_ascii_lowercase();
    let denied = lower.contains("unauthorized")
        || lower.contains("no basic auth credentials")
        || lower.contains("authentication required")
        || lower.contains("denied");
    match (denied, creds) {
        (true, Some(c)) => format!(
            "the registry refused the login of `{}` (401 Unauthorized): check it with `berth registry test`",
            c.username
        ),
        (true, None) => format!(
            "the registry needs a login (401 Unauthorized): add one with `berth registry add` ({message})"
        ),
        _ => message.to_owned(),
    }
}

/// How to run an image, from its labels (`berth.port`, `berth.health-path`), its one exposed
/// TCP port, and an HTTP URL in its `HEALTHCHECK` (`curl -f http://localhost:8080/health`).
pub fn infer_run(facts: &ImageFacts) -> Inferred {
    let label_port = facts
        .labels
        .get(PORT_LABEL)
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p > 0);
    let check_url = healthcheck_url(&facts.healthcheck);
    let port = match (label_port, facts.exposed_tcp.as_slice(), &check_url) {
        (Some(p), _, _) => Some((p, format!("label {PORT_LABEL}"))),
        (None, [only], _) => Some((*only, "EXPOSE".to_owned())),
        (None, _, Some((Some(p), _))) => Some((*p, "HEALTHCHECK".to_owned())),
        (None, [first, ..], _) => Some((
            *first,
            format!(
                "the lowest of EXPOSE {}",
                facts
                    .exposed_tcp
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        )),
        _ => None,
    };
    let health_path = match facts.labels.get(HEALTH_PATH_LABEL) {
        Some(path) if path.starts_with('/') && !path.contains(char::is_whitespace) => {
            Some((path.clone(), format!("label {HEALTH_PATH_LABEL}")))
        }
        _ => check_url.map(|(_, path)| (path, "HEALTHCHECK".to_owned())),
    };
    let env = facts
        .labels
        .iter()
        .filter_map(|(k, v)| {
            let key = k.strip_prefix(ENV_LABEL_PREFIX)?;
            berth_model::validate_env_key(key).ok()?;
            Some((key.to_owned(), v.clone()))
        })
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_iter()
        .collect();
    Inferred {
        port,
        health_path,
        env,
    }
}

/// The port and path of the first `http://localhost…` or `http://127.0.0.1…` URL in a
/// `HEALTHCHECK` command.
fn healthcheck_url(test: &[String]) -> Option<(Option<u16>, String)> {
    let text = test.join(" ");
    let start = text.find("http://")? + "http://".len();
    let url: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && !"'\";|&)".contains(*c))
        .collect();
    let (authority, path) = match url.find('/') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url.as_str(), "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (authority, Some(80)),
    };
    matches!(host, "localhost" | "127.0.0.1" | "0.0.0.0" | "[::1]").then(|| (port, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(exposed: &[u16], labels: &[(&str, &str)], check: &[&str]) -> ImageFacts {
        ImageFacts {
            exposed_tcp: exposed.to_vec(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            healthcheck: check.iter().map(|s| (*s).to_owned()).collect(),
            ..ImageFacts::default()
        }
    }

    #[test]
    fn labels_win_then_expose_then_the_healthcheck_url() {
        let i = infer_run(&facts(
            &[3000],
            &[(PORT_LABEL, "8080"), (HEALTH_PATH_LABEL, "/healthz")],
            &[],
        ));
        assert_eq!(i.port, Some((8080, "label berth.port".into())));
        assert_eq!(
            i.health_path,
            Some(("/healthz".into(), "label berth.health-path".into()))
        );
        let i = infer_run(&facts(
            &[3000],
            &[],
            &[
                "CMD-SHELL",
                "curl -fsS http://localhost:3000/api/health || exit 1",
            ],
        ));
        assert_eq!(i.port, Some((3000, "EXPOSE".into())));
        assert_eq!(
            i.health_path,
            Some(("/api/health".into(), "HEALTHCHECK".into()))
        );
        let i = infer_run(&facts(
            &[],
            &[],
            &["CMD", "wget", "-qO-", "http://127.0.0.1:9000/ready"],
        ));
        assert_eq!(i.port, Some((9000, "HEALTHCHECK".into())));
        let i = infer_run(&facts(&[80, 443], &[], &[]));
        assert_eq!(i.port, Some((80, "the lowest of EXPOSE 80 443".into())));
        assert_eq!(i.health_path, None);
        assert_eq!(infer_run(&facts(&[], &[], &[])).port, None);
    }
}
