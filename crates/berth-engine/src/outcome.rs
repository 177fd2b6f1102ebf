//! How a deploy ended, said once for every driver — `berth watch` and the desktop deploying a
//! webhook delivery, the relay deploying one unattended: the line recorded on the delivery and
//! the notice every notifier gets.

use berth_model::{DeliveryStatus, DeployNotice};
use berth_relay_proto::proto::DeployReport;

/// One deploy's end, as its driver saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOutcome {
    pub app: String,
    pub server: String,
    /// `webhook delivery 12 (github push to main)`, `unattended webhook delivery 3 (…)`.
    pub trigger: String,
    pub duration_ms: u64,
    /// The deployment it recorded, if it got that far.
    pub deployment: Option<String>,
    /// The commit deployed (or pushed, when it failed before resolving one).
    pub commit: Option<String>,
    pub ended: Ended,
    /// Who deployed, when it is not the client that reports it: `the relay`.
    pub by: Option<String>,
}

/// Live, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Serving, at `url` when it has one.
    Live { url: Option<String> },
    /// `step` (`build`, `health-check`, `setup`; none when cancelled) failed with `error`.
    Failed { step: Option<String>, error: String },
}

impl DeployOutcome {
    pub fn is_live(&self) -> bool {
        matches!(self.ended, Ended::Live { .. })
    }

    /// One line: where it is live (`deployed by the relay: https://…`), or what failed
    /// (`health-check failed: …`).
    pub fn result(&self) -> String {
        match &self.ended {
            Ended::Live { url } => {
                let at = match (url, &self.deployment) {
                    (Some(url), _) => url.clone(),
                    (None, Some(id)) => format!("deployment {id} is live"),
                    (None, None) => "live".to_owned(),
                };
                match &self.by {
                    Some(by) => format!("deployed by {by}: {at}"),
                    None => at,
                }
            }
            Ended::Failed {
                step: Some(step),
                error,
            } => format!("{step} failed: {error}"),
            Ended::Failed { step: None, error } => error.clone(),
        }
    }

    /// What the delivery records, reported by `client`.
    pub fn report(&self, client: &str) -> DeployReport {
        DeployReport {
            status: if self.is_live() {
                DeliveryStatus::Deployed
            } else {
                DeliveryStatus::Failed
            },
            deployment: self.deployment.clone(),
            duration_ms: self.duration_ms,
            result: self.result(),
            client: client.to_owned(),
        }
    }

    /// What notifiers (ntfy, Slack, a JSON webhook) get.
    pub fn notice(&self) -> DeployNotice {
        let (status, url, failed_step, error) = match &self.ended {
            Ended::Live { url } => ("deployed", url.clone(), None, None),
            Ended::Failed { step, error } => ("failed", None, step.clone(), Some(error.clone())),
        };
        DeployNotice {
            app: self.app.clone(),
            server: self.server.clone(),
            status: status.to_owned(),
            deployment: self.deployment.clone(),
            commit: self.commit.clone(),
            duration_ms: Some(self.duration_ms),
            url,
            failed_step,
            error,
            trigger: self.trigger.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ended: Ended, by: Option<&str>) -> DeployOutcome {
        DeployOutcome {
            app: "hello".into(),
            server: "prod".into(),
            trigger: "webhook delivery 12 (github push to main)".into(),
            duration_ms: 4200,
            deployment: Some("a1b2c3d4".into()),
            commit: Some("0123456789abcdef".into()),
            ended,
            by: by.map(str::to_owned),
        }
    }

    #[test]
    fn every_driver_says_the_same_of_a_deploy() {
        let live = outcome(
            Ended::Live {
                url: Some("https://hello.example.com".into()),
            },
            Some("the relay"),
        );
        assert_eq!(
            live.result(),
            "deployed by the relay: https://hello.example.com"
        );
        let report = live.report("berth-relay");
        assert_eq!(report.status, DeliveryStatus::Deployed);
        assert_eq!(report.deployment.as_deref(), Some("a1b2c3d4"));
        assert_eq!(
            live.notice().summary(),
            "hello deployed 0123456 in 4.2 s → https://hello.example.com"
        );

        let quiet = outcome(Ended::Live { url: None }, None);
        assert_eq!(quiet.result(), "deployment a1b2c3d4 is live");

        let failed = outcome(
            Ended::Failed {
                step: Some("health-check".into()),
                error: "GET /healthz answered 500".into(),
            },
            None,
        );
        assert_eq!(
            failed.result(),
            "health-check failed: GET /healthz answered 500"
        );
        assert_eq!(failed.report("berth watch").status, DeliveryStatus::Failed);
        let notice = failed.notice();
        assert_eq!(notice.status, "failed");
        assert_eq!(notice.url, None);
        assert_eq!(notice.failed_step.as_deref(), Some("health-check"));
    }
}
