//! Pending changes: what an app's records say now against what its serving deployment runs
//! with (its recorded spec). `plan` shows them, `apply` puts them in place with the least that
//! does it (nothing, a route change, a blue-green restart, a redeploy), `discard` sets the
//! records back to what serves.

use berth_model::{
    ChangeEffect, DeploySpec, Deployment, EnvSource, PendingChanges, ResolvedVar, SpecDiff,
    diff_specs,
};
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::deploy::DeployObserver;
use crate::env::VarOwner;
use crate::error::ApiError;

impl Berth {
    /// `berth plan APP`: the app's pending changes and what applying them takes.
    pub fn plan(&self, app: &str) -> Result<PendingChanges, ApiError> {
        let a = self.store.app(app)?;
        let serving = self.store.active_deployment(app)?;
        let (deployment, diff, note) = match serving {
            None => (
                None,
                SpecDiff::default(),
                Some(format!(
                    "not deployed yet: `berth deploy {app}` runs it with these settings"
                )),
            ),
            Some(d) => match &d.spec {
                None => (
                    Some(d.id.clone()),
                    SpecDiff::default(),
                    Some(format!(
                        "deployment {} was recorded before Berth kept what deployments run with: the next deploy or restart runs the settings as they are",
                        d.id
                    )),
                ),
                Some(spec) => (
                    Some(d.id.clone()),
                    diff_specs(spec, &self.spec_now(&a)?),
                    None,
                ),
            },
        };
        Ok(PendingChanges {
            app: app.to_owned(),
            deployment,
            diff,
            note,
        })
    }

    /// `berth plan --project P`: each member's pending changes, by name.
    pub fn plan_project(&self, project: &str) -> Result<Vec<PendingChanges>, ApiError> {
        self.store.project(project)?;
        self.store
            .project_members(project)?
            .iter()
            .map(|m| self.plan(m))
            .collect()
    }

