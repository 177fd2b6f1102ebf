//! A deployment's pipeline as the progress panel shows it: every step with its state, folded
//! from the live `DeployEvent`s, or rebuilt from a stored deployment's step timings. Pure
//! code, unit-tested natively.

use berth_model::{DeployEvent, Deployment, DeploymentStatus, Step, StepOutcome};

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Not reached yet.
    Pending,
    Running,
    Ok,
    Failed,
    Cancelled,
    /// Not run: the deployment ended without it (a rollback builds nothing; a failure stops
    /// the steps after it).
    Skipped,
}

impl StepState {
    /// The `data-state` value (and CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::Running => "running",
            StepState::Ok => "ok",
            StepState::Failed => "failed",
            StepState::Cancelled => "cancelled",
            StepState::Skipped => "skipped",
        }
    }
}

/// One step of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    pub step: Step,
    pub state: StepState,
    pub duration_ms: Option<u64>,
    /// Why it failed.
    pub message: Option<String>,
}

/// How the deployment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub status: DeploymentStatus,
    pub duration_ms: u64,
    pub error: Option<String>,
}

/// The steps of one deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub deployment: Option<String>,
    pub steps: Vec<StepRow>,
    pub ended: Option<Ended>,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new()
    }
}

impl Pipeline {
    /// Every step pending.
    pub fn new() -> Pipeline {
        Pipeline {
            deployment: None,
            steps: Step::ALL
                .into_iter()
                .map(|step| StepRow {
                    step,
                    state: StepState::Pending,
                    duration_ms: None,
                    message: None,
                })
                .collect(),
            ended: None,
        }
    }

    fn row(&mut self, step: Step) -> Option<&mut StepRow> {
        self.steps.iter_mut().find(|r| r.step == step)
    }

    /// Folds one event in. `Started` begins a fresh pipeline.
    pub fn apply(&mut self, event: &DeployEvent) {
        match event {
            DeployEvent::Started { deployment, .. } => {
                *self = Pipeline::new();
                self.deployment = Some(deployment.clone());
            }
            DeployEvent::StepStarted { step } => {
                // Steps before this one that never ran were skipped.
                for r in self.steps.iter_mut() {
                    if r.step < *step && r.state == StepState::Pending {
                        r.state = StepState::Skipped;
                    }
                }
                if let Some(r) = self.row(*step) {
                    r.state = StepState::Running;
                }
            }
            DeployEvent::StepFinished {
                step,
                duration_ms,
                outcome,
            } => {
                if let Some(r) = self.row(*step) {
                    r.state = state_of(*outcome);
                    r.duration_ms = Some(*duration_ms);
                }
            }
            DeployEvent::BuildLine { .. } | DeployEvent::Info { .. } => {}
            DeployEvent::Finished {
                deployment,
                status,
                duration_ms,
                error,
            } => {
                self.deployment = Some(deployment.clone());
                self.finish(*status, *duration_ms, error.clone(), None);
            }
        }
    }

    /// Ends the pipeline: steps still running take the outcome, the failure's message goes to
    /// the failed step (`failed_step` when known), steps never reached are skipped.
    fn finish(
        &mut self,
        status: DeploymentStatus,
        duration_ms: u64,
        error: Option<String>,
        failed_step: Option<Step>,
    ) {
        let end_state = match status {
            DeploymentStatus::Failed => StepState::Failed,
            DeploymentStatus::Cancelled => StepState::Cancelled,
            _ => StepState::Ok,
        };
        for r in self.steps.iter_mut() {
            match r.state {
                StepState::Running => r.state = end_state,
                StepState::Pending => r.state = StepState::Skipped,
                _ => {}
            }
        }
        if let Some(e) = &error {
            let target = failed_step
                .and_then(|s| self.steps.iter().position(|r| r.step == s))
                .or_else(|| {
                    self.steps
                        .iter()
                        .position(|r| matches!(r.state, StepState::Failed | StepState::Cancelled))
                });
            if let Some(i) = target {
                if self.steps[i].state == StepState::Skipped {
                    self.steps[i].state = end_state;
                }
                self.steps[i].message = Some(e.clone());
            }
        }
        self.ended = Some(Ended {
            status,
            duration_ms,
            error,
        });
    }

