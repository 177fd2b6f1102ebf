//! What hangs off apps and services in the setup file — stages, webhooks, cron jobs and
//! backup schedules — and what stands beside them: backup targets and notifiers. Exported
//! with the rest, checked with the rest (errors name the line), imported after the apps and
//! services they belong to. Secrets never travel: a webhook made anew gets a fresh secret
//! (the import says where to read it), an S3 target's keys and a notifier's full URL are
//! left for the user to add, and say so.

use berth_model::setup::{
    AppSetup, BackupScheduleSetup, BackupTargetSetup, CUT_URL_TAIL, CronSetup, ImportReport,
    NotifierSetup, ServiceSetup, SetupFile, StageSetup, WebhookSetup,
};
use berth_model::{
    App, Cron, Location, NoticeEvent, NotifierKind, Provider, StageDraft, WebhookMode,
    validate_app_name,
};

use crate::Berth;
use crate::error::ApiError;
use crate::webhooks::WebhookEnable;

/// An app's stages, webhook and cron jobs as the file writes them.
pub(crate) struct AppAttached {
    pub(crate) stages: Vec<StageSetup>,
    pub(crate) webhook: Option<WebhookSetup>,
    pub(crate) cron: Vec<CronSetup>,
}

impl Berth {
    /// An app's stages, webhook and cron jobs as the file writes them.
    pub(crate) fn app_attached(&self, app: &App) -> Result<AppAttached, ApiError> {
        let stages = self
            .store
            .stages(&app.name)?
            .into_iter()
            .map(|s| StageSetup {
                name: s.name,
                tags: s.tags,
                auto_deploy: s.auto_deploy,
                max_instances: s.max_instances,
                promote_from: s.promote_from,
                confirm: s.confirm,
                subdomain: s.subdomain,
            })
            .collect();
        let webhook = self.store.webhook(&app.name)?.map(|w| WebhookSetup {
            provider: w.provider.as_str().to_owned(),
            branch: w.filter.branch,
            tags: w.filter.tags,
            unattended: w.mode == WebhookMode::Unattended,
            allow_force_push: w.allow_force_push,
        });
        Ok(AppAttached {
            stages,
            webhook,
            cron: self.cron_setup(&app.name)?,
        })
    }

    /// The cron jobs of an app or service as the file writes them.
    pub(crate) fn cron_setup(&self, app: &str) -> Result<Vec<CronSetup>, ApiError> {
        Ok(self
            .store
            .cron_jobs(Some(app))?
            .into_iter()
            .map(|j| CronSetup {
                name: j.name,
                schedule: j.schedule.as_str().to_owned(),
                command: j.command,
            })
            .collect())
    }

    /// A service's backup schedule as the file writes it.
    pub(crate) fn service_backup(
        &self,
        service: &str,
    ) -> Result<Option<BackupScheduleSetup>, ApiError> {
        Ok(self
            .store
            .backup_schedules()?
            .into_iter()
            .find(|s| s.service == service)
            .map(|s| BackupScheduleSetup {
                cron: s.cron.as_str().to_owned(),
                keep: s.keep,
                target: s.target,
            }))
    }

    /// Backup targets and notifiers, for the whole setup (`members`: `None`) or a project's
    /// (the targets its services' schedules use, the notifiers routed to its members).
    pub(crate) fn export_beside(
        &self,
        file: &mut SetupFile,
        members: Option<&[String]>,
    ) -> Result<(), ApiError> {
        let used: Vec<String> = file
            .services
            .iter()
            .filter_map(|s| s.backup.as_ref()?.target.clone())
            .collect();
        for t in self.store.backup_targets()? {
            if members.is_some() && !used.contains(&t.name) {
                continue;
            }
            let (location, endpoint, region) = match &t.location {
                Location::S3 {
                    bucket,
                    prefix,
                    endpoint,
                    region,
                } => (
                    if prefix.is_empty() {
                        format!("s3://{bucket}")
                    } else {
                        format!("s3://{bucket}/{prefix}")
                    },
                    endpoint.clone(),
                    Some(region.clone()),
                ),
                other => (other.to_string(), None, None),
            };
            file.backup_targets.push(BackupTargetSetup {
                name: t.name,
                location,
                endpoint,
                region,
                encrypt: t.sealed_to.is_some(),
            });
        }
        for n in self.store.notifiers()? {
            let routed_here = match (members, &n.app) {
                (None, _) => true,
                (Some(m), Some(app)) => m.contains(app),
                (Some(_), None) => false,
            };
            if routed_here {
                file.notifiers.push(NotifierSetup {
                    kind: n.kind.as_str().to_owned(),
                    url: n.url,
                    app: n.app,
                    events: n.events.iter().map(|e| e.as_str().to_owned()).collect(),
                });
            }
        }
        Ok(())
    }