    /// `berth apply APP`: puts the app's pending changes in place with the least that does it
    /// — nothing on the server (the serving deployment takes the new settings), a route
    /// change, a blue-green restart from the serving image, or a redeploy. A failure leaves
    /// the serving version as it was, and the changes pending. Returns the new deployment of
    /// a restart or redeploy.
    pub async fn apply(
        &self,
        app: &str,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Option<Deployment>, ApiError> {
        let pending = self.plan(app)?;
        if pending.is_empty() {
            return Ok(None);
        }
        let a = self.store.app(app)?;
        match pending.diff.effect {
            ChangeEffect::Record => {
                self.serving_takes(&a)?;
                self.audit("apply", app, "recorded");
                Ok(None)
            }
            ChangeEffect::Route => {
                let server = self.store.server(&a.server)?;
                let hosts = self.hosts_wanted(&a, &server)?;
                self.sync_route(&a, &server, hosts).await?;
                self.serving_takes(&a)?;
                self.audit("apply", app, "route");
                Ok(None)
            }
            ChangeEffect::Restart => Ok(Some(self.restart(app, observer, cancel).await?)),
            ChangeEffect::Redeploy => Ok(Some(self.deploy(app, None, observer, cancel).await?)),
        }
    }

    /// `berth apply --project P`: applies each member's pending changes in turn. When one
    /// fails, the members already applied in this run go back to what served before (their
    /// changes stay pending), and the error names the member.
    pub async fn apply_project(
        &self,
        project: &str,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Vec<(String, Option<Deployment>)>, ApiError> {
        let plans = self.plan_project(project)?;
        let mut applied: Vec<(String, Option<Deployment>, Option<Deployment>, DeploySpec)> =
            Vec::new();
        for p in plans.into_iter().filter(|p| !p.is_empty()) {
            let a = self.store.app(&p.app)?;
            let before = self.store.active_deployment(&p.app)?;
            let desired = self.spec_now(&a)?;
            match self.apply(&p.app, observer, cancel.clone()).await {
                Ok(d) => applied.push((p.app.clone(), before, d, desired)),
                Err(e) => {
                    for (app, before, made, desired) in applied.iter().rev() {
                        self.undo_apply(app, before.as_ref(), made.as_ref(), desired)
                            .await;
                    }
                    return Err(ApiError::Invalid(format!(
                        "applying project {project} stopped at {}: {e}; {}",
                        p.app,
                        if applied.is_empty() {
                            "nothing changed".to_owned()
                        } else {
                            format!(
                                "{} went back to what served before, their changes still pending",
                                applied
                                    .iter()
                                    .map(|(a, ..)| a.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    )));
                }
            }
        }
        Ok(applied.into_iter().map(|(a, _, d, _)| (a, d)).collect())
    }

    /// Takes back one member's apply in a project's apply that failed later: its previous
    /// deployment serves again (a rollback to it), and its records stay what was asked for.
    async fn undo_apply(
        &self,
        app: &str,
        before: Option<&Deployment>,
        made: Option<&Deployment>,
        desired: &DeploySpec,
    ) {
        let undone = async {
            if let (Some(before), Some(_)) = (before, made) {
                self.rollback(app, Some(&before.id), &|_| {}, CancellationToken::new())
                    .await?;
                self.restore_records(desired, "apply.undone")?;
            } else if let Some(before) = before
                && let Some(spec) = &before.spec
            {
                // A route or record-only change: the serving deployment keeps what it had.
                let mut d = self.store.deployment(&before.id)?;
                d.spec = Some(spec.clone());
                self.store.update_deployment(&d)?;
                let a = self.store.app(app)?;
                let server = self.store.server(&a.server)?;
                let hosts = self.hosts_for(&a, &server, &spec.domains)?;
                self.sync_route(&a, &server, hosts).await?;
            }
            Ok::<_, ApiError>(())
        };
        if let Err(e) = undone.await {
            tracing::warn!(app, "could not take back the applied changes: {e}");
        }
    }

    /// `berth discard APP`: the records go back to what the serving deployment runs with (its
    /// settings, own variables — secrets to the versions it runs with — and domains).
    /// Returns what was discarded.
    pub fn discard(&self, app: &str) -> Result<PendingChanges, ApiError> {
        let pending = self.plan(app)?;
        if pending.is_empty() {
            return Ok(pending);
        }
        let serving = self
            .store
            .active_deployment(app)?
            .and_then(|d| d.spec)
            .ok_or_else(|| ApiError::NotDeployed(app.to_owned()))?;
        self.restore_records(&serving, "discard")?;
        Ok(pending)
    }

    /// `berth discard --project P`: every member's records back to what serves, and the
    /// project's variables back to what its newest serving member runs with.
    pub fn discard_project(&self, project: &str) -> Result<Vec<PendingChanges>, ApiError> {
        let plans = self.plan_project(project)?;
        // The project's variables as the newest serving member runs them.
        let source = EnvSource::Project {
            project: project.to_owned(),
        };
        let newest = self
            .store
            .project_members(project)?
            .iter()
            .filter_map(|m| self.store.active_deployment(m).ok().flatten())
            .filter(|d| d.spec.is_some())
            .max_by_key(|d| d.started_at);
        if let Some(spec) = newest.and_then(|d| d.spec) {
            let ran: Vec<&ResolvedVar> = spec.env.iter().filter(|v| v.from == source).collect();
            self.restore_vars(VarOwner::Project(project), &ran)?;
        }
        for p in &plans {
            if !p.is_empty() {
                self.discard(&p.app)?;
            }
        }
        self.plan_project(project)
    }

    /// The serving deployment of `app` runs with its records now (a change that needed no
    /// new container: a route, the drain time).
    fn serving_takes(&self, app: &berth_model::App) -> Result<(), ApiError> {
        if let Some(mut d) = self.store.active_deployment(&app.name)? {
            d.spec = Some(Box::new(self.spec_now(app)?));
            self.store.update_deployment(&d)?;
        }
        Ok(())
    }

    /// A domain change routed at once: the serving deployment runs with the app's domains
    /// now, so they are not pending.
    pub(crate) fn serving_domains_follow(&self, app: &str) -> Result<(), ApiError> {
        if let Some(mut d) = self.store.active_deployment(app)?
            && let Some(spec) = d.spec.as_mut()
        {
            spec.domains = self.spec_domains(app)?;
            self.store.update_deployment(&d)?;
        }
        Ok(())
    }

    /// Makes an owner's variables exactly `ran` (plain values, secrets at their versions).
    pub(crate) fn restore_vars(
        &self,
        owner: VarOwner<'_>,
        ran: &[&ResolvedVar],
    ) -> Result<(), ApiError> {
        for old in owner.vars(&self.store)? {
            if !ran.iter().any(|v| v.key == old.key) {
                owner.unset(&self.store, &old.key)?;
            }
        }
        for v in ran {
            if v.secret {
                owner.record_secret(&self.store, &v.key, v.version)?;
            } else {
                owner.record_plain(&self.store, &v.key, v.value.as_deref().unwrap_or(""))?;
            }
        }
        Ok(())
    }
}
