//! Unattended webhooks: what Berth syncs to a server's relay so it can deploy an app on its own
//! (the app, its env with secrets, how to fetch its source, its route, the notifiers), and
//! how the deployments the relay ran come back into Berth's history.

use berth_model::{App, DeploymentStatus, Server, WebhookMode};
use berth_relay_proto::client::ControlClient;
use berth_relay_proto::proto::{
    GitAuth, ImageSpec, RegistryLogin, RelayDeployment, RouteSpec, UnattendedSpec,
};
use berth_secrets::{Sensitive, deploy_key_key, git_token_key};
use serde::{Deserialize, Serialize};

use crate::Berth;
use crate::error::ApiError;

/// How long `status` and `deployments` wait for the relay's news before answering without.
const CATCH_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How an app's git source is reached, as far as a relay is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remote {
    /// `ssh://…` or `user@host:path`: the deploy key.
    Ssh,
    /// `https://…` / `http://…`: a token, or nothing for a public repository.
    Http,
    /// `git://…`: no authentication.
    Git,
}

/// Which kind of URL `git` is; a local path cannot be fetched by a server.
pub(crate) fn remote_kind(git: &str) -> Option<Remote> {
    let lower = git.to_ascii_lowercase();
    if lower.starts_with("ssh://") || lower.starts_with("git+ssh://") {
        return Some(Remote::Ssh);
    }
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Some(Remote::Http);
    }
    if lower.starts_with("git://") {
        return Some(Remote::Git);
    }
    // scp-like `user@host:path` (not `C:\…`, not `./a:b`).
    let (before, _) = git.split_once(':')?;
    (before.contains('@') && !before.contains('/')).then_some(Remote::Ssh)
}

/// A token for an https source, as stored.
#[derive(Serialize, Deserialize)]
struct StoredToken {
    user: Option<String>,
    token: String,
}

/// A deploy key, as stored.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    private: String,
    public: String,
}

impl Berth {
    /// Keeps (or forgets, with an empty token) the token the relay fetches `app` with.
    pub(crate) fn set_git_token(
        &self,
        app: &str,
        user: Option<String>,
        token: &str,
    ) -> Result<(), ApiError> {
        let key = git_token_key(app);
        if token.is_empty() {
            self.secrets().delete(&key)?;
            return Ok(());
        }
        let json = serde_json::to_string(&StoredToken {
            user,
            token: token.to_owned(),
        })
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
        self.secrets().set(&key, &Sensitive::new(json))?;
        Ok(())
    }

    fn git_token(&self, app: &str) -> Result<Option<StoredToken>, ApiError> {
        Ok(self
            .secrets()
            .get(&git_token_key(app))?
            .and_then(|s| serde_json::from_str(s.expose()).ok()))
    }

    /// The app's deploy key (private, public), made on first use.
    pub(crate) fn deploy_key(&self, app: &str) -> Result<(Sensitive<String>, String), ApiError> {
        let key = deploy_key_key(app);
        if let Some(stored) = self.secrets().get(&key)?
            && let Ok(k) = serde_json::from_str::<StoredKey>(stored.expose())
        {
            return Ok((Sensitive::new(k.private), k.public));
        }
        let (private, public) =
            berth_git::generate_deploy_key(&format!("berth deploy key for {app}"))
                .map_err(|e| ApiError::Invalid(format!("cannot make a deploy key: {e}")))?;
        let json = serde_json::to_string(&StoredKey {
            private: private.clone(),
            public: public.clone(),
        })
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
        self.secrets().set(&key, &Sensitive::new(json))?;
        Ok((Sensitive::new(private), public))
    }

    /// The public half of the app's deploy key, if it has one.
    pub(crate) fn deploy_key_public(&self, app: &str) -> Option<String> {
        let stored = self.secrets().get(&deploy_key_key(app)).ok()??;
        serde_json::from_str::<StoredKey>(stored.expose())
            .ok()
            .map(|k| k.public)
    }

    /// Forgets what only unattended mode needed.
    pub(crate) fn forget_unattended_secrets(&self, app: &str) {
        for key in [git_token_key(app), deploy_key_key(app)] {
            if let Err(e) = self.secrets().delete(&key) {
                tracing::warn!("cannot remove {key}: {e}");
            }
        }
    }