    /// The pipeline of a stored deployment, from its step timings.
    pub fn of(d: &Deployment) -> Pipeline {
        let mut p = Pipeline::new();
        p.deployment = Some(d.id.clone());
        for t in &d.steps {
            if let Some(r) = p.row(t.step) {
                r.state = state_of(t.outcome);
                r.duration_ms = Some(t.duration_ms);
            }
        }
        if d.status == DeploymentStatus::InProgress {
            // The step after the last finished one is running.
            if let Some(r) = p
                .steps
                .iter_mut()
                .rev()
                .take_while(|r| r.state == StepState::Pending)
                .last()
            {
                r.state = StepState::Running;
            }
            return p;
        }
        p.finish(
            d.status,
            d.duration_ms().unwrap_or(0),
            d.error.clone(),
            d.failed_step,
        );
        p
    }

    /// The step running now.
    pub fn running(&self) -> Option<Step> {
        self.steps
            .iter()
            .find(|r| r.state == StepState::Running)
            .map(|r| r.step)
    }
}

fn state_of(outcome: StepOutcome) -> StepState {
    match outcome {
        StepOutcome::Ok => StepState::Ok,
        StepOutcome::Failed => StepState::Failed,
        StepOutcome::Cancelled => StepState::Cancelled,
    }
}

/// How a step reads in the list.
pub fn step_label(step: Step) -> &'static str {
    match step {
        Step::Resolve => "Resolve commit",
        Step::Build => "Build image",
        Step::Start => "Start container",
        Step::HealthCheck => "Health check",
        Step::Switch => "Switch traffic",
        Step::Drain => "Drain old container",
        Step::Cleanup => "Clean up images",
    }
}

#[cfg(test)]
mod tests {
    use berth_model::{DeploymentKind, StepTiming};

    use super::*;