    /// Checks an app's stages, webhook and cron jobs (`Err`: what is wrong, for the app's
    /// line).
    pub(crate) fn check_app_attached(&self, a: &AppSetup) -> Result<(), String> {
        if !a.stages.is_empty() && a.image.is_none() {
            return Err(
                "has stages but is built from git: stages are for image apps (`image:`)".to_owned(),
            );
        }
        for s in &a.stages {
            stage_draft(&a.name, s)
                .validate(0)
                .map_err(|e| format!("stage {}: {e}", s.name))?;
            if let Some(from) = &s.promote_from
                && !a.stages.iter().any(|o| &o.name == from)
            {
                return Err(format!(
                    "stage {} promotes from {from}, which is not one of its stages",
                    s.name
                ));
            }
        }
        if let Some(w) = &a.webhook {
            w.provider.parse::<Provider>()?;
            if w.branch.trim().is_empty() {
                return Err("webhook: `branch` is empty".to_owned());
            }
            if w.unattended && a.image.is_none() && !a.git.as_deref().is_some_and(is_remote) {
                return Err(
                    "webhook: an unattended relay fetches the source itself: `git:` must be a URL the server can reach"
                        .to_owned(),
                );
            }
        }
        check_cron(&a.cron)?;
        if a.webhook.is_some() || !a.cron.is_empty() {
            self.needs_relay(
                &a.server,
                if a.webhook.is_some() {
                    "its webhook is"
                } else {
                    "its cron jobs are"
                },
            )?;
        }
        Ok(())
    }

    /// Checks a service's backup schedule against the file's and this machine's targets.
    pub(crate) fn check_service_backup(
        &self,
        s: &ServiceSetup,
        file: &SetupFile,
    ) -> Result<(), String> {
        check_cron(&s.cron)?;
        if !s.cron.is_empty() {
            self.needs_relay(&s.server, "its cron jobs are")?;
        }
        let Some(b) = &s.backup else {
            return Ok(());
        };
        Cron::parse(&b.cron).map_err(|e| format!("backup: {e}"))?;
        if b.keep == 0 {
            return Err(
                "backup: `keep` must be at least 1 (the newest good backup is never removed)"
                    .to_owned(),
            );
        }
        if let Some(t) = &b.target
            && !file.backup_targets.iter().any(|f| &f.name == t)
            && self.store.backup_target(t).is_err()
        {
            return Err(format!(
                "backup: target `{t}` is not in the file nor known here"
            ));
        }
        self.needs_relay(&s.server, "its scheduled backups are")
    }

    fn needs_relay(&self, server: &str, what: &str) -> Result<(), String> {
        let has = self.store.server(server).is_ok_and(|s| s.relay.is_some());
        if has {
            return Ok(());
        }
        Err(format!(
            "{what} run by the relay on {server}, which has none here: install it (`berth server relay install {server}`), then import again"
        ))
    }

    /// Checks a backup target of the file.
    pub(crate) fn check_target(&self, t: &BackupTargetSetup) -> Result<(), String> {
        validate_app_name(&t.name).map_err(|e| e.to_string())?;
        let location = self.target_location(t)?;
        if let Location::Server { server, .. } = &location
            && self.store.server(server).is_err()
        {
            return Err(format!(
                "server `{server}` is not known here (add it first)"
            ));
        }
        Ok(())
    }

    fn target_location(&self, t: &BackupTargetSetup) -> Result<Location, String> {
        let default = self.local_backups();
        let mut location =
            Location::parse(&t.location, &default.to_string_lossy()).map_err(|e| e.to_string())?;
        if let Location::S3 {
            endpoint, region, ..
        } = &mut location
        {
            endpoint.clone_from(&t.endpoint);
            if let Some(r) = &t.region {
                r.clone_into(region);
            }
        } else if t.endpoint.is_some() || t.region.is_some() {
            return Err("`endpoint` and `region` are for s3:// targets".to_owned());
        }
        Ok(location)
    }

