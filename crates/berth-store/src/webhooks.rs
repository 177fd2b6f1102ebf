//! Webhooks (one per app; the secret is in the keychain) and notifiers (the URL is in the
//! keychain; the store keeps a shortened form to show).

use berth_model::{NoticeEvent, Notifier, NotifierKind, Webhook, WebhookFilter};
use rusqlite::{Row, params};

use crate::error::StoreError;
use crate::{Store, bad_column};

const COLUMNS: &str = "app, uuid, provider, branch, tags, mode, created_at, allow_force_push";

fn webhook_from_row(r: &Row<'_>) -> rusqlite::Result<Webhook> {
    let provider: String = r.get(2)?;
    let mode: String = r.get(5)?;
    Ok(Webhook {
        app: r.get(0)?,
        uuid: r.get(1)?,
        provider: provider.parse().map_err(|e| bad_column(2, e))?,
        filter: WebhookFilter {
            branch: r.get(3)?,
            tags: r.get(4)?,
        },
        mode: mode.parse().map_err(|e| bad_column(5, e))?,
        created_at: r.get(6)?,
        allow_force_push: r.get(7)?,
    })
}

impl Store {
    /// Adds or replaces the webhook of `w.app`.
    pub fn put_webhook(&self, w: &Webhook) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.prepare_cached(&format!(
                "INSERT INTO webhooks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (app) DO UPDATE SET uuid = ?2, provider = ?3, branch = ?4,
                 tags = ?5, mode = ?6, created_at = ?7, allow_force_push = ?8"
            ))?
            .execute(params![
                w.app,
                w.uuid,
                w.provider.as_str(),
                w.filter.branch,
                w.filter.tags,
                w.mode.as_str(),
                w.created_at,
                w.allow_force_push
            ])?;
            Ok(())
        })
    }

    /// The webhook of `app`, if it has one.
    pub fn webhook(&self, app: &str) -> Result<Option<Webhook>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM webhooks WHERE app = ?1"))?;
            Ok(stmt
                .query_map([app], webhook_from_row)?
                .next()
                .transpose()?)
        })
    }

    /// Every webhook, by app.
    pub fn webhooks(&self) -> Result<Vec<Webhook>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY app"))?;
            Ok(stmt
                .query_map([], webhook_from_row)?
                .collect::<Result<_, _>>()?)
        })
    }

    /// Removes the webhook of `app`; whether it had one.
    pub fn delete_webhook(&self, app: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM webhooks WHERE app = ?1")?
                .execute([app])?
                > 0)
        })
    }

    /// Adds a notifier, routed to `app` (`None`: every app) and `events` (empty: every kind);
    /// returns its id.
    pub fn insert_notifier(
        &self,
        kind: NotifierKind,
        shown: &str,
        app: Option<&str>,
        events: &[NoticeEvent],
        now: i64,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO notifiers (kind, shown, app, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![kind.as_str(), shown, app, events_text(events), now])?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Routes a notifier anew; whether it exists.
    pub fn route_notifier(
        &self,
        id: i64,
        app: Option<&str>,
        events: &[NoticeEvent],
    ) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("UPDATE notifiers SET app = ?2, events = ?3 WHERE id = ?1")?
                .execute(params![id, app, events_text(events)])?
                > 0)
        })
    }

    pub fn notifiers(&self) -> Result<Vec<Notifier>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, kind, shown, app, events FROM notifiers ORDER BY id")?;
            Ok(stmt
                .query_map([], |r| {
                    let kind: String = r.get(1)?;
                    let events: String = r.get(4)?;
                    Ok(Notifier {
                        id: r.get(0)?,
                        kind: kind.parse().map_err(|e| bad_column(1, e))?,
                        url: r.get(2)?,
                        app: r.get(3)?,
                        events: NoticeEvent::parse_list(&events).map_err(|e| bad_column(4, e))?,
                    })
                })?
                .collect::<Result<_, _>>()?)
        })
    }

    /// Removes a notifier; whether it existed.
    pub fn delete_notifier(&self, id: i64) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM notifiers WHERE id = ?1")?
                .execute([id])?
                > 0)
        })
    }
}

fn events_text(events: &[NoticeEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::{AppDraft, BaseImages, Provider, Server, TransportKind, WebhookMode};

    #[test]
    fn webhooks_and_notifiers_round_trip() {
        let store = Store::open_in_memory().expect("store");
        store
            .insert_server(&Server {
                name: "prod".into(),
                transport: TransportKind::Local,
                ssh: None,
                identity: None,
                docker_socket: "/var/run/docker.sock".into(),
                base_images: BaseImages::default(),
                base_domain: None,
                proxy: None,
                relay: None,
                created_at: 1,
            })
            .expect("server");
        let app = AppDraft {
            name: "hello".into(),
            server: "prod".into(),
            git: "/src".into(),
            ..AppDraft::default()
        }
        .validate(1)
        .expect("valid");
        store.insert_app(&app).expect("app");
        let mut w = Webhook {
            app: "hello".into(),
            uuid: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
            provider: Provider::Github,
            filter: WebhookFilter {
                branch: "main".into(),
                tags: Some("v*".into()),
            },
            mode: WebhookMode::Attended,
            created_at: 5,
            allow_force_push: false,
        };
        store.put_webhook(&w).expect("put");
        w.provider = Provider::Gitlab;
        w.allow_force_push = true;
        store.put_webhook(&w).expect("replace");
        assert_eq!(store.webhook("hello").expect("get"), Some(w.clone()));
        assert_eq!(store.webhooks().expect("all"), [w]);
        assert!(store.delete_webhook("hello").expect("delete"));
        assert_eq!(store.webhook("hello").expect("get"), None);

        let id = store
            .insert_notifier(NotifierKind::Ntfy, "https://ntfy.sh/…", None, &[], 1)
            .expect("notifier");
        assert_eq!(store.notifiers().expect("list")[0].id, id);
        assert!(
            store
                .route_notifier(
                    id,
                    Some("hello"),
                    &[NoticeEvent::Deploy, NoticeEvent::Alert]
                )
                .expect("route")
        );
        let n = &store.notifiers().expect("list")[0];
        assert_eq!(n.app.as_deref(), Some("hello"));
        assert_eq!(n.events, [NoticeEvent::Deploy, NoticeEvent::Alert]);
        assert!(store.delete_notifier(id).expect("delete"));
        assert!(store.notifiers().expect("list").is_empty());
    }
}
