//! An app's webhook: the per-app URL (a random uuid) and secret Berth gives the git host, the
//! branch/tag filter, and the deliveries the server's relay recorded for it.

use berth_model::{Delivery, Provider, Server, Webhook, WebhookFilter, WebhookInfo, WebhookMode};
use berth_relay_proto::proto::HookSpec;
use berth_secrets::{Sensitive, webhook_key};

use crate::Berth;
use crate::error::ApiError;

/// `berth app webhook enable`.
#[derive(Debug, Clone)]
pub struct WebhookEnable {
    pub provider: Provider,
    /// Default: the app's branch.
    pub branch: Option<String>,
    /// Tag pattern; tag pushes are skipped without one.
    pub tags: Option<String>,
    pub mode: WebhookMode,
    /// Unattended over https: the token the relay fetches with (empty: forget it), and the
    /// user to send it as.
    pub git_token: Option<Sensitive<String>>,
    pub git_user: Option<String>,
    /// Pushes may deploy a commit that does not descend from the serving one.
    pub allow_force_push: bool,
}

impl From<berth_model::view::WebhookEnableRequest> for WebhookEnable {
    /// From the desktop's form (attended: the desktop deploys).
    fn from(r: berth_model::view::WebhookEnableRequest) -> Self {
        WebhookEnable {
            provider: r.provider,
            branch: r.branch.filter(|b| !b.trim().is_empty()),
            tags: r.tags.filter(|t| !t.trim().is_empty()),
            mode: if r.unattended {
                WebhookMode::Unattended
            } else {
                WebhookMode::Attended
            },
            git_token: r
                .git_token
                .filter(|t| !t.trim().is_empty())
                .map(Sensitive::new),
            git_user: None,
            allow_force_push: r.allow_force_push,
        }
    }
}

