//! Stages of image apps: each stage takes the tags matching its patterns, runs the newest
//! `max_instances` healthy ones side by side — each an app record of its own (its
//! deployments, container and route) answering at `<stage label>-<tag>.<base>` — and its own
//! subdomain follows the newest. Promotion takes only what ran healthy in the stage it
//! promotes from, by digest.

use berth_model::stage::DEFAULT_STAGE_PATTERN;
use berth_model::{
    App, Deployment, Domain, ImageRef, InstanceStatus, Stage, StageDraft, StageInstance,
    StageStatus,
};
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::deploy::DeployObserver;
use crate::error::ApiError;

/// The settings key of a server's stage subdomain pattern.
fn pattern_key(server: &str) -> String {
    format!("stage-pattern/{server}")
}

/// Where a stage deploy's image comes from.
enum Pick {
    /// `repository:tag`, pulled now (what the tag points to).
    Tag,
    /// `repository@digest`: exactly what ran healthy in another stage.
    Digest(String),
}

impl Berth {
    /// Adds a stage to an image app, or changes the one with that name.
    pub async fn stage_add(&self, draft: &StageDraft) -> Result<Stage, ApiError> {
        let app = self.store.app(&draft.app)?;
        if app.image.is_none() {
            return Err(ApiError::Invalid(format!(
                "app `{}` is built from git: stages are for image apps (create one with --image)",
                app.name
            )));
        }
        if let Some(i) = self.store.instance(&app.name)? {
            return Err(ApiError::Invalid(format!(
                "`{}` is an instance of stage {} of app {}: add stages to {}",
                app.name, i.stage, i.app, i.app
            )));
        }
        let stage = draft
            .validate(self.now())
            .map_err(|e| ApiError::Invalid(e.to_string()))?;
        let existing = self.store.stages(&app.name)?;
        if let Some(from) = &stage.promote_from
            && !existing.iter().any(|s| &s.name == from)
        {
            return Err(ApiError::Invalid(format!(
                "app `{}` has no stage {from} to promote from (add it first)",
                app.name
            )));
        }
        let created_at = existing
            .iter()
            .find(|s| s.name == stage.name)
            .map_or(stage.created_at, |s| s.created_at);
        let stage = Stage {
            created_at,
            ..stage
        };
        self.store.put_stage(&stage)?;
        self.audit(
            "stage.add",
            &app.name,
            &format!(
                "{} tags {} max {}{}{}{}",
                stage.name,
                stage.tags,
                stage.max_instances,
                if stage.auto_deploy { " auto" } else { "" },
                if stage.confirm { " confirm" } else { "" },
                stage
                    .promote_from
                    .as_deref()
                    .map(|f| format!(" from {f}"))
                    .unwrap_or_default()
            ),
        );
        Ok(stage)
    }

    /// The stages of `app`, by name.
    pub fn stages(&self, app: &str) -> Result<Vec<Stage>, ApiError> {
        Ok(self.store.stages(app)?)
    }

    /// Removes a stage and its instances (their containers, routes and images).
    pub async fn stage_rm(&self, app: &str, stage: &str) -> Result<(), ApiError> {
        let s = self.store.stage(app, stage)?;
        if let Some(other) = self
            .store
            .stages(app)?
            .into_iter()
            .find(|o| o.promote_from.as_deref() == Some(stage))
        {
            return Err(ApiError::Invalid(format!(
                "stage {} promotes from {stage}: remove it or change its --promote-from first",
                other.name
            )));
        }
        for i in self
            .store
            .instances(app)?
            .into_iter()
            .filter(|i| i.stage == s.name)
        {
            self.app_rm(&i.instance, true).await?;
        }
        self.store.remove_stage(app, stage)?;
        self.refresh_image_hook(app).await?;
        self.audit("stage.rm", app, stage);
        Ok(())
    }

    /// Removes every instance of `app` (before the app itself goes).
    pub(crate) async fn remove_instances(&self, app: &str) -> Result<(), ApiError> {
        for i in self.store.instances(app)? {
            Box::pin(self.app_rm(&i.instance, true)).await?;
        }
        Ok(())
    }

    /// The subdomain pattern of stages on `server` (`stage-{stage}-{app}` unless set).
    pub fn stage_pattern(&self, server: &str) -> Result<String, ApiError> {
        Ok(self
            .store
            .setting(&pattern_key(server))?
            .unwrap_or_else(|| DEFAULT_STAGE_PATTERN.to_owned()))
    }