    /// Checks a notifier of the file.
    pub(crate) fn check_notifier(&self, n: &NotifierSetup, file: &SetupFile) -> Result<(), String> {
        n.kind.parse::<NotifierKind>()?;
        if !n.url.ends_with(CUT_URL_TAIL) {
            berth_notify::parse_url(&n.url)?;
        }
        NoticeEvent::parse_list(&n.events.join(","))?;
        if let Some(app) = &n.app
            && !file.apps.iter().any(|a| &a.name == app)
            && !file.services.iter().any(|s| &s.name == app)
            && self.store.app(app).is_err()
        {
            return Err(format!("app `{app}` is not in the file nor known here"));
        }
        Ok(())
    }

    /// What importing changes of these, a line each.
    pub(crate) fn plan_attached(
        &self,
        file: &SetupFile,
        prune: bool,
        out: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let targets = self.store.backup_targets()?;
        for t in &file.backup_targets {
            match targets.iter().find(|h| h.name == t.name) {
                None => out.push(format!("add backup target {} ({})", t.name, t.location)),
                Some(h) => {
                    let want = self.target_location(t).map_err(ApiError::Invalid)?;
                    if h.location != want || h.sealed_to.is_some() != t.encrypt {
                        out.push(format!(
                            "update backup target {}: {} → {}",
                            t.name, h.location, t.location
                        ));
                    }
                }
            }
        }
        for a in &file.apps {
            let Ok(have) = self.store.app(&a.name) else {
                for s in &a.stages {
                    out.push(format!("add stage {}/{}", a.name, s.name));
                }
                if let Some(w) = &a.webhook {
                    out.push(format!("enable webhook of {} ({})", a.name, w.provider));
                }
                for c in &a.cron {
                    out.push(format!("add cron job {}/{}", a.name, c.name));
                }
                continue;
            };
            let AppAttached {
                stages,
                webhook,
                cron,
            } = self.app_attached(&have)?;
            for s in &a.stages {
                match stages.iter().find(|h| h.name == s.name) {
                    None => out.push(format!("add stage {}/{}", a.name, s.name)),
                    Some(h) if h != s => out.push(format!("update stage {}/{}", a.name, s.name)),
                    Some(_) => {}
                }
            }
            match (&webhook, &a.webhook) {
                (None, Some(w)) => {
                    out.push(format!("enable webhook of {} ({})", a.name, w.provider));
                }
                (Some(h), Some(w)) if h != w => {
                    out.push(format!("update webhook of {}", a.name));
                }
                (Some(_), None) if prune => out.push(format!("disable webhook of {}", a.name)),
                _ => {}
            }
            plan_cron(&a.name, &cron, &a.cron, prune, out);
            if prune {
                for h in &stages {
                    if !a.stages.iter().any(|s| s.name == h.name) {
                        out.push(format!("remove stage {}/{}", a.name, h.name));
                    }
                }
            }
        }
        for s in &file.services {
            let jobs = if self.store.app(&s.name).is_ok() {
                self.cron_setup(&s.name)?
            } else {
                Vec::new()
            };
            plan_cron(&s.name, &jobs, &s.cron, prune, out);
            let have = self.service_backup(&s.name)?;
            match (&have, &s.backup) {
                (h, Some(b)) if h.as_ref() != Some(b) => out.push(format!(
                    "schedule backups of {} ({}, keep {})",
                    s.name, b.cron, b.keep
                )),
                (Some(_), None) if prune => {
                    out.push(format!("stop scheduled backups of {}", s.name));
                }
                _ => {}
            }
        }
        let notifiers = self.store.notifiers()?;
        for n in &file.notifiers {
            match self.matching_notifier(n)? {
                None => out.push(format!(
                    "add notifier {} {} ({})",
                    n.kind,
                    n.url,
                    n.app.as_deref().unwrap_or("every app")
                )),
                Some(id) => {
                    let h = notifiers.iter().find(|h| h.id == id);
                    if h.is_some_and(|h| !same_routing(h, n)) {
                        out.push(format!("update notifier {} {}: routing", n.kind, n.url));
                    }
                }
            }
        }
        if prune {
            for h in &notifiers {
                let kept = file
                    .notifiers
                    .iter()
                    .any(|n| n.kind == h.kind.as_str() && self.shown_url(&n.url) == h.url);
                if !kept {
                    out.push(format!("remove notifier {} {}", h.kind, h.url));
                }
            }
            for h in &targets {
                if !file.backup_targets.iter().any(|t| t.name == h.name) {
                    out.push(format!("remove backup target {}", h.name));
                }
            }
        }
        Ok(())
    }