    /// Everything the relay needs to deploy `app` on its own. Refuses what a relay cannot do.
    pub(crate) fn unattended_spec(
        &self,
        app: &App,
        server: &Server,
    ) -> Result<UnattendedSpec, ApiError> {
        let image = match &app.image {
            Some(reference) => Some(self.unattended_image(app, server, reference)?),
            None => None,
        };
        let kind = match &image {
            // Pulled, not fetched: no git source to reach.
            Some(_) => Some(Remote::Git),
            None => remote_kind(&app.git),
        };
        let kind = kind.ok_or_else(|| {
            ApiError::Invalid(format!(
                "`{}` is a path on this machine; an unattended relay fetches the source itself: \
                 set the app's git source to a URL the server can reach (https://, ssh:// or git://)",
                app.git
            ))
        })?;
        let git_auth = match kind {
            Remote::Git => GitAuth::None,
            Remote::Http => match self.git_token(&app.name)? {
                Some(t) => GitAuth::Token {
                    user: t.user,
                    token: t.token,
                },
                None => GitAuth::None,
            },
            Remote::Ssh => {
                let (private, _) = self.deploy_key(&app.name)?;
                GitAuth::SshKey {
                    private_key: private.into_inner(),
                    host_key: None,
                }
            }
        };
        let route = match self.route_plan(app, server)? {
            Some(r) => Some(relay_route(r).map_err(|admin| {
                ApiError::Invalid(format!(
                    "the Caddy on {} is reached at {admin}, which the relay's container cannot \
                     reach; unattended deploys need Berth's own proxy (`berth server proxy \
                     install {}`) or an adopted Caddy with its admin socket in {}",
                    server.name,
                    server.name,
                    berth_engine::proxy::ADMIN_DIR
                ))
            })?),
            None => None,
        };
        let urls = match (&server.proxy, &route) {
            (Some(p), Some(r)) => r.hosts.iter().map(|h| p.url_for(h)).collect(),
            _ => Vec::new(),
        };
        let notifiers = self.notifier_specs(Some(&app.name))?;
        let spec = self.spec_now(app)?;
        Ok(UnattendedSpec {
            server: server.name.clone(),
            app: app.clone(),
            env: self.spec_values(&app.name, &spec)?,
            git_url: app.git.clone(),
            git_auth,
            images: app.base_images.or(&server.base_images),
            route,
            urls,
            notifiers,
            allow_force_push: false,
            image,
            labels: self.container_labels(&spec)?,
        })
    }

    /// An image app's part of its unattended spec: the registry login its pulls pass, its
    /// stages and where their instances answer, how often the relay looks for new tags.
    fn unattended_image(
        &self,
        app: &App,
        server: &Server,
        reference: &str,
    ) -> Result<ImageSpec, ApiError> {
        let login = self
            .credentials_for_image(reference)?
            .map(|c| RegistryLogin {
                host: c.host,
                username: c.username,
                password: c.password,
            });
        Ok(ImageSpec {
            login,
            stages: self.store.stages(&app.name)?,
            pattern: self.stage_pattern(&server.name)?,
            base_domain: server.base_domain.clone(),
            poll_secs: self.poll_interval().as_secs(),
        })
    }

    /// Gives the relay the current spec of `app` if its webhook is unattended (after its env,
    /// domains or the notifiers changed). A relay that cannot be reached is reported, not fatal:
    /// the change itself is done.
    pub async fn webhook_resync(&self, app: &str) -> Option<String> {
        let w = self.store.webhook(app).ok()??;
        if w.mode != WebhookMode::Unattended {
            return None;
        }
        let pushed = async {
            let app = self.store.app(app)?;
            let server = self.store.server(&app.server)?;
            let spec = self.hook_spec(&w)?;
            self.relay_client(&server).await?.put_hook(&spec).await?;
            Ok::<_, ApiError>(())
        };
        match pushed.await {
            Ok(()) => None,
            Err(e) => {
                let warning = format!(
                    "the relay still has the old settings of `{app}` for unattended deploys ({e}); \
                     run `berth app webhook enable {app} --unattended` again when it is reachable"
                );
                tracing::warn!("{warning}");
                Some(warning)
            }
        }
    }

    /// Every app with an unattended webhook gets its spec again (the notifiers changed);
    /// what did not reach its relay.
    pub async fn webhook_resync_all(&self) -> Vec<String> {
        let Ok(apps) = self.store.apps() else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        for app in apps {
            warnings.extend(self.webhook_resync(&app.name).await);
        }
        warnings
    }

    /// Brings the deployments `server`'s relay ran on its own into the history: new ones are
    /// recorded (an active one becomes the app's active deployment) and returned, oldest first.
    pub async fn sync_relay_deployments(
        &self,
        server: &Server,
        client: &ControlClient,
    ) -> Result<Vec<RelayDeployment>, ApiError> {
        let Some(relay) = &server.relay else {
            return Ok(Vec::new());
        };
        let mut after = relay.synced;
        let mut fresh = Vec::new();
        loop {
            let batch = client.deployments(after).await?;
            let Some(last) = batch.last().map(|d| d.seq) else {
                break;
            };
            for r in batch {
                if self.record_relay_deployment(&r)? {
                    fresh.push(r);
                }
            }
            after = last;
        }
        if after != relay.synced {
            let mut s = self.store.server(&server.name)?;
            if let Some(r) = &mut s.relay {
                r.synced = after;
            }
            self.store.update_server(&s)?;
        }
        Ok(fresh)
    }

