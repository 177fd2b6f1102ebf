//! Polling registries for new image tags (attended: while `berth watch` or the desktop runs;
//! an app with an unattended webhook is polled by its server's relay instead):
//! the fallback for registries that cannot call a webhook. Each image app's repository is
//! listed through its server; a tag not seen before (or one that now points elsewhere) is
//! handled like a webhook's image push — deployed into the stage that takes it when that
//! stage deploys on its own, announced when it waits for a yes.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_model::stage::TagDecision;
use berth_model::{App, DeployNotice, ImageRef};
use tokio_util::sync::CancellationToken;

use crate::Berth;
use crate::error::ApiError;
use crate::watch::WatchEvent;

/// Seconds between polls unless `berth watch --poll` or the setting says otherwise.
pub const DEFAULT_POLL_SECS: u64 = 300;
const POLL_SETTING: &str = "image-poll-secs";

fn seen_key(app: &str) -> String {
    format!("poll-seen/{app}")
}

impl Berth {
    /// How often registries are polled (0: never), from the settings.
    pub fn poll_interval(&self) -> Duration {
        let secs = self
            .store
            .setting(POLL_SETTING)
            .ok()
            .flatten()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DEFAULT_POLL_SECS);
        Duration::from_secs(secs)
    }

    /// Sets how often registries are polled (0 turns polling off): while Berth watches, and by
    /// the relays of apps with an unattended webhook, which get it now. What did not reach a
    /// relay is returned as warnings.
    pub async fn set_poll_interval(&self, secs: u64) -> Result<Vec<String>, ApiError> {
        self.store.set_setting(POLL_SETTING, &secs.to_string())?;
        self.audit("registry.poll", "-", &format!("every {secs} s"));
        Ok(self.webhook_resync_all().await)
    }

    /// Polls every image app's registry once; deploys or announces what is new.
    pub(crate) async fn poll_images(
        &self,
        cancel: &CancellationToken,
        on: &(dyn Fn(WatchEvent) + Send + Sync),
    ) {
        let apps = match self.apps() {
            Ok(apps) => apps,
            Err(e) => {
                tracing::warn!("cannot poll registries: {e}");
                return;
            }
        };
        for app in apps.into_iter().filter(|a| a.image.is_some()) {
            if cancel.is_cancelled() {
                return;
            }
            // An app with an unattended webhook is polled by its server's relay.
            if let Ok(Some(w)) = self.store.webhook(&app.name)
                && w.mode == berth_model::WebhookMode::Unattended
            {
                continue;
            }
            if let Err(e) = self.poll_app(&app, cancel, on).await {
                on(WatchEvent::PollFailed {
                    app: app.name.clone(),
                    error: e.to_string(),
                });
            }
        }
    }

    async fn poll_app(
        &self,
        app: &App,
        cancel: &CancellationToken,
        on: &(dyn Fn(WatchEvent) + Send + Sync),
    ) -> Result<(), ApiError> {
        let image = ImageRef::parse(app.image.as_deref().unwrap_or_default())?;
        let server = self.store.server(&app.server)?;
        let host = self.host(&server).await?;
        let creds = self.credentials_for_image(&image.repository)?;
        let tags = berth_engine::registry::tags(
            &host,
            image.registry_host(),
            &image.path(),
            creds.as_ref(),
        )
        .await?;
        let now: BTreeMap<String, String> = tags
            .iter()
            .map(|t| (t.tag.clone(), t.digest.clone().unwrap_or_default()))
            .collect();
        let key = seen_key(&app.name);
        let Some(seen) = self.store.setting(&key)? else {
            // The first look is the baseline: what is there already is not news.
            self.store
                .set_setting(&key, &serde_json::to_string(&now).unwrap_or_default())?;
            return Ok(());
        };
        let mut seen: BTreeMap<String, String> = serde_json::from_str(&seen).unwrap_or_default();
        // Oldest first, so the newest ends up in front.
        for t in tags.iter().rev() {
            let digest = t.digest.clone().unwrap_or_default();
            if seen.get(&t.tag) == Some(&digest) || cancel.is_cancelled() {
                continue;
            }
            seen.insert(t.tag.clone(), digest);
            // Recorded before the deploy: a tag that fails is not retried every poll.
            self.store
                .set_setting(&key, &serde_json::to_string(&seen).unwrap_or_default())?;
            self.poll_new_tag(app, &t.tag, cancel, on).await;
        }
        Ok(())
    }

    async fn poll_new_tag(
        &self,
        app: &App,
        tag: &str,
        cancel: &CancellationToken,
        on: &(dyn Fn(WatchEvent) + Send + Sync),
    ) {
        let stages = self.store.stages(&app.name).unwrap_or_default();
        let own_tag = ImageRef::parse(app.image.as_deref().unwrap_or_default())
            .map(|i| i.tag_or_latest().to_owned())
            .unwrap_or_default();
        let result = match berth_model::stage::decide_tag(&app.name, &stages, &own_tag, tag) {
            TagDecision::Ignore => return,
            TagDecision::Wait(waiting) => {
                let trigger = format!("image tag {tag} found by polling");
                let notice = DeployNotice::available(&app.name, &app.server, &waiting, trigger);
                self.announce(&notice, on).await;
                on(WatchEvent::Polled {
                    app: app.name.clone(),
                    tag: tag.to_owned(),
                    result: notice.summary(),
                    ok: true,
                });
                return;
            }
            TagDecision::Deploy(None) => {
                self.deploy(&app.name, Some(tag), &|_| {}, cancel.child_token())
                    .await
            }
            TagDecision::Deploy(Some(stage)) => {
                self.deploy_stage(
                    &app.name,
                    Some(&stage),
                    Some(tag),
                    false,
                    &|_| {},
                    cancel.child_token(),
                )
                .await
            }
        };
        on(WatchEvent::Polled {
            app: app.name.clone(),
            tag: tag.to_owned(),
            ok: result.is_ok(),
            result: match result {
                Ok(d) => format!("{} deployed as {}", tag, d.app),
                Err(e) => e.to_string(),
            },
        });
    }
}
