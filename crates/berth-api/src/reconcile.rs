//! `reconcile`: what Berth recorded against what each server runs, drift by drift (found by the
//! engine's `plan_reconcile`), and with `fix` each drift fixed the way a deploy would — a gone
//! serving container deployed again from its recorded image, an orphan removed, a route put
//! back, a deployment a dead process left in progress settled.

use berth_engine::reconcile::{AppRecord, Fix, apply_fix, observe_app, plan_reconcile};
use berth_model::{App, DeploymentStatus, DriftReport, Server};
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::error::ApiError;
use crate::lock::AppLock;

impl Berth {
    /// The drifts on `server` (every server when `None`); with `fix`, each fixed.
    pub async fn reconcile(
        &self,
        server: Option<&str>,
        fix: bool,
    ) -> Result<Vec<DriftReport>, ApiError> {
        let servers = match server {
            Some(s) => vec![self.store.server(s)?],
            None => self.store.servers()?,
        };
        let mut out = Vec::new();
        for server in servers {
            if let Err(e) = self.reconcile_server(&server, fix, &mut out).await {
                out.push(DriftReport {
                    server: server.name.clone(),
                    app: "-".into(),
                    kind: "unreachable".into(),
                    problem: e.to_string(),
                    fix: "nothing: look again when it answers".into(),
                    fixed: fix.then_some(false),
                    error: None,
                });
            }
        }
        if fix && out.iter().any(|d| d.fixed == Some(true)) {
            self.audit(
                "reconcile.fix",
                server.unwrap_or("-"),
                &format!(
                    "{} drift(s) fixed",
                    out.iter().filter(|d| d.fixed == Some(true)).count()
                ),
            );
        }
        Ok(out)
    }

    async fn reconcile_server(
        &self,
        server: &Server,
        fix: bool,
        out: &mut Vec<DriftReport>,
    ) -> Result<(), ApiError> {
        let host = self.host(server).await?;
        let apps: Vec<App> = self
            .store
            .apps()?
            .into_iter()
            .filter(|a| a.server == server.name)
            .collect();
        for app in apps {
            // What the relay deployed on its own is part of the record.
            self.catch_up_unattended(&app.name).await;
            let record = self.record_of(&app, server)?;
            let seen = observe_app(&host, &app.name, record.route.as_ref()).await?;
            for drift in plan_reconcile(&record, &seen) {
                let mut report = DriftReport {
                    server: server.name.clone(),
                    app: app.name.clone(),
                    kind: drift.kind.to_owned(),
                    problem: drift.problem.clone(),
                    fix: drift.fix_text(),
                    fixed: None,
                    error: None,
                };
                if fix {
                    let done = match drift.fix {
                        Fix::Redeploy => self
                            .restart(&app.name, &|_| {}, CancellationToken::new())
                            .await
                            .map(|_| ()),
                        // Taking the lock settles what a dead process left.
                        Fix::Settle => match self.lock_settled(&app, "reconcile").await {
                            Ok(held) => {
                                held.release().await;
                                Ok(())
                            }
                            Err(e) => Err(e),
                        },
                        Fix::Apply(action) => apply_fix(&host, *action).await.map_err(Into::into),
                    };
                    report.fixed = Some(done.is_ok());
                    report.error = done.err().map(|e| e.to_string());
                }
                out.push(report);
            }
        }
        Ok(())
    }

    /// What Berth recorded of `app`, as the engine compares it with the server.
    fn record_of(&self, app: &App, server: &Server) -> Result<AppRecord, ApiError> {
        let active = self.store.active_deployment(&app.name)?;
        // In progress with nobody holding the app's lock: its process died.
        let in_progress: Vec<String> = self
            .store
            .deployments(&app.name, 20)?
            .into_iter()
            .filter(|d| d.status == DeploymentStatus::InProgress)
            .map(|d| d.id)
            .collect();
        let stuck = if in_progress.is_empty() {
            Vec::new()
        } else {
            match AppLock::acquire(self.data_dir(), &app.name, "reconcile") {
                Ok(_free) => in_progress,
                Err(_) => Vec::new(),
            }
        };
        Ok(AppRecord {
            app: app.name.clone(),
            active: active.and_then(|d| d.container.map(|c| (d.id, c))),
            stopped: self.store.app_stopped(&app.name)?,
            stuck,
            route: self.route_plan(app, server)?,
            port: app.port,
        })
    }
}