    /// For an app the relay deploys on its own: what it deployed since Berth last looked joins
    /// the history first (best effort: an unreachable relay is logged, not an error, and the
    /// history stays as it was).
    pub async fn catch_up_unattended(&self, app: &str) {
        let Ok(Some(w)) = self.store.webhook(app) else {
            return;
        };
        if w.mode != WebhookMode::Unattended {
            return;
        }
        let synced = async {
            let app = self.store.app(app)?;
            let server = self.store.server(&app.server)?;
            let client = self.relay_client(&server).await?;
            self.sync_relay_deployments(&server, &client).await
        };
        match tokio::time::timeout(CATCH_UP_WAIT, synced).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(app, "cannot catch up with the relay's deployments: {e}"),
            Err(_) => tracing::warn!(
                app,
                "the relay did not answer within {} s; the history may be behind",
                CATCH_UP_WAIT.as_secs()
            ),
        }
    }

    /// Records one of the relay's deployments in one transaction; `false` when Berth already
    /// had it (or the app is gone). A healthy one becomes active only if no newer deployment
    /// (a manual deploy since) is active. A stage's instance the relay created joins Berth's
    /// records (app, stage link, subdomain), takes the stage's name when it became active, and
    /// the instances it removed leave them.
    fn record_relay_deployment(&self, r: &RelayDeployment) -> Result<bool, ApiError> {
        let d = &r.deployment;
        if let Some(i) = &r.instance
            && self.store.app(&d.app).is_err()
        {
            // A new instance that failed left nothing on the server: nothing to record.
            if d.status != DeploymentStatus::Active {
                return Ok(false);
            }
            let Ok(parent) = self.store.app(&i.app) else {
                return Ok(false);
            };
            let Ok(stage) = self.store.stage(&i.app, &i.stage) else {
                return Ok(false);
            };
            let server = self.store.server(&parent.server)?;
            let image = berth_model::ImageRef::parse(parent.image.as_deref().unwrap_or_default())?;
            let pattern = self.stage_pattern(&server.name)?;
            self.new_instance(&parent, &stage, &i.tag, &image, &server, &pattern)?;
        }
        let Ok(app) = self.store.app(&d.app) else {
            return Ok(false);
        };
        // The relay ran the spec Berth gave it, which follows every edit (`webhook_resync`):
        // the records as they are now are what it ran with.
        let mut recorded = d.clone();
        if recorded.spec.is_none() {
            recorded.spec = Some(Box::new(self.spec_now(&app)?));
        }
        let d = &recorded;
        let Some(activated) = self.store.record_finished_deployment(d, &r.log)? else {
            return Ok(false);
        };
        let verdict = match (d.status, activated) {
            (DeploymentStatus::Active, false) => "active, already replaced by a newer deployment",
            (status, _) => status.as_str(),
        };
        self.audit(
            "webhook.unattended",
            &d.app,
            &format!("deployment {} by the relay: {verdict}", d.id),
        );
        if let Some(i) = &r.instance
            && d.status == DeploymentStatus::Active
        {
            if let Some(digest) = &d.digest {
                self.store.record_healthy(
                    &i.app,
                    &i.stage,
                    &i.tag,
                    digest,
                    d.finished_at.unwrap_or(d.started_at),
                )?;
            }
            let parent = self.store.app(&i.app)?;
            let server = self.store.server(&parent.server)?;
            if let (Ok(stage), Some(base)) =
                (self.store.stage(&i.app, &i.stage), &server.base_domain)
            {
                let newest = self.store.app(&d.app)?;
                let pattern = self.stage_pattern(&server.name)?;
                // The relay moved the name on the proxy already; the records follow.
                self.give_stage_name(&parent, &stage, &newest, base, &pattern)?;
            }
            for gone in &r.removed {
                if self.store.instance(gone)?.is_some() {
                    self.store.delete_app(gone)?;
                    self.audit(
                        "stage.drain",
                        &i.app,
                        &format!("{gone} (beyond the max of {}, by the relay)", i.stage),
                    );
                }
            }
        }
        Ok(true)
    }
}

/// The route as the relay's container reaches it (it has the managed Caddy's socket directory
/// mounted); `Err(admin)` for a Caddy it cannot reach.
pub(crate) fn relay_route(r: berth_engine::RoutePlan) -> Result<RouteSpec, String> {
    if !r
        .admin
        .starts_with(&format!("unix:{}/", berth_engine::proxy::ADMIN_DIR))
    {
        return Err(r.admin);
    }
    Ok(RouteSpec {
        admin: r.admin,
        server: r.server,
        id: r.id,
        hosts: r.hosts,
        via_network: r.via == berth_engine::UpstreamVia::Network,
        drain_timeout_secs: r.drain_timeout_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_relay_can_fetch() {
        assert_eq!(remote_kind("git@github.com:me/app.git"), Some(Remote::Ssh));
        assert_eq!(
            remote_kind("ssh://git@host:2222/app.git"),
            Some(Remote::Ssh)
        );
        assert_eq!(remote_kind("https://github.com/me/app"), Some(Remote::Http));
        assert_eq!(remote_kind("git://10.0.0.1/app.git"), Some(Remote::Git));
        assert_eq!(remote_kind("/home/me/src/app"), None);
        assert_eq!(remote_kind("./app"), None);
        assert_eq!(remote_kind("C:\\src\\app"), None);
    }
}
