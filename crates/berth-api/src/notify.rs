//! Notifiers: where deploy results (and new images waiting, and alerts) are announced besides
//! the desktop — an ntfy topic, a Slack-compatible incoming webhook, or any URL that takes the
//! notice as JSON — each routed to one app or every app, and to some kinds of notice or all.
//! Their URLs are kept in the secrets store (they often carry a token); the database keeps a
//! shortened form.

use berth_model::{
    DeployNotice, NoticeEvent, Notifier, NotifierKind, NotifierSaved, NotifierTested,
};
use berth_notify::{parse_url, send, shown};
use berth_secrets::{Sensitive, notifier_key};

use crate::Berth;
use crate::error::ApiError;

impl Berth {
    /// Adds a notifier, routed to `app`'s notices (`None`: every app's) of the kinds in
    /// `events` (empty: every kind).
    /// Relays of unattended apps get their notifiers again (what did not reach one is in
    /// the answer's warnings).
    pub async fn notify_add(
        &self,
        kind: NotifierKind,
        url: &str,
        app: Option<&str>,
        events: &[NoticeEvent],
    ) -> Result<NotifierSaved, ApiError> {
        let uri = parse_url(url).map_err(ApiError::Invalid)?;
        let shown = shown(&uri);
        if let Some(app) = app {
            self.store.app(app)?;
        }
        let id = self
            .store
            .insert_notifier(kind, &shown, app, events, self.now())?;
        if let Err(e) = self
            .secrets()
            .set(&notifier_key(id), &Sensitive::new(url.trim().to_owned()))
        {
            let _ = self.store.delete_notifier(id);
            return Err(e.into());
        }
        let n = Notifier {
            id,
            kind,
            url: shown,
            app: app.map(str::to_owned),
            events: events.to_vec(),
        };
        self.audit(
            "notify.add",
            &id.to_string(),
            &format!("{kind} {} ({})", n.url, n.routing()),
        );
        Ok(NotifierSaved {
            notifier: n,
            warnings: self.relays_resync_all().await,
        })
    }

    /// Routes a notifier anew: `app`'s notices only (`None`: every app's), of the kinds in
    /// `events` (empty: every kind).
    pub async fn notify_route(
        &self,
        id: i64,
        app: Option<&str>,
        events: &[NoticeEvent],
    ) -> Result<NotifierSaved, ApiError> {
        if let Some(app) = app {
            self.store.app(app)?;
        }
        if !self.store.route_notifier(id, app, events)? {
            return Err(no_notifier(id));
        }
        let n = self
            .store
            .notifiers()?
            .into_iter()
            .find(|n| n.id == id)
            .ok_or_else(|| no_notifier(id))?;
        self.audit("notify.route", &id.to_string(), &n.routing());
        Ok(NotifierSaved {
            notifier: n,
            warnings: self.relays_resync_all().await,
        })
    }

    pub fn notifiers(&self) -> Result<Vec<Notifier>, ApiError> {
        Ok(self.store.notifiers()?)
    }

    /// Removes a notifier; what did not reach a relay that had it.
    pub async fn notify_rm(&self, id: i64) -> Result<Vec<String>, ApiError> {
        self.forget_notifier(id)?;
        Ok(self.relays_resync_all().await)
    }

    fn forget_notifier(&self, id: i64) -> Result<(), ApiError> {
        if !self.store.delete_notifier(id)? {
            return Err(no_notifier(id));
        }
        self.secrets().delete(&notifier_key(id))?;
        self.audit("notify.rm", &id.to_string(), "");
        Ok(())
    }

    /// Removes the notifiers routed to `app` alone (the app is going).
    pub(crate) fn forget_app_notifiers(&self, app: &str) -> Result<(), ApiError> {
        for n in self.store.notifiers()? {
            if n.app.as_deref() == Some(app) {
                self.forget_notifier(n.id)?;
            }
        }
        Ok(())
    }

    /// The app a notice about `app` is routed by: a stage instance's parent, else itself.
    /// Every relay gets its notifiers again (in unattended specs and the monitor's config);
    /// what did not reach one.
    async fn relays_resync_all(&self) -> Vec<String> {
        let mut warnings = self.webhook_resync_all().await;
        warnings.extend(self.monitor_sync_all().await);
        warnings
    }

    pub(crate) fn routed_app(&self, app: &str) -> String {
        match self.store.instance(app) {
            Ok(Some(i)) => i.app,
            _ => app.to_owned(),
        }
    }

    /// Sends `notice` to every notifier routed to it; what happened at each.
    pub async fn notify_all(&self, notice: &DeployNotice) -> Vec<(Notifier, Result<(), String>)> {
        let app = self.routed_app(&notice.app);
        self.send_to(notice, |n| n.hears(&app, notice)).await
    }

    /// Sends a test notice to every notifier (`id`: that one), whatever its routing.
    pub async fn notify_test(&self, id: Option<i64>) -> Vec<NotifierTested> {
        let notice = DeployNotice {
            app: "berth-test".into(),
            server: "-".into(),
            status: "deployed".into(),
            deployment: None,
            commit: None,
            duration_ms: None,
            url: None,
            failed_step: None,
            error: None,
            trigger: format!("berth notify test ({})", self.config.actor),
        };
        self.send_to(&notice, |n| id.is_none_or(|id| n.id == id))
            .await
            .into_iter()
            .map(|(notifier, r)| NotifierTested {
                notifier,
                error: r.err(),
            })
            .collect()
    }

    async fn send_to(
        &self,
        notice: &DeployNotice,
        pick: impl Fn(&Notifier) -> bool,
    ) -> Vec<(Notifier, Result<(), String>)> {
        let notifiers = match self.store.notifiers() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("cannot read the notifiers: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for n in notifiers.into_iter().filter(|n| pick(n)) {
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

fn no_notifier(id: i64) -> ApiError {
    ApiError::Invalid(format!("there is no notifier {id} (see `berth notify ls`)"))
}
