//! An app's webhook: the per-app URL (a random uuid) and secret Berth gives the git host, the
//! branch/tag filter, and the deliveries the server's relay recorded for it.

use berth_model::{Delivery, Provider, Server, Webhook, WebhookFilter, WebhookInfo, WebhookMode};
use berth_relay::proto::HookSpec;
use berth_secrets::{Sensitive, webhook_key};

use crate::Berth;
use crate::error::ApiError;

/// `berth app webhook enable`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEnable {
    pub provider: Provider,
    /// Default: the app's branch.
    pub branch: Option<String>,
    /// Tag pattern; tag pushes are skipped without one.
    pub tags: Option<String>,
    pub mode: WebhookMode,
}

impl From<berth_model::view::WebhookEnableRequest> for WebhookEnable {
    /// From the desktop's form (attended: the desktop deploys).
    fn from(r: berth_model::view::WebhookEnableRequest) -> Self {
        WebhookEnable {
            provider: r.provider,
            branch: r.branch.filter(|b| !b.trim().is_empty()),
            tags: r.tags.filter(|t| !t.trim().is_empty()),
            mode: WebhookMode::Attended,
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

    /// What the relay needs to know about `w`, secret included.
    pub(crate) fn hook_spec(&self, w: &Webhook) -> Result<HookSpec, ApiError> {
        Ok(HookSpec {
            uuid: w.uuid.clone(),
            app: w.app.clone(),
            provider: w.provider,
            filter: w.filter.clone(),
            mode: w.mode,
            secret: self.webhook_secret(&w.app)?.expose().clone(),
        })
    }

    fn webhook_info(
        &self,
        w: &Webhook,
        server: &Server,
        reveal: bool,
    ) -> Result<WebhookInfo, ApiError> {
        let secret = self.webhook_secret(&w.app)?;
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
            uuid: w.uuid.clone(),
            url,
            loopback_url,
            secret: reveal.then(|| secret.expose().clone()),
            secret_hint: format!("{}…", secret.expose().get(..6).unwrap_or("")),
            created_at: w.created_at,
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
        if req.mode == WebhookMode::Unattended {
            return Err(ApiError::Invalid(
                "unattended webhooks (the relay deploying on its own) are not available yet; leave out --unattended: the desktop or `berth watch` deploys each push".to_owned(),
            ));
        }
        let branch = req.branch.unwrap_or_else(|| app.branch.clone());
        validate_pattern("--branch", &branch)?;
        if let Some(t) = &req.tags {
            validate_pattern("--tags", t)?;
        }
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
            filter: WebhookFilter {
                branch,
                tags: req.tags.filter(|t| !t.is_empty()),
            },
            mode: req.mode,
            created_at: existing
                .as_ref()
                .map_or_else(|| self.now(), |w| w.created_at),
        };
        if let Some(s) = &fresh_secret {
            secrets.set(&key, &Sensitive::new(s.clone()))?;
        }
        let spec = self.hook_spec(&webhook)?;
        // The relay first: if it cannot take the hook, nothing is recorded.
        let pushed = async {
            self.relay_client(&server)
                .await?
                .put_hook(&spec)
                .await
                .map_err(ApiError::from)
        };
        if let Err(e) = pushed.await {
            if existing.is_none() {
                let _ = secrets.delete(&key);
            }
            return Err(e);
        }
        self.store.put_webhook(&webhook)?;
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