    /// `step:state(duration)!message` per line.
    fn render(p: &Pipeline) -> String {
        p.steps
            .iter()
            .map(|r| {
                let mut s = format!("{}:{}", r.step, r.state.as_str());
                if let Some(d) = r.duration_ms {
                    s.push_str(&format!("({d})"));
                }
                if let Some(m) = &r.message {
                    s.push_str(&format!("!{m}"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn started(step: Step) -> DeployEvent {
        DeployEvent::StepStarted { step }
    }

    fn finished(step: Step, ms: u64, outcome: StepOutcome) -> DeployEvent {
        DeployEvent::StepFinished {
            step,
            duration_ms: ms,
            outcome,
        }
    }

    #[test]
    fn a_live_deploy_folds_step_by_step() {
        let mut p = Pipeline::new();
        p.apply(&DeployEvent::Started {
            deployment: "d1".into(),
            app: "hello".into(),
        });
        p.apply(&started(Step::Resolve));
        assert_eq!(p.running(), Some(Step::Resolve));
        p.apply(&finished(Step::Resolve, 10, StepOutcome::Ok));
        p.apply(&started(Step::Build));
        p.apply(&DeployEvent::BuildLine { line: "x".into() });
        assert_eq!(
            render(&p),
            "resolve:ok(10) build:running start:pending health-check:pending switch:pending drain:pending cleanup:pending"
        );
        p.apply(&finished(Step::Build, 2000, StepOutcome::Ok));
        p.apply(&started(Step::Start));
        p.apply(&finished(Step::Start, 300, StepOutcome::Ok));
        p.apply(&started(Step::HealthCheck));
        p.apply(&finished(Step::HealthCheck, 400, StepOutcome::Ok));
        // No proxy: no switch step; drain and cleanup follow.
        p.apply(&started(Step::Drain));
        assert_eq!(p.steps[4].state, StepState::Skipped, "switch was skipped");
        p.apply(&finished(Step::Drain, 5, StepOutcome::Ok));
        p.apply(&started(Step::Cleanup));
        p.apply(&finished(Step::Cleanup, 6, StepOutcome::Ok));
        p.apply(&DeployEvent::Finished {
            deployment: "d1".into(),
            status: DeploymentStatus::Active,
            duration_ms: 2800,
            error: None,
        });
        assert_eq!(
            render(&p),
            "resolve:ok(10) build:ok(2000) start:ok(300) health-check:ok(400) switch:skipped drain:ok(5) cleanup:ok(6)"
        );
        assert_eq!(p.ended.as_ref().map(|e| e.duration_ms), Some(2800));
        assert_eq!(p.running(), None);
    }

    #[test]
    fn a_failure_marks_its_step_with_the_message() {
        let mut p = Pipeline::new();
        p.apply(&started(Step::HealthCheck));
        p.apply(&finished(Step::HealthCheck, 30_000, StepOutcome::Failed));
        p.apply(&DeployEvent::Finished {
            deployment: "d2".into(),
            status: DeploymentStatus::Failed,
            duration_ms: 31_000,
            error: Some("GET /healthz: HTTP 404".into()),
        });
        assert_eq!(
            render(&p),
            "resolve:skipped build:skipped start:skipped health-check:failed(30000)!GET /healthz: HTTP 404 switch:skipped drain:skipped cleanup:skipped"
        );
    }

    #[test]
    fn a_cancel_while_running_ends_that_step() {
        let mut p = Pipeline::new();
        p.apply(&started(Step::Build));
        p.apply(&DeployEvent::Finished {
            deployment: "d3".into(),
            status: DeploymentStatus::Cancelled,
            duration_ms: 1,
            error: Some("cancelled".into()),
        });
        assert_eq!(p.steps[1].state, StepState::Cancelled);
        assert_eq!(p.steps[1].message.as_deref(), Some("cancelled"));
    }

    #[test]
    fn a_new_start_resets() {
        let mut p = Pipeline::new();
        p.apply(&started(Step::Build));
        p.apply(&DeployEvent::Started {
            deployment: "d4".into(),
            app: "a".into(),
        });
        assert_eq!(p, {
            let mut fresh = Pipeline::new();
            fresh.deployment = Some("d4".into());
            fresh
        });
    }

    fn deployment(status: DeploymentStatus, steps: Vec<StepTiming>) -> Deployment {
        Deployment {
            status,
            finished_at: Some(5_000),
            steps,
            ..Deployment::start(
                "d5".into(),
                "hello",
                DeploymentKind::Deploy,
                "main".into(),
                1_000,
            )
        }
    }

    fn timing(step: Step, ms: u64, outcome: StepOutcome) -> StepTiming {
        StepTiming {
            step,
            started_at: 0,
            duration_ms: ms,
            outcome,
        }
    }

    #[test]
    fn a_stored_deployment_rebuilds_its_pipeline() {
        let mut d = deployment(
            DeploymentStatus::Failed,
            vec![
                timing(Step::Resolve, 1, StepOutcome::Ok),
                timing(Step::Build, 2, StepOutcome::Failed),
            ],
        );
        d.failed_step = Some(Step::Build);
        d.error = Some("no such file".into());
        let p = Pipeline::of(&d);
        assert_eq!(
            render(&p),
            "resolve:ok(1) build:failed(2)!no such file start:skipped health-check:skipped switch:skipped drain:skipped cleanup:skipped"
        );
        assert_eq!(p.ended.map(|e| e.duration_ms), Some(4_000));

        let mut d = deployment(
            DeploymentStatus::InProgress,
            vec![timing(Step::Resolve, 1, StepOutcome::Ok)],
        );
        d.finished_at = None;
        assert_eq!(Pipeline::of(&d).running(), Some(Step::Build));
    }
}
