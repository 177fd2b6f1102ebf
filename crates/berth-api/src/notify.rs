//! Notifiers: where deploy results are announced besides the desktop — an ntfy topic, a
//! Slack-compatible incoming webhook, or any URL that takes the result as JSON. Their URLs are
//! kept in the secrets store (they often carry a token); the database keeps a shortened form.

use berth_model::{DeployNotice, Notifier, NotifierKind};
use berth_notify::{parse_url, send, shown};
use berth_secrets::{Sensitive, notifier_key};

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Adds a notifier; every deploy result from a webhook (and `berth notify test`) goes to it.
    pub fn notify_add(&self, kind: NotifierKind, url: &str) -> Result<Notifier, ApiError> {
        let uri = parse_url(url).map_err(ApiError::Invalid)?;
        let shown = shown(&uri);
        let id = self.store.insert_notifier(kind, &shown, self.now())?;
        if let Err(e) = self
            .secrets()
            .set(&notifier_key(id), &Sensitive::new(url.trim().to_owned()))
        {
            let _ = self.store.delete_notifier(id);
            return Err(e.into());
        }
        self.audit("notify.add", &id.to_string(), &format!("{kind} {shown}"));
        Ok(Notifier {
            id,
            kind,
            url: shown,
        })
    }

    pub fn notifiers(&self) -> Result<Vec<Notifier>, ApiError> {
        Ok(self.store.notifiers()?)
    }

    pub fn notify_rm(&self, id: i64) -> Result<(), ApiError> {
        if !self.store.delete_notifier(id)? {
            return Err(ApiError::Invalid(format!(
                "there is no notifier {id} (see `berth notify ls`)"
            )));
        }
        self.secrets().delete(&notifier_key(id))?;
        self.audit("notify.rm", &id.to_string(), "");
        Ok(())
    }

    /// Sends `notice` to every notifier; what happened at each.
    pub async fn notify_all(&self, notice: &DeployNotice) -> Vec<(Notifier, Result<(), String>)> {
        let notifiers = match self.store.notifiers() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("cannot read the notifiers: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for n in notifiers {
            let result = match self.secrets().get(&notifier_key(n.id)) {
                Ok(Some(url)) => send(n.kind, url.expose(), notice).await,
                Ok(None) => {
                    Err("its URL is missing from the secrets store; add it again".to_owned())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = &result {
                tracing::warn!(notifier = n.id, kind = %n.kind, "notification failed: {e}");
            }
            out.push((n, result));
        }
        out
    }
}
