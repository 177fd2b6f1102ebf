//! Webhooks (one per app; the secret is in the keychain) and notifiers (the URL is in the
//! keychain; the store keeps a shortened form to show).

use berth_model::{Notifier, NotifierKind, Webhook, WebhookFilter};
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

    /// Adds a notifier; returns its id.
    pub fn insert_notifier(
        &self,
        kind: NotifierKind,
        shown: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO notifiers (kind, shown, created_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![kind.as_str(), shown, now])?;
            Ok(tx.last_insert_rowid())
        })
    }

    pub fn notifiers(&self) -> Result<Vec<Notifier>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT id, kind, shown FROM notifiers ORDER BY id")?;
            Ok(stmt
                .query_map([], |r| {
                    let kind: String = r.get(1)?;
                    Ok(Notifier {
                        id: r.get(0)?,
                        kind: kind.parse().map_err(|e| bad_column(1, e))?,
                        url: r.get(2)?,
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
            .insert_notifier(NotifierKind::Ntfy, "https://ntfy.sh/…", 1)
            .expect("notifier");
        assert_eq!(store.notifiers().expect("list")[0].id, id);
        assert!(store.delete_notifier(id).expect("delete"));
        assert!(store.notifiers().expect("list").is_empty());
    }
}
