//! Image apps: pulling an image on the server and reading from it how to run it (port,
//! health check), for `app create --image` and the window's Quick Deploy.

use crate::error::EngineError;
use crate::host::Host;
use crate::plan::Action;
use berth_docker::ImageFacts;

/// Labels an image can carry to tell Berth how to run it.
pub const PORT_LABEL: &str = "berth.port";
pub const HEALTH_PATH_LABEL: &str = "berth.health-path";

/// What Berth read from an image, and where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inferred {
    pub port: Option<(u16, String)>,
    pub health_path: Option<(String, String)>,
}

/// Pulls `reference` on the host (through its Docker API, like every pull) and reads the image.
pub async fn inspect_image(host: &Host, reference: &str) -> Result<ImageFacts, EngineError> {
    let pull = Action::PullImage {
        image: reference.to_owned(),
    };
    crate::service::apply_host_action(host, pull)
        .await
        .map_err(|e| match e {
            EngineError::ImageUnavailable { source, .. } => EngineError::Pull {
                reference: reference.to_owned(),
                server: host.name().to_owned(),
                message: source.to_string(),
            },
            other => other,
        })?;
    host.docker()
        .image_facts(reference)
        .await?
        .ok_or_else(|| EngineError::Task(format!("{reference} was pulled but is not there")))
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
    Inferred { port, health_path }
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