    /// Creates the file's backup targets that are missing (first: schedules use them).
    pub(crate) async fn apply_targets(
        &self,
        file: &SetupFile,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        for t in &file.backup_targets {
            let want = self.target_location(t).map_err(ApiError::Invalid)?;
            if let Ok(h) = self.store.backup_target(&t.name) {
                if h.location == want && h.sealed_to.is_some() == t.encrypt {
                    continue;
                }
                self.backup_target_rm(&t.name)?;
            }
            if matches!(want, Location::S3 { .. }) {
                report.notes.push(format!(
                    "backup target {0} is S3 and the file carries no keys: add it with yours (`AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… berth backup target add {0} {1}{2}{3}`)",
                    t.name,
                    t.location,
                    t.endpoint
                        .as_deref()
                        .map(|e| format!(" --endpoint {e}"))
                        .unwrap_or_default(),
                    if t.encrypt { " --encrypt" } else { "" }
                ));
                continue;
            }
            let options = crate::backups::TargetOptions {
                encrypt: t.encrypt,
                ..Default::default()
            };
            self.backup_target_add(&t.name, &t.location, options)
                .await?;
        }
        Ok(())
    }

    /// Makes an app's stages, webhook and cron jobs the file's.
    pub(crate) async fn apply_app_attached(
        &self,
        a: &AppSetup,
        prune: bool,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let have = self.store.app(&a.name)?;
        let AppAttached {
            stages,
            webhook,
            cron,
        } = self.app_attached(&have)?;
        // Stages a stage promotes from first.
        let mut order: Vec<&StageSetup> = a.stages.iter().collect();
        order.sort_by_key(|s| s.promote_from.is_some());
        for s in order {
            if stages.iter().all(|h| h != s) {
                self.stage_add(&stage_draft(&a.name, s)).await?;
            }
        }
        match (&webhook, &a.webhook) {
            (h, Some(w)) if h.as_ref() != Some(w) => {
                let provider = w.provider.parse::<Provider>().map_err(ApiError::Invalid)?;
                self.webhook_enable(
                    &a.name,
                    WebhookEnable {
                        provider,
                        branch: Some(w.branch.clone()),
                        tags: w.tags.clone(),
                        mode: if w.unattended {
                            WebhookMode::Unattended
                        } else {
                            WebhookMode::Attended
                        },
                        git_token: None,
                        git_user: None,
                        allow_force_push: w.allow_force_push,
                    },
                )
                .await?;
                if h.is_none() {
                    report.notes.push(format!(
                        "the webhook of {0} is new, with its own secret: give the git host its URL and secret (`berth app webhook show {0} --reveal`)",
                        a.name
                    ));
                }
            }
            (Some(_), None) if prune => self.webhook_disable(&a.name).await?,
            _ => {}
        }
        self.apply_cron(&a.name, &cron, &a.cron, prune).await?;
        if prune {
            for h in &stages {
                if !a.stages.iter().any(|s| s.name == h.name) {
                    self.stage_rm(&a.name, &h.name).await?;
                }
            }
        }
        Ok(())
    }

    /// Makes the cron jobs of an app or service the file's.
    async fn apply_cron(
        &self,
        app: &str,
        have: &[CronSetup],
        want: &[CronSetup],
        prune: bool,
    ) -> Result<(), ApiError> {
        for c in want {
            match have.iter().find(|h| h.name == c.name) {
                Some(h) if h == c => continue,
                Some(_) => {
                    self.cron_rm(app, &c.name).await?;
                }
                None => {}
            }
            self.cron_add(app, &c.name, &c.schedule, &c.command).await?;
        }
        if prune {
            for h in have {
                if !want.iter().any(|c| c.name == h.name) {
                    self.cron_rm(app, &h.name).await?;
                }
            }
        }
        Ok(())
    }