/// A random (version 4) uuid.
fn new_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// 32 random bytes, hex.
fn new_secret() -> String {
    let b: [u8; 32] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn validate_pattern(what: &str, p: &str) -> Result<(), ApiError> {
    berth_hooks::validate_pattern(p).map_err(|e| ApiError::Invalid(format!("{what}: {e}")))
}

impl Berth {
    fn webhook_secret(&self, app: &str) -> Result<Sensitive<String>, ApiError> {
        self.secrets().get(&webhook_key(app))?.ok_or_else(|| {
            ApiError::Invalid(format!(
                "the webhook secret of `{app}` is missing from the secrets store: run `berth app webhook rotate-secret {app}` and paste the new one into the git host"
            ))
        })
    }

    /// What the relay needs to know about `w`, secret included (and, unattended, all the app's
    /// deploy needs).
    pub(crate) fn hook_spec(&self, w: &Webhook) -> Result<HookSpec, ApiError> {
        let unattended = match w.mode {
            WebhookMode::Unattended => {
                let app = self.store.app(&w.app)?;
                let server = self.store.server(&app.server)?;
                let mut spec = self.unattended_spec(&app, &server)?;
                spec.allow_force_push = w.allow_force_push;
                Some(spec)
            }
            WebhookMode::Attended => None,
        };
        Ok(HookSpec {
            uuid: w.uuid.clone(),
            app: w.app.clone(),
            provider: w.provider,
            filter: w.filter.clone(),
            mode: w.mode,
            secret: self.webhook_secret(&w.app)?.expose().clone(),
            unattended,
        })
    }

    fn webhook_info(
        &self,
        w: &Webhook,
        server: &Server,
        reveal: bool,
    ) -> Result<WebhookInfo, ApiError> {
        let secret = self.webhook_secret(&w.app)?;
        let unattended = w.mode == WebhookMode::Unattended;
        let app = self.store.app(&w.app)?;
        let has_token = unattended
            && self
                .secrets()
                .get(&berth_secrets::git_token_key(&w.app))?
                .is_some();
        let relay = server.relay.as_ref();
        let port = relay.map_or(berth_model::RelayConfig::DEFAULT_PORT, |r| r.listen_port);
        let loopback_url = format!("http://127.0.0.1:{port}/hooks/{}", w.uuid);
        let url = crate::relay::public_base(server)
            .map(|base| format!("{base}/hooks/{}", w.uuid))
            .unwrap_or_else(|| loopback_url.clone());
        Ok(WebhookInfo {
            app: w.app.clone(),
            server: server.name.clone(),
            provider: w.provider,
            mode: w.mode,
            filter: w.filter.clone(),
            allow_force_push: w.allow_force_push,
            uuid: w.uuid.clone(),
            url,
            loopback_url,
            secret: reveal.then(|| secret.expose().clone()),
            secret_hint: format!("{}…", secret.expose().get(..6).unwrap_or("")),
            created_at: w.created_at,
            git_url: unattended.then(|| berth_git::redact_url(&app.git)),
            git_auth: unattended.then(|| {
                match crate::unattended::remote_kind(&app.git) {
                    Some(crate::unattended::Remote::Ssh) => "deploy key",
                    Some(crate::unattended::Remote::Http) if has_token => "token",
                    _ => "none",
                }
                .to_owned()
            }),
            deploy_key: unattended.then(|| self.deploy_key_public(&w.app)).flatten(),
        })
    }

    /// Creates (or changes) the webhook of `app` and gives it to the server's relay. The
    /// answer carries the secret, to paste into the git host.
    pub async fn webhook_enable(
        &self,
        app: &str,
        req: WebhookEnable,
    ) -> Result<WebhookInfo, ApiError> {
        let app = self.store.app(app)?;
        let server = self.store.server(&app.server)?;
        if server.relay.is_none() {
            return Err(ApiError::RelayNotInstalled {
                server: server.name.clone(),
            });
        }
        if req.git_token.is_some() && req.mode != WebhookMode::Unattended {
            return Err(ApiError::Invalid(
                "--git-token is for unattended webhooks (the relay fetches the source); add --unattended".to_owned(),
            ));
        }
        if req.git_token.is_some() && app.image.is_some() {
            return Err(ApiError::Invalid(format!(
                "--git-token is for git sources; `{}` pulls an image (its registry's login comes from `berth registry add`)",
                app.name
            )));
        }
        if req.mode == WebhookMode::Unattended && app.image.is_none() {
            match crate::unattended::remote_kind(&app.git) {
                None => {
                    return Err(ApiError::Invalid(format!(
                        "`{}` is a path on this machine; an unattended relay fetches the source \
                         itself: set the app's git source to a URL the server can reach \
                         (https://, ssh:// or git://)",
                        app.git
                    )));
                }
                Some(crate::unattended::Remote::Http)
                    if req.git_token.is_some() && berth_git::token_in_clear(&app.git) =>
                {
                    return Err(ApiError::Invalid(format!(
                        "--git-token would travel in clear to `{}`: give the app its https:// URL",
                        berth_git::redact_url(&app.git)
                    )));
                }
                Some(crate::unattended::Remote::Http) => {}
                Some(_) if req.git_token.is_some() => {
                    return Err(ApiError::Invalid(format!(
                        "--git-token is for https sources; `{}` is fetched with {}",
                        berth_git::redact_url(&app.git),
                        if app.git.starts_with("git://") {
                            "no authentication"
                        } else {
                            "the app's deploy key"
                        }
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(t) = &req.tags {
            validate_pattern("--tags", t)?;
        }
        let filter = match &app.image {
            // An image app's hook takes pushes of its repository, with the tags its stages
            // take (or `--tags`, or its own tag).
            Some(_) => self.image_filter(&app, req.tags.clone())?,
            None => {
                let branch = req.branch.clone().unwrap_or_else(|| app.branch.clone());
                validate_pattern("--branch", &branch)?;
                WebhookFilter {
                    branch,
                    tags: req.tags.clone().filter(|t| !t.is_empty()),
                }
            }
        };
        let existing = self.store.webhook(&app.name)?;
        let secrets = self.secrets();
        let key = webhook_key(&app.name);
        let fresh_secret = match (&existing, secrets.get(&key)?) {
            (Some(_), Some(_)) => None,
            _ => Some(new_secret()),
        };
        let webhook = Webhook {
            app: app.name.clone(),
            uuid: existing.as_ref().map_or_else(new_uuid, |w| w.uuid.clone()),
            provider: req.provider,
            filter,
            mode: req.mode,
            created_at: existing
                .as_ref()
                .map_or_else(|| self.now(), |w| w.created_at),
            allow_force_push: req.allow_force_push,
        };
        if let Some(s) = &fresh_secret {
            secrets.set(&key, &Sensitive::new(s.clone()))?;
        }
        let old_token = secrets.get(&berth_secrets::git_token_key(&app.name))?;
        if let Some(token) = &req.git_token {
            self.set_git_token(&app.name, req.git_user.clone(), token.expose().trim())?;
        }
        let undo_token = || {
            let key = berth_secrets::git_token_key(&app.name);
            let _ = match &old_token {
                Some(t) => secrets.set(&key, t),
                None => secrets.delete(&key),
            };
        };
        let spec = match self.hook_spec(&webhook) {
            Ok(s) => s,
            Err(e) => {
                undo_token();
                if existing.is_none() {
                    let _ = secrets.delete(&key);
                }
                return Err(e);
            }
        };
        // The relay first: if it cannot take the hook, nothing is recorded.
        let pushed = async {
            if webhook.mode == WebhookMode::Unattended {
                self.relay_for_unattended(&server).await?;
            }
            self.relay_client(&server)
                .await?
                .put_hook(&spec)
                .await
                .map_err(ApiError::from)
        };
        if let Err(e) = pushed.await {
            undo_token();
            if existing.is_none() {
                let _ = secrets.delete(&key);
            }
            return Err(e);
        }
        self.store.put_webhook(&webhook)?;
        if webhook.mode == WebhookMode::Attended {
            self.forget_unattended_secrets(&app.name);
        }
        self.audit(
            "webhook.enable",
            &app.name,
            &format!(
                "{} branch {} tags {} {}",
                webhook.provider,
                webhook.filter.branch,
                webhook.filter.tags.as_deref().unwrap_or("-"),
                webhook.mode
            ),
        );
        self.webhook_info(&webhook, &server, true)
    }

    /// The webhook of `app`; its secret only with `reveal`.
    pub fn webhook_show(&self, app: &str, reveal: bool) -> Result<WebhookInfo, ApiError> {
        let app = self.store.app(app)?;
        let w = self
            .store
            .webhook(&app.name)?
            .ok_or_else(|| ApiError::WebhookNotEnabled(app.name.clone()))?;
        let server = self.store.server(&app.server)?;
        self.webhook_info(&w, &server, reveal)
    }

    /// Removes the webhook: the relay answers its URL with 404 from now on.
    pub async fn webhook_disable(&self, app: &str) -> Result<(), ApiError> {
        let app = self.store.app(app)?;
        let w = self
            .store
            .webhook(&app.name)?
            .ok_or_else(|| ApiError::WebhookNotEnabled(app.name.clone()))?;
        let server = self.store.server(&app.server)?;
        if server.relay.is_some() {
            self.relay_client(&server)
                .await?
                .delete_hook(&w.uuid)
                .await?;
        }
        self.store.delete_webhook(&app.name)?;
        self.secrets().delete(&webhook_key(&app.name))?;
        self.forget_unattended_secrets(&app.name);
        self.audit("webhook.disable", &app.name, "");
        Ok(())
    }

    /// A new secret for the same URL; the old one stops verifying at once.
    pub async fn webhook_rotate_secret(&self, app: &str) -> Result<WebhookInfo, ApiError> {
        let app = self.store.app(app)?;
        let w = self
            .store
            .webhook(&app.name)?
            .ok_or_else(|| ApiError::WebhookNotEnabled(app.name.clone()))?;
        let server = self.store.server(&app.server)?;
        let key = webhook_key(&app.name);
        let secrets = self.secrets();
        let old = secrets.get(&key)?;
        secrets.set(&key, &Sensitive::new(new_secret()))?;
        let spec = self.hook_spec(&w)?;
        let pushed = async {
            self.relay_client(&server)
                .await?
                .put_hook(&spec)
                .await
                .map_err(ApiError::from)
        };
        if let Err(e) = pushed.await {
            match old {
                Some(old) => secrets.set(&key, &old)?,
                None => secrets.delete(&key)?,
            }
            return Err(e);
        }
        self.audit("webhook.rotate-secret", &app.name, "");
        self.webhook_info(&w, &server, true)
    }

    /// `berth app webhook rotate-deploy-key APP`: a new deploy key for the app's unattended
    /// fetches over SSH (the old one stops working once removed from the git host). The
    /// relay gets the new key at once; the answer shows the public half to add to the git host.
    pub async fn webhook_rotate_deploy_key(&self, app: &str) -> Result<WebhookInfo, ApiError> {
        let app = self.store.app(app)?;
        let w = self
            .store
            .webhook(&app.name)?
            .ok_or_else(|| ApiError::WebhookNotEnabled(app.name.clone()))?;
        let key = berth_secrets::deploy_key_key(&app.name);
        let old = self.secrets().get(&key)?;
        self.secrets().delete(&key)?;
        self.deploy_key(&app.name)?;
        if let Some(warning) = self.webhook_resync(&app.name).await {
            // The relay still has the old key: put it back so both agree.
            match old {
                Some(old) => self.secrets().set(&key, &old)?,
                None => self.secrets().delete(&key)?,
            }
            return Err(ApiError::Invalid(format!(
                "the relay did not take the new deploy key, so the old one stays: {warning}"
            )));
        }
        self.audit("webhook.rotate-deploy-key", &app.name, "");
        let server = self.store.server(&app.server)?;
        self.webhook_info(&w, &server, true)
    }

    /// The deliveries the relay recorded for `app`, newest first.
    pub async fn webhook_deliveries(
        &self,
        app: &str,
        limit: usize,
    ) -> Result<Vec<Delivery>, ApiError> {
        let app = self.store.app(app)?;
        let server = self.store.server(&app.server)?;
        Ok(self
            .relay_client(&server)
            .await?
            .deliveries(Some(&app.name), limit)
            .await?)
    }
}

impl Berth {
    /// An image app's hook filter: its repository's path as `branch`; as `tags`, the patterns given,
    /// else those of its stages (joined by `,`), else its own tag.
    pub(crate) fn image_filter(
        &self,
        app: &berth_model::App,
        tags: Option<String>,
    ) -> Result<WebhookFilter, ApiError> {
        let image = berth_model::ImageRef::parse(app.image.as_deref().unwrap_or_default())?;
        let stages = self.store.stages(&app.name)?;
        let tags = match tags.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None if !stages.is_empty() => stages
                .iter()
                .flat_map(|s| s.tags.split(','))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(","),
            None => image.tag_or_latest().to_owned(),
        };
        // The repository's path (`acme/web`): pushes are matched without the registry host.
        Ok(WebhookFilter {
            branch: image.path(),
            tags: Some(tags),
        })
    }

    /// Gives the relay an image app's hook again after its stages changed (the tags it takes).
    pub(crate) async fn refresh_image_hook(&self, app: &str) -> Result<(), ApiError> {
        let Some(mut webhook) = self.store.webhook(app)? else {
            return Ok(());
        };
        let app = self.store.app(app)?;
        webhook.filter = self.image_filter(&app, None)?;
        let server = self.store.server(&app.server)?;
        let spec = self.hook_spec(&webhook)?;
        self.relay_client(&server).await?.put_hook(&spec).await?;
        self.store.put_webhook(&webhook)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_and_secrets_look_right() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(new_uuid(), u);
        assert_eq!(new_secret().len(), 64);
    }
}