    /// Sets the subdomain pattern of stages on `server` (`""` puts the default back). It
    /// needs `{stage}` and `{app}`; instances created from now on use it.
    pub fn set_stage_pattern(&self, server: &str, pattern: &str) -> Result<String, ApiError> {
        self.store.server(server)?;
        let pattern = match pattern.trim() {
            "" => DEFAULT_STAGE_PATTERN.to_owned(),
            p => p.to_owned(),
        };
        let sample = pattern.replace("{stage}", "s").replace("{app}", "a");
        if !pattern.contains("{stage}")
            || !pattern.contains("{app}")
            || berth_model::stage::dns_label(&sample, 63) != sample
        {
            return Err(ApiError::Invalid(format!(
                "stage pattern `{pattern}` must contain {{stage}} and {{app}} and otherwise lowercase letters, digits and `-` (like stage-{{stage}}-{{app}})"
            )));
        }
        self.store.set_setting(&pattern_key(server), &pattern)?;
        self.audit("server.stage-pattern", server, &pattern);
        Ok(pattern)
    }

    /// Deploys `tag` of `app`'s image into `stage` (the tag must match the stage's patterns; a
    /// `confirm` stage needs `confirmed`). Without `stage`, the one stage whose patterns take
    /// the tag.
    pub async fn deploy_stage(
        &self,
        app: &str,
        stage: Option<&str>,
        tag: Option<&str>,
        confirmed: bool,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let parent = self.store.app(app)?;
        let stages = self.store.stages(app)?;
        let tag = match tag {
            Some(t) => t.to_owned(),
            None => {
                let image = ImageRef::parse(parent.image.as_deref().unwrap_or_default())?;
                image.tag_or_latest().to_owned()
            }
        };
        berth_model::image::validate_tag(&tag).map_err(ApiError::Invalid)?;
        let stage = match stage {
            Some(name) => self.store.stage(app, name)?,
            None => {
                let taking: Vec<&Stage> = stages.iter().filter(|s| s.takes(&tag)).collect();
                match taking.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(ApiError::Invalid(format!(
                            "no stage of app `{app}` takes tag {tag} ({}): say which with --stage",
                            describe_stages(&stages)
                        )));
                    }
                    many => {
                        return Err(ApiError::Invalid(format!(
                            "stages {} all take tag {tag}: say which with --stage",
                            many.iter()
                                .map(|s| s.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                }
            }
        };
        if !stage.takes(&tag) {
            return Err(ApiError::Invalid(format!(
                "tag {tag} does not match stage {}'s tags `{}`{}",
                stage.name,
                stage.tags,
                stage
                    .promote_from
                    .as_deref()
                    .map(|f| format!(": a tag that ran healthy in {f} gets there with `berth promote {app} --to {}`", stage.name))
                    .unwrap_or_default()
            )));
        }
        if stage.confirm && !confirmed {
            return Err(ApiError::NeedsConfirmation {
                app: app.to_owned(),
                stage: stage.name.clone(),
                what: format!("deploy {tag}"),
            });
        }
        self.run_stage(&parent, &stage, &tag, Pick::Tag, observer, cancel)
            .await
    }

    /// Promotes a tag that ran healthy in the stage `to` promotes from (the newest such when
    /// `tag` is `None`) into `to`, by the digest that ran.
    pub async fn promote(
        &self,
        app: &str,
        to: &str,
        tag: Option<&str>,
        confirmed: bool,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let parent = self.store.app(app)?;
        let stage = self.store.stage(app, to)?;
        let from = stage.promote_from.clone().ok_or_else(|| {
            ApiError::Invalid(format!(
                "stage {to} of app `{app}` does not promote from another stage: give it one with `berth app stage add {app} {to} --promote-from STAGE …`"
            ))
        })?;
        let healthy = self.store.healthy_tags(app, &from)?;
        let (tag, digest) = match tag {
            Some(t) => healthy
                .iter()
                .find(|(h, _, _)| h == t)
                .map(|(h, d, _)| (h.clone(), d.clone()))
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "tag {t} never ran healthy in stage {from}, so it cannot be promoted to {to}{}",
                        if healthy.is_empty() {
                            format!(" (nothing has yet: deploy to {from} first)")
                        } else {
                            format!(
                                " (these did: {})",
                                healthy.iter().map(|(h, _, _)| h.as_str()).take(10).collect::<Vec<_>>().join(", ")
                            )
                        }
                    ))
                })?,
            None => healthy
                .first()
                .map(|(h, d, _)| (h.clone(), d.clone()))
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "nothing ran healthy in stage {from} yet: deploy a tag there first"
                    ))
                })?,
        };
        if stage.confirm && !confirmed {
            return Err(ApiError::NeedsConfirmation {
                app: app.to_owned(),
                stage: stage.name.clone(),
                what: format!("promote {tag} ({}) from {from}", short_digest(&digest)),
            });
        }
        self.audit(
            "stage.promote",
            app,
            &format!("{tag} {digest} from {from} to {to}"),
        );
        self.run_stage(
            &parent,
            &stage,
            &tag,
            Pick::Digest(digest),
            observer,
            cancel,
        )
        .await
    }

    /// Deploys `tag` as an instance of `stage` (a new app record, or the one that runs that
    /// tag already), then moves the stage's subdomain to it and drains the instances beyond
    /// `max_instances`.
    async fn run_stage(
        &self,
        parent: &App,
        stage: &Stage,
        tag: &str,
        pick: Pick,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        // The parent's lock here and on the relay: its unattended deploys into the stages wait.
        let held = self.lock_settled(parent, "a stage deploy").await?;
        let result = self
            .run_stage_locked(parent, stage, tag, pick, observer, cancel)
            .await;
        held.release().await;
        result
    }

    async fn run_stage_locked(
        &self,
        parent: &App,
        stage: &Stage,
        tag: &str,
        pick: Pick,
        observer: &DeployObserver,
        cancel: CancellationToken,
    ) -> Result<Deployment, ApiError> {
        let image = ImageRef::parse(parent.image.as_deref().unwrap_or_default())?;
        let server = self.store.server(&parent.server)?;
        let pattern = self.stage_pattern(&server.name)?;
        let existing = self
            .store
            .instances(&parent.name)?
            .into_iter()
            .find(|i| i.stage == stage.name && i.tag == tag);
        let (instance, created) = match existing {
            Some(i) => (self.store.app(&i.instance)?, false),
            None => (
                self.new_instance(parent, stage, tag, &image, &server, &pattern)?,
                true,
            ),
        };
        let reference = match &pick {
            Pick::Tag => image.with_tag(tag),
            Pick::Digest(digest) => image.pinned(digest),
        };
        let result = self
            .deploy_reference(&instance, &reference, tag, observer, cancel)
            .await;
        let d = match result {
            Ok(d) => d,
            Err(e) => {
                // A new instance that never became healthy leaves nothing behind.
                if created
                    && self.store.active_deployment(&instance.name)?.is_none()
                    && let Err(rm) = self.app_rm(&instance.name, true).await
                {
                    tracing::warn!(
                        "could not remove the failed instance {}: {rm}",
                        instance.name
                    );
                }
                return Err(e);
            }
        };
        if let Some(digest) = &d.digest {
            self.store
                .record_healthy(&parent.name, &stage.name, tag, digest, self.now())?;
        }
        self.follow_newest(parent, stage, &instance, &server, &pattern)
            .await?;
        self.trim_stage(parent, stage).await?;
        Ok(d)
    }

    /// Records a new instance of `stage` running `tag`: its app record (the parent's settings,
    /// the tagged image), the stage link and its subdomain.
    pub(crate) fn new_instance(
        &self,
        parent: &App,
        stage: &Stage,
        tag: &str,
        image: &ImageRef,
        server: &berth_model::Server,
        pattern: &str,
    ) -> Result<App, ApiError> {
        let name = stage.instance_label(DEFAULT_STAGE_PATTERN, tag);
        if self.store.apps()?.iter().any(|a| a.name == name) {
            return Err(ApiError::Invalid(format!(
                "an app called `{name}` exists already: the instance of {tag} in stage {} needs that name",
                stage.name
            )));
        }
        let instance = App {
            name: name.clone(),
            image: Some(image.with_tag(tag)),
            created_at: self.now(),
            ..parent.clone()
        };
        self.store.insert_app(&instance)?;
        self.store.insert_instance(&StageInstance {
            instance: name.clone(),
            app: parent.name.clone(),
            stage: stage.name.clone(),
            tag: tag.to_owned(),
            created_at: self.now(),
        })?;
        if let Some(base) = &server.base_domain {
            self.store.add_domain(&Domain {
                app: name.clone(),
                name: format!("{}.{base}", stage.instance_label(pattern, tag)),
                primary: true,
                created_at: self.now(),
            })?;
        }
        self.audit(
            "stage.instance",
            &parent.name,
            &format!("{name}: {tag} in {}", stage.name),
        );
        Ok(instance)
    }

    /// Gives the stage's own name to `newest` in Berth's records, taking it from the sibling
    /// that had it. `None` when `newest` had it already; else who had it (to re-route).
    pub(crate) fn give_stage_name(
        &self,
        parent: &App,
        stage: &Stage,
        newest: &App,
        base: &str,
        pattern: &str,
    ) -> Result<Option<Option<String>>, ApiError> {
        let name = format!("{}.{base}", stage.subdomain_label(pattern));
        let holder = self.store.domain_owner(&name)?;
        if holder.as_deref() == Some(newest.name.as_str()) {
            return Ok(None);
        }
        if let Some(other) = &holder {
            let is_sibling = self
                .store
                .instances(&parent.name)?
                .iter()
                .any(|i| &i.instance == other && i.stage == stage.name);
            if !is_sibling {
                return Err(ApiError::Invalid(format!(
                    "{name} belongs to app `{other}`: stage {} cannot take it (give the stage another --subdomain)",
                    stage.name
                )));
            }
            self.store.remove_domain(other, &name)?;
            self.serving_domains_follow(other)?;
        }
        self.store.add_domain(&Domain {
            app: newest.name.clone(),
            name,
            primary: false,
            created_at: self.now(),
        })?;
        self.serving_domains_follow(&newest.name)?;
        Ok(Some(holder))
    }

    /// Moves the stage's own subdomain to `newest` (added to its route before it leaves the
    /// previous holder's, so the name always answers).
    async fn follow_newest(
        &self,
        parent: &App,
        stage: &Stage,
        newest: &App,
        server: &berth_model::Server,
        pattern: &str,
    ) -> Result<(), ApiError> {
        let Some(base) = &server.base_domain else {
            return Ok(());
        };
        let Some(holder) = self.give_stage_name(parent, stage, newest, base, pattern)? else {
            return Ok(());
        };
        let hosts = self.hosts_of(newest, server)?;
        self.sync_route(newest, server, hosts).await?;
        if let Some(other) = holder {
            let old = self.store.app(&other)?;
            let hosts = self.hosts_of(&old, server)?;
            self.sync_route(&old, server, hosts).await?;
        }
        Ok(())
    }

    /// Removes the stage's oldest healthy instances beyond its `max_instances` (their route
    /// first, then the container, so no request reaches a container being removed).
    async fn trim_stage(&self, parent: &App, stage: &Stage) -> Result<(), ApiError> {
        let mut running = Vec::new();
        for i in self.store.instances(&parent.name)? {
            if i.stage != stage.name {
                continue;
            }
            if let Some(d) = self.store.active_deployment(&i.instance)? {
                running.push((d.finished_at.unwrap_or(d.started_at), i.instance));
            }
        }
        running.sort_by(|a, b| b.cmp(a));
        for (_, name) in running.into_iter().skip(stage.max_instances as usize) {
            self.app_rm(&name, true).await?;
            self.audit(
                "stage.drain",
                &parent.name,
                &format!("{name} (beyond {} in {})", stage.max_instances, stage.name),
            );
        }
        Ok(())
    }

    /// The stages of `app` with their instances, newest first, for `status`.
    pub(crate) async fn stage_statuses(&self, app: &App) -> Result<Vec<StageStatus>, ApiError> {
        let stages = self.store.stages(&app.name)?;
        if stages.is_empty() {
            return Ok(Vec::new());
        }
        let server = self.store.server(&app.server)?;
        let pattern = self.stage_pattern(&server.name)?;
        let instances = self.store.instances(&app.name)?;
        let mut out = Vec::new();
        for stage in stages {
            let mut list = Vec::new();
            for i in instances.iter().filter(|i| i.stage == stage.name) {
                let st = Box::pin(self.status(&i.instance)).await?;
                list.push(InstanceStatus {
                    app: i.instance.clone(),
                    tag: i.tag.clone(),
                    digest: st.digest,
                    state: st.state.as_str().to_owned(),
                    // Without a proxy, where it answers on the server's loopback.
                    urls: if st.urls.is_empty() {
                        st.endpoint.iter().map(|e| format!("http://{e}")).collect()
                    } else {
                        st.urls
                    },
                    deployed_at: st.deployed_at,
                });
            }
            list.sort_by_key(|i| std::cmp::Reverse(i.deployed_at));
            out.push(StageStatus {
                // The stage's own name, as the instance that has it answers to it.
                url: server.base_domain.as_ref().and_then(|base| {
                    let host = format!("{}.{base}", stage.subdomain_label(&pattern));
                    list.iter()
                        .flat_map(|i| &i.urls)
                        .find(|u| u.contains(&format!("//{host}")))
                        .cloned()
                }),
                name: stage.name,
                tags: stage.tags,
                auto_deploy: stage.auto_deploy,
                max_instances: stage.max_instances,
                promote_from: stage.promote_from,
                confirm: stage.confirm,
                instances: list,
            });
        }
        Ok(out)
    }
}

fn describe_stages(stages: &[Stage]) -> String {
    if stages.is_empty() {
        return "it has no stages".to_owned();
    }
    stages
        .iter()
        .map(|s| format!("{} takes {}", s.name, s.tags))
        .collect::<Vec<_>>()
        .join("; ")
}

fn short_digest(digest: &str) -> String {
    digest.chars().take(19).collect()
}
