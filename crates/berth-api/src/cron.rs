//! Cron jobs: a command an app's server's relay runs on schedule in a fresh container made like
//! the app's serving one (its image, env, network, limits and volumes), removed after.

use berth_model::{Cron, CronJob, validate_app_name};

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Adds cron job `name` of `app`: `command` run whenever `schedule` matches (UTC), by the
    /// relay of the app's server. A warning when the relay could not be told yet.
    pub async fn cron_add(
        &self,
        app: &str,
        name: &str,
        schedule: &str,
        command: &[String],
    ) -> Result<(CronJob, Option<String>), ApiError> {
        let a = self.store.app(app)?;
        validate_app_name(name).map_err(|e| ApiError::Invalid(format!("cron job name: {e}")))?;
        let schedule = Cron::parse(schedule).map_err(|e| ApiError::Invalid(e.to_string()))?;
        if command.first().is_none_or(|c| c.trim().is_empty()) {
            return Err(ApiError::Invalid(format!(
                "no command for the job: `berth cron add {app} {name} --schedule '0 2 * * *' -- COMMAND [ARGS…]`"
            )));
        }
        let server = self.store.server(&a.server)?;
        if server.relay.is_none() {
            return Err(ApiError::Invalid(format!(
                "cron jobs are run by the relay on {0} (your machine may be asleep): install it first with `berth server relay install {0}`",
                a.server
            )));
        }
        let job = CronJob {
            app: app.to_owned(),
            name: name.to_owned(),
            schedule,
            command: command.to_vec(),
        };
        self.store.add_cron_job(&job)?;
        self.audit(
            "cron-add",
            app,
            &format!("{name} at {}: {}", job.schedule, job.command.join(" ")),
        );
        let warning = self.monitor_sync(&a.server).await;
        Ok((job, warning))
    }

    /// The cron jobs of `app` (or of every app).
    pub fn cron_jobs(&self, app: Option<&str>) -> Result<Vec<CronJob>, ApiError> {
        if let Some(app) = app {
            self.store.app(app)?;
        }
        Ok(self.store.cron_jobs(app)?)
    }

    /// Removes cron job `name` of `app`.
    pub async fn cron_rm(&self, app: &str, name: &str) -> Result<Option<String>, ApiError> {
        let a = self.store.app(app)?;
        if !self.store.remove_cron_job(app, name)? {
            return Err(ApiError::Invalid(format!(
                "{app} has no cron job `{name}` (`berth cron ls {app}`)"
            )));
        }
        self.audit("cron-rm", app, name);
        Ok(self.monitor_sync(&a.server).await)
    }
}