    /// Makes a service's cron jobs and backup schedule the file's.
    pub(crate) async fn apply_service_attached(
        &self,
        s: &ServiceSetup,
        prune: bool,
    ) -> Result<(), ApiError> {
        let jobs = self.cron_setup(&s.name)?;
        self.apply_cron(&s.name, &jobs, &s.cron, prune).await?;
        let have = self.service_backup(&s.name)?;
        match (&have, &s.backup) {
            (h, Some(b)) if h.as_ref() != Some(b) => {
                self.backup_schedule(&s.name, &b.cron, b.keep, b.target.as_deref())
                    .await?;
            }
            (Some(_), None) if prune => {
                self.backup_unschedule(&s.name).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds the file's notifiers this machine lacks (those whose full URL the file has),
    /// routes the ones it has as the file says, and with `prune` removes the rest, then the
    /// backup targets the file leaves out.
    pub(crate) async fn apply_beside(
        &self,
        file: &SetupFile,
        prune: bool,
        report: &mut ImportReport,
    ) -> Result<(), ApiError> {
        let mut kept = Vec::new();
        for n in &file.notifiers {
            let kind = n.kind.parse::<NotifierKind>().map_err(ApiError::Invalid)?;
            let events = NoticeEvent::parse_list(&n.events.join(",")).map_err(ApiError::Invalid)?;
            match self.matching_notifier(n)? {
                Some(id) => {
                    kept.push(id);
                    let have = self.store.notifiers()?;
                    if have.iter().any(|h| h.id == id && !same_routing(h, n)) {
                        self.notify_route(id, n.app.as_deref(), &events).await?;
                    }
                }
                None if n.url.ends_with(CUT_URL_TAIL) => report.notes.push(format!(
                    "notifier {kind} {} is not on this machine and the file carries only the start of its URL: add it with the whole URL (`berth notify add {kind} URL{}{}`)",
                    n.url,
                    n.app
                        .as_deref()
                        .map(|a| format!(" --app {a}"))
                        .unwrap_or_default(),
                    if n.events.is_empty() {
                        String::new()
                    } else {
                        format!(" --events {}", n.events.join(","))
                    }
                )),
                None => {
                    let saved = self
                        .notify_add(kind, &n.url, n.app.as_deref(), &events)
                        .await?;
                    kept.push(saved.notifier.id);
                }
            }
        }
        if prune {
            for h in self.store.notifiers()? {
                if !kept.contains(&h.id) {
                    self.notify_rm(h.id).await?;
                }
            }
            for h in self.store.backup_targets()? {
                if !file.backup_targets.iter().any(|t| t.name == h.name) {
                    self.backup_target_rm(&h.name)?;
                }
            }
        }
        Ok(())
    }

    /// The notifier of this machine the file's `n` is: the same kind and URL (as shown).
    fn matching_notifier(&self, n: &NotifierSetup) -> Result<Option<i64>, ApiError> {
        let shown = self.shown_url(&n.url);
        Ok(self
            .store
            .notifiers()?
            .into_iter()
            .find(|h| h.kind.as_str() == n.kind && h.url == shown)
            .map(|h| h.id))
    }

    /// A URL of the file as the database shows it (a cut one is already).
    fn shown_url(&self, url: &str) -> String {
        if url.ends_with(CUT_URL_TAIL) {
            return url.to_owned();
        }
        berth_notify::parse_url(url).map_or_else(|_| url.to_owned(), |u| berth_notify::shown(&u))
    }
}

fn same_routing(h: &berth_model::Notifier, n: &NotifierSetup) -> bool {
    h.app == n.app
        && h.events
            .iter()
            .map(|e| e.as_str())
            .eq(n.events.iter().map(String::as_str))
}

fn stage_draft(app: &str, s: &StageSetup) -> StageDraft {
    StageDraft {
        app: app.to_owned(),
        name: s.name.clone(),
        tags: s.tags.clone(),
        auto_deploy: s.auto_deploy,
        max_instances: Some(s.max_instances),
        promote_from: s.promote_from.clone(),
        confirm: s.confirm,
        subdomain: s.subdomain.clone(),
    }
}

fn check_cron(jobs: &[CronSetup]) -> Result<(), String> {
    let mut names = Vec::new();
    for c in jobs {
        validate_app_name(&c.name).map_err(|e| format!("cron job name: {e}"))?;
        if names.contains(&&c.name) {
            return Err(format!("cron job {} is in the file twice", c.name));
        }
        names.push(&c.name);
        Cron::parse(&c.schedule).map_err(|e| format!("cron job {}: {e}", c.name))?;
        if c.command.first().is_none_or(|w| w.trim().is_empty()) {
            return Err(format!("cron job {}: `command` is empty", c.name));
        }
    }
    Ok(())
}

fn plan_cron(
    app: &str,
    have: &[CronSetup],
    want: &[CronSetup],
    prune: bool,
    out: &mut Vec<String>,
) {
    for c in want {
        match have.iter().find(|h| h.name == c.name) {
            None => out.push(format!("add cron job {app}/{}", c.name)),
            Some(h) if h != c => out.push(format!("update cron job {app}/{}", c.name)),
            Some(_) => {}
        }
    }
    if prune {
        for h in have {
            if !want.iter().any(|c| c.name == h.name) {
                out.push(format!("remove cron job {app}/{}", h.name));
            }
        }
    }
}

fn is_remote(git: &str) -> bool {
    crate::unattended::remote_kind(git).is_some()
}
